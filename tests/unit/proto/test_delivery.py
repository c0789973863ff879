"""kedge.proto.delivery: the per-node downstream window, resends and cursor, over both channel twins."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedge.model import constants as c
from kedge.model.message import Message, new_message
from kedge.proto import delivery
from kedge.proto.delivery import COALESCED, FULL, QUEUED, STALE, Cursor, Outbound, parse_rv


@pytest.fixture(autouse=True)
def _channel_twin(channel_mod, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs once over the compiled and once over the pure channel twin."""
    monkeypatch.setattr(delivery, "Channel", channel_mod.Channel)


def obj(name: str, rv: int | str, op: str = c.UPDATE) -> Message:
    return new_message(
        source=c.EDGECONTROLLER,
        group=c.GROUP_RESOURCE,
        operation=op,
        resource="default/pod/%s" % name,
        resourceversion=str(rv),
        content={"rv": rv},
    )


def put(out: Outbound, name: str, rv: int | str, op: str = c.UPDATE) -> tuple[int, Message]:
    m = obj(name, rv, op)
    return out.enqueue(m, name, delete=op == c.DELETE), m


def names(msgs: list[Message]) -> list[tuple[str, str]]:
    return [(m.route.resource.rpartition("/")[2], m.header.resourceversion) for m in msgs]


# -- construction and parsing ------------------------------------------------------------------------


def test_outbound_uses_the_patched_twin(channel_mod) -> None:
    assert type(Outbound().channel) is channel_mod.Channel


@pytest.mark.parametrize("window", [0, -1])
def test_window_must_be_positive(window: int) -> None:
    with pytest.raises(ValueError, match="window must be >= 1"):
        Outbound(window=window)


def test_ack_required_message_needs_a_key() -> None:
    with pytest.raises(ValueError, match="needs an object key"):
        Outbound().enqueue(obj("a", 1), None)


@pytest.mark.parametrize(("text", "rv"), [("", 0), ("17", 17), ("abc", 0), ("00042", 42), ("-3", -3)])
def test_parse_rv(text: str, rv: int) -> None:
    assert parse_rv(text) == rv


# -- window, acks, cursor ----------------------------------------------------------------------------


def test_never_more_than_window_in_flight() -> None:
    out = Outbound(window=3)
    for i in range(10):
        assert put(out, "p%d" % i, i + 1)[0] == QUEUED
    first = out.take(0.0)
    assert names(first) == [("p0", "1"), ("p1", "2"), ("p2", "3")]
    assert out.in_flight == 3 and out.pending() == 7
    assert out.take(0.1) == []  # window full, nothing due
    assert out.ack(first[1].header.msg_id)
    assert names(out.take(0.2)) == [("p3", "4")]
    assert out.in_flight == 3


def test_take_respects_max_n() -> None:
    out = Outbound(window=10)
    for i in range(6):
        put(out, "p%d" % i, i + 1)
    assert len(out.take(0.0, max_n=4)) == 4
    assert len(out.take(0.0, max_n=4)) == 2


def test_ack_retires_and_moves_the_cursor() -> None:
    out = Outbound()
    _, m = put(out, "a", 7)
    out.take(0.0)
    assert out.cursor.acked_rv("a") == -1
    assert out.ack(m.header.msg_id) is m
    assert out.in_flight == 0
    assert out.cursor.entries == {"a": (7, "default/pod/a")}
    assert out.next_deadline() is None


def test_unknown_and_late_acks_return_false() -> None:
    out = Outbound()
    _, m = put(out, "a", 1)
    assert out.ack(m.header.msg_id) is None  # queued, not sent yet
    out.take(0.0)
    assert out.ack("no-such-id") is None
    assert out.ack(m.header.msg_id) is m
    assert out.ack(m.header.msg_id) is None  # a duplicate ack
    assert out.cursor.acked_rv("a") == 1


# -- resends -----------------------------------------------------------------------------------------


