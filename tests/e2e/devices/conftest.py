"""cloudcore (embedded API server) + edgecore (process runtime, EventBus on the embedded broker or on
mosquitto) + mappers, with real kubectl against the cloud."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_binary
from tests.e2e.apiserver.conftest import kubectl_path
from tests.e2e.procs import Proc, cloudcore_config, free_port, kedge, keep_edge_local, start_cloudcore, until

ROOT = Path(__file__).resolve().parents[3]
NODE = "edge-devices"


@dataclass
class Broker:
    mode: str  # "internal" (edgecore's embedded amqtt) or "external" (mosquitto)
    port: int
    base: Path | None = None

    @property
    def url(self) -> str:
        return "tcp://127.0.0.1:%d" % self.port

    def stop(self) -> None:
        if self.base is not None:
            subprocess.run(["bash", str(ROOT / "ci" / "mosquitto.sh"), "stop", str(self.base)], check=False)


@dataclass
class Devices:
    tmp: Path
    procs: list[Proc]
    cloud_config: Path
    cloud_dir: Path
    edge_dir: Path
    broker: Broker
    node: str = NODE
    cloud: Proc | None = None
    edge: Proc | None = None
    mappers: list[Proc] = field(default_factory=list)
    runs: int = 0

    def start_cloud(self) -> None:
        self.runs += 1
        start_cloudcore(
            self.procs, self.cloud_config, self.cloud_dir, self.tmp / ("cloudcore-%d.log" % self.runs)
        )
        self.cloud = self.procs[-1]

    def stop_cloud(self) -> None:
        assert self.cloud is not None
        assert self.cloud.stop() == 0
        self.cloud = None

    def start_edge(self) -> Proc:
        self.runs += 1
        p = Proc(
            self.tmp / ("edgecore-%d.log" % self.runs),
            "-v",
            "edgecore",
            "--config",
            str(self.edge_dir / "edgecore.yaml"),
        )
        self.procs.append(p)
        self.edge = p
        return p

    def start_mapper(self, name: str, *extra: str) -> Proc:
        self.runs += 1
        p = Proc(
            self.tmp / ("mapper-%s-%d.log" % (name, self.runs)),
            "mapper", name, "--node", self.node, "--broker", self.broker.url, *extra,
        )  # fmt: skip
        self.procs.append(p)
        self.mappers.append(p)
        return p

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [kubectl_path(), "--kubeconfig", str(self.cloud_dir / "admin.kubeconfig"),
             "--cache-dir", str(self.tmp / "kube-cache"), *args],
            input=input, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if check:
            assert out.returncode == 0, "kubectl %s: %s" % (" ".join(args), out.stderr)
        return out

    def apply_yaml(self, text: str) -> None:
        self.kubectl("apply", "-f", "-", input=text)

    def get(self, kind: str, name: str, namespace: str = "default") -> dict | None:
        out = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        if out.returncode != 0:
            assert "NotFound" in out.stderr, out.stderr
            return None
        return json.loads(out.stdout)

    def reported(self, device: str, prop: str) -> str | None:
        dev = self.get("device", device) or {}
        for twin in (dev.get("status") or {}).get("twins") or []:
            if twin.get("propertyName") == prop:
                return (twin.get("reported") or {}).get("value")
        return None

    def edge_twin(self, device_id: str, prop: str) -> str | None:
        """The reported value the edge database holds (readable while edgecore runs: WAL)."""
        import apsw

        cfg = yaml.safe_load((self.edge_dir / "edgecore.yaml").read_text())
        conn = apsw.Connection(cfg["database"]["dataSource"], flags=apsw.SQLITE_OPEN_READONLY)
        try:
            rows = conn.execute(
                "SELECT actual FROM device_twin WHERE deviceid = ? AND name = ?", (device_id, prop)
            ).fetchall()
        finally:
            conn.close()
        return rows[0][0] if rows else None

    def edge_has_device(self, device_id: str) -> bool:
        import apsw

        cfg = yaml.safe_load((self.edge_dir / "edgecore.yaml").read_text())
        conn = apsw.Connection(cfg["database"]["dataSource"], flags=apsw.SQLITE_OPEN_READONLY)
        try:
            return bool(conn.execute("SELECT 1 FROM device WHERE id = ?", (device_id,)).fetchall())
        except apsw.SQLError:  # no table yet
            return False
        finally:
            conn.close()

    def wait_node_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            node = self.get("node", self.node, namespace="") or {}
            conds = (node.get("status") or {}).get("conditions") or []
            return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)

        until(ready, timeout, "node %s Ready" % self.node)


def _edge_config(path: Path, tmp: Path, broker: Broker, servicebus_port: int | None = None) -> None:
    keep_edge_local(path, tmp)
    cfg = yaml.safe_load(path.read_text())
    bus = cfg["modules"]["eventBus"]
    bus["enable"] = True
    if broker.mode == "internal":
        bus["mqttMode"] = 0
        bus["mqttServerInternal"] = broker.url
    else:
        bus["mqttMode"] = 2
        bus["mqttServerExternal"] = broker.url
    cfg["modules"]["deviceTwin"]["enable"] = True
    if servicebus_port is not None:
        cfg["modules"]["serviceBus"].update(enable=True, server="127.0.0.1", port=servicebus_port)
    path.write_text(yaml.safe_dump(cfg))


@contextlib.contextmanager
def edge_and_cloud(
    kind: str,
    tmp_path: Path,
    procs: list[Proc],
    *,
    router_port: int | None = None,
    servicebus_port: int | None = None,
) -> Iterator[Devices]:
    """cloudcore (the router on `router_port` when given) and a joined edge (not started) on broker `kind`
    ("internal": edgecore's embedded broker, "external": mosquitto)."""
    require_binary("kubectl")
    if kind == "external":
        require_binary("mosquitto")
        port = free_port()
        base = tmp_path / "mosquitto"
        out = subprocess.run(
            ["bash", str(ROOT / "ci" / "mosquitto.sh"), "start", str(base), str(port)],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        broker = Broker("external", port, base)
    else:
        broker = Broker("internal", free_port())
    cloud_dir = tmp_path / "cloud"
    config = tmp_path / "cloudcore.yaml"
    cfg = cloudcore_config(config, cloud_dir)
    if router_port is not None:
        cfg["modules"]["router"].update(enable=True, address="127.0.0.1", port=router_port)
        config.write_text(yaml.safe_dump(cfg))
    d = Devices(tmp_path, procs, config, cloud_dir, tmp_path / "edge", broker)
    try:
        d.start_cloud()
        ready = json.loads((cloud_dir / "cloudcore.ready.json").read_text())
        token = kedge("gettoken", "--data-dir", str(cloud_dir))
        assert token.returncode == 0, token.stderr
        joined = kedge(
            "join", "--cloudcore-ipport", "127.0.0.1:%d" % ready["ports"]["websocket"],
            "--certport", str(ready["ports"]["https"]), "--token", token.stdout.strip(),
            "--edgenode-name", d.node, "--runtime", "process", "--data-dir", str(d.edge_dir),
        )  # fmt: skip
        assert joined.returncode == 0, joined.stderr
        _edge_config(d.edge_dir / "edgecore.yaml", tmp_path, broker, servicebus_port)
        yield d
    finally:
        for p in reversed(procs):
            if p.popen.poll() is None:
                p.stop(timeout=30)
        broker.stop()


@pytest.fixture(params=["internal", "external"])
def devices(request: pytest.FixtureRequest, tmp_path: Path, procs: list[Proc]) -> Iterator[Devices]:
    with edge_and_cloud(request.param, tmp_path, procs) as d:
        yield d
