"""OpenAPI v3 structural schemas of custom resources: validation, pruning, defaulting, schema rules.

What kube-apiserver does to a custom resource with the `openAPIV3Schema` of its CRD version:
`apply_defaults` and `prune` (apiextensions-apiserver pkg/apiserver/schema/{defaulting,pruning}), then
`validate_against` (the kube-openapi validator and its conversion to field errors in
apiextensions-apiserver pkg/apiserver/validation). Messages are kube-apiserver's, e.g.
`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
`definition_causes` holds the rules a CRD's schema itself must follow (structural, defaults valid),
which `validation.validate_crd` applies.

Schemas are the CRD's JSON (dicts) as validate_crd accepted them; objects are decoded JSON (dicts, lists,
str, int, float, bool, None).
"""

import copy
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Final, NamedTuple

from kedge.apiserver.validation import (
    Cause,
    Decoder,
    cause_text,
    forbidden,
    go_base64_decode,
    go_float,
    go_json,
    go_quote,
    invalid,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    not_supported,
    parse_group_version,
    path_child,
    path_index,
    path_key,
    required,
    too_long,
    too_many,
    type_invalid,
    validate_metadata,
)

_METADATA_FIELDS: Final = frozenset({"apiVersion", "kind", "metadata"})
_INT64: Final = (-(2**63), 2**63 - 1)


class _Failure(NamedTuple):
    """One kube-openapi validation error, before its conversion to a field error."""

    kind: str  # required, enum, too_long, too_many, type, invalid, or plain (not tied to a value)
    name: str  # the validator's path of the value, "" at the root
    message: str
    value: Any = None
    limit: int = -1
    actual: int = -1
    supported: tuple[Any, ...] = ()


def _body(name: str, text: str) -> str:
    # kube-openapi's "%s in body ..." messages; the name is empty at the root
    return "%s in body %s" % (name, text)


# -- formats (strfmt.Default, restricted to what kube-apiserver keeps) -------------------------------

_UUID: Final = {
    "uuid": r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}",
    "uuid3": r"[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}",
    "uuid4": r"[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}",
    "uuid5": r"[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}",
}
_DATE_TIME_CLOCK: Final = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")
_HOSTNAME: Final = re.compile(
    r"([a-zA-Z0-9]((-?[a-zA-Z0-9]{0,62})?)|([a-zA-Z0-9](([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.)){1,}([a-zA-Z]){2,63})"
)
_DURATION: Final = re.compile(
    r"([+-]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+|0)"
    r"|(\d+)\s*(ns|us|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)"
)
_BASE64: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")


def _is_date(value: str) -> bool:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        return False
    return True


def _is_date_time(value: str) -> bool:
    # strfmt.IsDateTime: a date, "t", and a clock time checked by a pattern, case-insensitively
    if len(value) < 4:
        return False
    parts = value.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    clock = _DATE_TIME_CLOCK.fullmatch(parts[1])
    return clock is not None and clock[1] <= "23" and clock[2] <= "59" and clock[3] <= "59"


def _parse_ip_sloppy(value: str) -> bool:
    """net.ParseIP, which also takes IPv4 octets with leading zeros."""
    if "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        octets = value.split(".")
        return len(octets) == 4 and all(o.isdigit() and o.isascii() and int(o) <= 255 for o in octets)
    return True


def _is_cidr(value: str) -> bool:
    address, slash, length = value.partition("/")
    if not slash or not length.isdigit() or not _parse_ip_sloppy(address):
        return False
    bits = 32 if "." in address and ":" not in address else 128
    return int(length) <= bits


def _is_mac(value: str) -> bool:
    groups = r"[0-9a-fA-F]{2}"
    return any(
        re.fullmatch("%s(%s%s){%d}" % (groups, re.escape(sep), groups, n), value)
        for sep in ":-"
        for n in (5, 7, 19)
    ) or any(re.fullmatch(r"[0-9a-fA-F]{4}(\.[0-9a-fA-F]{4}){%d}" % n, value) for n in (2, 3, 9))


def _is_base64(value: str) -> bool:
    if not _BASE64.fullmatch(value):
        return False
    try:
        go_base64_decode(value)
    except ValueError:
        return False
    return True


_EMAIL: Final = re.compile(r'(?:[^<>]*<)?[^\s<>@"]+@[^\s<>@.]+(?:\.[^\s<>@.]+)*>?')


def _is_email(value: str) -> bool:
    # net/mail.ParseAddress: an address, possibly after a display name in angle brackets
    return _EMAIL.fullmatch(value.strip()) is not None


def _is_uri(value: str) -> bool:
    # govalidator.IsRequestURI: url.ParseRequestURI, an absolute URI or an absolute path
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S*|/\S*", value))


def _isbn(value: str, length: int) -> bool:
    digits = re.sub(r"[\s-]", "", value)
    if length == 10:
        if not re.fullmatch(r"[0-9]{9}[0-9X]", digits):
            return False
        total = sum((10 if c == "X" else int(c)) * (10 - i) for i, c in enumerate(digits))
        return total % 11 == 0
    if not re.fullmatch(r"[0-9]{13}", digits):
        return False
    return sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(digits)) % 10 == 0


def _is_credit_card(value: str) -> bool:
    digits = re.sub(r"[^0-9]", "", value)
    pattern = (
        r"(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}"
        r"|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})"
    )
    if not re.fullmatch(pattern, digits):
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