def test_resend_after_ack_timeout_with_the_same_msg_id() -> None:
    out = Outbound(ack_timeout=10.0)
    _, m = put(out, "a", 1)
    assert out.take(100.0) == [m]
    assert out.next_deadline() == 110.0
    assert out.take(109.9) == []
    again = out.take(110.0)
    assert len(again) == 1 and again[0].header.msg_id == m.header.msg_id
    assert out.resent == 1
    assert out.ack(m.header.msg_id)  # the ack of either copy retires it
    assert out.take(1000.0) == [] and out.resent == 1


def test_resends_back_off_exponentially_up_to_max_backoff() -> None:
    out = Outbound(ack_timeout=1.0, max_backoff=5.0)
    put(out, "a", 1)
    out.take(0.0)
    times = []
    now = 0.0
    for _ in range(6):
        now = out.next_deadline()
        assert out.take(now - 0.001) == []
        assert len(out.take(now)) == 1
        times.append(now)
    # first after ack_timeout, then 2, 4, and capped at max_backoff
    assert times == [1.0, 3.0, 7.0, 12.0, 17.0, 22.0]
    assert out.resent == 6


def test_resends_of_several_messages_keep_their_own_deadlines() -> None:
    out = Outbound(ack_timeout=1.0, max_backoff=60.0)
    _, a = put(out, "a", 1)
    out.take(0.0)
    _, b = put(out, "b", 2)
    out.take(0.5)
    assert out.take(1.0) == [a]
    assert out.next_deadline() == 1.5
    assert out.take(1.5) == [b]
    assert out.next_deadline() == 3.0  # a's second resend, 2 s after its first
    out.ack(a.header.msg_id)
    assert out.take(3.0) == []  # the stale deadline is recomputed, b is due at 3.5
    assert out.next_deadline() == 3.5
    assert out.take(3.5) == [b]


def test_nack_delays_the_resend() -> None:
    out = Outbound(ack_timeout=1.0, max_backoff=60.0)
    _, m = put(out, "a", 1)
    out.take(0.0)
    assert out.nack(m.header.msg_id, 0.5) is True
    assert out.take(1.0) == []  # not at the plain ack timeout
    assert out.next_deadline() == 2.5
    assert out.take(2.5) == [m]
    assert out.nack("unknown", 3.0) is False


def test_nack_never_waits_longer_than_max_backoff() -> None:
    out = Outbound(ack_timeout=1.0, max_backoff=3.0)
    _, m = put(out, "a", 1)
    out.take(0.0)
    for _ in range(4):
        now = out.next_deadline()
        out.take(now)
    out.nack(m.header.msg_id, 100.0)
    assert out.take(102.9) == []
    assert out.next_deadline() == 103.0
    assert out.take(103.0) == [m]


# -- latest wins -------------------------------------------------------------------------------------


def test_newer_version_supersedes_the_one_in_flight() -> None:
    out = Outbound(ack_timeout=1.0)
    _, v1 = put(out, "a", 1)
    assert out.take(0.0) == [v1]
    _, v2 = put(out, "a", 2)
    assert out.take(0.1) == [v2]
    assert out.in_flight == 1
    assert out.ack(v1.header.msg_id) is None  # the old ack no longer matters
    assert out.cursor.acked_rv("a") == -1
    resent = out.take(50.0)
    assert resent == [v2]  # the old version is never resent
    assert out.ack(v2.header.msg_id)
    assert out.cursor.acked_rv("a") == 2
    assert out.take(500.0) == []


def test_unsent_versions_coalesce_into_the_latest() -> None:
    out = Outbound(window=1)
    _, x = put(out, "x", 1)
    out.take(0.0)
    assert put(out, "b", 1)[0] == QUEUED
    assert put(out, "b", 2)[0] == COALESCED
    res, b3 = put(out, "b", 3)
    assert res == COALESCED
    assert out.pending() == 1
    out.ack(x.header.msg_id)
    assert out.take(0.1) == [b3]


def test_older_version_than_the_queued_one_is_dropped() -> None:
    out = Outbound(window=1)
    put(out, "x", 1)
    out.take(0.0)
    put(out, "b", 5)
    assert put(out, "b", 4)[0] == STALE
    assert out.pending() == 1


