"""MetaManager module: persist a batch with one commit, then ack; errors, queries, connect state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import apsw
import msgspec
import pytest

from kedge.beehive import Context
from kedge.edge.edgehub.hub import CLOUD_CONNECTED, CLOUD_DISCONNECTED, CONNECTION_RESOURCE
from kedge.edge.metamanager.module import MetaManager
from kedge.edge.metamanager.store import MetaStore
from kedge.model import constants as c
from kedge.model.codec import decode_content
from kedge.model.message import Message, new_message

POD_WEB = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"}}'


def _disk(path: Path) -> dict[str, tuple[str, bytes, int]]:
    """The rows on disk, through a read-only connection of its own."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return {
            k: (t, v, rv)
            for k, t, v, rv in conn.execute("SELECT key, type, value, resource_version FROM meta")
        }
    finally:
        conn.close()


class HubContext(Context):
    """A beehive Context with a module `websocket` (group `hub`) that records what reaches it, together
    with the rows on disk at the moment each message was sent to it."""

    def __init__(self, db: Path) -> None:
        super().__init__()
        self.db = db
        self.add_module(c.EDGEHUB, c.EDGEHUB_GROUP)
        self.to_hub: list[tuple[Message, dict[str, tuple[str, bytes, int]]]] = []

    async def send(self, dest: str, msg: Any) -> None:
        if dest == c.EDGEHUB:
            self.to_hub.append((msg, _disk(self.db)))
        await super().send(dest, msg)

    def hub_messages(self) -> list[Message]:
        out = []
        while (m := self.receive_nowait(c.EDGEHUB)) is not None:
            out.append(m)
        return out


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "edge.db"


@pytest.fixture
def store(store_mod, db: Path):
    s = MetaStore(db, index_factory=store_mod.MetaIndex, busy_timeout_ms=20)
    yield s
    s.close()


@pytest.fixture
def ctx(db: Path) -> HubContext:
    return HubContext(db)


@pytest.fixture
def mm(ctx: HubContext, store: MetaStore) -> MetaManager:
    m = MetaManager(store)
    ctx.add_module(m.name, m.group)
    return m


def cloud_msg(op: str, resource: str, content: Any = None, rv: int | str = "") -> Message:
    return new_message(
        source=c.EDGECONTROLLER,
        group=c.GROUP_RESOURCE,
        operation=op,
        resource=resource,
        resourceversion=str(rv),
        content=content,
    )


def pod(name: str, rv: int, op: str = c.UPDATE) -> Message:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "rv": rv}
    return cloud_msg(op, "default/pod/" + name, msgspec.Raw(msgspec.json.encode(body)), rv)


def acks_of(ctx: HubContext) -> dict[str, Message]:
    return {m.header.parent_msg_id: m for m in ctx.hub_messages() if m.route.operation == c.RESPONSE}


async def test_insert_update_delete_persist_before_ack(ctx, mm, store, db):
    ins = cloud_msg(c.INSERT, "default/pod/web", msgspec.Raw(POD_WEB), 100)
    cm = cloud_msg(c.UPDATE, "default/configmap/cfg", {"data": {"k": "v"}}, 7)
    await mm.handle(ctx, [ins, cm])
    # every ack was sent with its object already in the file
    assert len(ctx.to_hub) == 2
    for ack, _ in ctx.to_hub:
        assert ack.route.operation == c.RESPONSE and ack.content == c.ACK_OK
        assert ack.route.source == c.EDGECONTROLLER and ack.route.group == c.GROUP_RESOURCE
    assert ctx.to_hub[0][0].header.parent_msg_id == ins.header.msg_id
    assert ctx.to_hub[0][1]["default/pod/web"] == ("pod", POD_WEB, 100)  # raw content stored as is
    assert ctx.to_hub[1][1]["default/configmap/cfg"] == ("configmap", b'{"data":{"k":"v"}}', 7)
    assert set(acks_of(ctx)) == {ins.header.msg_id, cm.header.msg_id}

    ctx.to_hub.clear()
    upd = cloud_msg(c.UPDATE, "default/pod/web", msgspec.Raw(b'{"metadata":{"name":"web"},"v":2}'), 105)
    await mm.handle(ctx, [upd])
    ((ack, disk),) = ctx.to_hub
    assert ack.header.parent_msg_id == upd.header.msg_id
    assert disk["default/pod/web"] == ("pod", b'{"metadata":{"name":"web"},"v":2}', 105)

    ctx.to_hub.clear()
    dele = cloud_msg(c.DELETE, "default/pod/web", msgspec.Raw(b' {"metadata":{"name":"web"}}'), 106)
    await mm.handle(ctx, [dele])
    ((ack, disk),) = ctx.to_hub
    assert ack.header.parent_msg_id == dele.header.msg_id and ack.content == c.ACK_OK
    assert "default/pod/web" not in disk and "default/configmap/cfg" in disk
    assert "default/pod/web" not in store


