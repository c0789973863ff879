"""Decoding Kubernetes protobuf bodies into JSON objects.

The fixtures under fixtures/protobuf/ are request bodies that the real kubectl 1.37.1 POSTed (PUT, DELETE)
to a recording server; the commands are listed in FIXTURES. Their .json twins are kubectl's own
`--dry-run=client -o json` output for the same command where kubectl has that flag (with two
`null` slices removed: Go writes a nil slice without omitempty as null, the decoder leaves it absent);
the others were checked by hand, the copied Pod against the Pod that kubectl copied.

Other kinds are built here with a small protobuf encoder; field numbers from k8s.io/api generated.proto.
"""

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver.errors import ApiError
from kedge.apiserver.protobuf import (
    MAGIC,
    ProtobufError,
    decode_kubernetes_protobuf,
    decode_message,
    iter_fields,
    read_varint,
)
from kedge.apiserver.protobuf_messages import API_VERSIONS, KINDS, MESSAGES, SCALARS, Field, _parse

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "protobuf"

FIXTURES = {
    "namespace": "kubectl create namespace x",
    "configmap": "kubectl create configmap c --from-literal=a=b --from-literal=greeting='héllo ✓'"
    " --from-file=blob=blob.bin  (blob.bin: 00 ff fe ' binary\\n')",
    "secret_generic": "kubectl create secret generic s --from-literal=k=v --from-file=blob=blob.bin"
    " --type=Opaque",
    "secret_docker_registry": "kubectl create secret docker-registry reg --docker-server=r.io"
    " --docker-username=u --docker-password=p --docker-email=e@x",
    "serviceaccount": "kubectl create serviceaccount sa",
    "deployment": "kubectl create deployment d --image=nginx --replicas=2 --port=80",
    "job": "kubectl create job j --image=busybox -- echo hi",
    "job_from_cronjob": "kubectl create job j2 --from=cronjob/cj",
    "cronjob": "kubectl create cronjob cj --image=busybox --schedule='*/1 * * * *' -- date",
    "service_clusterip": "kubectl create service clusterip svc --tcp=80:8080",
    "service_nodeport": "kubectl create service nodeport np --tcp=80:8080 --node-port=30080",
    "service_externalname": "kubectl create service externalname ex --external-name=example.com",
    "role": "kubectl create role r --verb=get --verb=list --resource=pods --resource=deployments.apps"
    " --resource-name=a",
    "clusterrole": "kubectl create clusterrole healthz --verb=get --non-resource-url=/healthz",
    "clusterrole_aggregation": "kubectl create clusterrole agg --aggregation-rule=a=b",
    "rolebinding": "kubectl create rolebinding rb --role=r --user=u --group=g --serviceaccount=default:sa",
    "clusterrolebinding": "kubectl create clusterrolebinding crb --clusterrole=cr --user=u",
    "priorityclass": "kubectl create priorityclass pc --value=10 --description=hi --preemption-policy=Never"
    " --global-default",
    "resourcequota": "kubectl create quota q --hard=cpu=1,memory=1G,pods=2 --scopes=BestEffort",
    "poddisruptionbudget": "kubectl create pdb pdb --selector=app=x --min-available=50%",
    "ingress": "kubectl create ingress ing --rule=foo.com/bar=svc1:8080,tls=my-cert --class=nginx",
    "horizontalpodautoscaler": "kubectl autoscale deployment d --min=1 --max=3 --cpu=50%",
    "tokenrequest": "kubectl create token sa --audience=a1 --duration=1h --bound-object-kind=Pod"
    " --bound-object-name=p1 --bound-object-uid=u4",
    "selfsubjectaccessreview": "kubectl auth can-i get pods",
    "selfsubjectrulesreview": "kubectl auth can-i --list",
    "selfsubjectreview": "kubectl auth whoami",
    "certificatesigningrequest_approval": "kubectl certificate approve csr1  (PUT .../approval)",
    "deleteoptions": "kubectl drain n1 --force --grace-period=5  (DELETE of the node's pod)",
    "pod_debug_node": "kubectl debug node/n1 --image=busybox --profile=general",
    "pod_debug_copy": "kubectl debug p1 --copy-to=p1copy --image=busybox --profile=legacy -c dbg"
    "  (p1: a Pod with most PodSpec fields set)",
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_kubectl_bodies_decode_to_their_json(name: str) -> None:
    body = (FIXTURE_DIR / ("%s.bin" % name)).read_bytes()
    expected = json.loads((FIXTURE_DIR / ("%s.json" % name)).read_text(encoding="utf-8"))
    assert decode_kubernetes_protobuf(body) == expected


def test_every_fixture_is_listed() -> None:
    assert sorted(p.stem for p in FIXTURE_DIR.glob("*.bin")) == sorted(FIXTURES)
    assert sorted(p.stem for p in FIXTURE_DIR.glob("*.json")) == sorted(FIXTURES)


# -- a small encoder -----------------------------------------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative numbers as Go writes them: 64-bit two's complement, 10 bytes
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def num(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def ld(number: int, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def msg(number: int, *fields: bytes) -> bytes:
    return ld(number, b"".join(fields))


def entry(number: int, key: str, value: bytes) -> bytes:
    """A map entry; value is the encoded field 2 (or b"" to leave it out)."""
    return msg(number, ld(1, key), value)


def body(api_version: str, kind: str, *fields: bytes, encoding: str = "") -> bytes:
    """A body as client-go writes it: magic, runtime.Unknown{typeMeta, raw, contentEncoding, contentType}."""
    return MAGIC + msg(1, ld(1, api_version), ld(2, kind)) + msg(2, *fields) + ld(3, encoding) + ld(4, "")


def meta(name: str, *fields: bytes) -> bytes:
    return msg(1, ld(1, name), *fields)


# -- kinds kubectl does not send, as client-go controllers and KubeEdge would ----------------------------


def test_node_with_labels_spec_and_status() -> None:
    data = body(
        "v1",
        "Node",
        meta("edge-1", entry(11, "node-role.kubernetes.io/edge", ld(2, "")), entry(11, "zone", ld(2, "a"))),
        msg(
            2,
            ld(1, "10.244.1.0/24"),
            num(4, 1),
            msg(5, ld(1, "dedicated"), ld(2, "edge"), ld(3, "NoSchedule"), msg(4, num(1, 1767225600))),
            ld(7, "10.244.1.0/24"),
        ),
        msg(
            3,
            entry(1, "cpu", msg(2, ld(1, "4"))),
            entry(1, "memory", msg(2, ld(1, "8Gi"))),
            ld(3, ""),
            msg(4, ld(1, "Ready"), ld(2, "True"), msg(3, num(1, 1767225600)), msg(4), ld(5, "KubeletReady")),
            msg(5, ld(1, "InternalIP"), ld(2, "192.168.1.10")),
            msg(6, msg(1, num(1, 10250))),
        ),
    )
    assert decode_kubernetes_protobuf(data) == {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": "edge-1", "labels": {"node-role.kubernetes.io/edge": "", "zone": "a"}},
        "spec": {
            "podCIDR": "10.244.1.0/24",
            "unschedulable": True,
            "taints": [
                {
                    "key": "dedicated",
                    "value": "edge",
                    "effect": "NoSchedule",
                    "timeAdded": "2026-01-01T00:00:00Z",
                }
            ],
            "podCIDRs": ["10.244.1.0/24"],
        },
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                    "lastTransitionTime": None,
                    "reason": "KubeletReady",
                }
            ],
            "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }


def test_endpoints() -> None:
    address = msg(
        1, ld(1, "10.1.0.5"), msg(2, ld(1, "Pod"), ld(2, "default"), ld(3, "web-0")), ld(4, "edge-1")
    )
    data = body(
        "v1",
        "Endpoints",
        meta("web", ld(3, "default")),
        msg(2, address, msg(3, ld(1, "http"), num(2, 8080), ld(3, "TCP"))),
    )
    assert decode_kubernetes_protobuf(data) == {
        "kind": "Endpoints",
        "apiVersion": "v1",
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [
            {
                "addresses": [
                    {
                        "ip": "10.1.0.5",
                        "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-0"},
                        "nodeName": "edge-1",
                    }
                ],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        ],
    }


def test_core_event_times() -> None:
    data = body(
        "v1",
        "Event",
        meta("web-0.1", ld(3, "default")),
        msg(2, ld(1, "Pod"), ld(3, "web-0"), ld(7, "spec.containers{web}")),
        ld(3, "Pulled"),
        ld(4, 'Successfully pulled image "nginx"'),
        msg(5, ld(1, "kubelet"), ld(2, "edge-1")),
        msg(6, num(1, 1767225600), num(2, 999_999_999)),  # Time keeps seconds only, like Go
        msg(7),
        num(8, 3),
        ld(9, "Normal"),
        msg(10, num(1, 1767225600), num(2, 123_456_789)),  # MicroTime truncates to microseconds
        ld(14, ""),
        ld(15, ""),
    )
    assert decode_kubernetes_protobuf(data) == {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": "web-0.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{web}"},
        "reason": "Pulled",
        "message": 'Successfully pulled image "nginx"',
        "source": {"component": "kubelet", "host": "edge-1"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": None,
        "count": 3,
        "type": "Normal",
        "eventTime": "2026-01-01T00:00:00.123456Z",
        "reportingComponent": "",
        "reportingInstance": "",
    }


def test_lease_heartbeat() -> None:
    data = body(
        "coordination.k8s.io/v1",
        "Lease",
        meta("edge-1", ld(3, "kube-node-lease")),
        msg(2, ld(1, "edge-1"), num(2, 40), msg(4, num(1, 1767225600), num(2, 5000)), num(5, 0)),
    )
    assert decode_kubernetes_protobuf(data) == {
        "kind": "Lease",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"name": "edge-1", "namespace": "kube-node-lease"},
        "spec": {
            "holderIdentity": "edge-1",
            "leaseDurationSeconds": 40,
            "renewTime": "2026-01-01T00:00:00.000005Z",
            "leaseTransitions": 0,
        },
    }


def test_object_meta_in_full() -> None:
    managed = msg(
        17,
        ld(1, "kubectl"),
        ld(2, "Update"),
        ld(3, "v1"),
        msg(4, num(1, 0)),  # the epoch is a real time, not the zero time
        ld(6, "FieldsV1"),
        msg(7, ld(1, '{"f:data":{"f:a":{}}}')),
    )
    data = body(
        "v1",
        "ConfigMap",
        msg(
            1,
            ld(1, "c"),
            ld(2, ""),
            ld(3, "default"),
            ld(5, "0b9f5b5e-6b44-4d31-9b0e-2a9f2a3b4c5d"),
            ld(6, "42"),
            num(7, 3),
            msg(8, num(1, 1767225600)),
            msg(9, num(1, 1767225630)),
            num(10, 30),
            entry(12, "note", ld(2, "x")),
            msg(13, ld(1, "Deployment"), ld(3, "d"), ld(4, "u1"), ld(5, "apps/v1"), num(6, 1), num(7, 0)),
            ld(14, "kubernetes.io/pvc-protection"),
            managed,
        ),
        num(4, 0),
    )
    assert decode_kubernetes_protobuf(data) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": "c",
            "namespace": "default",
            "uid": "0b9f5b5e-6b44-4d31-9b0e-2a9f2a3b4c5d",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "deletionTimestamp": "2026-01-01T00:00:30Z",
            "deletionGracePeriodSeconds": 30,
            "annotations": {"note": "x"},
            "ownerReferences": [
                {
                    "kind": "Deployment",
                    "name": "d",
                    "uid": "u1",
                    "apiVersion": "apps/v1",
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
            "finalizers": ["kubernetes.io/pvc-protection"],
            "managedFields": [
                {
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "1970-01-01T00:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:a": {}}},
                }
            ],
        },
        "immutable": False,
    }


