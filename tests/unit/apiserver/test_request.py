import pytest

from kedge.apiserver.builtin import new_registry
from kedge.apiserver.errors import ApiError
from kedge.apiserver.request import GroupVersion, Target, decode_body, decode_object, negotiate, resolve
from kedge.apiserver.server import crd_manifests

REG = new_registry()
for _crd in crd_manifests():
    REG.add_crd(_crd)


def _info(group: str, version: str, plural: str):
    info = REG.get(group, version, plural)
    assert info is not None
    return info


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1", GroupVersion("", "v1")),
        ("/apis/apps/v1", GroupVersion("apps", "v1")),
        ("/api/v1/pods", Target(_info("", "v1", "pods"))),
        ("/api/v1/namespaces/default/pods", Target(_info("", "v1", "pods"), "default")),
        ("/api/v1/namespaces/default/pods/web", Target(_info("", "v1", "pods"), "default", "web")),
        (
            "/api/v1/namespaces/default/pods/web/status",
            Target(_info("", "v1", "pods"), "default", "web", "status"),
        ),
        (
            "/api/v1/namespaces/default/pods/web/binding",
            Target(_info("", "v1", "pods"), "default", "web", "binding"),
        ),
        # a namespace is itself an object of the namespaces resource
        ("/api/v1/namespaces", Target(_info("", "v1", "namespaces"))),
        ("/api/v1/namespaces/kube-system", Target(_info("", "v1", "namespaces"), "", "kube-system")),
        (
            "/api/v1/namespaces/kube-system/status",
            Target(_info("", "v1", "namespaces"), "", "kube-system", "status"),
        ),
        ("/api/v1/nodes/edge-1/status", Target(_info("", "v1", "nodes"), "", "edge-1", "status")),
        (
            "/apis/apps/v1/namespaces/x/deployments/d/scale",
            Target(_info("apps", "v1", "deployments"), "x", "d", "scale"),
        ),
        (
            "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/d1",
            Target(_info("devices.kubeedge.io", "v1beta1", "devices"), "default", "d1"),
        ),
    ],
)
def test_resolve(path: str, expected) -> None:
    assert resolve(REG, path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/api",
        "/api/v2/pods",
        "/api/v1/widgets",
        "/api/v1/namespaces/default/pods/web/logs",  # not a subresource kedge serves
        "/api/v1/nodes/a/b/c",
        "/api/v1/namespaces/default/pods/a/status/extra",
        "/api/v1/pods//x",
        "/apis/apps",
    ],
)
def test_resolve_unknown_paths_are_404(path: str) -> None:
    with pytest.raises(ApiError) as ei:
        resolve(REG, path)
    assert ei.value.code == 404


def test_negotiate() -> None:
    kubectl = (
        "application/json;as=Table;v=v1;g=meta.k8s.io,"
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    )
    a = negotiate(kubectl)
    assert (a.as_, a.version) == ("Table", "v1")
    assert negotiate(None).as_ == "" and negotiate("*/*").as_ == ""
    assert negotiate("application/vnd.kubernetes.protobuf,application/json").as_ == ""
    assert negotiate("application/yaml").yaml
    assert (
        negotiate("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io").as_
        == "PartialObjectMetadataList"
    )
    # an unknown `as` falls through to the next acceptable type
    assert negotiate("application/json;as=Widget;g=example.com,application/json").as_ == ""
    with pytest.raises(ApiError) as ei:
        negotiate("application/vnd.kubernetes.protobuf")
    assert ei.value.code == 406


def test_decode_bodies() -> None:
    assert decode_object(b'{"a":1}', "application/json") == {"a": 1}
    assert decode_object(b"a: 1\n", "application/yaml") == {"a": 1}
    assert decode_body(b"[1]", "application/json-patch+json") == [1]
    for body, ctype, code, needle in [
        (b"{x", "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "empty"),
        (b"a: [", "application/yaml", 400, "not valid YAML"),
        (b"[1]", "application/json", 400, "must be a JSON object (a Kubernetes object), got an array"),
        (b'"s"', None, 400, "got a string"),
        (b"x", "text/plain", 415, "unknown format"),
    ]:
        with pytest.raises(ApiError) as ei:
            decode_object(body, ctype)
        assert ei.value.code == code and needle in ei.value.message
