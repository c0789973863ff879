"""`PodRuntime` over containerd's CRI: a thin translation of Edged's specs into CRI v1 messages.

The containerd facts it respects (shared/reference/containerd.md, section 3): the hostname stays empty with
host network, no negative oom_score_adj is ever asked for, log directories are made before the runtime
needs them, ImageStatus is asked before PullImage, and state is polled (containerd 1.6 has no event stream).
containerd leaves a pod's cgroup_parent behind, so `remove_sandbox` removes it, as kubelet does.

Container and sandbox states are polled often, so what cannot change is cached: a sandbox's IP, and an
exited container's status (a running one's start time too). ContainerStatus is asked only when the state
ListContainers reports differs from the cached one.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from grpclib.const import Status

from kedge.edge.edged.runtime import base, cgroupfs
from kedge.edge.edged.runtime.base import (
    ContainerInfo,
    ContainerSpec,
    RuntimeFailure,
    SandboxInfo,
    SandboxSpec,
)
from kedge.edge.edged.runtime.cri import CRIClient, CRIError, pb

__all__ = ["ANNOTATION_CGROUP_PARENT", "CRIRuntime"]

log = logging.getLogger(__name__)

#: Sandbox annotation recording the pod's cgroup_parent: PodSandboxStatus does not report it, and
#: `remove_sandbox` (maybe in a later edgecore process) must know which directory to remove.
ANNOTATION_CGROUP_PARENT = "io.kedge.cgroup-parent"

_PULL_POLICIES = ("Always", "IfNotPresent", "Never")

_STATES = {
    pb.CONTAINER_CREATED: base.CREATED,
    pb.CONTAINER_RUNNING: base.RUNNING,
    pb.CONTAINER_EXITED: base.EXITED,
    pb.CONTAINER_UNKNOWN: base.UNKNOWN,
}


def _seconds(ns: int) -> float:
    return ns / 1e9 if ns else 0.0


def _failure(exc: CRIError, reason: str, what: str) -> RuntimeFailure:
    """A RuntimeFailure for a failed CRI call: an unreachable runtime is RuntimeNotReady whatever the call."""
    if exc.status == Status.UNAVAILABLE:
        return RuntimeFailure("RuntimeNotReady", f"{what}: {exc}")
    return RuntimeFailure(reason, f"{what}: {exc}")


def _pod_labels(spec: SandboxSpec, node: str) -> dict[str, str]:
    """The labels that tie a runtime object to its pod and to this node's Edged."""
    return {
        base.LABEL_POD_UID: spec.uid,
        base.LABEL_POD_NAME: spec.name,
        base.LABEL_POD_NAMESPACE: spec.namespace,
        base.LABEL_NODE: node,
    }


