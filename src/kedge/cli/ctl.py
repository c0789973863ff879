"""`kedge ctl`: what this edge holds, read straight from the edge database (keadm's `keadm ctl`).

It works with edgecore stopped and the cloud gone: pods from MetaManager's `meta` table, devices and
twins from DeviceTwin's `device`/`device_attr`/`device_twin` tables and the Device objects beside them.
The database is opened read-only, so it is safe while edgecore runs: with edgecore's WAL present the
reader shares its locks; with no WAL (no connection open) it is read as immutable, leaving no `-wal`/
`-shm` files behind on an edge that is down (an edgecore starting mid-read commits to a new WAL, not to
the main file the reader sees).

Module-level imports stay light (the parser is built for every `kedge` command).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import apsw

    from kedge.edge.devicetwin.store import DeviceRecord

OUTPUTS = ("wide", "json", "yaml", "name")
_SNAPSHOT_BUSY_MS = 5000


class CtlError(Exception):
    """One line for stderr; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _not_found(kind: str, name: str) -> CtlError:
    # kubectl's wording, so habits (and scripts grepping for NotFound) carry over
    return CtlError('Error from server (NotFound): %s "%s" not found' % (kind, name))


# -- the database ------------------------------------------------------------------------------------


def database_path(config: str | None, db: str | None) -> str:
    """--db, else --config's database.dataSource, else /var/lib/kedge/edgecore.yaml's, else the default's."""
    if db:
        return db
    from kedge import config as kconfig
    from kedge.cli.join import DEFAULT_DATA_DIR, EDGECORE_YAML

    path = config
    if path is None:
        candidate = os.path.join(DEFAULT_DATA_DIR, EDGECORE_YAML)
        path = candidate if os.path.exists(candidate) else None
    if path is None:
        return kconfig.default_edgecore().database.data_source
    if not os.path.isfile(path):
        raise CtlError("error: no edgecore config at %s; pass --config <edgecore.yaml> or --db" % path)
    try:
        cfg, _ = kconfig.load_edgecore(os.fspath(path))
    except kconfig.ConfigError as e:
        raise CtlError("error: %s; fix the file or pass --db <edgecore.db>" % e) from None
    except OSError as e:
        raise CtlError(
            "error: cannot read %s: %s; pass --config <edgecore.yaml> or --db" % (path, e)
        ) from None
    return cfg.database.data_source


def open_readonly(path: str) -> apsw.Connection:
    """A read-only connection that never writes the file: shared WAL reading while a writer has the
    database open (its `-wal` exists), else immutable (no `-wal`/`-shm` created next to it)."""
    import urllib.parse

    import apsw

    if not os.path.isfile(path):
        raise CtlError("error: no edge database at %s; pass --config <edgecore.yaml> or --db" % path)
    live = os.path.exists(path + "-wal")
    uri = "file:%s?%s" % (urllib.parse.quote(os.path.abspath(path)), "mode=ro" if live else "immutable=1")
    try:
        conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
        conn.set_busy_timeout(_SNAPSHOT_BUSY_MS)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # fails here on a non-database
    except apsw.Error as e:
        raise CtlError(
            "error: cannot read the edge database %s: %s; run as the user edgecore runs as" % (path, e)
        ) from None
    return conn


@dataclass(slots=True)
class EdgeData:
    """One consistent snapshot of what the edge holds (the rows ctl needs)."""

    pods: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (namespace, Pod)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<ns>/<name>" → Device
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<ns>/<name>" → DeviceModel
    records: dict[str, DeviceRecord] = field(default_factory=dict)  # "<ns>/<name>" → twin tables' rows
    warnings: list[str] = field(default_factory=list)