def test_versions_at_or_below_the_cursor_are_stale() -> None:
    out = Outbound()
    _, m = put(out, "a", 5)
    out.take(0.0)
    out.ack(m.header.msg_id)
    assert put(out, "a", 5)[0] == STALE
    assert put(out, "a", 4)[0] == STALE
    assert out.pending() == 0
    assert put(out, "a", 6)[0] == QUEUED
    # a version-less message cannot be compared: it is sent
    assert out.enqueue(obj("a", ""), "a") == COALESCED
    assert out.pending() == 1


def test_cursor_given_at_construction_filters_enqueue() -> None:
    cur = Cursor({"a": (10, "default/pod/a")})
    out = Outbound(cursor=cur)
    assert put(out, "a", 9)[0] == STALE
    assert put(out, "a", 11)[0] == QUEUED
    assert out.cursor is cur


def test_full_queue_reports_full() -> None:
    out = Outbound(capacity=2, window=1)
    assert put(out, "a", 1)[0] == QUEUED
    assert put(out, "b", 1)[0] == QUEUED
    assert put(out, "c", 1)[0] == FULL
    assert put(out, "a", 2)[0] == COALESCED  # coalescing needs no room


# -- deletes -----------------------------------------------------------------------------------------


def test_delete_replaces_a_queued_update_and_is_sent() -> None:
    out = Outbound(window=1)
    put(out, "x", 1)
    out.take(0.0)
    put(out, "a", 3)
    res, d = put(out, "a", 4, c.DELETE)
    assert res == COALESCED
    put(out, "a", 3)  # a late older update does not undo the delete
    out.ack(out.take(100.0)[0].header.msg_id)  # x resent, then acked
    assert out.take(100.1) == [d]


def test_delete_at_or_below_the_cursor_is_not_stale() -> None:
    out = Outbound()
    _, m = put(out, "a", 5)
    out.take(0.0)
    out.ack(m.header.msg_id)
    res, d = put(out, "a", 5, c.DELETE)
    assert res == QUEUED
    assert out.take(0.1) == [d]
    out.ack(d.header.msg_id)
    assert out.cursor.acked_rv("a") == -1
    assert out.cursor.dirty and out.cursor.entries == {}


def test_reinsert_at_the_acked_version_while_its_delete_is_pending_is_not_stale() -> None:
    # a node loses and regains its edge label: the object comes back at the version it had
    out = Outbound()
    _, m = put(out, "a", 5)
    out.take(0.0)
    out.ack(m.header.msg_id)
    _, d = put(out, "a", 5, c.DELETE)
    res, again = put(out, "a", 5)
    assert res != STALE
    assert out.take(0.1) == [d, again]  # the delete goes first, then the object again
    out.ack(again.header.msg_id)
    assert out.cursor.acked_rv("a") == 5
    assert put(out, "a", 5)[0] == STALE  # once nothing is pending, the cursor filters again


def test_update_after_a_queued_delete_keeps_the_delete() -> None:
    out = Outbound(window=1)
    put(out, "x", 1)
    out.take(0.0)
    _, d = put(out, "a", 2, c.DELETE)
    res, recreated = put(out, "a", 3)
    assert res == QUEUED
    assert out.pending() == 2
    out.ack(out.take(100.0)[0].header.msg_id)
    sent = out.take(100.0)
    assert sent == [d]
    out.ack(d.header.msg_id)
    assert out.take(100.0) == [recreated]


def test_delete_in_flight_survives_a_disconnect_before_a_queued_update() -> None:
    out = Outbound(window=1)
    _, d = put(out, "a", 2, c.DELETE)
    out.take(0.0)
    _, newer = put(out, "a", 3)
    out.disconnected()
    first = out.take(1.0)
    assert first == [d]
    out.ack(d.header.msg_id)
    assert out.take(1.0) == [newer]


def test_update_in_flight_is_dropped_behind_a_queued_delete_on_disconnect() -> None:
    out = Outbound(window=1)
    put(out, "a", 2)
    out.take(0.0)
    _, d = put(out, "a", 3, c.DELETE)
    out.disconnected()
    assert out.take(1.0) == [d]
    assert out.pending() == 0


# -- disconnects -------------------------------------------------------------------------------------


