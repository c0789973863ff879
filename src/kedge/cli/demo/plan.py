"""What the demo starts and applies, and how its status view reads: pure functions of names and ports, so
the layout is tested without processes."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from kedge.cli import ports

NAMESPACE = "default"
TOPIC = "demo"
RULE_PATH = "/demo"
DEVICE = "counter"
MODEL = "counter-model"
IMAGE = "docker.io/library/busybox:1.36"

# cloudcore's listeners with KubeEdge's defaults (commonConfig.monitorServer, embeddedAPIServer, router)
CLOUD_WANTS = (
    ports.Want("websocket", "127.0.0.1", 10000),
    ports.Want("quic", "127.0.0.1", 10001, udp=True),
    ports.Want("https", "127.0.0.1", 10002),
    ports.Want("apiserver", "127.0.0.1", 6443),
    ports.Want("monitor", "127.0.0.1", 9091),
    ports.Want("router", "127.0.0.1", 9443),
)


def node_names(count: int) -> list[str]:
    return ["kedge-edge-%d" % (i + 1) for i in range(count)]


def cloud_config(default: dict[str, Any], data_dir: str, chosen: dict[str, int]) -> dict[str, Any]:
    """cloudcore.yaml for the demo: the defaults, on loopback, with the router on and the state in
    `data_dir`. The unix socket lane is off: its default path is under /var/lib/kubeedge."""
    cfg = default
    cfg["dataDir"] = data_dir
    cfg["commonConfig"]["monitorServer"]["bindAddress"] = "127.0.0.1:%d" % chosen["monitor"]
    cfg["embeddedAPIServer"].update(address="127.0.0.1", port=chosen["apiserver"])
    mods = cfg["modules"]
    hub = mods["cloudHub"]
    for lane in ("websocket", "quic", "https"):
        hub[lane].update(enable=True, address="127.0.0.1", port=chosen[lane])
    hub["unixsocket"]["enable"] = False
    hub["advertiseAddress"] = ["127.0.0.1"]
    mods["router"].update(enable=True, address="127.0.0.1", port=chosen["router"])
    return cfg


def pod(node: str) -> dict[str, Any]:
    """One small pod per node. Its image matters on containerd only; the process runtime runs the command."""
    name = "hello-" + node.removeprefix("kedge-")
    script = 'i=0; while true; i=$((i+1)); do echo "hello $i from %s"; sleep 5; done' % node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "kedge-demo"}},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "tolerations": [{"key": "node-role.kubernetes.io/edge", "operator": "Exists"}],
            "containers": [
                {
                    "name": "hello",
                    "image": IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", script],
                }
            ],
        },
    }


def device_model() -> dict[str, Any]:
    """KubeEdge's counter example model (v1beta1)."""
    return {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "DeviceModel",
        "metadata": {"name": MODEL, "namespace": NAMESPACE},
        "spec": {
            "protocol": "virtualProtocol",
            "properties": [
                {
                    "name": "status",
                    "type": "STRING",
                    "accessMode": "ReadWrite",
                    "description": "counter status",
                }
            ],
        },
    }


def device(node: str, desired: str = "ON") -> dict[str, Any]:
    return {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "Device",
        "metadata": {"name": DEVICE, "namespace": NAMESPACE, "labels": {"app": "kedge-demo"}},
        "spec": {
            "deviceModelRef": {"name": MODEL},
            "nodeName": node,
            "protocol": {"protocolName": "virtualProtocol"},
            "properties": [{"name": "status", "desired": {"value": desired}}],
        },
    }


def rule_objects() -> list[tuple[str, dict[str, Any]]]:
    """(plural, object): KubeEdge's rest→eventbus walkthrough, on path /demo and topic demo."""

    def endpoint(name: str, kind: str) -> dict[str, Any]:
        return {
            "apiVersion": "rules.kubeedge.io/v1",
            "kind": "RuleEndpoint",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"ruleEndpointType": kind, "properties": {}},
        }

    rule = {
        "apiVersion": "rules.kubeedge.io/v1",
        "kind": "Rule",
        "metadata": {"name": "demo-rest-to-eventbus", "namespace": NAMESPACE},
        "spec": {
            "source": "demo-rest",
            "sourceResource": {"path": RULE_PATH},
            "target": "demo-eventbus",
            "targetResource": {"topic": TOPIC},
        },
    }
    return [
        ("ruleendpoints", endpoint("demo-rest", "rest")),
        ("ruleendpoints", endpoint("demo-eventbus", "eventbus")),
        ("rules", rule),
    ]


@dataclass
class NodeView:
    name: str
    ready: bool = False
    pods: dict[str, str] = field(default_factory=dict)  # name → phase


@dataclass
class Snapshot:
    nodes: list[NodeView]
    desired: str | None = None
    reported: str | None = None
    round_trip_ms: float | None = None

    def ready(self) -> bool:
        return (
            all(n.ready and n.pods and all(p == "Running" for p in n.pods.values()) for n in self.nodes)
            and (self.reported or "").isdigit()
            and int(self.reported or 0) > 0
            and self.round_trip_ms is not None
        )

    def waiting_for(self) -> str:
        """What is not there yet, for the progress line."""
        out = []
        for n in self.nodes:
            if not n.ready:
                out.append("%s Ready" % n.name)
            out += ["%s Running" % p for p, phase in n.pods.items() if phase != "Running"]
            if not n.pods:
                out.append("a pod on %s" % n.name)
        if not (self.reported or "").isdigit() or int(self.reported or 0) <= 0:
            out.append("the counter's first report")
        if self.round_trip_ms is None:
            out.append("a router round trip")
        return ", ".join(out)


def status_lines(s: Snapshot, node_with_device: str, router_url: str) -> list[str]:
    width = max(len(n.name) for n in s.nodes)
    lines = ["  %-*s  %-8s  %s" % (width, "NODE", "STATUS", "PODS")]
    for n in s.nodes:
        pods = ", ".join("%s %s" % (p, phase) for p, phase in sorted(n.pods.items())) or "-"
        lines.append("  %-*s  %-8s  %s" % (width, n.name, "Ready" if n.ready else "NotReady", pods))
    lines.append(
        "  device %s/%s on %s: desired %s, reported count %s"
        % (NAMESPACE, DEVICE, node_with_device, s.desired or "-", s.reported or "-")
    )
    rt = "%.1f ms" % s.round_trip_ms if s.round_trip_ms is not None else "-"
    lines.append("  router: POST %s → MQTT topic %r on %s: %s" % (router_url, TOPIC, node_with_device, rt))
    return lines


def try_commands(kubectl: str, kubeconfig: str, router_url: str, edge_config: str, kedge: str) -> list[str]:
    """The commands the demo suggests. Each one works against the running demo (the tests run them)."""
    k = "%s --kubeconfig %s" % (shlex.quote(kubectl), shlex.quote(kubeconfig))
    patch = '{"spec":{"properties":[{"name":"status","desired":{"value":"OFF"}}]}}'
    return [
        "%s get nodes -o wide" % k,
        "%s get pods -o wide" % k,
        "%s get device %s -o jsonpath='{.status.twins[0].reported.value}'" % (k, DEVICE),
        "%s patch device %s --type=merge -p '%s'" % (k, DEVICE, patch),
        "%s get rules,ruleendpoints" % k,
        'curl -s -X POST -d \'{"hello":"edge"}\' %s' % router_url,
        "%s ctl get pods --config %s" % (kedge, shlex.quote(edge_config)),
    ]
