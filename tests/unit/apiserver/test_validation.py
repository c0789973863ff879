"""Validation of metadata, built-in kinds and CRDs, with kube-apiserver's exact messages."""

import base64
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver.errors import ApiError
from kedge.apiserver.validation import (
    GoStruct,
    aggregate_text,
    go_base64_decode,
    go_float,
    go_json,
    go_quote,
    go_value,
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_label_key,
    is_label_value,
    is_path_segment_name,
    is_valid_port_name,
    micro_time_error,
    name_errors,
    name_rule_for,
    raise_if_invalid,
    validate_builtin,
    validate_crd,
    validate_metadata,
)

SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
KEY_NAME = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
CONFIG_KEY = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def bad_request(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    return caught.value.message


# -- Go rendering ---------------------------------------------------------------------------------------


def test_go_quote() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("tab\there\n") == '"tab\\there\\n"'
    assert go_quote("\x00\x7f") == '"\\x00\\x7f"'
    assert go_quote("héllo ✓") == '"héllo ✓"'
    assert go_quote("\u200b") == '"\\u200b"'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (3.0, "3"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5e-7, "-2.5e-07"),
    ],
)
def test_go_float(value: float, text: str) -> None:
    assert go_float(value) == text


def test_go_json() -> None:
    assert go_json({"b": [1, 2.0, 1e21, 1e-7, None, True], "a": "<&>"}) == (
        '{"a":"\\u003c\\u0026\\u003e","b":[1,2,1e+21,1e-7,null,true]}'
    )
    assert go_json(GoStruct(z=1, a={"y": 1, "x": 2})) == '{"z":1,"a":{"x":2,"y":1}}'
    assert go_json("\n\x01") == '"\\n\\u0001"'


def test_go_value() -> None:
    assert [go_value(v) for v in ("x", 3, 2.5, True, None, ["a"], {"k": 1})] == [
        '"x"',
        "3",
        "2.5",
        "true",
        "null",
        '["a"]',
        '{"k":1}',
    ]


def test_aggregate_text() -> None:
    one = ("a", "FieldValueRequired", "Required value")
    two = ("b", "FieldValueInvalid", 'Invalid value: "x"')
    assert aggregate_text([one]) == "a: Required value"
    assert aggregate_text([one, two, one]) == '[a: Required value, b: Invalid value: "x"]'


# -- syntax rules -----------------------------------------------------------------------------------------


def test_dns_names() -> None:
    assert is_dns1123_label("my-name") == []
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("Foo") == [LABEL]
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]
    assert is_dns1123_subdomain("example.com") == []
    assert is_dns1123_subdomain("Foo") == [SUBDOMAIN]
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert is_dns1123_subdomain("a" * 254, unit="bytes") == ["must be no more than 253 bytes"]
    assert is_dns1035_label("1abc") == [DNS1035]


def test_label_keys_and_values() -> None:
    assert is_label_key("example.com/My_Name.1") == []
    assert is_label_key("a b") == [KEY_NAME]
    assert is_label_key("/a") == ["prefix part must be non-empty"]
    assert is_label_key("a/") == ["name part must be non-empty", KEY_NAME]
    assert is_label_key("Ex.com/a") == ["prefix part " + SUBDOMAIN]
    assert is_label_key("a" * 64) == ["name part must be no more than 63 bytes"]
    assert is_label_value("") == []
    assert is_label_value("a" * 64) == ["must be no more than 63 bytes"]
    assert is_label_value("-a") == [
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
        "must "
        "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
        "used "
        "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    ]


def test_other_rules() -> None:
    assert is_config_map_key("a b") == [CONFIG_KEY]
    assert is_config_map_key("..x") == ["must not start with '..'"]
    assert is_config_map_key(".") == ["must not be '.'"]
    assert is_env_var_name("1A-b.c") == []
    assert is_env_var_name("A=B") == [
        "a valid environment variable name must consist only of printable ASCII characters other than '='"
    ]
    assert is_valid_port_name("http") == []
    assert is_valid_port_name("-ab--c1234567890") == [
        "must be no more than 15 characters",
        "must not contain consecutive hyphens",
        "must not begin or end with a hyphen",
    ]
    assert is_valid_port_name("80") == ["must contain at least one letter (a-z)"]
    assert is_path_segment_name("..") == ["may not be '..'"]
    assert is_path_segment_name("a/b%c") == ["may not contain '/'", "may not contain '%'"]


def test_name_rules() -> None:
    # a generateName may end with a dash (apimachinery masks it, dropping the character before it too)
    assert name_errors("label", "web-", prefix=True) == []
    assert name_errors("label", "web-") == [LABEL]
    assert name_errors("path-segment", "a%b", prefix=True) == ["may not contain '%'"]
    assert name_errors("label1035", "9x") == [DNS1035]
    assert [name_rule_for(k) for k in ("Pod", "Namespace", "Service", "Event", "ClusterRole", "Widget")] == [
        "subdomain",
        "label",
        "label1035",
        "path-segment",
        "path-segment",
        "subdomain",
    ]


# -- Go decoding helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset"),
    [("abc", 0), ("abcd!", 4), ("ab=a", 2), ("a===", 1), ("abc=x", 4), ("ab=", 3), ("a", 0), ("abcde", 4)],
)
def test_base64_errors(text: str, offset: int) -> None:
    with pytest.raises(ValueError, match="^illegal base64 data at input byte %d$" % offset):
        go_base64_decode(text)


def test_base64_skips_newlines() -> None:
    assert go_base64_decode("aGVs\nbG8=\r\n") == b"hello"
    assert go_base64_decode("") == b""


