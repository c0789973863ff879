"""`PodRuntime` on plain host processes, for devices without containerd (and for the demo).

A sandbox is a directory holding a JSON state file; a container is a command run under a small supervising
shim (`process_shim`) that records its exit status on disk, so the state survives edgecore: a new
ProcessRuntime on the same root (after a restart, even after kill -9) finds every container again, running
ones still running (recognised by pid and kernel start time, so a reused pid is not mistaken for them) and
exited ones with their exit code. Every state file is written whole (temporary file + rename).

Layout under `root`:
    sandboxes/<id>/sandbox.json                           the pod: metadata, labels, log directory, ready
    containers/<id>/container.json                        the spec and what happened to it
    containers/<id>/{pid,exit,start-error}                written by the shim

What differs from a container runtime: images are not used (no image, no entrypoint: a command is
required); the network is the host's (sandbox IP ""); logs are the command's plain stdout+stderr appended to
the log file, not CRI's timestamped line format (that would need a reader per container alive in edgecore);
volumes are bind mounts in a private mount namespace and need root; memory limits need root and the cgroup
v1 memory controller (`/sys/fs/cgroup/memory/kedge/<pod uid>/<container id>`), and CPU limits are not
enforced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Any, NoReturn

from kedge.edge.edged.runtime import base, cgroupfs, process_shim
from kedge.edge.edged.runtime.base import (
    ContainerInfo,
    ContainerSpec,
    RuntimeFailure,
    SandboxInfo,
    SandboxSpec,
)
from kedge.edge.edged.runtime.process_shim import EXIT_FILE, PID_FILE, START_ERROR_FILE, Tools

__all__ = ["ProcessRuntime"]

log = logging.getLogger(__name__)

VERSION = "process://kedge"

#: containerd's exit code and reason for a container whose exit status was lost (its shim was killed or
#: the host rebooted while it ran).
UNKNOWN_EXIT_CODE = 255
UNKNOWN_EXIT_REASON = "Unknown"

_ID = re.compile(r"[0-9a-f]{32}")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_START_TIMEOUT = 10.0  # seconds for the shim to reach the command
_KILL_TIMEOUT = 10.0  # seconds for a SIGKILLed process group to be reported gone
_POLL = 0.01


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` whole: a reader (or a restart after kill -9) sees the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


class ProcessRuntime:
    """Edged's PodRuntime on host processes; all state lives under `root`, objects carry `node`'s label."""

    kind = "process"

    def __init__(self, root: str | Path, node: str) -> None:
        if not node:
            raise ValueError("ProcessRuntime needs the node name (it labels and finds the pods it made)")
        self.root = Path(root)
        self.node = node
        self._sandboxes = self.root / "sandboxes"
        self._containers = self.root / "containers"
        self._tools = Tools.find()
        self._boot = process_shim.boot_id()
        self._warned: set[str] = set()
        self._memory_cgroups: bool | None = None  # decided on first use

    # lifecycle

    async def start(self) -> None:
        missing = self._tools.missing("sh", "setsid", "env", "mv")
        if missing:
            raise RuntimeFailure(
                "RuntimeNotReady",
                f"the process runtime needs {', '.join(missing)} on this host ({process_shim.SYSTEM_PATH})",
            )
        try:
            for path in (self.root, self._sandboxes, self._containers):
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise RuntimeFailure(
                "RuntimeNotReady", f"process runtime state directory {self.root}: {exc}"
            ) from exc
        log.info("process runtime at %s (as root: %s; volumes need root)", self.root, os.geteuid() == 0)

    async def close(self) -> None:
        """Nothing to release: the containers keep running under their shims."""

    async def version(self) -> str:
        return VERSION

    async def ensure_image(self, image: str, pull_policy: str) -> str:
        # Host processes run the command as given: no image is pulled or unpacked, so any image "is
        # present". The name is kept only to report it back in the container status.
        return image

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    # sandboxes

    def _sandbox_dir(self, sandbox_id: str) -> Path | None:
        return self._sandboxes / sandbox_id if _ID.fullmatch(sandbox_id) else None

    def _load_sandbox(self, sandbox_id: str) -> dict[str, Any] | None:
        path = self._sandbox_dir(sandbox_id)
        return None if path is None else _read_json(path / "sandbox.json")

    async def run_sandbox(self, spec: SandboxSpec) -> SandboxInfo:
        sandbox_id = uuid.uuid4().hex
        path = self._sandboxes / sandbox_id
        log_dir = spec.log_directory or str(path / "logs")
        record = {
            "id": sandbox_id,
            "uid": spec.uid,
            "namespace": spec.namespace,
            "name": spec.name,
            "attempt": spec.attempt,
            "labels": {
                **spec.labels,
                base.LABEL_POD_UID: spec.uid,
                base.LABEL_POD_NAME: spec.name,
                base.LABEL_POD_NAMESPACE: spec.namespace,
                base.LABEL_NODE: self.node,
            },
            "annotations": dict(spec.annotations),
            "log_directory": log_dir,
            "created_at": time.time(),
            "ready": True,
        }
        try:
            path.mkdir(mode=0o700, parents=True)
            os.makedirs(log_dir, exist_ok=True)
            _write_json(path / "sandbox.json", record)
        except OSError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise RuntimeFailure(
                "CreatePodSandboxError", f"pod sandbox for {spec.namespace}/{spec.name} ({spec.uid}): {exc}"
            ) from exc
        return self._sandbox_info(record)

    @staticmethod
    def _sandbox_info(record: dict[str, Any]) -> SandboxInfo:
        return SandboxInfo(
            id=record["id"],
            uid=record["uid"],
            namespace=record["namespace"],
            name=record["name"],
            attempt=record["attempt"],
            ready=record["ready"],
            ip="",  # host network
            created_at=record["created_at"],
            labels=dict(record["labels"]),
        )

    async def stop_sandbox(self, sandbox_id: str) -> None:
        record = self._load_sandbox(sandbox_id)
        if record is None:
            return
        for container in self._container_records(sandbox_id):
            await self.stop_container(container["id"], 0)  # as containerd: what is left is killed at once
        if record["ready"]:
            record["ready"] = False
            _write_json(self._sandboxes / sandbox_id / "sandbox.json", record)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        path = self._sandbox_dir(sandbox_id)
        if path is None or not path.exists():
            return
        record = _read_json(path / "sandbox.json")
        for container in self._container_records(sandbox_id):
            await self.remove_container(container["id"])
        if record is not None:  # containers' cgroups went with them; a crash may have left the pod's
            pod_cgroup = self._pod_cgroup(record["uid"], sandbox_id)
            if pod_cgroup.exists() and cgroupfs.rmdir_tree(pod_cgroup):
                try:
                    pod_cgroup.parent.rmdir()  # kedge/, when no other pod has a limited container
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)

    async def list_sandboxes(self) -> list[SandboxInfo]:
        found = []
        for path in self._entries(self._sandboxes):
            record = _read_json(path / "sandbox.json")
            if record is not None and record["labels"].get(base.LABEL_NODE) == self.node:
                found.append(self._sandbox_info(record))
        found.sort(key=lambda s: s.created_at)
        return found

    @staticmethod
    def _entries(directory: Path) -> list[Path]:
        try:
            return [p for p in directory.iterdir() if _ID.fullmatch(p.name)]
        except OSError:
            return []

    # containers: records

    def _container_dir(self, container_id: str) -> Path | None:
        return self._containers / container_id if _ID.fullmatch(container_id) else None

    def _load_container(self, container_id: str) -> dict[str, Any] | None:
        path = self._container_dir(container_id)
        return None if path is None else _read_json(path / "container.json")

    def _save_container(self, record: dict[str, Any]) -> None:
        _write_json(self._containers / record["id"] / "container.json", record)

    def _container_records(self, sandbox_id: str | None = None) -> list[dict[str, Any]]:
        records = []
        for path in self._entries(self._containers):
            record = _read_json(path / "container.json")
            if record is not None and (sandbox_id is None or record["sandbox_id"] == sandbox_id):
                records.append(record)
        return records

    def _pod_cgroup(self, uid: str, sandbox_id: str) -> Path:
        # the pod uid names the directory when it is a safe path component (it always is from Kubernetes)
        return cgroupfs.MEMORY_ROOT / "kedge" / (uid if _SAFE_NAME.fullmatch(uid) else sandbox_id)

    async def create_container(
        self, sandbox: SandboxInfo, sandbox_spec: SandboxSpec, spec: ContainerSpec
    ) -> str:
        what = f"container {spec.name} of pod {sandbox_spec.namespace}/{sandbox_spec.name}"
        sandbox_record = self._load_sandbox(sandbox.id)
        if sandbox_record is None:
            raise RuntimeFailure("CreateContainerError", f"{what}: pod sandbox {sandbox.id} does not exist")
        if not sandbox_record["ready"]:
            raise RuntimeFailure("CreateContainerError", f"{what}: pod sandbox {sandbox.id} is stopped")
        command = [*spec.command, *spec.args]
        if not spec.command:
            raise RuntimeFailure(
                "CreateContainerError", f"the process runtime needs a command: container {spec.name} has none"
            )
        self._check_spec(what, spec, command)
        for other in self._container_records(sandbox.id):
            if (other["name"], other["attempt"]) == (spec.name, spec.attempt):
                raise RuntimeFailure(
                    "CreateContainerError",
                    f"{what}: name {spec.name!r} attempt {spec.attempt} is taken by container {other['id']}",
                )
        env = dict(spec.env)
        env.setdefault("PATH", process_shim.SYSTEM_PATH)
        container_id = uuid.uuid4().hex
        sandbox_dir = self._sandboxes / sandbox.id
        log_rel = spec.log_path or f"{spec.name}/{spec.attempt}.log"
        log_path = os.path.join(sandbox_record["log_directory"], log_rel)
        cgroup = ""
        if spec.memory_limit > 0:
            if self._memory_cgroups is None:
                self._memory_cgroups = cgroupfs.memory_v1_usable()
            if self._memory_cgroups:
                cgroup = str(self._pod_cgroup(sandbox_record["uid"], sandbox.id) / container_id)
            else:
                self._warn_once(
                    "memory",
                    "memory limits are not enforced: the process runtime needs root and a writable "
                    "cgroup v1 memory controller at %s",
                    cgroupfs.MEMORY_ROOT,
                )
        if spec.cpu_quota > 0 or spec.cpu_shares > 0:
            self._warn_once("cpu", "CPU limits are not enforced by the process runtime")
        record = {
            "id": container_id,
            "sandbox_id": sandbox.id,
            "name": spec.name,
            "attempt": spec.attempt,
            "image": spec.image,
            "command": command,
            "env": sorted(env.items()),
            "working_dir": spec.working_dir or str(sandbox_dir),
            "mounts": [[m.host_path, m.container_path, m.readonly] for m in spec.mounts],
            "log_path": log_path,
            "memory_limit": spec.memory_limit,
            "cgroup": cgroup,
            "labels": {
                **spec.labels,
                **{k: v for k, v in sandbox_record["labels"].items() if k in _POD_LABELS},
                base.LABEL_CONTAINER_NAME: spec.name,
            },
            "annotations": dict(spec.annotations),
            "created_at": time.time(),
        }
        path = self._containers / container_id
        try:
            os.makedirs(os.path.dirname(log_path), exist_ok=True)
            path.mkdir(mode=0o700)
            self._save_container(record)
        except OSError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise RuntimeFailure("CreateContainerError", f"{what}: {exc}") from exc
        return container_id

    def _check_spec(self, what: str, spec: ContainerSpec, command: list[str]) -> None:
        def fail(text: str) -> RuntimeFailure:
            return RuntimeFailure("CreateContainerError", f"{what}: {text}")

        for word in command:
            if "\0" in word:
                raise fail(f"command word {word!r} holds a NUL byte")
        if "=" in command[0]:
            raise fail(f"command {command[0]!r}: a command name with '=' cannot be run")
        for key, value in spec.env:
            if not key or "=" in key or "\0" in key or "\0" in value:
                raise fail(f"environment variable {key!r} is not a valid name=value pair")
        if spec.working_dir and not os.path.isabs(spec.working_dir):
            raise fail(f"working directory {spec.working_dir!r} is not an absolute path")
        if spec.log_path and (os.path.isabs(spec.log_path) or ".." in Path(spec.log_path).parts):
            raise fail(f"log path {spec.log_path!r} must be relative to the pod's log directory")
        if spec.mounts:
            if os.geteuid() != 0:
                raise fail(
                    f"{len(spec.mounts)} volume mount(s) asked for, but the process runtime can mount "
                    "volumes only when edgecore runs as root"
                )
            missing = self._tools.missing("unshare", "mount", "nsenter")
            if missing:
                raise fail(f"volume mounts need {', '.join(missing)} on this host")
            for mount in spec.mounts:
                for side in (mount.host_path, mount.container_path):
                    if not os.path.isabs(side) or "\0" in side:
                        raise fail(f"volume path {side!r} is not an absolute path")

    # containers: state

    def _info(self, record: dict[str, Any]) -> ContainerInfo:
        """The container's current state, from its record and what the shim left; an exit seen for the
        first time is written into the record (with the OOM verdict, before the cgroup is gone)."""
        state, exit_code, reason, message, finished_at = base.CREATED, 0, "", "", 0.0
        finished = record.get("finished")
        if finished is None and "shim" in record:
            finished = self._observe_exit(record)
        if finished is not None:
            state = base.EXITED
            exit_code = finished["exit_code"]
            reason, message, finished_at = finished["reason"], finished["message"], finished["finished_at"]
        elif "shim" in record:
            state = base.RUNNING
        return ContainerInfo(
            id=record["id"],
            sandbox_id=record["sandbox_id"],
            name=record["name"],
            attempt=record["attempt"],
            state=state,
            image=record["image"],
            image_ref=record["image"],
            exit_code=exit_code,
            reason=reason,
            message=message,
            created_at=record["created_at"],
            started_at=record.get("started_at", 0.0),
            finished_at=finished_at,
            log_path=record["log_path"],
            labels=dict(record["labels"]),
        )

    def _shim_alive(self, record: dict[str, Any]) -> bool:
        shim = record["shim"]
        return shim["boot"] == self._boot and process_shim.alive(shim["pid"], shim["start"])

    def _observe_exit(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The exit of a started container if it has ended (then saved in its record), else None."""
        path = self._containers / record["id"]
        finished = self._read_exit(record, path)
        if finished is None:
            if self._shim_alive(record):
                return None
            # the shim may have written its status between the first look and its end
            finished = self._read_exit(record, path) or {
                "exit_code": UNKNOWN_EXIT_CODE,
                "reason": UNKNOWN_EXIT_REASON,
                "message": "the process supervisor ended without recording an exit status "
                "(it was killed, or the host restarted)",
                "finished_at": time.time(),
            }
        record["finished"] = finished
        try:
            self._save_container(record)
        except OSError as exc:
            log.warning("container %s: cannot save its exit: %s", record["id"], exc)
        return finished

    def _read_exit(self, record: dict[str, Any], path: Path) -> dict[str, Any] | None:
        start_error = _read_text(path / START_ERROR_FILE)
        if start_error is not None:
            return {
                "exit_code": 128,
                "reason": "StartError",
                "message": start_error.strip(),
                "finished_at": time.time(),
            }
        try:
            with open(path / EXIT_FILE, "rb") as f:
                text = f.read()
                finished_at = os.fstat(f.fileno()).st_mtime
            code = int(text)
        except (OSError, ValueError):
            return None
        reason = "Completed" if code == 0 else "Error"
        if code != 0 and record["cgroup"] and cgroupfs.oom_kills(Path(record["cgroup"])) > 0:
            reason = "OOMKilled"
        return {"exit_code": code, "reason": reason, "message": "", "finished_at": finished_at}

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerInfo]:
        found = [self._info(r) for r in self._container_records(sandbox_id)]
        if sandbox_id is None:
            node_sandboxes = {s.id for s in await self.list_sandboxes()}
            found = [c for c in found if c.sandbox_id in node_sandboxes]
        found.sort(key=lambda c: c.created_at)
        return found

    # containers: lifecycle

    async def start_container(self, container_id: str) -> None:
        what = f"starting container {container_id}"
        record = self._load_container(container_id)
        if record is None:
            raise RuntimeFailure("RunContainerError", f"{what}: no such container")
        if "shim" in record or "finished" in record:
            raise RuntimeFailure("RunContainerError", f"{what}: it was started before")
        path = self._containers / container_id
        env = dict(record["env"])
        try:
            mounts = self._prepare(record)
        except RuntimeFailure as exc:
            self._fail_start(record, f"{what}: {exc.message}")
        env_options = []
        for name in ("PWD", "OLDPWD"):  # dash sets these; the command gets the spec's values or none
            env_options += [f"{name}={env[name]}"] if name in env else ["-u", name]
        argv = process_shim.shim_argv(
            self._tools, path, record["cgroup"], record["working_dir"], mounts, env_options, record["command"]
        )
        try:
            pid = process_shim.spawn(argv, env, record["log_path"])
        except OSError as exc:
            self._fail_start(record, f"{what}: cannot start its supervisor: {exc}")
        started = process_shim.start_time(pid)
        record["shim"] = {"pid": pid, "start": started if started is not None else -1, "boot": self._boot}
        record["started_at"] = time.time()
        self._save_container(record)
        await self._await_command(record, what)

    def _fail_start(self, record: dict[str, Any], message: str) -> NoReturn:
        """Record a start that failed before the shim ran (as containerd: exited, 128, StartError); raise."""
        record["finished"] = {
            "exit_code": 128,
            "reason": "StartError",
            "message": message,
            "finished_at": time.time(),
        }
        self._save_container(record)
        raise RuntimeFailure("RunContainerError", message)

    async def _await_command(self, record: dict[str, Any], what: str) -> None:
        """Wait until the shim has started the command (its pid is known); RunContainerError if it failed."""
        path = self._containers / record["id"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_TIMEOUT
        while True:
            text = _read_text(path / PID_FILE)
            if text and text.endswith("\n") and text.strip().isdigit():
                pid = int(text)
                started = process_shim.start_time(pid)
                record["command_pid"] = {"pid": pid, "start": started if started is not None else -1}
                self._save_container(record)
                return
            finished = self._observe_exit(record)
            if finished is not None:
                raise RuntimeFailure(
                    "RunContainerError", f"{what}: {finished['message'] or 'it did not start'}"
                )
            if loop.time() > deadline:
                raise RuntimeFailure(
                    "RunContainerError", f"{what}: the command did not start within {_START_TIMEOUT:g} s"
                )
            await asyncio.sleep(_POLL)

    def _prepare(self, record: dict[str, Any]) -> list[tuple[str, str, bool]]:
        """Create what the command needs before it starts: the memory cgroup, mount sources and mount points
        (as containerd, a missing host directory is created); check the working directory and the command."""
        mounts = [(str(source), str(target), bool(ro)) for source, target, ro in record["mounts"]]
        try:
            for source, target, _ in mounts:
                if not os.path.exists(source):
                    os.makedirs(source)
                if not os.path.exists(target):
                    if os.path.isdir(source):
                        os.makedirs(target)
                    else:
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        open(target, "ab").close()
            if record["cgroup"]:
                cgroupfs.make_memory_cgroup(Path(record["cgroup"]), record["memory_limit"])
        except OSError as exc:
            raise RuntimeFailure("RunContainerError", str(exc)) from exc
        cwd = record["working_dir"]
        if not os.path.isdir(cwd):
            raise RuntimeFailure("RunContainerError", f"working directory {cwd} does not exist")
        program = record["command"][0]
        inside_mount = any(
            os.path.join(cwd, program).startswith(target.rstrip("/") + "/") for _, target, _ in mounts
        )
        if "/" in program:
            if not inside_mount and not os.access(os.path.join(cwd, program), os.X_OK):
                raise RuntimeFailure("RunContainerError", f'exec: "{program}": no such executable file')
        elif shutil.which(program, path=dict(record["env"]).get("PATH", "")) is None and not mounts:
            raise RuntimeFailure(
                "RunContainerError", f'exec: "{program}": executable file not found in $PATH'
            )
        return mounts

    async def _wait_exited(self, record: dict[str, Any], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._observe_exit(record) is None:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(_POLL)
        return True

    def _signal_group(self, record: dict[str, Any], signum: int) -> None:
        command = record.get("command_pid")
        if command is None:  # started by an edgecore that died before it saw the pid
            text = _read_text(self._containers / record["id"] / PID_FILE) or ""
            if not text.strip().isdigit():
                return
            command = {"pid": int(text)}
        try:
            os.killpg(command["pid"], signum)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone: the shim is recording the exit

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        record = self._load_container(container_id)
        if record is None or "shim" not in record or self._observe_exit(record) is not None:
            return  # unknown, never started, or already exited
        if grace_seconds > 0:
            self._signal_group(record, signal.SIGTERM)
            if await self._wait_exited(record, grace_seconds):
                return
        self._signal_group(record, signal.SIGKILL)
        if not await self._wait_exited(record, _KILL_TIMEOUT):
            raise RuntimeFailure(
                "KillContainerError", f"container {container_id} still runs {_KILL_TIMEOUT:g} s after SIGKILL"
            )

    async def remove_container(self, container_id: str) -> None:
        record = self._load_container(container_id)
        path = self._container_dir(container_id)
        if path is None:
            return
        if record is not None:
            await self.stop_container(container_id, 0)
            command = record.get("command_pid")
            if command is not None and process_shim.alive(command["pid"], command["start"]):
                self._signal_group(record, signal.SIGKILL)  # the shim was killed, the command was not
            if record.get("cgroup"):
                await self._remove_cgroup(Path(record["cgroup"]))
        shutil.rmtree(path, ignore_errors=True)

    async def _remove_cgroup(self, cgroup: Path) -> None:
        """Kill whatever is left in the container's memory cgroup, then remove it (EBUSY until they die)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        while cgroup.exists():
            cgroupfs.kill_all(cgroup)
            if cgroupfs.rmdir_tree(cgroup) or loop.time() > deadline:
                break
            await asyncio.sleep(_POLL)
        for parent in (cgroup.parent, cgroup.parent.parent):  # the pod's, then kedge/, once empty
            try:
                parent.rmdir()
            except OSError:
                break

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: int) -> tuple[int, bytes, bytes]:
        what = f"exec {cmd!r} in container {container_id}"
        if not cmd:
            raise RuntimeFailure("ExecSyncError", f"exec in container {container_id}: no command")
        record = self._load_container(container_id)
        if record is None:
            raise RuntimeFailure("ExecSyncError", f"{what}: no such container")
        if "shim" not in record or self._observe_exit(record) is not None:
            raise RuntimeFailure("ExecSyncError", f"{what}: the container is not running")
        env = dict(record["env"])
        cwd = record["working_dir"]
        argv = list(cmd)
        if record["mounts"] and os.geteuid() == 0:
            # enter the container's mount namespace; env changes directory inside it (nsenter --wd would
            # resolve the directory before entering, missing the container's mounts)
            command = record.get("command_pid") or {}
            if not process_shim.alive(command.get("pid", 0), command.get("start", -1)):
                raise RuntimeFailure("ExecSyncError", f"{what}: the container's process is gone")
            assert self._tools.nsenter is not None and self._tools.env is not None
            ns = f"--mount=/proc/{command['pid']}/ns/mnt"
            argv = [self._tools.nsenter, ns, "--", self._tools.env, "-C", cwd, "--", *cmd]
            cwd = "/"
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise RuntimeFailure("ExecSyncError", f"{what}: {exc}") from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout if timeout > 0 else None)
        except TimeoutError:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.communicate()
            raise RuntimeFailure(base.REASON_EXEC_TIMEOUT, f"{what}: timed out after {timeout} s") from None
        assert proc.returncode is not None
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        return code, out, err


_POD_LABELS = (base.LABEL_POD_UID, base.LABEL_POD_NAME, base.LABEL_POD_NAMESPACE, base.LABEL_NODE)
