"""Label and field selectors: apimachinery's grammar, matching and error messages."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver.errors import ApiError
from kedge.apiserver.selectors import (
    DOES_NOT_EXIST,
    DOUBLE_EQUALS,
    EQUALS,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_EQUALS,
    NOT_IN,
    FieldSelector,
    InvalidSelector,
    LabelSelector,
    Requirement,
    new_requirement,
    object_fields,
    parse_field_selector,
    parse_label_selector,
    selector_from_object,
    supported_fields,
)
from kedge.apiserver.validation import label_selector_matches

KEY_ERROR = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_ERROR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def bad_request(text: str) -> str:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(text)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value.message


# -- label selector parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("", []),
        ("   ", []),
        ("a=b", [("a", EQUALS, ("b",))]),
        ("a==b", [("a", DOUBLE_EQUALS, ("b",))]),
        ("a!=b", [("a", NOT_EQUALS, ("b",))]),
        ("a=", [("a", EQUALS, ("",))]),
        ("a in (x,y)", [("a", IN, ("x", "y"))]),
        ("a in (y,x,y)", [("a", IN, ("x", "y"))]),
        ("a notin (x)", [("a", NOT_IN, ("x",))]),
        ("a in ()", [("a", IN, ("",))]),
        ("a in (,x)", [("a", IN, ("", "x"))]),
        ("a in (x,)", [("a", IN, ("", "x"))]),
        ("a in (x,,y)", [("a", IN, ("", "x", "y"))]),
        ("a", [("a", EXISTS, ())]),
        ("!a", [("a", DOES_NOT_EXIST, ())]),
        ("a>1", [("a", GREATER_THAN, ("1",))]),
        ("a<10", [("a", LESS_THAN, ("10",))]),
        ("example.com/app=web", [("example.com/app", EQUALS, ("web",))]),
        ("in in (in,notin)", [("in", IN, ("in", "notin"))]),
        ("a=notin", [("a", EQUALS, ("notin",))]),
        ("\ta = b ,\n c", [("a", EQUALS, ("b",)), ("c", EXISTS, ())]),
        ("z,a=1,m!=2", [("a", EQUALS, ("1",)), ("m", NOT_EQUALS, ("2",)), ("z", EXISTS, ())]),
        ("a=b\0c=d", [("a", EQUALS, ("b",))]),  # Go's lexer stops at a NUL byte
    ],
)
def test_parse_grammar(text: str, requirements: list[tuple[str, str, tuple[str, ...]]]) -> None:
    selector = parse_label_selector(text)
    assert [(r.key, r.operator, r.values) for r in selector.requirements] == requirements


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("b=1, a==2", "a==2,b=1"),
        ("!a,b>3,c<4", "!a,b>3,c<4"),
        ("a in (x)", "a in (x)"),
        ("a", "a"),
    ],
)
def test_string_form(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a!", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a,,b", "found ',', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("a<>1", "unable to parse requirement: found '>', expected: identifier"),
        (
            "a>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the "
            "value must be an integer",
        ),
        (
            "a>",
            "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the "
            "value must be an integer",
        ),
        ("-foo", 'unable to parse requirement: <nil>: Invalid value: "-foo": ' + KEY_ERROR),
        ("a=-x", 'unable to parse requirement: values[0][a]: Invalid value: "-x": ' + VALUE_ERROR),
        (
            "a>-1",
            'unable to parse requirement: values[0][a]: Invalid value: "-1": ' + VALUE_ERROR,
        ),
        (
            "a in (-x,y_)",
            'unable to parse requirement: [values[0][a]: Invalid value: "-x": '
            + VALUE_ERROR
            + ', values[1][a]: Invalid value: "y_": '
            + VALUE_ERROR
            + "]",
        ),
        (
            "a/b/c=d",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label key must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')",
        ),
        (
            "x" * 64,
            'unable to parse requirement: <nil>: Invalid value: "%s": name part must be no more than 63 bytes'
            % ("x" * 64),
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    assert bad_request(text) == message


# -- label selector matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {}, True),
        ("", None, True),
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (x,y)", {"a": "y"}, True),
        ("a in (x,y)", {"a": "z"}, False),
        ("a notin (x)", {}, True),
        ("a notin (x)", {"a": "x"}, False),
        ("a", {"a": ""}, True),
        ("a", {"b": "1"}, False),
        ("!a", {"b": "1"}, True),
        ("!a", {"a": "1"}, False),
        ("a>1", {"a": "2"}, True),
        ("a>1", {"a": "1"}, False),
        ("a>1", {"a": "x"}, False),
        ("a>1", {}, False),
        ("a<1", {"a": "-5"}, True),
        ("a<1", {"a": "1_0"}, False),
        ("a=b,c", {"a": "b", "c": "x"}, True),
        ("a=b,c", {"a": "b"}, False),
        ("a=", {"a": ""}, True),
    ],
)
def test_matches(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_everything_nothing_and_exact_values() -> None:
    assert LabelSelector.everything().empty
    assert LabelSelector.everything().matches({"x": "y"})
    nothing = LabelSelector.nothing()
    assert not nothing.empty and nothing.matches_nothing and not nothing.matches({})
    assert str(nothing) == ""
    selector = parse_label_selector("a=1,b in (2),c in (3,4),d!=5")
    assert [selector.exact_value(k) for k in "abcde"] == ["1", "2", None, None, None]
    assert not selector.empty


def test_new_requirement() -> None:
    assert new_requirement("a", IN, ["x"]) == Requirement("a", IN, ("x",))
    with pytest.raises(
        ValueError,
        match=r"^values: Invalid value: \[\]: for 'in', 'notin' operators, values set can't be empty$",
    ):
        new_requirement("a", IN, [])
    with pytest.raises(
        ValueError, match=r"^values: Invalid value: \[\"x\"\]: values set must be empty for exists"
    ):
        new_requirement("a", EXISTS, ["x"])
    with pytest.raises(
        ValueError, match=r"^operator: Unsupported value: \"~\": supported values: \"in\", \"notin\", "
    ):
        new_requirement("a", "~", ["x"])
    with pytest.raises(
        ValueError,
        match=r"^\[key: Invalid value: \"-a\": name part .*, values: Invalid value: \[\"x\",\"y\"\]: "
        r"exact-match",
    ):
        new_requirement("-a", EQUALS, ["x", "y"])


# -- selectors from metav1.LabelSelector objects -----------------------------------------------------


def test_selector_from_object() -> None:
    assert selector_from_object(None).matches_nothing
    assert selector_from_object({}).empty
    selector = selector_from_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "zone", "operator": "Exists"},
            ],
        }
    )
    assert str(selector) == "app=web,!canary,env notin (dev),tier in (a,b),zone"
    assert selector.matches({"app": "web", "tier": "b", "zone": "z1"})
    assert not selector.matches({"app": "web", "tier": "b", "zone": "z1", "canary": "1"})


def test_selector_from_object_errors() -> None:
    with pytest.raises(InvalidSelector) as caught:
        selector_from_object(
            {
                "matchLabels": {"-bad": "ok"},
                "matchExpressions": [
                    {"key": "a", "operator": "In"},
                    {"key": "b", "operator": "Exists", "values": ["x"]},
                    {"key": "c", "operator": "Gt", "values": ["1"]},
                ],
            },
            path="spec.selector",
        )
    assert caught.value.causes == [
        ("spec.selector.matchLabels", "FieldValueInvalid", 'Invalid value: "-bad": ' + KEY_ERROR),
        (
            "spec.selector.matchExpressions[0].values",
            "FieldValueRequired",
            "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            "spec.selector.matchExpressions[1].values",
            "FieldValueForbidden",
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        ),
        (
            "spec.selector.matchExpressions[2].operator",
            "FieldValueInvalid",
            'Invalid value: "Gt": not a valid selector operator',
        ),
    ]


# -- field selectors -----------------------------------------------------------------------------------

POD_FIELDS = supported_fields("Pod")


def test_field_selector_parsing() -> None:
    selector = parse_field_selector(
        "status.phase!=Failed,spec.nodeName==edge-1,metadata.name=a\\,b", supported=POD_FIELDS, kind="Pod"
    )
    assert selector.requirements == (
        ("metadata.name", "=", "a,b"),
        ("spec.nodeName", "=", "edge-1"),
        ("status.phase", "!=", "Failed"),
    )
    assert str(selector) == "metadata.name=a\\,b,spec.nodeName=edge-1,status.phase!=Failed"
    assert selector.exact_value("spec.nodeName") == "edge-1"
    assert selector.exact_value("status.phase") is None
    assert parse_field_selector("", supported=POD_FIELDS).empty
    assert parse_field_selector("spec.nodeName=", supported=POD_FIELDS).exact_value("spec.nodeName") == ""
    # old v1 clients' alias
    assert parse_field_selector("spec.host=n", supported=POD_FIELDS, kind="Pod").requirements == (
        ("spec.nodeName", "=", "n"),
    )


def test_field_selector_matching() -> None:
    selector = parse_field_selector("spec.nodeName=,status.phase!=Running", supported=POD_FIELDS)
    assert selector.matches({"status.phase": "Pending"})
    assert not selector.matches({"spec.nodeName": "n1", "status.phase": "Pending"})
    assert not selector.matches({"status.phase": "Running"})
    assert FieldSelector().matches({})


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("spec.foo=bar", "Pod", "field label not supported: spec.foo"),
        ("metadata.namespace=x", "Node", "field label not supported: metadata.namespace"),
        ("spec.foo=bar", None, "field label not supported: spec.foo"),
        (
            "data.x=1",
            "ConfigMap",
            '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        ("abc", "Pod", "invalid selector: 'abc'; can't understand 'abc'"),
        ("a=b,zzz", "Pod", "invalid selector: 'a=b,zzz'; can't understand 'zzz'"),
        ("metadata.name=a\\b", "Pod", "invalid field selector: invalid escape sequence: \\b"),
        ("metadata.name=a\\", "Pod", "invalid field selector: invalid escape sequence: \\"),
        ("metadata.name=a=b", "Pod", "invalid field selector: unescaped character in value: 61"),
    ],
)
def test_field_selector_errors(text: str, kind: str | None, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_field_selector(text, supported=supported_fields(kind or ""), kind=kind)
    assert (caught.value.code, caught.value.message) == (400, message)


def test_supported_fields() -> None:
    assert supported_fields("Pod") >= {"spec.nodeName", "status.phase", "metadata.namespace", "status.podIPs"}
    assert supported_fields("Node") == frozenset({"metadata.name", "spec.unschedulable"})
    assert supported_fields("Namespace") == frozenset({"metadata.name", "status.phase"})
    assert supported_fields("Secret") == frozenset({"metadata.name", "metadata.namespace", "type"})
    assert supported_fields("Device") == frozenset({"metadata.name", "metadata.namespace"})
    assert "involvedObject.uid" in supported_fields("Event")


def test_object_fields() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"nodeName": "edge-1", "hostNetwork": True, "serviceAccountName": "sa"},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}], "podIP": "10.0.0.5"},
    }
    assert object_fields("Pod", pod) == {
        "metadata.name": "p",
        "metadata.namespace": "ns",
        "spec.nodeName": "edge-1",
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "sa",
        "spec.hostNetwork": "true",
        "status.phase": "Running",
        "status.podIP": "10.0.0.5",
        "status.nominatedNodeName": "",
    }
    assert object_fields("Node", {"metadata": {"name": "n"}, "spec": {"unschedulable": True}}) == {
        "metadata.name": "n",
        "metadata.namespace": "",
        "spec.unschedulable": "true",
    }
    assert object_fields("Secret", {"metadata": {"name": "s"}})["type"] == "Opaque"
    event = {
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p", "uid": "u1"},
        "reason": "Started",
        "type": "Normal",
        "reportingComponent": "kubelet",
    }
    fields = object_fields("Event", event)
    assert (fields["involvedObject.kind"], fields["involvedObject.uid"], fields["source"]) == (
        "Pod",
        "u1",
        "kubelet",
    )
    assert fields["involvedObject.fieldPath"] == ""
    assert object_fields("Device", {"metadata": {"name": "d"}}) == {
        "metadata.name": "d",
        "metadata.namespace": "",
    }
    # end to end: what a `kubectl get pods --field-selector spec.nodeName=edge-1` filter does
    selector = parse_field_selector(
        "spec.nodeName=edge-1,spec.hostNetwork=true", supported=POD_FIELDS, kind="Pod"
    )
    assert selector.matches(object_fields("Pod", pod))


# -- properties -----------------------------------------------------------------------------------------

_NAME = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?", fullmatch=True)
_PREFIX = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?(\.[a-z0-9]{1,5}){0,2}", fullmatch=True)
KEYS = st.one_of(_NAME, st.builds(lambda p, n: p + "/" + n, _PREFIX, _NAME))
VALUES = st.one_of(st.just(""), _NAME)
NUMBERS = st.integers(min_value=0, max_value=10**12).map(str)


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    operator = draw(
        st.sampled_from(
            [IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN]
        )
    )
    key = draw(KEYS)
    if operator in (IN, NOT_IN):
        values = tuple(sorted(set(draw(st.lists(VALUES, min_size=1, max_size=4)))))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        values = ()
    elif operator in (GREATER_THAN, LESS_THAN):
        values = (draw(NUMBERS),)
    else:
        values = (draw(VALUES),)
    return new_requirement(key, operator, values)


@given(st.lists(requirements(), max_size=5))
def test_string_form_round_trips(reqs: list[Requirement]) -> None:
    selector = LabelSelector(reqs)
    parsed = parse_label_selector(str(selector))
    assert parsed == selector
    assert str(parsed) == str(selector)


@given(
    st.dictionaries(KEYS, VALUES, max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {"key": KEYS, "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])},
            optional={"values": st.lists(VALUES, min_size=1, max_size=3)},
        ),
        max_size=3,
    ),
    st.dictionaries(KEYS, VALUES, max_size=4),
)
def test_object_selectors_agree_with_validation_matching(
    match_labels: dict[str, str], expressions: list[dict[str, object]], labels: dict[str, str]
) -> None:
    for expr in expressions:  # keep only well-formed expressions
        if expr["operator"] in ("In", "NotIn"):
            expr.setdefault("values", ["x"])
        else:
            expr.pop("values", None)
    selector = {"matchLabels": match_labels, "matchExpressions": expressions}
    assert selector_from_object(selector).matches(labels) is label_selector_matches(selector, labels)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["metadata.name", "spec.nodeName"]), st.sampled_from(["=", "!="]), st.text()
        ),
        max_size=4,
    )
)
def test_field_selector_string_form_round_trips(terms: list[tuple[str, str, str]]) -> None:
    selector = FieldSelector(tuple(sorted(terms)))
    parsed = parse_field_selector(str(selector), supported=POD_FIELDS)
    assert sorted(parsed.requirements) == sorted(t for t in terms if t[0] or t[2])
