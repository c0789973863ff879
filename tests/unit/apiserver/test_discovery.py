"""Discovery documents, as kubectl and client libraries read them."""

from typing import Any

import pytest

from kedge.apiserver import builtin, discovery
from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import Registry


def with_widgets() -> Registry:
    reg = builtin.new_registry()
    reg.add_crd(
        {
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"plural": "widgets", "kind": "Widget", "categories": ["all"]},
                "scope": "Cluster",
                "versions": [
                    {
                        "name": n,
                        "served": True,
                        "storage": n == "v1",
                        "schema": {"openAPIV3Schema": {"type": "object"}},
                    }
                    for n in ("v1beta1", "v1")
                ],
            },
        }
    )
    return reg


def test_version_info_is_within_kubectl_skew() -> None:
    info = discovery.version_info()
    assert (info["major"], info["minor"], info["gitVersion"]) == ("1", "37", "v1.37.0+kedge")
    assert set(info) == {
        "major",
        "minor",
        "emulationMajor",
        "emulationMinor",
        "minCompatibilityMajor",
        "minCompatibilityMinor",
        "gitVersion",
        "gitCommit",
        "gitTreeState",
        "buildDate",
        "goVersion",
        "compiler",
        "platform",
    }
    assert info["platform"].count("/") == 1


def test_api_versions() -> None:
    assert discovery.api_versions() == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [],
    }
    assert discovery.api_versions("10.0.0.1:6443")["serverAddressByClientCIDRs"] == [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}
    ]


def test_api_group_list_and_group() -> None:
    reg = with_widgets()
    groups = discovery.api_group_list(reg)
    assert groups["kind"] == "APIGroupList"
    assert [g["name"] for g in groups["groups"]] == [
        "apps",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
        "example.com",
    ]
    assert groups["groups"][-1] == {
        "name": "example.com",
        "versions": [
            {"groupVersion": "example.com/v1", "version": "v1"},
            {"groupVersion": "example.com/v1beta1", "version": "v1beta1"},
        ],
        "preferredVersion": {"groupVersion": "example.com/v1", "version": "v1"},
    }
    assert discovery.api_group(reg, "apps") == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }
    for missing in ("", "batch"):
        with pytest.raises(ApiError) as err:
            discovery.api_group(reg, missing)
        assert (err.value.code, err.value.message) == (
            404,
            "the server could not find the requested resource",
        )


def test_core_resource_list() -> None:
    doc = discovery.api_resource_list(builtin.new_registry(), "", "v1")
    assert (doc["kind"], doc["apiVersion"], doc["groupVersion"]) == ("APIResourceList", "v1", "v1")
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["pods"] == {
        "name": "pods",
        "singularName": "pod",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["po"],
        "categories": ["all"],
        "storageVersionHash": "xPOwRZ+Yhw8=",
    }
    assert by_name["pods/binding"] == {
        "name": "pods/binding",
        "singularName": "",
        "namespaced": True,
        "kind": "Binding",
        "verbs": ["create"],
    }
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["namespaces"]["verbs"] == ["create", "delete", "get", "list", "patch", "update", "watch"]
    assert by_name["nodes"]["namespaced"] is False
    assert [r["name"] for r in doc["resources"]][:4] == ["configmaps", "endpoints", "events", "namespaces"]


def test_apps_resource_list() -> None:
    doc = discovery.api_resource_list(builtin.new_registry(), "apps", "v1")
    assert doc["resources"][1:] == [
        {
            "name": "deployments/scale",
            "singularName": "",
            "namespaced": True,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": ["get", "patch", "update"],
        },
        {
            "name": "deployments/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Deployment",
            "verbs": ["get", "patch", "update"],
        },
    ]
    with pytest.raises(ApiError) as err:
        discovery.api_resource_list(builtin.new_registry(), "apps", "v1beta1")
    assert err.value.code == 404


def test_aggregated_core() -> None:
    doc = discovery.aggregated(builtin.new_registry(), core=True)
    assert (doc["kind"], doc["apiVersion"], doc["metadata"]) == (
        "APIGroupDiscoveryList",
        "apidiscovery.k8s.io/v2",
        {},
    )
    [core] = doc["items"]
    assert core["metadata"] == {}
    [v1] = core["versions"]
    assert (v1["version"], v1["freshness"]) == ("v1", "Current")
    pods = next(r for r in v1["resources"] if r["resource"] == "pods")
    assert pods == {
        "resource": "pods",
        "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
        "scope": "Namespaced",
        "singularResource": "pod",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["po"],
        "categories": ["all"],
        "subresources": [
            {
                "subresource": "binding",
                "responseKind": {"group": "", "version": "v1", "kind": "Binding"},
                "verbs": ["create"],
            },
            {
                "subresource": "status",
                "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
                "verbs": ["get", "patch", "update"],
            },
        ],
    }
    secrets = next(r for r in v1["resources"] if r["resource"] == "secrets")
    assert "shortNames" not in secrets and "subresources" not in secrets


def test_aggregated_groups_include_crds() -> None:
    doc = discovery.aggregated(with_widgets(), core=False)
    assert [i["metadata"]["name"] for i in doc["items"]] == [
        "apps",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
        "example.com",
    ]
    widgets = doc["items"][-1]
    assert [v["version"] for v in widgets["versions"]] == ["v1", "v1beta1"]
    resource: dict[str, Any] = widgets["versions"][0]["resources"][0]
    assert resource == {
        "resource": "widgets",
        "responseKind": {"group": "example.com", "version": "v1", "kind": "Widget"},
        "scope": "Cluster",
        "singularResource": "widget",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "categories": ["all"],
    }
    crds = doc["items"][2]["versions"][0]["resources"][0]
    assert (crds["shortNames"], crds["categories"]) == (["crd", "crds"], ["api-extensions"])


def test_content_type_is_the_one_client_go_checks() -> None:
    assert (
        discovery.AGGREGATED_CONTENT_TYPE
        == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )
