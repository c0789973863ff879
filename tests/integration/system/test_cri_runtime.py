"""CRIRuntime (Edged's PodRuntime on containerd) against a real containerd: host- and pod-network sandboxes,
what the container sees (args, env, mounts), exit reasons including OOMKilled, image policies, errors as
Kubernetes reasons, idempotent stop/remove, a new runtime object finding the same pods, and the pod's
cgroup directory removed with its sandbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kedge.edge.edged.runtime import base, cgroupfs
from kedge.edge.edged.runtime.base import ContainerInfo, ContainerSpec, Mount, RuntimeFailure, SandboxSpec
from kedge.edge.edged.runtime.cri import CRIClient
from kedge.edge.edged.runtime.cri_runtime import CRIRuntime

pytestmark = pytest.mark.system

BUSYBOX = "localhost/busybox:1"
NODE = "edge-1"


def _runtime(sock: str, node: str = NODE) -> CRIRuntime:
    return CRIRuntime(CRIClient.from_endpoint(f"unix://{sock}", timeout=30), node)


@pytest.fixture
def pod_uids() -> Iterator[list[str]]:
    """UIDs of the pods a test made: their cgroups must be gone afterwards; shared parents are tidied."""
    uids: list[str] = []
    yield uids
    for hierarchy in cgroupfs.hierarchies():
        besteffort = hierarchy / "kubepods" / "besteffort"
        for uid in uids:
            cgroupfs.rmdir_tree(besteffort / f"pod{uid}")
        for parent in (besteffort, hierarchy / "kubepods"):
            try:
                parent.rmdir()
            except OSError:
                pass


@pytest.fixture
async def rt(containerd: str, pod_uids: list[str]) -> AsyncIterator[CRIRuntime]:
    runtime = _runtime(containerd)
    await runtime.start()
    try:
        yield runtime
    finally:
        # whatever a failed test left, whichever node made it
        for sandbox in await runtime.client.list_pod_sandbox():
            await runtime.remove_sandbox(sandbox.id)
        await runtime.close()


def _sandbox_spec(
    tmp_path: Path, pod_uids: list[str], name: str, *, host_network: bool = True
) -> SandboxSpec:
    uid = str(uuid.uuid4())
    pod_uids.append(uid)
    return SandboxSpec(
        uid=uid,
        namespace="default",
        name=name,
        host_network=host_network,
        hostname=name,
        labels={"app": name},
        annotations={"note": "kedge test"},
        log_directory=str(tmp_path / "pods" / f"default_{name}_{uid}"),
        cgroup_parent=f"/kubepods/besteffort/pod{uid}",
    )


async def _wait_state(rt: CRIRuntime, container_id: str, state: str, timeout: float = 20) -> ContainerInfo:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = {c.id: c for c in await rt.list_containers()}
        info = found.get(container_id)
        if info is not None and info.state == state:
            return info
        assert loop.time() < deadline, f"container {container_id} is {info and info.state}, not {state}"
        await asyncio.sleep(0.05)


def _stdout(info: ContainerInfo) -> list[str]:
    """The text of the container's stdout lines from its CRI log file (`<time> stdout F <text>`)."""
    lines = []
    for line in Path(info.log_path).read_text().splitlines():
        _, stream, rest = line.split(" ", 2)
        if stream == "stdout":
            lines.append(rest.split(" ", 1)[1])
    return lines


def _pod_cgroup_dirs(uid: str) -> list[Path]:
    return [h / "kubepods" / "besteffort" / f"pod{uid}" for h in cgroupfs.hierarchies()]


async def test_start_reports_the_runtime_and_a_missing_socket_is_runtime_not_ready(
    rt: CRIRuntime, tmp_path: Path
) -> None:
    assert rt.kind == "cri"
    assert (await rt.version()).startswith("containerd://1.")

    absent = _runtime(str(tmp_path / "absent.sock"))
    try:
        with pytest.raises(RuntimeFailure) as caught:
            await absent.start()
        assert caught.value.reason == "RuntimeNotReady"
        assert "absent.sock" in caught.value.message
        with pytest.raises(RuntimeFailure) as caught:
            await absent.list_sandboxes()
        assert caught.value.reason == "RuntimeNotReady"
    finally:
        await absent.close()


async def test_ensure_image_follows_the_pull_policy(rt: CRIRuntime) -> None:
    for policy in ("IfNotPresent", "Always", "Never"):  # Always uses the local image: no registry here
        assert (await rt.ensure_image(BUSYBOX, policy)).startswith("sha256:")

    with pytest.raises(RuntimeFailure) as caught:
        await rt.ensure_image("localhost/absent:1", "Never")
    assert caught.value.reason == "ErrImageNeverPull"
    assert (
        caught.value.message
        == 'Container image "localhost/absent:1" is not present with pull policy of Never'
    )

    with pytest.raises(RuntimeFailure) as caught:
        await rt.ensure_image("localhost/absent:1", "IfNotPresent")
    assert caught.value.reason == "ErrImagePull"
    assert 'Failed to pull image "localhost/absent:1"' in caught.value.message

    with pytest.raises(RuntimeFailure, match="Sometimes") as caught:
        await rt.ensure_image(BUSYBOX, "Sometimes")