@given(st.binary(max_size=64))
def test_base64_agrees_with_the_standard_encoding(data: bytes) -> None:
    assert go_base64_decode(base64.b64encode(data).decode()) == data


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2024-05-01T10:20:30.123456Z", None),
        ("2024-05-01T10:20:30.123456+02:00", None),
        (
            "2024-05-01T10:20:30Z",
            'parsing time "2024-05-01T10:20:30Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as '
            '".000000"',
        ),
        ("2024-13-01T10:20:30.000000Z", 'parsing time "2024-13-01T10:20:30.000000Z": month out of range'),
        ("2024-02-30T10:20:30.000000Z", 'parsing time "2024-02-30T10:20:30.000000Z": day out of range'),
        ("2024-05-01T25:20:30.000000Z", 'parsing time "2024-05-01T25:20:30.000000Z": hour out of range'),
        (
            "yesterday",
            'parsing time "yesterday" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "yesterday" as '
            '"2006"',
        ),
        (
            "2024-05-01T10:20:30.000000Zjunk",
            'parsing time "2024-05-01T10:20:30.000000Zjunk": extra text: "junk"',
        ),
    ],
)
def test_micro_time(value: str, error: str | None) -> None:
    assert micro_time_error(value) == error


# -- metadata --------------------------------------------------------------------------------------------


def meta(**metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def test_metadata_create() -> None:
    assert validate_metadata(meta(name="a", namespace="ns"), namespaced=True, name_rule="subdomain") == []
    assert (
        validate_metadata(meta(generateName="web-", namespace="ns"), namespaced=True, name_rule="label") == []
    )
    assert validate_metadata(meta(namespace="ns"), namespaced=True, name_rule="subdomain") == [
        ("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")
    ]
    assert validate_metadata(meta(), namespaced=True, name_rule="subdomain", require_name=False) == [
        ("metadata.namespace", "FieldValueRequired", "Required value")
    ]
    assert validate_metadata(
        meta(name="Foo", namespace="Bad_ns"), namespaced=True, name_rule="subdomain"
    ) == [
        ("metadata.name", "FieldValueInvalid", 'Invalid value: "Foo": ' + SUBDOMAIN),
        ("metadata.namespace", "FieldValueInvalid", 'Invalid value: "Bad_ns": ' + LABEL),
    ]
    assert validate_metadata(meta(name="n", namespace="x"), namespaced=False, name_rule="subdomain") == [
        ("metadata.namespace", "FieldValueForbidden", "Forbidden: not allowed on this type")
    ]


def test_metadata_labels_annotations_finalizers() -> None:
    obj = meta(
        name="a",
        labels={"ok": "yes", "bad key": "-bad"},
        annotations={"Example.com/Fine": "x", "a/b/c": "y"},
        finalizers=["example.com/f", "orphan", "foregroundDeletion", "bad one"],
        generation=-1,
    )
    causes = validate_metadata(obj, namespaced=False, name_rule="subdomain", kube_finalizers=True)
    assert [c[0] for c in causes] == [
        "metadata.generation",
        "metadata.labels",
        "metadata.labels",
        "metadata.annotations",
        "metadata.finalizers",
        "metadata.finalizers",
        "metadata.finalizers[3]",
    ]
    assert causes[0][2] == "Invalid value: -1: must be greater than or equal to 0"
    assert causes[1][2] == 'Invalid value: "bad key": ' + KEY_NAME
    assert causes[3][2].startswith('Invalid value: "a/b/c": a valid label key must consist of')
    assert causes[5][2] == (
        'Invalid value: ["example.com/f","orphan","foregroundDeletion","bad one"]: '
        "finalizer orphan and foregroundDeletion cannot be both set"
    )
    assert (
        causes[6][2]
        == 'Invalid value: "bad one": name is neither a standard finalizer name nor is it fully qualified'
    )
    big = meta(name="a", annotations={"k": "v" * (256 * 1024)})
    assert validate_metadata(big, namespaced=False, name_rule="subdomain") == [
        ("metadata.annotations", "FieldValueTooLong", "Too long: may not be more than 262144 bytes")
    ]


def test_metadata_owner_references() -> None:
    refs = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "1", "controller": True},
        {"apiVersion": "a/b/c", "kind": "", "name": "x", "uid": ""},
        {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "2", "controller": True},
    ]
    causes = validate_metadata(meta(name="a", ownerReferences=refs), namespaced=False, name_rule="subdomain")
    assert causes == [
        (
            "metadata.ownerReferences[1].apiVersion",
            "FieldValueInvalid",
            'Invalid value: "a/b/c": must be <group>/<version> or <version>',
        ),
        ("metadata.ownerReferences[1].kind", "FieldValueRequired", "Required value: must not be empty"),
        ("metadata.ownerReferences[1].uid", "FieldValueRequired", "Required value: must not be empty"),
        (
            "metadata.ownerReferences[2]",
            "FieldValueInvalid",
            'Invalid value: {"apiVersion":"v1","kind":"Event","name":"e","uid":"2","controller":true}: '
            "/v1, Kind=Event is disallowed from being an owner",
        ),
        (
            "metadata.ownerReferences",
            "FieldValueInvalid",
            "Invalid value: "
            '[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"1","controller":true},'
            '{"apiVersion":"a/b/c","kind":"","name":"x","uid":""},'
            '{"apiVersion":"v1","kind":"Event","name":"e","uid":"2","controller":true}]: '
            'Only one reference can have Controller set to true. Found "true" in references for '
            "ReplicaSet/rs and Event/e",
        ),
    ]


def test_metadata_update() -> None:
    old = meta(
        name="a",
        namespace="ns",
        uid="u1",
        generation=3,
        finalizers=["a/b"],
        deletionTimestamp="2024-01-01T00:00:00Z",
    )
    new = meta(name="b", namespace="ns", uid="u1", generation=2, finalizers=["a/b", "c/d"])
    assert validate_metadata(new, namespaced=True, name_rule="subdomain", old=old) == [
        (
            "metadata.finalizers",
            "FieldValueForbidden",
            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers "
            '[]string{"c/d"}',
        ),
        ("metadata.generation", "FieldValueInvalid", "Invalid value: 2: must not be decremented"),
        ("metadata.name", "FieldValueInvalid", 'Invalid value: "b": field is immutable'),
        ("metadata.deletionTimestamp", "FieldValueInvalid", "Invalid value: null: field is immutable"),
    ]


