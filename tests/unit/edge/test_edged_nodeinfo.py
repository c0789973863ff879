"""The node Edged reports: host facts, the Node object, conditions, the status patch and the Lease."""

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import msgspec
import pytest

from kedge import __version__
from kedge.edge.edged.nodeinfo import (
    KUBELET_VERSION,
    HostFacts,
    allocatable,
    capacity,
    format_quantity,
    host_facts,
    lease_object,
    node_conditions,
    node_object,
    node_status_patch,
    rfc3339_micro,
)

NOW = datetime(2026, 11, 22, 9, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def fake_host(tmp_path):
    proc, etc, sysfs = tmp_path / "proc", tmp_path / "etc", tmp_path / "sys"
    (proc / "sys/kernel/random").mkdir(parents=True)
    (proc / "meminfo").write_text("MemTotal:       16318480 kB\nMemFree:         1000 kB\n")
    (proc / "sys/kernel/random/boot_id").write_text("b00t-1d\n")
    etc.mkdir()
    (etc / "machine-id").write_text("abcdef0123456789\n")
    (etc / "os-release").write_text(
        'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
    )
    (sysfs / "class/dmi/id").mkdir(parents=True)
    (sysfs / "class/dmi/id/product_uuid").write_text("4C4C4544-0042-3510\n")
    return {"proc": str(proc), "etc": str(etc), "sysfs": str(sysfs)}


def test_host_facts_from_the_host_files(tmp_path, fake_host):
    facts = host_facts(
        node_ip="192.168.1.20",
        storage_dir=str(tmp_path / "not" / "yet"),
        max_pods=50,
        hostname="Edge-1",
        **fake_host,
    )
    st = os.statvfs(tmp_path)
    assert facts.node_ip == "192.168.1.20"
    assert facts.hostname == "edge-1"
    assert facts.memory == 16318480 * 1024
    assert facts.ephemeral_storage == st.f_blocks * st.f_frsize > 0
    assert facts.pods == 50
    assert facts.cpu == os.cpu_count()
    assert facts.os_image == "Debian GNU/Linux 12 (bookworm)"
    assert facts.machine_id == "abcdef0123456789"
    assert facts.boot_id == "b00t-1d"
    assert facts.system_uuid == "4c4c4544-0042-3510"
    assert facts.operating_system == "linux"
    assert facts.architecture in ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
    assert facts.kernel_version == os.uname().release


def test_host_facts_with_missing_files(tmp_path):
    empty = str(tmp_path / "none")
    facts = host_facts(node_ip="10.1.1.1", proc=empty, etc=empty, sysfs=empty, storage_dir=str(tmp_path))
    assert (facts.memory, facts.boot_id, facts.system_uuid, facts.os_image) == (0, "", "", "Linux")


@pytest.mark.parametrize(
    ("resource", "value", "text"),
    [
        ("cpu", 4, "4"),
        ("cpu", Fraction(39, 10), "3900m"),
        ("cpu", Fraction(1, 3), "334m"),
        ("memory", 16318480 * 1024, "16318480Ki"),
        ("memory", 1 << 30, "1Gi"),
        ("memory", 3 << 20, "3Mi"),
        ("memory", 1500, "1500"),
        ("memory", 0, "0"),
        ("ephemeral-storage", 100 << 30, "100Gi"),
        ("pods", 110, "110"),
    ],
)
def test_format_quantity(resource, value, text):
    assert format_quantity(resource, value) == text


def facts(**kw) -> HostFacts:
    base = dict(
        hostname="edge-1",
        node_ip="192.168.1.20",
        cpu=4,
        memory=8 << 30,
        ephemeral_storage=100 << 30,
        pods=110,
        architecture="arm64",
        kernel_version="6.1.0",
        os_image="Debian GNU/Linux 12 (bookworm)",
        machine_id="m",
        boot_id="b",
        system_uuid="u",
    )
    base.update(kw)
    return HostFacts(**base)


def test_capacity_and_allocatable():
    cap = capacity(facts())
    assert cap == {"cpu": "4", "ephemeral-storage": "100Gi", "memory": "8Gi", "pods": "110"}
    assert allocatable(cap) == cap
    alloc = allocatable(
        cap,
        reserved=[{"cpu": "100m", "memory": "512Mi"}, {"cpu": "200m", "memory": "512Mi", "gpu": "1"}],
        eviction_hard={"memory.available": "100Mi", "nodefs.available": "10%", "imagefs.available": "15%"},
    )
    assert alloc == {
        "cpu": "3700m",
        "memory": str(8192 - 1024 - 100) + "Mi",
        "ephemeral-storage": "90Gi",
        "pods": "110",
    }
    assert allocatable({"memory": "1Gi"}, reserved=[{"memory": "2Gi"}]) == {"memory": "0"}


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"reserved": [{"memory": "lots"}]}, "reserved[memory]"),
        ({"eviction_hard": {"nodefs.available": "x%"}}, "evictionHard[nodefs.available]"),
        ({"eviction_hard": {"memory.available": "1 GB"}}, "evictionHard[memory.available]"),
    ],
)
def test_allocatable_names_bad_entries(kw, text):
    with pytest.raises(ValueError, match=text.replace("[", r"\[").replace("]", r"\]")):
        allocatable(capacity(facts()), **kw)


