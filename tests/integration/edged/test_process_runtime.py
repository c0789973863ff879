"""ProcessRuntime with real processes on this host: what the command gets (env, cwd, args, log file), exit
codes and reasons, stop with a grace period, state that survives the runtime object and its process
(kill -9), pid reuse not mistaken for a container, volumes in a private mount namespace, memory limits in a
cgroup v1 memory controller, exec_sync."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kedge.edge.edged.runtime import base, cgroupfs
from kedge.edge.edged.runtime.base import (
    ContainerInfo,
    ContainerSpec,
    Mount,
    RuntimeFailure,
    SandboxInfo,
    SandboxSpec,
)
from kedge.edge.edged.runtime.process import ProcessRuntime
from tests.conftest import REQUIRE_SYSTEM

NODE = "edge-1"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _require(condition: bool, msg: str) -> None:
    """Skip without `condition`; fail when KEDGE_REQUIRE_SYSTEM=1 (as tests.conftest.require_binary)."""
    if not condition:
        if REQUIRE_SYSTEM:
            pytest.fail(msg + " and KEDGE_REQUIRE_SYSTEM=1")
        pytest.skip(msg)


def _require_root() -> None:
    _require(os.geteuid() == 0, "volume mounts in a private mount namespace need root")


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[ProcessRuntime]:
    runtime = ProcessRuntime(tmp_path / "state", NODE)
    await runtime.start()
    try:
        yield runtime
    finally:
        for sandbox in await runtime.list_sandboxes():  # kills what a failed test left running
            await runtime.remove_sandbox(sandbox.id)
        await runtime.close()


async def _sandbox(rt: ProcessRuntime, tmp_path: Path, name: str = "pod") -> tuple[SandboxInfo, SandboxSpec]:
    uid = str(uuid.uuid4())
    spec = SandboxSpec(
        uid=uid,
        namespace="default",
        name=name,
        labels={"app": name},
        log_directory=str(tmp_path / "logs" / f"default_{name}_{uid}"),
    )
    return await rt.run_sandbox(spec), spec


async def _run(
    rt: ProcessRuntime, sandbox: SandboxInfo, sspec: SandboxSpec, name: str, command: list[str], **kw: object
) -> str:
    cid = await rt.create_container(
        sandbox, sspec, ContainerSpec(name=name, image="none", command=command, **kw)
    )
    await rt.start_container(cid)
    return cid


async def _wait_exited(rt: ProcessRuntime, cid: str, timeout: float = 10) -> ContainerInfo:
    deadline = time.monotonic() + timeout
    while True:
        info = {c.id: c for c in await rt.list_containers()}[cid]
        if info.state == base.EXITED:
            return info
        assert time.monotonic() < deadline, f"container {cid} still {info.state}"
        await asyncio.sleep(0.02)


async def _state(rt: ProcessRuntime, cid: str) -> ContainerInfo:
    return {c.id: c for c in await rt.list_containers()}[cid]


def _log(info: ContainerInfo) -> list[str]:
    return Path(info.log_path).read_text().splitlines()


def _gone(pid: int) -> bool:
    """True when `pid` has ended (a zombie waiting for a slow reaper counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0] in (b"Z", b"X")
    except OSError:
        return True


