"""The resource registry: built-in resources, CRDs coming and going, and kedge's own CRD manifests."""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedge.apiserver import builtin
from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import PrinterColumn, Registry, ResourceInfo, validate_crd, version_priority_key

CRD_DIR = Path(__file__).resolve().parents[3] / "cloud" / "crds"
CRD_FILES = sorted(CRD_DIR.glob("*.yaml"))


def widget_crd(**spec: Any) -> dict[str, Any]:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                },
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                            },
                        }
                    },
                },
                {
                    "name": "v1alpha1",
                    "served": False,
                    "storage": False,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                },
            ],
        },
    }
    crd["spec"].update(spec)
    return crd


def test_builtin_lookups() -> None:
    reg = builtin.new_registry()
    pods = reg.get("", "v1", "pods")
    assert pods is not None
    assert reg.by_kind("v1", "Pod") is pods
    assert (pods.api_version, pods.list_kind, pods.storage_key) == ("v1", "PodList", "pods")
    assert pods.subresources == {"status", "binding"}
    assert pods.subresource_kind("binding") == ("", "v1", "Binding")
    assert pods.subresource_kind("status") == ("", "v1", "Pod")
    deployments = reg.by_kind("apps/v1", "Deployment")
    assert deployments is not None
    assert (deployments.api_version, deployments.storage_key) == ("apps/v1", "deployments.apps")
    assert deployments.subresource_kind("scale") == ("autoscaling", "v1", "Scale")
    assert reg.get("", "v1", "deployments") is None
    assert reg.by_kind("v1", "Deployment") is None
    assert reg.groups() == [
        ("", ["v1"]),
        ("apps", ["v1"]),
        ("coordination.k8s.io", ["v1"]),
        ("apiextensions.k8s.io", ["v1"]),
    ]
    assert sorted(i.plural for i in reg.resources()) == [
        "configmaps",
        "customresourcedefinitions",
        "deployments",
        "endpoints",
        "events",
        "leases",
        "namespaces",
        "nodes",
        "pods",
        "secrets",
        "serviceaccounts",
        "services",
    ]


@pytest.mark.parametrize(
    ("plural", "group", "hash_"),
    [("pods", "", "xPOwRZ+Yhw8="), ("deployments", "apps", "8aSe+NMegvE=")],
)
def test_storage_version_hash_matches_kube_apiserver(plural: str, group: str, hash_: str) -> None:
    info = builtin.new_registry().get(group, "v1", plural)
    assert info is not None and info.storage_version_hash == hash_


