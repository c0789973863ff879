"""kedge._core.router: both twins (fixture router_mod) must behave identically."""

import pytest

from kedge._core import _compat, router
from kedge._core.errors import CoreError, DuplicateModule, UnknownDestination


def ignore(msg: object) -> None:
    pass


class Counter:
    """A callback that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def test_selector_picks_compiled_unless_disabled() -> None:
    assert router.COMPILED is (not _compat.NO_EXTENSIONS)
    expected = "kedge._core._router_py" if _compat.NO_EXTENSIONS else "kedge._core._router_c"
    assert router.Router.__module__ == expected


# -- registration ---------------------------------------------------------------------------------


def test_register_and_tables(router_mod) -> None:
    r = router_mod.Router()
    assert r.modules() == []
    r.register("edged", "")
    r.register("meta", "meta")
    r.register("twin", "")
    r.register("meta2", "meta")
    assert r.modules() == ["edged", "meta", "twin", "meta2"]
    assert r.has_module("edged") is True
    assert r.has_module("nope") is False
    assert r.group_members("meta") == ["meta", "meta2"]
    assert r.group_members("") == []
    assert r.group_members("unknown") == []
    assert r.pending("edged") == 0


def test_duplicate_register(router_mod) -> None:
    r = router_mod.Router()
    r.register("edged", "g")
    with pytest.raises(DuplicateModule, match="edged"):
        r.register("edged", "other")
    # the failed registration changed nothing
    assert r.modules() == ["edged"]
    assert r.group_members("g") == ["edged"]
    assert r.group_members("other") == []
    assert issubclass(DuplicateModule, CoreError)


@pytest.mark.parametrize("capacity", [0, -1])
def test_register_bad_capacity(router_mod, capacity: int) -> None:
    r = router_mod.Router()
    with pytest.raises(ValueError, match="capacity"):
        r.register("edged", "", capacity)
    assert r.modules() == []


def test_register_type_errors(router_mod) -> None:
    r = router_mod.Router()
    with pytest.raises(TypeError):
        r.register(b"edged", "")
    with pytest.raises(TypeError):
        r.register("edged", None)
    with pytest.raises(TypeError):
        r.register("edged", "", 1.5)
    assert r.modules() == []


def test_register_keywords(router_mod) -> None:
    r = router_mod.Router()
    ready = Counter()
    r.register(name="a", group="", capacity=1, on_ready=ready, on_space=None)
    assert r.send("a", 1) is True
    assert ready.calls == 1


def test_unregister_returns_left_messages(router_mod) -> None:
    r = router_mod.Router()
    r.register("a", "g")
    r.register("b", "g")
    for i in range(5):
        r.send("a", i)
    assert r.receive("a") == 0
    assert r.unregister("a") == [1, 2, 3, 4]
    assert r.modules() == ["b"]
    assert r.has_module("a") is False
    assert r.group_members("g") == ["b"]
    with pytest.raises(UnknownDestination):
        r.send("a", 1)
    assert r.unregister("b") == []
    assert r.group_members("g") == []
    with pytest.raises(UnknownDestination, match="g"):
        r.send_to_group("g", 1)


def test_reregister_after_unregister(router_mod) -> None:
    r = router_mod.Router()
    r.register("a", "g", 2)
    r.send("a", "old")
    r.unregister("a")
    r.register("a", "h", 3)
    assert r.pending("a") == 0
    assert r.group_members("g") == []
    assert r.group_members("h") == ["a"]
    assert [r.send("a", i) for i in range(4)] == [True, True, True, False]


def test_unregister_unknown(router_mod) -> None:
    r = router_mod.Router()
    with pytest.raises(UnknownDestination, match="ghost"):
        r.unregister("ghost")
    assert r.stats()["unknown"] == 1


def test_unregister_keeps_group_order(router_mod) -> None:
    r = router_mod.Router()
    for name in "abcd":
        r.register(name, "g")
    r.unregister("b")
    r.register("b", "g")
    assert r.group_members("g") == ["a", "c", "d", "b"]


# -- send / receive -------------------------------------------------------------------------------


def test_fifo_order(router_mod) -> None:
    r = router_mod.Router()
    r.register("a", "", 100)
    msgs = [object() for _ in range(50)]
    for m in msgs:
        assert r.send("a", m) is True
    assert r.pending("a") == 50
    got = [r.receive("a") for _ in range(50)]
    assert all(g is m for g, m in zip(got, msgs, strict=True))
    assert r.receive("a") is None
    assert r.pending("a") == 0


def test_fifo_across_wraparound(router_mod) -> None:
    # interleaved sends and receives wrap a ring buffer many times and grow it mid-way
    r = router_mod.Router()
    r.register("a", "", 1000)
    expected = []
    got = []
    n = 0
    for round_ in range(200):
        for _ in range(round_ % 13 + 1):
            assert r.send("a", n)
            expected.append(n)
            n += 1
        got.extend(r.receive_many("a", round_ % 7 + 1))
    got.extend(r.receive_many("a", 10_000))
    assert got == expected


def test_large_burst_drains_and_refills(router_mod) -> None:
    r = router_mod.Router()
    r.register("a", "", 5000)
    for i in range(5000):
        assert r.send("a", i)
    assert r.send("a", "x") is False
    assert r.receive_many("a", 6000) == list(range(5000))
    for i in range(3):
        r.send("a", i)
    assert r.receive_many("a", 10) == [0, 1, 2]


def test_capacity_backpressure(router_mod) -> None:
    r = router_mod.Router()
    r.register("a", "", 3)
    assert [r.send("a", i) for i in range(5)] == [True, True, True, False, False]
    assert r.pending("a") == 3
    assert r.receive("a") == 0
    assert r.send("a", 10) is True
    assert r.send("a", 11) is False
    assert r.receive_many("a", 10) == [1, 2, 10]
    assert r.stats()["sent"] == 4
    assert r.stats()["full"] == 3


def test_capacity_one(router_mod) -> None:
    r = router_mod.Router()
    ready, space = Counter(), Counter()
    r.register("a", "", 1, ready, space)
    assert r.send("a", 1) is True
    assert r.send("a", 2) is False
    assert (ready.calls, space.calls) == (1, 0)
    assert r.receive("a") == 1
    assert (ready.calls, space.calls) == (1, 1)
    assert r.send("a", 3) is True
    assert r.receive_many("a", 5) == [3]
    assert (ready.calls, space.calls) == (2, 2)


def test_none_is_a_message_but_receive_says_empty_with_none(router_mod) -> None:
    r = router_mod.Router()
    r.register("a", "")
    assert r.send("a", None) is True
    assert r.pending("a") == 1
    assert r.receive("a") is None
    assert r.pending("a") == 0


def test_receive_many(router_mod) -> None:
    r = router_mod.Router()
    r.register("a", "")
    assert r.receive_many("a", 5) == []
    for i in range(7):
        r.send("a", i)
    assert r.receive_many("a", 0) == []
    assert r.receive_many("a", 3) == [0, 1, 2]
    assert r.receive_many("a", 10) == [3, 4, 5, 6]
    assert r.receive_many("a", 10) == []
    with pytest.raises(ValueError):
        r.receive_many("a", -1)


def test_unknown_destination(router_mod) -> None:
    r = router_mod.Router()
    r.register("a", "g")
    with pytest.raises(UnknownDestination, match="'b'"):
        r.send("b", 1)
    with pytest.raises(UnknownDestination, match="'b'"):
        r.receive("b")
    with pytest.raises(UnknownDestination):
        r.receive_many("b", 1)
    with pytest.raises(UnknownDestination):
        r.pending("b")
    with pytest.raises(UnknownDestination, match="'h'"):
        r.send_to_group("h", 1)
    with pytest.raises(UnknownDestination):
        r.send_to_group("", 1)  # "" is "no group", never a group
    # a group name is not a module name and vice versa
    with pytest.raises(UnknownDestination):
        r.send("g", 1)
    with pytest.raises(UnknownDestination):
        r.send_to_group("a", 1)
    assert isinstance(UnknownDestination("x"), LookupError)
    assert r.stats()["unknown"] == 8
    assert r.stats()["sent"] == 0
    assert r.pending("a") == 0


# -- callbacks ------------------------------------------------------------------------------------


def test_on_ready_fires_on_empty_to_nonempty_only(router_mod) -> None:
    r = router_mod.Router()
    ready, space = Counter(), Counter()
    r.register("a", "", 10, ready, space)
    r.send("a", 1)
    r.send("a", 2)
    r.send("a", 3)
    assert ready.calls == 1
    r.receive("a")
    r.send("a", 4)  # not empty in between
    assert ready.calls == 1
    r.receive_many("a", 10)
    assert r.receive("a") is None  # receiving from empty fires nothing
    r.send("a", 5)
    assert ready.calls == 2
    r.receive("a")
    r.send("a", 6)
    assert ready.calls == 3
    assert space.calls == 0  # never was full


def test_on_space_fires_on_full_to_not_full_through_receive(router_mod) -> None:
    r = router_mod.Router()
    ready, space = Counter(), Counter()
    r.register("a", "", 3, ready, space)
    for i in range(3):
        r.send("a", i)
    assert r.send("a", 99) is False  # a refusal fires nothing
    assert space.calls == 0
    r.receive("a")
    assert space.calls == 1
    r.receive("a")  # not full before
    assert space.calls == 1
    r.send("a", 3)
    r.send("a", 4)  # full again
    assert r.receive_many("a", 2) == [2, 3]  # one transition, one call
    assert space.calls == 2
    r.send("a", 5)
    r.send("a", 6)
    assert r.receive_many("a", 0) == []  # nothing taken: still full, no call
    assert space.calls == 2
    assert r.receive_many("a", 3) == [4, 5, 6]
    assert space.calls == 3
    assert ready.calls == 1  # never went back to empty until the end


def test_callbacks_not_fired_by_unregister(router_mod) -> None:
    r = router_mod.Router()
    ready, space = Counter(), Counter()
    r.register("a", "", 1, ready, space)
    r.send("a", 1)
    assert r.unregister("a") == [1]
    assert (ready.calls, space.calls) == (1, 0)


def test_callback_sees_updated_state_and_may_reenter(router_mod) -> None:
    r = router_mod.Router()
    seen = []

    def on_ready() -> None:
        # state is updated before the call: the message is already there to take
        seen.append(("ready", r.pending("a"), r.receive("a")))

    def on_space() -> None:
        seen.append(("space", r.pending("b")))
        r.send("b", "refill")

    r.register("a", "", 4, on_ready, None)
    r.register("b", "", 2, None, on_space)
    assert r.send("a", "m1") is True
    assert r.pending("a") == 0
    r.send("b", 1)
    r.send("b", 2)
    assert r.receive("b") == 1
    assert seen == [("ready", 1, "m1"), ("space", 1)]
    assert r.receive_many("b", 5) == [2, "refill"]


def test_callback_exception_propagates_message_stays(router_mod) -> None:
    r = router_mod.Router()

    def boom() -> None:
        raise RuntimeError("boom")

    r.register("a", "", 1, boom, boom)
    with pytest.raises(RuntimeError):
        r.send("a", 1)
    assert r.pending("a") == 1
    with pytest.raises(RuntimeError):
        r.receive("a")
    assert r.pending("a") == 0


# -- groups ---------------------------------------------------------------------------------------


def test_send_to_group_fans_out(router_mod) -> None:
    r = router_mod.Router()
    counters = {}
    for name in ("m1", "m2", "m3"):
        counters[name] = Counter()
        r.register(name, "meta", 10, counters[name])
    r.register("other", "")
    msg = object()
    assert r.send_to_group("meta", msg) == []
    assert r.send_to_group("meta", 2) == []
    for name in ("m1", "m2", "m3"):
        assert r.receive(name) is msg
        assert r.receive(name) == 2
        assert counters[name].calls == 1
    assert r.pending("other") == 0
    assert r.stats()["sent"] == 6


def test_send_to_group_one_member_full(router_mod) -> None:
    r = router_mod.Router()
    r.register("m1", "g", 10)
    r.register("m2", "g", 1)
    r.register("m3", "g", 10)
    assert r.send_to_group("g", "first") == []
    assert r.send_to_group("g", "second") == ["m2"]
    assert r.receive_many("m1", 5) == ["first", "second"]
    assert r.receive_many("m2", 5) == ["first"]
    assert r.receive_many("m3", 5) == ["first", "second"]
    st = r.stats()
    assert (st["sent"], st["full"]) == (5, 1)


def test_send_to_group_all_full(router_mod) -> None:
    r = router_mod.Router()
    r.register("m1", "g", 1)
    r.register("m2", "g", 1)
    r.send_to_group("g", 0)
    assert r.send_to_group("g", 1) == ["m1", "m2"]
    assert r.stats()["full"] == 2


def test_send_to_group_snapshot_when_callback_registers(router_mod) -> None:
    r = router_mod.Router()

    def join() -> None:
        r.register("late", "g")  # joins during the fan-out: not part of this one

    r.register("m1", "g", 4, join)
    r.register("m2", "g", 4)
    assert r.send_to_group("g", "x") == []
    assert r.group_members("g") == ["m1", "m2", "late"]
    assert r.pending("late") == 0
    assert r.pending("m2") == 1


# -- sync waiters ---------------------------------------------------------------------------------


def test_waiter_resolve(router_mod) -> None:
    r = router_mod.Router()
    got = []
    r.add_waiter("id1", 10.0, got.append)
    assert r.waiter_count() == 1
    assert r.next_deadline() == 10.0
    assert r.resolve("id1", "resp") is True
    assert got == ["resp"]
    assert r.resolve("id1", "again") is False
    assert r.resolve("never", "x") is False
    assert got == ["resp"]
    assert r.waiter_count() == 0
    assert r.next_deadline() is None
    assert r.expire(1e9) == []
    assert r.stats()["resolved"] == 1


def test_waiter_removed_before_callback(router_mod) -> None:
    r = router_mod.Router()
    seen = []
    r.add_waiter("id", 1.0, lambda m: seen.append((m, r.waiter_count(), r.resolve("id", "dup"))))
    assert r.resolve("id", "m") is True
    assert seen == [("m", 0, False)]


def test_duplicate_waiter(router_mod) -> None:
    r = router_mod.Router()
    r.add_waiter("id", 5.0, ignore)
    with pytest.raises(ValueError, match="id"):
        r.add_waiter("id", 1.0, ignore)
    # the refused add changed nothing
    assert r.waiter_count() == 1
    assert r.next_deadline() == 5.0
    assert r.expire(2.0) == []


def test_nan_deadline_refused(router_mod) -> None:
    r = router_mod.Router()
    with pytest.raises(ValueError):
        r.add_waiter("id", float("nan"), ignore)
    assert r.waiter_count() == 0


def test_cancel_waiter(router_mod) -> None:
    r = router_mod.Router()
    r.add_waiter("a", 1.0, ignore)
    r.add_waiter("b", 2.0, ignore)
    assert r.cancel_waiter("a") is True
    assert r.cancel_waiter("a") is False
    assert r.cancel_waiter("zzz") is False
    assert r.waiter_count() == 1
    assert r.next_deadline() == 2.0
    assert r.resolve("a", 1) is False


def test_expire_order_and_boundary(router_mod) -> None:
    r = router_mod.Router()
    cbs = {name: (lambda m, n=name: None) for name in "abcdef"}
    for name, deadline in zip("abcdef", [5.0, 1.0, 3.0, 3.0, 9.0, 2.0], strict=True):
        r.add_waiter(name, deadline, cbs[name])
    assert r.expire(0.5) == []
    out = r.expire(3.0)  # deadline <= now expires; equal deadlines in insertion order
    assert [mid for mid, _ in out] == ["b", "f", "c", "d"]
    assert all(cb is cbs[mid] for mid, cb in out)
    assert r.waiter_count() == 2
    assert r.next_deadline() == 5.0
    assert [mid for mid, _ in r.expire(100)] == ["a", "e"]
    assert r.next_deadline() is None
    assert r.stats()["expired"] == 6
    assert r.resolve("a", 1) is False


def test_expired_then_resolve_is_late(router_mod) -> None:
    r = router_mod.Router()
    got = []
    r.add_waiter("a", 1.0, got.append)
    assert [m for m, _ in r.expire(1.0)] == ["a"]
    assert r.resolve("a", "late") is False
    assert got == []


def test_heap_lazy_deletion_with_readded_id(router_mod) -> None:
    r = router_mod.Router()
    first, second = [], []
    r.add_waiter("x", 1.0, first.append)
    r.add_waiter("y", 4.0, ignore)
    assert r.cancel_waiter("x") is True
    # the same id again, later deadline: the stale heap entry at 1.0 must not expire it
    r.add_waiter("x", 5.0, second.append)
    assert r.expire(2.0) == []  # pops the stale entry at 1.0 without touching the live "x"
    assert r.waiter_count() == 2
    assert r.next_deadline() == 4.0
    out = r.expire(5.0)
    assert [mid for mid, _ in out] == ["y", "x"]
    assert out[1][1] == second.append
    # resolved id re-added with an earlier deadline than its stale entry
    r.add_waiter("z", 10.0, ignore)
    assert r.resolve("z", 0) is True
    r.add_waiter("z", 3.0, second.append)
    assert r.next_deadline() == 3.0
    assert [mid for mid, _ in r.expire(20.0)] == ["z"]
    assert r.waiter_count() == 0
    # next_deadline skips the stale entry of a re-added id too
    r.add_waiter("w", 1.0, ignore)
    r.cancel_waiter("w")
    r.add_waiter("w", 6.0, ignore)
    assert r.next_deadline() == 6.0


def test_heap_compaction_keeps_live_waiters(router_mod) -> None:
    r = router_mod.Router()
    n = 5 * router_mod.HEAP_SLACK
    for i in range(n):
        r.add_waiter("w%d" % i, float(n - i), ignore)
    # resolve all but every 7th, in an order that leaves dead entries all over the heap
    for i in range(n):
        if i % 7:
            assert r.resolve("w%d" % i, None) is True
    live = [i for i in range(n) if i % 7 == 0]
    assert r.waiter_count() == len(live)
    assert r.next_deadline() == float(n - live[-1])
    out = [mid for mid, _ in r.expire(float(n))]
    assert out == ["w%d" % i for i in reversed(live)]
    assert r.waiter_count() == 0


def test_many_waiters_expire_sorted(router_mod) -> None:
    import random

    rng = random.Random(7)
    r = router_mod.Router()
    deadlines = {}
    for i in range(500):
        d = float(rng.randrange(100))
        deadlines["m%d" % i] = d
        r.add_waiter("m%d" % i, d, ignore)
    for i in range(0, 500, 3):
        r.cancel_waiter("m%d" % i)
        del deadlines["m%d" % i]
    out = [mid for mid, _ in r.expire(49.0)]
    expected = sorted((d, int(mid[1:])) for mid, d in deadlines.items() if d <= 49.0)
    assert out == ["m%d" % i for _, i in expected]
    rest = sorted(d for d in deadlines.values() if d > 49.0)
    assert r.next_deadline() == rest[0]
    assert r.waiter_count() == len(rest)


def test_stats_start_at_zero(router_mod) -> None:
    assert router_mod.Router().stats() == {"sent": 0, "full": 0, "unknown": 0, "resolved": 0, "expired": 0}
