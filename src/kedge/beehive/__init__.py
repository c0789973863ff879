"""beehive: the module runtime on asyncio over kedge._core.router (KubeEdge's beehive, rebuilt).

Modules register by name and group, run as supervised tasks, and talk through a Context:
send / receive / send_sync / send_resp / send_to_group.
"""

from kedge._core.errors import UnknownDestination
from kedge.beehive.context import Context, QueueFull
from kedge.beehive.module import Module, RestartPolicy, RestartType
from kedge.beehive.runtime import Runtime

__all__ = ["Context", "Module", "QueueFull", "RestartPolicy", "RestartType", "Runtime", "UnknownDestination"]