def test_controller_revision_data_is_json() -> None:
    data = body(
        "apps/v1", "ControllerRevision", meta("web-7d4"), msg(2, ld(1, '{"spec":{"x":1}}')), num(3, 2)
    )
    assert decode_kubernetes_protobuf(data) == {
        "kind": "ControllerRevision",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web-7d4"},
        "data": {"spec": {"x": 1}},
        "revision": 2,
    }


def test_delete_options_in_any_group_version() -> None:
    data = body(
        "apps/v1",
        "DeleteOptions",
        num(1, 0),
        msg(2, ld(1, "u1"), ld(2, "7")),
        ld(4, "Foreground"),
        ld(5, "All"),
    )
    assert decode_kubernetes_protobuf(data) == {
        "kind": "DeleteOptions",
        "apiVersion": "apps/v1",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u1", "resourceVersion": "7"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


def test_int_or_string_both_ways() -> None:
    ports = [
        msg(1, ld(1, "a"), num(3, 80), msg(4, num(1, 0), num(2, 8080))),
        msg(1, num(3, 81), msg(4, num(1, 1), ld(3, "http"))),
    ]
    data = body("v1", "Service", meta("s"), msg(2, *ports))
    assert decode_kubernetes_protobuf(data)["spec"] == {
        "ports": [{"name": "a", "port": 80, "targetPort": 8080}, {"port": 81, "targetPort": "http"}]
    }


# -- JSON mapping rules ----------------------------------------------------------------------------------


def pod_spec(*fields: bytes) -> dict[str, Any]:
    return decode_message(b"".join(fields), "core.v1.PodSpec")


def test_zero_values_follow_go_json() -> None:
    # Go writes every non-pointer field; JSON leaves it out when zero and tagged omitempty,
    # keeps pointer fields (set on purpose) and fields without omitempty.
    spec = pod_spec(
        ld(3, ""),  # restartPolicy: omitempty
        num(4, 0),  # terminationGracePeriodSeconds: *int64
        num(11, 0),  # hostNetwork: omitempty bool
        num(21, 0),  # automountServiceAccountToken: *bool
        msg(2, ld(1, ""), ld(2, "")),  # containers[0]: name has no omitempty, image has
    )
    assert spec == {
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "containers": [{"name": ""}],
    }


def test_negative_int32_sign_extended_to_ten_bytes() -> None:
    assert len(varint(-5)) == 10
    assert pod_spec(num(25, -5)) == {"priority": -5}
    assert pod_spec(num(25, 2**31 - 1)) == {"priority": 2**31 - 1}
    # Go's int32() keeps the low 32 bits of a wider varint
    assert pod_spec(num(25, 2**32 + 7)) == {"priority": 7}


def test_int64_range() -> None:
    assert pod_spec(num(5, 2**63 - 1)) == {"activeDeadlineSeconds": 2**63 - 1}
    assert pod_spec(num(5, -(2**63))) == {"activeDeadlineSeconds": -(2**63)}


def test_packed_and_unpacked_repeated_scalars_mix() -> None:
    security = msg(14, num(4, 4000), ld(4, varint(5000) + varint(-1)), num(4, 6000))
    assert pod_spec(security) == {"securityContext": {"supplementalGroups": [4000, 5000, -1, 6000]}}


def test_repeated_occurrences_of_a_message_field_merge() -> None:
    # protobuf merges a singular message seen twice: scalars of the later one win, lists append
    spec = pod_spec(
        msg(14, num(2, 1000), num(4, 1)),
        msg(14, num(2, 2000), num(4, 2)),
        ld(10, "a"),
        ld(10, "b"),
    )
    assert spec == {"securityContext": {"runAsUser": 2000, "supplementalGroups": [1, 2]}, "nodeName": "b"}


def test_map_entries_missing_parts_and_repeated_keys() -> None:
    labels = decode_message(
        entry(11, "a", ld(2, "1")) + entry(11, "b", b"") + msg(11, ld(2, "v")) + entry(11, "a", ld(2, "2")),
        "meta.v1.ObjectMeta",
    )
    assert labels == {"labels": {"a": "2", "b": "", "": "v"}}
    limits = decode_message(entry(1, "cpu", b""), "core.v1.ResourceRequirements")
    assert limits == {"limits": {"cpu": "0"}}


def test_bytes_are_base64() -> None:
    secret = body(
        "v1",
        "Secret",
        meta("s"),
        entry(2, "k", ld(2, b"\x00\xff")),
        entry(2, "e", ld(2, b"")),
        ld(3, "Opaque"),
    )
    assert decode_kubernetes_protobuf(secret) == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s"},
        "data": {"k": "AP8=", "e": ""},
        "type": "Opaque",
    }