def test_metadata_types_are_decoding_errors() -> None:
    obj = meta(name="a", labels={"n": 1})
    assert bad_request(validate_metadata, obj, namespaced=False, name_rule="subdomain") == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go '
        "struct field ObjectMeta.metadata.labels of type string"
    )
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "x"}
    assert bad_request(validate_metadata, obj, namespaced=False, name_rule="subdomain") == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal string into Go '
        "struct field ConfigMap.metadata of type v1.ObjectMeta"
    )


def test_raise_if_invalid() -> None:
    raise_if_invalid("Pod", "p", [])
    causes = [("metadata.name", "FieldValueRequired", "Required value")] * 2
    with pytest.raises(ApiError) as caught:
        raise_if_invalid("Deployment", "d", causes, "apps")
    error = caught.value
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == 'Deployment.apps "d" is invalid: metadata.name: Required value'
    assert error.details == {
        "kind": "Deployment",
        "name": "d",
        "group": "apps",
        "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": "metadata.name"}],
    }


# -- built-in kinds ----------------------------------------------------------------------------------------


def pod(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", **metadata},
        "spec": spec,
    }


VALID_POD_SPEC: dict[str, Any] = {
    "containers": [
        {
            "name": "app",
            "image": "nginx:1.27",
            "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
            "env": [
                {"name": "MODE", "value": "edge"},
                {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            ],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        }
    ],
    "initContainers": [{"name": "init", "image": "busybox"}],
    "volumes": [{"name": "data", "emptyDir": {}}],
    "restartPolicy": "OnFailure",
    "nodeName": "edge-node-1",
    "tolerations": [
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        }
    ],
}


def test_valid_pod() -> None:
    assert validate_builtin("Pod", pod(VALID_POD_SPEC)) == []


def test_pod_create_errors() -> None:
    spec = {
        "containers": [
            {
                "name": "Bad_Name",
                "image": "",
                "ports": [
                    {"containerPort": 0, "hostPort": 8080},
                    {"containerPort": 70000, "protocol": "ICMP"},
                ],
                "env": [
                    {"name": ""},
                    {"name": "A=B"},
                    {"name": "X", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
                ],
                "volumeMounts": [{"name": "missing", "mountPath": "/a"}],
                "imagePullPolicy": "Sometimes",
            },
            {
                "name": "side",
                "image": "x",
                "ports": [{"containerPort": 1, "hostPort": 8080}],
                "restartPolicy": "Always",
            },
        ],
        "initContainers": [{"name": "side", "image": "i", "restartPolicy": "Never", "livenessProbe": {}}],
        "volumes": [
            {"name": "v", "hostPath": {"path": "/x"}, "secret": {"secretName": "s"}},
            {"name": "w", "hostPath": {}},
        ],
        "restartPolicy": "Sometimes",
        "activeDeadlineSeconds": 0,
        "ephemeralContainers": [{"name": "debug"}],
    }
    assert validate_builtin("Pod", pod(spec)) == [
        (
            "spec.volumes[0].secret",
            "FieldValueForbidden",
            "Forbidden: may not specify more than 1 volume type",
        ),
        ("spec.volumes[1].hostPath.path", "FieldValueRequired", "Required value"),
        ("spec.containers[0].name", "FieldValueInvalid", 'Invalid value: "Bad_Name": ' + LABEL),
        ("spec.containers[0].image", "FieldValueRequired", "Required value"),
        ("spec.containers[0].ports[0].containerPort", "FieldValueRequired", "Required value"),
        (
            "spec.containers[0].ports[1].containerPort",
            "FieldValueInvalid",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            "spec.containers[0].ports[1].protocol",
            "FieldValueNotSupported",
            'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        ),
        ("spec.containers[0].env[0].name", "FieldValueRequired", "Required value"),
        (
            "spec.containers[0].env[1].name",
            "FieldValueInvalid",
            'Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII '
            "characters other than '='",
        ),
        (
            "spec.containers[0].env[2].valueFrom",
            "FieldValueInvalid",
            'Invalid value: "": may not be specified when `value` is not empty',
        ),
        ("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound", 'Not found: "missing"'),
        (
            "spec.containers[0].imagePullPolicy",
            "FieldValueNotSupported",
            'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
        ),
        (
            "spec.containers[1].restartPolicy",
            "FieldValueForbidden",
            "Forbidden: may not be set for non-init containers",
        ),
        (
            "spec.containers[1].ports[0].hostPort",
            "FieldValueDuplicate",
            'Duplicate value: "/TCP/8080"',
        ),
        (
            "spec.initContainers[0].restartPolicy",
            "FieldValueNotSupported",
            'Unsupported value: "Never": supported values: "Always"',
        ),
        ("spec.initContainers[0].name", "FieldValueDuplicate", 'Duplicate value: "side"'),
        (
            "spec.initContainers[0].livenessProbe",
            "FieldValueForbidden",
            "Forbidden: may not be set for init containers without restartPolicy=Always",
        ),
        (
            "spec.restartPolicy",
            "FieldValueNotSupported",
            'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        ),
        (
            "spec.activeDeadlineSeconds",
            "FieldValueInvalid",
            "Invalid value: 0: must be between 1 and 2147483647, inclusive",
        ),
        ("spec.ephemeralContainers", "FieldValueForbidden", "Forbidden: cannot be set on create"),
    ]


def test_pod_needs_containers_and_valid_tolerations() -> None:
    spec = {
        "containers": [],
        "tolerations": [
            {"operator": "Equal", "value": "x"},
            {"key": "k", "operator": "Exists", "value": "v"},
        ],
    }
    assert validate_builtin("Pod", pod(spec)) == [
        ("spec.containers", "FieldValueRequired", "Required value"),
        (
            "spec.tolerations[0].operator",
            "FieldValueInvalid",
            'Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all '
            'values and all keys"',
        ),
        (
            "spec.tolerations[1].operator",
            "FieldValueInvalid",
            "Invalid value: "
            '{"Key":"k","Operator":"Exists","Value":"v","Effect":"","TolerationSeconds":null}: '
            "value must be empty when `operator` is 'Exists'",
        ),
    ]


def test_pod_type_errors() -> None:
    assert bad_request(
        validate_builtin,
        "Pod",
        pod({"containers": [{"name": "a", "image": "b", "ports": [{"containerPort": "80"}]}]}),
    ) == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field '
        "ContainerPort.spec.containers.ports.containerPort of type int32"
    )
    assert bad_request(validate_builtin, "Pod", pod({"containers": "nginx"})) == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field '
        "PodSpec.spec.containers of type []v1.Container"
    )


def test_pod_update() -> None:
    old = pod(VALID_POD_SPEC, uid="u", resourceVersion="5")
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["activeDeadlineSeconds"] = 60
    new["spec"]["tolerations"].append({"key": "x", "operator": "Exists"})
    new["metadata"]["labels"] = {"changed": "yes"}
    assert validate_builtin("Pod", new, old=old) == []

    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    new["spec"]["nodeName"] = "edge-node-2"
    causes = validate_builtin("Pod", new, old=old)
    assert len(causes) == 1
    field, reason, message = causes[0]
    assert (field, reason) == ("spec", "FieldValueForbidden")
    assert message.split("\n")[0] == (
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)"
    )
    assert message.split("\n")[1:] == [
        "- spec.containers[0].ports[0].containerPort: 80",
        "+ spec.containers[0].ports[0].containerPort: 8080",
        '- spec.nodeName: "edge-node-1"',
        '+ spec.nodeName: "edge-node-2"',
    ]
    with pytest.raises(ApiError) as raised:
        raise_if_invalid("Pod", "p", causes)
    assert raised.value.message.startswith(
        'Pod "p" is invalid: spec: Forbidden: pod updates may not change fields'
    )

    new = copy.deepcopy(old)
    new["spec"]["containers"].append({"name": "second", "image": "x"})
    new["spec"]["tolerations"] = []
    new["spec"]["activeDeadlineSeconds"] = 10
    assert validate_builtin("Pod", new, old=old)[-1] == (
        "spec.containers",
        "FieldValueForbidden",
        "Forbidden: pod updates may not add or remove containers",
    )
    old["spec"]["activeDeadlineSeconds"] = 5
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 10
    new["spec"]["tolerations"] = []
    assert validate_builtin("Pod", new, old=old) == [
        (
            "spec.activeDeadlineSeconds",
            "FieldValueInvalid",
            "Invalid value: 10: must be less than or equal to previous value",
        )
    ]
    new["spec"]["activeDeadlineSeconds"] = 5
    assert validate_builtin("Pod", new, old=old) == [
        (
            "spec.tolerations",
            "FieldValueForbidden",
            "Forbidden: existing toleration can not be modified except its tolerationSeconds",
        )
    ]


