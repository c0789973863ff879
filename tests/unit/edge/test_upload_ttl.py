"""EdgeHub's uploadTTL: bus uploads that waited in the outbox longer than the TTL are dropped when the
cloud is back; younger uploads and every other durable message go out, in order."""

from __future__ import annotations

from pathlib import Path

from kedge.edge.edgehub.hub import EdgeHub
from kedge.edge.edgehub.outbox import Outbox
from kedge.model import constants as c
from kedge.model.message import Message, new_message


class Link:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, msgs: list[Message]) -> None:
        self.sent.extend(msgs)


def upload(topic: str, at_ms: int) -> Message:
    m = new_message(source=c.EVENTBUS, group=c.GROUP_USER, operation=c.UPLOAD, resource=topic, content="x")
    m.header.timestamp = at_ms
    return m


def status(at_ms: int) -> Message:
    m = new_message(
        source=c.EDGED, group=c.GROUP_RESOURCE, operation=c.UPDATE, resource="default/podstatus/p"
    )
    m.header.timestamp = at_ms
    return m


def hub(outbox: Outbox, ttl: float, now_s: float) -> EdgeHub:
    return EdgeHub("n1", None, None, qps=0, outbox=outbox, upload_ttl=ttl, wall_clock=lambda: now_s)  # type: ignore[arg-type]


def test_stale_uploads_are_dropped_and_the_rest_go_in_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db")
    now = 10_000.0
    msgs = [
        upload("default/t", int((now - 7200) * 1000)),  # two hours old: stale with a one-hour TTL
        status(int((now - 7200) * 1000)),  # not an upload: kept whatever its age
        upload("default/t", int((now - 60) * 1000)),
        upload("default/u", int((now - 1) * 1000)),
    ]
    outbox.add_many(msgs)
    h = hub(outbox, 3600, now)
    link = Link()
    h._send_outbox(link, True, 0.0)  # type: ignore[arg-type]
    assert [m.header.msg_id for m in link.sent] == [m.header.msg_id for m in msgs[1:]]
    assert h.expired == 1
    assert len(outbox) == 3  # the stale one is gone; the others wait for the cloud's acks
    outbox.close()


def test_no_ttl_keeps_every_upload(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db")
    msgs = [upload("default/t", 1), upload("default/t", 2)]
    outbox.add_many(msgs)
    link = Link()
    hub(outbox, 0, 1e9)._send_outbox(link, True, 0.0)  # type: ignore[arg-type]
    assert [m.header.msg_id for m in link.sent] == [m.header.msg_id for m in msgs]
    outbox.close()
