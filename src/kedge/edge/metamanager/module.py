"""MetaManager, the beehive module (KubeEdge's `metamanager`, group `meta`): persist, then ack.

Cloud objects (insert/update/patch/delete of `<ns>/<type>/<name>`) arrive from EdgeHub in batches. Each
batch is applied to the MetaStore's index and written with ONE `commit()`; only then is each message
acked (`response`/"OK" to EdgeHub, which turns it into a hub ack). A failed commit acks nothing: the
cloud resends, and the index (newer or equal) takes the resend without harm. A message that cannot be
stored is answered with KubeEdge's `error` reply (route source `metamanager`), which the cloud counts as
a nack. Queries from edge modules are answered from the in-memory index.

`patch` is taken as an update carrying the whole object: KubeEdge's cloud never sends patches down (its
metamanager stores the patched object the cloud returns), so any patch that does come is the result.
"""

from __future__ import annotations

import logging

import msgspec

from kedge.beehive import Context, Module
from kedge.edge.edgehub.hub import CLOUD_CONNECTED, CLOUD_DISCONNECTED
from kedge.edge.metamanager.store import MetaStore
from kedge.model import constants as c
from kedge.model.message import Message, new_error, new_response
from kedge.model.resource import ResourceError, parse_wire

log = logging.getLogger(__name__)

__all__ = ["BATCH", "MetaManager"]

#: messages taken from the inbox per commit
BATCH = 256
_WRITES = frozenset((c.INSERT, c.UPDATE, c.PATCH))
_json_encoder = msgspec.json.Encoder()
_WS = b" \t\r\n"


class _Rejected(ValueError):
    """A message that cannot be persisted; the text is the reason sent back to its sender."""


def _json_kind(raw: bytes) -> str:
    """The JSON type of an encoded value, from its first byte (enough to refuse a non-object)."""
    first = raw.lstrip(_WS)[:1]
    if first == b"{":
        return "object"
    if first == b"[":
        return "array"
    if first == b'"':
        return "string"
    if first in (b"t", b"f"):
        return "bool"
    if first == b"n":
        return "null"
    return "number"


def _content_bytes(msg: Message) -> bytes:
    content = msg.content
    if type(content) is msgspec.Raw:
        return bytes(content)
    try:
        return _json_encoder.encode(content)
    except (TypeError, msgspec.EncodeError) as e:
        raise _Rejected("content of %s is not JSON-encodable: %s" % (msg.route.resource, e)) from None


class MetaManager(Module):
    name = c.METAMANAGER
    group = c.METAMANAGER_GROUP

    def __init__(self, store: MetaStore, *, batch: int = BATCH) -> None:
        if batch < 1:
            raise ValueError("metamanager batch must be >= 1, got %r" % (batch,))
        self.store = store
        self.batch = batch
        #: the last connect state EdgeHub broadcast
        self.cloud_connected = False

    async def start(self, ctx: Context) -> None:
        while True:
            await self.handle(ctx, await ctx.receive_many(self.name, self.batch))

    async def handle(self, ctx: Context, batch: list[Message]) -> None:
        """Process one batch: apply writes, commit once, ack; answer queries."""
        persisted: list[Message] = []
        replies: list[Message] = []  # errors for the cloud, sent whatever the commit does
        for msg in batch:
            op = msg.route.operation
            if op in _WRITES or op == c.DELETE:
                try:
                    self._apply(msg)
                except _Rejected as e:
                    log.warning("cannot persist %s %s: %s", op, msg.route.resource, e)
                    err = new_error(msg, str(e))
                    err.route.source = c.METAMANAGER
                    replies.append(err)
                    continue
                persisted.append(msg)
            elif op == c.QUERY:
                self._query(ctx, msg)
            elif op == c.CONNECT and msg.route.group == c.EDGEHUB_GROUP:
                if msg.content == CLOUD_CONNECTED:
                    self.cloud_connected = True
                elif msg.content == CLOUD_DISCONNECTED:
                    self.cloud_connected = False
            else:
                log.debug("metamanager ignores %s %s from %s", op, msg.route.resource, msg.route.source)
        if persisted:
            try:
                self.store.commit()
            except Exception as e:  # the cloud resends what is not acked
                log.error("cannot commit %d objects to %s: %s; not acked", len(persisted), self.store.path, e)
                persisted = []
        for msg in persisted:
            replies.append(new_response(msg, c.ACK_OK))
        for reply in replies:
            await self._to_hub(ctx, reply)

    def _apply(self, msg: Message) -> None:
        r = msg.route
        try:
            res = parse_wire(r.resource)
        except ResourceError as e:
            raise _Rejected(str(e)) from None
        if not res.name:
            raise _Rejected("resource %r: expected <namespace>/<type>/<name>" % (r.resource,))
        if r.operation == c.DELETE:
            kind = _json_kind(_content_bytes(msg))
            if kind not in ("object", "null"):
                raise _Rejected(
                    "failed to delete %s meta to DB: content is a JSON %s, not an object" % (res.type, kind)
                )
            self.store.delete(r.resource)
            return
        if msg.content is None:
            raise _Rejected("failed to %s %s meta to DB: no content" % (r.operation, res.type))
        rv_text = msg.header.resourceversion
        try:
            rv = int(rv_text or 0)
        except ValueError:
            rv = -1
        if rv < 0:
            raise _Rejected("resourceversion %r of %s is not an integer >= 0" % (rv_text, r.resource))
        if not self.store.put(r.resource, res.type, _content_bytes(msg), rv):
            log.debug(
                "%s %s at rv %d is older than the stored one; acked unchanged", r.operation, r.resource, rv
            )

    # -- queries ---------------------------------------------------------------------------------------

    def _query(self, ctx: Context, msg: Message) -> None:
        resource = msg.route.resource
        try:
            res = parse_wire(resource)
        except ResourceError as e:
            reply = new_error(msg, str(e))
        else:
            if res.name:
                row = self.store.get(resource)
                reply = (
                    new_error(msg, "%s not found" % resource)
                    if row is None
                    else new_response(msg, msgspec.Raw(row[1]))
                )
            else:
                rows = self.store.query_prefix(resource)
                reply = new_response(msg, msgspec.Raw(b"[" + b",".join(v for _, _, v, _ in rows) + b"]"))
        reply.route.source = c.METAMANAGER
        if msg.header.sync and ctx.send_resp(reply):
            return
        dest = msg.route.source
        if not ctx.router.has_module(dest):
            log.debug("no module %r to answer query %s; dropped", dest, resource)
            return
        try:
            ctx.send_nowait(dest, reply)
        except Exception as e:  # a full inbox: the asker times out and asks again
            log.warning("cannot answer query %s to %s: %s", resource, dest, e)

    @staticmethod
    async def _to_hub(ctx: Context, msg: Message) -> None:
        try:
            await ctx.send(c.EDGEHUB, msg)
        except Exception as e:  # no EdgeHub: the cloud resends, nothing here to undo
            log.warning(
                "cannot send %s for %s to %s: %s", msg.route.operation, msg.route.resource, c.EDGEHUB, e
            )