def test_namespace() -> None:
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "edge.apps"},
        "spec": {"finalizers": ["kubernetes", "foo"]},
    }
    assert validate_builtin("Namespace", ns) == [
        ("metadata.name", "FieldValueInvalid", 'Invalid value: "edge.apps": must not contain dots'),
        (
            "spec.finalizers",
            "FieldValueInvalid",
            'Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified',
        ),
    ]
    ns["metadata"]["name"] = "edge"
    assert validate_builtin("Namespace", ns, old=copy.deepcopy(ns)) == []


def config_map(data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns"},
        "data": data,
        **extra,
    }


def test_config_map() -> None:
    assert validate_builtin("ConfigMap", config_map({"app.yaml": "x"}, binaryData={"bin": "AAEC"})) == []
    assert validate_builtin(
        "ConfigMap", config_map({"bad key": "x", "dup": "y"}, binaryData={"dup": "AA=="})
    ) == [
        ("data[bad key]", "FieldValueInvalid", 'Invalid value: "bad key": ' + CONFIG_KEY),
        ("data[dup]", "FieldValueInvalid", 'Invalid value: "dup": duplicate of key present in binaryData'),
    ]
    assert validate_builtin("ConfigMap", config_map({"a": "x" * (1024 * 1024 + 1)})) == [
        ("[]", "FieldValueTooLong", "Too long: may not be more than 1048576 bytes")
    ]
    old = config_map({"a": "1"}, immutable=True)
    assert validate_builtin("ConfigMap", config_map({"a": "2"}), old=old) == [
        ("immutable", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set"),
        ("data", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set"),
    ]
    assert bad_request(validate_builtin, "ConfigMap", config_map(binaryData={"b": "%%%"})) == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte 0'
    )


def secret(data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns"},
        "data": data,
        **extra,
    }


def test_secret() -> None:
    assert validate_builtin("Secret", secret({"password": "c2VjcmV0"})) == []
    assert bad_request(validate_builtin, "Secret", secret({"password": "secret!"})) == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 6'
    )
    assert bad_request(validate_builtin, "Secret", secret({"password": 5})) == (
        'Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal number into Go struct '
        "field Secret.data of type []uint8"
    )
    tls = secret({"tls.crt": "AA=="}, type="kubernetes.io/tls", stringData={"bad/key": "x"})
    assert validate_builtin("Secret", tls) == [
        (
            "data[bad/key]",
            "FieldValueInvalid",
            'Invalid value: "bad/key": ' + CONFIG_KEY,
        ),
        ("data[tls.key]", "FieldValueRequired", "Required value"),
    ]
    docker = secret(
        {".dockerconfigjson": base64.b64encode(b"{oops").decode()}, type="kubernetes.io/dockerconfigjson"
    )
    assert validate_builtin("Secret", docker) == [
        (
            "data[.dockerconfigjson]",
            "FieldValueInvalid",
            "Invalid value: \"<secret contents redacted>\": invalid character 'o' looking for beginning of "
            "value",
        )
    ]
    token = secret(type="kubernetes.io/service-account-token")
    assert validate_builtin("Secret", token) == [
        ("metadata.annotations[kubernetes.io/service-account.name]", "FieldValueRequired", "Required value")
    ]
    assert validate_builtin("Secret", secret({"a": "YQ=="}, type="Other"), old=secret({"a": "YQ=="})) == [
        ("type", "FieldValueInvalid", 'Invalid value: "Other": field is immutable')
    ]
    huge = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    assert validate_builtin("Secret", secret({"big": huge})) == [
        ("data", "FieldValueTooLong", "Too long: may not be more than 1048576 bytes")
    ]