def test_string_list_wrappers() -> None:
    spec = ld(3, "alice") + entry(5, "scopes", msg(2, ld(1, "a"), ld(1, "b"))) + entry(5, "none", b"")
    review = decode_message(spec, "authorization.v1.SubjectAccessReviewSpec")
    assert review == {"user": "alice", "extra": {"scopes": ["a", "b"], "none": None}}


def test_envelope_defaults_fill_a_missing_type_meta() -> None:
    data = MAGIC + msg(2, meta("x"))
    assert decode_kubernetes_protobuf(data, default_api_version="v1", default_kind="Namespace") == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "x"},
    }


# -- errors ----------------------------------------------------------------------------------------------


def api_error(data: bytes) -> ApiError:
    with pytest.raises(ApiError) as info:
        decode_kubernetes_protobuf(data)
    return info.value


def test_bad_magic_is_a_bad_request() -> None:
    e = api_error(b'{"kind":"Namespace"}')
    assert (e.code, e.reason) == (400, "BadRequest")
    assert e.message == (
        "the body is not a Kubernetes protobuf message: it does not start with 6b 38 73 00 (k8s\\0)"
    )
    assert api_error(b"").code == 400


def test_missing_kind() -> None:
    e = api_error(MAGIC)
    assert (e.code, e.message) == (400, "the protobuf body names no kind in its typeMeta")
    e = api_error(MAGIC + msg(1, ld(2, "Pod")))
    assert (e.code, e.message) == (400, "the protobuf body names no apiVersion in its typeMeta")