_FORMATS: Final[dict[str, Callable[[str], bool]]] = {
    "bsonobjectid": lambda v: bool(re.fullmatch("[0-9a-fA-F]{24}", v)),
    "uri": _is_uri,
    "email": _is_email,
    "hostname": lambda v: (
        bool(_HOSTNAME.fullmatch(v)) and len(v) <= 255 and all(len(p) <= 63 for p in v.split("."))
    ),
    "ipv4": lambda v: _parse_ip_sloppy(v) and "." in v,
    "ipv6": lambda v: _parse_ip_sloppy(v) and ":" in v,
    "cidr": _is_cidr,
    "mac": _is_mac,
    **{
        name: (lambda v, p=pattern: bool(re.fullmatch(p, v, re.IGNORECASE)))
        for name, pattern in _UUID.items()
    },
    "isbn": lambda v: _isbn(v, 10) or _isbn(v, 13),
    "isbn10": lambda v: _isbn(v, 10),
    "isbn13": lambda v: _isbn(v, 13),
    "creditcard": _is_credit_card,
    "ssn": lambda v: bool(re.fullmatch(r"\d{3}[- ]?\d{2}[- ]?\d{4}", v)),
    "hexcolor": lambda v: bool(re.fullmatch(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", v)),
    "rgbcolor": lambda v: bool(
        re.fullmatch(
            r"rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*(,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*){2}\)",
            v,
        )
    ),
    "byte": _is_base64,
    "password": lambda v: True,
    "date": _is_date,
    "duration": lambda v: bool(_DURATION.fullmatch(v)),
    "datetime": _is_date_time,
    # keys are normalized as go-openapi names formats, without dashes
    "k8sshortname": lambda v: not is_dns1123_label(v),
    "k8slongname": lambda v: not is_dns1123_subdomain(v),
}


def _types(schema: Mapping[str, Any]) -> list[str]:
    if schema.get("x-kubernetes-int-or-string") is True:
        return ["integer", "string"]
    schema_type = schema.get("type")
    return [schema_type] if schema_type else []


def _format(schema: Mapping[str, Any], types: list[str]) -> str:
    """The format kube-apiserver keeps for validation; it drops those it does not support."""
    value = schema.get("format") or ""
    only = types[0] if len(types) == 1 else ""
    if only in ("", "string"):
        return value if value.replace("-", "") in _FORMATS else ""
    if only == "integer":
        return value if value in ("int32", "int64") else ""
    if only == "number":
        return value if value in ("float", "double") else ""
    return ""


# -- the validator (kube-openapi pkg/validation/validate) ---------------------------------------------


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if _INT64[0] <= value <= _INT64[1] else "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json_integer(value: float) -> bool:
    """swag's IsFloat64AJSONInteger: integral within 2^53, with a relative tolerance of 1e-9."""
    if math.isnan(value) or math.isinf(value) or abs(value) > 2**53 - 1:
        return False
    rounded = math.copysign(math.floor(abs(value) + 0.5), value)
    if value == rounded:
        return True
    return rounded != 0 and abs(value - rounded) < 1e-9 * abs(rounded)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _type_failure(name: str, expected: str, found: str) -> _Failure:
    return _Failure("type", name, _body(name, "must be of type %s: %s" % (expected, go_quote(found))), found)


def _check_type(
    value: Any, schema: Mapping[str, Any], types: list[str], fmt: str, name: str
) -> list[_Failure]:
    if not types and not fmt:
        return []
    if value is None:
        if types and "null" not in types and schema.get("nullable") is not True:
            return [_type_failure(name, ",".join(types), "null")]
        return []
    found = _value_kind(value)
    found_format = {"integer": "int64", "number": "float64"}.get(found, "")
    float_int = found == "number" and _json_integer(float(value)) and "integer" in types
    int_float = found == "integer" and "number" in types
    textual = isinstance(value, (str, list))
    if not textual and fmt and not (found in types or found_format == fmt or float_int or int_float):
        return [_type_failure(name, fmt, found_format)]
    if "number" not in types and "integer" not in types and fmt and textual:
        return []
    if not (found in types or float_int or int_float):
        return [_type_failure(name, ",".join(types), found)]
    return []


def _check_string(value: str, schema: Mapping[str, Any], fmt: str, name: str) -> list[_Failure]:
    failures = []
    max_length, min_length, pattern = schema.get("maxLength"), schema.get("minLength"), schema.get("pattern")
    if max_length is not None and len(value) > max_length:
        failures.append(
            _Failure(
                "too_long",
                name,
                _body(name, "should be at most %d chars long" % max_length),
                value,
                max_length,
            )
        )
    elif min_length is not None and len(value) < min_length:
        failures.append(
            _Failure("invalid", name, _body(name, "should be at least %d chars long" % min_length), value)
        )
    elif pattern:
        try:
            matched = re.search(pattern, value, re.ASCII) is not None
            shown = pattern
        except re.error as e:
            matched, shown = False, "%s, but pattern is invalid: %s" % (pattern, e)
        if not matched:
            failures.append(_Failure("invalid", name, _body(name, "should match '%s'" % shown), value))
    checker = _FORMATS.get(fmt.replace("-", ""))
    if checker is not None and not checker(value):
        failures.append(_type_failure(name, fmt, value))
    return failures


def _range_failure(value: float, type_name: str, fmt: str, prefix: str, name: str) -> _Failure | None:
    """IsValueValidAgainstRange: does the number fit the schema's integer or float format."""
    fits = True
    if type_name == "integer":
        bits = 32 if fmt == "int32" else 64
        integral = isinstance(value, int) or (math.isfinite(value) and value.is_integer())
        fits = integral and -(2 ** (bits - 1)) <= int(value) < 2 ** (bits - 1)
    elif fmt == "float":
        fits = abs(float(value)) <= 3.4028234663852886e38
    if fits:
        return None
    if fmt:
        detail = "%s value must be of type %s with format %s in %s" % (prefix, type_name, fmt, name)
    else:
        detail = "%s value must be of type %s (default format) in %s" % (prefix, type_name, name)
    return _Failure("plain", name, detail)


def _render_number(value: float) -> str:
    return str(value) if isinstance(value, int) else go_float(value)


def _bound_failure(
    value: float, bound: float, name: str, *, upper: bool, exclusive: bool, native: bool
) -> _Failure | None:
    # with an integer value and an integral bound Go compares (and prints) int64s, else float64s
    if native and isinstance(value, int):
        limit: float = int(bound)
    else:
        limit, value = float(bound), float(value)
    if upper:
        failed = value >= limit if exclusive else value > limit
        text = "should be less than %s" if exclusive else "should be less than or equal to %s"
    else:
        failed = value <= limit if exclusive else value < limit
        text = "should be greater than %s" if exclusive else "should be greater than or equal to %s"
    if not failed:
        return None
    return _Failure("invalid", name, _body(name, text % _render_number(limit)), value)


def _multiple_failure(value: float, factor: float, name: str, *, native: bool) -> _Failure | None:
    if native and isinstance(value, int):
        factor_int = int(factor)
        if factor_int <= 0:
            return _Failure(
                "invalid",
                name,
                "factor MultipleOf declared for %s must be positive: %d" % (name, factor_int),
                factor_int,
            )
        if value % factor_int == 0:
            return None
        return _Failure("invalid", name, _body(name, "should be a multiple of %d" % factor_int), value)
    value, factor = float(value), float(factor)
    if factor <= 0:
        return _Failure(
            "invalid",
            name,
            "factor MultipleOf declared for %s must be positive: %s" % (name, go_float(factor)),
            factor,
        )
    ratio = 1 / factor * value if factor < 1 else value / factor
    if _json_integer(ratio):
        return None
    return _Failure("invalid", name, _body(name, "should be a multiple of %s" % go_float(factor)), value)


def _check_number(
    value: float, schema: Mapping[str, Any], types: list[str], fmt: str, name: str
) -> list[_Failure]:
    type_name = types[0] if len(types) == 1 and types[0] in ("integer", "number") else ""
    number_format = (
        fmt if fmt in (("int32", "int64") if type_name == "integer" else ("float", "double")) else ""
    )
    failures = []
    checked = _range_failure(value, type_name, number_format, "Checked", name)
    if checked:
        failures.append(checked)
    for member, prefix in (
        ("multipleOf", "MultipleOf"),
        ("minimum", "Minimum boundary"),
        ("maximum", "Maximum boundary"),
    ):
        bound = schema.get(member)
        if bound is None:
            continue
        boundary = _range_failure(bound, type_name, number_format, prefix, name)
        if boundary:
            failures.append(boundary)
        native = boundary is None
        if member == "multipleOf":
            failure = _multiple_failure(value, bound, name, native=native)
        else:
            exclusive = schema.get("exclusiveMaximum" if member == "maximum" else "exclusiveMinimum") is True
            failure = _bound_failure(
                value, bound, name, upper=member == "maximum", exclusive=exclusive, native=native
            )
        if failure:
            failures.append(failure)
    return failures


def _check_array(value: list[Any], schema: Mapping[str, Any], name: str) -> list[_Failure]:
    failures = []
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            failures.extend(_validate(item, items, "%s[%d]" % (name, i)))
    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    if min_items is not None and len(value) < min_items:
        failures.append(
            _Failure("invalid", name, _body(name, "should have at least %d items" % min_items), len(value))
        )
    if max_items is not None and len(value) > max_items:
        failures.append(
            _Failure(
                "too_many",
                name,
                _body(name, "should have at most %d items" % max_items),
                limit=max_items,
                actual=len(value),
            )
        )
    if schema.get("uniqueItems") is True and any(
        _json_equal(a, b) for i, a in enumerate(value) for b in value[:i]
    ):
        failures.append(_Failure("invalid", name, _body(name, "shouldn't contain duplicates")))
    return failures


def _check_enum(value: Any, schema: Mapping[str, Any], name: str) -> list[_Failure]:
    enum = schema.get("enum")
    if not enum or any(_json_equal(value, allowed) for allowed in enum):
        return []
    shown = "[%s]" % " ".join(str(v) for v in enum)
    return [_Failure("enum", name, _body(name, "should be one of %s" % shown), value, supported=tuple(enum))]


def _check_object(value: Mapping[str, Any], schema: Mapping[str, Any], name: str) -> list[_Failure]:
    failures = []
    count = len(value)
    min_props, max_props = schema.get("minProperties"), schema.get("maxProperties")
    if min_props is not None and count < min_props:
        failures.append(
            _Failure("invalid", name, _body(name, "should have at least %d properties" % min_props), count)
        )
    if max_props is not None and count > max_props:
        failures.append(
            _Failure(
                "too_many",
                name,
                _body(name, "should have at most %d properties" % max_props),
                limit=max_props,
                actual=count,
            )
        )
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if additional is False:
        failures.extend(
            _Failure("invalid", name, "%s.%s in body is a forbidden property" % (name, key), key)
            for key in value
            if key not in properties
        )
    elif isinstance(additional, dict):
        for key, item in value.items():
            if key not in properties:
                failures.extend(_validate(item, additional, "%s.%s" % (name, key)))
    for key, sub in properties.items():
        if key in value:
            failures.extend(_validate(value[key], sub, "%s.%s" % (name, key) if name else key))
    failures.extend(
        _Failure("required", "%s.%s" % (name, key), _body("%s.%s" % (name, key), "is required"))
        for key in schema.get("required") or ()
        if key not in value
    )
    return failures


def _best_failures(results: list[list[_Failure]]) -> list[_Failure]:
    # kube-openapi keeps the alternative that matched most; the one failing least is the closest proxy
    return min(results, key=len) if results else []


def _check_composition(value: Any, schema: Mapping[str, Any], name: str) -> list[_Failure]:
    failures = []
    quoted = go_quote(name)
    any_of = schema.get("anyOf") or []
    if any_of:
        results = [_validate(value, sub, name) for sub in any_of]
        if not any(not r for r in results):
            failures.append(_Failure("plain", name, "%s must validate at least one schema (anyOf)" % quoted))
            failures.extend(_best_failures(results))
    one_of = schema.get("oneOf") or []
    if one_of:
        results = [_validate(value, sub, name) for sub in one_of]
        valid = sum(1 for r in results if not r)
        if valid != 1:
            found = "Found none valid" if valid == 0 else "Found %d valid alternatives" % valid
            failures.append(
                _Failure(
                    "plain", name, "%s must validate one and only one schema (oneOf). %s" % (quoted, found)
                )
            )
            if valid == 0:
                failures.extend(_best_failures(results))
    all_of = schema.get("allOf") or []
    if all_of:
        results = [_validate(value, sub, name) for sub in all_of]
        for result in results:
            failures.extend(result)
        valid = sum(1 for r in results if not r)
        if valid != len(all_of):
            suffix = ". None validated" if valid == 0 else ""
            failures.append(
                _Failure("plain", name, "%s must validate all the schemas (allOf)%s" % (quoted, suffix))
            )
    negated = schema.get("not")
    if isinstance(negated, dict) and not _validate(value, negated, name):
        failures.append(_Failure("plain", name, "%s must not validate the schema (not)" % quoted))
    return failures


def _validate(value: Any, schema: Mapping[str, Any], name: str) -> list[_Failure]:
    """kube-openapi's SchemaValidator: type, composition, string, format, number, array, enum, object."""
    types = _types(schema)
    fmt = _format(schema, types)
    if value is None:
        return _check_type(None, schema, types, fmt, name) + _check_enum(None, schema, name)
    failures = _check_type(value, schema, types, fmt, name)
    failures.extend(_check_composition(value, schema, name))
    kind = _value_kind(value)
    if kind == "string":
        failures.extend(_check_string(value, schema, fmt, name))
    elif kind in ("integer", "number"):
        failures.extend(_check_number(value, schema, types, fmt, name))
    elif kind == "array":
        failures.extend(_check_array(value, schema, name))
    failures.extend(_check_enum(value, schema, name))
    if kind == "object":
        failures.extend(_check_object(value, schema, name))
    return failures


def _cause(failure: _Failure, path: str | None) -> Cause:
    """kubeOpenAPIResultToFieldErrors: the failure as kube-apiserver reports it."""
    root = "<nil>" if path is None else path  # a nil field.Path prints as <nil>
    if failure.kind == "plain":
        return invalid(root, "", failure.message)
    name = failure.name.removeprefix(".")
    field = (name if path is None else path_child(path, name)) if name else root
    value = "" if failure.value is None else failure.value
    if failure.kind == "required":
        return required(field)
    if failure.kind == "enum":
        supported = [v if isinstance(v, str) else go_json(v) for v in failure.supported]
        return not_supported(field, failure.value, supported)
    if failure.kind == "too_long":
        return too_long(field, failure.limit)
    if failure.kind == "too_many":
        return too_many(field, failure.actual, failure.limit)
    if failure.kind == "type":
        return type_invalid(field, value, failure.message)
    return invalid(field, value, failure.message)


def validate_against(obj: Any, schema: Mapping[str, Any], *, path: str | None = None) -> list[Cause]:
    """Causes for `obj` against an openAPIV3Schema, as kube-apiserver validates custom resources.

    path: where obj sits, e.g. "status" when validating the status subresource against the status
    schema; None for a whole object (errors about the object itself then name the field `<nil>`, as
    kube-apiserver's nil path prints). Values nested in x-kubernetes-embedded-resource objects also get
    their apiVersion, kind and metadata checked.
    """
    causes = [_cause(f, path) for f in _validate(obj, schema, "")]
    causes.extend(_embedded_causes(obj, schema, path or "", root=True))
    return causes


# -- embedded resources (apiextensions-apiserver pkg/apiserver/schema/objectmeta) --------------------


def _embedded_resource_causes(obj: Mapping[str, Any], path: str) -> list[Cause]:
    causes = []
    for member in ("apiVersion", "kind"):
        if member not in obj:
            causes.append(required(path_child(path, member)))
    for key, value in obj.items():
        member_path = path_child(path, key)
        if key == "apiVersion":
            if not isinstance(value, str):
                causes.append(invalid(member_path, value, "must be a string"))
            elif not value:
                causes.append(invalid(member_path, value, "must not be empty"))
            else:
                try:
                    parse_group_version(value)
                except ValueError as e:
                    causes.append(invalid(member_path, value, str(e)))
        elif key == "kind":
            if not isinstance(value, str):
                causes.append(invalid(member_path, value, "must be a string"))
            elif not value:
                causes.append(invalid(member_path, value, "must not be empty"))
            else:
                errs = is_dns1035_label(value.lower())
                if errs:
                    causes.append(
                        invalid(
                            member_path,
                            value,
                            "may have mixed case, but should otherwise match: " + ",".join(errs),
                        )
                    )
        elif key == "metadata" and isinstance(value, dict):
            meta = dict(value)
            meta["name"] = (
                meta.get("name") or "fakename"
            )  # as kube-apiserver, which only checks the other fields
            namespaced = bool(meta.get("namespace"))
            for field, reason, message in validate_metadata(
                {"metadata": meta}, namespaced=namespaced, name_rule="path-segment"
            ):
                causes.append((path_child(path, field), reason, message))
    return causes


def _embedded_causes(
    value: Any, schema: Mapping[str, Any] | None, path: str, *, root: bool = False
) -> list[Cause]:
    if schema is None:
        return []
    causes = []
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource") is True and not root:
            causes.extend(_embedded_resource_causes(value, path))
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                causes.extend(_embedded_causes(item, properties[key], path_child(path, key)))
            elif isinstance(additional, dict):
                causes.extend(_embedded_causes(item, additional, path_key(path, key)))
    elif isinstance(value, list):
        items = schema.get("items")
        for i, item in enumerate(value):
            causes.extend(
                _embedded_causes(item, items if isinstance(items, dict) else None, path_index(path, i))
            )
    return causes


# -- pruning and defaulting ------------------------------------------------------------------------------


def _prune(
    value: Any, schema: Mapping[str, Any] | None, parent: str, removed: list[str], *, resource: bool
) -> None:
    """pruning.prune: drop object members the schema does not know, recording their paths."""
    if schema is not None and schema.get("x-kubernetes-preserve-unknown-fields") is True:
        _skip_prune(value, schema, parent, removed)
        return
    if isinstance(value, dict):
        if schema is None:
            for key in list(value):
                removed.append(path_child(parent, key))
                del value[key]
            return
        embedded = resource or schema.get("x-kubernetes-embedded-resource") is True
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in list(value):
            if embedded and key in _METADATA_FIELDS:
                continue
            if key in properties:
                _prune(value[key], properties[key], path_child(parent, key), removed, resource=False)
            elif additional is not None:
                _prune(
                    value[key],
                    additional if isinstance(additional, dict) else None,
                    path_child(parent, key),
                    removed,
                    resource=False,
                )
            else:
                if key not in _METADATA_FIELDS or parent:
                    removed.append(path_child(parent, key))
                del value[key]
    elif isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        for i, item in enumerate(value):
            _prune(
                item,
                items if isinstance(items, dict) else None,
                "%s[%d]" % (parent, i),
                removed,
                resource=False,
            )


def _skip_prune(value: Any, schema: Mapping[str, Any], parent: str, removed: list[str]) -> None:
    # x-kubernetes-preserve-unknown-fields: keep unknown members, prune inside the known ones
    if isinstance(value, dict):
        embedded = schema.get("x-kubernetes-embedded-resource") is True
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key in list(value):
            if embedded and key in _METADATA_FIELDS:
                continue
            if key in properties:
                _prune(value[key], properties[key], path_child(parent, key), removed, resource=False)
            elif additional is not None:
                _prune(
                    value[key],
                    additional if isinstance(additional, dict) else None,
                    path_child(parent, key),
                    removed,
                    resource=False,
                )
    elif isinstance(value, list):
        items = schema.get("items")
        for i, item in enumerate(value):
            if isinstance(items, dict):
                _skip_prune(item, items, "%s[%d]" % (parent, i), removed)


def prune(obj: dict[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Remove the members of a custom resource its schema does not specify; return their paths, sorted.

    apiVersion, kind and metadata are kept at the root and in x-kubernetes-embedded-resource objects;
    x-kubernetes-preserve-unknown-fields keeps unknown members. The paths (`spec.foo`,
    `spec.items[0].bar`) are what kube-apiserver reports as `unknown field "spec.foo"` for
    fieldValidation=Warn and Strict.
    """
    removed: list[str] = []
    _prune(obj, schema, "", removed, resource=True)
    return sorted(removed)


def _needs_default(value: Any, schema: Mapping[str, Any] | None) -> bool:
    # isNonNullableNull: an explicit null is replaced unless the schema allows null
    return value is None and schema is not None and schema.get("nullable") is not True


def apply_defaults(obj: Any, schema: Mapping[str, Any] | None) -> None:
    """Set the `default` of absent (or null, where not nullable) members, recursively, in place."""
    if schema is None:
        return
    if isinstance(obj, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if (
                "default" in sub
                and sub["default"] is not None
                and (key not in obj or _needs_default(obj[key], sub))
            ):
                obj[key] = copy.deepcopy(sub["default"])
        additional = schema.get("additionalProperties")
        for key in list(obj):
            if key in properties:
                apply_defaults(obj[key], properties[key])
            elif additional is not None:
                sub = additional if isinstance(additional, dict) else None
                if _needs_default(obj[key], sub):
                    obj[key] = copy.deepcopy(sub.get("default")) if sub else None
                apply_defaults(obj[key], sub)
    elif isinstance(obj, list):
        items = schema.get("items")
        items = items if isinstance(items, dict) else None
        for i, item in enumerate(obj):
            if _needs_default(item, items) and items is not None:
                obj[i] = copy.deepcopy(items.get("default"))
            apply_defaults(obj[i], items)


def default_causes(schema: Mapping[str, Any], path: str) -> list[Cause]:
    """structuraldefaulting.ValidateDefaults: every default must be pruned and valid against its schema.

    path is the schema's own path (`spec.validation.openAPIV3Schema`); defaults inside resource metadata
    are rejected by the CRD rules themselves and not checked here.
    """
    return _default_causes(schema, path, resource=True, in_meta=False)


def _default_causes(schema: Mapping[str, Any], path: str, *, resource: bool, in_meta: bool) -> list[Cause]:
    causes = []
    embedded = resource or schema.get("x-kubernetes-embedded-resource") is True
    default = schema.get("default")
    if default is not None and not in_meta:
        default_path = path_child(path, "default")
        pruned = copy.deepcopy(default)
        _prune(pruned, schema, "", [], resource=schema.get("x-kubernetes-embedded-resource") is True)
        if pruned != default:
            causes.append(invalid(default_path, default, "must not have unknown fields"))
        causes.extend(validate_against(default, schema, path=default_path))
    items = schema.get("items")
    if isinstance(items, dict):
        causes.extend(_default_causes(items, path_child(path, "items"), resource=False, in_meta=in_meta))
    for key, sub in (schema.get("properties") or {}).items():
        sub_meta = in_meta or (embedded and key in _METADATA_FIELDS)
        causes.extend(
            _default_causes(
                sub, path_key(path_child(path, "properties"), key), resource=False, in_meta=sub_meta
            )
        )
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        causes.extend(
            _default_causes(
                additional, path_child(path, "additionalProperties"), resource=False, in_meta=in_meta
            )
        )
    return causes


# -- schema definitions (the openAPIV3Schema rules of apiextensions-apiserver CRD validation) --------

OPENAPI_TYPES: Final = ("array", "boolean", "integer", "number", "object", "string")
# JSONSchemaProps members in Go struct order, for the "only ... at the root" rule of the status subresource
_SCHEMA_MEMBERS: Final = (
    ("id", "ID"),
    ("$schema", "Schema"),
    ("$ref", "Ref"),
    ("description", "Description"),
    ("type", "Type"),
    ("format", "Format"),
    ("title", "Title"),
    ("default", "Default"),
    ("maximum", "Maximum"),
    ("exclusiveMaximum", "ExclusiveMaximum"),
    ("minimum", "Minimum"),
    ("exclusiveMinimum", "ExclusiveMinimum"),
    ("maxLength", "MaxLength"),
    ("minLength", "MinLength"),
    ("pattern", "Pattern"),
    ("maxItems", "MaxItems"),
    ("minItems", "MinItems"),
    ("uniqueItems", "UniqueItems"),
    ("multipleOf", "MultipleOf"),
    ("enum", "Enum"),
    ("maxProperties", "MaxProperties"),
    ("minProperties", "MinProperties"),
    ("required", "Required"),
    ("items", "Items"),
    ("allOf", "AllOf"),
    ("oneOf", "OneOf"),
    ("anyOf", "AnyOf"),
    ("not", "Not"),
    ("properties", "Properties"),
    ("additionalProperties", "AdditionalProperties"),
    ("patternProperties", "PatternProperties"),
    ("dependencies", "Dependencies"),
    ("additionalItems", "AdditionalItems"),
    ("definitions", "Definitions"),
    ("externalDocs", "ExternalDocs"),
    ("example", "Example"),
    ("nullable", "Nullable"),
    ("x-kubernetes-preserve-unknown-fields", "XPreserveUnknownFields"),
    ("x-kubernetes-embedded-resource", "XEmbeddedResource"),
    ("x-kubernetes-int-or-string", "XIntOrString"),
    ("x-kubernetes-list-map-keys", "XListMapKeys"),
    ("x-kubernetes-list-type", "XListType"),
    ("x-kubernetes-map-type", "XMapType"),
    ("x-kubernetes-validations", "XValidations"),
)
_ROOT_MEMBERS_WITH_STATUS: Final = (
    *("Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum", "Minimum", "ExclusiveMinimum"),
    *("MaxLength", "MinLength", "Pattern", "MaxItems", "MinItems", "UniqueItems", "MultipleOf", "Required"),
    *("Items", "Properties", "ExternalDocs", "Example", "XPreserveUnknownFields", "XValidations"),
)
# pointer members count as set whatever their value, plain ones only when not a zero value
_POINTER_MEMBERS: Final = frozenset(
    {
        *(
            "Ref",
            "Default",
            "Maximum",
            "Minimum",
            "MaxLength",
            "MinLength",
            "MaxItems",
            "MinItems",
            "MultipleOf",
        ),
        *("MaxProperties", "MinProperties", "Items", "Not", "AdditionalProperties", "AdditionalItems"),
        *("ExternalDocs", "Example", "XPreserveUnknownFields", "XListType", "XMapType"),
    }
)
_UNSUPPORTED_SCHEMA_MEMBERS: Final = (
    ("id", "id is not supported"),
    ("additionalItems", "additionalItems is not supported"),
    ("patternProperties", "patternProperties is not supported"),
    ("definitions", "definitions is not supported"),
    ("dependencies", "dependencies is not supported"),
    ("$ref", "$ref is not supported"),
)
_SCHEMA_STRINGS: Final = ("type", "format", "pattern", "description", "title", "id", "$ref", "$schema")
_SCHEMA_BOOLS: Final = (
    "nullable",
    "uniqueItems",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
)
_SCHEMA_COUNTS: Final = ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties")
_SCHEMA_NUMBERS: Final = ("maximum", "minimum", "multipleOf")


def check_schema_types(d: Decoder, schema: Any, path: str) -> None:
    """The JSONSchemaProps decoder's type checks, recursively (400 BadRequest on a mismatch)."""
    s = "JSONSchemaProps"
    for member in _SCHEMA_STRINGS:
        d.string(schema, member, path, s)
    for member in _SCHEMA_BOOLS:
        d.boolean(schema, member, path, s)
    for member in _SCHEMA_COUNTS:
        d.integer(schema, member, path, s, 64)
    for member in _SCHEMA_NUMBERS:
        value = schema.get(member)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            d.mismatch(value, s, path_child(path, member), "float64")
    d.strings(schema, "required", path, s)
    d.strings(schema, "x-kubernetes-list-map-keys", path, s)
    d.string(schema, "x-kubernetes-list-type", path, s)
    d.string(schema, "x-kubernetes-map-type", path, s)
    enum = schema.get("enum")
    if enum is not None and not isinstance(enum, list):
        d.mismatch(enum, s, path_child(path, "enum"), "[]v1.JSON")
    for member in ("properties", "patternProperties", "definitions"):
        members = schema.get(member)
        if members is None:
            continue
        if not isinstance(members, dict):
            d.mismatch(members, s, path_child(path, member), "map[string]v1.JSONSchemaProps")
        for key, sub in members.items():
            if not isinstance(sub, dict):
                d.mismatch(sub, s, path_child(path, member), "v1.JSONSchemaProps")
            check_schema_types(d, sub, path_key(path_child(path, member), key))
    for member in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(d.objects(schema, member, path, s, "v1.JSONSchemaProps")):
            check_schema_types(d, sub, path_index(path_child(path, member), i))
    negated = d.object_or_none(schema, "not", path, s, "v1.JSONSchemaProps")
    if negated is not None:
        check_schema_types(d, negated, path_child(path, "not"))
    items = schema.get("items")
    if isinstance(items, dict):
        check_schema_types(d, items, path_child(path, "items"))
    elif isinstance(items, list):
        for i, sub in enumerate(d.objects(schema, "items", path, s, "v1.JSONSchemaProps")):
            check_schema_types(d, sub, path_index(path_child(path, "items"), i))
    for member in ("additionalProperties", "additionalItems"):
        value = schema.get(member)
        if isinstance(value, dict):
            check_schema_types(d, value, path_child(path, member))
        elif value is not None and not isinstance(value, bool):
            d.reject("boolean or JSON schema expected")


def _schema_items(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    items = schema.get("items")
    return items if isinstance(items, dict) else None


def _is_set(member: str, value: Any) -> bool:
    if member in _POINTER_MEMBERS:
        return value is not None
    return value not in (None, "", False, [], {}, 0)


def _status_root_causes(schema: Mapping[str, Any], path: str) -> list[Cause]:
    """With the status subresource only some members may be set at the schema root."""
    for key, member in _SCHEMA_MEMBERS:
        if key not in schema or not _is_set(member, schema[key]):
            continue
        if member == "Type":
            if schema[key] != "object":
                return [
                    invalid(
                        path_child(path, "openAPIV3Schema.type"),
                        schema[key],
                        'only "object" is allowed as the type at the root of the schema '
                        "if the status subresource is enabled",
                    )
                ]
            continue
        if member not in _ROOT_MEMBERS_WITH_STATUS:
            return [
                invalid(
                    path_child(path, "openAPIV3Schema"),
                    schema,
                    "only [%s] fields are allowed at the root of the schema "
                    "if the status subresource is enabled" % " ".join(_ROOT_MEMBERS_WITH_STATUS),
                )
            ]
    return []


_FORBIDDEN_IN_NESTED: Final = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
_INT_OR_STRING_ANY_OF: Final = [{"type": "integer"}, {"type": "string"}]


def _nested_value_causes(schema: Mapping[str, Any], path: str, skip_any_of: bool = False) -> list[Cause]:
    """Inside anyOf/allOf/oneOf/not only value validations are structural."""
    causes = _value_validation_causes(schema, path, skip_any_of)
    items = _schema_items(schema)
    if items is not None:
        causes.extend(_nested_value_causes(items, path_child(path, "items")))
    for key, sub in (schema.get("properties") or {}).items():
        causes.extend(_nested_value_causes(sub, path_key(path_child(path, "properties"), key)))
    for key, message in _FORBIDDEN_IN_NESTED:
        value = schema.get(key)
        if value not in (None, "", False, []):
            causes.append(forbidden(path_child(path, key), message))
    if "metadata" in (schema.get("properties") or {}):
        causes.append(
            forbidden(
                path_key(path_child(path, "properties"), "metadata"),
                "must not be specified in a nested context",
            )
        )
    return causes


def _value_validation_causes(schema: Mapping[str, Any], path: str, skip_any_of: bool) -> list[Cause]:
    causes = []
    if not skip_any_of:
        for i, sub in enumerate(schema.get("anyOf") or []):
            causes.extend(_nested_value_causes(sub, path_index(path_child(path, "anyOf"), i)))
    all_of = schema.get("allOf") or []
    int_or_string_all_of = bool(all_of) and (all_of[0].get("anyOf") or []) == _INT_OR_STRING_ANY_OF
    for i, sub in enumerate(all_of):
        causes.extend(
            _nested_value_causes(
                sub, path_index(path_child(path, "allOf"), i), i == 0 and int_or_string_all_of
            )
        )
    for i, sub in enumerate(schema.get("oneOf") or []):
        causes.extend(_nested_value_causes(sub, path_index(path_child(path, "oneOf"), i)))
    if isinstance(schema.get("not"), dict):
        causes.extend(_nested_value_causes(schema["not"], path_child(path, "not")))
    pattern = schema.get("pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            causes.append(
                invalid(
                    path_child(path, "pattern"),
                    pattern,
                    "must be a valid regular expression, but isn't: %s" % e,
                )
            )
    return causes


def _structural_causes(schema: Mapping[str, Any], level: str, path: str) -> list[Cause]:
    """validateStructuralInvariants; level is "root", "item" or "field"."""
    causes = []
    schema_type = schema.get("type") or ""
    items = _schema_items(schema)
    if schema_type == "array" and items is None:
        causes.append(required(path_child(path, "items"), "must be specified"))
    if items is not None:
        causes.extend(_structural_causes(items, "item", path_child(path, "items")))
    properties = schema.get("properties") or {}
    for key, sub in properties.items():
        causes.extend(_structural_causes(sub, "field", path_key(path_child(path, "properties"), key)))
    additional = schema.get("additionalProperties")
    if additional is not None:
        if level == "root":
            causes.append(forbidden(path_child(path, "additionalProperties"), "must not be used at the root"))
        if isinstance(additional, dict):
            causes.extend(_structural_causes(additional, "field", path_child(path, "additionalProperties")))
    embedded = schema.get("x-kubernetes-embedded-resource") is True
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if int_or_string and preserve:
        causes.append(
            invalid(
                path_child(path, "x-kubernetes-preserve-unknown-fields"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        causes.append(
            invalid(
                path_child(path, "x-kubernetes-embedded-resource"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    causes.extend(
        _value_validation_causes(schema, path, (schema.get("anyOf") or []) == _INT_OR_STRING_ANY_OF)
    )
    if embedded and schema_type != "object":
        message = "must be object if x-kubernetes-embedded-resource is true"
        causes.append(
            invalid(path_child(path, "type"), schema_type, message)
            if schema_type
            else required(path_child(path, "type"), message)
        )
    elif not schema_type and not int_or_string and not preserve:
        where = {
            "root": "at the root",
            "item": "for specified array items",
            "field": "for specified object fields",
        }[level]
        causes.append(required(path_child(path, "type"), "must not be empty " + where))
    if embedded and additional is not None:
        causes.append(
            forbidden(
                path_child(path, "additionalProperties"),
                "must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if level == "root" and schema_type and schema_type != "object":
        causes.append(invalid(path_child(path, "type"), schema_type, "must be object at the root"))
    check_metadata = level == "root" or embedded
    props_path = path_child(path, "properties")
    for key in ("kind", "apiVersion"):
        if key in properties and check_metadata and properties[key].get("type") != "string":
            causes.append(
                invalid(
                    path_child(path_key(props_path, key), "type"),
                    properties[key].get("type") or "",
                    "must be string",
                )
            )
    if "metadata" in properties:
        metadata = properties["metadata"]
        metadata_path = path_key(props_path, "metadata")
        if check_metadata and metadata.get("type") != "object":
            causes.append(
                invalid(path_child(metadata_path, "type"), metadata.get("type") or "", "must be object")
            )
        if level == "root":
            rest = {k: v for k, v in metadata.items() if k not in ("type", "default")}
            if set(rest.get("properties") or {}) <= {"name", "generateName"}:
                rest.pop("properties", None)
            if any(v not in (None, "", False, [], {}) for v in rest.values()):
                causes.append(
                    forbidden(
                        metadata_path,
                        "must not specify anything other than name and generateName, "
                        "but metadata is implicitly specified",
                    )
                )
    if embedded and not preserve and not properties:
        causes.append(
            required(
                props_path,
                "must not be empty if x-kubernetes-embedded-resource is true "
                "without x-kubernetes-preserve-unknown-fields",
            )
        )
    return causes


def _openapi_schema_causes(
    schema: Mapping[str, Any], path: str, *, root: bool, forbid_default: str, in_meta: bool
) -> list[Cause]:
    """ValidateCustomResourceDefinitionOpenAPISchema; CEL rules (x-kubernetes-validations) not compiled."""
    causes = []
    schema_type = schema.get("type") or ""
    if schema_type and schema_type not in OPENAPI_TYPES:
        causes.append(not_supported(path_child(path, "type"), schema_type, OPENAPI_TYPES))
    if schema.get("default") is not None and forbid_default:
        causes.append(forbidden(path_child(path, "default"), "must not be set " + forbid_default))
    causes.extend(
        forbidden(path_child(path, key), message)
        for key, message in _UNSUPPORTED_SCHEMA_MEMBERS
        if schema.get(key) is not None
    )
    if schema_type == "null":
        causes.append(
            forbidden(path_child(path, "type"), "type cannot be set to null, use nullable as an alternative")
        )
    if isinstance(schema.get("items"), list):
        causes.append(forbidden(path_child(path, "items"), "items must be a schema object and not an array"))
    if in_meta and schema.get("x-kubernetes-embedded-resource") is True:
        causes.append(
            forbidden(
                path_child(path, "x-kubernetes-embedded-resource"), "must not be used inside of resource meta"
            )
        )
    if schema.get("uniqueItems") is True:
        causes.append(
            forbidden(
                path_child(path, "uniqueItems"),
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if additional is not None:
        if properties and (additional is False or isinstance(additional, dict)):
            causes.append(
                forbidden(
                    path_child(path, "additionalProperties"),
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        if isinstance(additional, dict):
            sub_forbid = (
                "inside additionalProperties applying to object metadata" if in_meta else forbid_default
            )
            causes.extend(
                _openapi_schema_causes(
                    additional,
                    path_child(path, "additionalProperties"),
                    root=False,
                    forbid_default=sub_forbid,
                    in_meta=in_meta,
                )
            )
    embedded = schema.get("x-kubernetes-embedded-resource") is True
    for key, sub in properties.items():
        sub_meta, sub_forbid = in_meta, forbid_default
        if (root or embedded) and key in _METADATA_FIELDS:
            sub_meta = True
            if root:
                sub_forbid = "in top-level %s" % key
        causes.extend(
            _openapi_schema_causes(
                sub,
                path_key(path_child(path, "properties"), key),
                root=False,
                forbid_default=sub_forbid,
                in_meta=sub_meta,
            )
        )
    if isinstance(schema.get("not"), dict):
        causes.extend(
            _openapi_schema_causes(
                schema["not"],
                path_child(path, "not"),
                root=False,
                forbid_default=forbid_default,
                in_meta=in_meta,
            )
        )
    for member in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(schema.get(member) or []):
            causes.extend(
                _openapi_schema_causes(
                    sub,
                    path_index(path_child(path, member), i),
                    root=False,
                    forbid_default=forbid_default,
                    in_meta=in_meta,
                )
            )
    items = _schema_items(schema)
    if items is not None:
        causes.extend(
            _openapi_schema_causes(
                items, path_child(path, "items"), root=False, forbid_default=forbid_default, in_meta=in_meta
            )
        )
    causes.extend(_extension_causes(schema, path))
    return causes


def _extension_causes(schema: Mapping[str, Any], path: str) -> list[Cause]:
    causes = []
    schema_type = schema.get("type") or ""
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        causes.append(
            invalid(
                path_child(path, "x-kubernetes-preserve-unknown-fields"), False, "must be true or undefined"
            )
        )
    map_type = schema.get("x-kubernetes-map-type")
    if map_type is not None and schema_type != "object":
        message = "must be object if x-kubernetes-map-type is specified"
        causes.append(
            invalid(path_child(path, "type"), schema_type, message)
            if schema_type
            else required(path_child(path, "type"), message)
        )
    if map_type is not None and map_type not in ("atomic", "granular"):
        causes.append(
            not_supported(path_child(path, "x-kubernetes-map-type"), map_type, ("atomic", "granular"))
        )
    list_type = schema.get("x-kubernetes-list-type")
    if list_type is not None and schema_type != "array":
        message = "must be array if x-kubernetes-list-type is specified"
        causes.append(
            invalid(path_child(path, "type"), schema_type, message)
            if schema_type
            else required(path_child(path, "type"), message)
        )
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        causes.append(
            not_supported(path_child(path, "x-kubernetes-list-type"), list_type, ("atomic", "set", "map"))
        )
    map_keys = schema.get("x-kubernetes-list-map-keys") or []
    if map_keys:
        if list_type is None:
            causes.append(
                required(
                    path_child(path, "x-kubernetes-list-type"),
                    "must be map if x-kubernetes-list-map-keys is non-empty",
                )
            )
        elif list_type != "map":
            causes.append(
                invalid(
                    path_child(path, "x-kubernetes-list-type"),
                    list_type,
                    "must be map if x-kubernetes-list-map-keys is non-empty",
                )
            )
    if list_type == "map":
        causes.extend(_list_map_causes(schema, path, map_keys))
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        if not isinstance(rule, dict) or not str(rule.get("rule") or "").strip():
            causes.append(
                required(
                    path_child(path_index(path_child(path, "x-kubernetes-validations"), i), "rule"),
                    "rule is not specified",
                )
            )
    return causes


def _list_map_causes(schema: Mapping[str, Any], path: str, map_keys: list[str]) -> list[Cause]:
    causes = []
    if not map_keys:
        causes.append(
            required(
                path_child(path, "x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            )
        )
    items = _schema_items(schema)
    if schema.get("items") is None:
        causes.append(
            required(path_child(path, "items"), "must have a schema if x-kubernetes-list-type is map")
        )
    elif items is None:
        causes.append(
            invalid(
                path_child(path, "items"),
                schema["items"],
                "must only have a single schema if x-kubernetes-list-type is map",
            )
        )
    elif items.get("type") != "object":
        causes.append(
            invalid(
                path_child(path_child(path, "items"), "type"),
                items.get("type") or "",
                "must be object if parent array's x-kubernetes-list-type is map",
            )
        )
    else:
        seen: set[str] = set()
        for key in map_keys:
            sub = (items.get("properties") or {}).get(key)
            if sub is None:
                causes.append(
                    invalid(
                        path_child(path, "x-kubernetes-list-map-keys"),
                        map_keys,
                        "entries must all be names of item properties",
                    )
                )
            elif sub.get("type") in ("array", "object"):
                causes.append(
                    invalid(
                        path_child(
                            path_key(path_child(path_child(path, "items"), "properties"), key), "type"
                        ),
                        items.get("type"),
                        "must be a scalar type if parent array's x-kubernetes-list-type is map",
                    )
                )
            if key in seen:
                causes.append(
                    invalid(
                        path_child(path, "x-kubernetes-list-map-keys"),
                        map_keys,
                        "must not contain duplicate entries",
                    )
                )
            seen.add(key)
    return causes


def definition_causes(
    d: Decoder, validation: Mapping[str, Any] | None, path: str, status_enabled: bool
) -> list[Cause]:
    """validateCustomResourceDefinitionValidation for `<path>.openAPIV3Schema`."""
    if validation is None:
        return []
    schema = d.object_or_none(
        validation, "openAPIV3Schema", path, "CustomResourceValidation", "v1.JSONSchemaProps"
    )
    if schema is None:
        return []
    schema_path = path_child(path, "openAPIV3Schema")
    causes = _status_root_causes(schema, path) if status_enabled else []
    if schema.get("nullable") is True:
        causes.append(
            forbidden(path_child(path, "openAPIV3Schema.nullable"), "nullable cannot be true at the root")
        )
    structural = sorted(_structural_causes(schema, "root", schema_path), key=cause_text)
    if structural:
        causes.extend(structural)
    else:
        causes.extend(default_causes(schema, schema_path))
    causes.extend(_openapi_schema_causes(schema, schema_path, root=True, forbid_default="", in_meta=False))
    return causes
