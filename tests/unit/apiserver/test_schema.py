"""Custom resource schemas: validation messages, pruning and defaulting as kube-apiserver does them."""

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver.schema import apply_defaults, prune, validate_against

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8, "minLength": 2},
                "replicas": {"type": "integer", "minimum": 0, "maximum": 10},
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "multipleOf": 0.5},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
                "level": {"type": "integer", "enum": [1, 2]},
                "port": {"x-kubernetes-int-or-string": True},
                "when": {"type": "string", "format": "date-time"},
                "enabled": {"type": "boolean"},
                "note": {"type": "string", "nullable": True},
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 2,
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                },
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 3},
                    "maxProperties": 2,
                    "minProperties": 1,
                },
                "closed": {"type": "object", "additionalProperties": False},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "small": {"type": "integer", "format": "int32"},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "integer"}}},
    },
}


def cr(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "Device",
        "metadata": {"name": "d"},
        "spec": spec,
    }


def test_valid_object() -> None:
    spec = {
        "name": "sensor",
        "replicas": 3,
        "ratio": 1.5,
        "mode": "safe",
        "level": 2,
        "port": "http",
        "when": "2026-01-02T03:04:05Z",
        "enabled": True,
        "note": None,
        "items": [{"name": "a"}],
        "tags": ["x", "y"],
        "labels": {"a": "b"},
        "closed": {},
        "free": {"anything": [1, {"goes": True}]},
        "small": 7,
    }
    assert validate_against(cr(spec), SCHEMA) == []
    assert validate_against(cr({"name": "ok", "port": 8080, "replicas": 3.0}), SCHEMA) == []


