"""Device status from edge reports (kedge.cloud.devicecontroller.status): parsing the edge's twin and state
reports into v1beta1 status fields, the merge patch built from them, and per-device coalescing."""

from __future__ import annotations

from typing import Any

import pytest

from kedge.cloud.devicecontroller.status import (
    STATE_SUFFIX,
    TWIN_SUFFIX,
    Pending,
    ReportError,
    StatusBook,
    parse_resource,
    state_fields,
    status_patch,
    twin_fields,
)

TWIN = "device/default/counter/twin/edge_updated"
STATE = "device/default/counter/state/update"


def twin_report(value: str = "7", *, expected: str = "ON", ts: int = 222) -> dict[str, Any]:
    """A twin report as the edge's DeviceTwin sends it."""
    return {
        "event_id": "e1",
        "timestamp": 123,
        "twin": {
            "status": {
                "optional": True,
                "metadata": {"type": "string"},
                "expected_version": {"cloud": 1, "edge": 0},
                "actual_version": {"cloud": 0, "edge": 3},
                "expected": {"value": expected, "metadata": {"timestamp": 111}},
                "actual": {"value": value, "metadata": {"timestamp": ts}},
            }
        },
    }


def state_report(state: str = "online", last: str = "2026-12-07T10:00:00Z") -> dict[str, Any]:
    return {
        "event_id": "e2",
        "timestamp": 1,
        "device": {"name": "counter", "state": state, "lastOnlineTime": last},
    }


# -- parse_resource ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (TWIN, ("default", "counter", TWIN_SUFFIX)),
        (STATE, ("default", "counter", STATE_SUFFIX)),
        ("device/prod/pump-1/twin/edge_updated", ("prod", "pump-1", TWIN_SUFFIX)),
    ],
)
def test_parse_resource(resource: str, expected: tuple[str, str, str]) -> None:
    assert parse_resource(resource) == expected


@pytest.mark.parametrize(
    "resource",
    [
        "device/default/counter/twin/cloud_updated",
        "device/counter/twin/edge_updated",  # no namespace
        "device//counter/twin/edge_updated",
        "device/default//state/update",
        "device/default/a/b/twin/edge_updated",
        "devices/default/counter/twin/edge_updated",
        "membership/detail",
        "",
    ],
)
def test_parse_resource_refuses_other_shapes(resource: str) -> None:
    with pytest.raises(ReportError, match="is not device/<namespace>/<name>"):
        parse_resource(resource)


# -- twin_fields ---------------------------------------------------------------------------------------


def test_twin_fields_reported_and_observed_desired_with_string_metadata() -> None:
    assert twin_fields(twin_report()) == {
        "status": {
            "reported": {"value": "7", "metadata": {"timestamp": "222", "type": "string"}},
            "observedDesired": {"value": "ON", "metadata": {"timestamp": "111", "type": "string"}},
        }
    }


def test_twin_fields_partial_twins() -> None:
    content = {
        "twin": {
            "only-actual": {"actual": {"value": "1"}},  # no metadata at all
            "only-expected": {"metadata": {"type": "int"}, "expected": {"value": "5", "metadata": {}}},
            "neither": {"optional": False},  # nothing to report: left out
            "odd-type": {"metadata": {"type": 3}, "actual": {"value": "x", "metadata": {"timestamp": 9}}},
        }
    }
    assert twin_fields(content) == {
        "only-actual": {"reported": {"value": "1"}},
        "only-expected": {"observedDesired": {"value": "5", "metadata": {"type": "int"}}},
        "odd-type": {"reported": {"value": "x", "metadata": {"timestamp": "9"}}},
    }
    assert twin_fields({"twin": {}}) == {}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "a twin report needs a 'twin' object"),
        ([], "a twin report needs a 'twin' object"),
        ({"event_id": "x"}, "a twin report needs a 'twin' object"),
        ({"twin": ["status"]}, "a twin report needs a 'twin' object"),
        ({"twin": {"status": "7"}}, "twin 'status' must be an object"),
        ({"twin": {"status": {"actual": "7"}}}, "twin 'status' actual must be an object with a string value"),
        ({"twin": {"status": {"actual": {"value": 7}}}}, "twin 'status' actual must be an object"),
        ({"twin": {"status": {"actual": {}}}}, "twin 'status' actual must be an object"),
        ({"twin": {"s": {"expected": {"value": None}}}}, "twin 's' expected must be an object with a string"),
    ],
)
def test_twin_fields_bad_shapes_name_the_problem(content: Any, problem: str) -> None:
    with pytest.raises(ReportError) as exc:
        twin_fields(content)
    assert str(exc.value).startswith(problem)