def service(spec: dict[str, Any], name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": spec,
    }


def test_service() -> None:
    good = {
        "selector": {"app": "web"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "m", "port": 9090, "targetPort": 9090},
        ],
    }
    assert validate_builtin("Service", service(good)) == []
    bad = {
        "type": "Tunnel",
        "clusterIP": "10.0.0.01",
        "ports": [
            {"port": 0, "protocol": "ICMP", "targetPort": "-x"},
            {"name": "a", "port": 80, "nodePort": 30080},
            {"name": "a", "port": 80, "nodePort": 30080},
        ],
    }
    assert validate_builtin("Service", service(bad, name="1web")) == [
        ("metadata.name", "FieldValueInvalid", 'Invalid value: "1web": ' + DNS1035),
        ("spec.ports[0].name", "FieldValueRequired", "Required value"),
        (
            "spec.ports[0].port",
            "FieldValueInvalid",
            "Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            "spec.ports[0].protocol",
            "FieldValueNotSupported",
            'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        ),
        (
            "spec.ports[0].targetPort",
            "FieldValueInvalid",
            'Invalid value: "-x": must not begin or end with a hyphen',
        ),
        ("spec.ports[2].name", "FieldValueDuplicate", 'Duplicate value: "a"'),
        ("spec.clusterIPs[0]", "FieldValueInvalid", 'Invalid value: "10.0.0.01": must not have leading 0s'),
        (
            "spec.type",
            "FieldValueNotSupported",
            'Unsupported value: "Tunnel": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
            '"NodePort"',
        ),
        ("spec.ports[2].nodePort", "FieldValueDuplicate", "Duplicate value: 30080"),
        (
            "spec.ports[2]",
            "FieldValueDuplicate",
            "Duplicate value: "
            '{"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,"NodePort":0}',
        ),
    ]
    assert validate_builtin(
        "Service", service({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30001}]})
    ) == [
        (
            "spec.ports[0].nodePort",
            "FieldValueForbidden",
            "Forbidden: may not be used when `type` is 'ClusterIP'",
        )
    ]
    assert (
        validate_builtin("Service", service({"type": "ExternalName", "externalName": "db.example.com."}))
        == []
    )
    assert validate_builtin("Service", service({"type": "ExternalName"})) == [
        ("spec.externalName", "FieldValueRequired", "Required value")
    ]
    assert validate_builtin("Service", service({"clusterIP": "None"})) == []
    assert validate_builtin("Service", service({})) == [
        ("spec.ports", "FieldValueRequired", "Required value")
    ]
    old = service({"clusterIP": "10.0.0.1", "ports": [{"port": 80}]})
    assert validate_builtin(
        "Service", service({"clusterIP": "10.0.0.2", "ports": [{"port": 80}]}), old=old
    ) == [("spec.clusterIPs[0]", "FieldValueInvalid", 'Invalid value: ["10.0.0.2"]: may not change once set')]
    assert bad_request(
        validate_builtin, "Service", service({"ports": [{"port": 80, "targetPort": True}]})
    ) == (
        'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal bool into Go struct '
        "field ServicePort.spec.ports.targetPort of type int32"
    )


def test_node() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "edge-node-1", "labels": {"node-role.kubernetes.io/edge": ""}},
        "spec": {
            "podCIDRs": ["10.244.1.0/24", "10.244.1.1/24"],
            "taints": [
                {"key": "node-role.kubernetes.io/edge", "effect": "NoSchedule"},
                {"key": "node-role.kubernetes.io/edge", "effect": "NoSchedule", "value": "x"},
                {"key": "k", "effect": "Sometimes"},
            ],
        },
    }
    assert validate_builtin("Node", node) == [
        (
            "metadata.taints[1]",
            "FieldValueDuplicate",
            "Duplicate value: "
            '{"Key":"node-role.kubernetes.io/edge","Value":"x","Effect":"NoSchedule","TimeAdded":null}: '
            "taints must be unique by key and effect pair",
        ),
        (
            "metadata.taints[2].effect",
            "FieldValueNotSupported",
            'Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
        ),
        (
            "spec.podCIDRs[1]",
            "FieldValueInvalid",
            'Invalid value: "10.244.1.1/24": must not have bits set beyond the prefix length',
        ),
    ]
    old = copy.deepcopy(node)
    old["spec"]["taints"] = []
    old["spec"]["providerID"] = "kubeedge://a"
    new = copy.deepcopy(old)
    new["spec"]["podCIDRs"] = ["10.244.2.0/24"]
    new["spec"]["providerID"] = "kubeedge://b"
    assert validate_builtin("Node", new, old=old) == [
        (
            "spec.podCIDRs",
            "FieldValueForbidden",
            'Forbidden: node updates may not change podCIDR except from "" to valid',
        ),
        (
            "spec.providerID",
            "FieldValueForbidden",
            'Forbidden: node updates may not change providerID except from "" to valid',
        ),
    ]


def lease(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "edge-node-1", "namespace": "kube-node-lease"},
        "spec": spec,
    }


