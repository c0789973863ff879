"""Edge-side receive state, sans-IO: delivers each cloud message to the application once, batches acks.

The cloud resends a message when its ack is late or lost, and resends objects after a reconnect, so the
same message (same msg_id) or the same object version (same resource and resourceVersion) can arrive
twice. The application must see it once; the cloud must still get an ack, or it keeps resending.
"""

from __future__ import annotations

from collections import OrderedDict

from kedge.model.message import Message
from kedge.proto.delivery import parse_rv


class Inbound:
    __slots__ = ("_acks", "_ids", "_remember", "_versions", "duplicates")

    def __init__(self, remember: int = 8192) -> None:
        self._remember = remember
        self._ids: OrderedDict[str, None] = OrderedDict()  # recently delivered msg_ids (bounded)
        self._versions: dict[str, int] = {}  # resource → last delivered resourceVersion
        self._acks: list[str] = []
        self.duplicates = 0

    def accept(self, msg: Message) -> bool:
        """True: deliver `msg` to the application. False: a duplicate, to be acked again, not delivered."""
        h = msg.header
        mid = h.msg_id
        ids = self._ids
        if mid:
            if mid in ids:
                self.duplicates += 1
                return False
            ids[mid] = None
            if len(ids) > self._remember:
                ids.popitem(last=False)
        rv = parse_rv(h.resourceversion)
        if rv:
            res = msg.route.resource
            last = self._versions.get(res, 0)
            if rv <= last and msg.route.operation != "delete":
                self.duplicates += 1
                return False
            if msg.route.operation == "delete":
                self._versions.pop(res, None)
            else:
                self._versions[res] = rv
        return True

    def delivered(self, msg_id: str) -> bool:
        """Whether `msg_id` is a recent cloud message handed to the application (so a reply to it
        carrying "OK" is its ack, not the answer to a cloud request)."""
        return msg_id in self._ids

    def forget(self, resource: str) -> None:
        """The application dropped `resource` by itself (so a re-send of an old version is news again)."""
        self._versions.pop(resource, None)

    def reject(self, msg: Message) -> None:
        """`msg` was accepted but not delivered (no module for it, inboxes full, a routing error): forget
        its id and version, so the cloud's resend, which has the same msg_id, is delivered."""
        h = msg.header
        if h.msg_id:
            self._ids.pop(h.msg_id, None)
        rv = parse_rv(h.resourceversion)
        res = msg.route.resource
        if rv and self._versions.get(res) == rv:
            self._versions[res] = rv - 1  # older versions stay duplicates: the application has one

    def ack(self, msg_id: str) -> None:
        self._acks.append(msg_id)

    def take_acks(self) -> list[str]:
        acks = self._acks
        self._acks = []
        return acks
