"""Device twin rules: edge owns reported values, cloud owns desired ones, versions, delta, validation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.edge.devicetwin.twins import (
    BAD_REQUEST,
    CONFLICT,
    NOT_FOUND,
    Twin,
    TwinError,
    check_value,
    cloud_update,
    delta,
    document,
    edge_update,
)

T0 = 1_800_000_000_000


def counter() -> dict[str, Twin]:
    twins: dict[str, Twin] = {}
    cloud_update(twins, {"status": {"value": "OFF", "type": "string", "version": 1}}, T0)
    cloud_update(twins, {"count": {"value": "0", "type": "int", "version": 1}}, T0)
    return twins


def report(**values) -> dict:
    return {
        "event_id": "e1",
        "timestamp": T0,
        "twin": {k: {"actual": {"value": v}} for k, v in values.items()},
    }


def test_desired_from_the_cloud_and_the_delta_until_reported():
    twins = counter()
    assert delta(twins) == {"status": "OFF", "count": "0"}
    before = edge_update(twins, report(status="OFF"), T0 + 1)
    assert set(before) == {"status"} and before["status"].actual is None
    assert twins["status"].actual.value == "OFF" and twins["status"].actual_version.edge == 1
    assert delta(twins) == {"count": "0"}
    cloud_update(twins, {"status": {"value": "ON", "version": 2}}, T0 + 2)
    assert delta(twins) == {"count": "0", "status": "ON"}


def test_same_reported_value_changes_nothing():
    twins = counter()
    edge_update(twins, report(count="5"), T0)
    assert edge_update(twins, report(count="5"), T0 + 1) == {}
    assert twins["count"].actual_version.edge == 1 and twins["count"].actual.timestamp == T0


def test_stale_cloud_versions_are_ignored():
    twins = counter()
    cloud_update(twins, {"status": {"value": "ON", "version": 3}}, T0)
    assert cloud_update(twins, {"status": {"value": "OFF", "version": 2}}, T0 + 1) == {}  # overtaken
    assert cloud_update(twins, {"status": {"value": "OFF", "version": 3}}, T0 + 1) == {}  # a resend
    assert twins["status"].expected.value == "ON" and twins["status"].expected_version.cloud == 3


def test_edge_version_precondition_conflict():
    twins = counter()
    edge_update(twins, report(count="1"), T0)
    edge_update(twins, report(count="2"), T0)
    old = report(count="3")
    old["twin"]["count"]["actual_version"] = {"edge": 1, "cloud": 0}
    with pytest.raises(TwinError) as e:
        edge_update(twins, old, T0)
    assert e.value.code == CONFLICT and "older than the stored 2" in e.value.message
    assert twins["count"].actual.value == "2"


@pytest.mark.parametrize(
    ("payload", "code", "text"),
    [
        ("not an object", BAD_REQUEST, "JSON object"),
        ({"event_id": "x"}, BAD_REQUEST, "no twin"),
        (report(nope="1"), NOT_FOUND, "no property 'nope'"),
        (report(count="twelve"), BAD_REQUEST, "'twelve' is not an int"),
        ({"twin": {"count": {"expected": {"value": "3"}}}}, BAD_REQUEST, "set from the cloud"),
        ({"twin": {"count": {"actual": "3"}}}, BAD_REQUEST, "object with a value"),
        ({"twin": {"x" * 129: {"actual": {"value": "1"}}}}, BAD_REQUEST, "1 to 128 characters"),
        (report(status="y" * 513), BAD_REQUEST, "longer than 512"),
    ],
)
def test_bad_updates_are_rejected_and_store_nothing(payload, code, text):
    twins = counter()
    mixed = dict(payload) if isinstance(payload, dict) else payload
    if isinstance(mixed, dict) and isinstance(mixed.get("twin"), dict):
        mixed = {**mixed, "twin": {"status": {"actual": {"value": "ON"}}, **mixed["twin"]}}
    with pytest.raises(TwinError) as e:
        edge_update(twins, mixed, T0)
    assert e.value.code == code and text in e.value.message
    assert twins["status"].actual is None  # all or nothing


def test_document_has_last_and_current():
    twins = counter()
    before = edge_update(twins, report(count="7"), T0 + 5)
    doc = document(twins, before)
    assert doc["count"]["last"].get("actual") is None
    assert doc["count"]["current"]["actual"] == {"value": "7", "metadata": {"timestamp": T0 + 5}}
    assert doc["count"]["current"]["actual_version"] == {"cloud": 0, "edge": 1}


def test_value_types():
    assert check_value("p", "int", 5) == "5"
    assert check_value("p", "double", 1.5) == "1.5"
    assert check_value("p", "boolean", "true") == "true"
    for type_, bad in (("int", "1.5"), ("float", "nan"), ("boolean", "yes"), ("string", True)):
        with pytest.raises(TwinError):
            check_value("p", type_, bad)
    with pytest.raises(TwinError, match="unknown type"):
        cloud_update({}, {"p": {"value": "1", "type": "complex", "version": 1}}, T0)
    with pytest.raises(TwinError, match="version must be an integer"):
        cloud_update({}, {"p": {"value": "1", "version": "1"}}, T0)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20), st.integers(-5, 5)), max_size=40))
def test_any_interleaving_ends_with_the_newest_desired_and_last_reported(ops):
    twins = counter()
    newest_cloud, last_reported = (1, "0"), None
    for from_cloud, version, value in ops:
        if from_cloud:
            cloud_update(twins, {"count": {"value": str(value), "version": version}}, T0)
            if version > newest_cloud[0]:
                newest_cloud = (version, str(value))
        else:
            edge_update(twins, report(count=str(value)), T0)
            last_reported = str(value)
    assert (twins["count"].expected_version.cloud, twins["count"].expected.value) == newest_cloud
    assert (twins["count"].actual.value if twins["count"].actual else None) == last_reported
