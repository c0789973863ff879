"""An async CRI v1 client (`runtime.v1`) for containerd's unix socket, on grpclib.

grpclib instead of grpcio keeps the edge lean (+6.6 MB resident against +19 MB, and no threads); the
messages come from `cri_pb`, which loads them without grpcio. Every call has a deadline and fails with a
`CRIError` that names the RPC, so a stuck or missing runtime never hangs Edged or crashes it.

containerd facts the callers must respect (shared/reference/containerd.md, section 3): leave the sandbox
hostname empty for host network, never ask for a negative oom_score_adj, create the log directory before
CreateContainer, set cgroup_parent, check ImageStatus before PullImage, and poll: containerd 1.6 does
not implement GetContainerEvents.
"""

from __future__ import annotations

import logging
from typing import Any

from grpclib.client import Channel, UnaryUnaryMethod
from grpclib.const import Status
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

from kedge.edge.edged.runtime.cri_pb import pb

__all__ = ["DEFAULT_TIMEOUT", "CRIClient", "CRIError", "pb"]

log = logging.getLogger(__name__)

# kubelet's runtimeRequestTimeout default (2 min): long image or sandbox operations fit in it.
DEFAULT_TIMEOUT = 120.0

_RUNTIME = "/runtime.v1.RuntimeService/"
_IMAGE = "/runtime.v1.ImageService/"


class CRIError(Exception):
    """A CRI call failed: the runtime answered with a gRPC error, missed the deadline or is unreachable."""

    def __init__(self, rpc: str, status: Status, message: str) -> None:
        super().__init__(rpc, status, message)
        self.rpc = rpc
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"CRI {self.rpc} failed ({self.status.name}): {self.message}"