async def test_stale_rv_is_acked_without_change(ctx, mm, db):
    await mm.handle(ctx, [pod("a", 10)])
    ctx.hub_messages()
    old = pod("a", 9)
    await mm.handle(ctx, [old])
    assert list(acks_of(ctx)) == [old.header.msg_id]
    assert _disk(db)["default/pod/a"][2] == 10
    assert b'"rv":10' in _disk(db)["default/pod/a"][1]


async def test_one_commit_per_batch(ctx, mm, store, monkeypatch):
    commits: list[int] = []
    real = store.commit

    def counting() -> int:
        n = real()
        commits.append(n)
        return n

    monkeypatch.setattr(store, "commit", counting)
    batch = [pod("p%d" % i, i + 1) for i in range(100)] + [pod("p0", 50)]
    await mm.handle(ctx, batch)
    assert commits == [100]  # 100 keys, the second p0 version coalesced in the same commit
    assert len(acks_of(ctx)) == 101
    await mm.handle(ctx, [cloud_msg(c.QUERY, "default/pod/p1")])  # nothing to persist: no commit
    assert commits == [100]


async def test_commit_failure_acks_nothing_and_resend_is_acked(ctx, mm, store, db):
    blocker = apsw.Connection(str(db))
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database: commit() gets BusyError
        msgs = [pod("a", 1), pod("b", 2)]
        await mm.handle(ctx, msgs)
        assert ctx.to_hub == [] and ctx.hub_messages() == []
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
    assert _disk(db) == {}
    await mm.handle(ctx, msgs)  # the cloud resends the same messages
    assert set(acks_of(ctx)) == {m.header.msg_id for m in msgs}
    assert set(_disk(db)) == {"default/pod/a", "default/pod/b"}


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (cloud_msg(c.DELETE, "default/pod/web", msgspec.Raw(b"12345")), "content is a JSON number"),
        (cloud_msg(c.DELETE, "default/pod/web", "a string"), "content is a JSON string"),
        (cloud_msg(c.UPDATE, "default/pod", msgspec.Raw(b"{}")), "expected <namespace>/<type>/<name>"),
        (cloud_msg(c.UPDATE, "pod", msgspec.Raw(b"{}")), "expected <namespace>/<type>"),
        (cloud_msg(c.INSERT, "default/pod/x", None, 3), "no content"),
        (cloud_msg(c.INSERT, "default/pod/x", msgspec.Raw(b"{}"), "abc"), "resourceversion 'abc'"),
        (cloud_msg(c.INSERT, "default/pod/x", object(), 3), "not JSON-encodable"),
    ],
)
async def test_unpersistable_content_gets_an_error_not_an_ack(ctx, mm, store, db, msg, reason):
    await mm.handle(ctx, [pod("web", 5)])
    ctx.hub_messages()
    ok = pod("other", 1)
    await mm.handle(ctx, [msg, ok])
    replies = ctx.hub_messages()
    errors = [m for m in replies if m.route.operation == c.ERROR]
    assert len(errors) == 1
    err = errors[0]
    assert err.header.parent_msg_id == msg.header.msg_id
    assert err.route.source == c.METAMANAGER and err.route.resource == msg.route.resource
    assert reason in err.content
    # the good message of the same batch is persisted and acked; the bad one changed nothing
    assert [m.header.parent_msg_id for m in replies if m.route.operation == c.RESPONSE] == [ok.header.msg_id]
    assert "default/pod/web" in _disk(db) and "default/pod/x" not in store


async def test_delete_without_content_and_of_absent_key_is_acked(ctx, mm, db):
    await mm.handle(ctx, [pod("a", 1)])
    ctx.hub_messages()
    d1 = cloud_msg(c.DELETE, "default/pod/a")
    d2 = cloud_msg(c.DELETE, "default/pod/never", {"metadata": {"name": "never"}})
    await mm.handle(ctx, [d1, d2])
    assert set(acks_of(ctx)) == {d1.header.msg_id, d2.header.msg_id}
    assert _disk(db) == {}


