"""`kedge ctl` against a real edge database written by kedge's own stores: MetaManager's MetaStore holds
the pods, Devices and DeviceModels as the cloud sent them; DeviceTwin's engine and TwinStore write the
twin tables. The command runs in-process (kedge.cli.main.main) and once as `python -m kedge`."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedge.cli import ctl
from kedge.cli.main import main
from kedge.edge.devicetwin.engine import Effects, TwinEngine
from kedge.edge.devicetwin.store import TwinStore
from kedge.edge.metamanager.store import MetaStore
from tests.unit.edge.test_devicetwin_engine import MODEL, NODE, device

REPO = Path(__file__).resolve().parents[3]


#: The clock of this module: the database is built at NOW and the commands run at NOW (ages are exact,
#: however long the suite takes between the fixture and a test).
NOW = time.time()


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from kedge.cli import ctl

    monkeypatch.setattr(ctl, "time", types.SimpleNamespace(time=lambda: NOW))


def _ago(seconds: float) -> str:
    return dt.datetime.fromtimestamp(NOW - seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(ns: str, name: str, status: dict[str, Any], *, containers: int = 1, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": "uid-" + name,
            "resourceVersion": "7",
            "creationTimestamp": _ago(3 * 86400 + 60),
        },
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "c%d" % i, "image": "nginx"} for i in range(containers)],
            **spec,
        },
        "status": status,
    }


def _running(name: str, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "ready": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": _ago(100)}},
    }


PODS = [
    pod(
        "default",
        "nginx",
        {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [_running("c0", 2)]},
    ),
    pod(
        "default",
        "crash",
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "c0",
                    "ready": False,
                    "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    ),
    pod(
        "kube-system",
        "init-pod",
        {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "i0", "ready": False, "restartCount": 0, "state": {"running": {}}}
            ],
        },
        initContainers=[{"name": "i0", "image": "busybox"}],
    ),
    pod(
        "batch",
        "job-1",
        {
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "c0",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                }
            ],
        },
    ),
]

THERMO_MODEL = {
    "apiVersion": "devices.kubeedge.io/v1beta1",
    "kind": "DeviceModel",
    "metadata": {"name": "thermo-model", "namespace": "factory"},
    "spec": {"properties": [{"name": "temperature", "type": "FLOAT", "unit": "C"}]},
}
THERMO = {
    "apiVersion": "devices.kubeedge.io/v1beta1",
    "kind": "Device",
    "metadata": {
        "name": "thermo",
        "namespace": "factory",
        "resourceVersion": "3",
        "creationTimestamp": _ago(7200),
    },
    "spec": {
        "deviceModelRef": {"name": "thermo-model"},
        "nodeName": NODE,
        "protocol": {"protocolName": "modbus", "configData": {"slaveID": 1}},
        "properties": [{"name": "temperature", "visitors": {"register": "HoldingRegister", "offset": 2}}],
    },
}


def counter() -> dict[str, Any]:
    d = copy.deepcopy(device(desired="ON", rv=12))
    d["metadata"]["creationTimestamp"] = _ago(3600)
    return d


def _put(store: MetaStore, obj: dict[str, Any], type_: str) -> None:
    meta = obj["metadata"]
    raw = json.dumps(obj).encode()
    store.put("%s/%s/%s" % (meta["namespace"], type_, meta["name"]), type_, raw, int(meta["resourceVersion"]))


def _twin_request(engine: TwinEngine, dev_id: str, twin: dict[str, Any], now: int) -> Effects:
    fx = Effects()
    payload = json.dumps({"event_id": "e", "timestamp": now, "twin": twin}).encode()
    engine.request("$hw/events/device/%s/twin/update" % dev_id, payload, now, fx)
    return fx


def build_edge_db(path: Path) -> None:
    """What edgecore leaves on disk: MetaManager's objects and DeviceTwin's rows (reported values set)."""
    now = int(NOW * 1000) - 30_000
    with MetaStore(path) as meta:
        for p in PODS:
            _put(meta, p, "pod")
        for m in (MODEL, THERMO_MODEL):
            _put(meta, {**m, "metadata": {**m["metadata"], "resourceVersion": "1"}}, "devicemodel")
        for d in (counter(), THERMO):
            _put(meta, d, "device")
        meta.commit()
    twins = TwinStore(path)
    try:
        engine = TwinEngine(NODE)
        fx = Effects()
        engine.model_changed(MODEL, now, fx)
        engine.model_changed(THERMO_MODEL, now, fx)
        engine.device_changed(counter(), now, fx)
        engine.device_changed(THERMO, now, fx)
        _twin_request(engine, "default/counter", {"temp": {"actual": {"value": "21"}}}, now + 1000)
        _twin_request(engine, "factory/thermo", {"temperature": {"actual": {"value": "36.5"}}}, now + 2000)
        engine.records["default/counter"].state = "online"
        twins.write(list(engine.records.values()))
    finally:
        twins.close()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("edge") / "edgecore.db"
    build_edge_db(path)
    assert not os.path.exists(str(path) + "-wal")  # closed cleanly: what a stopped edgecore leaves
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["ctl", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def rows(out: str) -> list[list[str]]:
    """A kubectl table's cells (columns are at least three spaces apart; cells hold no such run)."""
    import re

    return [re.split(r" {3,}", line.strip()) for line in out.splitlines()]


