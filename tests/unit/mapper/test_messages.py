"""Device entries and MQTT payloads from the mapper's side, checked against what the edge's DeviceTwin
(its entry builder and engine) actually produces and accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kedge.edge.devicetwin.engine import Effects, TwinEngine
from kedge.edge.devicetwin.entries import device_info, entry
from kedge.edge.devicetwin.twins import Twin, Value
from kedge.mapper import messages
from kedge.mapper.entries import DeviceEntry, EntryError, PropertyEntry, decode_entry
from kedge.mapper.messages import PayloadError

NODE = "n1"
NOW = 1_795_000_000_000
MODEL = {
    "metadata": {"name": "plc-model", "namespace": "ns"},
    "spec": {
        "properties": [
            {"name": "temp", "type": "FLOAT", "accessMode": "ReadOnly", "minimum": "-40", "unit": "C"},
            {"name": "setpoint", "type": "INT", "accessMode": "ReadWrite"},
        ]
    },
}
VISITOR = {"protocolName": "modbus", "configData": {"register": "HoldingRegister", "offset": 2}}
DEVICE = {
    "metadata": {"name": "plc", "namespace": "ns", "resourceVersion": "7"},
    "spec": {
        "deviceModelRef": {"name": "plc-model"},
        "nodeName": NODE,
        "protocol": {"protocolName": "modbus", "configData": {"ip": "10.0.0.5", "port": 502}},
        "properties": [
            {
                "name": "setpoint",
                "desired": {"value": "42"},
                "visitors": VISITOR,
                "collectCycle": 250_000_000,
            },
            {"name": "temp", "reportCycle": 3_000_000_000},
        ],
    },
}


def edge_entry() -> dict[str, Any]:
    """The entry the edge publishes for DEVICE (through JSON, as on the wire)."""
    info = device_info(DEVICE, MODEL)
    twins = {"setpoint": Twin(type="int", expected=Value("42", NOW)), "temp": Twin(type="float")}
    return json.loads(json.dumps(entry(info, twins, "online", "")))


def test_entry_from_the_edge() -> None:
    e = decode_entry(edge_entry())
    assert (e.id, e.namespace, e.name, e.protocol_name) == ("ns/plc", "ns", "plc", "modbus")
    assert e.config_data == {"ip": "10.0.0.5", "port": 502}
    temp, sp = e.prop("temp"), e.prop("setpoint")
    assert temp is not None and sp is not None and e.prop("nope") is None
    assert (temp.type, temp.writable, temp.collect_cycle, temp.report_cycle, temp.unit) == (
        "float",
        False,
        1.0,
        3.0,
        "C",
    )
    assert (sp.type, sp.writable, sp.collect_cycle, sp.visitor_config) == (
        "int",
        True,
        0.25,
        VISITOR["configData"],
    )
    assert e.desired == {"setpoint": "42"}


def test_entry_equality_ignores_live_values() -> None:
    a = decode_entry(edge_entry())
    changed = edge_entry()
    changed["twins"]["setpoint"]["expected"]["value"] = "43"
    changed["state"] = "offline"
    b = decode_entry(changed)
    assert a == b and b.desired == {"setpoint": "43"}
    setpoint = next(p for p in changed["properties"] if p["name"] == "setpoint")
    setpoint["visitors"]["configData"]["offset"] = 3
    assert decode_entry(changed) != a


def test_kubeedge_entry_without_properties() -> None:
    """KubeEdge's own entries carry only twins: the properties come from them, read-write, typed."""
    e = decode_entry(
        {
            "id": "counter",
            "name": "counter",
            "twins": {"status": {"expected": {"value": "ON"}, "metadata": {"type": "string"}}, "t": {}},
        }
    )
    assert e.id == "default/counter" and e.protocol_name == ""
    assert [(p.name, p.type, p.writable) for p in e.properties] == [
        ("status", "string", True),
        ("t", "string", True),
    ]
    assert e.desired == {"status": "ON"}


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("x", "must be an object"),
        ({}, "without a usable id or name"),
        ({"id": "a/b/c"}, "without a usable id or name"),
        ({"id": "ns/d", "properties": {}}, "device ns/d: properties must be a list"),
        ({"id": "ns/d", "properties": [{"type": "int"}]}, "device ns/d properties[0].name must be"),
        ({"id": "ns/d", "properties": [{"name": "a"}, {"name": "a"}]}, "property a is listed twice"),
        ({"id": "ns/d", "properties": [{"name": "a", "collectCycle": -1}]}, "properties[0].collectCycle"),
        ({"id": "ns/d", "properties": [{"name": "a", "reportCycle": "1s"}]}, "properties[0].reportCycle"),
        ({"id": "ns/d", "protocol": "modbus"}, "device ns/d protocol must be an object"),
        ({"id": "ns/d", "protocol": {"configData": [1]}}, "protocol.configData must be an object"),
        ({"id": "ns/d", "properties": [{"name": "a", "visitors": 3}]}, "properties[0].visitors"),
    ],
)
def test_bad_entries(raw: Any, needle: str) -> None:
    with pytest.raises(EntryError) as e:
        decode_entry(raw)
    assert needle in str(e.value)