# -- state_fields --------------------------------------------------------------------------------------


def test_state_fields() -> None:
    assert state_fields(state_report()) == ("online", "2026-12-07T10:00:00Z")
    assert state_fields({"device": {"state": "offline"}}) == ("offline", None)
    assert state_fields({"device": {"state": "", "lastOnlineTime": ""}}) == (None, None)
    assert state_fields({"device": {}}) == (None, None)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "a state report needs a 'device' object"),
        ({"device": "counter"}, "a state report needs a 'device' object"),
        ({"state": "online"}, "a state report needs a 'device' object"),
        ({"device": {"state": 1}}, "device.state must be a string"),
        ({"device": {"state": "online", "lastOnlineTime": 5}}, "device.lastOnlineTime must be a string"),
    ],
)
def test_state_fields_bad_shapes(content: Any, problem: str) -> None:
    with pytest.raises(ReportError, match=problem):
        state_fields(content)


# -- status_patch --------------------------------------------------------------------------------------


def test_status_patch_keeps_existing_twins_updates_in_place_appends_new() -> None:
    current = [
        {"propertyName": "a", "reported": {"value": "1"}, "observedDesired": {"value": "0"}},
        {"propertyName": "b", "reported": {"value": "2"}},
        "junk",  # not a twin: dropped
        {"reported": {"value": "nameless"}},  # dropped too
    ]
    pending = Pending(twins={"b": {"reported": {"value": "20"}}, "c": {"reported": {"value": "3"}}})
    assert status_patch(current, pending) == {
        "status": {
            "twins": [
                {"propertyName": "a", "reported": {"value": "1"}, "observedDesired": {"value": "0"}},
                {"propertyName": "b", "reported": {"value": "20"}},
                {"propertyName": "c", "reported": {"value": "3"}},
            ]
        }
    }
    assert current[1] == {"propertyName": "b", "reported": {"value": "2"}}  # the informer's copy untouched


def test_status_patch_update_keeps_fields_the_report_does_not_carry() -> None:
    current = [{"propertyName": "a", "reported": {"value": "1"}, "observedDesired": {"value": "0"}}]
    patch = status_patch(current, Pending(twins={"a": {"reported": {"value": "9"}}}))
    assert patch["status"]["twins"] == [
        {"propertyName": "a", "reported": {"value": "9"}, "observedDesired": {"value": "0"}}
    ]


def test_status_patch_state_only_leaves_twins_alone() -> None:
    pending = Pending(state="online", last_online="2026-12-07T10:00:00Z")
    assert status_patch([{"propertyName": "a"}], pending) == {
        "status": {"state": "online", "lastOnlineTime": "2026-12-07T10:00:00Z"}
    }
    assert status_patch(None, Pending(twins={"a": {"reported": {"value": "1"}}}, state="offline")) == {
        "status": {"twins": [{"propertyName": "a", "reported": {"value": "1"}}], "state": "offline"}
    }
    assert status_patch("not a list", Pending()) == {"status": {}}


# -- StatusBook ----------------------------------------------------------------------------------------


def test_first_report_is_due_now() -> None:
    book = StatusBook(1.0)
    assert book.report(TWIN, twin_report(), now=100.0) == ("default/counter", True)
    pending = book.take("default/counter")
    assert pending is not None
    assert pending.twins["status"]["reported"]["value"] == "7"
    assert book.take("default/counter") is None
    assert book.next_deadline() is None


