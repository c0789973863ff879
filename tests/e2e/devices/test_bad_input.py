"""Bad input on the device topics of a running edgecore, on both brokers: malformed JSON, an unknown
device, an unknown property, a wrongly typed value → an error result on the `/result` topic and nothing
stored; good input afterwards still works."""

from __future__ import annotations

import asyncio
import json

import pytest

from kedge.transport.mqtt_client import MqttClient
from tests.e2e.devices.conftest import Devices
from tests.e2e.procs import until

pytestmark = [pytest.mark.system, pytest.mark.slow]

THERMO = """\
apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: thermo-model, namespace: default}
spec:
  properties:
  - {name: temperature, type: INT, accessMode: ReadOnly, minimum: "-40", maximum: "125"}
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: thermo, namespace: default}
spec:
  deviceModelRef: {name: thermo-model}
  nodeName: %s
  protocol: {protocolName: virtualProtocol}
  properties:
  - {name: temperature, reportToCloud: true}
"""
D = "$hw/events/device/default/thermo/"


async def exchange(port: int, requests: list[tuple[str, bytes]]) -> list[dict]:
    """Publish each request and collect the result published for it."""
    client = MqttClient("127.0.0.1", port, client_id="bad-input-test")
    await client.connect()
    try:
        await client.subscribe([("$hw/events/device/+/+/twin/update/result", 1)])
        results = []
        for topic, payload in requests:
            await client.publish(topic, payload, qos=1)
            rtopic, body, _ = await asyncio.wait_for(client.get_message(), 10)
            assert rtopic == topic + "/result"
            results.append(json.loads(body))
        return results
    finally:
        await client.close()


def test_bad_twin_updates_get_error_results_and_store_nothing(devices: Devices) -> None:
    d = devices
    d.start_edge()
    d.wait_node_ready()
    d.apply_yaml(THERMO % d.node)
    until(lambda: d.edge_has_device("default/thermo"), 30, "the device at the edge")
    good = json.dumps({"event_id": "ok", "twin": {"temperature": {"actual": {"value": "21"}}}}).encode()
    bad = asyncio.run(
        exchange(
            d.broker.port,
            [
                (D + "twin/update", b'{"event_id": "x", "twin": {'),
                ("$hw/events/device/default/nope/twin/update", good),
                (D + "twin/update", b'{"twin": {"humidity": {"actual": {"value": "1"}}}}'),
                (D + "twin/update", b'{"twin": {"temperature": {"actual": {"value": "warm"}}}}'),
                (D + "twin/update", b'{"twin": {"temperature": {"actual": {"value": 1e999}}}}'),
            ],
        )
    )
    codes = [r.get("code") for r in bad]
    assert codes == [400, 404, 404, 400, 400], bad
    assert "malformed JSON" in bad[0]["reason"]
    assert "default/nope" in bad[1]["reason"]
    assert "humidity" in bad[2]["reason"]
    assert "warm" in bad[3]["reason"]
    assert d.edge_twin("default/thermo", "temperature") is None  # nothing stored
    assert not d.edge_has_device("default/nope")
    [ok] = asyncio.run(exchange(d.broker.port, [(D + "twin/update", good)]))
    assert ok["twin"]["temperature"]["actual"]["value"] == "21"
    assert d.edge_twin("default/thermo", "temperature") == "21"
    until(lambda: d.reported("thermo", "temperature") == "21", 30, "the good value in the API")
