"""Table responses: columns and cells as `kubectl get` shows them, at a fixed `now`."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver import builtin
from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import Registry
from kedge.apiserver.tables import (
    NAME_DESCRIPTION,
    format_label_selector,
    format_labels,
    human_duration,
    parse_time,
    since,
    to_table,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
REG = builtin.new_registry()
PODS = REG.get("", "v1", "pods")
NODES = REG.get("", "v1", "nodes")


def ago(**kwargs: float) -> str:
    return (NOW - timedelta(**kwargs)).strftime("%Y-%m-%dT%H:%M:%SZ")


def running(
    name: str, *, ready: bool = True, restarts: int = 0, finished: str | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "image": "img",
        "imageID": "",
        "state": {"running": {"startedAt": ago(minutes=1)}},
    }
    if finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": finished}}
    return status


def pod(
    containers: list[dict[str, Any]],
    *,
    phase: str = "Running",
    init: list[dict[str, Any]] | None = None,
    init_specs: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(minutes=5), **meta},
        "spec": {
            "containers": [{"name": c["name"], "image": "img"} for c in containers],
            "initContainers": init_specs or [],
            "nodeName": "edge-1",
        },
        "status": {
            "phase": phase,
            "podIPs": [{"ip": "10.0.0.5"}],
            "conditions": conditions or [],
            "containerStatuses": containers,
            "initContainerStatuses": init or [],
        },
    }


def pod_cells(obj: dict[str, Any]) -> list[Any]:
    return to_table(PODS, [obj], now=NOW)["rows"][0]["cells"]


# -- durations -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-2.5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 90 * 60, "4h30m"),
        (8 * 3600 - 1, "7h59m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (51 * 3600, "2d3h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (731 * 86400, "2y1d"),
        (8 * 365 * 86400, "8y"),
    ],
)
def test_human_duration_matches_apimachinery(seconds: float, text: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_human_duration_is_short(seconds: int) -> None:
    text = human_duration(timedelta(seconds=seconds))
    assert 2 <= len(text) <= 9 and text[0].isdigit()


def test_since_and_parse_time() -> None:
    assert since(ago(minutes=3, seconds=2), NOW) == "3m2s"
    assert since(None, NOW) == "<unknown>"
    assert since("0001-01-01T00:00:00Z", NOW) == "<unknown>"
    assert since("yesterday", NOW) == "<unknown>"
    assert parse_time("2026-03-01T11:00:00.123456789+01:00") == datetime(
        2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2026-03-01") is None
    assert parse_time("2026-13-01T00:00:00Z") is None


# -- pods ----------------------------------------------------------------------------------------------


def test_pod_table_exact() -> None:
    obj = pod([running("a"), running("b", ready=False)], resourceVersion="42", labels={"app": "web"})
    table = to_table(PODS, [obj], now=NOW)
    assert table == {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "42"},
        "columnDefinitions": [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": NAME_DESCRIPTION,
                "priority": 0,
            },
            {
                "name": "Ready",
                "type": "string",
                "format": "",
                "description": "The aggregate readiness state of this pod for accepting traffic.",
                "priority": 0,
            },
            {
                "name": "Status",
                "type": "string",
                "format": "",
                "description": "The aggregate status of the containers in this pod.",
                "priority": 0,
            },
            {
                "name": "Restarts",
                "type": "string",
                "format": "",
                "description": "The number of times the containers in this pod have been restarted and when "
                "the last container in this pod has restarted.",
                "priority": 0,
            },
            {
                "name": "Age",
                "type": "string",
                "format": "",
                "description": "CreationTimestamp is a timestamp representing the server time when this "
                "object was created.",
                "priority": 0,
            },
            {
                "name": "IP",
                "type": "string",
                "format": "",
                "description": "podIP address allocated to the pod.",
                "priority": 1,
            },
            {
                "name": "Node",
                "type": "string",
                "format": "",
                "description": "NodeName is the node the pod is scheduled onto.",
                "priority": 1,
            },
            {
                "name": "Nominated Node",
                "type": "string",
                "format": "",
                "description": "nominatedNodeName is the node the pod may run on once preemption there "
                "completes.",
                "priority": 1,
            },
            {
                "name": "Readiness Gates",
                "type": "string",
                "format": "",
                "description": "Extra conditions evaluated for pod readiness.",
                "priority": 1,
            },
        ],
        "rows": [
            {
                "cells": ["web", "1/2", "Running", "0", "5m", "10.0.0.5", "edge-1", "<none>", "<none>"],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
        ],
    }


@pytest.mark.parametrize(
    ("obj", "ready", "status", "restarts"),
    [
        pytest.param(
            pod([running("a", restarts=3, finished=ago(minutes=2)), running("b")]),
            "2/2",
            "Running",
            "3 (2m ago)",
            id="restarts-with-last-time",
        ),
        pytest.param(
            pod(
                [
                    {
                        "name": "a",
                        "ready": False,
                        "restartCount": 4,
                        "image": "img",
                        "imageID": "",
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                ]
            ),
            "0/1",
            "CrashLoopBackOff",
            "4",
            id="waiting-reason",
        ),
        pytest.param(
            pod(
                [
                    {
                        "name": "a",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                    }
                ],
                phase="Succeeded",
            ),
            "0/1",
            "Completed",
            "0",
            id="completed",
        ),
        pytest.param(
            pod(
                [{"name": "a", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}]
            ),
            "0/1",
            "ExitCode:137",
            "0",
            id="exit-code",
        ),
        pytest.param(
            pod(
                [
                    {
                        "name": "a",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "signal": 9}},
                    }
                ]
            ),
            "0/1",
            "Signal:9",
            "0",
            id="signal",
        ),
        pytest.param(
            pod(
                [
                    {
                        "name": "a",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "PodInitializing"}},
                    }
                ],
                phase="Pending",
                init_specs=[{"name": "setup", "image": "img"}, {"name": "migrate", "image": "img"}],
                init=[
                    {"name": "setup", "restartCount": 1, "state": {"terminated": {"exitCode": 0}}},
                    {"name": "migrate", "restartCount": 0, "state": {"running": {}}},
                ],
            ),
            "0/1",
            "Init:1/2",
            "1",
            id="init-progress",
        ),
        pytest.param(
            pod(
                [
                    {
                        "name": "a",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "PodInitializing"}},
                    }
                ],
                phase="Pending",
                init_specs=[{"name": "setup", "image": "img"}],
                init=[
                    {
                        "name": "setup",
                        "restartCount": 2,
                        "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
                    }
                ],
            ),
            "0/1",
            "Init:Error",
            "2",
            id="init-error",
        ),
        pytest.param(
            pod(
                [running("a")],
                init_specs=[{"name": "proxy", "image": "img", "restartPolicy": "Always"}],
                init=[
                    {
                        "name": "proxy",
                        "restartCount": 1,
                        "started": True,
                        "ready": True,
                        "state": {"running": {}},
                    }
                ],
                conditions=[{"type": "Initialized", "status": "True"}],
            ),
            "2/2",
            "Running",
            "1",
            id="sidecar",
        ),
        pytest.param(
            pod([running("a")], deletionTimestamp=ago(seconds=10)),
            "1/1",
            "Terminating",
            "0",
            id="terminating",
        ),
        pytest.param(
            pod(
                [
                    {
                        "name": "a",
                        "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                    }
                ],
                phase="Succeeded",
                deletionTimestamp=ago(seconds=10),
            ),
            "0/1",
            "Completed",
            "0",
            id="terminal-pod-is-not-terminating",
        ),
        pytest.param(
            {
                **pod([running("a")], deletionTimestamp=ago(seconds=10)),
                "status": {"phase": "Running", "reason": "NodeLost"},
            },
            "0/1",
            "Unknown",
            "0",
            id="node-lost",
        ),
        pytest.param(
            {
                "metadata": {"name": "web", "creationTimestamp": ago(seconds=4)},
                "spec": {"containers": [{"name": "a"}]},
            },
            "0/1",
            "",
            "0",
            id="no-status-yet",
        ),
    ],
)
def test_pod_cells(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    assert pod_cells(obj)[1:4] == [ready, status, restarts]


def test_pod_wide_cells_and_readiness_gates() -> None:
    obj = pod([running("a")], conditions=[{"type": "example.com/lb", "status": "True"}])
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/lb"},
        {"conditionType": "example.com/dns"},
    ]
    obj["status"]["nominatedNodeName"] = "edge-2"
    assert pod_cells(obj)[5:] == ["10.0.0.5", "edge-1", "edge-2", "1/2"]
    del obj["status"]["podIPs"]
    del obj["spec"]["nodeName"]
    assert pod_cells(obj)[5:7] == ["<none>", "<none>"]


def test_completed_pods_carry_a_row_condition() -> None:
    done = pod([], phase="Succeeded")
    row = to_table(PODS, [done], now=NOW)["rows"][0]
    assert row["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert "conditions" not in to_table(PODS, [pod([])], now=NOW)["rows"][0]


# -- nodes ---------------------------------------------------------------------------------------------


def node(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "edge-1",
            "creationTimestamp": ago(hours=51),
            "labels": {
                "node-role.kubernetes.io/edge": "",
                "node-role.kubernetes.io/agent": "",
                "kubernetes.io/role": "x",
            },
        },
        "spec": {},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "Hostname", "address": "edge-1"},
                {"type": "InternalIP", "address": "192.168.1.10"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.31.0-kubeedge",
                "osImage": "Ubuntu 24.04",
                "kernelVersion": "6.8.0",
            },
            **status,
        },
    }


def test_node_cells() -> None:
    table = to_table(NODES, [node()], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Status",
        "Roles",
        "Age",
        "Version",
        "Internal-IP",
        "External-IP",
        "OS-Image",
        "Kernel-Version",
        "Container-Runtime",
    ]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert table["rows"][0]["cells"] == [
        "edge-1",
        "Ready",
        "agent,edge,x",
        "2d3h",
        "v1.31.0-kubeedge",
        "192.168.1.10",
        "<none>",
        "Ubuntu 24.04",
        "6.8.0",
        "<unknown>",
    ]


@pytest.mark.parametrize(
    ("conditions", "unschedulable", "expected"),
    [
        ([{"type": "Ready", "status": "False"}], False, "NotReady"),
        ([{"type": "Ready", "status": "Unknown"}], True, "NotReady,SchedulingDisabled"),
        ([], False, "Unknown"),
        ([{"type": "Ready", "status": "True"}], True, "Ready,SchedulingDisabled"),
    ],
)
def test_node_status(conditions: list[dict[str, str]], unschedulable: bool, expected: str) -> None:
    obj = node(conditions=conditions)
    obj["spec"]["unschedulable"] = unschedulable
    obj["metadata"]["labels"] = {}
    cells = to_table(NODES, [obj], now=NOW)["rows"][0]["cells"]
    assert cells[1:3] == [expected, "<none>"]


# -- other built-ins -----------------------------------------------------------------------------------


def cells(plural: str, obj: dict[str, Any], group: str = "", version: str = "v1") -> list[Any]:
    info = REG.get(group, version, plural)
    assert info is not None
    obj.setdefault("metadata", {}).setdefault("name", "x")
    obj["metadata"].setdefault("creationTimestamp", ago(seconds=30))
    return to_table(info, [obj], now=NOW)["rows"][0]["cells"]


def test_services() -> None:
    svc = {
        "spec": {
            "type": "NodePort",
            "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            "selector": {"tier": "web", "app": "a"},
        }
    }
    assert cells("services", svc) == [
        "x",
        "NodePort",
        "10.96.0.10",
        "<none>",
        "80:30080/TCP,53/UDP",
        "30s",
        "app=a,tier=web",
    ]
    lb = {"spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11", "externalIPs": ["1.2.3.4"]}}
    assert cells("services", lb)[2:5] == ["10.96.0.11", "1.2.3.4", "<none>"]
    lb["status"] = {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "5.6.7.8"}]}}
    assert cells("services", lb)[3] == "5.6.7.8,lb.example.com,1.2.3.4"
    assert cells("services", {"spec": {"type": "LoadBalancer"}})[3] == "<pending>"
    assert (
        cells("services", {"spec": {"type": "ExternalName", "externalName": "db.example.com"}})[3]
        == "db.example.com"
    )


def test_deployments() -> None:
    deploy = {
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}],
            },
            "template": {
                "spec": {
                    "containers": [{"name": "web", "image": "nginx"}, {"name": "log", "image": "fluent"}]
                }
            },
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert cells("deployments", deploy, "apps") == [
        "x",
        "2/3",
        3,
        2,
        "30s",
        "web,log",
        "nginx,fluent",
        "app=web,env in (dev,prod)",
    ]


def test_configmaps_secrets_namespaces_leases_serviceaccounts_endpoints() -> None:
    assert cells("configmaps", {"data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}) == ["x", 3, "30s"]
    assert cells("secrets", {"type": "Opaque", "data": {"a": "MQ=="}}) == ["x", "Opaque", 1, "30s"]
    assert cells("namespaces", {"status": {"phase": "Active"}}) == ["x", "Active", "30s"]
    assert cells("leases", {"spec": {"holderIdentity": "edge-1"}}, "coordination.k8s.io") == [
        "x",
        "edge-1",
        "30s",
    ]
    assert cells("serviceaccounts", {"secrets": [{"name": "t"}]}) == ["x", 1, "30s"]
    assert cells("endpoints", {}) == ["x", "<none>", "30s"]
    subsets = [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}], "ports": [{"port": 80}, {"port": 443}]},
        {"addresses": [{"ip": "10.0.0.9"}]},
    ]
    assert cells("endpoints", {"subsets": subsets})[1] == "10.0.0.1:80,[fd00::1]:80,10.0.0.1:443 + 2 more..."


def test_events_put_the_name_last_and_wide() -> None:
    event = {
        "metadata": {"name": "web.17a", "creationTimestamp": ago(minutes=10)},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{a}"},
        "reason": "Pulled",
        "message": "  Image pulled \n",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "edge-1"},
        "firstTimestamp": ago(minutes=10),
        "lastTimestamp": ago(minutes=1),
        "count": 3,
    }
    table = to_table(REG.get("", "v1", "events"), [event], now=NOW)
    names = [(c["name"], c["priority"], c["format"]) for c in table["columnDefinitions"]]
    assert names[0] == ("Last Seen", 0, "")
    assert names[-1] == ("Name", 1, "name")
    assert len(names) == 10
    assert table["rows"][0]["cells"] == [
        "60s",
        "Normal",
        "Pulled",
        "pod/web",
        "spec.containers{a}",
        "kubelet, edge-1",
        "Image pulled",
        "10m",
        3,
        "web.17a",
    ]
    series = {**event, "lastTimestamp": None, "firstTimestamp": None, "eventTime": ago(minutes=7)}
    series["series"] = {"count": 9, "lastObservedTime": ago(seconds=5)}
    series_cells = to_table(REG.get("", "v1", "events"), [series], now=NOW)["rows"][0]["cells"]
    assert (series_cells[0], series_cells[7], series_cells[8]) == ("5s", "7m", 9)


def test_crds_print_created_at() -> None:
    crd = {"metadata": {"name": "devices.devices.kubeedge.io", "creationTimestamp": "2026-02-01T08:00:00Z"}}
    table = to_table(REG.get("apiextensions.k8s.io", "v1", "customresourcedefinitions"), [crd], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["columnDefinitions"][1]["type"] == "date"
    assert table["rows"][0]["cells"] == ["devices.devices.kubeedge.io", "2026-02-01T08:00:00Z"]


# -- custom resources ----------------------------------------------------------------------------------


def widget_registry(columns: list[dict[str, Any]] | None) -> Registry:
    reg = Registry()
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    }
    if columns is not None:
        version["additionalPrinterColumns"] = columns
    reg.add_crd(
        {
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"plural": "widgets", "kind": "Widget"},
                "scope": "Namespaced",
                "versions": [version],
            },
        }
    )
    return reg


def test_crd_columns_are_typed_as_declared() -> None:
    columns = [
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
        {"name": "Seen", "type": "date", "jsonPath": ".status.seen"},
        {"name": "Ports", "type": "string", "jsonPath": ".spec.ports[*]", "priority": 1},
        {"name": "Config", "type": "string", "jsonPath": ".spec.config"},
        {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
    ]
    reg = widget_registry(columns)
    info = reg.get("example.com", "v1", "widgets")
    obj = {
        "metadata": {"name": "w1", "resourceVersion": "5"},
        "spec": {
            "replicas": 3.0,
            "ratio": 2,
            "paused": False,
            "ports": [80, 443],
            "config": {"b": 1, "a": True},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "seen": ago(hours=5)},
    }
    table = to_table(
        info, [obj], now=NOW, include_object="Object", list_meta={"resourceVersion": "9", "continue": ""}
    )
    assert table["metadata"] == {"resourceVersion": "9"}
    assert table["columnDefinitions"][0]["name"] == "Name"
    assert table["columnDefinitions"][6]["priority"] == 1
    assert table["columnDefinitions"][1]["description"] == (
        "Custom resource definition column (in JSONPath format): "
        '.status.conditions[?(@.type=="Ready")].status'
    )
    assert table["rows"] == [
        {"cells": ["w1", "True", 3, 2.0, False, "5h", "80", '{"a":true,"b":1}', None], "object": obj}
    ]


@pytest.mark.parametrize(
    ("column_type", "value", "cell"),
    [
        ("integer", True, None),
        ("integer", "3", None),
        ("number", "1.5", None),
        ("boolean", "true", None),
        ("date", "", "<unknown>"),
        ("date", "not a time", "<invalid>"),
        ("date", 17, None),
        ("string", 17, "17"),
    ],
)
def test_crd_cells_of_the_wrong_type(column_type: str, value: Any, cell: Any) -> None:
    reg = widget_registry([{"name": "C", "type": column_type, "jsonPath": ".spec.v"}])
    info = reg.get("example.com", "v1", "widgets")
    assert to_table(info, [{"metadata": {"name": "w"}, "spec": {"v": value}}], now=NOW)["rows"][0][
        "cells"
    ] == ["w", cell]


def test_crd_without_columns_prints_age() -> None:
    info = widget_registry(None).get("example.com", "v1", "widgets")
    table = to_table(
        info, [{"metadata": {"name": "w", "creationTimestamp": ago(days=3)}}], now=NOW, include_object="None"
    )
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert table["rows"] == [{"cells": ["w", "3d"]}]


def test_table_options() -> None:
    obj = pod([])
    beta = to_table(PODS, [obj], now=NOW, table_version="v1beta1", no_headers=True)
    assert beta["apiVersion"] == "meta.k8s.io/v1beta1"
    assert beta["columnDefinitions"] == []
    assert beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    assert to_table(
        PODS, [], now=NOW, list_meta={"resourceVersion": "3", "continue": "abc", "remainingItemCount": 7}
    )["metadata"] == {"resourceVersion": "3", "continue": "abc", "remainingItemCount": 7}
    with pytest.raises(ApiError) as err:
        to_table(PODS, [obj], now=NOW, include_object="Everything")
    assert (err.value.code, err.value.message) == (400, 'unrecognized includeObject value: "Everything"')
    with pytest.raises(ApiError) as err:
        to_table(PODS, [obj], now=NOW, table_version="v2")
    assert err.value.code == 406


def test_label_formatting() -> None:
    assert format_labels({}) == "<none>"
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_label_selector(None) == ""
    assert format_label_selector({"matchExpressions": [{"key": "x", "operator": "Exists"}]}) == "x"
    assert (
        format_label_selector(
            {
                "matchLabels": {"z": "1"},
                "matchExpressions": [
                    {"key": "old", "operator": "DoesNotExist"},
                    {"key": "env", "operator": "NotIn", "values": ["b", "a"]},
                ],
            }
        )
        == "env notin (a,b),!old,z=1"
    )
    assert format_label_selector({"matchExpressions": [{"key": "x", "operator": "Near"}]}) == "<invalid>"
