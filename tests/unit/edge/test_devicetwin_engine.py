"""DeviceTwin's engine: KubeEdge's device topics answered from memory, effects recorded, time passed in."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kedge.edge.devicetwin import topics
from kedge.edge.devicetwin.engine import Effects, TwinEngine, rfc3339
from kedge.edge.devicetwin.entries import DeviceSpecError, device_info
from kedge.edge.devicetwin.store import DeviceRecord

NODE = "edge-node"
D = "$hw/events/device/default/counter/"
NOW = 1_795_000_000_000

MODEL = {
    "apiVersion": "devices.kubeedge.io/v1beta1",
    "kind": "DeviceModel",
    "metadata": {"name": "counter-model", "namespace": "default"},
    "spec": {
        "properties": [
            {"name": "status", "type": "STRING", "accessMode": "ReadWrite"},
            {"name": "temp", "type": "INT", "accessMode": "ReadOnly", "minimum": "0", "maximum": "100"},
        ]
    },
}


def device(desired: str = "OFF", rv: int = 10, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "Device",
        "metadata": {
            "name": "counter",
            "namespace": "default",
            "resourceVersion": str(rv),
            "labels": {"description": "counter"},
        },
        "spec": {
            "deviceModelRef": {"name": "counter-model"},
            "nodeName": NODE,
            "protocol": {"protocolName": "virtualProtocol", "configData": {"a": 1}},
            "properties": [{"name": "status", "desired": {"value": desired}, "collectCycle": 500_000_000}],
            **spec,
        },
    }


def engine_with_counter() -> tuple[TwinEngine, Effects]:
    e = TwinEngine(NODE)
    fx = Effects()
    e.model_changed(MODEL, NOW, fx)
    fx = Effects()
    e.device_changed(device(), NOW, fx)
    return e, fx


def topics_of(fx: Effects) -> list[str]:
    return [t for t, _ in fx.publishes]


def published(fx: Effects, topic: str) -> dict[str, Any]:
    found = [p for t, p in fx.publishes if t == topic]
    assert len(found) == 1, (topic, topics_of(fx))
    return found[0]


def request(e: TwinEngine, topic: str, body: Any, now: int = NOW + 1) -> Effects:
    fx = Effects()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    e.request(topic, raw, now, fx)
    return fx


def test_new_device_is_announced_with_its_desired_value_and_delta() -> None:
    e, fx = engine_with_counter()
    assert list(fx.changed) == ["default/counter"]
    added = published(fx, "$hw/events/node/edge-node/membership/updated")["added_devices"]
    assert [d["id"] for d in added] == ["default/counter"]
    entry = added[0]
    assert entry["protocol"] == {"protocolName": "virtualProtocol", "configData": {"a": 1}}
    props = {p["name"]: p for p in entry["properties"]}
    assert props["status"]["collectCycle"] == 500_000_000 and props["status"]["type"] == "string"
    assert props["temp"]["type"] == "int" and props["temp"]["accessMode"] == "ReadOnly"
    twin = e.records["default/counter"].twins["status"]
    assert twin.expected is not None and twin.expected.value == "OFF"
    assert twin.expected_version.cloud == 10
    assert published(fx, D + "twin/update/delta")["delta"] == {"status": "OFF"}
    assert D + "twin/update/document" in topics_of(fx)


def test_mapper_report_is_stored_answered_and_marked_for_the_cloud() -> None:
    e, _ = engine_with_counter()
    body = {"event_id": "ev1", "timestamp": 1, "twin": {"status": {"actual": {"value": "5"}}}}
    fx = request(e, D + "twin/update", body)
    res = published(fx, D + "twin/update/result")
    assert res["event_id"] == "ev1"
    assert res["twin"]["status"]["actual"]["value"] == "5"
    assert res["twin"]["status"]["actual_version"] == {"cloud": 0, "edge": 1}
    doc = published(fx, D + "twin/update/document")["twin"]["status"]
    assert doc["last"].get("actual") is None and doc["current"]["actual"]["value"] == "5"
    assert list(fx.changed) == ["default/counter"] and list(fx.report) == ["default/counter"]
    # the same value again: answered, nothing to store or report
    fx = request(e, D + "twin/update", body)
    assert topics_of(fx) == [D + "twin/update/result"] and not fx.changed and not fx.report


@pytest.mark.parametrize(
    ("topic", "payload", "code", "reason"),
    [
        (D + "twin/update", b"{not json", 400, "malformed JSON"),
        (D + "twin/update", b"[1,2]", 400, "JSON object"),
        ("$hw/events/device/default/nope/twin/update", {"twin": {"status": {"actual": {"value": "1"}}}}, 404,
         "device default/nope does not exist"),
        (D + "twin/update", {"twin": {"nope": {"actual": {"value": "1"}}}}, 404, "no property 'nope'"),
        (D + "twin/update", {"twin": {"temp": {"actual": {"value": "hot"}}}}, 400, "'hot' is not an int"),
        (D + "twin/update", {"twin": {"status": {"expected": {"value": "ON"}}}}, 400, "set from the cloud"),
        (D + "twin/update", {"event_id": "x"}, 400, "no twin object"),
        (D + "state/update", {"state": 7}, 400, "state must be one of"),
        ("$hw/events/device/default/nope/twin/get", {}, 404, "does not exist"),
    ],
)  # fmt: skip
def test_bad_requests_get_an_error_result_and_store_nothing(
    topic: str, payload: Any, code: int, reason: str
) -> None:
    e, _ = engine_with_counter()
    before = copy.deepcopy(e.records)
    fx = request(e, topic, payload)
    res = published(fx, topic + "/result")
    assert res["code"] == code and reason in res["reason"]
    assert not fx.changed and not fx.report
    assert e.records == before


def test_update_is_all_or_nothing() -> None:
    e, _ = engine_with_counter()
    fx = request(
        e,
        D + "twin/update",
        {"twin": {"status": {"actual": {"value": "1"}}, "temp": {"actual": {"value": "x"}}}},
    )
    assert published(fx, D + "twin/update/result")["code"] == 400
    assert e.records["default/counter"].twins["status"].actual is None


def test_stale_edge_version_is_a_conflict() -> None:
    e, _ = engine_with_counter()
    request(e, D + "twin/update", {"twin": {"status": {"actual": {"value": "1"}}}})
    request(e, D + "twin/update", {"twin": {"status": {"actual": {"value": "2"}}}})
    fx = request(
        e, D + "twin/update", {"twin": {"status": {"actual": {"value": "3"}, "actual_version": {"edge": 1}}}}
    )
    res = published(fx, D + "twin/update/result")
    assert res["code"] == 409 and "older" in res["reason"]


def test_twin_get_and_membership_get() -> None:
    e, _ = engine_with_counter()
    res = published(request(e, D + "twin/get", {"event_id": "g"}), D + "twin/get/result")
    assert res["event_id"] == "g" and res["code"] == 200 and set(res["twin"]) == {"status", "temp"}
    topic = "$hw/events/node/edge-node/membership/get"
    res = published(request(e, topic, {"event_id": "m"}), topic + "/result")
    assert res["event_id"] == "m" and [d["id"] for d in res["devices"]] == ["default/counter"]
    assert request(e, "$hw/events/node/other/membership/get", {}).publishes == []


def test_state_update() -> None:
    e, _ = engine_with_counter()
    fx = request(e, D + "state/update", {"event_id": "s", "state": "online"}, now=NOW)
    res = published(fx, D + "state/update/result")
    assert res["device"] == {"name": "counter", "state": "online", "lastOnlineTime": rfc3339(NOW)}
    assert list(fx.report) == ["default/counter"]
    rec = e.records["default/counter"]
    assert rec.state == "online" and not rec.state_synced


def test_desired_change_from_the_cloud_and_stale_resend() -> None:
    e, _ = engine_with_counter()
    fx = Effects()
    e.device_changed(device("ON", rv=11), NOW, fx)
    assert published(fx, D + "twin/update/delta")["delta"] == {"status": "ON"}
    fx = Effects()
    e.device_changed(device("OFF", rv=9), NOW, fx)  # an older Device overtaken by the newer one
    assert e.records["default/counter"].twins["status"].expected.value == "ON"
    assert D + "twin/update/delta" not in topics_of(fx)


def test_device_deleted_is_announced() -> None:
    e, _ = engine_with_counter()
    fx = Effects()
    e.device_deleted("default/counter", NOW, fx)
    removed = published(fx, "$hw/events/node/edge-node/membership/updated")["removed_devices"]
    assert removed == [{"id": "default/counter", "name": "counter"}]
    assert list(fx.removed) == ["default/counter"] and "default/counter" not in e.records


def test_cloud_report_sends_each_reported_version_once() -> None:
    e, _ = engine_with_counter()
    request(
        e,
        D + "twin/update",
        {"twin": {"status": {"actual": {"value": "5"}}, "temp": {"actual": {"value": "20"}}}},
    )
    request(e, D + "state/update", {"state": "online"})
    out = dict(e.cloud_report("default/counter", NOW))
    twin = out["device/default/counter/twin/edge_updated"]["twin"]
    assert twin["status"]["actual"]["value"] == "5" and twin["temp"]["actual"]["value"] == "20"
    assert out["device/default/counter/state/update"]["device"]["state"] == "online"
    assert e.cloud_report("default/counter", NOW) == []
    assert e.unsynced() == []


def test_report_to_cloud_false_is_kept_local() -> None:
    e = TwinEngine(NODE)
    e.model_changed(MODEL, NOW, Effects())
    dev = device()
    dev["spec"]["properties"].append({"name": "temp", "reportToCloud": False})
    e.device_changed(dev, NOW, Effects())
    request(e, D + "twin/update", {"twin": {"temp": {"actual": {"value": "20"}}}})
    assert e.cloud_report("default/counter", NOW) == []


def test_restore_drops_devices_the_cloud_no_longer_lists_and_reports_unsynced() -> None:
    e, _ = engine_with_counter()
    request(e, D + "twin/update", {"twin": {"status": {"actual": {"value": "7"}}}})
    records = copy.deepcopy(e.records)
    records["default/gone"] = DeviceRecord("default/gone", "gone")
    fresh = TwinEngine(NODE)
    fx = Effects()
    fresh.restore(records, [device()], [MODEL], NOW, fx)
    assert list(fx.removed) == ["default/gone"]
    assert list(fx.report) == ["default/counter"] and fx.publishes == []
    assert fresh.records["default/counter"].twins["status"].actual.value == "7"


def test_model_change_updates_types_and_announces() -> None:
    e, _ = engine_with_counter()
    model = copy.deepcopy(MODEL)
    model["spec"]["properties"][1]["type"] = "FLOAT"
    fx = Effects()
    e.model_changed(model, NOW, fx)
    assert e.records["default/counter"].twins["temp"].type == "float"
    assert D + "updated" in topics_of(fx)


def test_bad_device_spec_names_the_field() -> None:
    dev = device()
    dev["spec"]["properties"] = [{"name": "status", "collectCycle": -1}]
    with pytest.raises(DeviceSpecError, match=r"properties\[0\]\.collectCycle"):
        device_info(dev, MODEL)


def test_topics() -> None:
    assert topics.parse(D + "twin/update") == ("twin/update", "default/counter")
    assert topics.parse(D + "twin/update/result") is None
    assert topics.parse("$hw/events/device/counter/twin/update") is None  # no namespace
    assert topics.parse("$hw/events/node/n1/membership/get") == ("membership/get", "n1")