def test_kind_without_table_is_unsupported_media_type() -> None:
    e = api_error(body("apps/v1beta1", "StatefulSet", meta("x")))
    assert (e.code, e.reason) == (415, "UnsupportedMediaType")
    assert e.message == (
        "kedge cannot decode protobuf for apps/v1beta1 StatefulSet; send it as JSON"
        " (Content-Type: application/json)"
    )


def test_content_encoding_is_unsupported() -> None:
    e = api_error(body("v1", "Namespace", meta("x"), encoding="gzip"))
    assert (e.code, e.message) == (
        415,
        "kedge cannot decode protobuf for v1 Namespace with contentEncoding 'gzip'; send it as JSON",
    )


def test_unknown_field_names_message_number_and_path() -> None:
    container = msg(2, ld(1, "web"), ld(99, "from the future"))
    template = msg(3, msg(1), msg(2, container))
    e = api_error(body("apps/v1", "Deployment", meta("d"), msg(2, template)))
    assert (e.code, e.reason) == (415, "UnsupportedMediaType")
    assert e.message == (
        "kedge cannot decode protobuf for apps/v1 Deployment: core.v1.Container has no field 99 in kedge's"
        " tables (at spec.template.spec.containers[0]); send it as JSON"
    )
    e = api_error(body("v1", "Namespace", meta("x"), ld(7, "?")))
    assert e.message == (
        "kedge cannot decode protobuf for v1 Namespace: core.v1.Namespace has no field 7 in kedge's tables;"
        " send it as JSON"
    )