@pytest.mark.parametrize(
    ("spec", "causes"),
    [
        (
            {"name": "ok", "replicas": "string"},
            [
                (
                    "spec.replicas",
                    "FieldValueTypeInvalid",
                    'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
                )
            ],
        ),
        (
            {"name": "ok", "replicas": 1.5},
            [
                (
                    "spec.replicas",
                    "FieldValueTypeInvalid",
                    'Invalid value: "number": spec.replicas in body must be of type integer: "number"',
                ),
                (
                    "<nil>",
                    "FieldValueInvalid",
                    'Invalid value: "": Checked value must be of type integer (default format) in '
                    "spec.replicas",
                ),
            ],
        ),
        (
            {"name": "ok", "replicas": 11},
            [
                (
                    "spec.replicas",
                    "FieldValueInvalid",
                    "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                )
            ],
        ),
        (
            {"name": "ok", "replicas": -1},
            [
                (
                    "spec.replicas",
                    "FieldValueInvalid",
                    "Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
                )
            ],
        ),
        (
            {"name": "ok", "ratio": 0.0},
            [
                (
                    "spec.ratio",
                    "FieldValueInvalid",
                    "Invalid value: 0: spec.ratio in body should be greater than 0",
                )
            ],
        ),
        (
            # kube-openapi checks an integer against int64(multipleOf), 0 here: a quirk kept for fidelity
            {"name": "ok", "ratio": 2},
            [
                (
                    "spec.ratio",
                    "FieldValueInvalid",
                    "Invalid value: 0: factor MultipleOf declared for spec.ratio must be positive: 0",
                )
            ],
        ),
        (
            {"name": "ok", "ratio": 0.7},
            [
                (
                    "spec.ratio",
                    "FieldValueInvalid",
                    "Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5",
                )
            ],
        ),
        (
            {"name": "ok", "mode": "x"},
            [
                (
                    "spec.mode",
                    "FieldValueNotSupported",
                    'Unsupported value: "x": supported values: "fast", "safe"',
                )
            ],
        ),
        (
            {"name": "ok", "level": 3},
            [("spec.level", "FieldValueNotSupported", 'Unsupported value: 3: supported values: "1", "2"')],
        ),
        (
            {"name": "ok", "port": True},
            [
                (
                    "spec.port",
                    "FieldValueTypeInvalid",
                    'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
                )
            ],
        ),
        (
            {"name": "ok", "when": "yesterday"},
            [
                (
                    "spec.when",
                    "FieldValueTypeInvalid",
                    'Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
                )
            ],
        ),
        (
            {"name": "ABC"},
            [
                (
                    "spec.name",
                    "FieldValueInvalid",
                    "Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'",
                )
            ],
        ),
        (
            {"name": "abcdefghij"},
            [("spec.name", "FieldValueTooLong", "Too long: may not be more than 8 bytes")],
        ),
        (
            {"name": "a"},
            [
                (
                    "spec.name",
                    "FieldValueInvalid",
                    'Invalid value: "a": spec.name in body should be at least 2 chars long',
                )
            ],
        ),
        ({}, [("spec.name", "FieldValueRequired", "Required value")]),
        (
            {"name": "ok", "enabled": None},
            [
                (
                    "spec.enabled",
                    "FieldValueTypeInvalid",
                    'Invalid value: "null": spec.enabled in body must be of type boolean: "null"',
                )
            ],
        ),
        (
            {"name": "ok", "items": [{"name": 1}, {}, {"name": "c"}]},
            [
                (
                    "spec.items[0].name",
                    "FieldValueTypeInvalid",
                    'Invalid value: "integer": spec.items[0].name in body must be of type string: "integer"',
                ),
                ("spec.items[1].name", "FieldValueRequired", "Required value"),
                ("spec.items", "FieldValueTooMany", "Too many: 3: must have at most 2 items"),
            ],
        ),
        (
            {"name": "ok", "items": []},
            [
                (
                    "spec.items",
                    "FieldValueInvalid",
                    "Invalid value: 0: spec.items in body should have at least 1 items",
                )
            ],
        ),
        (
            {"name": "ok", "tags": ["a", "b", "a"]},
            [
                (
                    "spec.tags",
                    "FieldValueInvalid",
                    'Invalid value: "": spec.tags in body shouldn\'t contain duplicates',
                )
            ],
        ),
        (
            {"name": "ok", "labels": {"a": "long!", "b": "", "c": ""}},
            [
                ("spec.labels", "FieldValueTooMany", "Too many: 3: must have at most 2 items"),
                ("spec.labels.a", "FieldValueTooLong", "Too long: may not be more than 3 bytes"),
            ],
        ),
        (
            {"name": "ok", "labels": {}},
            [
                (
                    "spec.labels",
                    "FieldValueInvalid",
                    "Invalid value: 0: spec.labels in body should have at least 1 properties",
                )
            ],
        ),
        (
            {"name": "ok", "closed": {"x": 1}},
            [
                (
                    "spec.closed",
                    "FieldValueInvalid",
                    'Invalid value: "x": spec.closed.x in body is a forbidden property',
                )
            ],
        ),
        (
            {"name": "ok", "small": 2**31},
            [
                (
                    "<nil>",
                    "FieldValueInvalid",
                    'Invalid value: "": Checked value must be of type integer with format int32 in '
                    "spec.small",
                )
            ],
        ),
    ],
)
def test_invalid_values(spec: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    assert validate_against(cr(spec), SCHEMA) == causes


def test_paths_and_wrong_root_types() -> None:
    status_schema = SCHEMA["properties"]["status"]
    assert validate_against({"ready": "yes"}, status_schema, path="status") == [
        (
            "status.ready",
            "FieldValueTypeInvalid",
            'Invalid value: "string": ready in body must be of type integer: "string"',
        )
    ]
    assert validate_against(cr({"name": "ok"}) | {"spec": "nope"}, SCHEMA) == [
        (
            "spec",
            "FieldValueTypeInvalid",
            'Invalid value: "string": spec in body must be of type object: "string"',
        )
    ]
    # errors about the whole object name the nil path, as kube-apiserver prints it
    assert validate_against({}, {"type": "object", "minProperties": 1}) == [
        ("<nil>", "FieldValueInvalid", "Invalid value: 0:  in body should have at least 1 properties")
    ]


def test_compositions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "anyOf": [{"pattern": "^x"}, {"pattern": "^y"}]},
            "b": {"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]},
            "c": {"type": "integer", "allOf": [{"minimum": 0}, {"maximum": 10}]},
            "d": {"type": "string", "not": {"pattern": "^z"}},
        },
    }
    assert validate_against({"a": "x1", "b": 20, "c": 5, "d": "a"}, schema) == []
    assert validate_against({"a": "q", "b": 5, "c": 20, "d": "zz"}, schema) == [
        ("<nil>", "FieldValueInvalid", 'Invalid value: "": "a" must validate at least one schema (anyOf)'),
        ("a", "FieldValueInvalid", "Invalid value: \"q\": a in body should match '^x'"),
        (
            "<nil>",
            "FieldValueInvalid",
            'Invalid value: "": "b" must validate one and only one schema (oneOf). Found 2 valid '
            "alternatives",
        ),
        ("c", "FieldValueInvalid", "Invalid value: 20: c in body should be less than or equal to 10"),
        ("<nil>", "FieldValueInvalid", 'Invalid value: "": "c" must validate all the schemas (allOf)'),
        ("<nil>", "FieldValueInvalid", 'Invalid value: "": "d" must not validate the schema (not)'),
    ]