def test_lease() -> None:
    good = {
        "holderIdentity": "edge-node-1",
        "leaseDurationSeconds": 40,
        "renewTime": "2026-01-02T03:04:05.123456Z",
    }
    assert validate_builtin("Lease", lease(good)) == []
    assert validate_builtin("Lease", lease({"leaseDurationSeconds": 0, "leaseTransitions": -1})) == [
        ("spec.leaseDurationSeconds", "FieldValueInvalid", "Invalid value: 0: must be greater than 0"),
        (
            "spec.leaseTransitions",
            "FieldValueInvalid",
            "Invalid value: -1: must be greater than or equal to 0",
        ),
    ]
    assert bad_request(validate_builtin, "Lease", lease({"leaseDurationSeconds": "40"})) == (
        'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal string into Go struct '
        "field "
        "LeaseSpec.spec.leaseDurationSeconds of type int32"
    )
    assert bad_request(validate_builtin, "Lease", lease({"leaseDurationSeconds": 1.5})) == (
        'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal number 1.5 into Go '
        "struct "
        "field LeaseSpec.spec.leaseDurationSeconds of type int32"
    )
    assert bad_request(validate_builtin, "Lease", lease({"renewTime": "2026-01-02T03:04:05Z"})) == (
        'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-01-02T03:04:05Z" as '
        '"2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"'
    )
    assert bad_request(validate_builtin, "Lease", lease({"holderIdentity": 7})) == (
        'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal number into Go struct '
        "field "
        "LeaseSpec.spec.holderIdentity of type string"
    )


def deployment(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": spec,
    }


TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
}


def test_deployment() -> None:
    good = {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}
    assert validate_builtin("Deployment", deployment(good)) == []
    mismatch = {"replicas": -1, "selector": {"matchLabels": {"app": "api"}}, "template": TEMPLATE}
    assert validate_builtin("Deployment", deployment(mismatch)) == [
        ("spec.replicas", "FieldValueInvalid", "Invalid value: -1: must be greater than or equal to 0"),
        (
            "spec.template.metadata.labels",
            "FieldValueInvalid",
            'Invalid value: {"app":"web"}: `selector` does not match template `labels`',
        ),
    ]
    assert validate_builtin("Deployment", deployment({"selector": {}, "template": TEMPLATE})) == [
        ("spec.selector", "FieldValueInvalid", "Invalid value: {}: empty selector is invalid for deployment")
    ]
    assert validate_builtin("Deployment", deployment({"template": TEMPLATE})) == [
        ("spec.selector", "FieldValueRequired", "Required value"),
        (
            "spec.template.metadata.labels",
            "FieldValueInvalid",
            'Invalid value: {"app":"web"}: `selector` does not match template `labels`',
        ),
    ]
    broken = {
        "selector": {"matchExpressions": [{"key": "app", "operator": "In"}]},
        "template": {"spec": {"containers": []}},
    }
    assert validate_builtin("Deployment", deployment(broken)) == [
        (
            "spec.selector.matchExpressions[0].values",
            "FieldValueRequired",
            "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            "spec.selector",
            "FieldValueInvalid",
            'Invalid value: {"matchExpressions":[{"key":"app","operator":"In"}]}: invalid label selector',
        ),
    ]
    template = copy.deepcopy(TEMPLATE)
    template["spec"]["restartPolicy"] = "Never"
    template["metadata"]["labels"]["Bad Key"] = "x"
    odd = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": template,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}},
        "minReadySeconds": 700,
    }
    assert validate_builtin("Deployment", deployment(odd)) == [
        ("spec.template.labels", "FieldValueInvalid", 'Invalid value: "Bad Key": ' + KEY_NAME),
        (
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
            'Unsupported value: "Never": supported values: "Always"',
        ),
        (
            "spec.strategy.rollingUpdate.maxUnavailable",
            "FieldValueInvalid",
            "Invalid value: 0: may not be 0 when `maxSurge` is 0",
        ),
        (
            "spec.progressDeadlineSeconds",
            "FieldValueInvalid",
            "Invalid value: 600: must be greater than minReadySeconds",
        ),
    ]
    old = deployment(good)
    moved = deployment(
        {
            **good,
            "selector": {"matchLabels": {"app": "web", "tier": "x"}},
            "template": {**TEMPLATE, "metadata": {"labels": {"app": "web", "tier": "x"}}},
        }
    )
    assert validate_builtin("Deployment", moved, old=old) == [
        (
            "spec.selector",
            "FieldValueInvalid",
            'Invalid value: {"matchLabels":{"app":"web","tier":"x"}}: field is immutable',
        )
    ]


def test_event() -> None:
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "p.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Started",
    }
    assert validate_builtin("Event", event) == []
    event["involvedObject"]["namespace"] = "other"
    assert validate_builtin("Event", event) == [
        (
            "involvedObject.namespace",
            "FieldValueInvalid",
            'Invalid value: "other": does not match event.namespace',
        )
    ]
    event["involvedObject"]["namespace"] = "default"
    event["eventTime"] = "2026-01-02T03:04:05.000000Z"
    assert validate_builtin("Event", event) == [
        ("reportingController", "FieldValueRequired", "Required value"),
        ("reportingController", "FieldValueInvalid", 'Invalid value: "": name part must be non-empty'),
        ("reportingController", "FieldValueInvalid", 'Invalid value: "": ' + KEY_NAME),
        ("reportingInstance", "FieldValueRequired", "Required value"),
        ("action", "FieldValueRequired", "Required value"),
    ]
    event.update(reportingComponent="kubeedge.io/edged", reportingInstance="edge-1", action="Started")
    assert validate_builtin("Event", event) == []
    event["metadata"]["name"] = "a/b"
    assert validate_builtin("Event", event) == [
        ("metadata.name", "FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'")
    ]