def _asker(ctx: Context) -> str:
    ctx.add_module(c.EDGED, c.EDGED_GROUP)
    return c.EDGED


def _query(resource: str, source: str = c.EDGED) -> Message:
    return new_message(source=source, group=c.GROUP_META, operation=c.QUERY, resource=resource)


async def test_query_found_list_and_not_found(ctx, mm):
    asker = _asker(ctx)
    await mm.handle(ctx, [pod("b", 2), pod("a", 1), cloud_msg(c.UPDATE, "other/pod/z", {"z": 1}, 1)])
    ctx.hub_messages()
    one, many, none, empty = (
        _query("default/pod/a"),
        _query("default/pod"),
        _query("default/pod/nope"),
        _query("default/secret"),
    )
    await mm.handle(ctx, [one, many, none, empty])
    got = {m.header.parent_msg_id: m for m in iter(lambda: ctx.receive_nowait(asker), None)}
    assert ctx.hub_messages() == []  # queries never go to the cloud
    r = got[one.header.msg_id]
    assert r.route.operation == c.RESPONSE and type(r.content) is msgspec.Raw
    assert decode_content(r)["rv"] == 1
    r = got[many.header.msg_id]
    assert [o["metadata"]["name"] for o in decode_content(r)] == ["a", "b"]
    r = got[none.header.msg_id]
    assert r.route.operation == c.ERROR and r.content == "default/pod/nope not found"
    assert decode_content(got[empty.header.msg_id]) == []


async def test_query_from_unknown_module_is_dropped(ctx, mm):
    await mm.handle(ctx, [_query("default/pod/a", source="ghost"), _query("bad")])
    assert ctx.hub_messages() == []


async def test_sync_query_is_resolved_through_send_resp(ctx, mm, store):
    task = asyncio.create_task(mm.start(ctx))
    try:
        ctx.send_nowait(mm.name, pod("a", 3))
        ack = await ctx.receive(c.EDGEHUB)
        assert ack.content == c.ACK_OK
        q = new_message(source="nobody", group=c.GROUP_META, operation=c.QUERY, resource="default/pod/a")
        resp = await ctx.send_sync(mm.name, q, timeout=10)
        assert resp.header.parent_msg_id == q.header.msg_id
        assert decode_content(resp)["metadata"]["name"] == "a"
        miss = new_message(source="nobody", group=c.GROUP_META, operation=c.QUERY, resource="default/pod/b")
        resp = await ctx.send_sync(mm.name, miss, timeout=10)
        assert resp.route.operation == c.ERROR and resp.content == "default/pod/b not found"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_connect_state_and_other_messages(ctx, mm):
    def connect(state: str) -> Message:
        return new_message(
            source=c.EDGEHUB,
            group=c.EDGEHUB_GROUP,
            operation=c.CONNECT,
            resource=CONNECTION_RESOURCE,
            content=state,
        )

    assert mm.cloud_connected is False
    await mm.handle(ctx, [connect(CLOUD_CONNECTED)])
    assert mm.cloud_connected is True
    await mm.handle(ctx, [connect(CLOUD_DISCONNECTED), cloud_msg(c.KEEPALIVE, "node", "ping")])
    assert mm.cloud_connected is False
    assert ctx.hub_messages() == []


def test_bad_batch_size_is_refused(store):
    with pytest.raises(ValueError, match="batch"):
        MetaManager(store, batch=0)


# -- Edged's side ---------------------------------------------------------------------------------------


def _edged_request(operation: str, resource: str, content: Any) -> Message:
    msg = new_message(
        source=c.EDGED, group=c.GROUP_META, operation=operation, resource=resource, content=content
    )
    msg.header.sync = True
    return msg


def _connect(ctx: HubContext, content: str) -> Message:
    return new_message(
        source=c.EDGEHUB,
        group=c.EDGEHUB_GROUP,
        operation=c.CONNECT,
        resource=CONNECTION_RESOURCE,
        content=content,
    )


