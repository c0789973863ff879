"""Static pods from the manifest directory, with the kubelet file source's identity rules."""

import json
import re

import pytest

from kedge.edge.edged.manifests import (
    CONFIG_HASH,
    CONFIG_MIRROR,
    CONFIG_SOURCE,
    MAX_MANIFEST_BYTES,
    load_static_pods,
    mirror_pod,
)

NGINX = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.25
"""


def write(d, name, text):
    path = d / name
    path.write_text(text)
    return str(path)


def test_a_yaml_pod_gets_the_static_identity(tmp_path):
    file = write(tmp_path, "nginx.yaml", NGINX)
    pods, errors = load_static_pods(tmp_path, "Edge-1")
    assert errors == []
    [pod] = pods
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["name"] == "nginx-edge-1"
    assert meta["namespace"] == "default"
    assert re.fullmatch(r"[0-9a-f]{32}", meta["uid"])
    assert meta["annotations"] == {CONFIG_HASH: meta["uid"], CONFIG_SOURCE: "file"}
    assert meta["labels"] == {"app": "web"}
    assert spec["nodeName"] == "Edge-1"
    assert spec["tolerations"] == [{"operator": "Exists", "effect": "NoExecute"}]
    assert spec["containers"] == [{"name": "nginx", "image": "nginx:1.25"}]
    assert pod["status"] == {"phase": "Pending"}
    assert file.endswith("nginx.yaml")


def test_the_uid_depends_on_pod_node_and_file_not_on_formatting(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()

    def uid(d, text, node="edge-1", name="p.yaml"):
        write(d, name, text)
        pods, errors = load_static_pods(d, node)
        assert errors == []
        return pods[0]["metadata"]["uid"]

    first = uid(a, NGINX)
    assert uid(a, NGINX) == first  # deterministic
    assert uid(a, "# a comment\n" + NGINX.replace("  labels: {app: web}", "  labels:\n    app: web")) == first
    assert uid(a, NGINX, node="edge-2") != first
    assert uid(a, NGINX.replace("1.25", "1.26")) != first
    assert uid(b, NGINX) != first  # another file


def test_json_and_given_namespace_and_uid(tmp_path):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "agent",
            "namespace": "kube-system",
            "uid": "fixed-uid",
            "annotations": {"x": "y"},
        },
        "spec": {
            "containers": [{"name": "a", "image": "agent:1"}],
            "tolerations": [
                {"operator": "Exists", "effect": "NoExecute"},
                {"key": "k", "operator": "Exists"},
            ],
        },
    }
    write(tmp_path, "agent.json", json.dumps(pod))
    [out], errors = load_static_pods(tmp_path, "n1")
    assert errors == []
    assert out["metadata"]["namespace"] == "kube-system"
    assert out["metadata"]["uid"] == "fixed-uid"
    assert out["metadata"]["annotations"] == {"x": "y", CONFIG_HASH: "fixed-uid", CONFIG_SOURCE: "file"}
    assert out["spec"]["tolerations"] == pod["spec"]["tolerations"]  # already tolerated: not added twice


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("bad.yaml", "kind: Pod\n  - : [", "invalid YAML"),
        ("bad.json", "{nope", "invalid JSON"),
        ("deploy.yaml", NGINX.replace("kind: Pod", "kind: Deployment"), "expected apiVersion v1, kind Pod"),
        ("two.yaml", NGINX + "---\n" + NGINX, "holds 2 YAML documents"),
        ("empty.yaml", "\n# nothing\n", "empty file"),
        ("list.yaml", "- a\n- b\n", "expected a Pod object, got list"),
        ("noname.yaml", NGINX.replace("  name: nginx\n", ""), "metadata.name is required"),
        (
            "nocontainers.yaml",
            NGINX.split("spec:")[0] + "spec: {}\n",
            "spec.containers must list at least one",
        ),
        (
            "noimage.yaml",
            NGINX.replace("    image: nginx:1.25\n", ""),
            r"spec.containers\[0\] needs a name and an image",
        ),
        ("badlabels.yaml", NGINX.replace("{app: web}", "[a]"), "metadata.labels must be a mapping"),
    ],
)
def test_bad_files_are_reported_and_the_others_still_load(tmp_path, name, text, error):
    write(tmp_path, "good.yaml", NGINX)
    bad = write(tmp_path, name, text)
    pods, errors = load_static_pods(tmp_path, "edge-1")
    assert [p["metadata"]["name"] for p in pods] == ["nginx-edge-1"]
    assert len(errors) == 1
    assert errors[0].startswith(bad + ": ")
    assert re.search(error, errors[0])


def test_oversized_file(tmp_path):
    write(tmp_path, "huge.yaml", NGINX + "#" * MAX_MANIFEST_BYTES)
    assert load_static_pods(tmp_path, "n")[1][0].endswith("not a pod manifest")


def test_skipped_entries_and_name_order(tmp_path):
    write(tmp_path, "b.yml", NGINX.replace("nginx", "bbb"))
    write(tmp_path, "a.yaml", NGINX.replace("nginx", "aaa"))
    write(tmp_path, ".hidden.yaml", NGINX.replace("nginx", "hidden"))
    write(tmp_path, "notes.txt", "not a pod")
    write(tmp_path, "a.yaml~", NGINX)
    (tmp_path / "sub.yaml").mkdir()
    pods, errors = load_static_pods(tmp_path, "n")
    assert errors == []
    assert [p["metadata"]["name"] for p in pods] == ["aaa-n", "bbb-n"]


def test_duplicate_names_keep_the_first(tmp_path):
    first = write(tmp_path, "1.yaml", NGINX)
    second = write(tmp_path, "2.yaml", NGINX.replace("1.25", "1.26"))
    pods, errors = load_static_pods(tmp_path, "n")
    assert [p["spec"]["containers"][0]["image"] for p in pods] == ["nginx:1.25"]
    assert errors == [
        "%s: pod default/nginx-n is already defined by %s; this file is ignored" % (second, first)
    ]


def test_missing_directory_and_single_file(tmp_path):
    assert load_static_pods(tmp_path / "absent", "n") == ([], [])
    file = write(tmp_path, "only.yaml", NGINX)
    pods, errors = load_static_pods(file, "n")
    assert errors == [] and len(pods) == 1


def test_yaml_values_become_json_values(tmp_path):
    write(tmp_path, "p.yaml", NGINX.replace("{app: web}", "{app: web, since: 2024-01-02, 1: one}"))
    [pod], errors = load_static_pods(tmp_path, "n")
    assert errors == []
    assert pod["metadata"]["labels"] == {"app": "web", "since": "2024-01-02", "1": "one"}
    json.dumps(pod)  # plain JSON types only
    # YAML 1.1 reads `on: yes` as true: true, which no label can hold
    write(tmp_path, "p.yaml", NGINX.replace("{app: web}", "{on: yes}"))
    assert load_static_pods(tmp_path, "n")[1] == [
        "%s: metadata.labels[true] must be a string, got true" % (tmp_path / "p.yaml")
    ]


def test_mirror_pod(tmp_path):
    write(tmp_path, "p.yaml", NGINX)
    [pod], _ = load_static_pods(tmp_path, "edge-1")
    uid = pod["metadata"]["uid"]
    mirror = mirror_pod(pod, node_uid="node-uid")
    assert mirror["metadata"]["annotations"] == {CONFIG_HASH: uid, CONFIG_SOURCE: "file", CONFIG_MIRROR: uid}
    assert "uid" not in mirror["metadata"] and "status" not in mirror
    assert mirror["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "edge-1", "uid": "node-uid", "controller": True}
    ]
    assert mirror["metadata"]["name"] == "nginx-edge-1" and mirror["spec"]["nodeName"] == "edge-1"
    assert pod["metadata"]["uid"] == uid and CONFIG_MIRROR not in pod["metadata"]["annotations"]  # a copy
    assert "ownerReferences" not in mirror_pod(pod)["metadata"]
