import pytest

from kedge.model.resource import (
    Resource,
    ResourceError,
    build_cloud,
    build_wire,
    parse_cloud,
    parse_wire,
    split_node,
    to_cloud,
    to_wire,
)


def test_build_forms() -> None:
    assert build_wire("default", "pod", "nginx") == "default/pod/nginx"
    assert build_wire(None, "node", "n1") == "null/node/n1"
    assert build_wire("", "node", "n1") == "null/node/n1"
    assert build_wire("default", "pod") == "default/pod"
    assert build_cloud("n1", "default", "pod", "nginx") == "node/n1/default/pod/nginx"
    assert build_cloud("n1", None, "node", "n1") == "node/n1/null/node/n1"


def test_parse_forms() -> None:
    assert parse_wire("default/pod/nginx") == Resource("default", "pod", "nginx")
    assert parse_wire("null/node/n1") == Resource(None, "node", "n1")
    assert parse_wire("default/pod") == Resource("default", "pod", "")
    assert parse_wire("kube-node-lease/lease/n1") == Resource("kube-node-lease", "lease", "n1")
    # the name part may contain '/'
    assert parse_wire("default/user/a/b/c") == Resource("default", "user", "a/b/c")
    assert parse_cloud("node/n1/default/pod/nginx") == Resource("default", "pod", "nginx", "n1")


def test_round_trips() -> None:
    r = parse_cloud("node/edge-1/null/node/edge-1")
    assert r.cloud() == "node/edge-1/null/node/edge-1"
    assert r.wire == "null/node/edge-1"
    assert r.cloud("other") == "node/other/null/node/edge-1"


def test_node_prefix_for_any_resource() -> None:
    assert to_wire("node/n1/membership") == "membership"
    assert to_wire("node/n1/device/default/dev1/twin/edge_updated") == "device/default/dev1/twin/edge_updated"
    assert to_cloud("n1", "membership/detail") == "node/n1/membership/detail"
    assert split_node("node/n1/default/pod/x") == ("n1", "default/pod/x")


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("pod", "expected <namespace>/<type>"),
        ("/pod/x", "empty namespace"),
        ("default//x", "empty type"),
    ],
)
def test_bad_wire_resources(bad: str, needle: str) -> None:
    with pytest.raises(ResourceError, match=needle):
        parse_wire(bad)


@pytest.mark.parametrize("bad", ["default/pod/x", "node/", "node//x", "node/n1", "node/n1/"])
def test_bad_cloud_resources(bad: str) -> None:
    with pytest.raises(ResourceError, match="expected node/<node>"):
        parse_cloud(bad)


@pytest.mark.parametrize("node", ["", "a/b"])
def test_bad_node_names(node: str) -> None:
    with pytest.raises(ResourceError, match="node name"):
        build_cloud(node, "default", "pod", "x")
    with pytest.raises(ResourceError, match="node name"):
        to_cloud(node, "default/pod/x")
