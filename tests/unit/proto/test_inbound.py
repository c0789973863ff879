"""kedge.proto.inbound: each cloud message reaches the edge application once; acks are batched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kedge.model import constants as c
from kedge.model.message import Message, new_message
from kedge.proto.inbound import Inbound


def msg(name: str, rv: int | str, op: str = c.UPDATE, *, msg_id: str | None = None) -> Message:
    return new_message(
        source=c.EDGECONTROLLER,
        group=c.GROUP_RESOURCE,
        operation=op,
        resource="default/pod/%s" % name,
        resourceversion=str(rv),
        msg_id=msg_id,
    )


def test_first_delivery_is_accepted_and_a_resend_with_the_same_id_is_not() -> None:
    inb = Inbound()
    m = msg("a", 3)
    assert inb.accept(m) is True
    assert inb.accept(m) is False
    assert inb.duplicates == 1


def test_same_resource_and_version_with_a_new_id_is_a_duplicate() -> None:
    inb = Inbound()
    assert inb.accept(msg("a", 3)) is True
    assert inb.accept(msg("a", 3)) is False  # e.g. resent after a reconnect with a new msg_id
    assert inb.accept(msg("a", 2)) is False  # older than what the application has
    assert inb.accept(msg("a", 4)) is True
    assert inb.accept(msg("b", 3)) is True  # versions are per resource
    assert inb.duplicates == 2


def test_messages_without_a_version_are_deduplicated_by_id_only() -> None:
    inb = Inbound()
    a, b = msg("a", ""), msg("a", "")
    assert inb.accept(a) and inb.accept(b)
    assert not inb.accept(a)
    assert not inb.accept(msg("a", "", msg_id=b.header.msg_id))


def test_messages_without_an_id_are_deduplicated_by_version_only() -> None:
    inb = Inbound()
    assert inb.accept(msg("a", 5, msg_id=""))
    assert not inb.accept(msg("a", 5, msg_id=""))
    nameless = new_message(
        source="x", group=c.GROUP_TWIN, operation=c.UPDATE, resource="membership", msg_id=""
    )
    assert inb.accept(nameless) and inb.accept(nameless)  # nothing to compare: always delivered


def test_delete_then_recreate_is_delivered() -> None:
    inb = Inbound()
    assert inb.accept(msg("a", 5))
    assert inb.accept(msg("a", 5, c.DELETE))  # a delete carries the last version: still news
    assert inb.accept(msg("a", 5))  # re-created (same name) after the delete: news again
    assert inb.accept(msg("a", 6, c.DELETE))
    assert inb.accept(msg("a", 1))  # a new object may restart low when keyed by name
    assert inb.duplicates == 0


def test_resent_delete_with_the_same_id_is_delivered_once() -> None:
    inb = Inbound()
    d = msg("a", 7, c.DELETE)
    assert inb.accept(d)
    assert not inb.accept(d)


def test_forget_makes_an_old_version_news_again() -> None:
    inb = Inbound()
    assert inb.accept(msg("a", 5))
    inb.forget("default/pod/a")
    assert inb.accept(msg("a", 5))
    inb.forget("default/pod/never-seen")  # harmless


def test_reject_lets_the_resend_of_the_same_message_through() -> None:
    """A message accepted but not delivered (no module, inbox full) must be delivered when the cloud
    resends it: the cloud resends with the same msg_id."""
    inb = Inbound()
    assert inb.accept(msg("a", 4))
    m = msg("a", 5)
    assert inb.accept(m)
    inb.reject(m)
    assert inb.accept(m) is True
    assert inb.accept(m) is False
    assert inb.accept(msg("a", 4)) is False  # the earlier version is still known


def test_remembered_ids_are_bounded() -> None:
    inb = Inbound(remember=4)
    ms = [msg("x%d" % i, "") for i in range(10)]
    for m in ms:
        assert inb.accept(m)
    assert len(inb._ids) == 4
    assert not inb.accept(ms[-1])  # recent ids are still caught
    assert inb.accept(ms[0])  # the oldest were forgotten


def test_versions_shrink_on_delete() -> None:
    inb = Inbound()
    for i in range(100):
        inb.accept(msg("p%d" % i, 10))
    for i in range(100):
        inb.accept(msg("p%d" % i, 11, c.DELETE))
    assert inb._versions == {}


def test_acks_are_batched_and_taken_once() -> None:
    inb = Inbound()
    assert inb.take_acks() == []
    inb.ack("1")
    inb.ack("2")
    assert inb.take_acks() == ["1", "2"]
    assert inb.take_acks() == []


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(1, 20), st.booleans()), max_size=80))
def test_every_version_is_delivered_at_most_once(sends: list[tuple[str, int, bool]]) -> None:
    """Each (resource, version) of an update reaches the application at most once, however often it is
    resent, and a version older than one delivered is never delivered."""
    inb = Inbound()
    sent: list[Message] = []
    delivered: list[tuple[str, int]] = []
    last: dict[str, int] = {}
    for name, rv, resend in sends:
        m = sent[rv % len(sent)] if resend and sent else msg(name, rv)
        sent.append(m)
        if inb.accept(m):
            key = (m.route.resource, int(m.header.resourceversion))
            assert key not in delivered
            assert key[1] > last.get(key[0], 0)
            delivered.append(key)
            last[key[0]] = key[1]


def test_delivered_remembers_recent_ids_only() -> None:
    inb = Inbound(remember=2)
    msgs = [
        new_message(source="s", group="resource", operation="insert", resource="default/pod/p%d" % i)
        for i in range(3)
    ]
    for m in msgs:
        assert inb.accept(m)
    assert not inb.delivered(msgs[0].header.msg_id)  # evicted
    assert inb.delivered(msgs[2].header.msg_id)
    assert not inb.delivered("never-seen")
