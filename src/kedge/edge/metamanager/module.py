"""MetaManager, the beehive module (KubeEdge's `metamanager`, group `meta`): persist, then ack.

Cloud objects (insert/update/patch/delete of `<ns>/<type>/<name>`) arrive from EdgeHub in batches. Each
batch is applied to the MetaStore's index and written with ONE `commit()`; only then is each message
acked (`response`/"OK" to EdgeHub, which turns it into a hub ack). A failed commit acks nothing: the
cloud resends, and the index (newer or equal) takes the resend without harm. A message that cannot be
stored is answered with KubeEdge's `error` reply (route source `metamanager`), which the cloud counts as
a nack. Queries from edge modules are answered from the in-memory index.

`patch` is taken as an update carrying the whole object: KubeEdge's cloud never sends patches down (its
metamanager stores the patched object the cloud returns), so any patch that does come is the result.

Committed pods, configmaps, secrets and the node object are forwarded to Edged. Edged's own requests go
to the cloud through here (KubeEdge's remote path): registration, lease and status patches are sent as
sync requests under a new id and answered to Edged with the cloud's reply, or at once with
"connection lost between EdgeCore and CloudCore" while the cloud is away; a pod deletion Edged confirms is
removed locally and sent through EdgeHub's durable outbox. Queries are answered locally; a configmap or
secret not held locally is asked of the cloud when connected and kept.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec

from kedge.beehive import Context, Module
from kedge.edge.edgehub.hub import CLOUD_CONNECTED, CLOUD_DISCONNECTED
from kedge.edge.metamanager.store import MetaStore
from kedge.model import constants as c
from kedge.model.message import Message, new_error, new_message, new_response
from kedge.model.resource import ResourceError, parse_wire

log = logging.getLogger(__name__)

__all__ = ["BATCH", "MetaManager"]

#: messages taken from the inbox per commit
BATCH = 256
_WRITES = frozenset((c.INSERT, c.UPDATE, c.PATCH))
#: cloud objects Edged acts on, and those DeviceTwin does (a node's devices and their models)
_TO_EDGED = frozenset((c.POD, c.CONFIGMAP, c.SECRET, c.NODE))
_TO_TWIN = frozenset((c.DEVICE, c.DEVICEMODEL))
#: types a query may fetch from the cloud when not held locally (KubeEdge's remote query types)
_REMOTE_QUERY = frozenset((c.CONFIGMAP, c.SECRET, c.SERVICEACCOUNTTOKEN))
#: seconds to wait for the cloud's answer to a remote request
REMOTE_TIMEOUT = 30.0
CONNECTION_LOST = "connection lost between EdgeCore and CloudCore"
_json_encoder = msgspec.json.Encoder()
_WS = b" \t\r\n"


class _Rejected(ValueError):
    """A message that cannot be persisted; the text is the reason sent back to its sender."""


def _json_kind(raw: bytes) -> str:
    """The JSON type of an encoded value, from its first byte (enough to refuse a non-object)."""
    first = raw.lstrip(_WS)[:1]
    if first == b"{":
        return "object"
    if first == b"[":
        return "array"
    if first == b'"':
        return "string"
    if first in (b"t", b"f"):
        return "bool"
    if first == b"n":
        return "null"
    return "number"


def _content_bytes(msg: Message) -> bytes:
    content = msg.content
    if type(content) is msgspec.Raw:
        return bytes(content)
    try:
        return _json_encoder.encode(content)
    except (TypeError, msgspec.EncodeError) as e:
        raise _Rejected("content of %s is not JSON-encodable: %s" % (msg.route.resource, e)) from None


class MetaManager(Module):
    name = c.METAMANAGER
    group = c.METAMANAGER_GROUP

    def __init__(self, store: MetaStore, *, batch: int = BATCH) -> None:
        if batch < 1:
            raise ValueError("metamanager batch must be >= 1, got %r" % (batch,))
        self.store = store
        self.batch = batch
        #: the last connect state EdgeHub broadcast
        self.cloud_connected = False
        self._tasks: set[asyncio.Task] = set()

    async def start(self, ctx: Context) -> None:
        while True:
            await self.handle(ctx, await ctx.receive_many(self.name, self.batch))

    async def handle(self, ctx: Context, batch: list[Message]) -> None:
        """Process one batch: apply writes, commit once, ack; answer queries."""
        persisted: list[Message] = []
        replies: list[Message] = []  # errors for the cloud, sent whatever the commit does
        for msg in batch:
            op = msg.route.operation
            if msg.route.source == c.EDGED and op != c.QUERY:
                self._from_edged(ctx, msg)
            elif op in _WRITES or op == c.DELETE:
                try:
                    self._apply(msg)
                except _Rejected as e:
                    log.warning("cannot persist %s %s: %s", op, msg.route.resource, e)
                    err = new_error(msg, str(e))
                    err.route.source = c.METAMANAGER
                    replies.append(err)
                    continue
                persisted.append(msg)
            elif op == c.QUERY:
                self._query(ctx, msg)
            elif op == c.CONNECT and msg.route.group == c.EDGEHUB_GROUP:
                if msg.content == CLOUD_CONNECTED:
                    self.cloud_connected = True
                elif msg.content == CLOUD_DISCONNECTED:
                    self.cloud_connected = False
            else:
                log.debug("metamanager ignores %s %s from %s", op, msg.route.resource, msg.route.source)
        if persisted:
            try:
                self.store.commit()
            except Exception as e:  # the cloud resends what is not acked
                log.error("cannot commit %d objects to %s: %s; not acked", len(persisted), self.store.path, e)
                persisted = []
        for msg in persisted:
            replies.append(new_response(msg, c.ACK_OK))
        for reply in replies:
            await self._to_hub(ctx, reply)
        if persisted:
            await self._forward(ctx, persisted)

    @staticmethod
    async def _forward(ctx: Context, persisted: list[Message]) -> None:
        edged, twin = ctx.router.has_module(c.EDGED), ctx.router.has_module(c.TWIN)
        for msg in persisted:
            parts = msg.route.resource.split("/", 2)
            if len(parts) != 3:
                continue
            if edged and parts[1] in _TO_EDGED:
                try:
                    ctx.send_nowait(c.EDGED, msg)
                except Exception as e:  # a full inbox: edged resyncs from the store at its next start
                    log.warning("cannot forward %s to edged: %s", msg.route.resource, e)
            elif twin and parts[1] in _TO_TWIN:
                # waits for room: a device change must not be lost (it is acked already)
                await ctx.send(c.TWIN, msg)

    # -- edged's requests ----------------------------------------------------------------------------

    def _from_edged(self, ctx: Context, msg: Message) -> None:
        r = msg.route
        if r.operation == c.DELETE:
            # a pod whose graceful deletion finished: forget it here, tell the cloud (durably)
            self.store.delete(r.resource)
            try:
                self.store.commit()
            except Exception as e:
                log.error("cannot commit the deletion of %s: %s", r.resource, e)
            self._spawn(self._to_hub(ctx, msg))
            return
        if not msg.header.sync:
            self._spawn(self._to_hub(ctx, msg))
            return
        if not self.cloud_connected:
            self._answer(ctx, msg, new_error(msg, CONNECTION_LOST))
            return
        self._spawn(self._remote(ctx, msg))

    async def _remote(self, ctx: Context, msg: Message, *, store: bool = False) -> None:
        """Ask the cloud under a new id (the asker waits on the original one) and answer the asker."""
        r = msg.route
        fwd = new_message(
            source=c.METAMANAGER,
            group=r.group,
            operation=r.operation,
            resource=r.resource,
            content=msg.content,
        )
        try:
            reply = await ctx.send_sync(c.EDGEHUB, fwd, timeout=REMOTE_TIMEOUT)
        except TimeoutError:
            self._answer(ctx, msg, new_error(msg, "no answer from the cloud within %.0f s" % REMOTE_TIMEOUT))
            return
        except Exception as e:
            self._answer(ctx, msg, new_error(msg, "cannot reach the cloud: %s" % e))
            return
        if reply.route.operation == c.ERROR:
            out = new_error(msg, str(reply.content))
        else:
            out = new_response(msg, reply.content)
            if store:
                self._keep(r.resource, reply)
        out.route.source = c.METAMANAGER
        self._answer(ctx, msg, out)

    def _keep(self, resource: str, reply: Message) -> None:
        try:
            res = parse_wire(resource)
            raw = _content_bytes(reply)
            obj = msgspec.json.decode(raw)
            rv = (
                int(((obj.get("metadata") or {}).get("resourceVersion")) or 0) if isinstance(obj, dict) else 0
            )
            if self.store.put(resource, res.type, raw, rv):
                self.store.commit()
        except Exception as e:  # the answer is still passed on; only the local copy is missing
            log.warning("cannot keep %s from the cloud: %s", resource, e)

    def _answer(self, ctx: Context, request: Message, reply: Message) -> None:
        reply.route.source = c.METAMANAGER
        if request.header.sync and ctx.send_resp(reply):
            return
        dest = request.route.source
        if ctx.router.has_module(dest):
            try:
                ctx.send_nowait(dest, reply)
            except Exception as e:
                log.warning("cannot answer %s to %s: %s", request.route.resource, dest, e)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _apply(self, msg: Message) -> None:
        r = msg.route
        try:
            res = parse_wire(r.resource)
        except ResourceError as e:
            raise _Rejected(str(e)) from None
        if not res.name:
            raise _Rejected("resource %r: expected <namespace>/<type>/<name>" % (r.resource,))
        if r.operation == c.DELETE:
            kind = _json_kind(_content_bytes(msg))
            if kind not in ("object", "null"):
                raise _Rejected(
                    "failed to delete %s meta to DB: content is a JSON %s, not an object" % (res.type, kind)
                )
            self.store.delete(r.resource)
            return
        if msg.content is None:
            raise _Rejected("failed to %s %s meta to DB: no content" % (r.operation, res.type))
        rv_text = msg.header.resourceversion
        try:
            rv = int(rv_text or 0)
        except ValueError:
            rv = -1
        if rv < 0:
            raise _Rejected("resourceversion %r of %s is not an integer >= 0" % (rv_text, r.resource))
        if not self.store.put(r.resource, res.type, _content_bytes(msg), rv):
            log.debug(
                "%s %s at rv %d is older than the stored one; acked unchanged", r.operation, r.resource, rv
            )

    # -- queries ---------------------------------------------------------------------------------------

    def _query(self, ctx: Context, msg: Message) -> None:
        resource = msg.route.resource
        try:
            res = parse_wire(resource)
        except ResourceError as e:
            reply = new_error(msg, str(e))
        else:
            if res.name:
                row = self.store.get(resource)
                if row is None and res.type in _REMOTE_QUERY and self.cloud_connected and msg.header.sync:
                    self._spawn(self._remote(ctx, msg, store=True))
                    return
                reply = (
                    new_error(msg, "%s not found" % resource)
                    if row is None
                    else new_response(msg, msgspec.Raw(row[1]))
                )
            else:
                rows = self.store.query_prefix(resource)
                reply = new_response(msg, msgspec.Raw(b"[" + b",".join(v for _, _, v, _ in rows) + b"]"))
        reply.route.source = c.METAMANAGER
        if msg.header.sync and ctx.send_resp(reply):
            return
        dest = msg.route.source
        if not ctx.router.has_module(dest):
            log.debug("no module %r to answer query %s; dropped", dest, resource)
            return
        try:
            ctx.send_nowait(dest, reply)
        except Exception as e:  # a full inbox: the asker times out and asks again
            log.warning("cannot answer query %s to %s: %s", resource, dest, e)

    @staticmethod
    async def _to_hub(ctx: Context, msg: Message) -> None:
        try:
            await ctx.send(c.EDGEHUB, msg)
        except Exception as e:  # no EdgeHub: the cloud resends, nothing here to undo
            log.warning(
                "cannot send %s for %s to %s: %s", msg.route.operation, msg.route.resource, c.EDGEHUB, e
            )