def test_unknown_envelope_field() -> None:
    e = api_error(body("v1", "Namespace", meta("x")) + ld(5, "?"))
    assert (e.code, e.message) == (
        415,
        "kedge cannot decode protobuf envelope (runtime.Unknown): runtime.Unknown has no field 5;"
        " send it as JSON",
    )


def test_wrong_wire_type() -> None:
    e = api_error(body("v1", "Namespace", msg(1, num(1, 5))))
    assert (e.code, e.message) == (
        400,
        "malformed protobuf for v1 Namespace: meta.v1.ObjectMeta field 1 (name) has wire type 0, expected 2"
        " (at metadata)",
    )
    e = api_error(body("v1", "Pod", msg(2, ld(11, "yes"))))
    assert e.message == (
        "malformed protobuf for v1 Pod: core.v1.PodSpec field 11 (hostNetwork) has wire type 2, expected 0"
        " (at spec)"
    )


def test_truncated_data() -> None:
    whole = MAGIC + msg(1, ld(1, "v1"), ld(2, "Namespace")) + msg(2, meta("x"))
    e = api_error(whole[:-3])
    assert e.code == 400
    assert e.message == "malformed protobuf envelope (runtime.Unknown): field 2 needs 5 bytes, 2 left"
    e = api_error(body("v1", "Pod", msg(2, b"\x58")))  # hostNetwork's key, then nothing
    assert e.message == "malformed protobuf for v1 Pod: truncated varint (at spec)"