async def test_host_network_pod_runs_containers_with_their_spec_to_their_exit(
    rt: CRIRuntime, tmp_path: Path, pod_uids: list[str]
) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "greeting").write_text("from-the-host")
    sspec = _sandbox_spec(tmp_path, pod_uids, "hostnet")
    sandbox = await rt.run_sandbox(sspec)
    assert sandbox.ready and sandbox.ip == ""  # host network: no pod IP
    assert (sandbox.uid, sandbox.name, sandbox.namespace, sandbox.attempt) == (
        sspec.uid,
        "hostnet",
        "default",
        0,
    )
    assert sandbox.labels[base.LABEL_NODE] == NODE and sandbox.labels["app"] == "hostnet"
    assert [s.id for s in await rt.list_sandboxes()] == [sandbox.id]

    script = (
        'echo "args=$*"; echo "env=$GREETING"; cat /data/greeting; echo; touch /data/x || echo ro-ok; pwd'
    )
    spec = ContainerSpec(
        name="main",
        image=BUSYBOX,
        command=["sh", "-c", script, "sh"],
        args=["one", "two words"],
        env=[("GREETING", "hello there")],
        working_dir="/tmp",
        mounts=[Mount(container_path="/data", host_path=str(volume), readonly=True)],
        log_path="main/0.log",
        memory_limit=64 << 20,
        labels={"team": "edge"},
    )
    cid = await rt.create_container(sandbox, sspec, spec)
    await rt.start_container(cid)
    info = await _wait_state(rt, cid, base.EXITED)
    assert (info.exit_code, info.reason) == (0, "Completed")
    assert (info.name, info.attempt, info.sandbox_id, info.image) == ("main", 0, sandbox.id, BUSYBOX)
    assert info.image_ref.startswith("sha256:")
    assert info.started_at >= info.created_at > 0 and info.finished_at >= info.started_at
    assert info.log_path == f"{sspec.log_directory}/main/0.log"
    assert info.labels[base.LABEL_CONTAINER_NAME] == "main" and info.labels["team"] == "edge"
    assert info.labels[base.LABEL_POD_UID] == sspec.uid and info.labels[base.LABEL_NODE] == NODE
    assert _stdout(info) == ["args=one two words", "env=hello there", "from-the-host", "ro-ok", "/tmp"]
    assert not (volume / "x").exists()

    # a second container (attempt 1 of a failing one) in the same sandbox
    failing = ContainerSpec(
        name="main", image=BUSYBOX, command=["sh", "-c", "exit 3"], attempt=1, log_path="main/1.log"
    )
    cid1 = await rt.create_container(sandbox, sspec, failing)
    await rt.start_container(cid1)
    info1 = await _wait_state(rt, cid1, base.EXITED)
    assert (info1.exit_code, info1.reason, info1.attempt) == (3, "Error", 1)
    assert {c.id for c in await rt.list_containers(sandbox.id)} == {cid, cid1}

    assert any(d.is_dir() for d in _pod_cgroup_dirs(sspec.uid))
    for _ in range(2):  # idempotent
        await rt.stop_container(cid, 1)
        await rt.remove_container(cid)
    assert [c.id for c in await rt.list_containers()] == [cid1]
    for _ in range(2):
        await rt.stop_sandbox(sandbox.id)
        await rt.remove_sandbox(sandbox.id)
    assert await rt.list_sandboxes() == []
    assert await rt.list_containers() == []
    assert not any(d.exists() for d in _pod_cgroup_dirs(sspec.uid))


async def test_pod_network_sandbox_has_an_ip_and_exec_runs_inside(
    rt: CRIRuntime, tmp_path: Path, pod_uids: list[str]
) -> None:
    sspec = _sandbox_spec(tmp_path, pod_uids, "podnet", host_network=False)
    sandbox = await rt.run_sandbox(sspec)
    assert sandbox.ip.startswith("10.88.0.")
    assert [(s.id, s.ip) for s in await rt.list_sandboxes()] == [(sandbox.id, sandbox.ip)]

    spec = ContainerSpec(name="sleeper", image=BUSYBOX, command=["sleep", "60"], log_path="sleeper/0.log")
    cid = await rt.create_container(sandbox, sspec, spec)
    await rt.start_container(cid)
    await _wait_state(rt, cid, base.RUNNING)
    code, out, err = await rt.exec_sync(
        cid, ["sh", "-c", "hostname; ip -4 addr show eth0; echo oops >&2; exit 4"], 10
    )
    assert code == 4 and err == b"oops\n"
    assert out.splitlines()[0] == b"podnet" and f"inet {sandbox.ip}/24".encode() in out

    with pytest.raises(RuntimeFailure) as caught:
        await rt.exec_sync(cid, ["sleep", "10"], 1)
    assert caught.value.reason == base.REASON_EXEC_TIMEOUT

    await rt.stop_container(
        cid, 1
    )  # sleep is pid 1 of its pid namespace: SIGTERM is ignored, SIGKILL after 1 s
    info = await _wait_state(rt, cid, base.EXITED)
    assert (info.exit_code, info.reason) == (137, "Error")
    await rt.remove_sandbox(sandbox.id)  # stops it first
    assert await rt.list_sandboxes() == []


