"""RuleTable: which rule a REST path, an edge upload or a ServiceBus request belongs to, and what each
node must subscribe and allow."""

from __future__ import annotations

from typing import Any

from kedge.cloud.router.table import EVENTBUS, REST, SERVICEBUS, RuleTable


def endpoint(name: str, kind: str, ns: str = "default", **props: str) -> dict[str, Any]:
    spec = {"ruleEndpointType": kind, "properties": props}
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def rule(name: str, src: str, src_res: dict, dst: str, dst_res: dict, ns: str = "default") -> dict[str, Any]:
    spec = {"source": src, "sourceResource": src_res, "target": dst, "targetResource": dst_res}
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def table() -> RuleTable:
    t = RuleTable()
    t.set_endpoint(endpoint("rest", REST))
    t.set_endpoint(endpoint("bus", EVENTBUS))
    t.set_endpoint(endpoint("svc", SERVICEBUS, service_port="9000"))
    t.set_rule(rule("a", "rest", {"path": "/a"}, "bus", {"topic": "test"}))
    t.set_rule(rule("ab", "rest", {"path": "/a/b"}, "bus", {"topic": "deeper"}))
    t.set_rule(rule("up", "bus", {"topic": "t", "node_name": "n1"}, "rest", {"resource": "http://x/b"}))
    t.set_rule(rule("svc", "rest", {"path": "/source"}, "svc", {"path": "/target"}))
    t.set_rule(rule("out", "svc", {"target_url": "http://c/x", "node_name": "n1"}, "rest", {"resource": "-"}))
    return t


def test_rest_paths_match_by_segment_longest_first() -> None:
    t = table()
    r, suffix = t.match_rest("default", "/a")
    assert (r.name, suffix) == ("a", "")
    r, suffix = t.match_rest("default", "a/x/y")
    assert (r.name, suffix) == ("a", "/x/y")
    r, suffix = t.match_rest("default", "/a/b/c")
    assert (r.name, suffix) == ("ab", "/c")
    assert t.match_rest("default", "/ab") is None  # not at a segment boundary
    assert t.match_rest("other", "/a") is None
    r, _ = t.match_rest("default", "/source/q")
    assert r.target == SERVICEBUS and r.target_properties == {"service_port": "9000"}


def test_uploads_and_servicebus_requests_match_their_node() -> None:
    t = table()
    assert t.match_upload("n1", "default/t").name == "up"
    assert t.match_upload("n2", "default/t") is None
    assert t.match_upload("n1", "t") is None
    assert t.match_servicebus("n1", "http://c/x").name == "out"
    assert t.match_servicebus("n1", "http://c/y") is None
    assert t.subscriptions("n1") == {"default/t"} and t.subscriptions("n2") == set()
    assert t.allowed_urls("n1") == {"http://c/x"}
    assert t.nodes() == {"n1"}


def test_rules_without_endpoints_or_with_unsupported_pairs_are_not_used() -> None:
    t = table()
    t.set_rule(rule("missing", "rest", {"path": "/m"}, "nope", {"topic": "x"}))
    t.set_rule(rule("pair", "bus", {"topic": "t2", "node_name": "n1"}, "svc", {"path": "/p"}))
    assert "missing" not in {r.name for r in t.rules.values()}
    assert "pair" not in {r.name for r in t.rules.values()}
    # the endpoint appears later: the rule becomes usable; the endpoint goes: it is dropped again
    t.set_endpoint(endpoint("nope", EVENTBUS))
    assert t.match_rest("default", "/m")[0].name == "missing"
    t.remove_endpoint("default", "nope")
    assert t.match_rest("default", "/m") is None
    t.remove_rule("default", "up")
    assert t.subscriptions("n1") == set()
