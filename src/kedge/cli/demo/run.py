"""Runs the demo: real cloudcore, edgecore and mapper processes, joined with real tokens, driven through
the real API; a live status view until Ctrl-C (or until ready, with --exit-after-ready).

Each child runs in a session of its own, so Ctrl-C reaches the demo only and the demo stops them in order:
mapper, edges, then the cloud. A step that fails names itself and its log file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kedge.cli import ports
from kedge.cli.demo import plan

MARKER = ".kedge-demo"
STOP_TIMEOUT = 20.0


class Interrupted(Exception):
    """Ctrl-C or SIGTERM while a step waits."""


class StepFailed(Exception):
    def __init__(self, step: str, detail: str, log: Path | None) -> None:
        super().__init__(detail)
        self.step, self.detail, self.log = step, detail, log


@dataclass
class Child:
    name: str
    log: Path
    popen: subprocess.Popen

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Edge:
    name: str
    dir: Path
    broker: tuple[str, int] = ("127.0.0.1", 1884)

    @property
    def config(self) -> Path:
        return self.dir / "edgecore.yaml"


@dataclass
class Demo:
    data_dir: Path
    nodes: int
    runtime: str
    out: Any = sys.stdout
    children: list[Child] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    cloud_ports: dict[str, int] = field(default_factory=dict)
    kubeconfig: str = ""
    step_log: Path | None = None

    # -- output --

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    @contextlib.asynccontextmanager
    async def step(self, name: str, log: Path | None = None) -> AsyncIterator[None]:
        self.step_log = log
        t0 = time.monotonic()
        self.say("  … %s" % name)
        try:
            yield
        except (StepFailed, Interrupted):
            raise
        except Exception as e:  # any failure of a step is reported as that step's
            raise StepFailed(name, "%s: %s" % (type(e).__name__, e), log) from e
        self.say("  ✓ %s (%.1f s)" % (name, time.monotonic() - t0))

    # -- processes --

    def spawn(self, name: str, log: Path, *args: str) -> Child:
        with open(log, "ab") as f:
            popen = subprocess.Popen(
                [sys.executable, "-m", "kedge", *args],
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        child = Child(name, log, popen)
        self.children.append(child)
        return child

    async def kedge(self, step: str, log: Path, *args: str) -> str:
        """Run a short `kedge` command; its output goes to `log`; a failure names its error line."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kedge", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        with open(log, "ab") as f:
            f.write(b"$ kedge %s\n%s%s" % (" ".join(args).encode(), out, err))
        if proc.returncode:
            raise StepFailed(step, (err or out).decode(errors="replace").strip().splitlines()[-1], log)
        return out.decode()

    async def stop_all(self) -> None:
        """SIGTERM in reverse start order, by tiers (the mapper, the edges, the cloud); SIGKILL after
        STOP_TIMEOUT. kedge's processes stop cleanly on SIGTERM."""
        tiers: list[list[Child]] = []
        for c in reversed(self.children):
            tier = c.name.split(" ", 1)[0]
            if tiers and tiers[-1][0].name.split(" ", 1)[0] == tier:
                tiers[-1].append(c)
            else:
                tiers.append([c])
        for tier in tiers:
            live = [c for c in tier if c.popen.poll() is None]
            for c in live:
                with contextlib.suppress(ProcessLookupError):
                    c.popen.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while any(c.popen.poll() is None for c in live) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            for c in live:
                if c.popen.poll() is None:
                    self.say("  %s did not stop within %g s; killed" % (c.name, STOP_TIMEOUT))
                    c.popen.kill()
                    c.popen.wait()

    def check_alive(self) -> None:
        for c in self.children:
            if c.popen.poll() is not None:
                raise StepFailed(
                    "running %s" % c.name, "%s exited with %s" % (c.name, c.popen.returncode), c.log
                )

    async def wait(self, what: str, probe: Any, timeout: float, interval: float = 0.2) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = await probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError("no %s within %g s" % (what, timeout))
            await asyncio.sleep(interval)


# -- the steps ---------------------------------------------------------------------------------------