def test_formats() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "uuid"},
            "ip": {"type": "string", "format": "ipv4"},
            "data": {"type": "string", "format": "byte"},
            "name": {"type": "string", "format": "k8s-short-name"},
            "odd": {"type": "string", "format": "no-such-format"},
        },
    }
    good = {
        "when": "2026-01-02t03:04:05.5+01:00",
        "day": "2024-02-29",
        "id": "0E84B5C2-8C4E-4E8F-9B5A-1C2D3E4F5A6B",
        "ip": "10.0.0.1",
        "data": "aGVsbG8=",
        "name": "edge-1",
        "odd": "anything",
    }
    assert validate_against(good, schema) == []
    bad = {
        "when": "2026-01-02T25:00:00Z",
        "day": "2023-02-29",
        "id": "x",
        "ip": "::1",
        "data": "abc",
        "name": "Edge",
    }
    assert [c[2] for c in validate_against(bad, schema)] == [
        'Invalid value: "2026-01-02T25:00:00Z": when in body must be of type date-time: '
        '"2026-01-02T25:00:00Z"',
        'Invalid value: "2023-02-29": day in body must be of type date: "2023-02-29"',
        'Invalid value: "x": id in body must be of type uuid: "x"',
        'Invalid value: "::1": ip in body must be of type ipv4: "::1"',
        'Invalid value: "abc": data in body must be of type byte: "abc"',
        'Invalid value: "Edge": name in body must be of type k8s-short-name: "Edge"',
    ]


def test_embedded_resources() -> None:
    schema = {
        "type": "object",
        "properties": {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        },
    }
    assert (
        validate_against({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}}, schema)
        == []
    )
    assert validate_against(
        {"template": {"apiVersion": "a/b/c", "metadata": {"labels": {"-x": "y"}}}}, schema
    ) == [
        ("template.kind", "FieldValueRequired", "Required value"),
        (
            "template.apiVersion",
            "FieldValueInvalid",
            'Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
        ),
        (
            "template.metadata.labels",
            "FieldValueInvalid",
            "Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and "
            "must "
            "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
            "regex used "
            "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
    ]


# -- pruning -------------------------------------------------------------------------------------------


def test_prune() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["spec"]["properties"]["template"] = {
        "type": "object",
        "x-kubernetes-embedded-resource": True,
        "properties": {"spec": {"type": "object", "properties": {"image": {"type": "string"}}}},
    }
    obj = cr(
        {
            "name": "ok",
            "unknown": 1,
            "items": [{"name": "a", "extra": True}],
            "labels": {"free": "form"},
            "free": {"kept": {"deep": 1}},
            "template": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "m"},
                "spec": {"image": "x", "drop": 1},
                "other": 2,
            },
        }
    )
    obj["metadata"]["anything"] = "metadata is the server's business"
    obj["topLevel"] = True
    assert prune(obj, schema) == [
        "spec.items[0].extra",
        "spec.template.other",
        "spec.template.spec.drop",
        "spec.unknown",
        "topLevel",
    ]
    assert obj == cr(
        {
            "name": "ok",
            "items": [{"name": "a"}],
            "labels": {"free": "form"},
            "free": {"kept": {"deep": 1}},
            "template": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "m"},
                "spec": {"image": "x"},
            },
        }
    ) | {"metadata": {"name": "d", "anything": "metadata is the server's business"}}
    assert prune(obj, schema) == []


