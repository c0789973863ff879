"""kedge.apiserver.storage micro benchmarks: what one API request costs the store.

Target: >= 10,000 small creates/s from storage alone, so the HTTP server can reach >= 2,000/s.
Each round of the write benchmarks does 1,000 single-object transactions (the API server's pattern).
"""

import itertools
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kedge.apiserver.storage import Storage

N = 1000
LIST_PODS = 10_000


def configmap(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "uid": "6c1f1b8e-0d2a-%019d" % zlib.crc32(name.encode())},
        "data": {"key": "value", "mode": "edge"},
    }


def pod(i: int) -> dict[str, Any]:
    """A realistic running pod, about 1.5 KB of JSON."""
    name = "web-5d9c7b8f4-%05d" % i
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": "8a0c3e43-3f9a-4c1e-9d7b-%012d" % i,
            "generateName": "web-5d9c7b8f4-",
            "labels": {"app": "web", "pod-template-hash": "5d9c7b8f4"},
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-5d9c7b8f4",
                    "uid": "11111111-2222-3333-4444-555555555555",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.27.3",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": "edge-node-%d" % (i % 50),
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:05Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"},
            ],
            "hostIP": "10.0.0.%d" % (i % 50),
            "podIP": "10.244.%d.%d" % (i // 250, i % 250),
            "startTime": "2025-01-01T00:00:01Z",
            "containerStatuses": [
                {
                    "name": "web",
                    "ready": True,
                    "restartCount": 0,
                    "image": "docker.io/library/nginx:1.27.3",
                    "imageID": "docker.io/library/nginx@sha256:" + "a" * 64,
                    "containerID": "containerd://" + "b" * 64,
                    "started": True,
                    "state": {"running": {"startedAt": "2025-01-01T00:00:04Z"}},
                }
            ],
        },
    }


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    with Storage(str(tmp_path / "kedge.db")) as s:
        yield s


@pytest.mark.benchmark(group="storage create (1,000 configmaps)")
def test_create(benchmark, storage: Storage) -> None:
    rounds = itertools.count()
    names = ["cm-%04d" % i for i in range(N)]

    def round_() -> None:
        ns = "ns-%d" % next(rounds)
        for name in names:
            storage.create("configmaps", ns, name, configmap(ns, name), now=0.0)

    benchmark(round_)
    assert storage.count("configmaps", "ns-0") == N


@pytest.mark.benchmark(group="storage update (1,000 configmaps)")
def test_update(benchmark, storage: Storage) -> None:
    names = ["cm-%04d" % i for i in range(N)]
    objs = [storage.create("configmaps", "default", n, configmap("default", n), now=0.0).obj for n in names]
    generations = itertools.count()

    def round_() -> None:
        g = str(next(generations))
        for name, obj in zip(names, objs, strict=True):
            storage.update("configmaps", "default", name, {**obj, "data": {"generation": g}}, now=0.0)

    benchmark(round_)


@pytest.mark.benchmark(group="storage get (1,000 configmaps)")
def test_get(benchmark, storage: Storage) -> None:
    names = ["cm-%04d" % i for i in range(N)]
    with storage.transaction():
        for n in names:
            storage.create("configmaps", "default", n, configmap("default", n), now=0.0)

    def round_() -> None:
        for name in names:
            storage.get("configmaps", "default", name)

    benchmark(round_)


@pytest.fixture
def pods(storage: Storage) -> Storage:
    with storage.transaction():
        for i in range(LIST_PODS):
            storage.create("pods", "default", "web-5d9c7b8f4-%05d" % i, pod(i), now=0.0)
    return storage


@pytest.mark.benchmark(group="storage list (10,000 pods)")
def test_list_raw(benchmark, pods: Storage) -> None:
    result = benchmark(pods.list_raw, "pods", "default")
    assert len(result.items) == LIST_PODS
    assert 1300 < sum(map(len, result.items)) / LIST_PODS < 2000


@pytest.mark.benchmark(group="storage list (10,000 pods)")
def test_list_raw_all_namespaces(benchmark, pods: Storage) -> None:
    result = benchmark(pods.list_raw, "pods")
    assert len(result.items) == LIST_PODS


@pytest.mark.benchmark(group="storage list (10,000 pods)")
def test_list_raw_pages_of_500(benchmark, pods: Storage) -> None:
    def all_pages() -> int:
        seen, token = 0, None
        while True:
            page = pods.list_raw("pods", "default", limit=500, continue_token=token)
            seen += len(page.items)
            token = page.continue_token
            if token is None:
                return seen

    assert benchmark(all_pages) == LIST_PODS


@pytest.mark.benchmark(group="storage list (10,000 pods)")
def test_list_stored(benchmark, pods: Storage) -> None:
    result = benchmark(pods.list, "pods", "default")
    assert len(result.items) == LIST_PODS


@pytest.mark.benchmark(group="storage events_since (1,000 events)")
def test_events_since(benchmark, storage: Storage) -> None:
    start = storage.revision
    for i in range(N):
        name = "cm-%04d" % i
        storage.create("configmaps", "default", name, configmap("default", name), now=0.0)
    events = benchmark(storage.events_since, start)
    assert len(events) == N
