"""Kubernetes clients from a kubeconfig (the embedded API server's, or a real cluster's)."""

from __future__ import annotations

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException


async def open_api(kubeconfig: str) -> client.ApiClient:
    """An ApiClient for `kubeconfig`; close it with `await api.close()`."""
    conf = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=conf)
    return client.ApiClient(conf)


async def node_exists(api: client.ApiClient, name: str) -> bool:
    """Whether a Node object `name` exists (KubeEdge's `/node/<name>` check before a join)."""
    try:
        await client.CoreV1Api(api).read_node(name)
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    return True
