"""What Edged asks of a container runtime, whichever it is (containerd's CRI, or host processes).

The shapes follow CRI v1 closely (a pod is a sandbox holding containers; containers are created, started,
stopped and removed by id; state is polled), so the CRI implementation is a thin translation and the
process runtime reproduces the same lifecycle on the host. Times are seconds since the epoch (float).
Every failure is a `RuntimeFailure` whose `reason` is the Kubernetes waiting/termination reason Edged puts
in the pod status (ErrImageNeverPull, CreateContainerError, RunContainerError, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

#: Container states (CRI ContainerState names without the prefix).
CREATED = "created"
RUNNING = "running"
EXITED = "exited"
UNKNOWN = "unknown"

#: Labels every runtime object carries, so Edged finds what it owns after a restart (kubelet's names).
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
#: The node whose Edged made the object: another Edged (or a kubelet) on the same runtime is left alone.
LABEL_NODE = "io.kedge.node"

#: RuntimeFailure reason of an exec_sync whose command outlived its timeout (it was killed).
REASON_EXEC_TIMEOUT = "ExecTimeout"


class RuntimeFailure(Exception):
    """A runtime operation failed; `reason` is a Kubernetes status reason, the text says what and why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class Mount:
    container_path: str
    host_path: str
    readonly: bool = False


@dataclass(slots=True)
class SandboxSpec:
    uid: str
    namespace: str
    name: str
    attempt: int = 0
    host_network: bool = False
    hostname: str = ""  # ignored (left empty) with host network: runc cannot set it without a UTS namespace
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_directory: str = ""  # created by the runtime if missing
    cgroup_parent: str = ""  # CRI only, e.g. /kubepods/besteffort/pod<uid>


@dataclass(slots=True)
class ContainerSpec:
    name: str
    image: str
    command: list[str] = field(default_factory=list)  # empty: the image's entrypoint (CRI only)
    args: list[str] = field(default_factory=list)
    env: list[tuple[str, str]] = field(default_factory=list)
    working_dir: str = ""
    mounts: list[Mount] = field(default_factory=list)
    attempt: int = 0  # restart count; part of the container's identity
    log_path: str = ""  # relative to the sandbox's log_directory, e.g. "<name>/<attempt>.log"
    memory_limit: int = 0  # bytes; 0 = none
    cpu_quota: int = 0  # microseconds per cpu_period; 0 = none
    cpu_period: int = 0
    cpu_shares: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SandboxInfo:
    id: str
    uid: str
    namespace: str
    name: str
    attempt: int
    ready: bool
    ip: str = ""
    created_at: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ContainerInfo:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    state: str  # CREATED, RUNNING, EXITED, UNKNOWN
    image: str = ""
    image_ref: str = ""
    exit_code: int = 0
    reason: str = ""  # Completed, Error, OOMKilled ... (for EXITED)
    message: str = ""
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    log_path: str = ""  # absolute
    labels: dict[str, str] = field(default_factory=dict)


class PodRuntime(Protocol):
    """A container runtime as Edged drives it. Implementations: `cri_runtime.CRIRuntime`,
    `process.ProcessRuntime`. All methods raise `RuntimeFailure` on failure, never anything else
    for runtime-side problems (bad specs included)."""

    #: "cri" or "process": shown in the node's containerRuntimeVersion and in logs
    kind: str

    async def start(self) -> None:
        """Connect and check the runtime is usable (raises RuntimeFailure with reason "RuntimeNotReady")."""

    async def close(self) -> None: ...

    async def version(self) -> str:
        """e.g. "containerd://1.6.20" or "process://kedge" (NodeStatus.nodeInfo.containerRuntimeVersion)."""

    async def ensure_image(self, image: str, pull_policy: str) -> str:
        """Make `image` available per pull policy (Always, IfNotPresent, Never); returns the image ref.
        No registry is reachable here, so a missing image fails with ErrImageNeverPull (Never) or
        ErrImagePull (otherwise), naming the image."""

    async def run_sandbox(self, spec: SandboxSpec) -> SandboxInfo: ...

    async def stop_sandbox(self, sandbox_id: str) -> None:
        """Stops every container left in it and the sandbox itself; idempotent."""

    async def remove_sandbox(self, sandbox_id: str) -> None:
        """Removes the sandbox and its containers; idempotent (an unknown id is not an error)."""

    async def list_sandboxes(self) -> list[SandboxInfo]:
        """Sandboxes this node's Edged made (label LABEL_NODE), ready or not."""

    async def create_container(
        self, sandbox: SandboxInfo, sandbox_spec: SandboxSpec, spec: ContainerSpec
    ) -> str:
        """Returns the container id; CreateContainerError on failure."""

    async def start_container(self, container_id: str) -> None:
        """RunContainerError on failure."""

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        """SIGTERM, SIGKILL after the grace period; returns when it has exited. Idempotent."""

    async def remove_container(self, container_id: str) -> None:
        """Idempotent."""

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerInfo]:
        """Containers of one sandbox, or of all this node's sandboxes; with current state."""

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: int) -> tuple[int, bytes, bytes]:
        """Runs `cmd` inside a running container (exec probes); (exit_code, stdout, stderr)."""