def test_invalid_utf8() -> None:
    e = api_error(body("v1", "Namespace", meta("x", entry(11, "k", ld(2, b"\xc3(")))))
    assert e.message == (
        "malformed protobuf for v1 Namespace: string is not valid UTF-8 (byte 0) (at metadata.labels[k])"
    )


def test_bad_int_or_string_type() -> None:
    e = api_error(body("v1", "Service", meta("s"), msg(2, msg(1, msg(4, num(1, 2), num(2, 1))))))
    assert e.message == (
        "malformed protobuf for v1 Service: IntOrString type 2 is neither 0 (int) nor 1 (string)"
        " (at spec.ports[0].targetPort)"
    )


def test_raw_extension_must_be_json() -> None:
    e = api_error(body("apps/v1", "ControllerRevision", meta("r"), msg(2, ld(1, b"\x0a\x00"))))
    assert e.message == (
        "malformed protobuf for apps/v1 ControllerRevision: runtime.RawExtension is not JSON (kedge reads no"
        " other content type there) (at data)"
    )


def test_time_out_of_range() -> None:
    e = api_error(body("v1", "Namespace", msg(1, msg(8, num(1, 10**12)))))
    assert e.message == (
        "malformed protobuf for v1 Namespace: time 1000000000000 seconds from 1970 is out of range"
        " (at metadata.creationTimestamp)"
    )


# -- the wire parser -------------------------------------------------------------------------------------


def test_read_varint() -> None:
    assert read_varint(b"\x00", 0) == (0, 1)
    assert read_varint(b"\x96\x01", 0) == (150, 2)
    assert read_varint(b"\xff\x96\x01", 1) == (150, 3)
    assert read_varint(b"\xff" * 9 + b"\x01", 0) == (2**64 - 1, 10)
    # bits beyond 64 in the tenth byte are dropped, as Go does
    assert read_varint(b"\xff" * 9 + b"\x7f", 0) == (2**64 - 1, 10)


def test_read_varint_errors() -> None:
    with pytest.raises(ProtobufError, match=r"^truncated varint$"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(ProtobufError, match=r"^truncated varint$"):
        read_varint(b"", 0)
    with pytest.raises(ProtobufError, match=r"^varint longer than 10 bytes$"):
        read_varint(b"\x80" * 10 + b"\x01", 0)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(n: int) -> None:
    data = varint(n)
    assert read_varint(data + b"\x05", 0) == (n, len(data))


def test_iter_fields_all_wire_types() -> None:
    data = (
        num(1, 300) + b"\x11" + (7).to_bytes(8, "little") + ld(3, "ab") + b"\x25" + (9).to_bytes(4, "little")
    )
    fields = [(n, w, bytes(v) if isinstance(v, memoryview) else v) for n, w, v in iter_fields(data)]
    assert fields == [(1, 0, 300), (2, 1, 7), (3, 2, b"ab"), (4, 5, 9)]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x0b", "field 1 has wire type 3 (groups are not used by Kubernetes)"),
        (b"\x0c", "field 1 has wire type 4 (groups are not used by Kubernetes)"),
        (b"\x00\x00", "invalid field number 0"),
        (b"\x11\x00\x00", "truncated fixed64 field 2"),
        (b"\x25\x00", "truncated fixed32 field 4"),
        (b"\x1a\x05ab", "field 3 needs 5 bytes, 2 left"),
        (b"\x08", "truncated varint"),
    ],
)
def test_iter_fields_errors(data: bytes, error: str) -> None:
    with pytest.raises(ProtobufError) as info:
        list(iter_fields(data))
    assert info.value.message == error


def test_fixed_width_fields_are_not_used_by_any_table() -> None:
    with pytest.raises(ProtobufError, match=r"field 1 \(name\) has wire type 5, expected 2"):
        decode_message(b"\x0d\x00\x00\x00\x00", "meta.v1.ObjectMeta")


# -- round trips over generated objects -----------------------------------------------------------------

label_maps = st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4)