def test_ten_reports_within_the_interval_become_one_due_at_its_end_with_the_latest_values() -> None:
    book = StatusBook(1.0)
    assert book.report(TWIN, twin_report("0"), now=100.0)[1]
    book.take("default/counter")  # written at once
    for i in range(1, 11):
        assert book.report(TWIN, twin_report(str(i), ts=i), now=100.0 + i * 0.05) == (
            "default/counter",
            False,
        )
    book.report(STATE, state_report("online"), now=100.6)
    assert book.next_deadline() == 101.0
    assert book.due(100.99) == []
    assert book.due(101.0) == ["default/counter"]
    pending = book.take("default/counter")
    assert pending is not None
    assert pending.twins["status"]["reported"] == {
        "value": "10",
        "metadata": {"timestamp": "10", "type": "string"},
    }
    assert pending.state == "online" and pending.last_online == "2026-12-07T10:00:00Z"
    assert book.due(102.0) == [] and book.next_deadline() is None
    # the next report within the new interval waits for its end again
    assert book.report(TWIN, twin_report("11"), now=101.5)[1] is False
    assert book.next_deadline() == 102.0


def test_devices_are_coalesced_apart() -> None:
    book = StatusBook(1.0)
    assert book.report(TWIN, twin_report(), now=0.0)[1]
    assert book.report("device/default/other/twin/edge_updated", twin_report(), now=0.1) == (
        "default/other",
        True,
    )
    assert book.report(STATE, state_report(), now=0.2) == ("default/counter", False)


def test_a_bad_report_keeps_nothing() -> None:
    book = StatusBook(1.0)
    with pytest.raises(ReportError):
        book.report(TWIN, {"twin": {"status": 7}}, now=0.0)
    with pytest.raises(ReportError):
        book.report(STATE, {"device": {"state": 1}}, now=0.0)
    with pytest.raises(ReportError):
        book.report("device/x/twin/edge_updated", twin_report(), now=0.0)
    assert book.pending == {}
    assert book.report(TWIN, twin_report(), now=0.0)[1]  # the coalescer never saw the bad ones


def test_restore_after_a_failed_write_keeps_newer_values_on_top() -> None:
    book = StatusBook(1.0)
    book.report(TWIN, twin_report("1", expected="ON", ts=1), now=0.0)
    book.report(STATE, state_report("online", "2026-12-07T10:00:00Z"), now=0.0)
    failed = book.take("default/counter")
    assert failed is not None
    # newer reports arrive while the write fails
    newer = {
        "twin": {
            "status": {"actual": {"value": "2", "metadata": {"timestamp": 2}}},
            "extra": {"actual": {"value": "e"}},
        }
    }
    book.report(TWIN, newer, now=0.3)
    book.report(STATE, {"device": {"state": "offline"}}, now=0.4)
    book.restore("default/counter", failed)
    pending = book.pending["default/counter"]
    assert pending.twins["status"] == {
        "reported": {"value": "2", "metadata": {"timestamp": "2"}},  # newer wins
        "observedDesired": {"value": "ON", "metadata": {"timestamp": "111", "type": "string"}},  # only older
    }
    assert pending.twins["extra"] == {"reported": {"value": "e"}}
    assert pending.state == "offline"  # newer
    assert pending.last_online == "2026-12-07T10:00:00Z"  # only in the failed write
    # with nothing newer, the failed reports are back as they were
    again = book.take("default/counter")
    assert again is not None
    book.restore("default/counter", again)
    assert book.pending["default/counter"] is again


def test_forget_drops_pending_and_the_interval() -> None:
    book = StatusBook(1.0)
    book.report(TWIN, twin_report("1"), now=0.0)
    book.take("default/counter")
    book.report(TWIN, twin_report("2"), now=0.1)
    assert book.next_deadline() == 1.0
    book.forget("default/counter")
    assert book.pending == {}
    assert book.next_deadline() is None and book.due(5.0) == []
    assert book.report(TWIN, twin_report("3"), now=0.2)[1] is True  # a fresh start: due at once


def test_pending_merge_directly() -> None:
    mine = Pending(twins={"a": {"reported": {"value": "new"}}})
    mine.merge(
        Pending(twins={"a": {"reported": {"value": "old"}, "observedDesired": {"value": "d"}}}, state="s")
    )
    assert mine == Pending(
        twins={"a": {"reported": {"value": "new"}, "observedDesired": {"value": "d"}}},
        state="s",
        last_online=None,
    )
