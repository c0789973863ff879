"""edgecore's Prometheus metrics, read from the modules' own counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector


class EdgeCollector(Collector):
    def __init__(self, hub: Any, *, twin: Any = None, bus: Any = None, meta: Any = None) -> None:
        self.hub = hub  # EdgeHub
        self.twin = twin  # DeviceTwin module
        self.bus = bus  # EventBus module
        self.meta = meta  # MetaStore

    def collect(self) -> Iterator[Any]:
        hub = self.hub
        yield GaugeMetricFamily(
            "kedge_edgehub_connected",
            "1 while connected to cloudcore.",
            value=1 if hub.connected.is_set() else 0,
        )
        yield CounterMetricFamily(
            "kedge_edgehub_connects", "Sessions opened with cloudcore.", value=hub.connects
        )
        outbox = hub.outbox
        yield GaugeMetricFamily(
            "kedge_edgehub_outbox_messages",
            "Upstream messages waiting in the durable outbox.",
            value=len(outbox) if outbox is not None else 0,
        )
        yield CounterMetricFamily(
            "kedge_edgehub_expired_uploads", "Bus uploads dropped by uploadTTL.", value=hub.expired
        )
        by_type = CounterMetricFamily(
            "kedge_edgehub_messages_by_type",
            "Messages written to (out) and received from (in) cloudcore, by resource type (or group).",
            labels=["direction", "type"],
        )
        for direction, counts in (("out", hub.messages_out), ("in", hub.messages_in)):
            for t, n in list(counts.items()):
                by_type.add_metric([direction, t], n)
        yield by_type
        commits = HistogramMetricFamily(
            "kedge_edge_sqlite_commit_seconds",
            "Seconds the edge database's write transactions took, BEGIN to COMMIT, by store.",
            labels=["store"],
        )
        if self.meta is not None:
            h = self.meta.commit_latency
            commits.add_metric(["meta"], h.buckets(), h.sum)
        if self.twin is not None:
            h = self.twin.store.commit_latency
            commits.add_metric(["twin"], h.buckets(), h.sum)
        yield commits
        if self.twin is not None:
            twin = CounterMetricFamily(
                "kedge_devicetwin_events", "DeviceTwin requests, publishes, reports.", labels=["event"]
            )
            for event, n in self.twin.stats.items():
                twin.add_metric([event], n)
            yield twin
            yield CounterMetricFamily(
                "kedge_devicetwin_updates",
                "Devices whose twins or state a DeviceTwin batch changed and stored.",
                value=self.twin.stats.get("updates", 0),
            )
        if self.bus is not None:
            st = self.bus.stats
            bus = CounterMetricFamily(
                "kedge_eventbus_messages", "EventBus messages by event.", labels=["event"]
            )
            for event in ("received", "published", "dropped", "reconnects"):
                bus.add_metric([event], st.get(event, 0))
            for dest, n in st.get("routed", {}).items():
                bus.add_metric(["routed_" + dest], n)
            yield bus
            broker = getattr(self.bus, "broker", None)
            if broker is not None:
                yield GaugeMetricFamily(
                    "kedge_eventbus_broker_backlog",
                    "Messages the embedded broker holds.",
                    value=broker.backlog(),
                )
                yield CounterMetricFamily(
                    "kedge_eventbus_broker_dropped",
                    "QoS 0 publishes dropped under overload.",
                    value=broker.dropped,
                )
