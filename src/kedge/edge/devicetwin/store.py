"""DeviceTwin's tables in the edge database (KubeEdge's `device`, `device_attr`, `device_twin`).

The module keeps every device in memory and writes what a batch changed in ONE transaction before it
answers (`write`), so a result published on MQTT is on disk, and a kill at any moment leaves either
the whole batch or none of it. `synced_edge` is the reported version last handed to the cloud path
(EdgeHub's durable outbox): twins whose `actual_edge` is newer are sent when the cloud is back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kedge.edge.devicetwin.twins import Twin, Value, Version
from kedge.edge.sqlite import DatabaseError, open_wal
from kedge.model.metrics import Histogram

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'unknown',
    last_online TEXT NOT NULL DEFAULT '',
    state_synced INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS device_attr (
    deviceid TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (deviceid, name)
);
CREATE TABLE IF NOT EXISTS device_twin (
    deviceid TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    optional INTEGER NOT NULL,
    expected TEXT,
    expected_ts INTEGER NOT NULL DEFAULT 0,
    actual TEXT,
    actual_ts INTEGER NOT NULL DEFAULT 0,
    expected_cloud INTEGER NOT NULL DEFAULT 0,
    expected_edge INTEGER NOT NULL DEFAULT 0,
    actual_cloud INTEGER NOT NULL DEFAULT 0,
    actual_edge INTEGER NOT NULL DEFAULT 0,
    synced_edge INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (deviceid, name)
)
"""
_UPSERT_DEVICE = (
    "INSERT OR REPLACE INTO device (id, name, description, state, last_online, state_synced)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_TWIN = (
    "INSERT OR REPLACE INTO device_twin (deviceid, name, type, optional, expected, expected_ts, actual,"
    " actual_ts, expected_cloud, expected_edge, actual_cloud, actual_edge, synced_edge)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class DeviceRecord:
    """A device's state as stored: what the cloud's objects do not say."""

    id: str
    name: str
    description: str = ""
    state: str = "unknown"
    last_online: str = ""
    state_synced: bool = True
    attrs: dict[str, str] = field(default_factory=dict)
    twins: dict[str, Twin] = field(default_factory=dict)
    synced: dict[str, int] = field(default_factory=dict)  # twin → actual edge version handed to the cloud

    def unsynced(self) -> list[str]:
        return [k for k, t in self.twins.items() if t.actual_version.edge > self.synced.get(k, 0)]


def _twin_row(device_id: str, name: str, t: Twin, synced: int) -> tuple:
    e, a = t.expected, t.actual
    return (
        device_id,
        name,
        t.type,
        int(t.optional),
        None if e is None else e.value,
        0 if e is None else e.timestamp,
        None if a is None else a.value,
        0 if a is None else a.timestamp,
        t.expected_version.cloud,
        t.expected_version.edge,
        t.actual_version.cloud,
        t.actual_version.edge,
        synced,
    )


class TwinStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._conn = open_wal(self.path, _SCHEMA)
        #: Seconds each write's transaction took (one per DeviceTwin batch that changed devices).
        self.commit_latency = Histogram()

    def load(self) -> dict[str, DeviceRecord]:
        out: dict[str, DeviceRecord] = {}
        conn = self._conn
        for row in conn.execute("SELECT id, name, description, state, last_online, state_synced FROM device"):
            id_, name, desc, state, last, synced = row
            if not (isinstance(id_, str) and isinstance(name, str)):
                raise DatabaseError("%s: malformed device row %r" % (self.path, row))
            out[id_] = DeviceRecord(id_, name, str(desc), str(state), str(last), bool(synced))
        for dev, name, value in conn.execute("SELECT deviceid, name, value FROM device_attr"):
            rec = out.get(dev)
            if rec is not None:
                rec.attrs[name] = value
        for row in conn.execute(
            "SELECT deviceid, name, type, optional, expected, expected_ts, actual, actual_ts, expected_cloud,"
            " expected_edge, actual_cloud, actual_edge, synced_edge FROM device_twin"
        ):
            dev, name, type_, optional, exp, exp_ts, act, act_ts, ec, ee, ac, ae, synced = row
            rec = out.get(dev)
            if rec is None:
                continue  # a twin of a device whose row is gone: the next write of it replaces it
            if not isinstance(name, str) or not all(type(v) is int for v in (exp_ts, act_ts, ec, ee, ac, ae)):
                raise DatabaseError("%s: malformed device_twin row %r" % (self.path, row))
            rec.twins[name] = Twin(
                type=str(type_),
                optional=bool(optional),
                expected=None if exp is None else Value(str(exp), exp_ts),
                actual=None if act is None else Value(str(act), act_ts),
                expected_version=Version(ec, ee),
                actual_version=Version(ac, ae),
            )
            rec.synced[name] = int(synced)
        return out

    def write(self, records: list[DeviceRecord], removed: list[str] = ()) -> None:
        """Replace these devices' rows (and delete the `removed` ones) in one transaction."""
        if not records and not removed:
            return
        t0 = time.perf_counter()
        self._write(records, removed)
        self.commit_latency.observe(time.perf_counter() - t0)

    def _write(self, records: list[DeviceRecord], removed: list[str]) -> None:
        with self._conn:  # apsw: a transaction, rolled back on error
            cur = self._conn.cursor()
            ids = [(r.id,) for r in records] + [(i,) for i in removed]
            cur.executemany("DELETE FROM device_twin WHERE deviceid = ?", ids)
            cur.executemany("DELETE FROM device_attr WHERE deviceid = ?", ids)
            if removed:
                cur.executemany("DELETE FROM device WHERE id = ?", [(i,) for i in removed])
            if records:
                cur.executemany(
                    _UPSERT_DEVICE,
                    [
                        (r.id, r.name, r.description, r.state, r.last_online, int(r.state_synced))
                        for r in records
                    ],
                )
                cur.executemany(
                    "INSERT INTO device_attr (deviceid, name, value) VALUES (?, ?, ?)",
                    [(r.id, k, v) for r in records for k, v in r.attrs.items()],
                )
                cur.executemany(
                    _UPSERT_TWIN,
                    [_twin_row(r.id, k, t, r.synced.get(k, 0)) for r in records for k, t in r.twins.items()],
                )

    def close(self) -> None:
        self._conn.close()