async def test_the_command_gets_exactly_its_env_args_cwd_and_a_log_file(
    rt: ProcessRuntime, tmp_path: Path
) -> None:
    assert (rt.kind, await rt.version()) == ("process", "process://kedge")
    assert await rt.ensure_image("registry.example/any:1", "Never") == "registry.example/any:1"
    sandbox, sspec = await _sandbox(rt, tmp_path)
    assert sandbox.ready and sandbox.ip == "" and sandbox.labels[base.LABEL_NODE] == NODE
    assert sandbox.labels[base.LABEL_POD_UID] == sspec.uid and sandbox.labels["app"] == "pod"

    env_id = await _run(
        rt, sandbox, sspec, "env", ["env"], env=[("GREETING", "hello there")], log_path="env/0.log"
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    args_id = await _run(
        rt, sandbox, sspec, "args", ["sh", "-c", 'echo "$#:$1|$2"; pwd; echo to-stderr >&2', "sh"],
        args=["one", "two words"], working_dir=str(workdir), env=[("PATH", "/usr/bin:/bin")],
        labels={"t": "x"},
    )  # fmt: skip
    env_info = await _wait_exited(rt, env_id)
    args_info = await _wait_exited(rt, args_id)

    assert sorted(_log(env_info)) == ["GREETING=hello there", f"PATH={SYSTEM_PATH}"]
    assert env_info.log_path == f"{sspec.log_directory}/env/0.log"
    assert _log(args_info) == ["2:one|two words", str(workdir), "to-stderr"]
    assert args_info.log_path == f"{sspec.log_directory}/args/0.log"  # default: <name>/<attempt>.log
    assert args_info.labels[base.LABEL_CONTAINER_NAME] == "args" and args_info.labels["t"] == "x"
    assert args_info.labels[base.LABEL_POD_NAME] == "pod" and "app" not in args_info.labels
    assert (args_info.image, args_info.image_ref, args_info.sandbox_id) == ("none", "none", sandbox.id)

    cwd_id = await _run(rt, sandbox, sspec, "cwd", ["pwd"])  # no working_dir: the sandbox's directory
    assert _log(await _wait_exited(rt, cwd_id)) == [str(tmp_path / "state" / "sandboxes" / sandbox.id)]


async def test_exit_codes_and_reasons(rt: ProcessRuntime, tmp_path: Path) -> None:
    sandbox, sspec = await _sandbox(rt, tmp_path)
    ok = await _run(rt, sandbox, sspec, "ok", ["true"])
    bad = await _run(rt, sandbox, sspec, "bad", ["sh", "-c", "exit 3"])
    signalled = await _run(rt, sandbox, sspec, "sig", ["sh", "-c", "kill -USR1 $$"])
    before = time.time()
    assert [(i.exit_code, i.reason) for i in [await _wait_exited(rt, c) for c in (ok, bad, signalled)]] == [
        (0, "Completed"),
        (3, "Error"),
        (128 + signal.SIGUSR1, "Error"),
    ]
    # what the command left in its process group dies with it, as in a container's pid namespace
    leaver = await _run(rt, sandbox, sspec, "leaver", ["sh", "-c", "sleep 60 & echo $!"])
    assert (await _wait_exited(rt, leaver)).reason == "Completed"
    left = int(_log(await _state(rt, leaver))[0])
    deadline = time.monotonic() + 5
    while not _gone(left):
        assert time.monotonic() < deadline, "the background sleep outlived its container"
        await asyncio.sleep(0.02)

    info = await _state(rt, ok)
    assert 0 < info.created_at <= info.started_at <= info.finished_at <= before + 5

    with pytest.raises(RuntimeFailure) as caught:
        await rt.create_container(sandbox, sspec, ContainerSpec(name="empty", image="busybox", args=["x"]))
    assert caught.value.reason == "CreateContainerError"
    assert caught.value.message == "the process runtime needs a command: container empty has none"

    missing = await rt.create_container(
        sandbox, sspec, ContainerSpec(name="missing", image="x", command=["no-such-cmd"])
    )
    with pytest.raises(RuntimeFailure) as caught:
        await rt.start_container(missing)
    assert caught.value.reason == "RunContainerError" and "no-such-cmd" in caught.value.message
    info = await _state(rt, missing)
    assert (info.state, info.exit_code, info.reason) == (base.EXITED, 128, "StartError")

    with pytest.raises(RuntimeFailure) as caught:  # a name and attempt are one container's, as in CRI
        await rt.create_container(sandbox, sspec, ContainerSpec(name="ok", image="x", command=["true"]))
    assert caught.value.reason == "CreateContainerError"
    with pytest.raises(RuntimeFailure, match="GOOD=BAD"):
        await rt.create_container(
            sandbox, sspec, ContainerSpec(name="env", image="x", command=["true"], env=[("GOOD=BAD", "x")])
        )


async def test_stop_sends_term_then_kill_after_the_grace_period(rt: ProcessRuntime, tmp_path: Path) -> None:
    sandbox, sspec = await _sandbox(rt, tmp_path)
    polite = await _run(rt, sandbox, sspec, "polite", ["sleep", "60"])
    stubborn = await _run(
        rt,
        sandbox,
        sspec,
        "stubborn",
        ["sh", "-c", 'trap "echo got-term" TERM; while :; do sleep 0.05; done'],
    )
    await asyncio.sleep(0.1)  # let the shell install its trap
    assert (await _state(rt, stubborn)).state == base.RUNNING

    started = time.monotonic()
    await rt.stop_container(polite, 5)
    assert time.monotonic() - started < 2
    assert ((await _state(rt, polite)).exit_code, (await _state(rt, polite)).reason) == (143, "Error")

    started = time.monotonic()
    await rt.stop_container(stubborn, 1)
    elapsed = time.monotonic() - started
    assert 1 <= elapsed < 3
    info = await _state(rt, stubborn)
    assert (info.state, info.exit_code) == (base.EXITED, 137)
    assert "got-term" in _log(info)

    for cid in (polite, stubborn, "f" * 32, "not-an-id", "../../etc"):  # idempotent, unknown ids too
        await rt.stop_container(cid, 1)
        await rt.remove_container(cid)
    assert await rt.list_containers() == []
    assert not any((tmp_path / "state" / "containers").iterdir())


async def test_a_new_runtime_adopts_containers_running_and_exited_without_it(tmp_path: Path) -> None:
    first = ProcessRuntime(tmp_path / "state", NODE)
    await first.start()
    sandbox, sspec = await _sandbox(first, tmp_path)
    long = await _run(first, sandbox, sspec, "long", ["sleep", "60"])
    short = await _run(first, sandbox, sspec, "short", ["sh", "-c", "sleep 0.2; exit 7"])
    created = await first.create_container(
        sandbox, sspec, ContainerSpec(name="later", image="x", command=["true"])
    )
    del first  # dropped without stopping anything
    await asyncio.sleep(0.5)  # "short" exits while no runtime object exists

    second = ProcessRuntime(tmp_path / "state", NODE)
    await second.start()
    try:
        assert [s.id for s in await second.list_sandboxes()] == [sandbox.id]
        found = {c.id: c for c in await second.list_containers()}
        assert (found[long].state, found[long].started_at > 0) == (base.RUNNING, True)
        assert (found[short].state, found[short].exit_code, found[short].reason) == (base.EXITED, 7, "Error")
        assert found[created].state == base.CREATED
        await second.start_container(created)
        assert (await _wait_exited(second, created)).reason == "Completed"

        await second.stop_sandbox(sandbox.id)  # kills what still runs
        assert not (await second.list_sandboxes())[0].ready
        assert ((await _state(second, long)).state, (await _state(second, long)).exit_code) == (
            base.EXITED,
            137,
        )
        with pytest.raises(RuntimeFailure) as caught:
            await second.create_container(
                sandbox, sspec, ContainerSpec(name="x", image="x", command=["true"])
            )
        assert caught.value.reason == "CreateContainerError"
        await second.remove_sandbox(sandbox.id)
        await second.remove_sandbox(sandbox.id)
        assert await second.list_sandboxes() == [] and await second.list_containers() == []
    finally:
        for sb in await second.list_sandboxes():
            await second.remove_sandbox(sb.id)


_EDGECORE = """
import asyncio, sys
from kedge.edge.edged.runtime.base import ContainerSpec, SandboxSpec
from kedge.edge.edged.runtime.process import ProcessRuntime

async def main():
    rt = ProcessRuntime(sys.argv[1], "edge-1")
    await rt.start()
    spec = SandboxSpec(uid="u-1", namespace="default", name="web", log_directory=sys.argv[2])
    sandbox = await rt.run_sandbox(spec)
    container = ContainerSpec(name="c", image="x", command=["sleep", "60"])
    cid = await rt.create_container(sandbox, spec, container)
    await rt.start_container(cid)
    print(sandbox.id, cid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_containers_survive_a_kill_9_of_their_runtime_process(tmp_path: Path) -> None:
    edgecore = subprocess.Popen(
        [sys.executable, "-c", _EDGECORE, str(tmp_path / "state"), str(tmp_path / "logs")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert edgecore.stdout is not None
        sandbox_id, cid = edgecore.stdout.readline().split()
    finally:
        edgecore.kill()  # SIGKILL: no cleanup of any kind
        edgecore.wait()
        assert edgecore.stdout is not None
        edgecore.stdout.close()

    rt = ProcessRuntime(tmp_path / "state", NODE)
    await rt.start()
    try:
        info = await _state(rt, cid)
        assert (info.state, info.sandbox_id) == (base.RUNNING, sandbox_id)
        await rt.stop_container(cid, 5)  # the shim is no child of ours any more: its exit file tells
        info = await _state(rt, cid)
        assert (info.state, info.exit_code, info.reason) == (base.EXITED, 143, "Error")
    finally:
        await rt.remove_sandbox(sandbox_id)


async def test_a_reused_pid_or_a_lost_supervisor_is_not_a_running_container(
    rt: ProcessRuntime, tmp_path: Path
) -> None:
    sandbox, sspec = await _sandbox(rt, tmp_path)
    cid = await _run(rt, sandbox, sspec, "c", ["sleep", "60"])
    record_path = tmp_path / "state" / "containers" / cid / "container.json"
    record = json.loads(record_path.read_text())
    command_pid = int((record_path.parent / "pid").read_text())

    # the shim's pid now names another process (reuse): same pid number, other start time. Start times
    # count clock ticks (10 ms): a process started in the same tick as the shim would look identical.
    await asyncio.sleep(0.05)
    other = subprocess.Popen(["sleep", "60"])
    try:
        forged = {**record, "shim": {**record["shim"], "pid": other.pid}}
        record_path.write_text(json.dumps(forged))
        assert (await _state(rt, cid)).state == base.EXITED
    finally:
        other.kill()
        other.wait()

    cid2 = await _run(rt, sandbox, sspec, "c2", ["sleep", "60"])
    shim_pid = json.loads((tmp_path / "state" / "containers" / cid2 / "container.json").read_text())["shim"][
        "pid"
    ]
    os.kill(shim_pid, signal.SIGKILL)  # the supervisor dies, its command does not
    info = await _wait_exited(rt, cid2)
    assert (info.exit_code, info.reason) == (255, "Unknown") and "supervisor" in info.message

    command_pid2 = int((tmp_path / "state" / "containers" / cid2 / "pid").read_text())
    assert not _gone(command_pid2)
    await rt.remove_container(cid2)  # the orphaned command is killed with it
    await rt.remove_container(cid)
    deadline = time.monotonic() + 5
    while not (_gone(command_pid2) and _gone(command_pid)):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_volumes_are_bind_mounted_privately_and_readonly_is_enforced(
    rt: ProcessRuntime, tmp_path: Path
) -> None:
    _require_root()
    data, config = tmp_path / "data", tmp_path / "config"
    data.mkdir()
    config.mkdir()
    (config / "setting").write_text("blue")
    mnt = tmp_path / "container-root"  # mount points are made when missing
    sandbox, sspec = await _sandbox(rt, tmp_path)
    script = (
        f"cat {mnt}/config/setting; echo; echo written > {mnt}/data/out; "
        f"touch {mnt}/config/x 2>/dev/null || echo readonly-refused; pwd; sleep 60"
    )
    cid = await _run(
        rt, sandbox, sspec, "vol", ["sh", "-c", script], working_dir=f"{mnt}/data",
        mounts=[Mount(f"{mnt}/data", str(data)), Mount(f"{mnt}/config", str(config), readonly=True)],
    )  # fmt: skip
    deadline = time.monotonic() + 5
    while not (data / "out").exists():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    info = await _state(rt, cid)
    assert info.state == base.RUNNING
    assert _log(info) == ["blue", "readonly-refused", f"{mnt}/data"]
    assert (data / "out").read_text() == "written\n" and not (config / "x").exists()
    assert not list((mnt / "config").iterdir())  # the host sees the empty mount point: the mount is private
    assert str(mnt) not in Path("/proc/self/mountinfo").read_text()

    # exec runs inside the container's mount namespace, in its working directory
    assert await rt.exec_sync(cid, ["sh", "-c", "pwd; ls; cat ../config/setting"], 5) == (
        0,
        f"{mnt}/data\nout\nblue".encode(),
        b"",
    )
    await rt.remove_container(cid)


async def test_memory_limit_kills_with_oomkilled(rt: ProcessRuntime, tmp_path: Path) -> None:
    _require(
        cgroupfs.memory_v1_usable(), "memory limits need root and a writable cgroup v1 memory controller"
    )
    sandbox, sspec = await _sandbox(rt, tmp_path)
    hog = await _run(
        rt, sandbox, sspec, "hog", [sys.executable, "-S", "-c", "x = b'a' * (64 << 20); print(len(x))"],
        memory_limit=16 << 20,
    )  # fmt: skip
    fits = await _run(
        rt, sandbox, sspec, "fits", [sys.executable, "-S", "-c", "x = b'a' * (1 << 20); print(len(x))"],
        memory_limit=64 << 20,
    )  # fmt: skip
    info = await _wait_exited(rt, hog)
    assert (info.exit_code, info.reason) == (137, "OOMKilled")
    info = await _wait_exited(rt, fits)
    assert (info.exit_code, info.reason) == (0, "Completed") and _log(info) == [str(1 << 20)]
    pod_cgroup = cgroupfs.MEMORY_ROOT / "kedge" / sspec.uid
    assert (pod_cgroup / hog / "memory.limit_in_bytes").read_text().strip() == str(16 << 20)
    await rt.remove_sandbox(sandbox.id)
    assert not pod_cgroup.exists()


async def test_exec_sync_runs_with_the_containers_env_and_cwd(rt: ProcessRuntime, tmp_path: Path) -> None:
    sandbox, sspec = await _sandbox(rt, tmp_path)
    cid = await _run(
        rt, sandbox, sspec, "c", ["sleep", "60"], env=[("MODE", "probe")], working_dir=str(tmp_path)
    )
    assert await rt.exec_sync(cid, ["sh", "-c", 'echo "$MODE $PWD"; echo err >&2; exit 4'], 5) == (
        4,
        f"probe {tmp_path}\n".encode(),
        b"err\n",
    )
    code, _, _ = await rt.exec_sync(cid, ["sh", "-c", "kill -TERM $$"], 0)
    assert code == 128 + signal.SIGTERM

    started = time.monotonic()
    with pytest.raises(RuntimeFailure) as caught:
        await rt.exec_sync(cid, ["sleep", "30"], 1)
    assert caught.value.reason == base.REASON_EXEC_TIMEOUT and time.monotonic() - started < 3

    with pytest.raises(RuntimeFailure) as caught:
        await rt.exec_sync(cid, ["no-such-binary"], 1)
    assert caught.value.reason == "ExecSyncError"

    await rt.stop_container(cid, 0)
    with pytest.raises(RuntimeFailure, match="not running") as caught:
        await rt.exec_sync(cid, ["true"], 1)
    assert caught.value.reason == "ExecSyncError"


async def test_lists_show_only_this_nodes_pods(rt: ProcessRuntime, tmp_path: Path) -> None:
    mine, _ = await _sandbox(rt, tmp_path, "mine")
    other_node = ProcessRuntime(tmp_path / "state", "edge-2")  # same directory, another node's Edged
    theirs, tspec = await _sandbox(other_node, tmp_path, "theirs")
    their_cid = await _run(other_node, theirs, tspec, "c", ["true"])
    assert [s.id for s in await rt.list_sandboxes()] == [mine.id]
    assert await rt.list_containers() == []
    assert [c.id for c in await other_node.list_containers()] == [their_cid]
    await other_node.remove_sandbox(theirs.id)
