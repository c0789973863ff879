"""The beehive Message, field for field KubeEdge's `model.Message` JSON shape.

Field order and names follow the Go structs so JSON output has KubeEdge's key order:
`header{msg_id, parent_msg_id, timestamp, resourceversion, sync, type}`,
`route{source, destination, group, operation, resource}`, `content`.
Empty optional fields are omitted as Go's `omitempty` does. Every header field has a default so a
message from a lenient peer (KubeEdge tolerates missing fields) still decodes.

`content` is any JSON value, or `msgspec.Raw` holding already-encoded JSON (a Kubernetes object as the
API server sent it), which the codecs pass through without decoding or re-encoding.
"""

import os
import random
import time
from typing import TYPE_CHECKING, Any

import msgspec

from kedge.model import constants as c


class MessageHeader(msgspec.Struct, omit_defaults=True, gc=False):
    msg_id: str = ""
    parent_msg_id: str = ""
    timestamp: int = 0
    resourceversion: str = ""
    sync: bool = False
    type: str = ""


class MessageRoute(msgspec.Struct, omit_defaults=True, gc=False):
    source: str = ""
    destination: str = ""
    group: str = ""
    operation: str = ""
    resource: str = ""


class Message(msgspec.Struct, omit_defaults=True, gc=False):
    header: MessageHeader = msgspec.field(default_factory=MessageHeader)
    route: MessageRoute = msgspec.field(default_factory=MessageRoute)
    if TYPE_CHECKING:
        content: Any = None
    else:
        # msgspec decodes by the runtime annotation: JSON content stays raw bytes (zero-copy, forwarded
        # as is). Encoding does not check types, so in-process content may be any JSON-able value.
        content: msgspec.Raw = None

    # Accessors used on hot paths; they spare callers two attribute hops.
    @property
    def msg_id(self) -> str:
        return self.header.msg_id

    @property
    def parent_id(self) -> str:
        return self.header.parent_msg_id

    @property
    def operation(self) -> str:
        return self.route.operation

    @property
    def resource(self) -> str:
        return self.route.resource


def now_ms() -> int:
    return time.time_ns() // 1_000_000


_ids = random.Random()  # seeded from os.urandom; reseeded in a forked child (below)
os.register_at_fork(after_in_child=_ids.seed)
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def new_id() -> str:
    """A random (version 4) UUID string, as KubeEdge's message ids. Drawn from a seeded generator, not
    uuid.uuid4(): that makes a getrandom() call and a UUID object per message, a few percent of
    cloudcore's CPU at scale; message ids need uniqueness (122 random bits), not secrecy."""
    h = "%032x" % ((_ids.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def new_message(
    *,
    source: str,
    group: str,
    operation: str,
    resource: str,
    content: Any = None,
    destination: str = "",
    resourceversion: str = "",
    parent_msg_id: str = "",
    sync: bool = False,
    timestamp: int | None = None,
    msg_id: str | None = None,
) -> Message:
    """A new message with a fresh uuid4 id and the current time in ms (unless given)."""
    return Message(
        MessageHeader(
            msg_id if msg_id is not None else new_id(),
            parent_msg_id,
            now_ms() if timestamp is None else timestamp,
            resourceversion,
            sync,
        ),
        MessageRoute(source, destination, group, operation, resource),
        content,
    )


def new_response(request: Message, content: Any = c.ACK_OK, *, operation: str = c.RESPONSE) -> Message:
    """KubeEdge `NewRespByMessage`: new id, parent = request id, same source/group/resource."""
    r = request.route
    return Message(
        MessageHeader(new_id(), request.header.msg_id, now_ms()),
        MessageRoute(r.source, "", r.group, operation, r.resource),
        content,
    )


def new_error(request: Message, reason: str) -> Message:
    """KubeEdge `NewErrorMessage`: a response with operation `error` and the reason as content."""
    return new_response(request, reason, operation=c.ERROR)
