"""What a beehive module is, and how it is restarted (KubeEdge `core.Module`, `ModuleRestartPolicy`)."""

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kedge.beehive.context import Context


class RestartType(enum.StrEnum):
    NEVER = "never"  # a failure stops the runtime (the process exits non-zero and its supervisor restarts it)
    ON_FAILURE = "on-failure"  # restart when start() raises
    ALWAYS = "always"  # restart when start() raises or returns


@dataclass(frozen=True, kw_only=True)
class RestartPolicy:
    type: RestartType = RestartType.NEVER
    retries: int = 0  # 0 = no limit
    interval: float = 1.0  # first delay, seconds
    growth: float = 2.0  # each further delay is multiplied by this
    max_interval: float = 30.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.retries < 0 or self.interval < 0 or self.growth < 1 or self.max_interval < self.interval:
            raise ValueError("invalid restart policy %r" % (self,))


class Module:
    """Base class of beehive modules. Subclasses set `name` and `group` and implement `start`.

    `start(ctx)` runs for the module's lifetime: it receives from `ctx.receive(self.name)` and sends
    through the context. Returning ends the module (restarted only under RestartType.ALWAYS);
    cancellation means the runtime is shutting down, so clean up in `finally`.
    """

    name: str = ""
    group: str = ""
    restart_policy: RestartPolicy = RestartPolicy()
    #: inbox size; KubeEdge's default channel size is 1024
    capacity: int = 1024

    def enabled(self) -> bool:
        return True

    async def start(self, ctx: "Context") -> None:
        raise NotImplementedError("%s must implement start(ctx)" % type(self).__name__)