async def test_a_container_over_its_memory_limit_is_oom_killed(
    rt: CRIRuntime, tmp_path: Path, pod_uids: list[str]
) -> None:
    sspec = _sandbox_spec(tmp_path, pod_uids, "oom")
    sandbox = await rt.run_sandbox(sspec)
    hog = 'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo ${#x}'
    spec = ContainerSpec(
        name="hog", image=BUSYBOX, command=["sh", "-c", hog], memory_limit=16 << 20, log_path="hog/0.log"
    )
    cid = await rt.create_container(sandbox, sspec, spec)
    await rt.start_container(cid)
    info = await _wait_state(rt, cid, base.EXITED)
    assert (info.exit_code, info.reason) == (137, "OOMKilled")
    await rt.remove_sandbox(sandbox.id)


async def test_failures_carry_kubernetes_reasons(rt: CRIRuntime, tmp_path: Path, pod_uids: list[str]) -> None:
    sspec = _sandbox_spec(tmp_path, pod_uids, "failing")
    sandbox = await rt.run_sandbox(sspec)
    with pytest.raises(RuntimeFailure) as caught:
        await rt.create_container(
            sandbox, sspec, ContainerSpec(name="a", image="localhost/absent:1", command=["true"])
        )
    assert caught.value.reason == "CreateContainerError" and "absent" in caught.value.message

    cid = await rt.create_container(
        sandbox, sspec, ContainerSpec(name="b", image=BUSYBOX, command=["/no/such/binary"])
    )
    with pytest.raises(RuntimeFailure) as caught:
        await rt.start_container(cid)
    assert caught.value.reason == "RunContainerError" and "/no/such/binary" in caught.value.message

    with pytest.raises(RuntimeFailure) as caught:
        await rt.exec_sync("no-such-container", ["true"], 1)
    assert caught.value.reason == "ExecSyncError"

    with pytest.raises(RuntimeFailure) as caught:  # containerd reserves a sandbox's name and attempt
        await rt.run_sandbox(sspec)
    assert caught.value.reason == "CreatePodSandboxError" and "reserve" in caught.value.message

    for unknown in ("no-such-id", "0" * 64):  # stop and remove of what does not exist are no-ops
        await rt.stop_container(unknown, 0)
        await rt.remove_container(unknown)
        await rt.stop_sandbox(unknown)
        await rt.remove_sandbox(unknown)
    await rt.remove_sandbox(sandbox.id)


async def test_a_new_runtime_finds_this_nodes_pods_and_only_those(
    rt: CRIRuntime, containerd: str, tmp_path: Path, pod_uids: list[str]
) -> None:
    sspec = _sandbox_spec(tmp_path, pod_uids, "kept")
    sandbox = await rt.run_sandbox(sspec)
    running = await rt.create_container(
        sandbox,
        sspec,
        ContainerSpec(name="run", image=BUSYBOX, command=["sleep", "60"], log_path="run/0.log"),
    )
    await rt.start_container(running)
    done = await rt.create_container(
        sandbox,
        sspec,
        ContainerSpec(name="done", image=BUSYBOX, command=["sh", "-c", "exit 5"], log_path="done/0.log"),
    )
    await rt.start_container(done)
    await _wait_state(rt, done, base.EXITED)

    other_node = _runtime(containerd, "edge-2")
    try:
        ospec = _sandbox_spec(tmp_path, pod_uids, "elsewhere")
        foreign = await other_node.run_sandbox(ospec)
        assert [s.id for s in await other_node.list_sandboxes()] == [foreign.id]
    finally:
        await other_node.close()

    again = _runtime(containerd)  # Edged restarted: a new client, no cache
    try:
        assert [s.id for s in await again.list_sandboxes()] == [sandbox.id]
        found = {c.id: c for c in await again.list_containers()}
        assert set(found) == {running, done}
        assert found[running].state == base.RUNNING and found[running].started_at > 0
        assert (found[done].state, found[done].exit_code, found[done].reason) == (base.EXITED, 5, "Error")
        await again.stop_container(running, 0)
        assert (await _wait_state(again, running, base.EXITED)).exit_code == 137
    finally:
        await again.close()