@given(
    name=st.text(min_size=1, max_size=12),
    labels=label_maps,
    data=label_maps,
    binary=st.dictionaries(st.text(min_size=1, max_size=8), st.binary(max_size=12), max_size=3),
    immutable=st.none() | st.booleans(),
)
def test_config_map_round_trip(
    name: str, labels: dict[str, str], data: dict[str, str], binary: dict[str, bytes], immutable: bool | None
) -> None:
    fields = [meta(name, *(entry(11, k, ld(2, v)) for k, v in labels.items()))]
    fields += [entry(2, k, ld(2, v)) for k, v in data.items()]
    fields += [entry(3, k, ld(2, v)) for k, v in binary.items()]
    if immutable is not None:
        fields.append(num(4, int(immutable)))
    expected: dict[str, Any] = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": name}}
    if labels:
        expected["metadata"]["labels"] = labels
    if data:
        expected["data"] = data
    if binary:
        expected["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    if immutable is not None:
        expected["immutable"] = immutable
    assert decode_kubernetes_protobuf(body("v1", "ConfigMap", *fields)) == expected


@given(
    container_port=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    host_port=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    protocol=st.sampled_from(["", "TCP", "UDP", "SCTP"]),
)
def test_container_port_round_trip(container_port: int, host_port: int, protocol: str) -> None:
    port = decode_message(
        num(2, host_port) + num(3, container_port) + ld(4, protocol), "core.v1.ContainerPort"
    )
    expected: dict[str, Any] = {"containerPort": container_port}  # no omitempty: kept when zero
    if host_port:
        expected["hostPort"] = host_port
    if protocol:
        expected["protocol"] = protocol
    assert port == expected


# -- the tables ------------------------------------------------------------------------------------------


def test_every_kind_is_an_object_with_metadata() -> None:
    assert len(KINDS) == 59
    for (api_version, kind), message in KINDS.items():
        assert message.rpartition(".")[2] == kind
        assert API_VERSIONS[message.rpartition(".")[0]] == api_version
        metadata = MESSAGES[message][1]
        assert (metadata.name, metadata.type) == ("metadata", "meta.v1.ObjectMeta"), message


def test_tables_cover_the_kinds_in_the_brief() -> None:
    wanted = {
        "v1": "Namespace ConfigMap Secret ServiceAccount Service Pod Endpoints Event Node ResourceQuota",
        "apps/v1": "Deployment",
        "batch/v1": "Job CronJob",
        "coordination.k8s.io/v1": "Lease",
        "rbac.authorization.k8s.io/v1": "Role ClusterRole RoleBinding ClusterRoleBinding",
        "scheduling.k8s.io/v1": "PriorityClass",
    }
    for api_version, kinds in wanted.items():
        for kind in kinds.split():
            assert (api_version, kind) in KINDS


def test_field_names_and_inline_fields() -> None:
    for message, fields in MESSAGES.items():
        for number, f in fields.items():
            assert number == f.number > 0
            assert f.inline == (f.name == ""), (message, number)
            if f.keep_zero:
                assert f.type in SCALARS, (message, number)
    # the two fields whose JSON name differs from the proto name
    assert MESSAGES["networking.v1.IngressClassParametersReference"][1].name == "apiGroup"
    assert MESSAGES["authentication.v1.BoundObjectReference"][4].name == "uid"


def test_table_grammar() -> None:
    tables = _parse(
        """
package a.v1
Outer: 1 metadata meta.v1.ObjectMeta, 2 - Inner^, 3 items Inner[],
    4 counts map[int64], 5 when time~, 6 size int32!
package meta.v1
ObjectMeta: 1 name string
package a.v1
Inner: 1 names string[]
"""
    )
    assert tables["a.v1.Outer"] == {
        1: Field(1, "metadata", "meta.v1.ObjectMeta", "single", False, False, False),
        2: Field(2, "", "a.v1.Inner", "single", False, True, False),
        3: Field(3, "items", "a.v1.Inner", "repeated", False, False, False),
        4: Field(4, "counts", "int64", "map", False, False, False),
        5: Field(5, "when", "time", "single", False, False, True),
        6: Field(6, "size", "int32", "single", True, False, False),
    }
    with pytest.raises(ValueError, match=r"^protobuf table a\.v1\.A field 1 names unknown type a\.v1\.B$"):
        _parse("package a.v1\nA: 1 b B\n")