def test_service_account_and_endpoints() -> None:
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "Edge", "namespace": "ns"}}
    assert validate_builtin("ServiceAccount", account) == [
        ("metadata.name", "FieldValueInvalid", 'Invalid value: "Edge": ' + SUBDOMAIN)
    ]
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "ns"},
        "subsets": [
            {"addresses": [{"ip": "10.1.0.5", "nodeName": "edge-1"}], "ports": [{"port": 80}]},
            {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80}, {"name": "b", "port": 70000}]},
            {},
        ],
    }
    assert validate_builtin("Endpoints", endpoints) == [
        (
            "subsets[1].addresses[0].ip",
            "FieldValueInvalid",
            'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        ),
        ("subsets[1].ports[0].name", "FieldValueRequired", "Required value"),
        (
            "subsets[1].ports[1].port",
            "FieldValueInvalid",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            "subsets[2]",
            "FieldValueRequired",
            "Required value: must specify `addresses` or `notReadyAddresses`",
        ),
    ]


def test_kinds_without_rules_get_metadata_checks() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:edge", "namespace": "x"},
    }
    assert validate_builtin("ClusterRole", role) == [
        ("metadata.namespace", "FieldValueForbidden", "Forbidden: not allowed on this type")
    ]
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert validate_builtin("Widget", widget) == [
        ("metadata.namespace", "FieldValueRequired", "Required value")
    ]


# -- CustomResourceDefinition -------------------------------------------------------------------------------


def crd(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "group": "devices.kubeedge.io",
        "scope": "Namespaced",
        "names": {"plural": "devices", "singular": "device", "kind": "Device", "listKind": "DeviceList"},
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"protocol": {"type": "string", "default": "modbus"}},
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
            }
        ],
    }
    base.update(spec)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.%s" % (base["names"].get("plural", ""), base["group"])},
        "spec": base,
    }


def test_valid_crd() -> None:
    assert validate_crd(crd()) == []
    assert validate_builtin("CustomResourceDefinition", crd()) == []


def test_crd_spec_rules() -> None:
    obj = crd(
        group="example", scope="Global", names={"plural": "Devices", "kind": "Device", "listKind": "Device"}
    )
    obj["metadata"]["name"] = "devices.example"
    obj["spec"]["versions"][0]["storage"] = False
    assert validate_crd(obj) == [
        (
            "metadata.name",
            "FieldValueInvalid",
            'Invalid value: "devices.example": must be spec.names.plural+"."+spec.group',
        ),
        (
            "spec.group",
            "FieldValueInvalid",
            'Invalid value: "example": should be a domain with at least one dot',
        ),
        (
            "spec.scope",
            "FieldValueNotSupported",
            'Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
        ),
        (
            "spec.versions",
            "FieldValueInvalid",
            "Invalid value: "
            + go_json(obj["spec"]["versions"])
            + ": must have exactly one version marked as storage version",
        ),
        ("spec.names.plural", "FieldValueInvalid", 'Invalid value: "Devices": ' + DNS1035),
        (
            "spec.names.listKind",
            "FieldValueInvalid",
            'Invalid value: "Device": kind and listKind may not be the same',
        ),
    ]


def test_crd_versions_need_schemas() -> None:
    obj = crd()
    version = obj["spec"]["versions"][0]
    del version["schema"]
    second = {**copy.deepcopy(version), "name": "V2", "storage": False}
    obj["spec"]["versions"].append(second)
    causes = validate_crd(obj)
    assert causes == [
        ("spec.versions[0].schema.openAPIV3Schema", "FieldValueRequired", "Required value"),
        ("spec.versions[1].schema.openAPIV3Schema", "FieldValueRequired", "Required value"),
        ("spec.versions[1].name", "FieldValueInvalid", 'Invalid value: "V2": ' + DNS1035),
    ]


def test_crd_schema_rules_report_under_spec_validation_when_shared() -> None:
    obj = crd()
    schema = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"].update(
        {
            "count": {"type": "integer", "default": "many"},
            "tags": {"type": "array"},
            "untyped": {"description": "no type"},
            "mode": {"type": "strange"},
        }
    )
    assert validate_crd(obj) == [
        (
            "spec.validation.openAPIV3Schema.properties[spec].properties[tags].items",
            "FieldValueRequired",
            "Required value: must be specified",
        ),
        (
            "spec.validation.openAPIV3Schema.properties[spec].properties[untyped].type",
            "FieldValueRequired",
            "Required value: must not be empty for specified object fields",
        ),
        (
            "spec.validation.openAPIV3Schema.properties[spec].properties[mode].type",
            "FieldValueNotSupported",
            'Unsupported value: "strange": supported values: "array", "boolean", "integer", "number", '
            '"object", "string"',
        ),
    ]
    schema["properties"]["spec"]["properties"] = {
        "count": {"type": "integer", "default": "many"},
        "extra": {"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x", "b": 1}},
    }
    assert validate_crd(obj) == [
        (
            "spec.validation.openAPIV3Schema.properties[spec].properties[count].default",
            "FieldValueTypeInvalid",
            'Invalid value: "string":  in body must be of type integer: "string"',
        ),
        (
            "spec.validation.openAPIV3Schema.properties[spec].properties[extra].default",
            "FieldValueInvalid",
            'Invalid value: {"a":"x","b":1}: must not have unknown fields',
        ),
    ]


def test_crd_schema_root_rules() -> None:
    obj = crd()
    obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "array",
        "items": {"type": "string"},
        "nullable": True,
        "uniqueItems": True,
    }
    assert validate_crd(obj) == [
        (
            "spec.validation.openAPIV3Schema.type",
            "FieldValueInvalid",
            'Invalid value: "array": only "object" is allowed as the type at the root of the schema if the '
            "status subresource is enabled",
        ),
        (
            "spec.validation.openAPIV3Schema.nullable",
            "FieldValueForbidden",
            "Forbidden: nullable cannot be true at the root",
        ),
        (
            "spec.validation.openAPIV3Schema.type",
            "FieldValueInvalid",
            'Invalid value: "array": must be object at the root',
        ),
        (
            "spec.validation.openAPIV3Schema.uniqueItems",
            "FieldValueForbidden",
            "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ),
    ]
    obj = crd()
    obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "labels": {"type": "object"}},
    }
    assert validate_crd(obj) == [
        (
            "spec.validation.openAPIV3Schema.properties[metadata]",
            "FieldValueForbidden",
            "Forbidden: must not specify anything other than name and generateName, but metadata is "
            "implicitly specified",
        )
    ]


