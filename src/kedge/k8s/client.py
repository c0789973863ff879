"""Kubernetes clients from a kubeconfig (the embedded API server's, or a real cluster's)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from kedge.model.metrics import Histogram


def request_verb(method: str, query_params: Any) -> str:
    """The `verb` label of a request: its HTTP method, or WATCH for a watch (whose duration is the time
    to its response headers, not the length of the stream)."""
    if method == "GET" and query_params:
        for k, v in query_params:
            if k == "watch" and v in (True, "true", "True"):
                return "WATCH"
    return method


class TimedApiClient(client.ApiClient):
    """An ApiClient that times every request by verb: `request()` is the one call every API method and
    every list and watch goes through, on the embedded API server and on a real cluster alike."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: verb → seconds from sending a request to its response (headers for streamed ones)
        self.latency: dict[str, Histogram] = {}

    async def request(  # type: ignore[override]
        self, method: str, url: str, query_params: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        t0 = time.perf_counter()
        try:
            return await super().request(method, url, query_params, *args, **kwargs)
        finally:
            verb = request_verb(method, query_params)
            h = self.latency.get(verb)
            if h is None:
                h = self.latency[verb] = Histogram()
            h.observe(time.perf_counter() - t0)


_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def proxy_env(environ: Mapping[str, str]) -> bool:
    """Whether the environment names a proxy (either case), which aiohttp's trust_env would honour."""
    return any(k.lower() in _PROXY_ENV for k in environ)


async def open_api(kubeconfig: str, *, max_connections: int | None = None) -> TimedApiClient:
    """An ApiClient for `kubeconfig`; close it with `await api.close()`. HTTP/1.1 carries one call per
    connection: `max_connections` bounds the calls in flight, watches included (kubernetes_asyncio's
    default is 100)."""
    conf = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=conf)
    if max_connections is not None:
        conf.connection_pool_maxsize = max_connections
    api = TimedApiClient(conf)
    if not proxy_env(os.environ):
        # kubernetes_asyncio's session trusts the environment for proxies; aiohttp then also reads
        # ~/.netrc in a worker thread and scans the environment for proxies on every request: about a
        # tenth of cloudcore's CPU under load. Without proxy variables there is nothing to find, so
        # the session stops looking (the bearer token or client certificate authenticates anyway).
        session = api.rest_client.pool_manager
        if hasattr(session, "_trust_env"):
            session._trust_env = False
    return api


async def node_exists(api: client.ApiClient, name: str) -> bool:
    """Whether a Node object `name` exists (KubeEdge's `/node/<name>` check before a join)."""
    try:
        await client.CoreV1Api(api).read_node(name)
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    return True
