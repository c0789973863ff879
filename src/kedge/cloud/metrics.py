"""cloudcore's Prometheus metrics, read from the components' own counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kedge.cloud.cloudhub.hub import CloudHub


class CloudCollector(Collector):
    def __init__(self, hub: CloudHub, *, devices: Any = None, router: Any = None) -> None:
        self.hub = hub
        self.devices = devices  # DeviceControllerModule
        self.router = router  # Router

    def collect(self) -> Iterator[Any]:
        hub = self.hub
        yield GaugeMetricFamily(
            "kedge_cloudhub_connected_nodes", "Edge nodes with a live session.", value=len(hub.sessions)
        )
        messages = CounterMetricFamily(
            "kedge_cloudhub_messages",
            "Messages by what happened to them: delivered to edges, routed up to controllers, denied by "
            "node authorization, dropped because a node's queue was full.",
            labels=["event"],
        )
        for event in ("delivered", "routed", "denied", "dropped_full"):
            messages.add_metric([event], hub.stats.get(event, 0))
        yield messages
        yield CounterMetricFamily(
            "kedge_cloudhub_frames", "Frames written to edges.", value=hub.stats["frames"]
        )
        queued = in_flight = resent = 0
        for st in hub.nodes.values():
            out = st.outbound
            queued += out.pending()
            in_flight += out.in_flight
            resent += out.resent
        yield GaugeMetricFamily("kedge_cloudhub_queued_messages", "Messages queued for edges.", value=queued)
        yield GaugeMetricFamily(
            "kedge_cloudhub_inflight_messages", "Messages sent and not acknowledged yet.", value=in_flight
        )
        yield CounterMetricFamily(
            "kedge_cloudhub_resends", "Messages sent again for want of an ack.", value=resent
        )
        if self.devices is not None:
            dev = CounterMetricFamily(
                "kedge_devicecontroller_events", "Device reports and Device status writes.", labels=["event"]
            )
            for event, n in self.devices.stats.items():
                dev.add_metric([event], n)
            yield dev
        if self.router is not None:
            rules = CounterMetricFamily(
                "kedge_router_rule_messages",
                "Messages per Rule and result.",
                labels=["namespace", "rule", "result"],
            )
            for (ns, name), cnt in list(self.router.counters.items()):
                rules.add_metric([ns, name, "success"], cnt.success)
                rules.add_metric([ns, name, "fail"], cnt.fail)
            yield rules
