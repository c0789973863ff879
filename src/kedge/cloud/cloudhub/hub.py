"""CloudHub: one session per edge node over any `kedge.transport` lane, reliable downstream delivery,
authorized upstream routing into beehive.

Downstream (cloud → edge): producers call `publish(node, msg)` (or send beehive messages whose resource is
`node/<id>/<ns>/<type>/<name>` to the `cloudhub` module). Each node has an `Outbound` (queue, window,
resends, cursor) that outlives its connections. Writes are coalesced: a node touched in one event-loop
turn is flushed once at the end of it, one frame (native lane) or one write (JSON lane) for all its
messages and acks.

Upstream (edge → cloud): acks retire in-flight messages; `response`/`error` replies to a cloud
`send_sync` resolve it; everything else is authorized (a node speaks only about itself), prefixed with
`node/<id>/` and routed to the controller module of its group. On the native lane the hub acks what it
routed, so the edge can drop it from its outbox.

One timer for all sessions (`tick`): keepalive expiry, due resends, batched cursor persistence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kedge._core.channel import LANE_ACK, LANE_NOACK
from kedge.beehive import Context, Module
from kedge.beehive.context import QueueFull
from kedge.cloud.cloudhub.cursors import CursorStore, encode_cursor
from kedge.model import constants as c
from kedge.model.message import Message, new_error, new_message, new_response
from kedge.model.metrics import Histogram, count_types
from kedge.proto.delivery import FULL, Cursor, Outbound
from kedge.proto.liveness import Liveness
from kedge.security.authorization import authorize, check_identity
from kedge.transport.link import LANE_NATIVE, Link, Peer, Refused

log = logging.getLogger(__name__)

NODE_PREFIX = "node/"
#: Where upstream messages go, by message group (KubeEdge's cloud message layer).
GROUP_DESTINATIONS = {
    c.GROUP_RESOURCE: c.EDGECONTROLLER,
    c.GROUP_META: c.EDGECONTROLLER,
    c.GROUP_FUNC: c.EDGECONTROLLER,
    c.GROUP_TWIN: c.DEVICECONTROLLER,
    c.GROUP_USER: c.ROUTER,
}
#: Upstream device reports and membership requests (any group: KubeEdge's edge sends them as
#: "resource") go to the DeviceController.
_DEVICE_RESOURCES = (c.DEVICE + "/", c.MEMBERSHIP)
_DEVICE_DESTINATION = c.DEVICECONTROLLER
#: Modules told when a node connects or disconnects (those that exist).
NODE_EVENT_MODULES = (c.EDGECONTROLLER, c.DEVICECONTROLLER, c.SYNCCONTROLLER, c.ROUTER)
CONNECTED = "connected"
DISCONNECTED = "disconnected"
_ACK_OPERATIONS = frozenset((c.INSERT, c.UPDATE, c.DELETE))
_RECENT_UPSTREAM = 1024
_MAX_WRITE_BUFFER = 4 << 20


@dataclass(slots=True)
class HubSettings:
    node_limit: int = 500
    keepalive_interval: float = 30.0  # seconds of silence before a session is dropped
    window: int = 64  # ack-required messages in flight per node
    ack_timeout: float = 10.0  # first resend after this; doubles up to max_backoff
    max_backoff: float = 60.0
    queue_capacity: int = 4096  # queued messages per node (per lane)
    enforce_authorization: bool = True  # False: log denials only (KubeEdge's authorization.debug)
    flush_interval: float = 1.0  # seconds between cursor writes
    tick: float = 0.5


def needs_ack(msg: Message) -> bool:
    """KubeEdge's rule: resource writes are acked by the edge; twin messages, responses and sync
    requests (answered by a response) are not."""
    r = msg.route
    return r.operation in _ACK_OPERATIONS and r.group != c.GROUP_TWIN and not msg.header.sync


def split_node(resource: str) -> tuple[str, str]:
    """`node/<id>/<rest>` → (id, rest); ('', resource) when it is not node-addressed."""
    if not resource.startswith(NODE_PREFIX):
        return "", resource
    node, _, rest = resource[len(NODE_PREFIX) :].partition("/")
    return node, rest


def _with_resource(msg: Message, resource: str) -> Message:
    """The message with another resource string (KubeEdge's TrimMessage / PubToController)."""
    r = msg.route
    route = type(r)(r.source, r.destination, r.group, r.operation, resource)
    return Message(msg.header, route, msg.content)


class NodeState:
    """What the hub keeps about a node across connections."""

    __slots__ = ("known", "node_id", "outbound", "recent_up", "session")

    def __init__(self, node_id: str, outbound: Outbound) -> None:
        self.node_id = node_id
        self.outbound = outbound
        self.session: NodeSession | None = None
        self.known: set[str] = {e[1] for e in outbound.cursor.entries.values()}
        self.recent_up: OrderedDict[str, None] = OrderedDict()

    def knows(self, resource: str) -> bool:
        return resource in self.known


class NodeSession:
    """One connection of one node: the LinkHandler the transports call."""

    __slots__ = ("acks", "closed", "hub", "link", "native", "peer", "state")

    def __init__(self, hub: CloudHub, state: NodeState, peer: Peer) -> None:
        self.hub = hub
        self.state = state
        self.peer = peer
        self.native = peer.lane == LANE_NATIVE
        self.link: Link | None = None
        self.acks: list[str] = []
        self.closed = False

    def bind(self, link: Link) -> None:
        self.link = link
        self.hub._bound(self)

    def on_batch(self, messages: list[Message], acks: list[str]) -> None:
        self.hub._upstream(self, messages, acks)

    def on_close(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.hub._closed(self, reason)


class CloudHub:
    def __init__(
        self,
        ctx: Context | None = None,
        settings: HubSettings | None = None,
        cursors: CursorStore | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sync_source: Callable[[str], Iterable[tuple[str, Message]] | None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.settings = settings or HubSettings()
        self.cursors = cursors
        self.clock = clock
        #: node → its current objects as (key, message); called when a node connects, so the hub can send
        #: what changed since the cursor and delete what disappeared (the EdgeController provides it).
        #: It returns None until it has synced: an empty list means "no objects" and deletes them all.
        self.sync_source = sync_source
        self._sources: list[Callable[[str], Iterable[tuple[str, Message]] | None]] = []
        self.nodes: dict[str, NodeState] = {}
        self.sessions: dict[str, NodeSession] = {}
        self.liveness: Liveness[str] = Liveness(self.settings.keepalive_interval)
        self._dirty: set[NodeSession] = set()
        self._watch: set[NodeSession] = set()  # sessions with messages queued or in flight
        self._flush_scheduled = False
        self._cursor_dirty: set[NodeState] = set()
        self._last_cursor_flush = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.Task | None = None
        self.stats = {"delivered": 0, "frames": 0, "denied": 0, "routed": 0, "dropped_full": 0}
        #: Messages written to / received from edges by `type` label (`kedge.model.metrics.message_type`).
        self.messages_out: dict[str, int] = {}
        self.messages_in: dict[str, int] = {}
        #: Seconds from a message's last send to its ack, all nodes together.
        self.ack_latency = Histogram()
        #: Called with (node, message) for every acknowledged message (benchmarks measure enqueue-to-ack
        #: latency and keep queues topped up with it).
        self.on_ack: Callable[[str, Message], None] | None = None

    # -- node state ------------------------------------------------------------------------------

    def state(self, node_id: str) -> NodeState:
        st = self.nodes.get(node_id)
        if st is None:
            entries = self.cursors.load(node_id) if self.cursors is not None else {}
            s = self.settings
            out = Outbound(
                capacity=s.queue_capacity,
                window=s.window,
                ack_timeout=s.ack_timeout,
                max_backoff=s.max_backoff,
                cursor=Cursor(entries),
            )
            out.ack_latency = self.ack_latency
            st = self.nodes[node_id] = NodeState(node_id, out)
        return st

    # -- admission (called by transports) --------------------------------------------------------

    def acceptor(self, peer: Peer) -> NodeSession:
        node = peer.node_id
        reason = check_identity(peer.cert_cn, node)
        if reason is not None:
            log.warning("refused %s connection from %s: %s", peer.protocol, peer.address, reason)
            raise Refused(reason, 403)
        old = self.sessions.get(node)
        if old is None and len(self.sessions) >= self.settings.node_limit:
            reason = "node limit reached: cloudhub serves at most %d nodes (cloudHub.nodeLimit)" % (
                self.settings.node_limit
            )
            log.warning("refused node %s from %s: %s", node, peer.address, reason)
            raise Refused(reason, 429)
        return NodeSession(self, self.state(node), peer)

    def _bound(self, sess: NodeSession) -> None:
        st = sess.state
        node = st.node_id
        old = self.sessions.get(node)
        if old is not None and old is not sess:
            log.info("node %s reconnected from %s; closing its previous connection", node, sess.peer.address)
            old.closed = True  # its on_close must not tear down the new session's state
            if old.link is not None:
                old.link.close("replaced by a new connection from %s" % sess.peer.address)
            st.outbound.disconnected()
        self.sessions[node] = sess
        st.session = sess
        self.liveness.touch(node, self.clock())
        log.info(
            "node %s connected (%s, %s lane, %s)", node, sess.peer.protocol, sess.peer.lane, sess.peer.address
        )
        self._notify(node, CONNECTED)
        if self.sync_source is not None:
            current = self.sync_source(node)
            if current is not None:  # None: the source has not synced yet; never delete from a cold cache
                self.resync(node, current)
        self._mark(sess)

    def _closed(self, sess: NodeSession, reason: str) -> None:
        st = sess.state
        node = st.node_id
        self._dirty.discard(sess)
        if self.sessions.get(node) is not sess:
            return
        del self.sessions[node]
        st.session = None
        st.outbound.disconnected()
        self.liveness.remove(node)
        log.info("node %s disconnected: %s", node, reason)
        self._notify(node, DISCONNECTED)

    def _notify(self, node: str, event: str) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        for name in NODE_EVENT_MODULES:
            if ctx.router.has_module(name):
                msg = new_message(
                    source=c.CLOUDHUB, group=c.GROUP_RESOURCE, operation=event, resource=NODE_PREFIX + node
                )
                try:
                    ctx.send_nowait(name, msg)
                except QueueFull:
                    log.warning("module %s is full; node %s %s event dropped", name, node, event)

    # -- downstream ------------------------------------------------------------------------------

    def publish(self, node_id: str, msg: Message, key: str | None = None, *, ack: bool | None = None) -> int:
        """Queue `msg` (resource in the edge's form `<ns>/<type>/<name>`) for a node, connected or not.
        `key` identifies the object for coalescing and the cursor (its uid; the resource by default).
        A no-ack message coalesces only when given a key: twin messages, responses and requests about the
        same resource are different messages (membership deltas), not versions of one object.
        Returns the channel result (QUEUED, COALESCED, STALE, FULL)."""
        st = self.nodes.get(node_id) or self.state(node_id)
        r = msg.route
        if ack is None:
            ack = needs_ack(msg)
        delete = r.operation == c.DELETE
        key = (key or r.resource) if ack else (key or None)
        res = st.outbound.enqueue(msg, key, ack=ack, delete=delete)
        if res == FULL:
            self.stats["dropped_full"] += 1
            log.warning("queue of node %s is full; %s %s dropped", node_id, r.operation, r.resource)
            return res
        if ack:
            if delete:
                st.known.discard(r.resource)
            else:
                st.known.add(r.resource)
        sess = st.session
        if sess is not None:
            self._dirty.add(sess)  # _mark, inlined: this runs once per message
            if not self._flush_scheduled:
                self._flush_scheduled = True
                (self._loop or asyncio.get_running_loop()).call_soon(self._flush)
        return res

    def dispatch(self, msg: Message) -> int | None:
        """Route one beehive message addressed `node/<id>/...` to its node (KubeEdge TrimMessage)."""
        node, rest = split_node(msg.route.resource)
        if not node:
            log.warning("cloudhub got a message for no node (resource %r); dropped", msg.route.resource)
            return None
        return self.publish(node, _with_resource(msg, rest))

    def resync(self, node_id: str, current: Iterable[tuple[str, Message]]) -> tuple[int, int]:
        """Bring a node up to `current` (key, message) objects: queue those newer than its cursor, and
        deletes for acked objects that are gone. Returns (queued, deleted)."""
        st = self.state(node_id)
        present: dict[str, None] = {}
        queued = 0
        for key, msg in current:
            present[key] = None
            if self.publish(node_id, msg, key) in (0, 1):  # QUEUED, COALESCED
                queued += 1
        gone = st.outbound.cursor.missing(present)
        for key, resource in gone:
            ns, _, rest = resource.partition("/")
            name = rest.rpartition("/")[2]
            meta = (
                {"name": name, "uid": key}
                if ns == c.NULL_NAMESPACE
                else {"name": name, "namespace": ns, "uid": key}
            )
            msg = new_message(
                source=c.EDGECONTROLLER,
                group=c.GROUP_RESOURCE,
                operation=c.DELETE,
                resource=resource,
                content={"metadata": meta},
            )
            self.publish(node_id, msg, key, ack=True)
        return queued, len(gone)

    def add_sync_source(self, source: Callable[[str], Iterable[tuple[str, Message]] | None]) -> None:
        """Another controller's objects join `sync_source` (EdgeController's pods, DeviceController's
        devices...): a node's current objects are all of theirs, and None while any has not synced, since
        a resync deletes what is missing from the list."""
        self._sources.append(source)
        self.sync_source = self._combined_source

    def _combined_source(self, node_id: str) -> list[tuple[str, Message]] | None:
        out: list[tuple[str, Message]] = []
        for source in self._sources:
            current = source(node_id)
            if current is None:
                return None
            out.extend(current)
        return out

    def resync_connected(self) -> int:
        """Resync every connected node from `sync_source` (a controller calls it when it has synced);
        nothing while some source is not synced yet. Returns the nodes resynced."""
        source = self.sync_source
        if source is None:
            return 0
        done = 0
        for node in list(self.sessions):
            current = source(node)
            if current is None:
                return done
            self.resync(node, current)
            done += 1
        return done

    def _mark(self, sess: NodeSession) -> None:
        self._dirty.add(sess)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop = self._loop or asyncio.get_running_loop()
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty = self._dirty
        self._dirty = set()
        now = self.clock()
        again = False
        for sess in dirty:
            link = sess.link
            if link is None or sess.closed:
                continue
            if link.write_buffer_size() > _MAX_WRITE_BUFFER:
                self._watch.add(sess)  # the tick retries once the kernel took some
                continue
            out = sess.state.outbound
            msgs = out.take(now, 256)
            acks = sess.acks
            if acks:
                sess.acks = []
            if msgs or acks:
                link.send(msgs, acks)
                self.stats["delivered"] += len(msgs)
                self.stats["frames"] += 1
                count_types(self.messages_out, msgs)
            if out.channel.size(LANE_NOACK) or (out.in_flight < out.window and out.channel.size(LANE_ACK)):
                self._dirty.add(sess)
                again = True
            elif out.in_flight or out.pending():
                self._watch.add(sess)
        if again and not self._flush_scheduled:
            self._flush_scheduled = True
            (self._loop or asyncio.get_running_loop()).call_soon(self._flush)

    # -- upstream --------------------------------------------------------------------------------

    def _upstream(self, sess: NodeSession, messages: list[Message], acks: list[str]) -> None:
        st = sess.state
        out = st.outbound
        node = st.node_id
        now = self.clock()
        self.liveness.touch(node, now)
        acked = False
        hook = self.on_ack
        if messages:
            count_types(self.messages_in, messages)
        for mid in acks:
            m = out.ack(mid, now)
            if m is not None:
                acked = True
                if hook is not None:
                    hook(node, m)
        for msg in messages:
            h = msg.header
            r = msg.route
            op = r.operation
            if op == c.KEEPALIVE:
                continue
            if h.parent_msg_id:
                if op == c.RESPONSE:
                    m = out.ack(h.parent_msg_id, now)
                    if m is not None:
                        acked = True
                        if hook is not None:
                            hook(node, m)
                        continue
                if op == c.ERROR and out.nack(h.parent_msg_id, now):
                    log.warning("node %s failed to apply %s: %s", node, h.parent_msg_id, msg.content)
                    continue
                if self.ctx is not None and self.ctx.send_resp(msg):
                    continue
                if op == c.RESPONSE:
                    # a late ack (of a resend, or of a superseded version): KubeEdge's cloudhub takes every
                    # response for an ack and routes none to the controllers
                    log.debug("node %s acked %s, which is no longer in flight", node, h.parent_msg_id)
                    continue
            if not h.msg_id and not op:
                continue  # KubeEdge edges send empty messages while shutting down
            if op in c.CONTROL_OPERATIONS:
                # viaduct's control messages are answered with "ack", never routed
                self._reply(sess, new_response(msg, "ack"))
                continue
            self._route_up(sess, msg)
        if acked:
            self._cursor_dirty.add(st)
            self._mark(sess)

    def _reply(self, sess: NodeSession, msg: Message) -> None:
        sess.state.outbound.enqueue(msg, None, ack=False)
        self._mark(sess)

    def _route_up(self, sess: NodeSession, msg: Message) -> None:
        st = sess.state
        node = st.node_id
        r = msg.route
        recent = st.recent_up
        mid = msg.header.msg_id
        if mid and mid in recent:  # an outbox resend we already routed: ack again, route once
            self._ack_up(sess, mid)
            return
        reason = authorize(node, r.operation, r.group, r.resource, st.knows)
        if reason is not None:
            self.stats["denied"] += 1
            if self.settings.enforce_authorization:
                log.warning("denied %s %s from node %s: %s", r.operation, r.resource, node, reason)
                self._ack_up(sess, mid)  # final: a resend would be denied again, so the outbox drops it
                if msg.header.sync:  # someone at the edge waits: say why rather than let it time out
                    self._reply(sess, new_error(msg, "forbidden: %s" % reason))
                return
            log.info(
                "authorization (audit only) would deny %s %s from node %s: %s",
                r.operation,
                r.resource,
                node,
                reason,
            )
        if r.resource.startswith(_DEVICE_RESOURCES):
            dest: str | None = _DEVICE_DESTINATION
        else:
            dest = GROUP_DESTINATIONS.get(r.group)
        ctx = self.ctx
        if ctx is None or dest is None or not ctx.router.has_module(dest):
            log.debug(
                "no module for %s message %s %s from node %s; dropped", r.group, r.operation, r.resource, node
            )
            self._ack_up(sess, mid)
            return
        try:
            ctx.send_nowait(dest, _with_resource(msg, "%s%s/%s" % (NODE_PREFIX, node, r.resource)))
        except QueueFull:
            log.warning(
                "module %s is full; %s %s from node %s not acked (the edge resends)",
                dest,
                r.operation,
                r.resource,
                node,
            )
            return
        self.stats["routed"] += 1
        if mid:
            recent[mid] = None
            if len(recent) > _RECENT_UPSTREAM:
                recent.popitem(last=False)
            self._ack_up(sess, mid)

    def _ack_up(self, sess: NodeSession, mid: str) -> None:
        """Tell the edge (native lane) that upstream message `mid` is dealt with: it leaves the outbox."""
        if mid and sess.native:
            sess.acks.append(mid)
            self._mark(sess)

    # -- timers ----------------------------------------------------------------------------------

    def tick(self, now: float) -> list[NodeState]:
        """Keepalive expiry and due resends; returns node states whose cursors need writing."""
        for node in self.liveness.expired(now):
            sess = self.sessions.get(node)
            if sess is not None and sess.link is not None:
                log.warning(
                    "node %s sent nothing for %.0f s (keepaliveInterval); closing its session",
                    node,
                    self.settings.keepalive_interval,
                )
                sess.link.close(
                    "keepalive timeout: nothing heard for %.0f s" % self.settings.keepalive_interval
                )
        # Only sessions that had something queued or in flight at their last flush can need a resend
        # or a retry: with 10,000 idle edges the tick touches none of them.
        watch = self._watch
        self._watch = set()
        for sess in watch:
            if sess.closed or self.sessions.get(sess.state.node_id) is not sess:
                continue
            out = sess.state.outbound
            nd = out.next_deadline()
            if (nd is not None and nd <= now) or (out.pending() and sess not in self._dirty):
                self._mark(sess)
            elif out.in_flight or out.pending():
                self._watch.add(sess)
        return list(self._cursor_dirty)

    def cursor_rows(self) -> list[tuple[str, bytes]]:
        """(node, encoded cursor) of every cursor changed since the last call; clears their dirty flags."""
        rows: list[tuple[str, bytes]] = []
        for st in self._cursor_dirty:
            cur = st.outbound.cursor
            if cur.dirty:
                cur.dirty = False
                rows.append((st.node_id, encode_cursor(cur.entries)))
        self._cursor_dirty.clear()
        return rows

    async def flush_cursors(self) -> int:
        rows = self.cursor_rows()
        if rows and self.cursors is not None:
            await asyncio.to_thread(self.cursors.save, rows)
        return len(rows)

    async def run(self) -> None:
        """The hub's timer loop; runs until cancelled, then writes the last cursor changes."""
        self._loop = asyncio.get_running_loop()
        s = self.settings
        try:
            while True:
                await asyncio.sleep(s.tick)
                now = self.clock()
                self.tick(now)
                if self._cursor_dirty and now - self._last_cursor_flush >= s.flush_interval:
                    self._last_cursor_flush = now
                    await self.flush_cursors()
        finally:
            rows = self.cursor_rows()
            if rows and self.cursors is not None:
                self.cursors.save(rows)

    def close_all(self, reason: str) -> None:
        for sess in list(self.sessions.values()):
            if sess.link is not None:
                sess.link.close(reason)


class CloudHubModule(Module):
    """The beehive face of CloudHub: controllers send node-addressed messages to `cloudhub`."""

    name = c.CLOUDHUB
    group = c.CLOUDHUB

    def __init__(self, hub: CloudHub) -> None:
        self.hub = hub

    async def start(self, ctx: Context) -> None:
        hub = self.hub
        hub.ctx = ctx
        timer = asyncio.create_task(hub.run(), name="cloudhub-timer")
        try:
            while True:
                for msg in await ctx.receive_many(self.name, 1024):
                    hub.dispatch(msg)
        finally:
            timer.cancel()
            try:
                await timer
            except asyncio.CancelledError:
                pass