def test_disconnected_puts_in_flight_back_at_the_front_in_order() -> None:
    out = Outbound(window=3, ack_timeout=1.0)
    sent = []
    for n in "abc":
        sent.append(put(out, n, 1)[1])
    assert out.take(0.0) == sent
    _, d = put(out, "d", 1)
    out.disconnected()
    assert out.in_flight == 0 and out.next_deadline() is None
    assert out.pending() == 4
    again = out.take(5.0)
    assert again == sent  # same messages, same ids, same order, before d
    assert [m.header.msg_id for m in again] == [m.header.msg_id for m in sent]
    assert out.resent == 0
    assert out.next_deadline() == 6.0  # a fresh timeout on the new connection
    for m in again:
        assert out.ack(m.header.msg_id)
    assert out.take(6.0) == [d]


def test_disconnected_with_a_newer_version_queued_sends_only_the_newer() -> None:
    out = Outbound(window=2)
    put(out, "a", 1)
    _, b = put(out, "b", 1)
    out.take(0.0)
    _, v2 = put(out, "a", 2)
    out.disconnected()
    assert out.take(1.0) == [b, v2]


def test_disconnect_then_ack_of_the_old_connection_still_counts() -> None:
    out = Outbound()
    _, m = put(out, "a", 4)
    out.take(0.0)
    out.disconnected()
    assert out.ack(m.header.msg_id) is None  # back in the queue, not in flight
    out.take(1.0)
    assert out.ack(m.header.msg_id) is m
    assert out.cursor.acked_rv("a") == 4


# -- no-ack lane -------------------------------------------------------------------------------------


def test_no_ack_messages_are_sent_once_and_not_windowed() -> None:
    out = Outbound(window=1, ack_timeout=1.0)
    put(out, "a", 1)
    out.take(0.0)
    replies = [
        new_message(source=c.CLOUDHUB, group=c.GROUP_RESOURCE, operation=c.RESPONSE, resource="r%d" % i)
        for i in range(3)
    ]
    for r in replies:
        assert out.enqueue(r, None, ack=False) == QUEUED
    assert out.take(0.1) == replies  # past a full window
    assert out.in_flight == 1
    assert out.ack(replies[0].header.msg_id) is None
    taken = out.take(100.0)
    assert all(m not in replies for m in taken)
    out.disconnected()
    assert all(m not in replies for m in out.take(200.0))


def test_no_ack_messages_go_before_new_ack_messages_after_due_resends() -> None:
    out = Outbound(window=2, ack_timeout=1.0)
    _, a = put(out, "a", 1)
    out.take(0.0)
    _, b = put(out, "b", 1)
    reply = new_message(source=c.CLOUDHUB, group=c.GROUP_RESOURCE, operation=c.RESPONSE, resource="x")
    out.enqueue(reply, None, ack=False)
    assert out.take(1.0) == [a, reply, b]


def test_no_ack_messages_with_a_key_coalesce_without_a_key_do_not() -> None:
    out = Outbound()
    m1 = new_message(source=c.CLOUDHUB, group=c.GROUP_TWIN, operation=c.UPDATE, resource="membership")
    m2 = new_message(source=c.CLOUDHUB, group=c.GROUP_TWIN, operation=c.UPDATE, resource="membership")
    assert out.enqueue(m1, None, ack=False) == QUEUED
    assert out.enqueue(m2, None, ack=False) == QUEUED
    assert out.take(0.0) == [m1, m2]
    assert out.enqueue(m1, "k", ack=False) == QUEUED
    assert out.enqueue(m2, "k", ack=False) == COALESCED
    assert out.take(0.0) == [m2]


# -- cursor ------------------------------------------------------------------------------------------


def test_cursor_missing_lists_acked_objects_that_are_gone() -> None:
    cur = Cursor({"u1": (1, "default/pod/a"), "u2": (2, "default/pod/b"), "u3": (3, "null/node/n")})
    assert sorted(cur.missing({"u1"})) == [("u2", "default/pod/b"), ("u3", "null/node/n")]
    assert cur.missing({"u1": 1, "u2": 2, "u3": 3}) == []
    assert Cursor().missing(set()) == []