class CRIRuntime:
    """Edged's PodRuntime on a CRI v1 runtime (containerd), through `client`; objects are labelled with
    `node` and only those are listed."""

    kind = "cri"

    def __init__(self, client: CRIClient, node: str) -> None:
        if not node:
            raise ValueError("CRIRuntime needs the node name (it labels and finds the pods it made)")
        self.client = client
        self.node = node
        self._ips: dict[str, str] = {}  # sandbox id -> IP ("" with host network); fixed for its life
        self._containers: dict[str, ContainerInfo] = {}  # container id -> last status (running / exited)

    # lifecycle

    async def start(self) -> None:
        try:
            version = await self.client.version()
            status = await self.client.status()
        except CRIError as exc:
            raise RuntimeFailure(
                "RuntimeNotReady", f"container runtime at {self.client.path}: {exc}"
            ) from exc
        conditions = {c.type: c for c in status.status.conditions}
        ready = conditions.get("RuntimeReady")
        if ready is None or not ready.status:
            why = f"{ready.reason}: {ready.message}" if ready is not None else "no RuntimeReady condition"
            raise RuntimeFailure(
                "RuntimeNotReady", f"container runtime at {self.client.path} is not ready ({why})"
            )
        network = conditions.get("NetworkReady")
        if network is not None and not network.status:
            # host-network pods still run; pod-network sandboxes will fail with CreatePodSandboxError
            log.warning("container runtime network is not ready (%s: %s)", network.reason, network.message)
        log.info(
            "container runtime %s %s (CRI %s) at %s",
            version.runtime_name,
            version.runtime_version,
            version.runtime_api_version,
            self.client.path,
        )

    async def close(self) -> None:
        self.client.close()

    async def version(self) -> str:
        try:
            reply = await self.client.version()
        except CRIError as exc:
            raise _failure(exc, "RuntimeNotReady", "runtime version") from exc
        return f"{reply.runtime_name or 'containerd'}://{reply.runtime_version}"

    # images

    async def ensure_image(self, image: str, pull_policy: str) -> str:
        """The image's id (usable as ContainerSpec.image), pulling it when missing and the policy allows."""
        if pull_policy not in _PULL_POLICIES:
            raise RuntimeFailure(
                "ErrImagePull",
                f"unknown image pull policy {pull_policy!r} for image {image!r}: "
                "expected Always, IfNotPresent or Never",
            )
        if not image:
            raise RuntimeFailure("InvalidImageName", "the container has no image")
        try:
            present = await self.client.image_status(image)
        except CRIError as exc:
            raise _failure(exc, "ImageInspectError", f'Failed to inspect image "{image}"') from exc
        if present is not None:
            # Always would ask the registry for a newer image; no registry is reachable on these edge
            # nodes, so the local image is used for every policy.
            return present.id
        if pull_policy == "Never":
            raise RuntimeFailure(
                "ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never'
            )
        try:
            return await self.client.pull_image(image)
        except CRIError as exc:
            raise _failure(exc, "ErrImagePull", f'Failed to pull image "{image}"') from exc

    # sandboxes

    def _sandbox_config(self, spec: SandboxSpec) -> Any:
        host = spec.host_network
        annotations = dict(spec.annotations)
        linux = pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=self._namespaces(spec))
        )
        if spec.cgroup_parent:
            linux.cgroup_parent = spec.cgroup_parent
            annotations[ANNOTATION_CGROUP_PARENT] = spec.cgroup_parent
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(
                name=spec.name, uid=spec.uid, namespace=spec.namespace, attempt=spec.attempt
            ),
            # runc cannot set a hostname without a private UTS namespace, which host network lacks
            hostname="" if host else spec.hostname,
            log_directory=spec.log_directory,
            labels={**spec.labels, **_pod_labels(spec, self.node)},
            annotations=annotations,
            linux=linux,
        )

    @staticmethod
    def _namespaces(spec: SandboxSpec) -> Any:
        return pb.NamespaceOption(
            network=pb.NODE if spec.host_network else pb.POD, pid=pb.CONTAINER, ipc=pb.POD
        )

    async def run_sandbox(self, spec: SandboxSpec) -> SandboxInfo:
        what = f"pod sandbox for {spec.namespace}/{spec.name} ({spec.uid})"
        try:
            if spec.log_directory:
                os.makedirs(spec.log_directory, exist_ok=True)
        except OSError as exc:
            raise RuntimeFailure(
                "CreatePodSandboxError", f"{what}: cannot create log directory {spec.log_directory}: {exc}"
            ) from exc
        try:
            sandbox_id = await self.client.run_pod_sandbox(self._sandbox_config(spec))
            status = await self.client.pod_sandbox_status(sandbox_id)
        except CRIError as exc:
            raise _failure(exc, "CreatePodSandboxError", what) from exc
        return self._sandbox_info(status, self._ip_of(status))

    @staticmethod
    def _ip_of(status: Any) -> str:
        if status.linux.namespaces.options.network == pb.NODE:
            return ""  # host network: the runtime has no pod IP to give
        return status.network.ip

    def _sandbox_info(self, item: Any, ip: str) -> SandboxInfo:
        self._ips[item.id] = ip
        meta = item.metadata
        return SandboxInfo(
            id=item.id,
            uid=meta.uid,
            namespace=meta.namespace,
            name=meta.name,
            attempt=meta.attempt,
            ready=item.state == pb.SANDBOX_READY,
            ip=ip,
            created_at=_seconds(item.created_at),
            labels=dict(item.labels),
        )

    async def stop_sandbox(self, sandbox_id: str) -> None:
        try:
            await self.client.stop_pod_sandbox(sandbox_id)
        except CRIError as exc:
            if exc.status != Status.NOT_FOUND:
                raise _failure(exc, "KillPodSandboxError", f"stopping pod sandbox {sandbox_id}") from exc

    async def remove_sandbox(self, sandbox_id: str) -> None:
        what = f"removing pod sandbox {sandbox_id}"
        try:
            status = await self.client.pod_sandbox_status(sandbox_id)
        except CRIError as exc:
            if exc.status != Status.NOT_FOUND:
                raise _failure(exc, "RemovePodSandboxError", what) from exc
            status = None
        try:
            # containerd 1.6 refuses to remove a sandbox that is still ready
            await self.client.stop_pod_sandbox(sandbox_id)
            await self.client.remove_pod_sandbox(sandbox_id)
        except CRIError as exc:
            if exc.status != Status.NOT_FOUND:
                raise _failure(exc, "RemovePodSandboxError", what) from exc
        self._ips.pop(sandbox_id, None)
        for cid in [cid for cid, c in self._containers.items() if c.sandbox_id == sandbox_id]:
            del self._containers[cid]
        if status is not None:
            parent = status.annotations.get(ANNOTATION_CGROUP_PARENT, "")
            uid = status.metadata.uid
            # only a directory named after this pod: a shared parent holds other pods' cgroups
            if parent and uid and uid in parent.rstrip("/").rpartition("/")[2]:
                cgroupfs.remove_everywhere(parent)
            elif parent:
                log.warning(
                    "pod %s: cgroup_parent %s is not the pod's own directory, left alone", uid, parent
                )

    async def list_sandboxes(self) -> list[SandboxInfo]:
        flt = pb.PodSandboxFilter(label_selector={base.LABEL_NODE: self.node})
        try:
            items = await self.client.list_pod_sandbox(flt)
        except CRIError as exc:
            raise _failure(exc, "RuntimeNotReady", "listing pod sandboxes") from exc
        found: list[SandboxInfo] = []
        for item in items:
            ip = self._ips.get(item.id)
            if ip is None and item.state == pb.SANDBOX_READY:
                try:
                    ip = self._ip_of(await self.client.pod_sandbox_status(item.id))
                except CRIError as exc:
                    if exc.status == Status.NOT_FOUND:
                        continue  # removed meanwhile
                    raise _failure(exc, "RuntimeNotReady", f"status of pod sandbox {item.id}") from exc
            found.append(self._sandbox_info(item, ip or ""))
        listed = {s.id for s in found}
        for gone in [sid for sid in self._ips if sid not in listed]:
            del self._ips[gone]
        return found

    # containers

    def _container_config(self, sandbox_spec: SandboxSpec, spec: ContainerSpec) -> Any:
        resources = pb.LinuxContainerResources(
            memory_limit_in_bytes=spec.memory_limit,
            cpu_quota=spec.cpu_quota,
            cpu_period=spec.cpu_period,
            cpu_shares=spec.cpu_shares,
            oom_score_adj=0,  # never negative: these hosts lack CAP_SYS_RESOURCE (containerd.md 3.1)
        )
        security = pb.LinuxContainerSecurityContext(namespace_options=self._namespaces(sandbox_spec))
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=spec.name, attempt=spec.attempt),
            image=pb.ImageSpec(image=spec.image),
            command=spec.command,
            args=spec.args,
            working_dir=spec.working_dir,
            envs=[pb.KeyValue(key=k, value=v) for k, v in spec.env],
            mounts=[
                pb.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.readonly)
                for m in spec.mounts
            ],
            labels={
                **spec.labels,
                **_pod_labels(sandbox_spec, self.node),
                base.LABEL_CONTAINER_NAME: spec.name,
            },
            annotations=spec.annotations,
            log_path=spec.log_path,
            linux=pb.LinuxContainerConfig(resources=resources, security_context=security),
        )

    async def create_container(
        self, sandbox: SandboxInfo, sandbox_spec: SandboxSpec, spec: ContainerSpec
    ) -> str:
        what = f"creating container {spec.name} in pod {sandbox_spec.namespace}/{sandbox_spec.name}"
        if spec.log_path:
            if not sandbox_spec.log_directory:
                raise RuntimeFailure(
                    "CreateContainerError",
                    f"{what}: log path {spec.log_path!r} needs the sandbox's log directory, which is empty",
                )
            log_dir = os.path.dirname(os.path.join(sandbox_spec.log_directory, spec.log_path))
            try:
                os.makedirs(log_dir, exist_ok=True)  # containerd does not create it
            except OSError as exc:
                raise RuntimeFailure(
                    "CreateContainerError", f"{what}: log directory {log_dir}: {exc}"
                ) from exc
        try:
            return await self.client.create_container(
                sandbox.id, self._container_config(sandbox_spec, spec), self._sandbox_config(sandbox_spec)
            )
        except CRIError as exc:
            raise _failure(exc, "CreateContainerError", what) from exc
        except (TypeError, ValueError) as exc:  # a spec protobuf refuses (e.g. a non-string env value)
            raise RuntimeFailure("CreateContainerError", f"{what}: {exc}") from exc

    async def start_container(self, container_id: str) -> None:
        try:
            await self.client.start_container(container_id)
        except CRIError as exc:
            raise _failure(exc, "RunContainerError", f"starting container {container_id}") from exc

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        try:
            await self.client.stop_container(container_id, max(0, grace_seconds))
        except CRIError as exc:
            if exc.status != Status.NOT_FOUND:
                raise _failure(exc, "KillContainerError", f"stopping container {container_id}") from exc

    async def remove_container(self, container_id: str) -> None:
        try:
            await self.client.remove_container(container_id)
        except CRIError as exc:
            if exc.status != Status.NOT_FOUND:
                raise _failure(exc, "RemoveContainerError", f"removing container {container_id}") from exc
        self._containers.pop(container_id, None)

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerInfo]:
        flt = pb.ContainerFilter(label_selector={base.LABEL_NODE: self.node})
        if sandbox_id is not None:
            flt.pod_sandbox_id = sandbox_id
        try:
            items = await self.client.list_containers(flt)
        except CRIError as exc:
            raise _failure(exc, "RuntimeNotReady", "listing containers") from exc
        found: list[ContainerInfo] = []
        for item in items:
            state = _STATES.get(item.state, base.UNKNOWN)
            cached = self._containers.get(item.id)
            if cached is not None and cached.state == state:
                found.append(cached)
                continue
            try:
                status = await self.client.container_status(item.id)
            except CRIError as exc:
                if exc.status == Status.NOT_FOUND:
                    continue  # removed meanwhile
                raise _failure(exc, "RuntimeNotReady", f"status of container {item.id}") from exc
            info = self._container_info(item.pod_sandbox_id, status)
            if info.state in (base.RUNNING, base.EXITED):
                self._containers[item.id] = info
            found.append(info)
        if sandbox_id is None:
            listed = {c.id for c in found}
            for gone in [cid for cid in self._containers if cid not in listed]:
                del self._containers[gone]
        return found

    @staticmethod
    def _container_info(sandbox_id: str, status: Any) -> ContainerInfo:
        return ContainerInfo(
            id=status.id,
            sandbox_id=sandbox_id,
            name=status.metadata.name,
            attempt=status.metadata.attempt,
            state=_STATES.get(status.state, base.UNKNOWN),
            image=status.image.image,
            image_ref=status.image_ref,
            exit_code=status.exit_code,
            reason=status.reason,
            message=status.message,
            created_at=_seconds(status.created_at),
            started_at=_seconds(status.started_at),
            finished_at=_seconds(status.finished_at),
            log_path=status.log_path,
            labels=dict(status.labels),
        )

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: int) -> tuple[int, bytes, bytes]:
        what = f"exec {cmd!r} in container {container_id}"
        if not cmd:
            raise RuntimeFailure("ExecSyncError", f"exec in container {container_id}: no command")
        try:
            return await self.client.exec_sync(container_id, cmd, max(0, timeout))
        except CRIError as exc:
            if exc.status == Status.DEADLINE_EXCEEDED:
                raise RuntimeFailure(
                    base.REASON_EXEC_TIMEOUT, f"{what}: timed out after {timeout} s"
                ) from exc
            raise _failure(exc, "ExecSyncError", what) from exc
