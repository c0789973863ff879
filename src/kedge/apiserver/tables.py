"""`meta.k8s.io/v1` Table responses: what `kubectl get` asks for and prints.

kubectl sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...` and prints the columns the
server defines. Cells are computed the way kube-apiserver computes them: built-in kinds by their printer
functions (kedge.apiserver.builtin), CRDs by evaluating `additionalPrinterColumns` JSONPaths and typing
the result as declared, with `date` columns rendered as an age like `5m3s`.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kedge.apiserver import jsonpath
from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import PrinterColumn, ResourceInfo

INCLUDE_OBJECT = ("None", "Metadata", "Object")
NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated."
)
_NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": NAME_DESCRIPTION,
    "priority": 0,
}

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def to_table(
    info: ResourceInfo,
    objects: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    include_object: str = "Metadata",
    list_meta: Mapping[str, Any] | None = None,
    table_version: str = "v1",
    no_headers: bool = False,
) -> dict[str, Any]:
    """A Table of `objects` (stored objects of `info`'s kind).

    include_object: "Metadata" puts a PartialObjectMetadata in each row, "Object" the object itself,
    "None" nothing. list_meta: the list's metadata (resourceVersion, continue, remainingItemCount); when
    omitted, a single object's resourceVersion is used. table_version: "v1" or "v1beta1" (meta.k8s.io).
    no_headers: leave out the column definitions, as watch events after the first do.
    """
    if include_object not in INCLUDE_OBJECT:
        raise ApiError.bad_request('unrecognized includeObject value: "%s"' % include_object)
    if table_version not in ("v1", "v1beta1"):
        raise ApiError.not_acceptable("no Table exists in group version meta.k8s.io/%s" % table_version)
    api_version = "meta.k8s.io/" + table_version
    columns = list(info.printer_columns)
    leading_name = not any(c.format == "name" for c in columns)

    rows = []
    for obj in objects:
        cells: list[Any] = [str(obj.get("metadata", {}).get("name", ""))] if leading_name else []
        cells.extend(cell(column, obj, now) for column in columns)
        row: dict[str, Any] = {"cells": cells}
        if info.row_conditions is not None:
            conditions = info.row_conditions(obj)
            if conditions:
                row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "Metadata":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": api_version,
                "metadata": dict(obj.get("metadata") or {}),
            }
        rows.append(row)

    metadata: dict[str, Any] = {}
    if list_meta is not None:
        for key in ("resourceVersion", "continue", "remainingItemCount"):
            if list_meta.get(key) not in (None, ""):
                metadata[key] = list_meta[key]
    elif len(objects) == 1:
        rv = objects[0].get("metadata", {}).get("resourceVersion")
        if rv:
            metadata["resourceVersion"] = rv

    definitions = []
    if not no_headers:
        definitions = ([dict(_NAME_COLUMN)] if leading_name else []) + [
            {
                "name": c.name,
                "type": c.type,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            }
            for c in columns
        ]
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    }


def cell(column: PrinterColumn, obj: Mapping[str, Any], now: datetime) -> Any:
    """One cell: computed, or the first JSONPath result typed as the column declares (None if missing)."""
    if column.compute is not None:
        return column.compute(obj, now)
    results = jsonpath.compile_path(column.json_path).find(obj)
    if not results:
        return None
    return typed_cell(column.type, results[0], now)


def typed_cell(column_type: str, value: Any, now: datetime) -> Any:
    """A JSON value as a cell of a CRD column of the given type, as apiextensions-apiserver does it."""
    if value is None:
        return None
    if column_type == "string":
        return jsonpath.to_text(value)
    if column_type == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if column_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        if not isinstance(value, str):
            return None
        if value in ("", "null"):
            return "<unknown>"
        parsed = parse_time(value)
        if parsed is None:
            return "<invalid>"
        return since(parsed, now)
    return None


# -- time ----------------------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (metav1.Time, MicroTime) as an aware datetime; None if absent or invalid."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:  # well-formed but out of range, e.g. month 13
        return None


def since(timestamp: Any, now: datetime) -> str:
    """Age of a timestamp as kubectl prints it; `<unknown>` when there is none."""
    when = parse_time(timestamp)
    if when is None or when == _ZERO_TIME:
        return "<unknown>"
    return human_duration(now - when)


def human_duration(delta: timedelta) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration: ~2-3 significant figures."""
    total = delta.total_seconds()
    seconds = int(total)  # truncates toward zero, like Go's int(d.Seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return "%ds" % seconds
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return "%dm" % minutes if s == 0 else "%dm%ds" % (minutes, s)
    if minutes < 60 * 3:
        return "%dm" % minutes
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return "%dy" % years if days == 0 else "%dy%dd" % (years, days)
    return "%dy" % (hours // 24 // 365)


# -- labels --------------------------------------------------------------------------------------------


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join("%s=%s" % (k, labels[k]) for k in sorted(labels))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """A metav1.LabelSelector as a selector string (`app=web,tier in (a,b),!old`), requirements sorted by
    key; empty for a missing or empty selector."""
    if not selector:
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        requirements.append((key, "%s=%s" % (key, value)))
    for expression in selector.get("matchExpressions") or ():
        key = expression.get("key", "")
        operator = expression.get("operator", "")
        values = ",".join(sorted(str(v) for v in expression.get("values") or ()))
        if operator == "In":
            requirements.append((key, "%s in (%s)" % (key, values)))
        elif operator == "NotIn":
            requirements.append((key, "%s notin (%s)" % (key, values)))
        elif operator == "Exists":
            requirements.append((key, key))
        elif operator == "DoesNotExist":
            requirements.append((key, "!" + key))
        else:
            return "<invalid>"
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))
