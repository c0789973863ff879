"""OpenAPI v3 and v2 documents: shape, names, references and what kubectl looks for in them."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedge.apiserver import builtin, openapi
from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import Registry

CRD_DIR = Path(__file__).resolve().parents[3] / "cloud" / "crds"


@pytest.fixture
def reg() -> Registry:
    registry = builtin.new_registry()
    for path in sorted(CRD_DIR.glob("*.yaml")):
        registry.add_crd(yaml.safe_load(path.read_text()))
    return registry


def refs(node: Any) -> list[str]:
    """Every "$ref" value in a document (a property named "$ref" in JSONSchemaProps is a key, not a ref)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(refs(value))
    return found


def v3_only_keywords(schema: Any) -> set[str]:
    """Keywords Swagger 2.0 does not have, used anywhere in a schema (property names are not keywords)."""
    if not isinstance(schema, dict):
        return set()
    found = {k for k in ("oneOf", "anyOf", "not", "nullable") if k in schema}
    nested = [schema.get("items"), schema.get("additionalProperties"), *(schema.get("allOf") or [])]
    nested += list((schema.get("properties") or {}).values())
    for sub in nested:
        found |= v3_only_keywords(sub)
    return found


def test_index_lists_every_group_version_with_its_hash(reg: Registry) -> None:
    index = openapi.v3_index(reg)
    assert list(index["paths"]) == [
        "api/v1",
        "apis/apps/v1",
        "apis/coordination.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/devices.kubeedge.io/v1beta1",
        "apis/devices.kubeedge.io/v1alpha2",
        "apis/rules.kubeedge.io/v1",
    ]
    body, digest = openapi.v3_document_bytes(reg, "apps", "v1")
    assert digest == hashlib.sha512(body).hexdigest().upper()
    assert index["paths"]["apis/apps/v1"] == {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=" + digest}
    assert json.loads(body) == openapi.v3_document(reg, "apps", "v1")


def test_documents_are_cached_per_generation(reg: Registry) -> None:
    first = openapi.v3_document(reg, "devices.kubeedge.io", "v1beta1")
    assert openapi.v3_document(reg, "devices.kubeedge.io", "v1beta1") is first
    core_hash = openapi.v3_document_bytes(reg, "", "v1")[1]
    devices_hash = openapi.v3_document_bytes(reg, "devices.kubeedge.io", "v1beta1")[1]
    reg.remove_crd("devicestatuses.devices.kubeedge.io")
    second = openapi.v3_document(reg, "devices.kubeedge.io", "v1beta1")
    assert second is not first
    assert "io.kubeedge.devices.v1beta1.DeviceStatus" not in second["components"]["schemas"]
    assert openapi.v3_document_bytes(reg, "devices.kubeedge.io", "v1beta1")[1] != devices_hash
    assert openapi.v3_document_bytes(reg, "", "v1")[1] == core_hash  # same content, same hash


def test_unknown_group_version_is_not_found(reg: Registry) -> None:
    with pytest.raises(ApiError) as err:
        openapi.v3_document(reg, "batch", "v1")
    assert err.value.code == 404


def test_every_reference_resolves(reg: Registry) -> None:
    for group, versions in reg.groups():
        for version in versions:
            doc = openapi.v3_document(reg, group, version)
            schemas = doc["components"]["schemas"]
            missing = {r for r in refs(doc) if r.removeprefix("#/components/schemas/") not in schemas}
            assert missing == set(), (group, version)
            assert all(r.startswith("#/components/schemas/") for r in refs(doc))
    v2 = openapi.v2_document(reg)
    assert {r for r in refs(v2) if r.removeprefix("#/definitions/") not in v2["definitions"]} == set()


def test_builtin_document(reg: Registry) -> None:
    doc = openapi.v3_document(reg, "apps", "v1")
    assert doc["openapi"] == "3.0.0"
    schemas = doc["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert deployment["properties"]["spec"]["properties"]["template"] == {
        "description": "The pods to run.",
        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"}],
    }
    assert schemas["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "DeploymentList", "version": "v1"}
    ]
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas

    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    patch = item["patch"]
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][2].items()
    assert sorted(patch["requestBody"]["content"]) == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ]
    collection = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert collection["get"]["operationId"] == "listAppsV1NamespacedDeployment"
    assert collection["post"]["operationId"] == "createAppsV1NamespacedDeployment"
    assert collection["delete"]["operationId"] == "deleteAppsV1CollectionNamespacedDeployment"
    assert (
        doc["paths"]["/apis/apps/v1/deployments"]["get"]["operationId"]
        == "listAppsV1DeploymentForAllNamespaces"
    )
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["get"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
    }
    assert scale["put"]["requestBody"]["content"]["*/*"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"
    }


