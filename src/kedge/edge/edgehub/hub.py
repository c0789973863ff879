"""EdgeHub: the edge end of the hub channel.

- Connects through a `connector` (WebSocket or QUIC, see `connect.py`) and reconnects with exponential
  backoff and full jitter, so 10,000 edges cut off by a cloud restart come back spread out, not at once.
- Broadcasts `cloud_connected` / `cloud_disconnected` to the edge modules (KubeEdge: `node/connection`).
- Sends a keepalive every `heartbeat` seconds (KubeEdge's exact message, on both lanes).
- Downstream: drops duplicates (`proto.inbound`), answers viaduct control messages, resolves responses
  to edge `send_sync` calls, and routes the rest by group to the modules; the module that persists a
  message acks it by sending `response`/"OK" back to EdgeHub, which batches acks per event-loop turn.
- Upstream: messages modules send to `websocket` are throttled (messageQPS/messageBurst; acks and
  keepalives are protocol traffic and are not). Those that must not be lost go through the SQLite
  outbox first and leave it only when the cloud acknowledges them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

from kedge.aio.backoff import Backoff
from kedge.beehive import Context, Module
from kedge.beehive.context import QueueFull
from kedge.edge.edgehub.outbox import Outbox
from kedge.model import constants as c
from kedge.model.message import Message, new_error, new_message, new_response
from kedge.model.metrics import count_types
from kedge.proto.inbound import Inbound
from kedge.proto.throttle import TokenBucket
from kedge.transport.link import LANE_NATIVE, Link

log = logging.getLogger(__name__)

Connector = Callable[["EdgeSession"], Awaitable[Link]]

CONNECTION_RESOURCE = "node/connection"
CLOUD_CONNECTED = "cloud_connected"
CLOUD_DISCONNECTED = "cloud_disconnected"
#: Downstream message group → the edge module group that handles it (KubeEdge edgehub dispatch).
GROUP_ROUTES = {
    c.GROUP_RESOURCE: c.METAMANAGER_GROUP,
    c.GROUP_META: c.METAMANAGER_GROUP,
    c.GROUP_FUNC: c.METAMANAGER_GROUP,
    c.GROUP_TWIN: c.TWIN_GROUP,
    c.GROUP_USER: c.BUS_GROUP,
}
_NOT_DURABLE = frozenset((c.RESPONSE, c.ERROR, c.KEEPALIVE, c.QUERY, c.GET))


def keepalive_message() -> Message:
    return new_message(
        source=c.EDGEHUB, group=c.GROUP_RESOURCE, operation=c.KEEPALIVE, resource=c.NODE, content="ping"
    )


def durable(msg: Message) -> bool:
    """Whether an upstream message goes through the outbox: reports and uploads do; queries, replies
    and sync requests (someone waits for their answer now) do not."""
    return not msg.header.sync and msg.route.operation not in _NOT_DURABLE


class EdgeSession:
    """One connection's LinkHandler; it forwards to the hub while current."""

    __slots__ = ("closed", "hub", "link")

    def __init__(self, hub: EdgeHub) -> None:
        self.hub = hub
        self.link: Link | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def bind(self, link: Link) -> None:
        self.link = link

    def on_batch(self, messages: list[Message], acks: list[str]) -> None:
        self.hub._downstream(self, messages, acks)

    def on_close(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(reason)


class EdgeHub:
    def __init__(
        self,
        node_id: str,
        connector: Connector,
        ctx: Context | None = None,
        *,
        heartbeat: float = 15.0,
        qps: float = 30.0,
        burst: float = 60.0,
        outbox: Outbox | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        upload_ttl: float = 0.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """`upload_ttl`: seconds a bus upload may wait in the outbox (0: no limit); older ones are dropped
        when the cloud is back, as stale for whoever expected them (the router's target URL)."""
        self.node_id = node_id
        self.connector = connector
        self.ctx = ctx
        self.heartbeat = heartbeat
        self.outbox = outbox
        self.upload_ttl = upload_ttl
        self.wall_clock = wall_clock
        self.expired = 0  # uploads dropped by upload_ttl
        # Full jitter from the first retry: after a cloud restart every edge retries at once otherwise.
        self.backoff = backoff or Backoff(initial=1.0, factor=2.0, cap=30.0, jitter=0.5, rng=random.Random())
        self.clock = clock
        self.bucket = TokenBucket(qps, burst, clock())
        self.inbound = Inbound()
        self.session: EdgeSession | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        #: Messages written to / received from the cloud by `type` label (`kedge.model.metrics`).
        self.messages_out: dict[str, int] = {}
        self.messages_in: dict[str, int] = {}
        self._up: deque[Message] = deque()  # non-durable upstream, waiting for tokens
        self._acks: list[str] = []  # native-lane acks waiting for the end of this loop turn ...
        self._ack_session: EdgeSession | None = None  # ... and the connection they go out on
        self._ack_scheduled = False
        self._wake = asyncio.Event()
        self._outbox_sent: dict[str, int] = {}  # msg_id → seq, sent on this connection, not yet acked
        self._outbox_after = 0
        self.last_close_reason = ""

    # -- module-facing API -----------------------------------------------------------------------

    def send_up(self, msg: Message) -> None:
        """Queue an upstream message from a module (see the module docstring for what happens)."""
        r = msg.route
        parent = msg.header.parent_msg_id
        # "OK" to a cloud message we delivered is its ack; "OK" to a cloud request is an answer, sent as is.
        if (
            r.operation == c.RESPONSE
            and parent
            and msg.content == c.ACK_OK
            and self.inbound.delivered(parent)
        ):
            self.ack(parent, msg)
            return
        if self.outbox is not None and durable(msg):
            self.outbox.add_many([msg])
            self._wake.set()
            return
        if self.session is None:
            log.debug("cloud unreachable; %s %s not sent", r.operation, r.resource)
            return
        self._up.append(msg)
        self._wake.set()

    def ack(self, msg_id: str, response: Message | None = None) -> None:
        """The application persisted cloud message `msg_id`."""
        sess = self.session
        if sess is None:
            return  # the cloud resends after the reconnect; the inbound filter acks the duplicate
        self._ack_on(sess, msg_id, response)

    def _ack_on(self, sess: EdgeSession, msg_id: str, response: Message | None = None) -> None:
        link = sess.link
        if link is None or link.closed:
            return
        if link.peer.lane == LANE_NATIVE:
            if self._ack_session is not sess:  # acks meant for a connection that is gone are moot
                self._ack_session = sess
                self._acks = []
            self._acks.append(msg_id)
            self._schedule_acks()
        else:
            self._send(link, [response if response is not None else self._ok(msg_id)])

    @staticmethod
    def _ok(msg_id: str) -> Message:
        return new_message(
            source=c.EDGEHUB, group=c.GROUP_RESOURCE, operation=c.RESPONSE, resource="", parent_msg_id=msg_id
        )

    def _schedule_acks(self) -> None:
        if not self._ack_scheduled:
            self._ack_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_acks)

    def _flush_acks(self) -> None:
        self._ack_scheduled = False
        acks = self._acks
        self._acks = []
        sess, self._ack_session = self._ack_session, None
        if acks and sess is not None and sess.link is not None and not sess.link.closed:
            sess.link.send((), acks)

    # -- downstream ------------------------------------------------------------------------------

    def _downstream(self, sess: EdgeSession, messages: list[Message], acks: list[str]) -> None:
        # Replies and acks go out on `sess`, the connection the messages came on: frames can arrive in
        # the same read as the upgrade answer, before `run()` has made `sess` the current session.
        if acks and self.outbox is not None:
            done = [a for a in acks if self._outbox_sent.pop(a, None) is not None]
            if done:
                self.outbox.remove(done)
        inbound = self.inbound
        ctx = self.ctx
        count_types(self.messages_in, messages)
        for msg in messages:
            h = msg.header
            r = msg.route
            if r.operation in c.CONTROL_OPERATIONS:
                self._send_on(sess, [new_response(msg, "ack")])
                continue
            if h.parent_msg_id and ctx is not None and ctx.send_resp(msg):
                continue
            if not inbound.accept(msg):
                self._ack_on(sess, h.msg_id)  # a resend of something delivered: ack again, deliver once
                continue
            group = GROUP_ROUTES.get(r.group, r.group)
            if ctx is None or not ctx.router.group_members(group):
                log.warning("no edge module for %s message %s %s; rejected", r.group, r.operation, r.resource)
                inbound.reject(msg)  # the cloud retries with the same msg_id; deliver it then
                self._send_on(
                    sess,
                    [new_error(msg, "edge node %s has no module for group %r" % (self.node_id, r.group))],
                )
                continue
            try:
                full = ctx.router.send_to_group(group, msg)
            except Exception as e:  # a routing failure must not kill the session
                log.warning("cannot route %s %s to group %s: %s", r.operation, r.resource, group, e)
                inbound.reject(msg)
                continue
            if full:
                # Not delivered: forget it so the cloud's resend (same msg_id) is delivered, not taken for
                # a duplicate and acked; let the ack time out.
                log.warning(
                    "edge modules %s are full; %s %s left for the cloud to resend",
                    full,
                    r.operation,
                    r.resource,
                )
                inbound.reject(msg)

    def _send_on(self, sess: EdgeSession, msgs: list[Message]) -> None:
        if sess.link is not None and not sess.link.closed:
            self._send(sess.link, msgs)

    def _send(self, link: Link, msgs: list[Message]) -> None:
        link.send(msgs)
        count_types(self.messages_out, msgs)

    # -- connection loop -------------------------------------------------------------------------

    def _broadcast(self, content: str) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        msg = new_message(
            source=c.EDGEHUB,
            group=c.EDGEHUB_GROUP,
            operation=c.CONNECT,
            resource=CONNECTION_RESOURCE,
            content=content,
        )
        for name in ctx.router.modules():
            if name != c.EDGEHUB:
                try:
                    ctx.send_nowait(name, msg)
                except QueueFull:
                    log.warning("module %s is full; %s not delivered to it", name, content)

    async def run(self) -> None:
        """Connect, serve, reconnect — until cancelled."""
        while True:
            sess = EdgeSession(self)
            try:
                await self.connector(sess)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # any failure to connect: wait and retry
                delay = self.backoff.next_delay()
                log.warning(
                    "cannot connect to the cloud (%s); retrying in %.1f s", e or type(e).__name__, delay
                )
                await asyncio.sleep(delay)
                continue
            self.backoff.reset()
            self.session = sess
            self.connects += 1
            self._outbox_sent.clear()
            self._outbox_after = 0
            self.connected.set()
            log.info(
                "connected to the cloud as node %s (%s)",
                self.node_id,
                sess.link.peer.lane if sess.link else "?",
            )
            self._broadcast(CLOUD_CONNECTED)
            pump = asyncio.create_task(self._pump(sess), name="edgehub-pump")
            try:
                reason = await sess.closed
            finally:
                pump.cancel()
                try:
                    await pump
                except asyncio.CancelledError:
                    pass
                self.session = None
                self.connected.clear()
                self._up.clear()
                if sess.link is not None and not sess.link.closed:
                    sess.link.close("edgehub stopping")
            self.last_close_reason = reason
            self._broadcast(CLOUD_DISCONNECTED)
            delay = self.backoff.next_delay()
            log.warning("cloud connection lost (%s); reconnecting in %.1f s", reason, delay)
            await asyncio.sleep(delay)

    async def _pump(self, sess: EdgeSession) -> None:
        """Keepalives, throttled upstream messages and the outbox, while this session lasts."""
        link = sess.link
        assert link is not None
        native = link.peer.lane == LANE_NATIVE
        self._send(link, [keepalive_message()])
        next_beat = self.clock() + self.heartbeat
        while not link.closed:
            now = self.clock()
            if now >= next_beat:
                self._send(link, [keepalive_message()])
                next_beat = now + self.heartbeat
            wait = next_beat - now
            if self._up:
                n = self.bucket.allowance(now, len(self._up))
                if n:
                    self._send(link, [self._up.popleft() for _ in range(n)])
                if self._up:
                    wait = min(wait, max(self.bucket.wait_time(now), 0.001))
            if self.outbox is not None and len(self.outbox) > len(self._outbox_sent):
                wait = min(wait, self._send_outbox(link, native, now))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.0))
            except TimeoutError:
                pass

    def _send_outbox(self, link: Link, native: bool, now: float) -> float:
        outbox = self.outbox
        assert outbox is not None
        # ask for tokens for what is waiting only: tokens taken and not spent would throttle what follows
        budget = self.bucket.allowance(now, min(256, len(outbox) - len(self._outbox_sent)))
        if not budget:
            return max(self.bucket.wait_time(now), 0.001)
        batch = outbox.pending(budget, self._outbox_after)
        if not batch:
            return self.heartbeat
        self._outbox_after = batch[-1][0]
        if self.upload_ttl:
            batch = self._drop_expired(batch)
            if not batch:
                return 0.0
        msgs = [m for _, m in batch]
        self._send(link, msgs)
        if native:
            for seq, m in batch:
                self._outbox_sent[m.header.msg_id] = seq
        else:
            outbox.remove([m.header.msg_id for m in msgs])  # KubeEdge's lane has no upstream acks
        return 0.0 if len(batch) == budget else self.heartbeat

    def _drop_expired(self, batch: list[tuple[int, Message]]) -> list[tuple[int, Message]]:
        horizon = (self.wall_clock() - self.upload_ttl) * 1000  # message timestamps are in ms
        stale = [
            m.header.msg_id
            for _, m in batch
            if m.route.operation == c.UPLOAD and m.header.timestamp and m.header.timestamp < horizon
        ]
        if not stale:
            return batch
        assert self.outbox is not None
        self.outbox.remove(stale)
        self.expired += len(stale)
        log.warning("dropped %d bus uploads older than uploadTTL (%g s)", len(stale), self.upload_ttl)
        gone = set(stale)
        return [(seq, m) for seq, m in batch if m.header.msg_id not in gone]


class EdgeHubModule(Module):
    """The beehive face of EdgeHub (KubeEdge's module `websocket`, group `hub`)."""

    name = c.EDGEHUB
    group = c.EDGEHUB_GROUP

    def __init__(self, hub: EdgeHub) -> None:
        self.hub = hub

    async def start(self, ctx: Context) -> None:
        hub = self.hub
        hub.ctx = ctx
        runner = asyncio.create_task(hub.run(), name="edgehub")
        try:
            while True:
                for msg in await ctx.receive_many(self.name, 1024):
                    hub.send_up(msg)
        finally:
            runner.cancel()
            try:
                await runner
            except asyncio.CancelledError:
                pass
