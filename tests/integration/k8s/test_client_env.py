"""kedge's API client stops aiohttp's per-request netrc and proxy lookups when the environment names no
proxy, and keeps them when it does; either way it works against the embedded API server."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from kedge.k8s.client import open_api, proxy_env


def test_proxy_env() -> None:
    assert not proxy_env({"HOME": "/root", "PATH": "/bin"})
    assert proxy_env({"HTTPS_PROXY": "http://p:3128"})
    assert proxy_env({"no_proxy": "localhost"})


@pytest.mark.parametrize("proxied", [False, True])
async def test_session_trusts_the_environment_only_for_proxies(
    embedded, monkeypatch: pytest.MonkeyPatch, proxied: bool
) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    if proxied:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # names a proxy setting, reaches no proxy
    api = await open_api(str(embedded.kubeconfig))
    try:
        assert api.rest_client.pool_manager.trust_env is proxied
        ns = await client.CoreV1Api(api).read_namespace("default")
        assert ns.metadata.name == "default"
    finally:
        await api.close()
