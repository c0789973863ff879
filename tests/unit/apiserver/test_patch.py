"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the Content-Type dispatch of apiserver.patch."""

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver.errors import ApiError
from kedge.apiserver.patch import apply_patch, create_merge_patch, json_patch, merge_patch

REJECTED = "the server rejected our request due to an error in our request: "


def deployment() -> dict[str, Any]:
    """The Deployment of the Kubernetes docs page "Update API Objects in Place Using kubectl patch"."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "patch-demo"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
                    "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}],
                },
            },
        },
    }


# -- merge patch --------------------------------------------------------------------------------------

# RFC 7386 appendix A: (target, patch, result).
RFC7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC7386_EXAMPLES)
def test_merge_patch_rfc7386_examples(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


def test_merge_patch_replaces_lists_as_the_docs_show() -> None:
    # kubectl patch deployment patch-demo --type merge --patch-file patch-file-2.yaml
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "patch-demo-ctr-3", "image": "gcr.io/google-samples/hello-app:2.0"}
                    ]
                }
            }
        }
    }
    result = merge_patch(deployment(), patch)
    assert result["spec"]["template"]["spec"]["containers"] == [
        {"name": "patch-demo-ctr-3", "image": "gcr.io/google-samples/hello-app:2.0"}
    ]
    assert (
        result["spec"]["template"]["spec"]["tolerations"]
        == deployment()["spec"]["template"]["spec"]["tolerations"]
    )
    assert result["spec"]["replicas"] == 2


def test_merge_patch_leaves_inputs_alone_and_shares_nothing() -> None:
    target, patch = deployment(), {"spec": {"replicas": 3, "template": {"metadata": {"labels": None}}}}
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    result = merge_patch(target, patch)
    assert target == target_before and patch == patch_before
    result["spec"]["selector"]["matchLabels"]["app"] = "changed"
    result["spec"]["template"]["spec"]["containers"].append({"name": "x"})
    assert target == target_before


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=12,
)


def _no_null_members(value: Any) -> Any:
    """Merge patch cannot express an object member whose value is null."""
    if isinstance(value, dict):
        return {k: _no_null_members(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_null_members(v) for v in value]
    return value


@given(JSON, JSON.map(_no_null_members))
def test_created_merge_patch_turns_a_into_b(a: Any, b: Any) -> None:
    assert merge_patch(a, create_merge_patch(a, b)) == b


@given(JSON.map(_no_null_members))
def test_merge_patch_from_equal_objects_is_empty(a: Any) -> None:
    if isinstance(a, dict):
        assert create_merge_patch(a, copy.deepcopy(a)) == {}


def test_created_merge_patch_is_minimal() -> None:
    a = {"keep": 1, "drop": 2, "nested": {"same": True, "change": "x"}, "list": [1, 2]}
    b = {"keep": 1, "nested": {"same": True, "change": "y"}, "list": [1, 2, 3], "new": {"k": "v"}}
    assert create_merge_patch(a, b) == {
        "drop": None,
        "nested": {"change": "y"},
        "list": [1, 2, 3],
        "new": {"k": "v"},
    }


def test_created_merge_patch_tells_true_from_one() -> None:
    assert create_merge_patch({"a": 1}, {"a": True}) == {"a": True}
    assert create_merge_patch({"a": 1}, {"a": 1.0}) == {"a": 1.0}


# -- JSON patch ---------------------------------------------------------------------------------------

# RFC 6902 appendix A: (document, patch, result).
RFC6902_EXAMPLES = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    (
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
]


@pytest.mark.parametrize(("doc", "ops", "result"), RFC6902_EXAMPLES)
def test_json_patch_rfc6902_examples(doc: Any, ops: list[Any], result: Any) -> None:
    assert json_patch(doc, ops) == result


def test_json_patch_pointer_escapes() -> None:
    doc = {"metadata": {"annotations": {"example.com/a~b": "1"}}}
    result = json_patch(
        doc,
        [
            {"op": "replace", "path": "/metadata/annotations/example.com~1a~0b", "value": "2"},
            {"op": "add", "path": "/metadata/annotations/x~1y", "value": "3"},
        ],
    )
    assert result == {"metadata": {"annotations": {"example.com/a~b": "2", "x/y": "3"}}}


def test_json_patch_kubectl_example_replaces_an_image() -> None:
    # kubectl patch pod valid-pod --type=json -p='[{"op": "replace", "path": "/spec/containers/0/image", ...'
    pod = {"spec": {"containers": [{"name": "kubernetes-serve-hostname", "image": "old"}]}}
    result = json_patch(pod, [{"op": "replace", "path": "/spec/containers/0/image", "value": "new image"}])
    assert result == {"spec": {"containers": [{"name": "kubernetes-serve-hostname", "image": "new image"}]}}


def test_json_patch_copy_and_array_indices() -> None:
    doc = {"a": [1, 2, 3], "b": {}}
    result = json_patch(
        doc,
        [
            {"op": "copy", "from": "/a", "path": "/b/a"},
            {"op": "add", "path": "/a/0", "value": 0},
            {"op": "add", "path": "/a/4", "value": 4},
            {"op": "remove", "path": "/a/-1"},
            {"op": "replace", "path": "/a/-1", "value": 33},
            {"op": "add", "path": "/a/-1", "value": 99},
        ],
    )
    # Negative indices count from the end; for add, -1 is the position after the last element.
    assert result == {"a": [0, 1, 2, 33, 99], "b": {"a": [1, 2, 3]}}


def test_json_patch_does_not_touch_its_inputs_nor_share_with_them() -> None:
    value = {"name": "sidecar"}
    doc = deployment()
    ops = [{"op": "add", "path": "/spec/template/spec/containers/-", "value": value}]
    before = copy.deepcopy(doc)
    result = json_patch(doc, ops)
    assert doc == before
    assert result["spec"]["template"]["spec"]["containers"][-1] == {"name": "sidecar"}
    result["spec"]["template"]["spec"]["containers"][-1]["image"] = "x"
    result["spec"]["selector"]["matchLabels"]["app"] = "y"
    assert value == {"name": "sidecar"} and doc == before


def test_json_patch_operations_apply_in_order_to_the_result_so_far() -> None:
    doc = {"spec": {}}
    ops = [
        {"op": "add", "path": "/spec/list", "value": []},
        {"op": "add", "path": "/spec/list/-", "value": {"n": 1}},
        {"op": "add", "path": "/spec/list/0/m", "value": 2},
        {"op": "copy", "from": "/spec/list/0", "path": "/spec/copy"},
        {"op": "replace", "path": "/spec/copy/n", "value": 5},
    ]
    assert json_patch(doc, ops) == {"spec": {"list": [{"n": 1, "m": 2}], "copy": {"n": 5, "m": 2}}}


def test_json_patch_kube_quirks() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}}
    # replace of a missing object key adds it (kube-apiserver's json-patch library does not fail)
    assert json_patch(doc, [{"op": "replace", "path": "/metadata/labels/b", "value": "2"}]) == {
        "metadata": {"labels": {"a": "1", "b": "2"}}
    }
    # a test of a missing key passes with a null or absent value: clients test absence this way
    assert json_patch(doc, [{"op": "test", "path": "/metadata/labels/b", "value": None}]) == doc
    assert json_patch(doc, [{"op": "test", "path": "/metadata/labels/b"}]) == doc
    # copy from a missing object key copies null
    assert json_patch(doc, [{"op": "copy", "from": "/metadata/nope", "path": "/metadata/x"}]) == {
        "metadata": {"labels": {"a": "1"}, "x": None}
    }
    # replacing the whole document needs an object or an array
    assert json_patch(doc, [{"op": "replace", "path": "", "value": {"b": 1}}]) == {"b": 1}


def test_json_patch_test_compares_types_exactly() -> None:
    doc = {"n": 1, "b": True, "o": {"x": [1, {"y": None}]}}
    json_patch(doc, [{"op": "test", "path": "/o", "value": {"x": [1, {"y": None}]}}])
    json_patch(doc, [{"op": "test", "path": "", "value": doc}])
    for path, value in (("/n", True), ("/b", 1), ("/n", "1"), ("/o", {"x": [1]})):
        with pytest.raises(ApiError) as e:
            json_patch(doc, [{"op": "test", "path": path, "value": value}])
        assert e.value.message == REJECTED + "operation 0: testing value %s failed: test failed" % path


@pytest.mark.parametrize(
    ("ops", "detail"),
    [
        (
            [{"op": "test", "path": "/spec/replicas", "value": 3}],
            "operation 0: testing value /spec/replicas failed: test failed",
        ),
        (
            [{"op": "add", "path": "/spec/replicas", "value": 1}, {"op": "remove", "path": "/spec/paused"}],
            "operation 1: error in remove for path: '/spec/paused': "
            "Unable to remove nonexistent key: paused: missing value",
        ),
        (
            [{"op": "add", "path": "/spec/missing/x", "value": 1}],
            "operation 0: add operation does not apply: doc is missing path: "
            '"/spec/missing/x": missing value',
        ),
        (
            [{"op": "remove", "path": "/nope/x"}],
            'operation 0: remove operation does not apply: doc is missing path: "/nope/x": missing value',
        ),
        (
            [{"op": "replace", "path": "/spec/template/spec/containers/5", "value": {}}],
            "operation 0: replace operation does not apply: doc is missing key: "
            "/spec/template/spec/containers/5: missing value",
        ),
        (
            [{"op": "add", "path": "/spec/template/spec/containers/3", "value": {}}],
            "operation 0: error in add for path: '/spec/template/spec/containers/3': "
            "Unable to access invalid index: 3: invalid index referenced",
        ),
        (
            [{"op": "add", "path": "/spec/template/spec/containers/x", "value": {}}],
            "operation 0: error in add for path: '/spec/template/spec/containers/x': "
            "value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            [{"op": "move", "from": "/spec/nope", "path": "/spec/x"}],
            "operation 0: error in move for path: 'nope': "
            "Unable to remove nonexistent key: nope: missing value",
        ),
        (
            [{"op": "copy", "path": "/spec/x"}],
            "operation 0: copy operation failed to decode from: operation, missing from field: missing value",
        ),
        ([{"op": "add", "value": 1}], "operation 0: add operation failed to decode path: missing value"),
        (
            [{"op": "replace", "path": 5, "value": 1}],
            "operation 0: replace operation failed to decode path: "
            "json: cannot unmarshal number into Go value of type string",
        ),
        ([{"op": "frobnicate", "path": "/a"}], "operation 0: Unexpected kind: frobnicate"),
        ([{"path": "/a"}], "operation 0: Unexpected kind: unknown"),
        ([None], "operation 0: Unexpected kind: unknown"),
        (
            [{"op": "replace", "path": "", "value": 3}],
            "operation 0: replace operation value must be object or array",
        ),
        (
            [{"op": "add", "path": "", "value": {}}],
            'operation 0: add operation does not apply: doc is missing path: "": missing value',
        ),
        (
            [{"op": "add", "path": "/spec/replicas/x", "value": 1}],
            "operation 0: add operation does not apply: doc is missing path: "
            '"/spec/replicas/x": missing value',
        ),
    ],
)
def test_json_patch_failures_are_422_naming_the_operation(ops: list[Any], detail: str) -> None:
    with pytest.raises(ApiError) as e:
        json_patch(deployment(), ops)
    assert (e.value.code, e.value.reason, e.value.message) == (422, "Invalid", REJECTED + detail)


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("[]", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        ([["add"]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation"),
        ([1], "json: cannot unmarshal number into Go value of type jsonpatch.Operation"),
    ],
)
def test_json_patch_that_is_no_list_of_operations_is_400(ops: Any, message: str) -> None:
    with pytest.raises(ApiError) as e:
        json_patch({}, ops)
    assert (e.value.code, e.value.reason, e.value.message) == (400, "BadRequest", message)


def test_json_patch_operation_limit_is_413() -> None:
    ops = [{"op": "test", "path": "/a", "value": 1}] * 10001
    with pytest.raises(ApiError) as e:
        json_patch({"a": 1}, ops)
    assert (e.value.code, e.value.reason) == (413, "RequestEntityTooLarge")
    assert e.value.message == "The allowed maximum operations in a JSON patch is 10000, got 10001"
    assert json_patch({"a": 1}, ops[:10000]) == {"a": 1}


def test_json_patch_copy_size_limit() -> None:
    doc = {"big": "x" * (1024 * 1024)}
    ops = [{"op": "copy", "from": "/big", "path": "/c%d" % i} for i in range(3)]
    with pytest.raises(ApiError) as e:
        json_patch(doc, ops)
    assert e.value.code == 422
    assert e.value.message.endswith(
        "operation 2: Unable to complete the copy, the accumulated size increase of copy is 3145734, "
        "exceeding the limit 3145728"
    )


# -- dispatch -----------------------------------------------------------------------------------------


def test_apply_patch_dispatches_on_the_content_type() -> None:
    obj = deployment()
    assert (
        apply_patch(
            obj, "application/merge-patch+json", {"spec": {"replicas": 5}}, group="apps", kind="Deployment"
        )["spec"]["replicas"]
        == 5
    )
    assert (
        apply_patch(
            obj,
            "application/json-patch+json; charset=utf-8",
            [{"op": "replace", "path": "/spec/replicas", "value": 4}],
            group="apps",
            kind="Deployment",
        )["spec"]["replicas"]
        == 4
    )
    result = apply_patch(
        obj,
        "application/strategic-merge-patch+json",
        {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}},
        group="apps",
        kind="Deployment",
    )
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == [
        "patch-demo-ctr-2",
        "patch-demo-ctr",
    ]


def test_strategic_merge_patch_of_a_custom_resource_is_415() -> None:
    with pytest.raises(ApiError) as e:
        apply_patch(
            {"spec": {}},
            "application/strategic-merge-patch+json",
            {},
            group="devices.kubeedge.io",
            kind="Device",
        )
    assert (e.value.code, e.value.reason) == (415, "UnsupportedMediaType")
    assert e.value.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


def test_unknown_patch_type_is_415_listing_what_the_resource_accepts() -> None:
    with pytest.raises(ApiError) as e:
        apply_patch({}, "text/plain", {}, group="", kind="Pod")
    assert e.value.code == 415
    assert e.value.message.endswith(
        "application/json-patch+json, application/merge-patch+json, "
        "application/strategic-merge-patch+json, application/apply-patch+yaml"
    )


def test_apply_patch_refuses_server_side_apply() -> None:
    with pytest.raises(ValueError, match="server_side_apply"):
        apply_patch({}, "application/apply-patch+yaml", {}, group="", kind="Pod")


def test_null_merge_patch_is_400() -> None:
    with pytest.raises(ApiError) as e:
        apply_patch({"a": 1}, "application/merge-patch+json", None, group="", kind="ConfigMap")
    assert (e.value.code, e.value.message) == (400, "Invalid JSON Patch")


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        ("application/merge-patch+json", [1, 2]),
        ("application/json-patch+json", [{"op": "replace", "path": "", "value": [1]}]),
    ],
)
def test_a_patch_must_leave_an_object(content_type: str, patch: Any) -> None:
    with pytest.raises(ApiError) as e:
        apply_patch({"a": 1}, content_type, patch, group="", kind="ConfigMap")
    assert (e.value.code, e.value.reason) == (422, "Invalid")
    assert e.value.message == REJECTED + "the patched object is a JSON array, not an object"
