"""kedge's CRI client against a real containerd: the kubelet call sequence for a host-network pod, ExecSync,
and errors that name the RPC (shared/reference/containerd.md, sections 1.5 and 3)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from grpclib.const import Status

from kedge.edge.edged.runtime.cri import CRIClient, CRIError, pb

pytestmark = pytest.mark.system

BUSYBOX = "localhost/busybox:1"
CGROUP_ROOT = Path("/sys/fs/cgroup")


@pytest.fixture
async def cri(containerd: str) -> AsyncIterator[CRIClient]:
    client = CRIClient.from_endpoint(f"unix://{containerd}", timeout=30)
    try:
        yield client
    finally:
        client.close()


def _rmdir_tree(path: Path) -> None:
    """rmdir a cgroup directory depth-first (cgroupfs directories hold only control files)."""
    if not path.is_dir():
        return
    for child in path.iterdir():
        if child.is_dir():
            _rmdir_tree(child)
    try:
        path.rmdir()
    except OSError:
        pass  # still busy (a process left) or shared with a pod this test did not make


@pytest.fixture
def pod_uids() -> Iterator[list[str]]:
    """UIDs of the pods a test makes; their cgroup parents are removed afterwards, as kubelet does."""
    uids: list[str] = []
    yield uids
    hierarchies = [CGROUP_ROOT, *(p for p in CGROUP_ROOT.glob("*") if p.is_dir())]
    for hierarchy in hierarchies:
        besteffort = hierarchy / "kubepods" / "besteffort"
        for uid in uids:
            _rmdir_tree(besteffort / f"pod{uid}")
        for parent in (besteffort, hierarchy / "kubepods"):
            try:
                parent.rmdir()
            except OSError:
                pass  # absent, or other pods still under it


def _pod_config(name: str, uid: str, log_dir: Path) -> object:
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="default", attempt=0),
        hostname="",  # must stay empty with host network: runc cannot set it without a private UTS namespace
        log_directory=str(log_dir),
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent=f"/kubepods/besteffort/pod{uid}",
            security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER)
            ),
        ),
    )


def _container_config(name: str, command: list[str]) -> object:
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=0),
        image=pb.ImageSpec(image=BUSYBOX),
        command=command,
        log_path=f"{name}/0.log",
        linux=pb.LinuxContainerConfig(resources=pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20)),
    )


async def _start_pod(
    cri: CRIClient, tmp_path: Path, pod_uids: list[str], name: str, container: str, command: list[str]
) -> tuple[str, str]:
    uid = str(uuid.uuid4())
    pod_uids.append(uid)
    log_dir = tmp_path / "pods" / f"default_{name}_{uid}"
    os.makedirs(log_dir / container)  # containerd does not create the container's log directory
    config = _pod_config(name, uid, log_dir)
    sandbox_id = await cri.run_pod_sandbox(config)
    container_id = await cri.create_container(sandbox_id, _container_config(container, command), config)
    await cri.start_container(container_id)
    return sandbox_id, container_id


async def _tear_down(cri: CRIClient, sandbox_id: str, container_id: str) -> None:
    await cri.stop_container(container_id, 2)
    await cri.remove_container(container_id)
    await cri.stop_pod_sandbox(sandbox_id)
    await cri.remove_pod_sandbox(sandbox_id)


@pytest.fixture
async def cleanup(cri: CRIClient) -> AsyncIterator[None]:
    """Stops and removes any sandbox a failed test left, so the next test starts from an empty runtime."""
    yield
    for sandbox in await cri.list_pod_sandbox():
        await cri.stop_pod_sandbox(sandbox.id)
        await cri.remove_pod_sandbox(sandbox.id)


async def test_version_reports_containerd_and_runtime_api_v1(cri: CRIClient) -> None:
    version = await cri.version()
    assert version.runtime_name == "containerd"
    assert version.runtime_api_version == "v1"
    status = await cri.status()
    conditions = {c.type: c.status for c in status.status.conditions}
    assert conditions["RuntimeReady"] is True


async def test_image_status_finds_imported_image_and_none_for_a_missing_one(cri: CRIClient) -> None:
    image = await cri.image_status(BUSYBOX)
    assert image is not None
    assert BUSYBOX in image.repo_tags
    assert image.id.startswith("sha256:")
    assert await cri.image_status("localhost/not-imported:1") is None
    assert BUSYBOX in {tag for img in await cri.list_images() for tag in img.repo_tags}


async def test_host_network_pod_runs_a_container_to_its_exit_code(
    cri: CRIClient, tmp_path: Path, pod_uids: list[str], cleanup: None
) -> None:
    sandbox_id, container_id = await _start_pod(
        cri, tmp_path, pod_uids, "exits", "hello", ["sh", "-c", "echo hello; exit 3"]
    )
    sandbox = await cri.pod_sandbox_status(sandbox_id)
    assert sandbox.state == pb.SANDBOX_READY
    assert sandbox.metadata.name == "exits"

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    status = await cri.container_status(container_id)
    while status.state != pb.CONTAINER_EXITED:
        assert loop.time() < deadline, f"container still {pb.ContainerState.Name(status.state)}"
        await asyncio.sleep(0.05)
        status = await cri.container_status(container_id)
    assert (status.exit_code, status.reason) == (3, "Error")
    assert "stdout F hello" in Path(status.log_path).read_text()

    listed = await cri.list_containers(pb.ContainerFilter(pod_sandbox_id=sandbox_id))
    assert [c.id for c in listed] == [container_id]
    assert [s.id for s in await cri.list_pod_sandbox()] == [sandbox_id]

    await _tear_down(cri, sandbox_id, container_id)
    assert await cri.list_containers() == []
    assert await cri.list_pod_sandbox() == []


async def test_exec_sync_in_a_running_container(
    cri: CRIClient, tmp_path: Path, pod_uids: list[str], cleanup: None
) -> None:
    sandbox_id, container_id = await _start_pod(cri, tmp_path, pod_uids, "sleeper", "sleep", ["sleep", "60"])
    assert (await cri.container_status(container_id)).state == pb.CONTAINER_RUNNING

    code, out, err = await cri.exec_sync(
        container_id, ["sh", "-c", "echo probe-ok; echo oops >&2; exit 3"], 10
    )
    assert (code, out, err) == (3, b"probe-ok\n", b"oops\n")
    assert await cri.exec_sync(container_id, ["true"], 0) == (0, b"", b"")

    await _tear_down(cri, sandbox_id, container_id)
    assert await cri.list_pod_sandbox() == []


async def test_an_unknown_container_id_is_a_cri_error_naming_the_rpc(cri: CRIClient) -> None:
    with pytest.raises(CRIError) as caught:
        await cri.container_status("no-such-container")
    error = caught.value
    assert error.rpc == "ContainerStatus"
    assert error.status == Status.NOT_FOUND
    assert "no-such-container" in error.message
    assert str(error).startswith("CRI ContainerStatus failed (NOT_FOUND): ")

    with pytest.raises(CRIError, match="StartContainer"):
        await cri.start_container("no-such-container")


async def test_a_missing_socket_is_an_unavailable_cri_error(tmp_path: Path) -> None:
    client = CRIClient(str(tmp_path / "absent.sock"), timeout=5)
    try:
        with pytest.raises(CRIError) as caught:
            await client.version()
    finally:
        client.close()
    assert (caught.value.rpc, caught.value.status) == ("Version", Status.UNAVAILABLE)
    assert "absent.sock" in str(caught.value)
