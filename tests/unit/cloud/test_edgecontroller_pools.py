"""The EdgeController's pools: each kind of upstream call has its own calls in flight, sized by KubeEdge's
`edgeController.load` workers, so lease renewals never wait behind a burst of pod statuses."""

import asyncio
from typing import Any

import pytest

from kedge.cloud.app import OTHER_API_CONNECTIONS, api_connections
from kedge.cloud.edgecontroller import module as ecm
from kedge.config.cloudcore import EdgeControllerLoad, default_cloudcore
from kedge.model import constants as c
from kedge.model.message import Message, new_message


def msg(resource: str, operation: str) -> Message:
    return new_message(source=c.CLOUDHUB, group=c.EDGECONTROLLER, operation=operation, resource=resource)


@pytest.mark.parametrize(
    ("resource", "operation", "pool"),
    [
        ("node/n1/kube-node-lease/lease/n1", c.UPDATE, "lease"),
        ("node/n1/kube-node-lease/lease/n1", c.INSERT, "lease"),
        ("node/n1/default/podpatch/web", c.PATCH, "pod_status"),
        ("node/n1/default/nodepatch/n1", c.PATCH, "node_status"),
        ("node/n1/default/node/n1", c.INSERT, "node"),
        ("node/n1/default/pod/web-n1", c.INSERT, "mirror_pod"),
        ("node/n1/default/pod/web", c.DELETE, "pod_delete"),
        ("node/n1/default/configmap/cfg", c.QUERY, "configmap"),
        ("node/n1/default/secret/s", c.QUERY, "secret"),
        ("node/n1/default/serviceaccounttoken/t", c.QUERY, ecm.DEFAULT_POOL),
        ("odd", c.QUERY, ecm.DEFAULT_POOL),
    ],
)
def test_each_call_has_its_pool(resource: str, operation: str, pool: str) -> None:
    assert ecm.pool_of(resource, operation) == pool


def test_pool_sizes_come_from_kubeedges_load_workers() -> None:
    load = EdgeControllerLoad(create_lease_workers=7, patch_pod_workers=3, patch_node_workers=5)
    limits = ecm.limits_from(load)
    assert (limits["lease"], limits["pod_status"], limits["node_status"]) == (7, 3, 5)
    assert limits["configmap"] == load.query_config_map_workers
    assert (
        ecm.DEFAULT_LIMITS
        == ecm.limits_from(EdgeControllerLoad())
        == {  # KubeEdge's, for 500 nodes
            "lease": 500,
            "pod_status": 100,
            "node_status": 110,
            "node": 100,
            "mirror_pod": 4,
            "pod_delete": 100,
            "configmap": 100,
            "secret": 100,
            ecm.DEFAULT_POOL: 64,
        }
    )


def test_the_client_has_a_connection_for_every_call_in_flight() -> None:
    cfg = default_cloudcore()
    pools = sum(ecm.limits_from(cfg.modules.edge_controller.load).values())
    dc = cfg.modules.device_controller.status_write_concurrency
    assert api_connections(cfg) == OTHER_API_CONNECTIONS + dc + pools
    cfg.modules.edge_controller.enable = False
    assert api_connections(cfg) == OTHER_API_CONNECTIONS + dc


def test_a_pool_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="pool sizes"):
        ecm.EdgeControllerModule(object(), limits={"lease": 0})  # type: ignore[arg-type]


class Upstream:
    """Records calls; pod statuses block until released (an API server slow to answer them)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.done: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle(self, m: Message) -> None:
        if "podpatch" in m.route.resource:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            await self.release.wait()
            self.in_flight -= 1
        self.done.append(m.route.resource)


async def test_a_lease_goes_through_while_pod_statuses_fill_their_pool() -> None:
    up = Upstream()
    module = ecm.EdgeControllerModule(up, limits={"pod_status": 2})  # type: ignore[arg-type]
    module.open_pools()
    statuses = [msg("node/n%d/default/podpatch/p%d" % (i, i), c.PATCH) for i in range(6)]
    tasks: list[Any] = [module.submit(m) for m in statuses]
    lease = module.submit(msg("node/n9/kube-node-lease/lease/n9", c.UPDATE))
    await asyncio.wait_for(lease, 5)
    assert up.done == ["node/n9/kube-node-lease/lease/n9"]
    assert up.most_in_flight == 2  # the other four wait for the pod-status pool, not for the lease's
    up.release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert len(up.done) == 7 and module.pending == 0