def test_topics() -> None:
    assert messages.parse_topic("$hw/events/node/n1/membership/get/result", NODE) == (
        "membership/get/result",
        "n1",
    )
    assert messages.parse_topic("$hw/events/node/n1/membership/updated", NODE) == ("membership/updated", "n1")
    assert messages.parse_topic("$hw/events/node/n2/membership/updated", NODE) is None  # another node's
    assert messages.parse_topic("$hw/events/node/n1/membership/get", NODE) is None  # our own request
    assert messages.parse_topic("$hw/events/device/ns/d/twin/update/delta", NODE) == (
        "twin/update/delta",
        "ns/d",
    )
    assert messages.parse_topic("$hw/events/device/ns/d/twin/get/result", NODE) == ("twin/get/result", "ns/d")
    assert messages.parse_topic("$hw/events/device/ns/d/updated", NODE) == ("updated", "ns/d")
    for t in ("$hw/events/device/ns/d/twin/update", "$hw/events/device/d/updated", "$hw/x", "other/topic"):
        assert messages.parse_topic(t, NODE) is None, t
    subs = dict(messages.subscriptions(NODE))
    assert subs["$hw/events/device/+/+/twin/update/delta"] == 1 and len(subs) == 5
    assert messages.device_topic("ns/d", "state/update") == "$hw/events/device/ns/d/state/update"


def engine() -> tuple[TwinEngine, Effects]:
    e, fx = TwinEngine(NODE), Effects()
    e.model_changed({**MODEL, "metadata": {"name": "plc-model", "namespace": "ns"}}, NOW, fx)
    e.device_changed(DEVICE, NOW, fx)
    return e, fx


def published(fx: Effects, suffix: str) -> list[bytes]:
    return [json.dumps(body).encode() for t, body in fx.publishes if t.endswith(suffix)]


def test_the_edges_messages_decode() -> None:
    e, fx = engine()
    [added] = published(fx, "membership/updated")
    m = messages.membership_updated(messages.decode(added))
    assert [d.id for d in m.devices] == ["ns/plc"] and m.removed == [] and m.errors == []
    [delta] = published(fx, "twin/update/delta")
    assert messages.delta_values(messages.decode(delta)) == {"setpoint": "42"}

    fx = Effects()
    e.request("$hw/events/node/n1/membership/get", messages.request("ev1", NOW), NOW, fx)
    [result] = published(fx, "membership/get/result")
    body = messages.decode(result)
    assert messages.event_id_of(body) == "ev1" and messages.result_error(body) is None
    m = messages.membership_result(body)
    assert m.devices == [decode_entry(edge_entry())] and m.devices[0].desired == {"setpoint": "42"}

    fx = Effects()
    e.request("$hw/events/device/ns/plc/twin/get", messages.request("ev2", NOW), NOW, fx)
    [got] = published(fx, "twin/get/result")
    body = messages.decode(got)
    assert messages.event_id_of(body) == "ev2" and messages.get_result_desired(body) == {"setpoint": "42"}

    fx = Effects()
    e.request("$hw/events/device/ns/nope/twin/get", messages.request("ev3", NOW), NOW, fx)
    body = messages.decode(published(fx, "twin/get/result")[0])
    assert "404" in (messages.result_error(body) or "") and "ns/nope" in (messages.result_error(body) or "")

    fx = Effects()
    e.device_deleted("ns/plc", NOW, fx)
    m = messages.membership_updated(messages.decode(published(fx, "membership/updated")[0]))
    assert m.devices == [] and m.removed == ["ns/plc"]


def test_the_edge_accepts_the_mappers_reports() -> None:
    e, _ = engine()
    fx = Effects()
    payload = messages.twin_update({"setpoint": ("17", "int"), "temp": ("21.5", "float")}, NOW, "ev")
    e.request("$hw/events/device/ns/plc/twin/update", payload, NOW, fx)
    result = next(b for t, b in fx.publishes if t.endswith("twin/update/result"))
    assert "code" not in result and result["event_id"] == "ev"
    assert e.records["ns/plc"].twins["temp"].actual.value == "21.5"
    fx = Effects()
    e.request("$hw/events/device/ns/plc/state/update", messages.state_update("unhealthy", NOW), NOW, fx)
    result = next(b for t, b in fx.publishes if t.endswith("state/update/result"))
    assert result["device"]["state"] == "unhealthy"
    assert json.loads(messages.request("x", NOW)) == {"event_id": "x", "timestamp": NOW}


def test_bad_payloads() -> None:
    with pytest.raises(PayloadError, match="malformed JSON"):
        messages.decode(b"{nope")
    with pytest.raises(PayloadError, match="malformed JSON"):
        messages.decode(b"\xff\xfe")
    with pytest.raises(PayloadError, match="expected a JSON object, got list"):
        messages.decode(b"[1]")
    assert messages.result_error({"code": 400, "reason": "bad"}) == "the edge answered 400: bad"
    assert messages.result_error({"code": 200}) is None
    with pytest.raises(PayloadError, match="without devices"):
        messages.membership_result({"event_id": "x"})
    with pytest.raises(PayloadError, match="delta without a delta object"):
        messages.delta_values({"twin": {}})
    with pytest.raises(PayloadError, match="without a twin object"):
        messages.get_result_desired({"code": 200})
    with pytest.raises(PayloadError, match="must be an object"):
        messages.updated_device({"device": None})
    # one bad entry does not hide the good ones
    m = messages.membership_result({"devices": [{"id": "ns/a"}, {"name": ""}, 5]})
    assert [d.id for d in m.devices] == ["ns/a"] and len(m.errors) == 2
    m = messages.membership_updated({"added_devices": "x", "removed_devices": [{"id": "ns/b"}, {"x": 1}]})
    assert m.removed == ["ns/b"] and len(m.errors) == 2
    assert messages.delta_values({"delta": {"a": 5, "b": True, "c": None, "d": "x"}}) == {
        "a": "5",
        "b": "true",
        "d": "x",
    }


def test_entry_types() -> None:
    assert DeviceEntry("a/b", "b", "a").properties == ()
    assert PropertyEntry("p", access_mode="ReadOnly").writable is False
    assert PropertyEntry("p", visitors={"configData": "x"}).visitor_config == {}
