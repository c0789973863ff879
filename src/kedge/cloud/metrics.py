"""cloudcore's Prometheus metrics, read from the components' own counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kedge.cloud.cloudhub.hub import CloudHub


class CloudCollector(Collector):
    def __init__(
        self,
        hub: CloudHub,
        *,
        devices: Any = None,
        router: Any = None,
        api: Any = None,
        storage: Any = None,
    ) -> None:
        self.hub = hub
        self.devices = devices  # DeviceControllerModule
        self.router = router  # Router
        self.api = api  # kedge.k8s.client.TimedApiClient
        self.storage = storage  # the embedded API server's Storage

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
        h = hub.ack_latency
        yield HistogramMetricFamily(
            "kedge_cloudhub_ack_latency_seconds",
            "Seconds from a message's last send to an edge until its ack arrived.",
            buckets=h.buckets(),
            sum_value=h.sum,
        )
        by_type = CounterMetricFamily(  # kedge_cloudhub_messages (by event) is taken
            "kedge_cloudhub_messages_by_type",
            "Messages written to (out) and received from (in) edges, by resource type (or group).",
            labels=["direction", "type"],
        )
        for direction, counts in (("out", hub.messages_out), ("in", hub.messages_in)):
            for t, n in list(counts.items()):
                by_type.add_metric([direction, t], n)
        yield by_type
        latency = getattr(self.api, "latency", None)
        if latency is not None:
            k8s = HistogramMetricFamily(
                "kedge_k8s_request_duration_seconds",
                "Seconds cloudcore's Kubernetes API requests took (to the response headers for watches).",
                labels=["verb"],
            )
            for verb, h in sorted(latency.items()):
                k8s.add_metric([verb], h.buckets(), h.sum)
            yield k8s
        if self.storage is not None:
            h = self.storage.commit_latency
            yield HistogramMetricFamily(
                "kedge_apiserver_sqlite_commit_seconds",
                "Seconds the embedded API server's SQLite COMMITs took.",
                buckets=h.buckets(),
                sum_value=h.sum,
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