def test_node_object():
    conds = node_conditions(NOW, ready=True)
    node = node_object(
        "edge-1",
        facts(),
        labels={"site": "berlin", "node-role.kubernetes.io/agent": "yes"},
        annotations={"a": "b"},
        taints=[{"key": "edge", "effect": "NoSchedule"}],
        runtime_version="containerd://1.7.2",
        reserved=[{"memory": "1Gi"}],
        conditions=conds,
    )
    assert node["apiVersion"] == "v1" and node["kind"] == "Node"
    assert node["metadata"] == {
        "name": "edge-1",
        "labels": {
            "kubernetes.io/hostname": "edge-1",
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "arm64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "arm64",
            "node-role.kubernetes.io/edge": "",
            "node-role.kubernetes.io/agent": "yes",
            "site": "berlin",
        },
        "annotations": {"node.alpha.kubernetes.io/ttl": "0", "a": "b"},
    }
    assert node["spec"] == {"taints": [{"key": "edge", "effect": "NoSchedule"}]}
    status = node["status"]
    assert status["capacity"]["memory"] == "8Gi" and status["allocatable"]["memory"] == "7Gi"
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "192.168.1.20"},
        {"type": "Hostname", "address": "edge-1"},
    ]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10350}}
    assert status["nodeInfo"] == {
        "machineID": "m",
        "systemUUID": "u",
        "bootID": "b",
        "kernelVersion": "6.1.0",
        "osImage": "Debian GNU/Linux 12 (bookworm)",
        "containerRuntimeVersion": "containerd://1.7.2",
        "kubeletVersion": "v1.32.10-kedge-" + __version__,
        "kubeProxyVersion": "",
        "operatingSystem": "linux",
        "architecture": "arm64",
    }
    assert status["conditions"] == conds
    assert "v1.32.10-kedge-" + __version__ == KUBELET_VERSION
    # it is plain JSON: the message codec can carry it
    assert msgspec.json.decode(msgspec.json.encode(node)) == node
    assert "spec" in node_object("n", facts()) and node_object("n", facts())["spec"] == {}


def test_conditions_kubelet_texts_and_order():
    conds = node_conditions(NOW, ready=True)
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in conds] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    assert {c["lastHeartbeatTime"] for c in conds} == {"2026-11-22T09:00:00Z"}
    assert {c["lastTransitionTime"] for c in conds} == {"2026-11-22T09:00:00Z"}
    pressed = node_conditions(
        NOW,
        ready=False,
        reason="KubeletNotReady",
        message="container runtime is down",
        memory_pressure=True,
        disk_pressure=True,
        pid_pressure=True,
    )
    assert [(c["status"], c["reason"]) for c in pressed] == [
        ("True", "KubeletHasInsufficientMemory"),
        ("True", "KubeletHasDiskPressure"),
        ("True", "KubeletHasInsufficientPID"),
        ("False", "KubeletNotReady"),
    ]
    assert pressed[3]["message"] == "container runtime is down"
    assert node_conditions(NOW, ready=False)[3]["reason"] == "KubeletNotReady"


def test_transition_time_is_kept_until_the_status_changes():
    first = node_conditions(NOW, ready=True)
    later = NOW + timedelta(seconds=10)
    second = node_conditions(later, ready=True, previous=first)
    assert [c["lastTransitionTime"] for c in second] == ["2026-11-22T09:00:00Z"] * 4
    assert [c["lastHeartbeatTime"] for c in second] == ["2026-11-22T09:00:10Z"] * 4
    third = node_conditions(later + timedelta(seconds=5), ready=False, previous=second, disk_pressure=True)
    times = {c["type"]: c["lastTransitionTime"] for c in third}
    assert times == {
        "MemoryPressure": "2026-11-22T09:00:00Z",
        "DiskPressure": "2026-11-22T09:00:15Z",
        "PIDPressure": "2026-11-22T09:00:00Z",
        "Ready": "2026-11-22T09:00:15Z",
    }


def test_status_patch_is_a_json_string():
    status = {"conditions": node_conditions(NOW, ready=True), "capacity": {"cpu": "4"}}
    text = node_status_patch(status)
    assert isinstance(text, str)
    assert json.loads(text) == {"status": status}


def test_lease():
    lease = lease_object("edge-1", NOW, 40)
    assert lease == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "edge-1", "namespace": "kube-node-lease"},
        "spec": {
            "holderIdentity": "edge-1",
            "leaseDurationSeconds": 40,
            "renewTime": "2026-11-22T09:00:00.123456Z",
        },
    }
    owned = lease_object("edge-1", NOW, 40, node_uid="uid-9")
    assert owned["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "edge-1", "uid": "uid-9"}
    ]


def test_times_are_utc():
    cest = timezone(timedelta(hours=2))
    assert rfc3339_micro(datetime(2026, 11, 22, 11, 0, 0, tzinfo=cest)) == "2026-11-22T09:00:00.000000Z"
    assert rfc3339_micro(datetime(2026, 11, 22, 9, 0, 0)) == "2026-11-22T09:00:00.000000Z"  # naive = UTC
    assert node_conditions(datetime(2026, 1, 1, 1, 0, tzinfo=cest), ready=True)[0]["lastHeartbeatTime"] == (
        "2025-12-31T23:00:00Z"
    )
