"""Informer against the embedded API server through real kubernetes_asyncio clients."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from kubernetes_asyncio import client

from kedge.aio.backoff import Backoff
from kedge.apiserver.storage import Storage
from kedge.k8s.client import open_api
from kedge.k8s.informer import Handler, Informer


def _cm(name: str, value: str = "v", labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "t"} if labels is None else labels},
        "data": {"k": value},
    }


class Recorder:
    """The informer's handler: every event as (kind, name, rv), in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []

    def __call__(self, kind: str, obj: dict[str, Any], rv: int) -> None:
        self.events.append((kind, obj.get("metadata", {}).get("name", ""), rv))

    def after(self, n: int) -> list[tuple[str, str, int]]:
        return self.events[n:]


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


@asynccontextmanager
async def running(embedded, rec: Handler, **opts: Any) -> AsyncIterator[tuple[Informer, client.CoreV1Api]]:
    """An informer over configmaps labelled app=t in `default`, running until the block ends."""
    api = await open_api(str(embedded.kubeconfig))
    core = client.CoreV1Api(api)
    opts.setdefault("backoff", Backoff(initial=0.05, cap=0.2))
    inf = Informer(
        core.list_namespaced_config_map,
        rec,
        kwargs={"namespace": "default", "label_selector": "app=t"},
        **opts,
    )
    task = asyncio.create_task(inf.run())
    try:
        async with asyncio.timeout(10):
            await inf.synced.wait()
        yield inf, core
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await api.close()


def names(inf: Informer) -> set[str]:
    return {o["metadata"]["name"] for o in inf.list()}


async def test_list_then_watch_reports_changes_in_order(embedded) -> None:
    rec = Recorder()
    api = await open_api(str(embedded.kubeconfig))
    async with api:
        core = client.CoreV1Api(api)
        for name in ("a", "b", "c"):
            await core.create_namespaced_config_map("default", _cm(name))
        await core.create_namespaced_config_map("default", _cm("other", labels={"app": "x"}))
    # page_size 2 makes the initial list take two pages; timeout 1 makes watches end and resume.
    async with running(embedded, rec, page_size=2, timeout_seconds=1) as (inf, core):
        listed = [(k, n) for k, n, _ in rec.events]
        assert listed == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c"), ("SYNCED", "")]
        assert names(inf) == {"a", "b", "c"}
        listed_rv = rec.events[-1][2]
        assert inf.resource_version == listed_rv

        await asyncio.sleep(1.5)  # the first watch has ended and been resumed from its RV
        await core.create_namespaced_config_map("default", _cm("d"))
        await core.patch_namespaced_config_map("d", "default", {"data": {"k": "changed"}})
        await core.delete_namespaced_config_map("a", "default")
        await until(lambda: len(rec.events) == 7)
        tail = rec.after(4)
        assert [(k, n) for k, n, _ in tail] == [("ADDED", "d"), ("MODIFIED", "d"), ("DELETED", "a")]
        rvs = [listed_rv] + [rv for _, _, rv in tail]
        assert rvs == sorted(set(rvs)), rvs

        d = inf.by_name("default", "d")
        assert d is not None and d["data"] == {"k": "changed"}
        assert inf.get(d["metadata"]["uid"]) is d
        assert inf.by_name("default", "a") is None
        assert inf.by_name("default", "other") is None  # filtered out by the label selector
        assert names(inf) == {"b", "c", "d"}
        assert inf.resource_version == tail[-1][2]


async def test_bookmarks_advance_the_resource_version(embedded, monkeypatch) -> None:
    monkeypatch.setattr("kedge.apiserver.app.BOOKMARK_INTERVAL", 0.1)
    rec = Recorder()
    async with running(embedded, rec) as (inf, core):
        made = await core.create_namespaced_config_map("default", _cm("unwatched", labels={"app": "x"}))
        rv = int(made.metadata.resource_version)
        await until(lambda: (inf.resource_version or 0) >= rv)
        assert [k for k, _, _ in rec.events] == ["SYNCED"]  # the bookmark moved the RV, nothing else


