"""The hot-path metric primitives: fixed-bucket histogram edges, sum/count, the cumulative export
Prometheus expects, and the bounded `type` label of messages."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from kedge.model import constants as c
from kedge.model.message import new_message
from kedge.model.metrics import LATENCY_BUCKETS, Histogram, count_types, message_type


def test_default_buckets_span_half_a_millisecond_to_ten_seconds() -> None:
    h = Histogram()
    assert h.bounds == LATENCY_BUCKETS
    assert h.bounds[0] == 0.0005 and h.bounds[-1] == 10.0
    assert len(h.counts) == len(h.bounds) + 1
    assert h.count == 0 and h.sum == 0.0
    assert h.buckets()[-1] == ("+Inf", 0)


def test_bounds_are_inclusive_upper_edges() -> None:
    h = Histogram((1.0, 2.0, 5.0))
    for v in (0.0, 1.0, 1.0000001, 2.0, 4.9, 5.0, 5.1, 100.0):
        h.observe(v)
    #        <=1      <=2  <=5  +Inf
    assert h.counts == [2, 2, 2, 2]
    assert h.count == 8
    assert h.sum == pytest.approx(0 + 1 + 1.0000001 + 2 + 4.9 + 5 + 5.1 + 100)


def test_buckets_are_cumulative_and_end_with_inf() -> None:
    h = Histogram((0.001, 0.01, 0.1))
    for v in (0.0005, 0.005, 0.005, 0.05, 3.0):
        h.observe(v)
    assert h.buckets() == [("0.001", 1), ("0.01", 3), ("0.1", 4), ("+Inf", 5)]


def test_negative_observations_land_in_the_first_bucket() -> None:
    h = Histogram((1.0,))
    h.observe(-0.5)  # a clock that stepped back must not raise on a hot path
    assert h.counts == [1, 0]


@pytest.mark.parametrize("bounds", [(), (1.0, 1.0), (2.0, 1.0), (1.0, float("inf")), (float("nan"),)])
def test_bad_bounds_are_refused(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        Histogram(bounds)


def test_merge_adds_observations() -> None:
    a, b = Histogram((1.0,)), Histogram((1.0,))
    a.observe(0.5)
    b.observe(2.0)
    b.observe(0.25)
    a.merge(b)
    assert a.counts == [2, 1] and a.sum == 2.75
    with pytest.raises(ValueError):
        a.merge(Histogram((2.0,)))


class _One(Collector):
    def __init__(self, h: Histogram) -> None:
        self.h = h

    def collect(self):
        yield HistogramMetricFamily(
            "kedge_test_seconds", "Test.", buckets=self.h.buckets(), sum_value=self.h.sum
        )


def test_export_round_trips_through_prometheus_text_format() -> None:
    h = Histogram()
    for v in (0.0002, 0.003, 0.003, 0.2, 20.0):
        h.observe(v)
    reg = CollectorRegistry()
    reg.register(_One(h))
    (fam,) = text_string_to_metric_families(generate_latest(reg).decode())
    assert fam.name == "kedge_test_seconds" and fam.type == "histogram"
    samples = {(s.name, s.labels.get("le")): s.value for s in fam.samples}
    assert samples[("kedge_test_seconds_bucket", "0.0005")] == 1
    assert samples[("kedge_test_seconds_bucket", "0.005")] == 3
    assert samples[("kedge_test_seconds_bucket", "10.0")] == 4
    assert samples[("kedge_test_seconds_bucket", "+Inf")] == 5
    assert samples[("kedge_test_seconds_count", None)] == 5
    assert samples[("kedge_test_seconds_sum", None)] == pytest.approx(20.2062)


@pytest.mark.parametrize(
    ("group", "operation", "resource", "expected"),
    [
        (c.GROUP_RESOURCE, c.UPDATE, "default/pod/nginx", c.POD),
        (c.GROUP_RESOURCE, c.INSERT, "default/configmap/cfg", c.CONFIGMAP),
        (c.GROUP_RESOURCE, c.UPDATE, "null/nodestatus/edge-1", c.NODESTATUS),
        (c.GROUP_RESOURCE, c.QUERY, "default/secret", c.SECRET),  # a list query has no name
        (c.GROUP_TWIN, c.UPDATE, "device/default/counter/twin/cloud_updated", c.DEVICE),
        (c.GROUP_TWIN, c.GET, "membership/detail", c.MEMBERSHIP),
        (c.GROUP_RESOURCE, c.KEEPALIVE, c.NODE, c.KEEPALIVE),
        (c.GROUP_RESOURCE, c.RESPONSE, "", c.RESPONSE),
        (c.GROUP_RESOURCE, c.ERROR, "default/pod/x", c.ERROR),
        (c.GROUP_USER, c.UPLOAD, "factory/line-1/temperature", c.GROUP_USER),  # free-form: the group
        (c.GROUP_USER, c.PUBLISH, "a/b/c", c.GROUP_USER),
        ("", c.UPDATE, "", "unknown"),
        (c.GROUP_RESOURCE, c.UPDATE, "pod", c.POD),
    ],
)
def test_message_type(group: str, operation: str, resource: str, expected: str) -> None:
    assert message_type(group, operation, resource) == expected


def test_count_types_adds_to_the_dict() -> None:
    counts = {"pod": 2}
    msgs = [
        new_message(source="x", group=c.GROUP_RESOURCE, operation=c.UPDATE, resource="default/pod/%d" % i)
        for i in range(3)
    ] + [new_message(source="x", group=c.GROUP_USER, operation=c.UPLOAD, resource="my/topic")]
    count_types(counts, msgs)
    assert counts == {"pod": 5, "user": 1}
