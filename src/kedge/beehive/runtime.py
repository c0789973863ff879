"""Starts modules as supervised tasks, restarts them by policy, shuts down on SIGINT/SIGTERM."""

import asyncio
import logging
import signal

from kedge.aio.backoff import Backoff
from kedge.aio.tasks import cancel_and_wait
from kedge.beehive.context import Context
from kedge.beehive.module import Module, RestartType

log = logging.getLogger(__name__)


class ModuleFailed(RuntimeError):
    """A module failed and its restart policy does not (or no longer) allow a restart."""


class Runtime:
    """Registers modules, runs them until stopped, and supervises them.

    `run()` returns when `stop()` is called or a signal arrives, after cancelling every module task
    (each gets `shutdown_timeout` seconds). It raises ModuleFailed when a module failed for good.
    """

    def __init__(self, context: Context | None = None, *, shutdown_timeout: float = 5.0) -> None:
        self.context = context if context is not None else Context()
        self.shutdown_timeout = shutdown_timeout
        self._modules: dict[str, Module] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._stop: asyncio.Event | None = None
        self._failure: ModuleFailed | None = None
        self.restarts: dict[str, int] = {}

    def register(self, module: Module) -> bool:
        """Add a module; disabled modules are skipped (False). Names must be unique."""
        if not module.enabled():
            log.info("module %s is disabled, not registered", module.name)
            return False
        if not module.name:
            raise ValueError("module %r has no name" % (module,))
        self.context.add_module(module.name, module.group, module.capacity)
        self._modules[module.name] = module
        self.restarts[module.name] = 0
        return True

    @property
    def modules(self) -> list[str]:
        return list(self._modules)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def run(self, *, handle_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        installed: list[signal.Signals] = []
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self._on_signal, sig)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
                    pass
        try:
            for name, module in self._modules.items():
                self._tasks[name] = asyncio.create_task(self._supervise(module), name="module:" + name)
            log.info("started modules: %s", ", ".join(self._modules))
            await self._stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            # Stop in reverse start order: producers registered last, consumers first, by convention.
            await cancel_and_wait(
                reversed(list(self._tasks.values())), timeout=self.shutdown_timeout, title="modules"
            )
            self._tasks.clear()
        if self._failure is not None:
            raise self._failure

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("received %s, shutting down", sig.name)
        self.stop()

    async def _supervise(self, module: Module) -> None:
        policy = module.restart_policy
        backoff = Backoff(policy.interval, policy.growth, policy.max_interval, policy.jitter)
        while True:
            failed: BaseException | None = None
            try:
                await module.start(self.context)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                failed = e
                log.error("module %s failed: %r", module.name, e, exc_info=e)
            if failed is None and policy.type is not RestartType.ALWAYS:
                log.info("module %s finished", module.name)
                return
            if policy.type is RestartType.NEVER or (
                policy.retries and self.restarts[module.name] >= policy.retries
            ):
                self._failure = ModuleFailed(
                    "module %s failed (restarts: %d, policy: %s): %r"
                    % (module.name, self.restarts[module.name], policy.type.value, failed)
                )
                self.stop()
                return
            delay = backoff.next_delay()
            self.restarts[module.name] += 1
            log.warning(
                "restarting module %s in %.2fs (restart %d)", module.name, delay, self.restarts[module.name]
            )
            await asyncio.sleep(delay)