def test_every_write_accepts_field_validation(reg: Registry) -> None:
    """kubectl checks the PATCH operation of a kind for fieldValidation, whichever one it finds first."""
    for group, versions in reg.groups():
        for version in versions:
            for path, item in openapi.v3_document(reg, group, version)["paths"].items():
                for method in ("post", "put", "patch"):
                    if method in item:
                        names = [p["name"] for p in item[method]["parameters"]]
                        assert "fieldValidation" in names, (path, method)


def test_core_document(reg: Registry) -> None:
    doc = openapi.v3_document(reg, "", "v1")
    paths = doc["paths"]
    assert paths["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"]["operationId"] == (
        "createCoreV1NamespacedPodBinding"
    )
    assert paths["/api/v1/nodes/{name}/status"]["patch"]["operationId"] == "patchCoreV1NodeStatus"
    assert paths["/api/v1/nodes"]["get"]["operationId"] == "listCoreV1Node"
    assert "delete" not in paths["/api/v1/namespaces"]  # namespaces have no deletecollection
    assert "/api/v1/namespaces/{namespace}/namespaces" not in paths
    pod_spec = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]
    assert pod_spec["properties"]["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert pod_spec["properties"]["containers"]["items"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.Container"
    }
    assert doc["components"]["securitySchemes"]["BearerToken"]["in"] == "header"


def test_crd_document(reg: Registry) -> None:
    doc = openapi.v3_document(reg, "devices.kubeedge.io", "v1beta1")
    schemas = doc["components"]["schemas"]
    device = schemas["io.kubeedge.devices.v1beta1.Device"]
    assert device["x-kubernetes-group-version-kind"] == [
        {"group": "devices.kubeedge.io", "kind": "Device", "version": "v1beta1"}
    ]
    assert device["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert device["properties"]["spec"]["properties"]["nodeName"]["type"] == "string"
    item = doc["paths"]["/apis/devices.kubeedge.io/v1beta1/namespaces/{namespace}/devices/{name}"]
    assert item["patch"]["operationId"] == "patchDevicesKubeedgeIoV1beta1NamespacedDevice"
    assert item["patch"]["tags"] == ["devicesKubeedgeIo_v1beta1"]
    # Custom resources take merge patches, not strategic ones; kubectl apply then computes a merge patch.
    assert "application/strategic-merge-patch+json" not in item["patch"]["requestBody"]["content"]
    status = doc["paths"]["/apis/devices.kubeedge.io/v1beta1/namespaces/{namespace}/devices/{name}/status"]
    assert sorted(status) == ["get", "parameters", "patch", "put"]
    assert status["put"]["x-kubernetes-group-version-kind"]["kind"] == "Device"
    assert (
        "/apis/devices.kubeedge.io/v1beta1/namespaces/{namespace}/devicemodels/{name}/status"
        not in doc["paths"]
    )


def test_explain_can_find_the_kind_of_a_resource(reg: Registry) -> None:
    """kubectl explain looks up the GVK on the operations of the resource's paths, then the schema by GVK."""
    doc = openapi.v3_document(reg, "rules.kubeedge.io", "v1")
    ops = doc["paths"]["/apis/rules.kubeedge.io/v1/namespaces/{namespace}/ruleendpoints"]
    gvk = ops["get"]["x-kubernetes-group-version-kind"]
    matching = [
        name
        for name, s in doc["components"]["schemas"].items()
        if gvk in s.get("x-kubernetes-group-version-kind", [])
    ]
    assert matching == ["io.kubeedge.rules.v1.RuleEndpoint"]


def test_v2_document(reg: Registry) -> None:
    v2 = openapi.v2_document(reg)
    assert v2["swagger"] == "2.0"
    assert "io.kubeedge.devices.v1beta1.Device" in v2["definitions"]
    for name, definition in v2["definitions"].items():
        assert not v3_only_keywords(definition), name
    deployment = v2["definitions"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["properties"]["metadata"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "description": "Standard object's metadata.",
    }
    patch = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["parameters"][0] == {
        "name": "body",
        "in": "body",
        "required": True,
        "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"},
    }
    assert {"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": True}.items() <= patch[
        "parameters"
    ][3].items()
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    body, digest = openapi.v2_document_bytes(reg)
    assert json.loads(body) == v2 and digest == hashlib.sha512(body).hexdigest().upper()