def test_builtin_schemas_are_self_contained_and_tagged() -> None:
    for info in builtin.RESOURCES:
        assert info.schema is not None
        assert info.schema["x-kubernetes-group-version-kind"] == [
            {"group": info.group, "kind": info.kind, "version": info.version}
        ]
        assert not _has_ref(info.schema), info.kind
    pod_spec = builtin.new_registry().get("", "v1", "pods").schema["properties"]["spec"]  # type: ignore[union-attr]
    containers = pod_spec["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    container = containers["items"]["properties"]
    assert container["env"]["x-kubernetes-patch-merge-key"] == "name"
    assert container["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    assert container["volumeMounts"]["x-kubernetes-patch-merge-key"] == "mountPath"
    assert pod_spec["properties"]["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert pod_spec["required"] == ["containers"]


def _has_ref(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if "$ref" in schema:
        return True
    nested = [schema.get("items"), schema.get("additionalProperties"), schema.get("not")]
    nested += list((schema.get("properties") or {}).values())
    for key in ("allOf", "anyOf", "oneOf"):
        nested += schema.get(key) or []
    return any(_has_ref(s) for s in nested)


def test_crd_round_trip() -> None:
    reg = builtin.new_registry()
    start = reg.generation
    infos = reg.add_crd(widget_crd())
    assert reg.generation == start + 1
    assert [i.version for i in infos] == ["v1", "v1beta1"]  # served only, preferred first
    v1 = reg.get("example.com", "v1", "widgets")
    assert v1 is infos[0]
    assert reg.by_kind("example.com/v1beta1", "Widget") is infos[1]
    assert v1 is not None
    assert (v1.crd, v1.storage_version, v1.singular, v1.short_names) == (
        "widgets.example.com",
        "v1",
        "widget",
        ("wd",),
    )
    assert v1.subresources == {"status", "scale"}
    assert v1.printer_columns == (
        PrinterColumn(
            "Size",
            "integer",
            ".spec.size",
            "Custom resource definition column (in JSONPath format): .spec.size",
        ),
    )
    assert infos[1].printer_columns[0].name == "Age"
    assert reg.get("example.com", "v1alpha1", "widgets") is None
    assert reg.groups()[-1] == ("example.com", ["v1", "v1beta1"])
    assert reg.crd_resources("widgets.example.com") == infos

    changed = widget_crd()
    changed["spec"]["versions"] = [changed["spec"]["versions"][1]]
    assert [i.version for i in reg.add_crd(changed)] == ["v1"]
    assert reg.get("example.com", "v1beta1", "widgets") is None
    assert reg.generation == start + 2

    reg.remove_crd("widgets.example.com")
    assert reg.get("example.com", "v1", "widgets") is None
    assert reg.by_kind("example.com/v1", "Widget") is None
    assert all(group != "example.com" for group, _ in reg.groups())
    assert reg.generation == start + 3
    reg.remove_crd("widgets.example.com")
    assert reg.generation == start + 3


def test_crd_schema_is_copied() -> None:
    crd = widget_crd()
    info = Registry().add_crd(crd)[0]
    crd["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"].clear()
    assert info.schema is not None and "spec" in info.schema["properties"]


def test_crd_names_must_not_clash() -> None:
    reg = builtin.new_registry()
    reg.add_crd(widget_crd())
    other = widget_crd()
    other["metadata"]["name"] = "gadgets.example.com"
    other["spec"]["names"] = {"plural": "gadgets", "kind": "Widget"}
    with pytest.raises(ApiError) as err:
        reg.add_crd(other)
    assert err.value.code == 422
    assert err.value.message.startswith(
        'CustomResourceDefinition.apiextensions.k8s.io "gadgets.example.com" is invalid:'
    )
    assert 'already served by CustomResourceDefinition "widgets.example.com"' in err.value.message
    assert reg.get("example.com", "v1", "gadgets") is None


def test_crds_cannot_take_over_builtin_resources() -> None:
    reg = builtin.new_registry()
    crd = widget_crd(group="coordination.k8s.io", names={"plural": "leases", "kind": "Lease"})
    crd["metadata"]["name"] = "leases.coordination.k8s.io"
    crd["spec"]["versions"] = [crd["spec"]["versions"][1]]
    with pytest.raises(ApiError) as err:
        reg.add_crd(crd)
    assert err.value.details is not None
    assert [c["message"] for c in err.value.details["causes"]] == [
        'Invalid value: "coordination.k8s.io/v1 leases": already served by a built-in resource',
        'Invalid value: "coordination.k8s.io/v1 Lease": already served by a built-in resource',
    ]
    lease = reg.get("coordination.k8s.io", "v1", "leases")
    assert lease is not None and lease.crd == ""


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        (
            {"names": ["widgets"]},
            ("spec.names", "FieldValueInvalid", 'Invalid value: ["widgets"]: must be an object'),
        ),
        (
            {"versions": ["v1"]},
            ("spec.versions", "FieldValueInvalid", 'Invalid value: ["v1"]: must be a list of objects'),
        ),
    ],
)
def test_malformed_crds_are_reported_not_crashed_on(
    spec: dict[str, Any], cause: tuple[str, str, str]
) -> None:
    assert validate_crd(widget_crd(**spec)) == [cause]
    assert validate_crd({"metadata": {"name": "x"}}) == [("spec", "FieldValueRequired", "Required value")]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"metadata": {"name": "widgets.example.org"}},
            "metadata.name",
            'must be spec.names.plural+"."+spec.group',
        ),
        ({"spec": {"group": "example"}}, "spec.group", "should be a domain with at least one dot"),
        ({"spec": {"scope": "Global"}}, "spec.scope", 'Unsupported value: "Global"'),
        ({"spec": {"names": {"plural": "Widgets", "kind": "Widget"}}}, "spec.names.plural", "DNS-1035"),
        ({"spec": {"names": {"plural": "widgets"}}}, "spec.names.kind", "Required value"),
        (
            {"spec": {"names": {"plural": "widgets", "kind": "Widget", "listKind": "Widgets"}}},
            "spec.names.listKind",
            'must be spec.names.kind+"List"',
        ),
        ({"spec": {"versions": []}}, "spec.versions", "Required value"),
        ({"storage_all": True}, "spec.versions", "must have exactly one version marked as storage version"),
        (
            {"column": {"name": "X", "type": "float", "jsonPath": ".a"}},
            "additionalPrinterColumns[0].type",
            "Unsupported",
        ),
        (
            {"column": {"name": "X", "type": "string", "jsonPath": ".a[x]"}},
            "additionalPrinterColumns[0].jsonPath",
            "invalid",
        ),
        (
            {"schema": {"type": "object", "properties": {"a": {"description": "untyped"}}}},
            "properties[a].type",
            "Required",
        ),
        (
            {"schema": {"type": "object", "properties": {"a": {"$ref": "#/x", "type": "string"}}}},
            "properties[a].$ref",
            "Forbidden",
        ),
        (
            {"schema": {"type": "array", "items": {"type": "string"}}},
            "openAPIV3Schema.type",
            "must be object at the root",
        ),
        (
            {"schema": {"type": "object", "properties": {"a": {"type": "array"}}}},
            "properties[a].items",
            "Required",
        ),
        (
            {
                "schema": {
                    "type": "object",
                    "properties": {"a": {"type": "object", "anyOf": [{"type": "string"}]}},
                }
            },
            "properties[a].anyOf[0].type",
            "must be empty to be structural",
        ),
        (
            {"schema": {"type": "object", "properties": {"a": {"type": "string", "properties": {}}}}},
            "properties[a].type",
            "must be object when properties are given",
        ),
    ],
)
def test_invalid_crds_are_rejected(change: dict[str, Any], field: str, message: str) -> None:
    crd = widget_crd()
    version = crd["spec"]["versions"][1]
    if "storage_all" in change:
        for v in crd["spec"]["versions"]:
            v["storage"] = True
    elif "column" in change:
        version["additionalPrinterColumns"] = [change["column"]]
    elif "schema" in change:
        version["schema"]["openAPIV3Schema"] = change["schema"]
    else:
        for section, values in change.items():
            crd[section].update(values)
    causes = validate_crd(crd)
    assert any(field in f and message in m for f, _, m in causes), causes
    with pytest.raises(ApiError) as err:
        Registry().add_crd(crd)
    assert err.value.reason == "Invalid"
    assert err.value.details is not None
    assert err.value.details["causes"] == [{"reason": r, "message": m, "field": f} for f, r, m in causes]