class CRIClient:
    """CRI v1 RuntimeService and ImageService over one HTTP/2 connection to a unix socket.

    The connection opens on the first call (inside the running loop) and reconnects after a failure;
    `close()` it when done. Protobuf messages are built with `pb` (re-exported here).
    """

    def __init__(self, path: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not path:
            raise ValueError("CRI socket path is empty")
        if timeout <= 0:
            raise ValueError(f"CRI request timeout must be positive, got {timeout!r}")
        self.path = path
        self.timeout = timeout
        self._channel: Channel | None = None
        self._methods: dict[str, UnaryUnaryMethod[Any, Any]] = {}

    @classmethod
    def from_endpoint(cls, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT) -> CRIClient:
        """A client for KubeEdge's `remoteRuntimeEndpoint`, e.g. `unix:///run/containerd/containerd.sock`."""
        scheme, sep, rest = endpoint.partition("://")
        if not sep:
            raise ValueError(f"CRI endpoint {endpoint!r} has no scheme; expected unix:///path/to/socket")
        if scheme != "unix":
            raise ValueError(
                f"CRI endpoint {endpoint!r}: scheme {scheme!r} is not supported; expected unix:///path/to/socket"
            )
        if not rest.startswith("/"):
            raise ValueError(f"CRI endpoint {endpoint!r}: the socket path must be absolute (unix:///path)")
        return cls(rest, timeout=timeout)

    def __repr__(self) -> str:
        return f"CRIClient(path={self.path!r}, timeout={self.timeout!r})"

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._methods.clear()

    async def __aenter__(self) -> CRIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def _call(self, name: str, request: Any, reply_type: type, timeout: float | None = None) -> Any:
        rpc = name.rpartition("/")[2]
        method = self._methods.get(name)
        if method is None:
            if self._channel is None:
                self._channel = Channel(path=self.path)
            method = UnaryUnaryMethod(self._channel, name, type(request), reply_type)
            self._methods[name] = method
        deadline = self.timeout if timeout is None else timeout
        try:
            return await method(request, timeout=deadline)
        except GRPCError as exc:
            raise CRIError(rpc, exc.status, exc.message or "") from exc
        except TimeoutError as exc:
            raise CRIError(rpc, Status.DEADLINE_EXCEEDED, f"no answer within {deadline:g} s") from exc
        except (OSError, ProtocolError, StreamTerminatedError) as exc:
            # The runtime is down or restarting; drop the connection so the next call dials again.
            log.debug("CRI %s: connection to %s failed: %r", rpc, self.path, exc)
            self.close()
            raise CRIError(rpc, Status.UNAVAILABLE, f"cannot reach {self.path}: {exc}") from exc

    # RuntimeService: runtime

    async def version(self) -> Any:
        """VersionResponse: runtime_name ('containerd'), runtime_version, runtime_api_version ('v1')."""
        return await self._call(_RUNTIME + "Version", pb.VersionRequest(version="v1"), pb.VersionResponse)

    async def status(self, verbose: bool = False) -> Any:
        """StatusResponse: conditions RuntimeReady and NetworkReady."""
        return await self._call(_RUNTIME + "Status", pb.StatusRequest(verbose=verbose), pb.StatusResponse)

    # ImageService

    async def image_status(self, image: str) -> Any | None:
        """The Image if the runtime has it, else None (the answer to IfNotPresent / Never)."""
        request = pb.ImageStatusRequest(image=pb.ImageSpec(image=image))
        reply = await self._call(_IMAGE + "ImageStatus", request, pb.ImageStatusResponse)
        return reply.image if reply.HasField("image") else None

    async def pull_image(self, image: str) -> str:
        """Pulls `image` from its registry; returns the image ref (its id). Call image_status first."""
        request = pb.PullImageRequest(image=pb.ImageSpec(image=image))
        reply = await self._call(_IMAGE + "PullImage", request, pb.PullImageResponse)
        return reply.image_ref

    async def list_images(self, filter: Any | None = None) -> list[Any]:
        request = pb.ListImagesRequest(filter=filter)  # None leaves the field unset
        reply = await self._call(_IMAGE + "ListImages", request, pb.ListImagesResponse)
        return list(reply.images)

    # RuntimeService: pod sandboxes

    async def run_pod_sandbox(self, config: Any, runtime_handler: str = "") -> str:
        """Starts a sandbox from a PodSandboxConfig; returns its id."""
        request = pb.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler)
        reply = await self._call(_RUNTIME + "RunPodSandbox", request, pb.RunPodSandboxResponse)
        return reply.pod_sandbox_id

    async def pod_sandbox_status(self, sandbox_id: str) -> Any:
        """PodSandboxStatus: state, network (ip), metadata, labels."""
        request = pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id)
        reply = await self._call(_RUNTIME + "PodSandboxStatus", request, pb.PodSandboxStatusResponse)
        return reply.status

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        request = pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id)
        await self._call(_RUNTIME + "StopPodSandbox", request, pb.StopPodSandboxResponse)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        request = pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id)
        await self._call(_RUNTIME + "RemovePodSandbox", request, pb.RemovePodSandboxResponse)

    async def list_pod_sandbox(self, filter: Any | None = None) -> list[Any]:
        request = pb.ListPodSandboxRequest(filter=filter)  # None leaves the field unset
        reply = await self._call(_RUNTIME + "ListPodSandbox", request, pb.ListPodSandboxResponse)
        return list(reply.items)

    # RuntimeService: containers

    async def create_container(self, sandbox_id: str, config: Any, sandbox_config: Any) -> str:
        """Creates a container from a ContainerConfig in a sandbox; returns its id."""
        request = pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config
        )
        reply = await self._call(_RUNTIME + "CreateContainer", request, pb.CreateContainerResponse)
        return reply.container_id

    async def start_container(self, container_id: str) -> None:
        request = pb.StartContainerRequest(container_id=container_id)
        await self._call(_RUNTIME + "StartContainer", request, pb.StartContainerResponse)

    async def container_status(self, container_id: str) -> Any:
        """ContainerStatus: state, exit_code, reason, message, log_path, started_at/finished_at (ns)."""
        request = pb.ContainerStatusRequest(container_id=container_id)
        reply = await self._call(_RUNTIME + "ContainerStatus", request, pb.ContainerStatusResponse)
        return reply.status

    async def stop_container(self, container_id: str, timeout: int) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds (the grace period); the deadline adds that time."""
        if timeout < 0:
            raise ValueError(f"StopContainer grace period must not be negative, got {timeout!r}")
        request = pb.StopContainerRequest(container_id=container_id, timeout=timeout)
        await self._call(
            _RUNTIME + "StopContainer", request, pb.StopContainerResponse, timeout=self.timeout + timeout
        )

    async def remove_container(self, container_id: str) -> None:
        request = pb.RemoveContainerRequest(container_id=container_id)
        await self._call(_RUNTIME + "RemoveContainer", request, pb.RemoveContainerResponse)

    async def list_containers(self, filter: Any | None = None) -> list[Any]:
        request = pb.ListContainersRequest(filter=filter)  # None leaves the field unset
        reply = await self._call(_RUNTIME + "ListContainers", request, pb.ListContainersResponse)
        return list(reply.containers)

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: int) -> tuple[int, bytes, bytes]:
        """Runs `cmd` in a running container; returns (exit_code, stdout, stderr). `timeout` is the command's
        limit in seconds (0: none), enforced by the runtime; the call's deadline adds it to the client's."""
        if not cmd:
            raise ValueError("ExecSync needs a command")
        if timeout < 0:
            raise ValueError(f"ExecSync timeout must not be negative, got {timeout!r}")
        request = pb.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout)
        reply = await self._call(
            _RUNTIME + "ExecSync", request, pb.ExecSyncResponse, timeout=self.timeout + timeout
        )
        return reply.exit_code, reply.stdout, reply.stderr