async def test_committed_cloud_objects_are_forwarded_to_edged(
    ctx: HubContext, mm: MetaManager, store: MetaStore
):
    ctx.add_module(c.EDGED, c.EDGED_GROUP)
    pod = new_message(source="edgecontroller", group=c.GROUP_RESOURCE, operation=c.INSERT,
                      resource="default/pod/web", content=msgspec.Raw(POD_WEB))  # fmt: skip
    pod.header.resourceversion = "5"
    other = new_message(source="edgecontroller", group=c.GROUP_RESOURCE, operation=c.INSERT,
                        resource="default/service/web", content={"metadata": {"name": "web"}})  # fmt: skip
    other.header.resourceversion = "6"
    await mm.handle(ctx, [pod, other])
    forwarded = ctx.receive_nowait(c.EDGED)
    assert forwarded is pod and ctx.receive_nowait(c.EDGED) is None  # services are not Edged's
    assert store.get("default/pod/web") is not None


async def test_edged_request_while_offline_fails_fast(ctx: HubContext, mm: MetaManager):
    ctx.add_module(c.EDGED, c.EDGED_GROUP)
    req = _edged_request(c.PATCH, "default/podpatch/web", '{"status":{}}')
    await mm.handle(ctx, [req])
    reply = ctx.receive_nowait(c.EDGED)
    assert reply.route.operation == c.ERROR and reply.header.parent_msg_id == req.header.msg_id
    assert reply.content == "connection lost between EdgeCore and CloudCore"
    assert ctx.hub_messages() == []


async def test_edged_request_goes_to_the_cloud_under_a_new_id(ctx: HubContext, mm: MetaManager):
    ctx.add_module(c.EDGED, c.EDGED_GROUP)
    await mm.handle(ctx, [_connect(ctx, CLOUD_CONNECTED)])
    req = _edged_request(c.INSERT, "default/node/n1", {"metadata": {"name": "n1"}})
    waiter = asyncio.ensure_future(ctx.send_sync(c.METAMANAGER, req, timeout=5))
    await asyncio.sleep(0)
    await mm.handle(ctx, ctx.router.receive_many(c.METAMANAGER, 10))
    await asyncio.sleep(0)
    (up,) = ctx.hub_messages()
    assert up.header.msg_id != req.header.msg_id and up.header.sync
    assert (up.route.operation, up.route.resource, up.content) == (c.INSERT, "default/node/n1", req.content)
    from kedge.model.message import new_response

    assert ctx.send_resp(new_response(up, {"metadata": {"name": "n1", "uid": "u1"}}))
    reply = await waiter
    assert reply.header.parent_msg_id == req.header.msg_id
    assert reply.route.operation == c.RESPONSE and reply.content == {"metadata": {"name": "n1", "uid": "u1"}}


async def test_confirmed_pod_deletion_is_forgotten_and_sent_durably(ctx: HubContext, mm: MetaManager, store):
    store.put("default/pod/web", c.POD, POD_WEB, 3)
    store.commit()
    msg = new_message(source=c.EDGED, group=c.GROUP_META, operation=c.DELETE, resource="default/pod/web",
                      content={"gracePeriodSeconds": 0, "preconditions": {"uid": "u"}})  # fmt: skip
    await mm.handle(ctx, [msg])
    await asyncio.sleep(0)
    assert store.get("default/pod/web") is None
    (up,) = ctx.hub_messages()
    assert up is msg and not up.header.sync  # not sync: EdgeHub keeps it in the outbox until acked


async def test_missing_configmap_query_is_asked_of_the_cloud_and_kept(
    ctx: HubContext, mm: MetaManager, store
):
    ctx.add_module(c.EDGED, c.EDGED_GROUP)
    await mm.handle(ctx, [_connect(ctx, CLOUD_CONNECTED)])
    req = _edged_request(c.QUERY, "default/configmap/late", None)
    waiter = asyncio.ensure_future(ctx.send_sync(c.METAMANAGER, req, timeout=5))
    await asyncio.sleep(0)
    await mm.handle(ctx, ctx.router.receive_many(c.METAMANAGER, 10))
    await asyncio.sleep(0)
    (up,) = ctx.hub_messages()
    from kedge.model.message import new_response

    cm = {"metadata": {"name": "late", "namespace": "default", "resourceVersion": "9"}, "data": {"v": "42"}}
    ctx.send_resp(new_response(up, cm))
    reply = await waiter
    assert reply.content == cm
    row = store.get("default/configmap/late")
    assert row is not None and row[2] == 9