def test_version_priority() -> None:
    versions = ["v1alpha1", "foo", "v2", "v1beta2", "v1", "v1beta1", "bar", "v10", "v2alpha3"]
    assert sorted(versions, key=version_priority_key) == [
        "v10",
        "v2",
        "v1",
        "v1beta2",
        "v1beta1",
        "v2alpha3",
        "v1alpha1",
        "bar",
        "foo",
    ]


def test_resource_info_rejects_what_it_cannot_serve() -> None:
    with pytest.raises(ValueError, match="unknown subresources eviction"):
        ResourceInfo("", "v1", "Pod", "pods", "pod", True, subresources=frozenset({"eviction"}))
    with pytest.raises(ValueError, match="needs exactly one of json_path and compute"):
        PrinterColumn("X", "string", "")
    with pytest.raises(ValueError, match="invalid JSONPath"):
        PrinterColumn("X", "string", ".a[")
    with pytest.raises(ValueError, match="registered twice"):
        Registry([*builtin.RESOURCES, builtin.RESOURCES[0]])


# -- kedge's own CRD manifests -------------------------------------------------------------------------


def test_all_crd_files_are_present() -> None:
    assert [f.name for f in CRD_FILES] == [
        "devices_v1beta1_device.yaml",
        "devices_v1beta1_devicemodel.yaml",
        "devices_v1beta1_devicestatus.yaml",
        "router_v1_rule.yaml",
        "router_v1_ruleendpoint.yaml",
    ]


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.name)
def test_crd_files_are_valid(path: Path) -> None:
    crd = yaml.safe_load(path.read_text())
    assert (crd["apiVersion"], crd["kind"]) == ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert validate_crd(crd) == []
    assert [v["name"] for v in crd["spec"]["versions"] if v["storage"]] != []
    infos = builtin.new_registry().add_crd(copy.deepcopy(crd))
    assert len(infos) == len([v for v in crd["spec"]["versions"] if v["served"]])
    assert all(info.printer_columns[-1].name == "Age" for info in infos)
    for version in crd["spec"]["versions"]:
        _assert_described(version["schema"]["openAPIV3Schema"]["properties"]["spec"], "spec")


def _assert_described(schema: dict[str, Any], path: str) -> None:
    """Every field under spec has a description, so `kubectl explain` is useful."""
    for name, sub in (schema.get("properties") or {}).items():
        assert sub.get("description"), "%s.%s has no description" % (path, name)
        _assert_described(sub, "%s.%s" % (path, name))
    if isinstance(schema.get("items"), dict):
        _assert_described(schema["items"], path + "[]")


def test_kubeedge_crds_in_the_registry() -> None:
    reg = builtin.new_registry()
    for path in CRD_FILES:
        reg.add_crd(yaml.safe_load(path.read_text()))
    device = reg.by_kind("devices.kubeedge.io/v1beta1", "Device")
    assert device is not None
    assert (device.plural, device.namespaced, device.subresources) == ("devices", True, frozenset({"status"}))
    assert [c.name for c in device.printer_columns] == ["Node", "Model", "Protocol", "Age"]
    rule_endpoint = reg.get("rules.kubeedge.io", "v1", "ruleendpoints")
    assert rule_endpoint is not None and rule_endpoint.short_names == ("re",)
    spec = rule_endpoint.schema["properties"]["spec"]  # type: ignore[index]
    assert spec["properties"]["ruleEndpointType"]["enum"] == ["rest", "eventbus", "servicebus"]
    rule = reg.get("rules.kubeedge.io", "v1", "rules")
    assert rule is not None
    assert rule.schema["properties"]["spec"]["required"] == [
        "source",
        "sourceResource",
        "target",
        "targetResource",
    ]  # type: ignore[index]
    assert rule.subresources == frozenset()  # KubeEdge's router patches the status on the object itself
    model = reg.get("devices.kubeedge.io", "v1beta1", "devicemodels")
    assert model is not None
    properties = model.schema["properties"]["spec"]["properties"]["properties"]["items"]["properties"]  # type: ignore[index]
    assert properties["type"]["enum"] == ["INT", "FLOAT", "DOUBLE", "STRING", "BOOLEAN", "BYTES", "STREAM"]
    assert properties["accessMode"]["enum"] == ["ReadWrite", "ReadOnly"]