def test_prune_inside_preserved_fields_and_bool_additional_properties() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "known": {"type": "object", "properties": {"a": {"type": "string"}}},
            "any": {"type": "object", "additionalProperties": True},
        },
    }
    obj = {"kind": "X", "extra": 1, "known": {"a": "x", "b": "y"}, "any": {"k": {"nested": 1}, "s": "v"}}
    # additionalProperties: true has no schema, so nested objects lose their members, as in kube-apiserver
    assert prune(obj, schema) == ["any.k.nested", "known.b"]
    assert obj == {"kind": "X", "extra": 1, "known": {"a": "x"}, "any": {"k": {}, "s": "v"}}


# -- defaulting --------------------------------------------------------------------------------------------

DEFAULTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "default": {},
            "properties": {
                "protocol": {"type": "string", "default": "modbus"},
                "interval": {"type": "integer", "default": 30},
                "note": {"type": "string", "nullable": True, "default": "n"},
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "default": {"port": 80},
                        "properties": {
                            "port": {"type": "integer"},
                            "proto": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "limits": {"type": "object", "additionalProperties": {"type": "integer", "default": 1}},
            },
        }
    },
}


def test_apply_defaults() -> None:
    obj: dict[str, Any] = {"apiVersion": "x/v1", "kind": "X"}
    apply_defaults(obj, DEFAULTED)
    assert obj["spec"] == {"protocol": "modbus", "interval": 30, "note": "n"}
    obj = {
        "spec": {
            "protocol": None,
            "note": None,
            "ports": [None, {"port": 81}],
            "limits": {"cpu": None, "mem": 4},
        }
    }
    apply_defaults(obj, DEFAULTED)
    assert obj["spec"] == {
        "protocol": "modbus",  # null is replaced where the schema does not allow it
        "note": None,  # and kept where it does
        "interval": 30,
        "ports": [{"port": 80, "proto": "TCP"}, {"port": 81, "proto": "TCP"}],
        "limits": {"cpu": 1, "mem": 4},
    }
    # defaults are copies, not shared
    first: dict[str, Any] = {}
    second: dict[str, Any] = {}
    apply_defaults(first, DEFAULTED)
    apply_defaults(second, DEFAULTED)
    first["spec"]["protocol"] = "changed"
    assert second["spec"]["protocol"] == "modbus"


# -- properties ----------------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["spec", "name", "items", "x", "labels", "free"]), inner, max_size=3
        )
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(["spec", "status", "kind", "other"]), JSON, max_size=3))
def test_prune_is_idempotent_and_leaves_only_known_members(obj: dict[str, Any]) -> None:
    first = copy.deepcopy(obj)
    prune(first, SCHEMA)
    once = copy.deepcopy(first)
    assert prune(first, SCHEMA) == []
    assert first == once
    assert set(first) <= {"spec", "status", "kind"}


@given(st.dictionaries(st.sampled_from(["spec", "other"]), JSON, max_size=2))
def test_defaulting_is_idempotent(obj: dict[str, Any]) -> None:
    apply_defaults(obj, DEFAULTED)
    once = copy.deepcopy(obj)
    apply_defaults(obj, DEFAULTED)
    assert obj == once
