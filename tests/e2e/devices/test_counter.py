"""KubeEdge's counter example, end to end, as its docs give it (v1alpha2 YAML), on both brokers:
kubectl apply → the device reaches the edge → the virtual counter mapper reports → `kubectl patch`
desired ON → the reported count increases in the API; OFF → it stops. Then offline: the cloud stops,
the mapper keeps reporting at the edge, and the latest value reaches the API after the cloud returns."""

from __future__ import annotations

import time
import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.devices.conftest import Devices
from tests.e2e.procs import until

pytestmark = [pytest.mark.system, pytest.mark.slow]

COUNTER = """\
apiVersion: devices.kubeedge.io/v1alpha2
kind: DeviceModel
metadata:
  name: counter-model
  namespace: default
spec:
  properties:
  - name: status
    description: counter status
    type:
      string:
        accessMode: ReadWrite
        defaultValue: ''
---
apiVersion: devices.kubeedge.io/v1alpha2
kind: Device
metadata:
  name: counter
  labels:
    description: 'counter'
spec:
  deviceModelRef:
    name: counter-model
  nodeSelector:
    nodeSelectorTerms:
    - matchExpressions:
      - key: 'kubernetes.io/hostname'
        operator: In
        values:
        - %s
status:
  twins:
    - propertyName: status
      desired:
        metadata:
          type: string
        value: 'OFF'
      reported:
        metadata:
          type: string
        value: '0'
"""


def count(d: Devices) -> int:
    value = d.reported("counter", "status")
    return int(value) if value is not None and value.isdigit() else -1


def set_desired(d: Devices, value: str) -> None:
    d.kubectl(
        "patch", "device", "counter", "--type=json",
        "-p", '[{"op":"replace","path":"/spec/properties/0/desired/value","value":"%s"}]' % value,
    )  # fmt: skip


def edge_metrics(d: Devices) -> None:
    """edgecore's /metrics (parsed by prometheus_client) counts the twin and bus traffic; /readyz is ok."""
    cfg = yaml.safe_load((d.edge_dir / "edgecore.yaml").read_text())
    base = "http://%s" % cfg["monitorServer"]["bindAddress"]
    with urllib.request.urlopen(base + "/readyz", timeout=10) as resp:
        assert resp.status == 200
    with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
        families = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    assert families["kedge_edgehub_connected"].samples[0].value == 1
    twin = {s.labels["event"]: s.value for s in families["kedge_devicetwin_events"].samples}
    assert twin["requests"] > 0 and twin["published"] > 0
    bus = {s.labels["event"]: s.value for s in families["kedge_eventbus_messages"].samples}
    assert bus["received"] > 0 and bus["routed_twin"] > 0
    assert families["kedge_devicetwin_updates"].samples[0].value > 0
    commits = {
        (s.name, s.labels["store"]): s.value
        for s in families["kedge_edge_sqlite_commit_seconds"].samples
        if s.name.endswith("_count")
    }
    assert commits[("kedge_edge_sqlite_commit_seconds_count", "meta")] > 0  # the Device, the Node...
    assert commits[("kedge_edge_sqlite_commit_seconds_count", "twin")] > 0
    by_type = {
        (s.labels["direction"], s.labels["type"])
        for s in families["kedge_edgehub_messages_by_type"].samples
        if s.value > 0
    }
    assert ("in", "device") in by_type and ("out", "keepalive") in by_type


def test_counter_example(devices: Devices) -> None:
    d = devices
    d.start_edge()
    d.wait_node_ready()
    d.apply_yaml(COUNTER % d.node)
    v1beta1 = d.get("device", "counter")
    assert v1beta1 is not None and v1beta1["spec"]["nodeName"] == d.node
    d.start_mapper("counter")
    # the mapper reports the count (0 while OFF) and the cloud writes it into the Device status
    until(lambda: count(d) == 0, 60, "reported count 0")
    set_desired(d, "ON")
    first = until(lambda: count(d) if count(d) > 0 else None, 30, "the counter to run")
    until(lambda: count(d) > first, 30, "the reported count to increase")
    # the v1alpha2 view shows the same, in the old layout
    alpha = d.kubectl("get", "devices.v1alpha2.devices.kubeedge.io", "counter", "-o", "json")
    assert '"desired"' in alpha.stdout and '"ON"' in alpha.stdout
    edge_metrics(d)
    set_desired(d, "OFF")
    time.sleep(3)  # the mapper applies OFF, reports, the cloud writes (all well under a second)
    stopped = count(d)
    time.sleep(3)
    assert count(d) == stopped, "the counter kept running after OFF"


def test_counter_offline_reports_reach_the_cloud_after_reconnect(devices: Devices) -> None:
    d = devices
    d.start_edge()
    d.wait_node_ready()
    d.apply_yaml(COUNTER % d.node)
    d.start_mapper("counter")
    until(lambda: count(d) == 0, 60, "reported count 0")
    set_desired(d, "ON")
    until(lambda: count(d) > 0, 30, "the counter to run")
    online = count(d)
    d.stop_cloud()
    time.sleep(4)  # the mapper keeps counting and reporting to the edge, which stores the reports
    at_edge = int(d.edge_twin("default/counter", "status"))
    assert at_edge > online
    d.start_cloud()
    # after reconnect the edge sends what the cloud missed; the latest value wins
    until(lambda: count(d) >= at_edge, 30, "offline reports to reach the API")