def prepare_dir(data_dir: Path) -> None:
    """A fresh demo directory each run; an existing directory is only emptied when a demo made it."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise StepFailed(
                "preparing %s" % data_dir,
                "%s exists and was not made by kedge demo; pass another --data-dir" % data_dir,
                None,
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by kedge demo; emptied by the next run\n")


async def start_cloud(d: Demo) -> None:
    from kedge import config

    cloud_dir = d.data_dir / "cloud"
    cloud_dir.mkdir()
    log = d.data_dir / "cloudcore.log"
    async with d.step("starting cloudcore: embedded API server, CloudHub, router", log):
        d.cloud_ports = ports.choose(plan.CLOUD_WANTS, ports.bindable)
        default = yaml.safe_load(config.dump_yaml(config.default_cloudcore()))
        cfg = plan.cloud_config(default, str(cloud_dir), d.cloud_ports)
        path = d.data_dir / "cloudcore.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        d.spawn("cloudcore", log, "-v", "cloudcore", "--config", str(path))
        ready_file = cloud_dir / "cloudcore.ready.json"

        async def ready() -> dict[str, Any] | None:
            return json.loads(ready_file.read_text()) if ready_file.exists() else None

        info = await d.wait("cloudcore.ready.json", ready, 90)
        d.kubeconfig = info["kubeconfig"]


async def join_and_start_edges(d: Demo) -> None:
    cloud_dir = d.data_dir / "cloud"
    log = d.data_dir / "join.log"
    async with d.step("getting a join token (kedge gettoken)", log):
        token = (await d.kedge("getting a join token", log, "gettoken", "--data-dir", str(cloud_dir))).strip()
    for name in plan.node_names(d.nodes):
        edge = Edge(name, d.data_dir / name)
        async with d.step(
            "joining %s (kedge join) and starting its edgecore" % name, edge.dir / "edgecore.log"
        ):
            edge.dir.mkdir()
            # One edge at a time: the previous edgecore holds its ports, so kedge join picks free ones.
            await d.kedge(
                "joining %s" % name, log, "join",
                "--cloudcore-ipport", "127.0.0.1:%d" % d.cloud_ports["websocket"],
                "--certport", str(d.cloud_ports["https"]), "--quicport", str(d.cloud_ports["quic"]),
                "--token", token, "--edgenode-name", name, "--data-dir", str(edge.dir),
                "--runtime", d.runtime, "--mqtt-mode", "0",
            )  # fmt: skip
            cfg = yaml.safe_load(edge.config.read_text())
            edge.broker = ports.split_hostport(cfg["modules"]["eventBus"]["mqttServerInternal"])
            monitor = cfg["monitorServer"]["bindAddress"]
            d.spawn(
                "edgecore %s" % name,
                edge.dir / "edgecore.log",
                "-v",
                "edgecore",
                "--config",
                str(edge.config),
            )

            async def edge_ready(monitor: str = monitor) -> bool:
                return await asyncio.to_thread(_http_ok, "http://%s/readyz" % monitor)

            await d.wait("/readyz from %s's edgecore" % name, edge_ready, 60)
        d.edges.append(edge)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


async def apply_objects(d: Demo, api: Any) -> None:
    from kubernetes_asyncio import client

    async with d.step("applying a pod per node, the counter device and a rest→eventbus rule"):
        core = client.CoreV1Api(api)
        crd = client.CustomObjectsApi(api)
        for edge in d.edges:
            await core.create_namespaced_pod(plan.NAMESPACE, plan.pod(edge.name))
        await crd.create_namespaced_custom_object(
            "devices.kubeedge.io", "v1beta1", plan.NAMESPACE, "devicemodels", plan.device_model()
        )
        await crd.create_namespaced_custom_object(
            "devices.kubeedge.io", "v1beta1", plan.NAMESPACE, "devices", plan.device(d.edges[0].name)
        )
        for plural, obj in plan.rule_objects():
            await crd.create_namespaced_custom_object("rules.kubeedge.io", "v1", plan.NAMESPACE, plural, obj)


async def choose_runtime(d: Demo) -> None:
    """auto: containerd when its socket answers and the demo image is there or can be pulled; otherwise
    the process runtime, which needs neither."""
    if d.runtime != "auto":
        return
    from kedge import config

    endpoint = config.default_edgecore().modules.edged.tailored_kubelet_config.container_runtime_endpoint
    sock = endpoint.removeprefix("unix://")
    reason = "no containerd socket at %s" % sock
    if Path(sock).exists():
        try:
            from kedge.edge.edged.runtime.cri import CRIClient

            async with CRIClient(sock) as cri:
                if await cri.image_status(plan.IMAGE) is None:
                    await asyncio.wait_for(cri.pull_image(plan.IMAGE), 60)
            d.runtime = "cri"
            d.say("  containerd at %s: pods run in containers (%s)" % (sock, plan.IMAGE))
            return
        except Exception as e:  # a containerd that cannot serve the demo is a reason, not an error
            reason = "containerd at %s cannot run %s (%s)" % (sock, plan.IMAGE, e)
    d.runtime = "process"
    d.say("  %s: pods run as host processes (process runtime)" % reason)


def start_mapper(d: Demo) -> None:
    edge = d.edges[0]
    host, port = edge.broker
    d.spawn(
        "mapper counter",
        d.data_dir / "mapper.log",
        "-v", "mapper", "counter", "--node", edge.name, "--broker", "tcp://%s:%d" % (host, port),
    )  # fmt: skip


class RoundTrip:
    """POST to the router and time the message's arrival on the edge's broker, subscribed with kedge's
    own MQTT client (a user would use mosquitto_sub)."""

    def __init__(self, d: Demo) -> None:
        self.d = d
        self.url = "http://127.0.0.1:%d/%s/%s%s" % (
            d.cloud_ports["router"],
            d.edges[0].name,
            plan.NAMESPACE,
            plan.RULE_PATH,
        )
        self.client: Any = None

    async def once(self) -> float | None:
        from kedge.transport.mqtt_client import MqttClient, MqttError

        if self.client is None or not self.client.connected:
            host, port = self.d.edges[0].broker
            self.client = MqttClient(host, port, client_id="kedge-demo-%d" % os.getpid())
            try:
                await self.client.connect()
                await self.client.subscribe([(plan.TOPIC, 0)])
            except (OSError, MqttError):
                self.client = None
                return None
        body = b'{"from":"kedge demo"}'
        t0 = time.perf_counter()
        status = await asyncio.to_thread(_post, self.url, body)
        if status != 200:
            return None  # 404 until the router has the rule, 503 until the node is connected
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while True:
                    topic, payload, _ = await self.client.get_message()
                    if topic == plan.TOPIC and payload == body:
                        return (time.perf_counter() - t0) * 1000
        return None

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()


def _post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


async def snapshot(d: Demo, api: Any, rt: RoundTrip, last: plan.Snapshot | None) -> plan.Snapshot:
    from kubernetes_asyncio import client

    core = client.CoreV1Api(api)
    nodes = {n.name: plan.NodeView(n.name) for n in d.edges}
    for n in (await core.list_node()).items:
        if n.metadata.name in nodes:
            conds = {c.type: c.status for c in (n.status.conditions or [])}
            nodes[n.metadata.name].ready = conds.get("Ready") == "True"
    pods = await core.list_namespaced_pod(plan.NAMESPACE, label_selector="app=kedge-demo")
    for p in pods.items:
        node = p.spec.node_selector.get("kubernetes.io/hostname") if p.spec.node_selector else None
        if node in nodes:
            nodes[node].pods[p.metadata.name] = _pod_phase(p)
    snap = plan.Snapshot(list(nodes.values()))
    dev = await client.CustomObjectsApi(api).get_namespaced_custom_object(
        "devices.kubeedge.io", "v1beta1", plan.NAMESPACE, "devices", plan.DEVICE
    )
    for prop in dev.get("spec", {}).get("properties") or []:
        if prop.get("name") == "status":
            snap.desired = (prop.get("desired") or {}).get("value")
    for twin in (dev.get("status") or {}).get("twins") or []:
        if twin.get("propertyName") == "status":
            snap.reported = (twin.get("reported") or {}).get("value")
    snap.round_trip_ms = last.round_trip_ms if last is not None else None
    if snap.round_trip_ms is None and all(n.ready for n in snap.nodes):
        snap.round_trip_ms = await rt.once()
    return snap


def _pod_phase(p: Any) -> str:
    """kubectl's STATUS column, shortened: a waiting container's reason, else the phase."""
    for cs in (p.status.container_statuses or []) if p.status else []:
        if cs.state and cs.state.waiting and cs.state.waiting.reason:
            return cs.state.waiting.reason
    return (p.status.phase if p.status else None) or "Pending"


async def _delete_pods(d: Demo, api: Any) -> None:
    """Delete the demo's pods through the API and wait for the edges to confirm, so their processes (or
    containers) stop: pods outlive edgecore by design, as containers outlive kubelet."""
    from kubernetes_asyncio import client

    core = client.CoreV1Api(api)
    d.say("deleting the demo's pods …")
    try:
        await core.delete_collection_namespaced_pod(
            plan.NAMESPACE, label_selector="app=kedge-demo", grace_period_seconds=2
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(c.popen.poll() is None for c in d.children):
            if not (await core.list_namespaced_pod(plan.NAMESPACE, label_selector="app=kedge-demo")).items:
                return
            await asyncio.sleep(0.2)
        d.say("  pods not confirmed deleted within 30 s; their processes are stopped below")
    except Exception as e:  # the cloud may be the thing that failed; the sweep below still runs
        d.say("  could not delete the pods through the API (%s); their processes are stopped below" % e)


def sweep(data_dir: Path) -> None:
    """Kill what is still running from the demo directory (pods of an edge that died before it could
    stop them): every process whose command line names a path under it."""
    needle = str(data_dir) + os.sep
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)


def kubectl_path() -> str:
    """`kubectl` when it is on PATH, else the one installed next to this Python (the virtualenv's)."""
    if shutil.which("kubectl"):
        return "kubectl"
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else "kubectl"


# -- the whole run -------------------------------------------------------------------------------------


async def run(d: Demo, *, exit_after_ready: bool, ready_timeout: float) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    t0 = time.monotonic()
    d.say("kedge demo: cloudcore with its embedded API server, %d edge nodes, a device and a rule" % d.nodes)
    d.say("  state and logs in %s" % d.data_dir)
    api = rt = None
    code = 0
    try:
        work = asyncio.ensure_future(_bring_up(d))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait([work, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            d.say("interrupted")
            return 130
        stopper.cancel()
        api, rt = work.result()
        snap = None
        async with d.step("waiting for nodes Ready, pods Running, the counter's report, a router round trip"):
            deadline = time.monotonic() + ready_timeout
            while snap is None or not snap.ready():
                d.check_alive()
                if stop.is_set():
                    raise Interrupted
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        "still waiting for %s after %g s"
                        % (snap.waiting_for() if snap else "the API", ready_timeout)
                    )
                snap = await snapshot(d, api, rt, snap)
                if not snap.ready():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.5)
        _ready_view(d, snap, rt, time.monotonic() - t0)
        if exit_after_ready:
            return 0
        await _live(d, api, rt, snap, stop)
    except Interrupted:
        d.say("interrupted")
        code = 130
    except StepFailed as e:
        d.say("error: step %r failed: %s" % (e.step, e.detail))
        if e.log is not None:
            d.say("  log: %s" % e.log)
            tail = next((c.tail() for c in d.children if c.log == e.log), "")
            if tail:
                d.say("  last lines:\n    " + tail.replace("\n", "\n    "))
        code = 1
    finally:
        if rt is not None:
            await rt.close()
        if api is not None:
            await _delete_pods(d, api)
            await api.close()
        d.say("stopping: mapper, edgecores, cloudcore …")
        await d.stop_all()
        sweep(d.data_dir)
        d.say("stopped; state and logs stay in %s" % d.data_dir)
    return code


async def _bring_up(d: Demo) -> tuple[Any, RoundTrip]:
    from kedge.k8s.client import open_api

    prepare_dir(d.data_dir)
    await choose_runtime(d)
    await start_cloud(d)
    await join_and_start_edges(d)
    api = await open_api(d.kubeconfig)
    await apply_objects(d, api)
    async with d.step(
        "starting the virtual counter mapper on %s" % d.edges[0].name, d.data_dir / "mapper.log"
    ):
        start_mapper(d)
    return api, RoundTrip(d)


def _ready_view(d: Demo, snap: plan.Snapshot, rt: RoundTrip, took: float) -> None:
    d.say()
    d.say("kedge demo is ready (%.1f s)" % took)
    for line in plan.status_lines(snap, d.edges[0].name, rt.url):
        d.say(line)
    d.say()
    d.say("Try (kubeconfig %s):" % d.kubeconfig)
    kedge_cmd = "%s -m kedge" % shlex.quote(sys.executable)
    for cmd in plan.try_commands(kubectl_path(), d.kubeconfig, rt.url, str(d.edges[0].config), kedge_cmd):
        d.say("  " + cmd)
    d.say()
    d.say("Logs: %s/*.log, %s/<node>/edgecore.log. Ctrl-C stops everything." % (d.data_dir, d.data_dir))


async def _live(d: Demo, api: Any, rt: RoundTrip, snap: plan.Snapshot, stop: asyncio.Event) -> None:
    """Refresh the status block every 2 s: in place on a terminal, as a line per change otherwise."""
    tty = d.out.isatty() if hasattr(d.out, "isatty") else False
    shown = plan.status_lines(snap, d.edges[0].name, rt.url)
    if tty:
        d.say()
        for line in shown:
            d.say(line)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)
        if stop.is_set():
            break
        d.check_alive()
        snap = await snapshot(d, api, rt, snap)
        lines = plan.status_lines(snap, d.edges[0].name, rt.url)
        if tty:
            d.out.write("\x1b[%dA" % len(shown))
            for line in lines:
                d.out.write("\x1b[2K%s\n" % line)
            d.out.flush()
        elif lines != shown:
            for line in lines:
                if line not in shown:
                    d.say(line)
        shown = lines