# -- pods ----------------------------------------------------------------------------------------------


def test_get_pods_in_the_default_namespace(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "get", "pods", "--db", str(db))
    assert rc == 0, err
    assert rows(out) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["crash", "0/1", "CrashLoopBackOff", "5", "3d"],
        ["nginx", "1/1", "Running", "2", "3d"],
    ]


def test_get_pods_all_namespaces_and_wide(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "get", "pods", "-A", "-o", "wide", "--db", str(db))
    assert rc == 0
    table = rows(out)
    assert table[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert table[1:] == [
        ["batch", "job-1", "0/1", "Completed", "0", "3d", "<none>", NODE],
        ["default", "crash", "0/1", "CrashLoopBackOff", "5", "3d", "<none>", NODE],
        ["default", "nginx", "1/1", "Running", "2", "3d", "10.0.0.5", NODE],
        ["kube-system", "init-pod", "0/1", "Init:0/1", "0", "3d", "<none>", NODE],
    ]


def test_get_pods_other_namespace_and_empty(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "get", "po", "-n", "kube-system", "--db", str(db))
    assert rc == 0 and [r[0] for r in rows(out)] == ["NAME", "init-pod"]
    rc, out, err = run(capsys, "get", "pods", "-n", "nothing-here", "--db", str(db))
    assert (rc, out, err) == (0, "", "No resources found in nothing-here namespace.\n")


def test_get_pods_json_and_yaml_parse_back(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "get", "pods", "-A", "-o", "json", "--db", str(db))
    assert rc == 0
    listed = json.loads(out)
    assert listed["kind"] == "List"
    assert sorted(p["metadata"]["name"] for p in listed["items"]) == sorted(
        p["metadata"]["name"] for p in PODS
    )
    rc, out, _ = run(capsys, "get", "pods", "nginx", "-o", "yaml", "--db", str(db))
    assert rc == 0
    assert yaml.safe_load(out) == PODS[0]
    rc, out, _ = run(capsys, "get", "pods", "-o", "name", "--db", str(db))
    assert out == "pod/crash\npod/nginx\n"


def test_get_pod_not_found(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "get", "pods", "init-pod", "--db", str(db))  # it is in kube-system
    assert (rc, out, err) == (1, "", 'Error from server (NotFound): pods "init-pod" not found\n')


# -- devices and twins -------------------------------------------------------------------------------


def test_get_devices(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "get", "devices", "--db", str(db))
    assert rc == 0, err
    assert rows(out) == [
        ["NAME", "MODEL", "PROTOCOL", "STATE", "TWINS", "AGE"],
        ["counter", "counter-model", "virtualProtocol", "online", "2", "60m"],
    ]
    rc, out, _ = run(capsys, "get", "dev", "-A", "-o", "wide", "--db", str(db))
    assert rows(out) == [
        ["NAMESPACE", "NAME", "MODEL", "PROTOCOL", "STATE", "TWINS", "AGE", "NODE", "LAST ONLINE"],
        ["default", "counter", "counter-model", "virtualProtocol", "online", "2", "60m", NODE, "<none>"],
        ["factory", "thermo", "thermo-model", "modbus", "unknown", "1", "120m", NODE, "<none>"],
    ]


def test_get_devices_json_carries_the_edge_status(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "get", "devices", "thermo", "-n", "factory", "-o", "json", "--db", str(db))
    assert rc == 0
    obj = json.loads(out)
    assert obj["spec"] == THERMO["spec"]
    assert obj["status"]["state"] == "unknown"
    (twin,) = obj["status"]["twins"]
    assert twin["propertyName"] == "temperature"
    assert twin["reported"]["value"] == "36.5"
    rc, out, _ = run(capsys, "get", "devices", "-A", "-o", "yaml", "--db", str(db))
    items = yaml.safe_load(out)["items"]
    assert [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in items] == [
        ("default", "counter"),
        ("factory", "thermo"),
    ]


def test_get_twins(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "get", "twins", "counter", "--db", str(db))
    assert rc == 0, err
    table = rows(out)
    assert table[0] == ["DEVICE", "PROPERTY", "DESIRED", "REPORTED", "UPDATED"]
    assert [r[:4] for r in table[1:]] == [
        ["counter", "status", "ON", "<none>"],
        ["counter", "temp", "<none>", "21"],
    ]
    assert all(r[4].endswith("s") for r in table[1:])  # written about half a minute ago
    rc, out, _ = run(capsys, "get", "twins", "-A", "--db", str(db))
    assert [(r[0], r[1], r[2]) for r in rows(out)[1:]] == [
        ("default", "counter", "status"),
        ("default", "counter", "temp"),
        ("factory", "thermo", "temperature"),
    ]
    rc, out, _ = run(capsys, "get", "twins", "-n", "factory", "-o", "json", "--db", str(db))
    (item,) = json.loads(out)["items"]
    assert item["device"] == "thermo" and item["reported"]["value"] == "36.5" and item["type"] == "float"
    assert item["syncedToCloud"] is False  # never handed to the cloud: the edge was offline


def test_get_twins_of_an_unknown_device(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "get", "twins", "thermo", "--db", str(db))  # default namespace
    assert (rc, out, err) == (1, "", 'Error from server (NotFound): devices "thermo" not found\n')


def test_describe_device(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "describe", "device", "thermo", "-n", "factory", "--db", str(db))
    assert rc == 0, err
    fields = {}
    for line in out.splitlines():
        label, _, value = line.strip().partition(":")
        fields.setdefault(label, value.strip())
    assert fields["Name"] == "thermo"
    assert fields["Namespace"] == "factory"
    assert fields["Model"] == "thermo-model"
    assert fields["Node"] == NODE
    assert fields["Protocol"] == "modbus"
    assert fields["configData"] == '{"slaveID": 1}'
    assert fields["Unit"] == "C"
    assert fields["Desired"] == "<none>"
    assert fields["Reported"].startswith("36.5 (at 20")
    assert "pending" in fields["Cloud Sync"]
    assert '"offset": 2' in fields["Visitors"]
    rc, out, _ = run(capsys, "describe", "device", "counter", "--db", str(db))
    assert rc == 0 and "  status:" in out and "  temp:" in out and "ON (at " in out


def test_describe_device_not_found(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "describe", "device", "nope", "--db", str(db))
    assert (rc, out, err) == (1, "", 'Error from server (NotFound): devices "nope" not found\n')


# -- the database --------------------------------------------------------------------------------------


def test_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.db"
    rc, out, err = run(capsys, "get", "pods", "--db", str(missing))
    assert (rc, out) == (1, "")
    assert err == "error: no edge database at %s; pass --config <edgecore.yaml> or --db\n" % missing
    assert not missing.exists()
    rc, out, err = run(capsys, "get", "twins", "--config", str(tmp_path / "edgecore.yaml"))
    assert (rc, out) == (1, "")
    assert err == "error: no edgecore config at %s; pass --config <edgecore.yaml> or --db\n" % (
        tmp_path / "edgecore.yaml"
    )


def test_config_names_the_database(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "edgecore.yaml"
    cfg.write_text(
        "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\ndatabase:\n  dataSource: %s\n" % db
    )
    rc, out, err = run(capsys, "get", "pods", "nginx", "-o", "name", "--config", str(cfg))
    assert (rc, out, err) == (0, "pod/nginx\n", "")


def test_default_location(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No flags: the config `kedge join` wrote (<data dir>/edgecore.yaml), else the default config's."""
    from kedge import config
    from kedge.cli import join

    monkeypatch.setattr(join, "DEFAULT_DATA_DIR", str(tmp_path))
    rc, _, err = run(capsys, "get", "pods")
    assert rc == 1
    assert err.startswith("error: no edge database at %s;" % config.default_edgecore().database.data_source)
    (tmp_path / "edgecore.yaml").write_text("database:\n  dataSource: %s\n" % db)
    assert run(capsys, "get", "pods", "-o", "name") == (0, "pod/crash\npod/nginx\n", "")


def test_reading_leaves_a_stopped_edge_untouched(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (db.read_bytes(), db.stat().st_mtime_ns, sorted(os.listdir(db.parent)))
    for argv in (["get", "pods", "-A"], ["get", "devices", "-A"], ["get", "twins", "-A"]):
        assert run(capsys, *argv, "--db", str(db))[0] == 0
    assert run(capsys, "describe", "device", "counter", "--db", str(db))[0] == 0
    assert (db.read_bytes(), db.stat().st_mtime_ns, sorted(os.listdir(db.parent))) == before


def test_reads_while_edgecore_holds_the_wal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "edgecore.db"
    build_edge_db(path)
    meta = MetaStore(path)  # a running edgecore: the lock, an open connection, commits in the WAL
    twins = TwinStore(path)
    try:
        _put(meta, pod("default", "late", {"phase": "Pending"}), "pod")
        meta.commit()
        assert os.path.getsize(str(path) + "-wal") > 0
        main_bytes = path.read_bytes()
        rc, out, err = run(capsys, "get", "pods", "--db", str(path), "-o", "name")
        assert (rc, err) == (0, "")
        assert out == "pod/crash\npod/late\npod/nginx\n"  # the WAL's commit is seen
        assert run(capsys, "get", "twins", "-A", "--db", str(path))[0] == 0
        assert path.read_bytes() == main_bytes
        # the writer is not disturbed: it still commits, and the next read sees that too
        meta.delete("default/pod/late")
        meta.delete("default/device/counter")  # the cloud deleted the device: both stores drop it
        meta.commit()
        twins.write([], removed=["default/counter"])
        assert run(capsys, "get", "pods", "--db", str(path), "-o", "name")[1] == "pod/crash\npod/nginx\n"
        assert (
            run(capsys, "get", "devices", "--db", str(path))[2]
            == "No resources found in default namespace.\n"
        )
    finally:
        twins.close()
        meta.close()


def test_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "edgecore.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    rc, _, err = run(capsys, "get", "pods", "--db", str(bad))
    assert rc == 1 and err.startswith("error: cannot read the edge database %s" % bad)


def test_human_duration_matches_kubectl() -> None:
    cases = {
        -5: "<invalid>",
        0: "0s",
        119: "119s",
        120: "2m",
        185: "3m5s",
        600: "10m",
        3 * 3600: "3h",
        3 * 3600 + 120: "3h2m",
        30 * 3600: "30h",
        3 * 86400: "3d",
        3 * 86400 + 7200: "3d2h",
        30 * 86400: "30d",
        3 * 365 * 86400 + 5 * 86400: "3y5d",
        10 * 365 * 86400: "10y",
    }
    assert {s: ctl.human_duration(s) for s in cases} == cases


# -- the real command line ---------------------------------------------------------------------------


def test_subprocess_cli(db: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "kedge", "ctl", "get", "twins", "-A", "-o", "yaml", "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    items = yaml.safe_load(done.stdout)["items"]
    assert [(i["device"], i["property"]) for i in items] == [
        ("counter", "status"),
        ("counter", "temp"),
        ("thermo", "temperature"),
    ]
    missing = subprocess.run(
        [sys.executable, "-m", "kedge", "ctl", "get", "pods", "--db", str(db) + ".nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no edge database at ")