def _tables(conn: apsw.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _meta_objects(conn: apsw.Connection, type_: str, data: EdgeData) -> list[tuple[str, dict[str, Any]]]:
    """(key, object) of one type in MetaManager's table, by key; undecodable rows become warnings."""
    import json

    out = []
    for key, value in conn.execute("SELECT key, value FROM meta WHERE type = ? ORDER BY key", (type_,)):
        try:
            obj = json.loads(value)
        except (TypeError, ValueError) as e:
            data.warnings.append("skipping meta row %s: not JSON (%s)" % (key, e))
            continue
        if isinstance(obj, dict):
            out.append((str(key), obj))
        else:
            data.warnings.append("skipping meta row %s: not a JSON object" % key)
    return out


def _records(conn: apsw.Connection, data: EdgeData) -> dict[str, DeviceRecord]:
    """DeviceTwin's rows, as `TwinStore.load` reads them (which needs a writable connection)."""
    from kedge.edge.devicetwin.store import DeviceRecord
    from kedge.edge.devicetwin.twins import Twin, Value, Version

    out: dict[str, DeviceRecord] = {}
    for id_, name, desc, state, last, synced in conn.execute(
        "SELECT id, name, description, state, last_online, state_synced FROM device"
    ):
        out[str(id_)] = DeviceRecord(str(id_), str(name), str(desc), str(state), str(last), bool(synced))
    for dev, name, value in conn.execute("SELECT deviceid, name, value FROM device_attr"):
        if dev in out:
            out[dev].attrs[str(name)] = str(value)
    for row in conn.execute(
        "SELECT deviceid, name, type, optional, expected, expected_ts, actual, actual_ts, expected_cloud,"
        " expected_edge, actual_cloud, actual_edge, synced_edge FROM device_twin ORDER BY deviceid, name"
    ):
        dev, name, type_, optional, exp, exp_ts, act, act_ts, ec, ee, ac, ae, synced = row
        rec = out.get(dev)
        if rec is None:
            continue
        try:
            rec.twins[str(name)] = Twin(
                type=str(type_),
                optional=bool(optional),
                expected=None if exp is None else Value(str(exp), int(exp_ts)),
                actual=None if act is None else Value(str(act), int(act_ts)),
                expected_version=Version(int(ec), int(ee)),
                actual_version=Version(int(ac), int(ae)),
            )
            rec.synced[str(name)] = int(synced)
        except (TypeError, ValueError):
            data.warnings.append("skipping malformed device_twin row of %s: %r" % (dev, row))
    return out


def read_edge(path: str, *, pods: bool = False, devices: bool = False) -> EdgeData:
    """Read the pods and/or the devices in one read transaction (one snapshot even while edgecore writes)."""
    from kedge.model import constants as c

    data = EdgeData()
    conn = open_readonly(path)
    try:
        conn.execute("BEGIN")
        tables = _tables(conn)
        if "meta" in tables:
            if pods:
                for key, obj in _meta_objects(conn, c.POD, data):
                    data.pods.append((key.split("/", 1)[0], obj))
            if devices:
                for kind, into in ((c.DEVICE, data.devices), (c.DEVICEMODEL, data.models)):
                    for key, obj in _meta_objects(conn, kind, data):
                        ns, _, name = key.split("/", 2)
                        into[ns + "/" + name] = obj
        if devices and {"device", "device_attr", "device_twin"} <= tables:
            data.records = _records(conn, data)
        conn.execute("COMMIT")
    except CtlError:
        raise
    except Exception as e:  # apsw.Error, a malformed row
        raise CtlError(
            "error: cannot read the edge database %s: %s; is it an edgecore database?" % (path, e)
        ) from None
    finally:
        conn.close()
    return data


# -- formatting --------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """kubectl's age format (k8s.io/apimachinery duration.HumanDuration)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        return "%dm" % minutes if s % 60 == 0 else "%dm%ds" % (minutes, s % 60)
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        return "%dh" % hours if minutes % 60 == 0 else "%dh%dm" % (hours, minutes % 60)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        return "%dd" % (hours // 24) if hours % 24 == 0 else "%dd%dh" % (hours // 24, hours % 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return "%dy" % years if days == 0 else "%dy%dd" % (years, days)
    return "%dy" % (hours // 24 // 365)


def _parse_time(ts: Any) -> float | None:
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def age(ts: Any, now: float) -> str:
    t = _parse_time(ts)
    return "<unknown>" if t is None else human_duration(now - t)


def age_ms(ms: int, now: float) -> str:
    return "<unknown>" if ms <= 0 else human_duration(now - ms / 1000)


def rfc3339_ms(ms: int) -> str:
    return (
        "<none>" if ms <= 0 else dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """kubectl's table: left-aligned columns three spaces apart, no trailing blanks."""
    rows = [list(headers)] + [[str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    return "".join(
        "".join(v.ljust(w + 3) for v, w in zip(r[:-1], widths, strict=False)) + r[-1] + "\n" for r in rows
    )


def _dump(obj: Any, output: str) -> str:
    if output == "json":
        import json

        return json.dumps(obj, indent=4, ensure_ascii=False) + "\n"
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _emit(objs: list[dict[str, Any]], output: str, single: bool, kind: str) -> str:
    if output == "name":
        return "".join("%s/%s\n" % (kind, (o.get("metadata") or {}).get("name", "")) for o in objs)
    return _dump(objs[0] if single else _as_list(objs), output)


def _no_resources(all_ns: bool, ns: str) -> None:
    print("No resources found" if all_ns else "No resources found in %s namespace." % ns, file=sys.stderr)


# -- pods --------------------------------------------------------------------------------------------


def pod_ready_status(pod: dict[str, Any]) -> tuple[int, int, str, int]:
    """(ready, total, STATUS, restarts) the way `kubectl get pods` computes them (printPod)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    total = len(spec.get("containers") or [])
    reason = status.get("reason") or status.get("phase") or "Unknown"
    restarts = ready = 0
    initializing = False
    inits = status.get("initContainerStatuses") or []
    for i, cs in enumerate(inits):
        restarts += int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        initializing = True
        if term:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = "Init:Signal:%d" % term["signal"]
            else:
                reason = "Init:ExitCode:%d" % int(term.get("exitCode") or 0)
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(spec.get("initContainers") or inits))
        break
    if not initializing:
        restarts = 0
        running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            state = cs.get("state") or {}
            term, wait = state.get("terminated"), state.get("waiting")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = (
                    "Signal:%d" % term["signal"]
                    if term.get("signal")
                    else "ExitCode:%d" % int(term.get("exitCode") or 0)
                )
            elif cs.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            conds = status.get("conditions") or []
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
            reason = "Running" if pod_ready else "NotReady"
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return ready, total, reason, restarts


def render_pods(pods: list[tuple[str, dict[str, Any]]], output: str, all_ns: bool, now: float) -> str:
    headers = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if all_ns:
        headers.insert(0, "NAMESPACE")
    if output == "wide":
        headers += ["IP", "NODE"]
    rows = []
    for ns, pod in pods:
        meta = pod.get("metadata") or {}
        ready, total, reason, restarts = pod_ready_status(pod)
        row = [meta.get("name", ""), "%d/%d" % (ready, total), reason, str(restarts)]
        row.append(age(meta.get("creationTimestamp"), now))
        if all_ns:
            row.insert(0, ns)
        if output == "wide":
            row += [
                (pod.get("status") or {}).get("podIP") or "<none>",
                (pod.get("spec") or {}).get("nodeName") or "<none>",
            ]
        rows.append(row)
    return table(headers, rows)


def cmd_get_pods(args: argparse.Namespace, now: float) -> str:
    data = read_edge(_db(args), pods=True)
    _warn(data)
    all_ns = args.all_namespaces and not args.name
    pods = [(ns, p) for ns, p in data.pods if all_ns or ns == args.namespace]
    if args.name:
        pods = [(ns, p) for ns, p in pods if (p.get("metadata") or {}).get("name") == args.name]
        if not pods:
            raise _not_found("pods", args.name)
    elif not pods:
        _no_resources(all_ns, args.namespace)
        return ""
    if args.output in ("json", "yaml", "name"):
        return _emit([p for _, p in pods], args.output, bool(args.name), "pod")
    return render_pods(pods, args.output or "", all_ns, now)


# -- devices -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class EdgeDevice:
    """A device as the edge knows it: the cloud's Device object (if held) and DeviceTwin's rows (if any)."""

    namespace: str
    name: str
    obj: dict[str, Any] | None
    record: DeviceRecord | None
    model: dict[str, Any] | None

    @property
    def spec(self) -> dict[str, Any]:
        return (self.obj or {}).get("spec") or {}

    @property
    def model_name(self) -> str:
        return str((self.spec.get("deviceModelRef") or {}).get("name") or "")

    @property
    def protocol(self) -> str:
        return str((self.spec.get("protocol") or {}).get("protocolName") or "")

    def twin_names(self) -> list[str]:
        """Twins DeviceTwin holds, then properties the Device lists that have no twin row yet."""
        names = list(self.record.twins) if self.record else []
        for p in self.spec.get("properties") or []:
            if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"] not in names:
                names.append(p["name"])
        return names


def edge_devices(data: EdgeData) -> list[EdgeDevice]:
    out = []
    for id_ in sorted(set(data.devices) | set(data.records)):
        ns, _, name = id_.partition("/")
        obj = data.devices.get(id_)
        dev = EdgeDevice(ns, name, obj, data.records.get(id_), None)
        if dev.model_name:
            dev.model = data.models.get(ns + "/" + dev.model_name)
        out.append(dev)
    return out


def _select_devices(args: argparse.Namespace, data: EdgeData, name: str | None) -> list[EdgeDevice]:
    devs = [
        d for d in edge_devices(data) if (args.all_namespaces and not name) or d.namespace == args.namespace
    ]
    if name:
        devs = [d for d in devs if d.name == name]
        if not devs:
            raise _not_found("devices", name)
    return devs


def _reported_status(dev: EdgeDevice) -> dict[str, Any]:
    """Device.status as the edge sees it (KubeEdge's v1beta1 shape), from DeviceTwin's rows."""
    rec = dev.record
    if rec is None:
        return {}
    twins = []
    for pname, t in rec.twins.items():
        item: dict[str, Any] = {"propertyName": pname}
        if t.actual is not None:
            item["reported"] = {
                "value": t.actual.value,
                "metadata": {"timestamp": str(t.actual.timestamp), "type": t.type},
            }
        if t.expected is not None:
            item["observedDesired"] = {
                "value": t.expected.value,
                "metadata": {"timestamp": str(t.expected.timestamp), "type": t.type},
            }
        twins.append(item)
    out: dict[str, Any] = {"state": rec.state, "twins": twins}
    if rec.last_online:
        out["lastOnlineTime"] = rec.last_online
    return out


def device_object(dev: EdgeDevice) -> dict[str, Any]:
    """The Device (as the cloud sent it, or a skeleton) with `status` from the edge's twin tables."""
    import copy

    obj = copy.deepcopy(dev.obj) if dev.obj is not None else None
    if obj is None:
        obj = {
            "apiVersion": "devices.kubeedge.io/v1beta1",
            "kind": "Device",
            "metadata": {"name": dev.name, "namespace": dev.namespace},
        }
    status = _reported_status(dev)
    if status:
        obj["status"] = {**(obj.get("status") or {}), **status}
    return obj


def cmd_get_devices(args: argparse.Namespace, now: float) -> str:
    data = read_edge(_db(args), devices=True)
    _warn(data)
    devs = _select_devices(args, data, args.name)
    if not devs:
        _no_resources(args.all_namespaces, args.namespace)
        return ""
    if args.output in ("json", "yaml", "name"):
        return _emit([device_object(d) for d in devs], args.output, bool(args.name), "device")
    all_ns = args.all_namespaces and not args.name
    headers = ["NAME", "MODEL", "PROTOCOL", "STATE", "TWINS", "AGE"]
    if all_ns:
        headers.insert(0, "NAMESPACE")
    if args.output == "wide":
        headers += ["NODE", "LAST ONLINE"]
    rows = []
    for d in devs:
        row = [
            d.name,
            d.model_name or "<none>",
            d.protocol or "<none>",
            d.record.state if d.record else "<unknown>",
            str(len(d.twin_names())),
            age(((d.obj or {}).get("metadata") or {}).get("creationTimestamp"), now),
        ]
        if all_ns:
            row.insert(0, d.namespace)
        if args.output == "wide":
            row += [
                d.spec.get("nodeName") or "<none>",
                (d.record.last_online if d.record else "") or "<none>",
            ]
        rows.append(row)
    return table(headers, rows)


# -- twins -------------------------------------------------------------------------------------------


def _twin_rows(dev: EdgeDevice) -> list[dict[str, Any]]:
    """One entry per property: the twin tables' values, else the Device's desired value alone."""
    desired_spec = {
        p["name"]: (p.get("desired") or {}).get("value")
        for p in dev.spec.get("properties") or []
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    }
    out = []
    for pname in dev.twin_names():
        t = dev.record.twins.get(pname) if dev.record else None
        item: dict[str, Any] = {"namespace": dev.namespace, "device": dev.name, "property": pname}
        if t is None:
            v = desired_spec.get(pname)
            item["desired"] = None if v is None else {"value": str(v), "timestamp": 0}
            item["reported"] = None
        else:
            item["type"] = t.type
            item["desired"] = (
                None if t.expected is None else {"value": t.expected.value, "timestamp": t.expected.timestamp}
            )
            item["reported"] = (
                None if t.actual is None else {"value": t.actual.value, "timestamp": t.actual.timestamp}
            )
            item["desiredVersion"] = t.expected_version.to_json()
            item["reportedVersion"] = t.actual_version.to_json()
            item["syncedToCloud"] = t.actual_version.edge <= dev.record.synced.get(pname, 0)
        out.append(item)
    return out


def cmd_get_twins(args: argparse.Namespace, now: float) -> str:
    data = read_edge(_db(args), devices=True)
    _warn(data)
    devs = _select_devices(args, data, args.name)
    items = [row for d in devs for row in _twin_rows(d)]
    if not items:
        if args.output in ("json", "yaml"):
            return _dump(_as_list([]), args.output)
        _no_resources(args.all_namespaces and not args.name, args.namespace)
        return ""
    if args.output in ("json", "yaml"):
        return _dump(_as_list(items), args.output)
    if args.output == "name":
        return "".join("twin/%s/%s\n" % (it["device"], it["property"]) for it in items)
    all_ns = args.all_namespaces and not args.name
    headers = ["DEVICE", "PROPERTY", "DESIRED", "REPORTED", "UPDATED"]
    if all_ns:
        headers.insert(0, "NAMESPACE")
    if args.output == "wide":
        headers += ["TYPE", "DESIRED AT", "REPORTED AT", "SYNCED"]
    rows = []
    for it in items:
        d, r = it["desired"], it["reported"]
        latest = max((v["timestamp"] for v in (d, r) if v), default=0)
        row = [
            it["device"],
            it["property"],
            "<none>" if d is None else d["value"],
            "<none>" if r is None else r["value"],
            age_ms(latest, now),
        ]
        if all_ns:
            row.insert(0, it["namespace"])
        if args.output == "wide":
            row += [
                it.get("type", "<unknown>"),
                rfc3339_ms(d["timestamp"] if d else 0),
                rfc3339_ms(r["timestamp"] if r else 0),
                {True: "yes", False: "no"}.get(it.get("syncedToCloud"), "<unknown>"),
            ]
        rows.append(row)
    return table(headers, rows)


# -- describe ----------------------------------------------------------------------------------------


def describe_device(dev: EdgeDevice, now: float) -> str:
    """kubectl-describe-like text of one device: the object's fields and each property's twin."""
    import json

    from kedge.edge.devicetwin.entries import DeviceSpecError, device_info

    lines: list[str] = []

    def put(label: str, value: Any, indent: int = 0) -> None:
        lines.append("%s%-18s%s" % ("  " * indent, label + ":", value))

    meta = (dev.obj or {}).get("metadata") or {}
    rec = dev.record
    put("Name", dev.name)
    put("Namespace", dev.namespace)
    labels = meta.get("labels") or {}
    put("Labels", ",".join("%s=%s" % kv for kv in sorted(labels.items())) if labels else "<none>")
    put("Model", dev.model_name or "<none>")
    put("Node", dev.spec.get("nodeName") or "<none>")
    proto = dev.spec.get("protocol") or {}
    put("Protocol", dev.protocol or "<none>")
    for k, v in proto.items():
        if k != "protocolName":
            put(k, json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v, 1)
    if meta.get("creationTimestamp"):
        put("Created", "%s (%s ago)" % (meta["creationTimestamp"], age(meta["creationTimestamp"], now)))
    put("Resource Version", meta.get("resourceVersion") or "<none>")
    if dev.obj is None:
        put("Device Object", "<not held: only DeviceTwin's rows remain>")
    if rec is not None:
        put("State", rec.state + ("" if rec.state_synced else " (not yet reported to the cloud)"))
        put("Last Online", rec.last_online or "<none>")
        if rec.description:
            put("Description", rec.description)
        if rec.attrs:
            lines.append("Attributes:")
            for k, v in sorted(rec.attrs.items()):
                put(k, v, 1)
    else:
        put("State", "<no DeviceTwin rows>")
    infos: dict[str, Any] = {}
    if dev.obj is not None:
        try:
            infos = device_info(dev.obj, dev.model).properties
        except DeviceSpecError as e:
            put("Spec Error", str(e))
    names = dev.twin_names() + [n for n in infos if n not in dev.twin_names()]
    lines.append("Properties:" + ("" if names else "  <none>"))
    for pname in names:
        lines.append("  %s:" % pname)
        info = infos.get(pname)
        t = rec.twins.get(pname) if rec else None
        put("Type", t.type if t else info.type if info else "<unknown>", 2)
        if info is not None:
            put("Access Mode", info.access_mode, 2)
            for label, v in (("Minimum", info.minimum), ("Maximum", info.maximum), ("Unit", info.unit)):
                if v:
                    put(label, v, 2)
            put("Collect Cycle", "%gs" % (info.collect_cycle / 1e9), 2)
            put("Report Cycle", "%gs" % (info.report_cycle / 1e9), 2)
            put("Report To Cloud", str(info.report_to_cloud).lower(), 2)
            if info.visitors:
                put("Visitors", json.dumps(info.visitors, sort_keys=True), 2)
        if t is None:
            desired = info.desired if info else None
            put("Desired", "<none>" if desired is None else "%s (from the Device; no twin row)" % desired, 2)
            put("Reported", "<none>", 2)
            continue
        for label, v, ver in (
            ("Desired", t.expected, t.expected_version),
            ("Reported", t.actual, t.actual_version),
        ):
            if v is None:
                put(label, "<none>", 2)
            else:
                put(
                    label,
                    "%s (at %s, version cloud=%d edge=%d)"
                    % (v.value, rfc3339_ms(v.timestamp), ver.cloud, ver.edge),
                    2,
                )
        synced = t.actual_version.edge <= rec.synced.get(pname, 0)
        put("Cloud Sync", "up to date" if synced else "pending (reported value not yet sent to the cloud)", 2)
    return "\n".join(lines) + "\n"


def cmd_describe_device(args: argparse.Namespace, now: float) -> str:
    data = read_edge(_db(args), devices=True)
    _warn(data)
    args.all_namespaces = False
    (dev,) = _select_devices(args, data, args.name)
    return describe_device(dev, now)


# -- wiring ------------------------------------------------------------------------------------------


def _db(args: argparse.Namespace) -> str:
    return database_path(args.config, args.db)


def _warn(data: EdgeData) -> None:
    for w in data.warnings:
        print("warning: %s" % w, file=sys.stderr)


def _run(fn: Callable[[argparse.Namespace, float], str]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            out = fn(args, time.time())
        except CtlError as e:
            print(e.message, file=sys.stderr)
            return e.code
        sys.stdout.write(out)
        return 0

    return run


def _common(p: argparse.ArgumentParser, namespaces: bool = True, output: bool = True) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", help="edgecore.yaml whose database.dataSource to read")
    src.add_argument("--db", help="the edge database file (default: from /var/lib/kedge/edgecore.yaml)")
    p.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    if namespaces:
        p.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    if output:
        p.add_argument("-o", "--output", choices=OUTPUTS, help="wide, json, yaml or name")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    cp = sub.add_parser(
        "ctl",
        help="inspect what this edge holds (reads the edge database; works offline)",
        description="Read the edge database directly: works with edgecore stopped or the cloud gone, "
        "and is safe while edgecore runs (read-only).",
    )
    csub = cp.add_subparsers(dest="ctl_command", required=True, metavar="COMMAND")
    gp = csub.add_parser("get", help="list pods, devices or twins the edge holds")
    gsub = gp.add_subparsers(dest="resource", required=True, metavar="RESOURCE")
    for name, aliases, help_, fn in (
        ("pods", ["pod", "po"], "pods MetaManager holds", cmd_get_pods),
        ("devices", ["device", "dev"], "devices DeviceTwin holds", cmd_get_devices),
        ("twins", ["twin"], "one row per device property (desired and reported values)", cmd_get_twins),
    ):
        rp = gsub.add_parser(name, aliases=aliases, help=help_)
        rp.add_argument("name", nargs="?", metavar="DEVICE" if name == "twins" else "NAME")
        _common(rp)
        rp.set_defaults(func=_run(fn))
    dp = csub.add_parser("describe", help="show one object in detail")
    dsub = dp.add_subparsers(dest="resource", required=True, metavar="RESOURCE")
    ddp = dsub.add_parser("device", aliases=["devices", "dev"], help="a device and its twins")
    ddp.add_argument("name", metavar="NAME")
    _common(ddp, namespaces=False, output=False)
    ddp.set_defaults(func=_run(cmd_describe_device), all_namespaces=False)
