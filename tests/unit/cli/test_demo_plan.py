"""The demo's plan: cloud config, objects, readiness and the status view, without processes."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from kedge import config
from kedge.cli.demo import plan
from kedge.model import rules

CHOSEN = {
    "websocket": 20000,
    "quic": 20001,
    "https": 20002,
    "apiserver": 26443,
    "monitor": 29091,
    "router": 29443,
}


def test_cloud_config_loads_and_uses_the_chosen_ports(tmp_path: Path) -> None:
    default = yaml.safe_load(config.dump_yaml(config.default_cloudcore()))
    path = tmp_path / "cloudcore.yaml"
    path.write_text(yaml.safe_dump(plan.cloud_config(default, str(tmp_path / "cloud"), CHOSEN)))
    cfg, warnings = config.load_cloudcore(str(path))
    assert warnings == []
    hub = cfg.modules.cloud_hub
    assert (hub.websocket.port, hub.quic.port, hub.https.port) == (20000, 20001, 20002)
    assert hub.quic.enable and not hub.unixsocket.enable
    assert cfg.modules.router.enable and cfg.modules.router.port == 29443
    assert cfg.common_config.monitor_server.bind_address == "127.0.0.1:29091"
    assert cfg.data_dir == str(tmp_path / "cloud")


def test_rule_objects_pass_kedges_rule_validation() -> None:
    objs = plan.rule_objects()
    endpoints = {o["metadata"]["name"]: o for plural, o in objs if plural == "ruleendpoints"}
    for name, ep in endpoints.items():
        assert rules.endpoint_problems(ep) == [], name
    (rule,) = [o for plural, o in objs if plural == "rules"]
    assert rules.rule_problems(rule, lambda ns, name: endpoints.get(name)) == []


def test_one_pod_per_node_pinned_by_hostname() -> None:
    names = plan.node_names(2)
    assert names == ["kedge-edge-1", "kedge-edge-2"]
    pods = [plan.pod(n) for n in names]
    assert [p["metadata"]["name"] for p in pods] == ["hello-edge-1", "hello-edge-2"]
    assert pods[1]["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "kedge-edge-2"}
    assert plan.device("kedge-edge-1")["spec"]["nodeName"] == "kedge-edge-1"


def _snap(**kw: object) -> plan.Snapshot:
    nodes = [
        plan.NodeView("kedge-edge-1", True, {"hello-edge-1": "Running"}),
        plan.NodeView("kedge-edge-2", True, {"hello-edge-2": "Running"}),
    ]
    base = dict(nodes=nodes, desired="ON", reported="3", round_trip_ms=2.5)
    base.update(kw)
    return plan.Snapshot(**base)  # type: ignore[arg-type]


def test_ready_needs_every_part() -> None:
    assert _snap().ready()
    assert not _snap(reported="0").ready()
    assert not _snap(reported=None).ready()
    assert not _snap(round_trip_ms=None).ready()
    s = _snap()
    s.nodes[1].pods["hello-edge-2"] = "ContainerCreating"
    s.nodes[0].ready = False
    assert not s.ready()
    assert s.waiting_for() == "kedge-edge-1 Ready, hello-edge-2 Running"
    s = _snap(reported="", round_trip_ms=None)
    s.nodes[0].pods.clear()
    assert s.waiting_for() == "a pod on kedge-edge-1, the counter's first report, a router round trip"


def test_status_lines() -> None:
    lines = plan.status_lines(_snap(), "kedge-edge-1", "http://127.0.0.1:9443/kedge-edge-1/default/demo")
    assert lines[0].split() == ["NODE", "STATUS", "PODS"]
    assert lines[1].split() == ["kedge-edge-1", "Ready", "hello-edge-1", "Running"]
    assert "desired ON, reported count 3" in lines[3]
    assert lines[4].endswith("on kedge-edge-1: 2.5 ms")


def test_try_commands_are_shell_words() -> None:
    cmds = plan.try_commands(
        "/x y/kubectl", "/k/admin.kubeconfig", "http://h:1/n/default/demo", "/e/edgecore.yaml", "kedge"
    )
    assert all(shlex.split(c) for c in cmds)
    assert shlex.split(cmds[0])[:3] == ["/x y/kubectl", "--kubeconfig", "/k/admin.kubeconfig"]