async def test_a_410_relists_and_reports_what_was_deleted_meanwhile(embedded) -> None:
    rec = Recorder()
    api = await open_api(str(embedded.kubeconfig))
    async with api:
        for name in ("keep", "drop"):
            await client.CoreV1Api(api).create_namespaced_config_map("default", _cm(name))
    async with running(embedded, rec) as (inf, core):
        assert names(inf) == {"keep", "drop"}
        seen = inf.resource_version
        await embedded.stop()
        # While the server is down, "drop" goes and history is compacted past the informer's RV.
        storage = Storage(str(embedded.data_dir / "apiserver" / "apiserver.db"))
        try:
            storage.delete("configmaps", "default", "drop")
            storage.compact(now=1e12, keep_revisions=0, min_age=0)
            assert seen is not None and storage.compacted > seen
        finally:
            storage.close()
        await embedded.start()
        await until(lambda: [k for k, _, _ in rec.events].count("SYNCED") == 2)
        assert [(k, n) for k, n, _ in rec.after(3)] == [("DELETED", "drop"), ("SYNCED", "")]
        assert names(inf) == {"keep"}
        assert inf.by_name("default", "drop") is None

        await core.create_namespaced_config_map("default", _cm("after"))  # and it watches again
        await until(lambda: names(inf) == {"keep", "after"})


async def test_server_restart_reconnects_and_converges(embedded) -> None:
    rec = Recorder()
    async with running(embedded, rec) as (inf, core):
        await core.create_namespaced_config_map("default", _cm("before"))
        await until(lambda: names(inf) == {"before"})
        await embedded.stop()
        await asyncio.sleep(0.3)  # the informer fails to reconnect and backs off
        await embedded.start()
        await core.create_namespaced_config_map("default", _cm("during"))
        await core.delete_namespaced_config_map("before", "default")
        await until(lambda: names(inf) == {"during"})
        # History survived the restart, so the informer resumed its watch instead of relisting.
        assert [(k, n) for k, n, _ in rec.events] == [
            ("SYNCED", ""),
            ("ADDED", "before"),
            ("ADDED", "during"),
            ("DELETED", "before"),
        ]
        await embedded.stop()  # cancelled below while backing off, with the server down


async def test_a_failing_handler_does_not_stop_the_informer(embedded) -> None:
    seen: list[str] = []

    def handler(kind: str, obj: dict[str, Any], rv: int) -> None:
        seen.append(kind)
        if kind == "ADDED":
            raise RuntimeError("controller bug")

    async with running(embedded, handler) as (_, core):
        await core.create_namespaced_config_map("default", _cm("x"))
        await core.delete_namespaced_config_map("x", "default")
        await until(lambda: seen == ["SYNCED", "ADDED", "DELETED"])


async def test_cancellation_leaves_nothing_running(embedded, monkeypatch) -> None:
    monkeypatch.setattr("kedge.apiserver.app.DISCONNECT_POLL", 0.05)
    before = asyncio.all_tasks()
    api = await open_api(str(embedded.kubeconfig))
    inf = Informer(
        client.CoreV1Api(api).list_namespaced_config_map, Recorder(), kwargs={"namespace": "default"}
    )
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.synced.wait(), 10)
    await asyncio.sleep(0.1)  # inside the watch request
    assert embedded.server.hub.count() == 1
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert task.cancelled()
    await api.close()
    assert api.rest_client.pool_manager.closed
    # The server notices the dropped watch (it polls its transport) and ends it while it keeps running.
    await until(lambda: embedded.server.hub.count() == 0, timeout=5)
    # Once the server stops (its connection tasks go), nothing that the informer started may remain.
    await embedded.stop()
    await until(lambda: asyncio.all_tasks() <= before, timeout=5)
