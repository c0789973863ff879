"""kubernetes_asyncio and the official kubernetes client against the embedded server, unchanged."""

import asyncio
import io
import json

import pytest
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio import config as aconfig
from kubernetes_asyncio import watch as awatch
from kubernetes_asyncio.client.rest import ApiException


async def _api(embedded) -> aclient.ApiClient:
    cfg = aclient.Configuration()
    await aconfig.load_kube_config(config_file=str(embedded.kubeconfig), client_configuration=cfg)
    return aclient.ApiClient(configuration=cfg)


def _cm(name: str, value: str = "v") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "t"}},
        "data": {"k": value},
    }


async def test_list_and_watch_resume_from_a_resource_version(embedded) -> None:
    async with await _api(embedded) as api:
        core = aclient.CoreV1Api(api)
        for i in range(3):
            await core.create_namespaced_config_map("default", _cm("cm-%d" % i))
        listed = await core.list_namespaced_config_map("default", label_selector="app=t")
        assert sorted(i.metadata.name for i in listed.items) == ["cm-0", "cm-1", "cm-2"]
        rv = listed.metadata.resource_version
        await core.patch_namespaced_config_map("cm-1", "default", {"data": {"k": "changed"}})
        await core.delete_namespaced_config_map("cm-2", "default")
        seen = []
        w = awatch.Watch()
        async with w.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=2
        ) as stream:
            async for ev in stream:
                seen.append((ev["type"], ev["object"].metadata.name))
                if len(seen) == 2:
                    w.stop()
        assert seen == [("MODIFIED", "cm-1"), ("DELETED", "cm-2")]


async def test_paged_list_with_limit_and_continue(embedded) -> None:
    async with await _api(embedded) as api:
        core = aclient.CoreV1Api(api)
        for i in range(7):
            await core.create_namespaced_config_map("default", _cm("page-%d" % i))
        names, token = [], None
        while True:
            page = await core.list_namespaced_config_map("default", limit=3, _continue=token)
            names += [i.metadata.name for i in page.items]
            token = page.metadata._continue
            if not token:
                break
        assert names == ["page-%d" % i for i in range(7)]


async def test_watch_from_a_compacted_revision_is_410_and_the_client_relists(embedded) -> None:
    async with await _api(embedded) as api:
        core = aclient.CoreV1Api(api)
        await core.create_namespaced_config_map("default", _cm("old"))
        old_rv = (await core.list_namespaced_config_map("default")).metadata.resource_version
        for i in range(5):
            await core.patch_namespaced_config_map("old", "default", {"data": {"k": str(i)}})
        storage = embedded.server.storage
        storage.compact(now=1e12, keep_revisions=1, min_age=0)
        assert storage.compacted > int(old_rv)
        with pytest.raises(ApiException) as ei:
            async with awatch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=old_rv, timeout_seconds=2
            ) as stream:
                async for _ in stream:
                    pass
        assert ei.value.status == 410
        relisted = await core.list_namespaced_config_map("default")
        assert relisted.items[0].data == {"k": "4"}


async def test_restart_keeps_every_object_and_a_watch_resumes(embedded) -> None:
    async with await _api(embedded) as api:
        core = aclient.CoreV1Api(api)
        await core.create_namespace({"metadata": {"name": "persist"}})
        for i in range(5):
            await core.create_namespaced_config_map("persist", _cm("keep-%d" % i))
        rv = (await core.list_namespaced_config_map("persist")).metadata.resource_version
    await embedded.stop()
    await embedded.start()
    async with await _api(embedded) as api:
        core = aclient.CoreV1Api(api)
        names = [i.metadata.name for i in (await core.list_namespaced_config_map("persist")).items]
        assert names == ["keep-%d" % i for i in range(5)]
        await core.create_namespaced_config_map("persist", _cm("after-restart"))
        seen = []
        w = awatch.Watch()
        async with w.stream(
            core.list_namespaced_config_map, "persist", resource_version=rv, timeout_seconds=2
        ) as stream:
            async for ev in stream:
                seen.append((ev["type"], ev["object"].metadata.name))
                w.stop()
        assert seen == [("ADDED", "after-restart")]


