"""The kubectl JSONPath dialect used by CRD printer columns."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver.jsonpath import JsonPathError, compile_path, find, go_float, to_text

DEVICE = {
    "metadata": {"name": "thermo", "labels": {"app.kubernetes.io/name": "sensor", "tier": "edge"}},
    "spec": {"nodeName": "edge-1", "ports": [80, 443, 8080, 9090]},
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True", "count": 3},
            {"type": "Synced", "status": "False", "count": 7},
        ],
        "twins": [{"propertyName": "temp", "reported": {"value": "21"}}],
    },
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (".spec.nodeName", ["edge-1"]),
        ("{.spec.nodeName}", ["edge-1"]),
        ("$.spec.nodeName", ["edge-1"]),
        (".spec.missing", []),
        (".spec.nodeName.deeper", []),
        (".status.conditions[0].type", ["Ready"]),
        (".status.conditions[-1].type", ["Synced"]),
        (".status.conditions[5].type", []),
        (".status.conditions[*].type", ["Ready", "Synced"]),
        (".status.conditions.*.status", ["True", "False"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='Synced')].status", ["False"]),
        ('.status.conditions[?(@.type!="Ready")].type', ["Synced"]),
        (".status.conditions[?(@.count > 5)].type", ["Synced"]),
        (".status.conditions[?(@.count<=3)].type", ["Ready"]),
        (".status.conditions[?(@.count)].type", ["Ready", "Synced"]),
        (".status.conditions[?(@.missing)].type", []),
        (".spec.ports[1:3]", [443, 8080]),
        (".spec.ports[::2]", [80, 8080]),
        (".spec.ports[?(@ >= 8080)]", [8080, 9090]),
        (".metadata.labels.app\\.kubernetes\\.io/name", ["sensor"]),
        (".metadata.labels['app.kubernetes.io/name']", ["sensor"]),
        ('.metadata.labels["tier"]', ["edge"]),
        ("..propertyName", ["temp"]),
        (".status.twins[0].reported.value", ["21"]),
        (".", [DEVICE]),
    ],
)
def test_find(expression: str, expected: list[object]) -> None:
    assert find(expression, DEVICE) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty JSONPath expression"),
        (".status.conditions[", "unterminated '['"),
        (".spec.ports[x]", "invalid array index 'x'"),
        (".spec.ports[1:2:0]", "slice step cannot be zero"),
        (".spec.ports[?(type == 1)]", "a filter must start with @"),
        (".spec.ports[?(@.a == nope)]", "invalid filter operand 'nope'"),
        (".spec..", "expected a field name after '..'"),
        ("spec", "unexpected 's'"),
    ],
)
def test_invalid_expressions_name_the_problem(expression: str, message: str) -> None:
    with pytest.raises(
        JsonPathError, match=message.replace("[", r"\[").replace("(", r"\(").replace("?", r"\?")
    ):
        compile_path(expression)


def test_compiled_paths_are_cached() -> None:
    assert compile_path(".spec.nodeName") is compile_path(".spec.nodeName")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (1.5, "1.5"),
        (None, "<nil>"),
        ({"b": 1, "a": [1, "x"]}, '{"a":[1,"x"],"b":1}'),
        ([1, 2], "[1,2]"),
    ],
)
def test_to_text_prints_like_kubectl(value: object, text: str) -> None:
    assert to_text(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (100.0, "100"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (0.0, "0"),
        (1e21, "1e+21"),
        (float("inf"), "+Inf"),
    ],
)
def test_go_float_matches_fmt_sprint(value: float, text: str) -> None:
    assert go_float(value) == text


@given(st.integers())
def test_integers_print_in_decimal(n: int) -> None:
    assert to_text(n) == str(n)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_round_trips(value: float) -> None:
    assert float(go_float(value)) == value


@given(st.dictionaries(st.text(min_size=1, alphabet="abcxyz"), st.integers(), max_size=5))
def test_field_lookup_of_any_key(mapping: dict[str, int]) -> None:
    for key, value in mapping.items():
        assert find(".m.%s" % key, {"m": mapping}) == [value]
    assert json.loads(to_text(mapping)) == mapping