def test_crd_per_version_paths_and_columns() -> None:
    obj = crd()
    second = copy.deepcopy(obj["spec"]["versions"][0])
    second.update(
        name="v1",
        storage=False,
        additionalPrinterColumns=[{"name": "", "type": "color", "format": "rgb", "jsonPath": "spec.x"}],
    )
    second["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["protocol"]["type"] = "text"
    obj["spec"]["versions"].append(second)
    assert validate_crd(obj) == [
        (
            "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[protocol].default",
            "FieldValueTypeInvalid",
            'Invalid value: "string":  in body must be of type text: "string"',
        ),
        (
            "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[protocol].type",
            "FieldValueNotSupported",
            'Unsupported value: "text": supported values: "array", "boolean", "integer", "number", "object", '
            '"string"',
        ),
        ("spec.versions[1].additionalPrinterColumns[0].name", "FieldValueRequired", "Required value"),
        (
            "spec.versions[1].additionalPrinterColumns[0].type",
            "FieldValueInvalid",
            'Invalid value: "color": must be one of boolean,date,integer,number,string',
        ),
        (
            "spec.versions[1].additionalPrinterColumns[0].format",
            "FieldValueInvalid",
            'Invalid value: "rgb": must be one of byte,date,date-time,double,float,int32,int64,password',
        ),
        (
            "spec.versions[1].additionalPrinterColumns[0].JSONPath",
            "FieldValueInvalid",
            'Invalid value: "spec.x": must be a simple json path starting with .',
        ),
    ]


def test_crd_protected_groups_and_updates() -> None:
    obj = crd(group="widgets.k8s.io")
    assert validate_crd(obj) == [
        (
            "metadata.annotations[api-approved.kubernetes.io]",
            "FieldValueRequired",
            'Required value: protected groups must have approval annotation "api-approved.kubernetes.io", '
            "see https://github.com/kubernetes/enhancements/pull/1111",
        )
    ]
    obj["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing"}
    assert validate_crd(obj) == []
    old = crd()
    new = crd(scope="Cluster")
    assert validate_crd(new, old=old) == [
        ("spec.scope", "FieldValueInvalid", 'Invalid value: "Cluster": field is immutable')
    ]
    assert validate_crd(crd(preserveUnknownFields=True)) == [
        (
            "spec.preserveUnknownFields",
            "FieldValueInvalid",
            "Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
            "spec.versions[*].schema instead",
        )
    ]


def test_crd_schema_types_are_decoding_errors() -> None:
    obj = crd()
    obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["protocol"][
        "type"
    ] = 3
    assert bad_request(validate_crd, obj) == (
        'CustomResourceDefinition in version "v1" cannot be handled as a CustomResourceDefinition: json: '
        "cannot "
        "unmarshal number into Go struct field "
        "JSONSchemaProps.spec.versions.schema.openAPIV3Schema.properties."
        "properties.type of type string"
    )


# -- robustness -------------------------------------------------------------------------------------------

_KEYS = st.sampled_from(
    [
        *("spec", "metadata", "name", "namespace", "labels", "containers", "image", "ports", "containerPort"),
        *(
            "env",
            "valueFrom",
            "volumes",
            "hostPath",
            "selector",
            "matchLabels",
            "matchExpressions",
            "operator",
        ),
        *(
            "values",
            "template",
            "data",
            "type",
            "taints",
            "tolerations",
            "versions",
            "schema",
            "openAPIV3Schema",
        ),
        *(
            "properties",
            "items",
            "group",
            "names",
            "subsets",
            "addresses",
            "replicas",
            "strategy",
            "renewTime",
        ),
        *("involvedObject", "eventTime", "series", "count", "binaryData", "stringData", "finalizers"),
    ]
)
_LEAVES = st.none() | st.booleans() | st.integers(-3, 70000) | st.floats(allow_nan=False, width=32)
_JSON = st.recursive(
    _LEAVES | st.sampled_from(["", "a", "Always", "In", "object", "v1", "TCP", "10.0.0.1", "AAAA", "-x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)
_KINDS = [
    *("Pod", "Namespace", "ConfigMap", "Secret", "Service", "Node", "Lease", "Deployment", "Event"),
    *("ServiceAccount", "Endpoints", "CustomResourceDefinition", "Widget"),
]


@given(st.sampled_from(_KINDS), st.dictionaries(_KEYS, _JSON, max_size=5), st.booleans())
def test_any_json_gives_causes_or_a_bad_request(kind: str, body: dict[str, Any], update: bool) -> None:
    obj = {"apiVersion": "v1", "kind": kind, **body}
    try:
        causes = validate_builtin(kind, obj, old=copy.deepcopy(obj) if update else None)
    except ApiError as e:
        assert e.code == 400
    else:
        assert all(isinstance(f, str) and r.startswith("FieldValue") and m for f, r, m in causes)


def test_crd_without_versions() -> None:
    obj = crd(versions=[])
    assert validate_crd(obj) == [
        (
            "spec.versions",
            "FieldValueInvalid",
            "Invalid value: []: must have exactly one version marked as storage version",
        )
    ]


@given(
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 60),
    st.integers(0, 60),
    st.sampled_from([".", ","]),
    st.sampled_from(["Z", "+02:00", "z", "Zx", ""]),
)
def test_micro_time_fast_path_agrees_with_the_full_parse(
    year: int, month: int, day: int, hour: int, minute: int, second: int, dot: str, zone: str
) -> None:
    import re

    from kedge.apiserver import validation

    value = "%04d-%02d-%02dT%02d:%02d:%02d%s123456%s" % (year, month, day, hour, minute, second, dot, zone)
    fast = micro_time_error(value)
    saved = validation._MICRO_TIME_FAST
    validation._MICRO_TIME_FAST = re.compile(r"(?!)")  # never matches: the full parse only
    try:
        assert fast == micro_time_error(value)
    finally:
        validation._MICRO_TIME_FAST = saved