async def test_status_subresource_patch(embedded) -> None:
    async with await _api(embedded) as api:
        core = aclient.CoreV1Api(api)
        await core.create_node({"metadata": {"name": "edge-1"}, "status": {"phase": "Pending"}})
        await core.patch_node_status(
            "edge-1",
            {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
        )
        node = await core.read_node("edge-1")
        assert [(c.type, c.status) for c in node.status.conditions] == [("Ready", "True")]
        # a main-resource update does not change status (the status subresource owns it)
        await core.patch_node("edge-1", {"metadata": {"labels": {"a": "b"}}, "status": {"conditions": []}})
        node = await core.read_node("edge-1")
        assert node.metadata.labels == {"a": "b"} and len(node.status.conditions) == 1


async def test_custom_objects_api_on_kedge_crds(embedded) -> None:
    async with await _api(embedded) as api:
        co = aclient.CustomObjectsApi(api)
        model = {
            "apiVersion": "devices.kubeedge.io/v1beta1",
            "kind": "DeviceModel",
            "metadata": {"name": "counter-model"},
            "spec": {
                "protocol": "virtualProtocol",
                "properties": [{"name": "count", "type": "INT", "accessMode": "ReadOnly"}],
            },
        }
        await co.create_namespaced_custom_object(
            "devices.kubeedge.io", "v1beta1", "default", "devicemodels", model
        )
        device = {
            "apiVersion": "devices.kubeedge.io/v1beta1",
            "kind": "Device",
            "metadata": {"name": "counter"},
            "spec": {
                "deviceModelRef": {"name": "counter-model"},
                "nodeName": "edge-1",
                "protocol": {"protocolName": "virtualProtocol"},
            },
        }
        await co.create_namespaced_custom_object(
            "devices.kubeedge.io", "v1beta1", "default", "devices", device
        )
        got = await co.get_namespaced_custom_object(
            "devices.kubeedge.io", "v1beta1", "default", "devices", "counter"
        )
        assert got["spec"]["nodeName"] == "edge-1"
        await co.patch_namespaced_custom_object(
            "devices.kubeedge.io",
            "v1beta1",
            "default",
            "devices",
            "counter",
            {"metadata": {"labels": {"x": "y"}}},
            _content_type="application/merge-patch+json",
        )
        listed = await co.list_namespaced_custom_object(
            "devices.kubeedge.io", "v1beta1", "default", "devices"
        )
        assert [i["metadata"]["labels"] for i in listed["items"]] == [{"x": "y"}]


async def test_official_kubernetes_client(embedded) -> None:
    from kubernetes import client as kclient
    from kubernetes import config as kconfig

    def work() -> list[str]:
        api = kconfig.new_client_from_config(config_file=str(embedded.kubeconfig))
        try:
            core = kclient.CoreV1Api(api)
            core.create_namespaced_config_map("default", _cm("sync-client"))
            core.patch_namespaced_config_map("sync-client", "default", {"data": {"k": "2"}})
            return [i.metadata.name for i in core.list_namespaced_config_map("default").items]
        finally:
            api.close()

    assert "sync-client" in await asyncio.to_thread(work)


async def test_bad_input_is_rejected_and_nothing_is_stored(embedded) -> None:
    import aiohttp

    token = embedded.server.tokens[0]
    url = embedded.server.url.replace("0.0.0.0", "127.0.0.1") + "/api/v1/namespaces/default/configmaps"
    storage = embedded.server.storage
    before = storage.revision
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        cases = [
            (b"{not json", 400, "not valid JSON"),
            (
                json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}).encode(),
                400,
                "does not match the expected kind",
            ),
            (json.dumps(_cm("Not_A_Name")).encode(), 422, "a lowercase RFC 1123 subdomain"),
            (
                b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":"'
                + b"x" * (4 << 20)
                + b'"}}',
                413,
                "limit",
            ),
            (b"[1,2]", 400, "must be a JSON object"),
        ]
        for body, code, needle in cases:
            async with http.post(url, data=io.BytesIO(body), headers=headers, ssl=False) as resp:
                status = await resp.json()
                assert resp.status == code, (code, status)
                assert status["kind"] == "Status" and status["code"] == code
                assert needle in status["message"], status["message"]
        async with http.get(url, ssl=False) as resp:
            assert resp.status == 401 and (await resp.json())["reason"] == "Unauthorized"
        async with http.get(url, headers={"Authorization": "Bearer wrong"}, ssl=False) as resp:
            assert resp.status == 401
    assert storage.revision == before