def test_cursor_dirty_tracking() -> None:
    cur = Cursor({"old": (1, "default/pod/old")})
    assert not cur.dirty
    cur.record("a", 3, "default/pod/a", False)
    assert cur.dirty
    cur.dirty = False  # persisted
    cur.record("a", 2, "default/pod/a", False)  # older than acked: ignored
    cur.record("never", 0, "default/pod/never", True)  # a delete of nothing acked: nothing to persist
    assert not cur.dirty
    cur.record("old", 0, "default/pod/old", True)
    assert cur.dirty
    assert cur.entries == {"a": (3, "default/pod/a")}
    cur.dirty = False
    cur.record("b", 1, "default/pod/b", False)
    cur.record("b", 0, "default/pod/b", True)  # acked and deleted between two flushes
    assert cur.dirty and cur.acked_rv("b") == -1


def test_ack_marks_the_cursor_dirty() -> None:
    out = Outbound(window=8)
    msgs = [put(out, "a", rv)[1] for rv in (1,)] + [put(out, "b", 1)[1]]
    out.take(0.0)
    assert not out.cursor.dirty
    for m in msgs:
        out.ack(m.header.msg_id)
    _, a2 = put(out, "a", 2)
    out.take(0.0)
    out.ack(a2.header.msg_id)
    assert out.cursor.dirty
    assert out.cursor.entries == {"a": (2, "default/pod/a"), "b": (1, "default/pod/b")}


# -- a lossy edge, end to end ------------------------------------------------------------------------

_op = st.one_of(
    st.tuples(st.just("put"), st.sampled_from("abcd"), st.booleans()),  # (put, key, is_delete)
    st.tuples(st.just("take"), st.integers(1, 8), st.booleans()),  # (take, max_n, lose the batch)
    st.tuples(st.just("advance"), st.floats(0.0, 30.0), st.just(False)),
    st.tuples(st.just("disconnect"), st.just(0), st.just(False)),
    st.tuples(st.just("ackdrop"), st.just(0), st.booleans()),  # lose the acks of the next batch?
)


# The autouse twin patch holds for every example, so a function-scoped fixture is fine here.
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, max_size=60), window=st.integers(1, 4))
def test_lossy_link_converges_to_the_latest_version_of_every_object(ops: list[tuple], window: int) -> None:
    """Whatever is lost, resent, superseded or cut, once the link behaves every object's latest version
    (or its deletion) reaches the edge and the cursor, and the window is never exceeded."""
    out = Outbound(window=window, ack_timeout=1.0, max_backoff=4.0)
    now = 0.0
    rv = 0
    latest: dict[str, tuple[int, bool]] = {}  # key → (rv, deleted) as the producer last said
    edge: dict[str, int] = {}  # what the edge applied
    lose_acks = False

    def deliver(batch: list[Message], lose: bool) -> None:
        for m in batch:
            key = m.route.resource.rpartition("/")[2]
            r = parse_rv(m.header.resourceversion)
            if m.route.operation == c.DELETE:
                edge.pop(key, None)
            elif r > edge.get(key, 0):
                edge[key] = r
            if not lose:
                out.ack(m.header.msg_id)

    for op, arg, flag in ops:
        if op == "put":
            rv += 1
            out.enqueue(obj(arg, rv, c.DELETE if flag else c.UPDATE), arg, delete=flag)
            latest[arg] = (rv, flag)
        elif op == "take":
            batch = out.take(now, arg)
            assert out.in_flight <= window
            if not flag:  # the batch reached the edge
                deliver(batch, lose_acks)
        elif op == "advance":
            now += arg
        elif op == "disconnect":
            out.disconnected()
        else:
            lose_acks = flag
    # the link heals: keep going until quiet
    for _ in range(200):
        batch = out.take(now)
        assert out.in_flight <= window
        deliver(batch, False)
        if not out.in_flight and not out.pending():
            break
        now += 5.0
    assert out.in_flight == 0 and out.pending() == 0
    want_edge = {k: r for k, (r, deleted) in latest.items() if not deleted}
    assert edge == want_edge
    assert {k: e[0] for k, e in out.cursor.entries.items()} == want_edge
