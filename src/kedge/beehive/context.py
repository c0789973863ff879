"""The beehive context: asyncio waiting on top of kedge._core.router's tables and inboxes.

The router is synchronous and allocation-light; this layer only parks tasks. A module's receivers
are woken when its inbox goes from empty to non-empty, blocked senders when it goes from full to
not full, and sync waiters share one timer for all deadlines instead of one per request.
"""

import asyncio
import logging
from typing import Any

from kedge._core.router import Router
from kedge.model.message import Message

log = logging.getLogger(__name__)

#: KubeEdge's SendSync default timeout.
DEFAULT_SYNC_TIMEOUT = 30.0


class QueueFull(Exception):
    """A module's inbox is full (send_nowait); use `await send()` to wait for room."""


def _wake_all(waiters: list[asyncio.Future]) -> None:
    for fut in waiters:
        if not fut.done():
            fut.set_result(None)
    waiters.clear()


class _Mailbox:
    """Parked receivers and senders of one module; the router calls on_ready/on_space on transitions."""

    __slots__ = ("receivers", "senders")

    def __init__(self) -> None:
        self.receivers: list[asyncio.Future] = []
        self.senders: list[asyncio.Future] = []

    def on_ready(self) -> None:
        if self.receivers:
            _wake_all(self.receivers)

    def on_space(self) -> None:
        if self.senders:
            _wake_all(self.senders)


class _SyncWaiter:
    """Called by the router with the response whose parent_msg_id matches the request."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future) -> None:
        self.future = future

    def __call__(self, response: Any) -> None:
        if not self.future.done():
            self.future.set_result(response)


class Context:
    """Message passing between the modules of one process."""

    def __init__(self, router: Router | None = None) -> None:
        self.router = router if router is not None else Router()
        self._mailboxes: dict[str, _Mailbox] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # -- registration -------------------------------------------------------------------------

    def add_module(self, name: str, group: str = "", capacity: int = 1024) -> None:
        box = _Mailbox()
        self.router.register(name, group, capacity, box.on_ready, box.on_space)
        self._mailboxes[name] = box

    def remove_module(self, name: str) -> list[Any]:
        """Unregister a module; returns the messages it had not received yet."""
        left = self.router.unregister(name)
        box = self._mailboxes.pop(name, None)
        if box is not None:  # nobody will ever wake these: fail them instead of leaving them parked
            for fut in box.receivers + box.senders:
                if not fut.done():
                    fut.set_exception(LookupError("module %s was removed" % name))
        return left

    # -- sending ------------------------------------------------------------------------------

    def send_nowait(self, dest: str, msg: Any) -> None:
        """Queue to a module; QueueFull when its inbox is full, UnknownDestination for unknown names."""
        if not self.router.send(dest, msg):
            raise QueueFull("inbox of module %s is full" % dest)

    async def send(self, dest: str, msg: Any) -> None:
        """Queue to a module, waiting for room if its inbox is full (Go channel semantics)."""
        router = self.router
        while not router.send(dest, msg):
            await self._park(self._mailboxes[dest].senders)

    async def send_to_group(self, group: str, msg: Any) -> None:
        """Queue to every member of a group, waiting for room in members that are full."""
        full = self.router.send_to_group(group, msg)
        for name in full:
            await self.send(name, msg)

    async def send_sync(self, dest: str, msg: Message, timeout: float = DEFAULT_SYNC_TIMEOUT) -> Any:
        """Send a request and wait for the message whose parent_msg_id is its msg_id.

        Raises TimeoutError after `timeout` seconds. The response is routed by `send_resp`.
        """
        loop = asyncio.get_running_loop()
        msg_id = msg.header.msg_id
        if not msg_id:
            raise ValueError("send_sync needs a message with a msg_id")
        msg.header.sync = True
        future = loop.create_future()
        deadline = loop.time() + timeout
        self.router.add_waiter(msg_id, deadline, _SyncWaiter(future))
        self._arm_timer(loop, deadline)
        try:
            await self.send(dest, msg)
            return await future
        except BaseException:  # cancelled, or the send failed: the waiter must not outlive the caller
            self.router.cancel_waiter(msg_id)
            raise

    def send_resp(self, msg: Message) -> bool:
        """Hand a response to the send_sync waiting for it; False if none is waiting (late or unsolicited)."""
        return self.router.resolve(msg.header.parent_msg_id, msg)

    # -- receiving ----------------------------------------------------------------------------

    def receive_nowait(self, name: str) -> Any | None:
        return self.router.receive(name)

    async def receive(self, name: str) -> Any:
        """The next message for module `name`, waiting until one arrives."""
        router = self.router
        msg = router.receive(name)
        while msg is None:
            await self._park(self._mailboxes[name].receivers)
            msg = router.receive(name)
        return msg

    async def receive_many(self, name: str, max_n: int) -> list[Any]:
        """1..max_n messages for module `name` (waits for the first), for batched processing."""
        router = self.router
        batch = router.receive_many(name, max_n)
        while not batch:
            await self._park(self._mailboxes[name].receivers)
            batch = router.receive_many(name, max_n)
        return batch

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    async def _park(waiters: list[asyncio.Future]) -> None:
        fut = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut
        finally:
            if not fut.done():  # cancelled while parked: do not leave it for a later wake-up
                try:
                    waiters.remove(fut)
                except ValueError:
                    pass

    def _arm_timer(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = loop.call_at(deadline, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        for msg_id, waiter in self.router.expire(loop.time()):
            fut = waiter.future
            if not fut.done():
                fut.set_exception(TimeoutError("no response to message %s" % msg_id))
        nxt = self.router.next_deadline()
        if nxt is not None:
            self._arm_timer(loop, nxt)
