"""One pod's lifecycle: sandbox, volumes, containers, restarts with CrashLoopBackOff, exec probes, graceful
termination, and its status. One task per pod, woken by changes (pod update, container state seen by the
manager's poll, a referenced configmap/secret update) or by its own deadlines (backoff, probes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kedge.edge.edged import podstatus
from kedge.edge.edged.env import ConfigError, QuantityError, bytes_of, millicores, resolve_env
from kedge.edge.edged.runtime.base import (
    EXITED,
    LABEL_CONTAINER_NAME,
    LABEL_NODE,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    RUNNING,
    ContainerInfo,
    ContainerSpec,
    RuntimeFailure,
    SandboxInfo,
    SandboxSpec,
)
from kedge.edge.edged.volumes import PodVolumes

if TYPE_CHECKING:
    from kedge.edge.edged.manager import PodManager

log = logging.getLogger(__name__)

#: retry delay after a failure that is not a crash (sandbox, config, image)
RETRY = 10.0
DEFAULT_GRACE = 30


class SpecError(ValueError):
    """The pod spec cannot be run (the text names the field)."""


def check_spec(pod: dict[str, Any]) -> None:
    meta, spec = pod.get("metadata"), pod.get("spec")
    if not isinstance(meta, dict) or not meta.get("uid") or not meta.get("name"):
        raise SpecError("metadata.name and metadata.uid are required")
    if not isinstance(spec, dict):
        raise SpecError("spec is missing or not an object")
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise SpecError("spec.containers must be a non-empty list")
    init = spec.get("initContainers")
    if init is not None and not isinstance(init, list):
        raise SpecError("spec.initContainers must be a list")
    seen: set[str] = set()
    for field, items in (("initContainers", init or []), ("containers", containers)):
        for i, ctr in enumerate(items):
            where = "spec.%s[%d]" % (field, i)
            if not isinstance(ctr, dict) or not isinstance(ctr.get("name"), str) or not ctr["name"]:
                raise SpecError("%s.name is required" % where)
            if ctr["name"] in seen:  # names are unique across init and regular containers
                raise SpecError("%s.name %r is a duplicate" % (where, ctr["name"]))
            seen.add(ctr["name"])
            if not isinstance(ctr.get("image"), str) or not ctr["image"]:
                raise SpecError("%s.image is required" % where)
            for key in ("command", "args"):
                val = ctr.get(key)
                if val is not None and not (isinstance(val, list) and all(isinstance(x, str) for x in val)):
                    raise SpecError("%s.%s must be a list of strings" % (where, key))
    policy = spec.get("restartPolicy", "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        raise SpecError("spec.restartPolicy %r is not Always, OnFailure or Never" % (policy,))


@dataclass(slots=True)
class Probe:
    kind: str  # liveness | readiness
    command: list[str]
    initial_delay: float
    period: float
    timeout: int
    success_threshold: int
    failure_threshold: int
    next_at: float = 0.0
    failures: int = 0
    successes: int = 0


def _probe(kind: str, spec: Any) -> Probe | None:
    if not isinstance(spec, dict):
        return None
    exec_ = spec.get("exec")
    if not isinstance(exec_, dict) or not isinstance(exec_.get("command"), list) or not exec_["command"]:
        return None  # only exec probes are run (httpGet/tcpSocket/grpc: not implemented, see the note)
    return Probe(
        kind,
        [str(x) for x in exec_["command"]],
        float(spec.get("initialDelaySeconds") or 0),
        float(spec.get("periodSeconds") or 10),
        int(spec.get("timeoutSeconds") or 1),
        int(spec.get("successThreshold") or 1),
        int(spec.get("failureThreshold") or 3),
    )


def _limits(ctr: dict[str, Any]) -> tuple[int, int, int, int]:
    """(memory bytes, cpu quota us, cpu period us, cpu shares) from resources."""
    res = ctr.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    try:
        mem = bytes_of(limits["memory"]) if "memory" in limits else 0
        quota = period = 0
        if "cpu" in limits:
            period = 100_000
            quota = max(1000, millicores(limits["cpu"]) * period // 1000)
        req_cpu = requests.get("cpu", limits.get("cpu"))
        shares = max(2, millicores(req_cpu) * 1024 // 1000) if req_cpu is not None else 2
    except QuantityError as e:
        raise ConfigError("CreateContainerConfigError", "container %s: %s" % (ctr.get("name"), e)) from None
    return mem, quota, period, shares


class PodWorker:
    def __init__(self, mgr: PodManager, pod: dict[str, Any]) -> None:
        self.mgr = mgr
        self.pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta.get("namespace") or "default"
        self.name: str = meta["name"]
        self.volumes = PodVolumes(mgr.root_dir)
        self.volumes_ready = False
        self.sandbox: SandboxInfo | None = None
        self.sandbox_attempt = 0
        self.containers: list[ContainerInfo] = []  # this pod's containers, all attempts, as last polled
        self.views: dict[str, podstatus.ContainerView] = {}
        self.backoff_n: dict[str, int] = {}
        self.probes: dict[str, list[Probe]] = {}
        self.ready: dict[str, bool] = {}
        self.pod_error: tuple[str, str] | None = None
        self.initialized = False  # every init container completed (or regular ones already ran)
        self.init_failed = False
        self.status: dict[str, Any] | None = None
        self.terminating = False
        self.deleted = False  # gone from the API (a cloud delete): nothing to confirm
        self.wake = asyncio.Event()
        self.next_at: float | None = None
        self.task: asyncio.Task | None = None
        self.done = False

    # -- inputs ----------------------------------------------------------------------------------------

    def update(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self.terminating = True
        self.wake.set()

    def delete(self) -> None:
        self.terminating = True
        self.deleted = True
        self.wake.set()

    def observe(self, containers: list[ContainerInfo]) -> None:
        self.containers = containers
        self.wake.set()

    def references(self, kind: str, namespace: str, name: str) -> bool:
        if namespace != self.namespace:
            return False
        return (kind, name) in self.mgr.references(self.pod)

    # -- loop ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while not self.done:
                try:
                    await self.sync()
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug for one pod must not stop its worker for good
                    log.exception("pod %s/%s: sync failed", self.namespace, self.name)
                    self.next_at = self.mgr.clock() + RETRY
                if self.done:
                    break
                timeout = None if self.next_at is None else max(0.0, self.next_at - self.mgr.clock())
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout)
                except TimeoutError:
                    pass
                self.wake.clear()
        finally:
            self.done = True

    async def sync(self) -> None:
        self.next_at = None
        if self.terminating:
            await self.terminate()
            return
        try:
            check_spec(self.pod)
        except SpecError as e:
            self.pod_error = ("InvalidPodSpec", str(e))
            self._report()
            return
        self.pod_error = None
        spec = self.pod["spec"]
        init = spec.get("initContainers") or []
        names = [c["name"] for c in spec["containers"]]
        for ctr in (*init, *spec["containers"]):
            v = self.views.get(ctr["name"])
            if v is None:
                v = self.views[ctr["name"]] = podstatus.ContainerView(
                    ctr["name"], ctr["image"], runtime_kind=self.mgr.runtime.kind
                )
                self.probes[ctr["name"]] = (
                    [
                        p
                        for p in (
                            _probe("liveness", ctr.get("livenessProbe")),
                            _probe("readiness", ctr.get("readinessProbe")),
                        )
                        if p
                    ]
                    if ctr in spec["containers"]
                    else []
                )
            v.image = ctr["image"]
        # A pod being started takes a start slot for its whole first sync: in a burst, pods then come up
        # one after another instead of all finishing together at the end.
        slot = self.mgr.start_slots if self.sandbox is None else None
        if slot is not None:
            await slot.acquire()
        try:
            if not await self._ensure_sandbox():
                self._report()
                return
            if not self._volumes(names):
                self._report()
                return
            self._refresh_views()
            now = self.mgr.clock()
            if await self._sync_init(init, names, now):
                for ctr in spec["containers"]:
                    await self._sync_container(ctr, now)
                await self._run_probes(now)
            self._report()
        finally:
            if slot is not None:
                slot.release()

    async def _sync_init(self, init: list[dict[str, Any]], names: list[str], now: float) -> bool:
        """Run the init containers one after another, each to success; True once all have (kubelet
        semantics: a failed one restarts with back-off unless restartPolicy is Never, which fails the
        pod; regular containers found running, e.g. after an edgecore restart, mean init is done)."""
        if self.initialized:
            return True
        if not init or any(self.views[n].current is not None for n in names):
            self.initialized = True
            return True
        self._waiting_all(names, "PodInitializing", "")
        for ctr in init:
            v = self.views[ctr["name"]]
            cur = v.current
            if cur is None:
                await self._start(ctr, v, 0)
                return False
            if cur.state == RUNNING:
                v.waiting_reason = v.waiting_message = ""
                return False
            if cur.state != EXITED:
                await self._start(ctr, v, cur.attempt + 1)
                return False
            if cur.exit_code == 0:
                v.waiting_reason = v.waiting_message = ""
                continue
            if (self.pod["spec"].get("restartPolicy") or "Always") == "Never":
                self.init_failed = True
                v.waiting_reason = v.waiting_message = ""
                return False
            await self._restart_after_backoff(ctr, v, cur)
            return False
        self.initialized = True
        for n in names:
            self.views[n].waiting_reason = self.views[n].waiting_message = ""
        return True

    # -- sandbox ---------------------------------------------------------------------------------------

    def sandbox_spec(self) -> SandboxSpec:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        qos = podstatus.qos_class(self.pod).lower()
        parent = (
            "/kubepods/pod%s" % self.uid if qos == "guaranteed" else "/kubepods/%s/pod%s" % (qos, self.uid)
        )
        labels = {k: str(v) for k, v in (meta.get("labels") or {}).items()}
        labels.update(
            {
                LABEL_POD_UID: self.uid,
                LABEL_POD_NAME: self.name,
                LABEL_POD_NAMESPACE: self.namespace,
                LABEL_NODE: self.mgr.node,
            }
        )
        return SandboxSpec(
            uid=self.uid,
            namespace=self.namespace,
            name=self.name,
            attempt=self.sandbox_attempt,
            host_network=bool(spec.get("hostNetwork")),
            hostname=spec.get("hostname") or self.name,
            labels=labels,
            annotations={k: str(v) for k, v in (meta.get("annotations") or {}).items()},
            log_directory=self.mgr.pod_log_dir(self.namespace, self.name, self.uid),
            cgroup_parent=parent if self.mgr.runtime.kind == "cri" else "",
        )

    async def _ensure_sandbox(self) -> bool:
        sb = self.sandbox
        if sb is not None and sb.ready:
            return True
        rt = self.mgr.runtime
        if sb is not None:  # the sandbox died (runtime restart, reboot): kubelet starts a new one
            log.info("pod %s/%s: sandbox %s is not ready; recreating it", self.namespace, self.name, sb.id)
            await self._kill_all(0)
            try:
                await rt.stop_sandbox(sb.id)
                await rt.remove_sandbox(sb.id)
            except RuntimeFailure as e:
                log.warning("pod %s/%s: cannot remove sandbox %s: %s", self.namespace, self.name, sb.id, e)
            self.sandbox_attempt = sb.attempt + 1
            self.sandbox = None
        try:
            self.sandbox = await rt.run_sandbox(self.sandbox_spec())
        except RuntimeFailure as e:
            log.warning("pod %s/%s: %s: %s", self.namespace, self.name, e.reason, e.message)
            self._waiting_all(list(self.views), "ContainerCreating", "%s: %s" % (e.reason, e.message))
            self._defer(RETRY)
            return False
        self.containers = []
        return True

    def _volumes(self, names: list[str]) -> bool:
        """Set up the pod's volumes once, then refresh configmap/secret/downward content on every sync
        (atomically: a container sees the old files or the new ones). A failure leaves the containers
        ContainerCreating with kubelet's FailedMount text."""
        kw = {"pod_ip": self._pod_ip(), "host_ip": self.mgr.host_ip}
        if not self.volumes_ready:
            try:
                self.volumes.prepare(self.pod, self.mgr.lookup, **kw)
            except ConfigError as e:
                log.warning("pod %s/%s: %s", self.namespace, self.name, e.message)
                self._waiting_all(names, "ContainerCreating", e.message)
                self._defer(RETRY)
                self.mgr.ask_missing(self.pod)
                return False
            self.volumes_ready = True
            return True
        changed, errors = self.volumes.update(self.pod, self.mgr.lookup, **kw)
        if changed:
            log.info("pod %s/%s: volumes %s updated", self.namespace, self.name, ", ".join(changed))
        for e in errors:
            log.warning("pod %s/%s: %s (old content kept)", self.namespace, self.name, e.message)
        return True

    # -- containers ------------------------------------------------------------------------------------

    def _refresh_views(self) -> None:
        sb = self.sandbox
        by_name: dict[str, list[ContainerInfo]] = {}
        for info in self.containers:
            if sb is not None and info.sandbox_id == sb.id:
                by_name.setdefault(info.name, []).append(info)
        for name, v in self.views.items():
            infos = sorted(by_name.get(name, ()), key=lambda i: i.attempt)
            v.current = infos[-1] if infos else None
            v.previous = infos[-2] if len(infos) > 1 else None
            if v.current is not None:
                v.restart_count = max(v.restart_count, v.current.attempt)

    async def _sync_container(self, ctr: dict[str, Any], now: float) -> None:
        await self._sync_container_state(ctr, now)
        v = self.views[ctr["name"]]
        # ready when running, unless a readiness probe says otherwise (also right after a start: the
        # status that reports Running then reports Ready in the same update)
        if v.current is not None and v.current.state == RUNNING:
            name = ctr["name"]
            v.ready = self.ready.get(name, not any(p.kind == "readiness" for p in self.probes[name]))
        else:
            v.ready = False

    async def _sync_container_state(self, ctr: dict[str, Any], now: float) -> None:
        name = ctr["name"]
        v = self.views[name]
        cur = v.current
        if cur is None:
            await self._start(ctr, v, v.restart_count if v.restart_count else 0)
            return
        if cur.state == RUNNING:
            v.waiting_reason = v.waiting_message = ""
            return
        if cur.state != EXITED:  # created but not started (a start that failed half-way): start again
            await self._start(ctr, v, cur.attempt + 1)
            return
        policy = self.pod["spec"].get("restartPolicy") or "Always"
        if policy == "Never" or (policy == "OnFailure" and cur.exit_code == 0):
            v.waiting_reason = v.waiting_message = ""
            return
        await self._restart_after_backoff(ctr, v, cur)

    async def _restart_after_backoff(
        self, ctr: dict[str, Any], v: podstatus.ContainerView, cur: ContainerInfo
    ) -> None:
        """CrashLoopBackOff: restart an exited container once its back-off has passed."""
        name = ctr["name"]
        ran = (cur.finished_at - cur.started_at) if cur.started_at else 0.0
        n = self.backoff_n.get(name, 0)
        if ran >= podstatus.BACKOFF_RESET:
            n = 0
        delay = podstatus.crash_backoff(n + 1)
        wall = self.mgr.wall()
        due = cur.finished_at + delay if cur.finished_at else wall
        if wall < due:
            v.waiting_reason = "CrashLoopBackOff"
            v.waiting_message = "back-off %ds restarting failed container=%s pod=%s_%s(%s)" % (
                int(delay),
                name,
                self.name,
                self.namespace,
                self.uid,
            )
            self._defer(due - wall)
            return
        self.backoff_n[name] = n + 1
        if await self._start(ctr, v, cur.attempt + 1):
            v.restart_count = cur.attempt + 1

    async def _start(self, ctr: dict[str, Any], v: podstatus.ContainerView, attempt: int) -> bool:
        rt = self.mgr.runtime
        assert self.sandbox is not None
        name = ctr["name"]
        try:
            policy = ctr.get("imagePullPolicy") or (
                "Always"
                if ctr["image"].endswith(":latest") or ":" not in ctr["image"].rsplit("/", 1)[-1]
                else "IfNotPresent"
            )
            await rt.ensure_image(ctr["image"], policy)
            env = resolve_env(self.pod, ctr, self.mgr.lookup, pod_ip=self._pod_ip(), host_ip=self.mgr.host_ip)
            mounts = self.volumes.mounts(ctr, env)
            mem, quota, period, shares = _limits(ctr)
            cspec = ContainerSpec(
                name=name,
                image=ctr["image"],
                command=list(ctr.get("command") or []),
                args=list(ctr.get("args") or []),
                env=env,
                working_dir=ctr.get("workingDir") or "",
                mounts=mounts,
                attempt=attempt,
                log_path="%s/%d.log" % (name, attempt),
                memory_limit=mem,
                cpu_quota=quota,
                cpu_period=period,
                cpu_shares=shares,
                labels={
                    LABEL_POD_UID: self.uid,
                    LABEL_POD_NAME: self.name,
                    LABEL_POD_NAMESPACE: self.namespace,
                    LABEL_CONTAINER_NAME: name,
                    LABEL_NODE: self.mgr.node,
                },
            )
            cid = await rt.create_container(self.sandbox, self.sandbox_spec(), cspec)
            try:
                await rt.start_container(cid)
            finally:
                self.containers = await rt.list_containers(self.sandbox.id)
        except (ConfigError, RuntimeFailure) as e:
            reason = e.reason
            if reason == "ErrImagePull" and v.waiting_reason in ("ErrImagePull", "ImagePullBackOff"):
                reason = "ImagePullBackOff"
            log.warning("pod %s/%s container %s: %s: %s", self.namespace, self.name, name, reason, e.message)
            v.waiting_reason, v.waiting_message = reason, e.message
            if isinstance(e, ConfigError):
                self.mgr.ask_missing(self.pod)
            self._defer(RETRY)
            self._refresh_views()
            return False
        v.waiting_reason = v.waiting_message = ""
        for p in self.probes[name]:
            p.next_at = self.mgr.clock() + p.initial_delay
            p.failures = p.successes = 0
        self.ready.pop(name, None)
        self._refresh_views()
        await self._gc_dead(name)
        return True

    async def _gc_dead(self, name: str) -> None:
        """Keep one dead attempt per container (kubelet's maxPerPodContainerCount) for lastState and logs."""
        infos = sorted(
            (
                i
                for i in self.containers
                if i.name == name and self.sandbox and i.sandbox_id == self.sandbox.id
            ),
            key=lambda i: i.attempt,
        )
        for old in infos[:-2]:
            if old.state == EXITED:
                try:
                    await self.mgr.runtime.remove_container(old.id)
                except RuntimeFailure as e:
                    log.debug("cannot remove old container %s: %s", old.id, e)

    # -- probes ----------------------------------------------------------------------------------------

    async def _run_probes(self, now: float) -> None:
        for name, probes in self.probes.items():
            v = self.views.get(name)
            if v is None or v.current is None or v.current.state != RUNNING:
                continue
            for p in probes:
                if now < p.next_at:
                    self._defer(p.next_at - now)
                    continue
                p.next_at = now + p.period
                self._defer(p.period)
                try:
                    code, _, _ = await self.mgr.runtime.exec_sync(v.current.id, p.command, p.timeout)
                    ok = code == 0
                except RuntimeFailure as e:
                    log.debug("probe %s of %s/%s: %s", p.kind, self.name, name, e)
                    ok = False
                if ok:
                    p.successes += 1
                    p.failures = 0
                else:
                    p.failures += 1
                    p.successes = 0
                if p.kind == "readiness":
                    if ok and p.successes >= p.success_threshold:
                        self.ready[name] = True
                    elif not ok and p.failures >= p.failure_threshold:
                        self.ready[name] = False
                    v.ready = self.ready.get(name, False)
                elif not ok and p.failures >= p.failure_threshold:
                    log.info(
                        "pod %s/%s container %s failed its liveness probe; restarting it",
                        self.namespace,
                        self.name,
                        name,
                    )
                    p.failures = 0
                    await self._stop(v.current, self._grace())
                    self.containers = await self.mgr.runtime.list_containers(v.current.sandbox_id)
                    self._refresh_views()
                    self.wake.set()

    # -- termination -----------------------------------------------------------------------------------

    def _grace(self) -> int:
        meta, spec = self.pod["metadata"], self.pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
        try:
            return max(0, int(grace))
        except (TypeError, ValueError):
            return DEFAULT_GRACE

    async def _stop(self, info: ContainerInfo, grace: int) -> None:
        try:
            await self.mgr.runtime.stop_container(info.id, grace)
        except RuntimeFailure as e:
            log.warning("pod %s/%s: cannot stop container %s: %s", self.namespace, self.name, info.name, e)

    async def _kill_all(self, grace: int) -> None:
        running = [i for i in self.containers if i.state == RUNNING]
        if running:
            await asyncio.gather(*(self._stop(i, grace) for i in running))

    async def terminate(self) -> None:
        rt = self.mgr.runtime
        grace = self._grace()
        log.info("pod %s/%s: stopping (grace %d s)", self.namespace, self.name, grace)
        sandboxes = [s for s in await rt.list_sandboxes() if s.uid == self.uid]
        self.containers = [i for s in sandboxes for i in await rt.list_containers(s.id)]
        await self._kill_all(grace)
        for sb in sandboxes:
            try:
                await rt.stop_sandbox(sb.id)
                await rt.remove_sandbox(sb.id)
            except RuntimeFailure as e:  # retried: the worker stays until the sandbox is gone
                log.warning("pod %s/%s: cannot remove sandbox %s: %s", self.namespace, self.name, sb.id, e)
                self._defer(RETRY)
                return
        self.mgr.cleanup_volumes(self.uid)
        self.done = True
        self.mgr.terminated(self)

    # -- helpers ---------------------------------------------------------------------------------------

    def _pod_ip(self) -> str:
        if (self.pod.get("spec") or {}).get("hostNetwork") or self.sandbox is None or not self.sandbox.ip:
            return self.mgr.host_ip
        return self.sandbox.ip

    def _waiting_all(self, names: list[str], reason: str, message: str) -> None:
        for n in names:
            v = self.views.get(n)
            if v is not None and (v.current is None or v.current.state != RUNNING):
                v.waiting_reason, v.waiting_message = reason, message

    def _defer(self, delay: float) -> None:
        at = self.mgr.clock() + max(0.0, delay)
        if self.next_at is None or at < self.next_at:
            self.next_at = at

    def _report(self) -> None:
        sb = self.sandbox
        reason, message = self.pod_error or ("", "")
        spec = self.pod.get("spec")
        views: list[podstatus.ContainerView] = []
        init_views: list[podstatus.ContainerView] = []
        if self.pod_error is None and isinstance(spec, dict):
            views = [self.views[c["name"]] for c in spec["containers"] if c["name"] in self.views]
            init_views = [
                self.views[c["name"]] for c in spec.get("initContainers") or () if c["name"] in self.views
            ]
        status = podstatus.pod_status(
            self.pod,
            views,
            sandbox_ready=bool(sb is not None and sb.ready),
            pod_ip=self._pod_ip() if sb is not None else "",
            host_ip=self.mgr.host_ip,
            now=self.mgr.wall(),
            previous=self.status,
            reason=reason,
            message=message,
            init_views=init_views,
            initialized=self.initialized or not init_views,
            init_failed=self.init_failed,
        )
        if status != self.status:
            self.status = status
            self.mgr.report(self, status)


def wall() -> float:
    return time.time()
