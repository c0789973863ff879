"""Message codec rates: JSON (KubeEdge lane) and MessagePack (native lane), encode and decode.

Each round handles 1,000 messages; ops/s x 1,000 = messages/s. Two shapes: a small ack and a pod
insert whose content is a Kubernetes object carried as raw JSON.
"""

import json

import pytest

from kedge.model.codec import decode_json, decode_msgpack, encode_json, encode_msgpack, raw_json
from kedge.model.message import new_message, new_response

N = 1000

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "nginx-7c5ddbdf54-x2x7q",
        "namespace": "default",
        "uid": "0f2b3c7e-8a1d-4c4e-9d55-2f1f0c3b9a11",
        "resourceVersion": "48213",
        "labels": {"app": "nginx", "pod-template-hash": "7c5ddbdf54"},
    },
    "spec": {
        "nodeName": "edge-node-1",
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:1.27",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
            }
        ],
        "restartPolicy": "Always",
        "tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
        ],
    },
    "status": {"phase": "Pending", "qosClass": "Guaranteed"},
}

_insert = new_message(
    source="edgecontroller",
    group="resource",
    operation="insert",
    resource="default/pod/nginx-7c5ddbdf54-x2x7q",
    resourceversion="48213",
    content=raw_json(POD),
)
SHAPES = {
    "ack": [new_response(_insert) for _ in range(N)],
    "pod": [
        new_message(
            source="edgecontroller",
            group="resource",
            operation="insert",
            resource="default/pod/p%d" % i,
            resourceversion=str(i),
            content=raw_json(POD),
        )
        for i in range(N)
    ],
}


@pytest.fixture(params=sorted(SHAPES))
def shape(request):
    return request.param


@pytest.mark.benchmark(group="codec json encode x1000")
def test_json_encode(benchmark, shape):
    msgs = SHAPES[shape]
    benchmark(lambda: [encode_json(m) for m in msgs])


@pytest.mark.benchmark(group="codec json decode x1000")
def test_json_decode(benchmark, shape):
    frames = [encode_json(m) for m in SHAPES[shape]]
    benchmark(lambda: [decode_json(f) for f in frames])


@pytest.mark.benchmark(group="codec msgpack encode x1000")
def test_msgpack_encode(benchmark, shape):
    msgs = [decode_json(encode_json(m)) for m in SHAPES[shape]]
    benchmark(lambda: [encode_msgpack(m) for m in msgs])


@pytest.mark.benchmark(group="codec msgpack decode x1000")
def test_msgpack_decode(benchmark, shape):
    frames = [encode_msgpack(decode_json(encode_json(m))) for m in SHAPES[shape]]
    benchmark(lambda: [decode_msgpack(f) for f in frames])


@pytest.mark.benchmark(group="codec json decode x1000")
def test_stdlib_json_decode_for_comparison(benchmark, shape):
    """The same frames through the stdlib json module, fully decoded: what raw content saves."""
    frames = [encode_json(m) for m in SHAPES[shape]]
    benchmark(lambda: [json.loads(f) for f in frames])
