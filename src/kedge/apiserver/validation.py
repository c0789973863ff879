"""Validation of object metadata, built-in kinds and CustomResourceDefinitions, as kube-apiserver does it.

Every check returns causes `(field, reason, message)`: the reason is a Kubernetes CauseType
(`FieldValueInvalid`, ...) and the message is what Go's `field.Error.ErrorBody()` prints, e.g.
`Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of ...`. kubectl shows these texts
verbatim, so values are rendered as Go renders them: strings with `%q`, numbers and booleans with `%v`,
anything else as Go's encoding/json writes it (see `go_value`).

Values of the wrong JSON type never reach validation in kube-apiserver: its typed decoder rejects them
with 400 BadRequest. The checks here do the same (`ApiError.bad_request` with the decoder's message)
instead of returning a cause.

Sources: k8s.io/apimachinery/pkg/util/validation, pkg/api/validate/content, pkg/api/validation and
kubernetes/pkg/apis/{core,apps,coordination}/validation, apiextensions-apiserver validation (v1.37).
"""

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, NoReturn

from kedge.apiserver.errors import ApiError

Cause = tuple[str, str, str]
"""(field path, Kubernetes cause reason, message) of one validation failure."""

NameRule = Literal["subdomain", "label", "label1035", "path-segment"]

INVALID: Final = "FieldValueInvalid"
TYPE_INVALID: Final = "FieldValueTypeInvalid"
REQUIRED: Final = "FieldValueRequired"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
DUPLICATE: Final = "FieldValueDuplicate"
NOT_FOUND: Final = "FieldValueNotFound"
FORBIDDEN: Final = "FieldValueForbidden"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"

MAX_ANNOTATIONS_BYTES: Final = 256 * 1024
MAX_DATA_BYTES: Final = 1024 * 1024  # ConfigMap and Secret payload (core.MaxSecretSize)
MAX_INT32: Final = 2**31 - 1
FIELD_IMMUTABLE: Final = "field is immutable"

# -- Go-compatible rendering of values ----------------------------------------------------------------


class GoStruct(dict[str, Any]):
    """A JSON object rendered with its keys in insertion order, like a Go struct (Go sorts map keys)."""


_QUOTE_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}
_JSON_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def go_quote(text: str) -> str:
    """Go's `strconv.Quote` (`%q`): printable characters kept, the rest escaped."""
    out = ['"']
    for ch in text:
        escaped = _QUOTE_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append("\\x%02x" % ord(ch))
        elif ord(ch) < 0x10000:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append("\\U%08x" % ord(ch))
    out.append('"')
    return "".join(out)


def _json_string(text: str) -> str:
    # encoding/json escapes HTML-significant characters and the JS line separators too
    out = ['"']
    for ch in text:
        escaped = _JSON_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ord(ch) < 0x20 or ch in "<>&\u2028\u2029":
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _float_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |value| and the position of the decimal point."""
    _, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, len(text) + int(exponent)


def _float_e(digits: str, point: int, negative: bool) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exponent = point - 1
    return "%s%se%s%02d" % ("-" if negative else "", mantissa, "-" if exponent < 0 else "+", abs(exponent))


def _float_f(digits: str, point: int, negative: bool) -> str:
    if point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if negative else "") + text


def go_float(value: float) -> str:
    """`%v` of a Go float64: shortest digits, exponent form from 1e+06 and below 1e-04."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits, point = _float_digits(value)
    if point - 1 < -4 or point - 1 >= 6:
        return _float_e(digits, point, value < 0)
    return _float_f(digits, point, value < 0)


def _json_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError("JSON cannot represent %r" % value)
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits, point = _float_digits(value)
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        return re.sub(r"e-0(\d)$", r"e-\1", _float_e(digits, point, value < 0))
    return _float_f(digits, point, value < 0)


def go_json(value: Any) -> str:
    """What Go's `json.Marshal` writes for a decoded JSON value (maps sorted, `GoStruct` in order)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, Mapping):
        items = value.items() if isinstance(value, GoStruct) else sorted(value.items())
        return "{%s}" % ",".join("%s:%s" % (_json_string(str(k)), go_json(v)) for k, v in items)
    if isinstance(value, (list, tuple)):
        return "[%s]" % ",".join(go_json(v) for v in value)
    raise TypeError("not a JSON value: %r" % (value,))


def go_value(value: Any) -> str:
    """A bad value as `field.Error` prints it: `%q` strings, `%v` numbers and booleans, else JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    return go_json(value)


# -- causes (k8s.io/apimachinery/pkg/util/validation/field) ------------------------------------------


def path_child(path: str, name: str) -> str:
    return "%s.%s" % (path, name) if path else name


def path_index(path: str, i: int) -> str:
    return "%s[%d]" % (path, i)


def path_key(path: str, key: str) -> str:
    return "%s[%s]" % (path, key)


def _with_detail(body: str, detail: str) -> str:
    return "%s: %s" % (body, detail) if detail else body


def invalid(path: str, value: Any, detail: str = "") -> Cause:
    return (path, INVALID, _with_detail("Invalid value: " + go_value(value), detail))


def type_invalid(path: str, value: Any, detail: str = "") -> Cause:
    return (path, TYPE_INVALID, _with_detail("Invalid value: " + go_value(value), detail))


def required(path: str, detail: str = "") -> Cause:
    return (path, REQUIRED, _with_detail("Required value", detail))


def forbidden(path: str, detail: str) -> Cause:
    return (path, FORBIDDEN, _with_detail("Forbidden", detail))


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    quoted = [go_quote(s) for s in supported]
    detail = "supported values: " + ", ".join(quoted) if quoted else ""
    return (path, NOT_SUPPORTED, _with_detail("Unsupported value: " + go_value(value), detail))


def duplicate(path: str, value: Any) -> Cause:
    return (path, DUPLICATE, "Duplicate value: " + go_value(value))


def not_found(path: str, value: Any) -> Cause:
    return (path, NOT_FOUND, "Not found: " + go_value(value))


def too_long(path: str, limit: int) -> Cause:
    return (
        path,
        TOO_LONG,
        "Too long: may not be more than %d %s" % (limit, "byte" if limit == 1 else "bytes"),
    )


def too_many(path: str, actual: int, limit: int) -> Cause:
    shown = "Too many: %d" % actual if actual >= 0 else "Too many"
    return (path, TOO_MANY, "%s: must have at most %d %s" % (shown, limit, "item" if limit == 1 else "items"))


def cause_text(cause: Cause) -> str:
    """`field: message`, the Go `field.Error.Error()` text."""
    return "%s: %s" % (cause[0], cause[2])


def aggregate_text(causes: Sequence[Cause]) -> str:
    """Go's ErrorList.ToAggregate().Error(): one message, or `[a, b]` without repeats."""
    texts = list(dict.fromkeys(cause_text(c) for c in causes))
    return texts[0] if len(texts) == 1 else "[%s]" % ", ".join(texts)


# -- syntax rules (util/validation and api/validate/content) ------------------------------------------

DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT: Final = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_KEY_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT: Final = "(" + LABEL_KEY_FMT + ")?"
CONFIG_KEY_FMT: Final = "[-._a-zA-Z0-9]+"
PERCENT_FMT: Final = "[0-9]+%"

_DNS1123_LABEL_RE: Final = re.compile(DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE: Final = re.compile(DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE: Final = re.compile(DNS1035_LABEL_FMT)
_LABEL_KEY_RE: Final = re.compile(LABEL_KEY_FMT)
_LABEL_VALUE_RE: Final = re.compile(LABEL_VALUE_FMT)
_CONFIG_KEY_RE: Final = re.compile(CONFIG_KEY_FMT)
_PERCENT_RE: Final = re.compile(PERCENT_FMT)
_PORT_NAME_CHARSET_RE: Final = re.compile("[-a-z0-9]+")

_DNS1123_LABEL_MSG: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG: Final = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_LABEL_KEY_MSG: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_CONFIG_KEY_MSG: Final = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_RELAXED_ENV_MSG: Final = (
    "a valid environment variable name must consist only of printable ASCII characters other than '='"
)


def _blen(text: str) -> int:
    """Length in bytes, as Go's len() of a string."""
    return len(text.encode("utf-8", "surrogatepass"))


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """Go's RegexError, double space after each example included."""
    if not examples:
        return "%s (regex used for validation is '%s')" % (message, fmt)
    shown = " or ".join("'%s', " % e for e in examples)
    return "%s (e.g. %sregex used for validation is '%s')" % (message, shown, fmt)


def _max_len(limit: int, unit: str) -> str:
    return "must be no more than %d %s" % (limit, unit)


def inclusive_range_error(lo: int, hi: int) -> str:
    return "must be between %d and %d, inclusive" % (lo, hi)


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(_max_len(63, "characters"))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str, *, unit: str = "characters") -> list[str]:
    """unit: "characters" in util/validation (names), "bytes" in validate/content (label key prefixes)."""
    errs = []
    if _blen(value) > 253:
        errs.append(_max_len(253, unit))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(_max_len(63, "characters"))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_label_key(value: str) -> list[str]:
    """Qualified name: `[prefix/]name`, prefix a DNS subdomain, name at most 63 bytes."""
    parts = value.split("/")
    errs: list[str] = []
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix, unit="bytes"))
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > 63:
        errs.append("name part " + _max_len(63, "bytes"))
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


is_qualified_name = is_label_key


def is_label_value(value: str) -> list[str]:
    errs = []
    if _blen(value) > 63:
        errs.append(_max_len(63, "bytes"))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _chdir_prefix_errors(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(value: str) -> list[str]:
    errs = []
    if _blen(value) > 253:
        errs.append(_max_len(253, "characters"))
    if not _CONFIG_KEY_RE.fullmatch(value):
        errs.append(regex_error(_CONFIG_KEY_MSG, CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return errs + _chdir_prefix_errors(value)


def is_env_var_name(value: str) -> list[str]:
    """The relaxed rule (RelaxedEnvironmentVariableValidation, GA since 1.34)."""
    errs = []
    if not value:
        errs.append("environment variable name must be non-empty")
    if any(ord(ch) > 0x7E or ord(ch) < 0x20 or ch == "=" for ch in value):
        errs.append(_RELAXED_ENV_MSG)
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    errs = []
    if _blen(port) > 15:
        errs.append(_max_len(15, "characters"))
    if not _PORT_NAME_CHARSET_RE.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_path_segment_prefix(name: str) -> list[str]:
    return ["may not contain '%s'" % bad for bad in ("/", "%") if bad in name]


def is_path_segment_name(name: str) -> list[str]:
    if name in (".", ".."):
        return ["may not be '%s'" % name]
    return is_path_segment_prefix(name)


def is_valid_percent(value: str) -> list[str]:
    if _PERCENT_RE.fullmatch(value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            PERCENT_FMT,
            "1%",
            "93%",
        )
    ]


def ip_errors(path: str, value: str) -> list[Cause]:
    """IsValidIP: parseable, no leading zeros, not IPv4-mapped, canonical form."""
    try:
        address = ipaddress.ip_address(value) if "%" not in value else None
    except ValueError:
        address = None
    if address is None:
        if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", value) and all(int(p) <= 255 for p in value.split(".")):
            return [invalid(path, value, "must not have leading 0s")]  # Go's sloppy parser accepts them
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return [invalid(path, value, "must not be an IPv4-mapped IPv6 address")]
    if str(address) != value:
        return [invalid(path, value, "must be in canonical form (%s)" % go_quote(str(address)))]
    return []


def _mask_trailing_dash(name: str) -> str:
    # apimachinery's maskTrailingDash, which also drops the character before the dash
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_errors(rule: NameRule, name: str, *, prefix: bool = False) -> list[str]:
    """The ValidateNameFunc of a name rule; prefix=True checks a generateName."""
    if rule == "path-segment":
        return is_path_segment_prefix(name) if prefix else is_path_segment_name(name)
    if prefix:
        name = _mask_trailing_dash(name)
    if rule == "subdomain":
        return is_dns1123_subdomain(name)
    if rule == "label":
        return is_dns1123_label(name)
    if rule == "label1035":
        return is_dns1035_label(name)
    raise ValueError("unknown name rule %r" % rule)


# -- typed decoding (what kube-apiserver rejects before validation) ------------------------------------


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json_path(path: str) -> str:
    """encoding/json names a field by its JSON names from the root, without array indexes or map keys."""
    return re.sub(r"\[[^\]]*\]", "", path)


_INT_BOUNDS: Final = {32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}


class Decoder:
    """The type checks of kube-apiserver's typed JSON decoder, for the fields validation reads.

    A value of the wrong JSON type is a 400 BadRequest (`ApiError.bad_request`) with the decoder's
    message, e.g. `Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal string
    into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32`. Missing and null fields
    read as Go zero values.
    """

    def __init__(self, kind: str, version: str) -> None:
        self.kind = kind
        self.version = version

    @classmethod
    def for_object(cls, obj: Mapping[str, Any]) -> "Decoder":
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        return cls(
            kind if isinstance(kind, str) else "",
            api_version.rpartition("/")[2] if isinstance(api_version, str) else "",
        )

    def reject(self, detail: str) -> NoReturn:
        raise ApiError.bad_request(
            '%s in version "%s" cannot be handled as a %s: %s' % (self.kind, self.version, self.kind, detail)
        )

    def mismatch(self, value: Any, struct: str, path: str, gotype: str) -> NoReturn:
        found = _json_kind(value)
        if found == "number" and gotype.startswith(("int", "uint")):
            found = "number " + (str(value) if isinstance(value, int) else repr(value))
        self.reject(
            "json: cannot unmarshal %s into Go struct field %s.%s of type %s"
            % (found, struct, _json_path(path), gotype)
        )

    def object(
        self, parent: Mapping[str, Any], name: str, path: str, struct: str, gotype: str
    ) -> dict[str, Any]:
        """A struct member; {} when absent."""
        value = self.object_or_none(parent, name, path, struct, gotype)
        return {} if value is None else value

    def object_or_none(
        self, parent: Mapping[str, Any], name: str, path: str, struct: str, gotype: str
    ) -> dict[str, Any] | None:
        value = parent.get(name)
        if value is not None and not isinstance(value, dict):
            self.mismatch(value, struct, path_child(path, name), gotype)
        return value

    def objects(
        self, parent: Mapping[str, Any], name: str, path: str, struct: str, item_gotype: str
    ) -> list[dict[str, Any]]:
        """A list of structs; null items decode as empty structs."""
        value = parent.get(name)
        if value is None:
            return []
        member = path_child(path, name)
        if not isinstance(value, list):
            self.mismatch(value, struct, member, "[]" + item_gotype)
        items = []
        for item in value:
            if item is not None and not isinstance(item, dict):
                self.mismatch(item, struct, member, item_gotype)
            items.append(item or {})
        return items

    def string(
        self, parent: Mapping[str, Any], name: str, path: str, struct: str, gotype: str = "string"
    ) -> str:
        value = self.string_or_none(parent, name, path, struct, gotype)
        return "" if value is None else value

    def string_or_none(
        self, parent: Mapping[str, Any], name: str, path: str, struct: str, gotype: str = "string"
    ) -> str | None:
        value = parent.get(name)
        if value is not None and not isinstance(value, str):
            self.mismatch(value, struct, path_child(path, name), gotype)
        return value

    def integer(
        self, parent: Mapping[str, Any], name: str, path: str, struct: str, bits: int = 32
    ) -> int | None:
        value = parent.get(name)
        if value is None:
            return None
        lo, hi = _INT_BOUNDS[bits]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.mismatch(value, struct, path_child(path, name), "int%d" % bits)
        return value

    def boolean(self, parent: Mapping[str, Any], name: str, path: str, struct: str) -> bool | None:
        value = parent.get(name)
        if value is not None and not isinstance(value, bool):
            self.mismatch(value, struct, path_child(path, name), "bool")
        return value

    def strings(
        self, parent: Mapping[str, Any], name: str, path: str, struct: str, item: str = "string"
    ) -> list[str]:
        value = parent.get(name)
        if value is None:
            return []
        member = path_child(path, name)
        if not isinstance(value, list):
            self.mismatch(value, struct, member, "[]" + item)
        for entry in value:
            if entry is not None and not isinstance(entry, str):
                self.mismatch(entry, struct, member, item)
        return [entry or "" for entry in value]

    def string_map(self, parent: Mapping[str, Any], name: str, path: str, struct: str) -> dict[str, str]:
        value = parent.get(name)
        if value is None:
            return {}
        member = path_child(path, name)
        if not isinstance(value, dict):
            self.mismatch(value, struct, member, "map[string]string")
        for entry in value.values():
            if entry is not None and not isinstance(entry, str):
                self.mismatch(entry, struct, member, "string")
        return {k: v or "" for k, v in value.items()}

    def int_or_string(self, parent: Mapping[str, Any], name: str, path: str, struct: str) -> int | str | None:
        """An intstr.IntOrString member: a string, or a number that must fit an int32."""
        value = parent.get(name)
        if value is None or isinstance(value, str):
            return value
        lo, hi = _INT_BOUNDS[32]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            # its unmarshaller decodes numbers into an int32, reported at this field
            self.mismatch(value, struct, path_child(path, name), "int32")
        return value


_B64_VALUES: Final = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def go_base64_decode(text: str) -> bytes:
    """base64.StdEncoding.DecodeString, with Go's error offsets (ValueError "illegal base64 data at ...").

    Newlines are skipped and padding is required, as in Go.
    """
    src = text.encode("utf-8", "surrogatepass")
    out = bytearray()
    si = 0

    def corrupt(offset: int) -> ValueError:
        return ValueError("illegal base64 data at input byte %d" % offset)

    while si < len(src):
        quantum = [0, 0, 0, 0]
        length = 4
        j = 0
        while j < 4:
            if si == len(src):
                if j == 0:
                    return bytes(out)
                raise corrupt(si - j)
            ch = src[si]
            si += 1
            decoded = _B64_VALUES.get(ch)
            if decoded is not None:
                quantum[j] = decoded
                j += 1
                continue
            if ch in b"\r\n":
                continue
            if ch != ord("=") or j < 2:
                raise corrupt(si - 1)
            if j == 2:  # "==" expected, the first one is consumed
                while si < len(src) and src[si] in b"\r\n":
                    si += 1
                if si == len(src):
                    raise corrupt(len(src))
                if src[si] != ord("="):
                    raise corrupt(si - 1)
                si += 1
            while si < len(src) and src[si] in b"\r\n":
                si += 1
            if si < len(src):
                raise corrupt(si)  # trailing garbage
            length = j
            break
        value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out.extend(value.to_bytes(3, "big")[: length - 1])
    return bytes(out)


def _time_quote(text: str) -> str:
    # the time package's own quoting: non-ASCII and control bytes as \xNN
    out = ['"']
    for ch in text:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend("\\x%02x" % b for b in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    out.append('"')
    return "".join(out)


_MICRO_TIME_LAYOUT: Final = "2006-01-02T15:04:05.000000Z07:00"
_MICRO_TIME_ELEMENTS: Final = (
    ("year", "2006"),
    ("literal", "-"),
    ("month", "01"),
    ("literal", "-"),
    ("day", "02"),
    ("literal", "T"),
    ("hour", "15"),
    ("literal", ":"),
    ("minute", "04"),
    ("literal", ":"),
    ("second", "05"),
    ("fraction", ".000000"),
    ("zone", "Z07:00"),
)


def _two_digits(text: str, fixed: bool) -> tuple[int, str] | None:
    # time.getnum
    if not text[:1].isdigit() or not text[:1].isascii():
        return None
    if not text[1:2].isdigit() or not text[1:2].isascii():
        return None if fixed else (int(text[0]), text[1:])
    return int(text[:2]), text[2:]


#: The common case, a well-formed UTC micro time with a day every month has: accepted without the
#: element-by-element parse below (every lease renewal carries two of these).
_MICRO_TIME_FAST = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9][.,][0-9]{6}Z"
)


def micro_time_error(value: str) -> str | None:
    """The error of Go's time.Parse(RFC3339Micro, value) that metav1.MicroTime reports, or None."""
    if _MICRO_TIME_FAST.fullmatch(value):
        return None
    rest = value
    parts: dict[str, int] = {}
    for kind, element in _MICRO_TIME_ELEMENTS:
        if kind == "literal":
            if not rest.startswith(element):
                return "parsing time %s as %s: cannot parse %s as %s" % (
                    _time_quote(value),
                    _time_quote(_MICRO_TIME_LAYOUT),
                    _time_quote(rest),
                    _time_quote(element),
                )
            rest = rest[len(element) :]
            continue
        hold = rest
        number: int | None = None
        out_of_range = ""
        if kind == "year":
            if len(rest) >= 4 and re.fullmatch("[0-9]{4}", rest[:4]):
                number, rest = int(rest[:4]), rest[4:]
        elif kind == "fraction":
            if len(rest) >= 7 and rest[0] in ".," and re.fullmatch("[0-9]{6}", rest[1:7]):
                number, rest = int(rest[1:7]), rest[7:]
        elif kind == "zone":
            if rest.startswith("Z"):
                number, rest = 0, rest[1:]
            elif len(rest) >= 6 and rest[3] == ":":
                sign, hours, minutes = rest[0], _two_digits(rest[1:3], True), _two_digits(rest[4:6], True)
                rest = rest[6:]
                if hours and minutes:
                    if hours[0] > 24:
                        out_of_range = "time zone offset hour"
                    if minutes[0] > 60:
                        out_of_range = "time zone offset minute"
                    if sign in "+-":
                        number = 0
        else:
            parsed = _two_digits(rest, kind != "hour")
            if parsed is not None:
                number, rest = parsed
                # the day is checked against its month once the whole value is parsed
                upper = {"month": 12, "hour": 23, "minute": 59, "second": 59}.get(kind)
                if upper is not None and (number > upper or (kind == "month" and number == 0)):
                    out_of_range = kind
        if out_of_range:
            return "parsing time %s: %s out of range" % (_time_quote(value), out_of_range)
        if number is None:
            return "parsing time %s as %s: cannot parse %s as %s" % (
                _time_quote(value),
                _time_quote(_MICRO_TIME_LAYOUT),
                _time_quote(hold),
                _time_quote(element),
            )
        parts[kind] = number
    if rest:
        return "parsing time %s: extra text: %s" % (_time_quote(value), _time_quote(rest))
    year, month, day = parts["year"], parts["month"], parts["day"]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    if not 1 <= day <= days:
        return "parsing time %s: day out of range" % _time_quote(value)
    return None


# -- labels, annotations, selectors (apimachinery meta/v1 validation) -------------------------------


def validate_labels(labels: Mapping[str, str], path: str) -> list[Cause]:
    causes = []
    for k, v in labels.items():
        causes.extend(invalid(path, k, m) for m in is_label_key(k))
        causes.extend(invalid(path, v, m) for m in is_label_value(v))
    return causes


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[Cause]:
    # keys are qualified names whatever their case
    causes = [invalid(path, k, m) for k in annotations for m in is_qualified_name(k.lower())]
    if sum(_blen(k) + _blen(v) for k, v in annotations.items()) > MAX_ANNOTATIONS_BYTES:
        causes.append(too_long(path, MAX_ANNOTATIONS_BYTES))
    return causes


SELECTOR_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(
    selector: Mapping[str, Any], path: str, decoder: Decoder | None = None
) -> list[Cause]:
    """ValidateLabelSelector for a metav1.LabelSelector object (matchLabels, matchExpressions)."""
    d = decoder or Decoder("LabelSelector", "v1")
    causes = validate_labels(
        d.string_map(selector, "matchLabels", path, "LabelSelector"), path_child(path, "matchLabels")
    )
    exprs_path = path_child(path, "matchExpressions")
    for i, expr in enumerate(
        d.objects(selector, "matchExpressions", path, "LabelSelector", "v1.LabelSelectorRequirement")
    ):
        p = path_index(exprs_path, i)
        key = d.string(expr, "key", p, "LabelSelectorRequirement")
        operator = d.string(expr, "operator", p, "LabelSelectorRequirement", "v1.LabelSelectorOperator")
        values = d.strings(expr, "values", p, "LabelSelectorRequirement")
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(
                    required(path_child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    forbidden(
                        path_child(p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            causes.append(invalid(path_child(p, "operator"), operator, "not a valid selector operator"))
        causes.extend(invalid(path_child(p, "key"), key, m) for m in is_label_key(key))
        for vi, v in enumerate(values):
            causes.extend(invalid(path_index(path_child(p, "values"), vi), v, m) for m in is_label_value(v))
    return causes


def label_selector_value(selector: Mapping[str, Any] | None) -> GoStruct | None:
    """A metav1.LabelSelector as Go renders it in messages (fields in struct order, empty ones omitted)."""
    if selector is None:
        return None
    out = GoStruct()
    if selector.get("matchLabels"):
        out["matchLabels"] = selector["matchLabels"]
    exprs = []
    for expr in selector.get("matchExpressions") or []:
        item = GoStruct(key=expr.get("key") or "", operator=expr.get("operator") or "")
        if expr.get("values"):
            item["values"] = expr["values"]
        exprs.append(item)
    if exprs:
        out["matchExpressions"] = exprs
    return out


def label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics of a validated selector: all matchLabels and expressions hold."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if k not in labels or labels[k] != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, operator, values = expr.get("key") or "", expr.get("operator"), expr.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


# -- object metadata (apimachinery pkg/api/validation, core ValidateObjectMeta) ----------------------

STANDARD_FINALIZERS: Final = frozenset({"kubernetes", "orphan", "foregroundDeletion"})

NameCheck = Callable[[str, bool], list[str]]


def parse_group_version(api_version: str) -> tuple[str, str]:
    """schema.ParseGroupVersion: "" and "/" are empty, "v1" is the core group; ValueError for a/b/c."""
    if api_version in ("", "/"):
        return "", ""
    if api_version.count("/") == 0:
        return "", api_version
    if api_version.count("/") == 1:
        group, _, version = api_version.partition("/")
        return group, version
    raise ValueError("unexpected GroupVersion string: %s" % api_version)


def _go_string_slice(values: Iterable[str]) -> str:
    """`%#v` of a []string."""
    return "[]string{%s}" % ", ".join(go_quote(v) for v in values)


def _owner_reference_value(ref: Mapping[str, Any]) -> GoStruct:
    out = GoStruct(
        apiVersion=ref.get("apiVersion") or "",
        kind=ref.get("kind") or "",
        name=ref.get("name") or "",
        uid=ref.get("uid") or "",
    )
    for flag in ("controller", "blockOwnerDeletion"):
        if ref.get(flag) is not None:
            out[flag] = ref[flag]
    return out


def _owner_reference_causes(d: Decoder, refs: list[dict[str, Any]], path: str) -> list[Cause]:
    causes = []
    first_controller = ""
    for i, ref in enumerate(refs):
        p = path_index(path, i)
        api_version = d.string(ref, "apiVersion", p, "OwnerReference")
        kind = d.string(ref, "kind", p, "OwnerReference")
        name = d.string(ref, "name", p, "OwnerReference")
        uid = d.string(ref, "uid", p, "OwnerReference", "types.UID")
        controller = d.boolean(ref, "controller", p, "OwnerReference")
        d.boolean(ref, "blockOwnerDeletion", p, "OwnerReference")
        try:
            group, version = parse_group_version(api_version)
            parsed = True
        except ValueError:
            group, version, parsed = "", "", False
        if not api_version:
            causes.append(required(path_child(p, "apiVersion"), "must not be empty"))
        elif not parsed or not version:
            causes.append(
                invalid(path_child(p, "apiVersion"), api_version, "must be <group>/<version> or <version>")
            )
        for member, value in (("kind", kind), ("name", name), ("uid", uid)):
            if not value:
                causes.append(required(path_child(p, member), "must not be empty"))
        if (group, version, kind) == ("", "v1", "Event"):
            causes.append(
                invalid(p, _owner_reference_value(ref), "/v1, Kind=Event is disallowed from being an owner")
            )
        if controller:
            current = "%s/%s" % (kind, name)
            if first_controller:
                causes.append(
                    invalid(
                        path,
                        [_owner_reference_value(r) for r in refs],
                        "Only one reference can have Controller set to true. "
                        'Found "true" in references for %s and %s' % (first_controller, current),
                    )
                )
            else:
                first_controller = current
    return causes


def _finalizer_causes(finalizers: list[str], path: str, *, kube: bool) -> list[Cause]:
    causes = [invalid(path, f, m) for f in finalizers for m in is_qualified_name(f)]
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        causes.append(invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    if kube:
        causes.extend(_kube_finalizer_causes(finalizers, path))
    return causes


def _kube_finalizer_causes(finalizers: list[str], path: str) -> list[Cause]:
    # core/v1 and apps kinds: an unprefixed finalizer must be one of the standard ones
    return [
        invalid(path_index(path, i), f, "name is neither a standard finalizer name nor is it fully qualified")
        for i, f in enumerate(finalizers)
        if "/" not in f and f not in STANDARD_FINALIZERS
    ]


class _Meta:
    """The ObjectMeta fields validation reads, type-checked."""

    def __init__(self, d: Decoder, obj: Mapping[str, Any]) -> None:
        meta = d.object(obj, "metadata", "", d.kind or "Object", "v1.ObjectMeta")
        p, s = "metadata", "ObjectMeta"
        self.name = d.string(meta, "name", p, s)
        self.generate_name = d.string(meta, "generateName", p, s)
        self.namespace = d.string(meta, "namespace", p, s)
        self.uid = d.string(meta, "uid", p, s, "types.UID")
        self.generation = d.integer(meta, "generation", p, s, 64) or 0
        self.labels = d.string_map(meta, "labels", p, s)
        self.annotations = d.string_map(meta, "annotations", p, s)
        self.finalizers = d.strings(meta, "finalizers", p, s)
        self.owner_references = d.objects(meta, "ownerReferences", p, s, "v1.OwnerReference")
        self.creation_timestamp = d.string_or_none(meta, "creationTimestamp", p, s, "v1.Time")
        self.deletion_timestamp = d.string_or_none(meta, "deletionTimestamp", p, s, "v1.Time")
        self.deletion_grace_period = d.integer(meta, "deletionGracePeriodSeconds", p, s, 64)


def _metadata_create_causes(
    d: Decoder,
    meta: _Meta,
    *,
    namespaced: bool,
    name_check: NameCheck,
    require_name: bool,
    kube_finalizers: bool,
) -> list[Cause]:
    causes = []
    if meta.generate_name:
        causes.extend(
            invalid("metadata.generateName", meta.generate_name, m)
            for m in name_check(meta.generate_name, True)
        )
    if meta.name:
        causes.extend(invalid("metadata.name", meta.name, m) for m in name_check(meta.name, False))
    elif require_name and not meta.generate_name:
        causes.append(required("metadata.name", "name or generateName is required"))
    if namespaced:
        if not meta.namespace:
            causes.append(required("metadata.namespace"))
        else:
            causes.extend(
                invalid("metadata.namespace", meta.namespace, m) for m in is_dns1123_label(meta.namespace)
            )
    elif meta.namespace:
        causes.append(forbidden("metadata.namespace", "not allowed on this type"))
    causes.extend(_common_metadata_causes(d, meta))
    causes.extend(_finalizer_causes(meta.finalizers, "metadata.finalizers", kube=False))
    if kube_finalizers:
        causes.extend(_kube_finalizer_causes(meta.finalizers, "metadata.finalizers"))
    return causes


def _common_metadata_causes(d: Decoder, meta: _Meta) -> list[Cause]:
    causes = []
    if meta.generation < 0:
        causes.append(invalid("metadata.generation", meta.generation, "must be greater than or equal to 0"))
    causes.extend(validate_labels(meta.labels, "metadata.labels"))
    causes.extend(validate_annotations(meta.annotations, "metadata.annotations"))
    causes.extend(_owner_reference_causes(d, meta.owner_references, "metadata.ownerReferences"))
    return causes


def _metadata_update_causes(d: Decoder, meta: _Meta, old: _Meta, *, kube_finalizers: bool) -> list[Cause]:
    causes = []
    if old.deletion_timestamp is not None:
        added = sorted(set(meta.finalizers) - set(old.finalizers))
        if added:
            causes.append(
                forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted, found new finalizers %s"
                    % _go_string_slice(added),
                )
            )
    if meta.generation < 0:
        causes.append(invalid("metadata.generation", meta.generation, "must be greater than or equal to 0"))
    if meta.generation < old.generation:
        causes.append(invalid("metadata.generation", meta.generation, "must not be decremented"))
    for member, new_value, old_value in (
        ("name", meta.name, old.name),
        ("namespace", meta.namespace, old.namespace),
        ("uid", meta.uid, old.uid),
        ("creationTimestamp", meta.creation_timestamp, old.creation_timestamp),
        ("deletionTimestamp", meta.deletion_timestamp, old.deletion_timestamp),
        ("deletionGracePeriodSeconds", meta.deletion_grace_period, old.deletion_grace_period),
    ):
        if new_value != old_value:
            causes.append(invalid("metadata." + member, new_value, FIELD_IMMUTABLE))
    causes.extend(validate_labels(meta.labels, "metadata.labels"))
    causes.extend(validate_annotations(meta.annotations, "metadata.annotations"))
    causes.extend(_owner_reference_causes(d, meta.owner_references, "metadata.ownerReferences"))
    if kube_finalizers:
        causes.extend(_kube_finalizer_causes(meta.finalizers, "metadata.finalizers"))
    return causes


def validate_metadata(
    obj: Mapping[str, Any],
    *,
    namespaced: bool,
    name_rule: NameRule,
    require_name: bool = True,
    old: Mapping[str, Any] | None = None,
    kube_finalizers: bool = False,
) -> list[Cause]:
    """Causes for `obj["metadata"]`, as ValidateObjectMeta (create) or ValidateObjectMetaUpdate (old given).

    require_name: a name, or a generateName the server derives one from, must be present. The
    namespace must already be set (namespaced) or cleared (cluster-scoped) from the request URL.
    kube_finalizers adds core/v1's rule that unprefixed finalizers be standard ones.
    Not checked: metadata.resourceVersion on update and managedFields (the server owns both).
    """
    d = Decoder.for_object(obj)
    meta = _Meta(d, obj)
    if old is not None:
        return _metadata_update_causes(d, meta, _Meta(d, old), kube_finalizers=kube_finalizers)
    return _metadata_create_causes(
        d,
        meta,
        namespaced=namespaced,
        name_check=lambda name, prefix: name_errors(name_rule, name, prefix=prefix),
        require_name=require_name,
        kube_finalizers=kube_finalizers,
    )


# -- shared pieces of built-in kinds -------------------------------------------------------------------

PROTOCOLS: Final = ("SCTP", "TCP", "UDP")
RESTART_POLICIES: Final = ("Always", "OnFailure", "Never")
DNS_POLICIES: Final = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES: Final = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES: Final = ("File", "FallbackToLogsOnError")
TAINT_EFFECTS: Final = ("NoSchedule", "PreferNoSchedule", "NoExecute")
SERVICE_TYPES: Final = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES: Final = ("ClientIP", "None")
UPDATABLE_POD_SPEC_FIELDS: Final = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
# volume sources in the order ValidateVolumes checks them: JSON key, the field it names in errors, Go type
_VOLUME_SOURCES: Final = (
    ("emptyDir", "emptyDir", "EmptyDirVolumeSource"),
    ("hostPath", "hostPath", "HostPathVolumeSource"),
    ("gitRepo", "gitRepo", "GitRepoVolumeSource"),
    ("gcePersistentDisk", "gcePersistentDisk", "GCEPersistentDiskVolumeSource"),
    ("awsElasticBlockStore", "awsElasticBlockStore", "AWSElasticBlockStoreVolumeSource"),
    ("secret", "secret", "SecretVolumeSource"),
    ("nfs", "nfs", "NFSVolumeSource"),
    ("iscsi", "iscsi", "ISCSIVolumeSource"),
    ("glusterfs", "glusterfs", "GlusterfsVolumeSource"),
    ("flocker", "flocker", "FlockerVolumeSource"),
    ("persistentVolumeClaim", "persistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
    ("rbd", "rbd", "RBDVolumeSource"),
    ("cinder", "cinder", "CinderVolumeSource"),
    ("cephfs", "cephFS", "CephFSVolumeSource"),
    ("quobyte", "quobyte", "QuobyteVolumeSource"),
    ("downwardAPI", "downwarAPI", "DownwardAPIVolumeSource"),  # kube-apiserver's own spelling
    ("fc", "fc", "FCVolumeSource"),
    ("flexVolume", "flexVolume", "FlexVolumeSource"),
    ("configMap", "configMap", "ConfigMapVolumeSource"),
    ("azureFile", "azureFile", "AzureFileVolumeSource"),
    ("vsphereVolume", "vsphereVolume", "VsphereVirtualDiskVolumeSource"),
    ("photonPersistentDisk", "photonPersistentDisk", "PhotonPersistentDiskVolumeSource"),
    ("portworxVolume", "portworxVolume", "PortworxVolumeSource"),
    ("azureDisk", "azureDisk", "AzureDiskVolumeSource"),
    ("storageos", "storageos", "StorageOSVolumeSource"),
    ("projected", "projected", "ProjectedVolumeSource"),
    ("scaleIO", "scaleIO", "ScaleIOVolumeSource"),
    ("csi", "csi", "CSIVolumeSource"),
    ("ephemeral", "ephemeral", "EphemeralVolumeSource"),
    ("image", "image", "ImageVolumeSource"),
)
# a required member of some volume sources
_VOLUME_SOURCE_REQUIRED: Final = {
    "hostPath": "path",
    "persistentVolumeClaim": "claimName",
    "configMap": "name",
    "secret": "secretName",
}


def _nonnegative(path: str, value: int | None) -> list[Cause]:
    if value is not None and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def _name_causes(path: str, value: str, rule: NameRule) -> list[Cause]:
    return [invalid(path, value, m) for m in name_errors(rule, value)]


def zero_pruned(value: Any) -> Any:
    """The value with Go zero values dropped from objects, so that semantically equal objects compare equal.

    A typed Go struct cannot tell an absent field from "", 0, false, [] or {}, and apimachinery's
    semantic equality treats nil and empty slices and maps alike.
    """
    if isinstance(value, Mapping):
        pruned = {k: zero_pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", 0, False, [], {}) or v is True}
    if isinstance(value, list):
        return [zero_pruned(v) for v in value]
    return value


def _diff_lines(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return [
            line
            for k in sorted(set(old) | set(new))
            for line in _diff_lines(old.get(k), new.get(k), path_child(path, k))
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            line
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for line in _diff_lines(a, b, path_index(path, i))
        ]
    if old == new:
        return []
    lines = [] if old is None else ["- %s: %s" % (path, go_json(old))]
    return lines if new is None else [*lines, "+ %s: %s" % (path, go_json(new))]


def _container_port_causes(d: Decoder, ports: list[dict[str, Any]], path: str) -> list[Cause]:
    causes = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = path_index(path, i)
        name = d.string(port, "name", p, "ContainerPort")
        container_port = d.integer(port, "containerPort", p, "ContainerPort") or 0
        host_port = d.integer(port, "hostPort", p, "ContainerPort") or 0
        d.string(port, "hostIP", p, "ContainerPort")
        protocol = d.string(port, "protocol", p, "ContainerPort", "v1.Protocol")
        if name:
            messages = is_valid_port_name(name)
            causes.extend(invalid(path_child(p, "name"), name, m) for m in messages)
            if not messages and name in names:
                causes.append(duplicate(path_child(p, "name"), name))
            names.add(name)
        if container_port == 0:
            causes.append(required(path_child(p, "containerPort")))
        else:
            causes.extend(
                invalid(path_child(p, "containerPort"), container_port, m)
                for m in is_valid_port_num(container_port)
            )
        if host_port:
            causes.extend(
                invalid(path_child(p, "hostPort"), host_port, m) for m in is_valid_port_num(host_port)
            )
        if protocol and protocol not in PROTOCOLS:
            causes.append(not_supported(path_child(p, "protocol"), protocol, PROTOCOLS))
    return causes


def _key_selector_causes(d: Decoder, selector: dict[str, Any], path: str, struct: str) -> list[Cause]:
    name = d.string(selector, "name", path, struct)
    key = d.string(selector, "key", path, struct)
    causes = _name_causes(path_child(path, "name"), name, "subdomain")
    if not key:
        causes.append(required(path_child(path, "key")))
    else:
        causes.extend(invalid(path_child(path, "key"), key, m) for m in is_config_map_key(key))
    return causes


def _env_causes(d: Decoder, env: list[dict[str, Any]], path: str) -> list[Cause]:
    causes = []
    for i, var in enumerate(env):
        p = path_index(path, i)
        name = d.string(var, "name", p, "EnvVar")
        value = d.string(var, "value", p, "EnvVar")
        if not name:
            causes.append(required(path_child(p, "name")))
        else:
            causes.extend(invalid(path_child(p, "name"), name, m) for m in is_env_var_name(name))
        source = d.object_or_none(var, "valueFrom", p, "EnvVar", "v1.EnvVarSource")
        if source is None:
            continue
        sp = path_child(p, "valueFrom")
        kinds = [
            k
            for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
            if source.get(k) is not None
        ]
        for k, struct in (("configMapKeyRef", "ConfigMapKeySelector"), ("secretKeyRef", "SecretKeySelector")):
            selector = d.object_or_none(source, k, sp, "EnvVarSource", "v1." + struct)
            if selector is not None:
                causes.extend(_key_selector_causes(d, selector, path_child(sp, k), struct))
        if not kinds:
            causes.append(
                invalid(
                    sp,
                    "",
                    "must specify one of: "
                    "`fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif value:
            causes.append(invalid(sp, "", "may not be specified when `value` is not empty"))
        elif len(kinds) > 1:
            causes.append(invalid(sp, "", "may not have more than one field specified at a time"))
    return causes


def _volume_mount_causes(
    d: Decoder, mounts: list[dict[str, Any]], path: str, volumes: set[str]
) -> list[Cause]:
    causes = []
    mount_paths: set[str] = set()
    for i, mount in enumerate(mounts):
        p = path_index(path, i)
        name = d.string(mount, "name", p, "VolumeMount")
        mount_path = d.string(mount, "mountPath", p, "VolumeMount")
        if not name:
            causes.append(required(path_child(p, "name")))
        if name not in volumes:
            causes.append(not_found(path_child(p, "name"), name))
        if not mount_path:
            causes.append(required(path_child(p, "mountPath")))
        if mount_path in mount_paths:
            causes.append(invalid(path_child(p, "mountPath"), mount_path, "must be unique"))
        mount_paths.add(mount_path)
    return causes


def _container_causes(d: Decoder, container: dict[str, Any], path: str, volumes: set[str]) -> list[Cause]:
    s = "Container"
    name = d.string(container, "name", path, s)
    image = d.string(container, "image", path, s)
    message_policy = d.string(container, "terminationMessagePolicy", path, s, "v1.TerminationMessagePolicy")
    pull_policy = d.string(container, "imagePullPolicy", path, s, "v1.PullPolicy")
    causes = []
    if not name:
        causes.append(required(path_child(path, "name")))
    else:
        causes.extend(invalid(path_child(path, "name"), name, m) for m in is_dns1123_label(name))
    if not image:
        causes.append(required(path_child(path, "image")))
    if message_policy and message_policy not in TERMINATION_MESSAGE_POLICIES:
        causes.append(
            not_supported(
                path_child(path, "terminationMessagePolicy"), message_policy, TERMINATION_MESSAGE_POLICIES
            )
        )
    causes.extend(
        _container_port_causes(
            d, d.objects(container, "ports", path, s, "v1.ContainerPort"), path_child(path, "ports")
        )
    )
    causes.extend(_env_causes(d, d.objects(container, "env", path, s, "v1.EnvVar"), path_child(path, "env")))
    causes.extend(
        _volume_mount_causes(
            d,
            d.objects(container, "volumeMounts", path, s, "v1.VolumeMount"),
            path_child(path, "volumeMounts"),
            volumes,
        )
    )
    if pull_policy and pull_policy not in PULL_POLICIES:
        causes.append(not_supported(path_child(path, "imagePullPolicy"), pull_policy, PULL_POLICIES))
    return causes


def _host_port_conflicts(
    d: Decoder, containers: list[dict[str, Any]], path: str, seen: set[str]
) -> list[Cause]:
    causes = []
    for ci, container in enumerate(containers):
        ports_path = path_child(path_index(path, ci), "ports")
        for pi, port in enumerate(
            d.objects(container, "ports", path_index(path, ci), "Container", "v1.ContainerPort")
        ):
            host_port = port.get("hostPort") or 0
            if not host_port:
                continue
            key = "%s/%s/%d" % (port.get("hostIP") or "", port.get("protocol") or "TCP", host_port)
            if key in seen:
                causes.append(duplicate(path_child(path_index(ports_path, pi), "hostPort"), key))
            seen.add(key)
    return causes


def _containers_causes(
    d: Decoder, containers: list[dict[str, Any]], path: str, volumes: set[str]
) -> list[Cause]:
    if not containers:
        return [required(path)]
    causes = []
    names: set[str] = set()
    for i, container in enumerate(containers):
        p = path_index(path, i)
        causes.extend(_container_causes(d, container, p, volumes))
        name = container.get("name") or ""
        if name in names:
            causes.append(duplicate(path_child(p, "name"), name))
        names.add(name)
        if container.get("restartPolicy") is not None:
            causes.append(forbidden(path_child(p, "restartPolicy"), "may not be set for non-init containers"))
    return causes + _host_port_conflicts(d, containers, path, set())


def _init_containers_causes(
    d: Decoder, init: list[dict[str, Any]], regular: list[dict[str, Any]], path: str, volumes: set[str]
) -> list[Cause]:
    causes = []
    names = {c.get("name") or "" for c in regular}
    for i, container in enumerate(init):
        p = path_index(path, i)
        causes.extend(_container_causes(d, container, p, volumes))
        restart = d.string_or_none(container, "restartPolicy", p, "Container", "v1.ContainerRestartPolicy")
        if restart is not None and restart != "Always":
            causes.append(not_supported(path_child(p, "restartPolicy"), restart, ("Always",)))
        name = container.get("name") or ""
        if name in names:
            causes.append(duplicate(path_child(p, "name"), name))
        elif name:
            names.add(name)
        causes.extend(_host_port_conflicts(d, [container], path, set()))
        if restart != "Always":
            for member in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(member) is not None:
                    causes.append(
                        forbidden(
                            path_child(p, member),
                            "may not be set for init containers without restartPolicy=Always",
                        )
                    )
    return causes


def _volume_causes(d: Decoder, volumes: list[dict[str, Any]], path: str) -> tuple[set[str], list[Cause]]:
    """Causes of spec.volumes and the names of the valid volumes (mounts may only use those)."""
    names: set[str] = set()
    causes = []
    for i, volume in enumerate(volumes):
        p = path_index(path, i)
        name = d.string(volume, "name", p, "Volume")
        errs = []
        sources = 0
        for key, shown, gotype in _VOLUME_SOURCES:
            source = d.object_or_none(volume, key, p, "Volume", "v1." + gotype)
            if source is None:
                continue
            if sources:
                errs.append(forbidden(path_child(p, shown), "may not specify more than 1 volume type"))
                continue
            sources += 1
            member = _VOLUME_SOURCE_REQUIRED.get(key)
            if member is not None and not d.string(source, member, path_child(p, key), gotype):
                errs.append(required(path_child(path_child(p, key), member)))
            elif key == "hostPath" and ".." in source["path"].split("/"):
                errs.append(
                    invalid(path_child(path_child(p, key), "path"), source["path"], "must not contain '..'")
                )
        if not name:
            errs.append(required(path_child(p, "name")))
        else:
            errs.extend(invalid(path_child(p, "name"), name, m) for m in is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(path_child(p, "name"), name))
        if errs:
            causes.extend(errs)
        else:
            names.add(name)
    return names, causes


def _toleration_value(toleration: Mapping[str, Any]) -> GoStruct:
    # core.Toleration has no JSON tags: Go field names
    return GoStruct(
        Key=toleration.get("key") or "",
        Operator=toleration.get("operator") or "",
        Value=toleration.get("value") or "",
        Effect=toleration.get("effect") or "",
        TolerationSeconds=toleration.get("tolerationSeconds"),
    )


def _toleration_causes(d: Decoder, tolerations: list[dict[str, Any]], path: str) -> list[Cause]:
    causes = []
    for i, toleration in enumerate(tolerations):
        p = path_index(path, i)
        key = d.string(toleration, "key", p, "Toleration")
        operator = d.string(toleration, "operator", p, "Toleration", "v1.TolerationOperator")
        value = d.string(toleration, "value", p, "Toleration")
        effect = d.string(toleration, "effect", p, "Toleration", "v1.TaintEffect")
        seconds = d.integer(toleration, "tolerationSeconds", p, "Toleration", 64)
        if key:
            causes.extend(invalid(path_child(p, "key"), key, m) for m in is_label_key(key))
        if not key and operator != "Exists":
            causes.append(
                invalid(
                    path_child(p, "operator"),
                    operator,
                    "operator must be Exists when `key` is empty, "
                    'which means "match all values and all keys"',
                )
            )
        if seconds is not None and effect != "NoExecute":
            causes.append(
                invalid(
                    path_child(p, "effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if operator in ("Equal", ""):
            errs = is_label_value(value)
            if errs:
                causes.append(invalid(path_child(p, "operator"), value, ";".join(errs)))
        elif operator == "Exists":
            if value:
                causes.append(
                    invalid(
                        path_child(p, "operator"),
                        _toleration_value(toleration),
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            causes.append(not_supported(path_child(p, "operator"), operator, ("Equal", "Exists")))
        if effect and effect not in TAINT_EFFECTS:
            causes.append(not_supported(path_child(p, "effect"), effect, TAINT_EFFECTS))
    return causes


def _pod_spec_causes(d: Decoder, spec: dict[str, Any], path: str) -> list[Cause]:
    """ValidatePodSpec, for the fields kedge serves (see the module notes for what is not checked)."""
    s = "PodSpec"
    volumes, causes = _volume_causes(
        d, d.objects(spec, "volumes", path, s, "v1.Volume"), path_child(path, "volumes")
    )
    containers = d.objects(spec, "containers", path, s, "v1.Container")
    init = d.objects(spec, "initContainers", path, s, "v1.Container")
    causes.extend(_containers_causes(d, containers, path_child(path, "containers"), volumes))
    causes.extend(_init_containers_causes(d, init, containers, path_child(path, "initContainers"), volumes))
    restart = d.string(spec, "restartPolicy", path, s, "v1.RestartPolicy")
    if restart and restart not in RESTART_POLICIES:
        causes.append(not_supported(path_child(path, "restartPolicy"), restart, RESTART_POLICIES))
    dns = d.string(spec, "dnsPolicy", path, s, "v1.DNSPolicy")
    if dns and dns not in DNS_POLICIES:
        causes.append(not_supported(path_child(path, "dnsPolicy"), dns, DNS_POLICIES))
    causes.extend(
        validate_labels(d.string_map(spec, "nodeSelector", path, s), path_child(path, "nodeSelector"))
    )
    for member in ("serviceAccountName", "nodeName"):
        value = d.string(spec, member, path, s)
        if value:
            causes.extend(_name_causes(path_child(path, member), value, "subdomain"))
    deadline = d.integer(spec, "activeDeadlineSeconds", path, s, 64)
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        causes.append(
            invalid(path_child(path, "activeDeadlineSeconds"), deadline, inclusive_range_error(1, MAX_INT32))
        )
    for member in ("hostname", "subdomain"):
        value = d.string(spec, member, path, s)
        if value:
            causes.extend(invalid(path_child(path, member), value, m) for m in is_dns1123_label(value))
    causes.extend(
        _toleration_causes(
            d, d.objects(spec, "tolerations", path, s, "v1.Toleration"), path_child(path, "tolerations")
        )
    )
    priority_class = d.string(spec, "priorityClassName", path, s)
    if priority_class:
        causes.extend(_name_causes(path_child(path, "priorityClassName"), priority_class, "subdomain"))
    return causes


def _pod_template_causes(d: Decoder, template: dict[str, Any], path: str) -> list[Cause]:
    """ValidatePodTemplateSpec: labels and annotations are reported at `<path>.labels`, as kube does."""
    meta = d.object(template, "metadata", path, "PodTemplateSpec", "v1.ObjectMeta")
    meta_path = path_child(path, "metadata")
    causes = validate_labels(
        d.string_map(meta, "labels", meta_path, "ObjectMeta"), path_child(path, "labels")
    )
    causes.extend(
        validate_annotations(
            d.string_map(meta, "annotations", meta_path, "ObjectMeta"), path_child(path, "annotations")
        )
    )
    spec = d.object(template, "spec", path, "PodTemplateSpec", "v1.PodSpec")
    causes.extend(_pod_spec_causes(d, spec, path_child(path, "spec")))
    if spec.get("ephemeralContainers"):
        causes.append(
            forbidden(
                path_child(path, "spec.ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            )
        )
    return causes


def _only_added_tolerations(d: Decoder, new: list[dict[str, Any]], old: list[dict[str, Any]]) -> list[Cause]:
    def identity(t: Mapping[str, Any]) -> dict[str, Any]:
        return zero_pruned({k: v for k, v in t.items() if k != "tolerationSeconds"})

    remaining = [identity(t) for t in new]
    for toleration in old:
        if identity(toleration) not in remaining:
            return [
                forbidden(
                    "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"
                )
            ]
    return _toleration_causes(d, new, "spec.tolerations")


def _pod_update_causes(d: Decoder, spec: dict[str, Any], old_spec: dict[str, Any]) -> list[Cause]:
    """ValidatePodUpdate's spec rules: only images, activeDeadlineSeconds and added tolerations may change."""
    causes = []
    containers: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for member in ("containers", "initContainers"):
        new_list = d.objects(spec, member, "spec", "PodSpec", "v1.Container")
        old_list = [c or {} for c in old_spec.get(member) or []]
        if len(new_list) != len(old_list):
            return [*causes, forbidden("spec." + member, "pod updates may not add or remove containers")]
        containers[member] = list(zip(new_list, old_list, strict=True))
        for i, container in enumerate(new_list):
            image = container.get("image") or ""
            image_path = path_child(path_index("spec." + member, i), "image")
            if not image:
                causes.append(required(image_path))
            if image.strip() != image:
                causes.append(invalid(image_path, image, "must not have leading or trailing whitespace"))
    deadline = d.integer(spec, "activeDeadlineSeconds", "spec", "PodSpec", 64)
    old_deadline = old_spec.get("activeDeadlineSeconds")
    if deadline is not None:
        if not 0 <= deadline <= MAX_INT32:
            return [
                *causes,
                invalid("spec.activeDeadlineSeconds", deadline, inclusive_range_error(0, MAX_INT32)),
            ]
        if old_deadline is not None and old_deadline < deadline:
            return [
                *causes,
                invalid(
                    "spec.activeDeadlineSeconds", deadline, "must be less than or equal to previous value"
                ),
            ]
    elif old_deadline is not None:
        causes.append(
            invalid(
                "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
            )
        )
    causes.extend(
        _only_added_tolerations(
            d,
            d.objects(spec, "tolerations", "spec", "PodSpec", "v1.Toleration"),
            [t or {} for t in old_spec.get("tolerations") or []],
        )
    )
    old_pruned = zero_pruned(old_spec)
    if zero_pruned(spec) == old_pruned:
        return causes
    munged = dict(spec)
    for member, pairs in containers.items():
        if pairs:
            munged[member] = [{**new, "image": old.get("image")} for new, old in pairs]
    for member in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged[member] = old_spec.get(member)
    grace, old_grace = (
        spec.get("terminationGracePeriodSeconds"),
        old_spec.get("terminationGracePeriodSeconds"),
    )
    if old_grace is not None and old_grace < 0 and grace == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    munged_pruned = zero_pruned(munged)
    if munged_pruned != old_pruned:
        diff = "\n".join(_diff_lines(old_pruned, munged_pruned, "spec"))
        causes.append(
            forbidden(
                "spec",
                "pod updates may not change fields other than %s\n%s"
                % (",".join(UPDATABLE_POD_SPEC_FIELDS), diff),
            )
        )
    return causes


def _taint_value(taint: Mapping[str, Any]) -> GoStruct:
    return GoStruct(
        Key=taint.get("key") or "",
        Value=taint.get("value") or "",
        Effect=taint.get("effect") or "",
        TimeAdded=taint.get("timeAdded"),
    )


def _taint_causes(d: Decoder, taints: list[dict[str, Any]], path: str) -> list[Cause]:
    """validateNodeTaints; kube-apiserver reports Node taints under metadata.taints."""
    causes = []
    seen: dict[str, set[str]] = {}
    for i, taint in enumerate(taints):
        p = path_index(path, i)
        json_path = path_index("spec.taints", i)
        key = d.string(taint, "key", json_path, "Taint")
        value = d.string(taint, "value", json_path, "Taint")
        effect = d.string(taint, "effect", json_path, "Taint", "v1.TaintEffect")
        causes.extend(invalid(path_child(p, "key"), key, m) for m in is_label_key(key))
        errs = is_label_value(value)
        if errs:
            causes.append(invalid(path_child(p, "value"), value, ";".join(errs)))
        if not effect:
            causes.append(required(path_child(p, "effect")))
        elif effect not in TAINT_EFFECTS:
            causes.append(not_supported(path_child(p, "effect"), effect, TAINT_EFFECTS))
        if key in seen.get(effect, ()):
            path_, reason, message = duplicate(p, _taint_value(taint))
            causes.append((path_, reason, message + ": taints must be unique by key and effect pair"))
            continue
        seen.setdefault(effect, set()).add(key)
    return causes


def _cidr_causes(path: str, value: str) -> list[Cause]:
    address, _, length = value.partition("/")
    try:
        network = ipaddress.ip_network(value, strict=False)
        host = ipaddress.ip_address(address)
    except ValueError:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    if len(length) > 1 and length.startswith("0"):
        return [invalid(path, value, "must not have leading 0s in IP or prefix length")]
    if host != network.network_address:
        return [invalid(path, value, "must not have bits set beyond the prefix length")]
    return []


def _bytes_map(d: Decoder, parent: Mapping[str, Any], name: str, struct: str) -> dict[str, bytes]:
    """A map[string][]byte member: base64 strings, decoded as Go decodes them."""
    value = parent.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        d.mismatch(value, struct, name, "map[string][]uint8")
    out = {}
    for k, v in value.items():
        if v is not None and not isinstance(v, str):
            d.mismatch(v, struct, name, "[]uint8")
        try:
            out[k] = go_base64_decode(v or "")
        except ValueError as e:
            d.reject(str(e))
    return out


def _go_quote_char(ch: str) -> str:
    # encoding/json's quoteChar
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'%s'" % go_quote(ch)[1:-1]


def _json_syntax_error(data: bytes) -> str | None:
    """Go's json.Unmarshal(data, &map[string]interface{}{}) error for malformed JSON, or None."""
    try:
        parsed = json.loads(data)
    except UnicodeDecodeError:
        return "invalid character looking for beginning of value"
    except json.JSONDecodeError as e:
        text = e.doc if isinstance(e.doc, str) else data.decode()
        if not text.strip() or e.pos >= len(text.rstrip()):
            return "unexpected end of JSON input"
        return "invalid character %s looking for beginning of value" % _go_quote_char(text[e.pos])
    if not isinstance(parsed, dict):
        return "json: cannot unmarshal %s into Go value of type map[string]interface {}" % _json_kind(parsed)
    return None


# -- built-in kinds --------------------------------------------------------------------------------------


class _Context:
    """One validation: the decoder, the object, the stored object on update, and its metadata causes."""

    def __init__(
        self, d: Decoder, obj: Mapping[str, Any], old: Mapping[str, Any] | None, meta_create: list[Cause]
    ):
        self.d = d
        self.obj = obj
        self.old = old
        self.meta_create = meta_create  # ValidateObjectMeta
        self.meta_update: list[Cause] = []  # ValidateObjectMetaUpdate (old given)

    def spec(self, struct: str, gotype: str, obj: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.d.object(self.obj if obj is None else obj, "spec", "", struct, gotype)


def _pod(c: _Context) -> list[Cause]:
    spec = c.spec("Pod", "v1.PodSpec")
    if c.old is None:
        causes = c.meta_create + _pod_spec_causes(c.d, spec, "spec")
        if spec.get("ephemeralContainers"):
            causes.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if spec.get("nodeName") and spec.get("schedulingGates"):
            causes.append(
                forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared")
            )
        return causes
    old_spec = c.spec("Pod", "v1.PodSpec", c.old)
    return (
        c.meta_update
        + c.meta_create
        + _pod_spec_causes(c.d, spec, "spec")
        + _pod_update_causes(c.d, spec, old_spec)
    )


def _namespace(c: _Context) -> list[Cause]:
    if c.old is not None:
        return c.meta_update
    spec = c.spec("Namespace", "v1.NamespaceSpec")
    finalizers = c.d.strings(spec, "finalizers", "spec", "NamespaceSpec", "v1.FinalizerName")
    causes = [invalid("spec.finalizers", f, m) for f in finalizers for m in is_qualified_name(f)]
    causes.extend(
        invalid("spec.finalizers", f, "name is neither a standard finalizer name nor is it fully qualified")
        for f in finalizers
        if "/" not in f and f not in STANDARD_FINALIZERS
    )
    return c.meta_create + causes


def _immutable_payload_causes(
    obj: Mapping[str, Any], old: Mapping[str, Any], members: Sequence[str]
) -> list[Cause]:
    if old.get("immutable") is not True:
        return []
    causes = []
    if obj.get("immutable") is not True:
        causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    causes.extend(
        forbidden(m, "field is immutable when `immutable` is set")
        for m in members
        if zero_pruned(obj.get(m)) != zero_pruned(old.get(m))
    )
    return causes


def _config_map(c: _Context) -> list[Cause]:
    c.d.boolean(c.obj, "immutable", "", "ConfigMap")
    data = c.d.string_map(c.obj, "data", "", "ConfigMap")
    binary = _bytes_map(c.d, c.obj, "binaryData", "ConfigMap")
    causes = []
    for k in data:
        causes.extend(invalid(path_key("data", k), k, m) for m in is_config_map_key(k))
        if k in binary:
            causes.append(invalid(path_key("data", k), k, "duplicate of key present in binaryData"))
    for k in binary:
        causes.extend(invalid(path_key("binaryData", k), k, m) for m in is_config_map_key(k))
    if sum(_blen(v) for v in data.values()) + sum(len(v) for v in binary.values()) > MAX_DATA_BYTES:
        causes.append(too_long("[]", MAX_DATA_BYTES))  # Go's field.NewPath("") prints as []
    if c.old is None:
        return c.meta_create + causes
    update = _immutable_payload_causes(c.obj, c.old, ("data", "binaryData"))
    return c.meta_update + update + c.meta_create + causes


_SECRET_REQUIRED_KEYS: Final = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def _secret(c: _Context) -> list[Cause]:
    d = c.d
    d.boolean(c.obj, "immutable", "", "Secret")
    secret_type = d.string(c.obj, "type", "", "Secret", "v1.SecretType") or "Opaque"
    data = _bytes_map(d, c.obj, "data", "Secret")
    data.update((k, v.encode()) for k, v in d.string_map(c.obj, "stringData", "", "Secret").items())
    causes = [invalid(path_key("data", k), k, m) for k in data for m in is_config_map_key(k)]
    if sum(len(v) for v in data.values()) > MAX_DATA_BYTES:
        causes.append(too_long("data", MAX_DATA_BYTES))
    if secret_type == "kubernetes.io/service-account-token":
        meta = c.obj.get("metadata") or {}
        if not (meta.get("annotations") or {}).get("kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        (key,) = _SECRET_REQUIRED_KEYS[secret_type]
        if key not in data:
            causes.append(required(path_key("data", key)))
        else:
            error = _json_syntax_error(data[key])
            if error:
                causes.append(invalid(path_key("data", key), "<secret contents redacted>", error))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes.extend((required("data[username]"), required("data[password]")))
    elif secret_type == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            causes.append(required("data[ssh-privatekey]"))
    elif secret_type == "kubernetes.io/tls":
        causes.extend(
            required(path_key("data", k)) for k in _SECRET_REQUIRED_KEYS[secret_type] if k not in data
        )
    if c.old is None:
        return c.meta_create + causes
    old_type = c.old.get("type") or "Opaque"
    update = [invalid("type", secret_type, FIELD_IMMUTABLE)] if secret_type != old_type else []
    update.extend(_immutable_payload_causes(c.obj, c.old, ("data",)))
    return c.meta_update + update + c.meta_create + causes


def _service_port_value(protocol: str, port: int) -> GoStruct:
    # the (protocol, port) key as core.ServicePort, which has no JSON tags
    return GoStruct(Name="", Protocol=protocol, AppProtocol=None, Port=port, TargetPort=0, NodePort=0)


def _service_port_causes(
    d: Decoder, port: dict[str, Any], path: str, require_name: bool, names: set[str]
) -> list[Cause]:
    s = "ServicePort"
    name = d.string(port, "name", path, s)
    protocol = d.string(port, "protocol", path, s, "v1.Protocol") or "TCP"
    app_protocol = d.string_or_none(port, "appProtocol", path, s)
    number = d.integer(port, "port", path, s) or 0
    target = d.int_or_string(port, "targetPort", path, s)
    d.integer(port, "nodePort", path, s)
    causes = []
    if require_name and not name:
        causes.append(required(path_child(path, "name")))
    elif name:
        causes.extend(invalid(path_child(path, "name"), name, m) for m in is_dns1123_label(name))
        if name in names:
            causes.append(duplicate(path_child(path, "name"), name))
        names.add(name)
    causes.extend(invalid(path_child(path, "port"), number, m) for m in is_valid_port_num(number))
    if protocol not in PROTOCOLS:
        causes.append(not_supported(path_child(path, "protocol"), protocol, PROTOCOLS))
    if isinstance(target, int) and target != 0:  # 0 and "" default to the port
        causes.extend(invalid(path_child(path, "targetPort"), target, m) for m in is_valid_port_num(target))
    elif isinstance(target, str) and target:
        causes.extend(invalid(path_child(path, "targetPort"), target, m) for m in is_valid_port_name(target))
    if app_protocol is not None:
        causes.extend(
            invalid(path_child(path, "appProtocol"), app_protocol, m) for m in is_qualified_name(app_protocol)
        )
    return causes


def _service_cluster_ips(d: Decoder, spec: dict[str, Any]) -> list[str]:
    # the registry fills clusterIPs from clusterIP before validation
    cluster_ip = d.string(spec, "clusterIP", "spec", "ServiceSpec")
    cluster_ips = d.strings(spec, "clusterIPs", "spec", "ServiceSpec")
    return cluster_ips or ([cluster_ip] if cluster_ip else [])


def _service(c: _Context) -> list[Cause]:
    d, s = c.d, "ServiceSpec"
    spec = c.spec("Service", "v1.ServiceSpec")
    service_type = d.string(spec, "type", "spec", s, "v1.ServiceType") or "ClusterIP"
    cluster_ip = d.string(spec, "clusterIP", "spec", s)
    cluster_ips = _service_cluster_ips(d, spec)
    headless = cluster_ips == ["None"]
    ports = d.objects(spec, "ports", "spec", s, "v1.ServicePort")
    causes = []
    if not ports and not headless and service_type != "ExternalName":
        causes.append(required("spec.ports"))
    if service_type in ("LoadBalancer", "NodePort") and headless:
        causes.append(
            invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for %s services" % service_type)
        )
    if service_type == "ExternalName":
        if cluster_ips:
            causes.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            causes.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = d.string(spec, "externalName", "spec", s).removesuffix(".")
        if cname:
            causes.extend(invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname))
        else:
            causes.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        causes.extend(_service_port_causes(d, port, path_index("spec.ports", i), len(ports) > 1, names))
    causes.extend(validate_labels(d.string_map(spec, "selector", "spec", s), "spec.selector"))
    affinity = d.string(spec, "sessionAffinity", "spec", s, "v1.ServiceAffinity")
    if affinity and affinity not in SESSION_AFFINITIES:
        causes.append(not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    if affinity in ("", "None") and spec.get("sessionAffinityConfig") is not None:
        causes.append(
            forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")
        )
    if service_type != "ExternalName":
        if cluster_ip and spec.get("clusterIPs") and spec["clusterIPs"][0] != cluster_ip:
            causes.append(
                invalid("spec.clusterIPs", spec["clusterIPs"], "first value must match `clusterIP`")
            )
        for i, ip in enumerate(cluster_ips):
            if not (i == 0 and ip == "None"):
                causes.extend(ip_errors(path_index("spec.clusterIPs", i), ip))
    if service_type not in SERVICE_TYPES:
        causes.append(not_supported("spec.type", service_type, SERVICE_TYPES))
    node_ports: set[tuple[str, int]] = set()
    service_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        p = path_index("spec.ports", i)
        protocol, node_port = port.get("protocol") or "TCP", port.get("nodePort") or 0
        if service_type == "ClusterIP" and node_port:
            causes.append(forbidden(path_child(p, "nodePort"), "may not be used when `type` is 'ClusterIP'"))
        if node_port:
            if (protocol, node_port) in node_ports:
                causes.append(duplicate(path_child(p, "nodePort"), node_port))
            node_ports.add((protocol, node_port))
        key = (protocol, port.get("port") or 0)
        if key in service_ports:
            causes.append(duplicate(p, _service_port_value(*key)))
        service_ports.add(key)
    if c.old is None:
        return c.meta_create + causes
    old_ips = _service_cluster_ips(d, c.spec("Service", "v1.ServiceSpec", c.old))
    update = []
    if (
        old_ips
        and cluster_ips
        and old_ips[0] != cluster_ips[0]
        and "ExternalName"
        not in (
            service_type,
            (c.old.get("spec") or {}).get("type"),
        )
    ):
        update.append(invalid("spec.clusterIPs[0]", cluster_ips, "may not change once set"))
    return c.meta_update + update + c.meta_create + causes


def _node(c: _Context) -> list[Cause]:
    d = c.d
    spec = c.spec("Node", "v1.NodeSpec")
    taints = _taint_causes(d, d.objects(spec, "taints", "spec", "NodeSpec", "v1.Taint"), "metadata.taints")
    pod_cidrs = d.strings(spec, "podCIDRs", "spec", "NodeSpec")
    provider_id = d.string(spec, "providerID", "spec", "NodeSpec")
    if c.old is None:
        causes = c.meta_create + taints
        for i, cidr in enumerate(pod_cidrs):
            causes.extend(_cidr_causes(path_index("spec.podCIDRs", i), cidr))
        return causes
    old_spec = c.spec("Node", "v1.NodeSpec", c.old)
    causes = list(c.meta_update)
    old_cidrs = old_spec.get("podCIDRs") or []
    if old_cidrs and old_cidrs != pod_cidrs:
        causes.append(
            forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')
        )
    old_provider = old_spec.get("providerID") or ""
    if old_provider and old_provider != provider_id:
        causes.append(
            forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid')
        )
    return causes + taints


def _micro_time(d: Decoder, parent: Mapping[str, Any], name: str, path: str, struct: str) -> str | None:
    """A metav1.MicroTime member, whose unmarshaller rejects anything but RFC 3339 with microseconds."""
    value = parent.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        d.mismatch(value, struct, path_child(path, name), "string")
    error = micro_time_error(value)
    if error:
        d.reject(error)
    return value


def _lease(c: _Context) -> list[Cause]:
    d, s = c.d, "LeaseSpec"
    spec = c.spec("Lease", "v1.LeaseSpec")
    d.string(spec, "holderIdentity", "spec", s)
    duration = d.integer(spec, "leaseDurationSeconds", "spec", s)
    transitions = d.integer(spec, "leaseTransitions", "spec", s)
    _micro_time(d, spec, "acquireTime", "spec", s)
    _micro_time(d, spec, "renewTime", "spec", s)
    d.string(spec, "strategy", "spec", s, "v1.CoordinatedLeaseStrategy")
    d.string(spec, "preferredHolder", "spec", s)
    causes = list(c.meta_update if c.old is not None else c.meta_create)
    if duration is not None and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    if transitions is not None and transitions < 0:
        causes.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    return causes


def _int_or_percent(value: int | str) -> int:
    # apps validation's getIntOrPercentValue: the percentage, else intstr's IntValue (Atoi or 0)
    if isinstance(value, int):
        return value
    if value.endswith("%") and not is_valid_percent(value):
        return int(value[:-1])
    return int(value) if re.fullmatch("[+-]?[0-9]+", value) else 0


def _positive_int_or_percent(path: str, value: int | str) -> list[Cause]:
    if isinstance(value, str):
        return [invalid(path, value, m) for m in is_valid_percent(value)]
    return _nonnegative(path, value)


def _deployment_strategy_causes(d: Decoder, spec: dict[str, Any]) -> list[Cause]:
    strategy = d.object_or_none(spec, "strategy", "spec", "DeploymentSpec", "v1.DeploymentStrategy")
    if strategy is None:
        return []  # defaulted to RollingUpdate 25%/25%
    strategy_type = d.string(
        strategy, "type", "spec.strategy", "DeploymentStrategy", "v1.DeploymentStrategyType"
    )
    rolling = d.object_or_none(
        strategy, "rollingUpdate", "spec.strategy", "DeploymentStrategy", "v1.RollingUpdateDeployment"
    )
    strategy_type = strategy_type or "RollingUpdate"
    if strategy_type == "Recreate":
        if rolling is not None:
            return [
                forbidden(
                    "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
                )
            ]
        return []
    if strategy_type != "RollingUpdate":
        shown = (
            None
            if rolling is None
            else GoStruct(MaxUnavailable=rolling.get("maxUnavailable"), MaxSurge=rolling.get("maxSurge"))
        )
        return [
            not_supported(
                "spec.strategy",
                GoStruct(Type=strategy_type, RollingUpdate=shown),
                ("Recreate", "RollingUpdate"),
            )
        ]
    rolling = rolling or {}
    unavailable = d.int_or_string(
        rolling, "maxUnavailable", "spec.strategy.rollingUpdate", "RollingUpdateDeployment"
    )
    surge = d.int_or_string(rolling, "maxSurge", "spec.strategy.rollingUpdate", "RollingUpdateDeployment")
    unavailable = "25%" if unavailable is None else unavailable
    surge = "25%" if surge is None else surge
    p = "spec.strategy.rollingUpdate"
    causes = _positive_int_or_percent(path_child(p, "maxUnavailable"), unavailable)
    causes.extend(_positive_int_or_percent(path_child(p, "maxSurge"), surge))
    if _int_or_percent(unavailable) == 0 and _int_or_percent(surge) == 0:
        causes.append(
            invalid(path_child(p, "maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0")
        )
    if (
        isinstance(unavailable, str)
        and not is_valid_percent(unavailable)
        and _int_or_percent(unavailable) > 100
    ):
        causes.append(invalid(path_child(p, "maxUnavailable"), unavailable, "must not be greater than 100%"))
    return causes


def _deployment(c: _Context) -> list[Cause]:
    d, s = c.d, "DeploymentSpec"
    spec = c.spec("Deployment", "v1.DeploymentSpec")
    replicas = d.integer(spec, "replicas", "spec", s)
    selector = d.object_or_none(spec, "selector", "spec", s, "v1.LabelSelector")
    template = d.object(spec, "template", "spec", s, "v1.PodTemplateSpec")
    min_ready = d.integer(spec, "minReadySeconds", "spec", s) or 0
    history = d.integer(spec, "revisionHistoryLimit", "spec", s)
    deadline = d.integer(spec, "progressDeadlineSeconds", "spec", s)
    causes = _nonnegative("spec.replicas", replicas)
    selector_causes: list[Cause] = []
    if selector is None:
        causes.append(required("spec.selector"))
    else:
        selector_causes = validate_label_selector(selector, "spec.selector", d)
        causes.extend(selector_causes)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(
                invalid(
                    "spec.selector",
                    label_selector_value(selector),
                    "empty selector is invalid for deployment",
                )
            )
    if selector_causes:
        causes.append(invalid("spec.selector", label_selector_value(selector), "invalid label selector"))
    else:
        meta = d.object(template, "metadata", "spec.template", "PodTemplateSpec", "v1.ObjectMeta")
        labels = d.string_map(meta, "labels", "spec.template.metadata", "ObjectMeta")
        # a missing selector selects nothing, an empty one everything
        if selector is None or (
            (selector.get("matchLabels") or selector.get("matchExpressions"))
            and not label_selector_matches(selector, labels)
        ):
            shown = meta.get("labels")
            causes.append(
                invalid("spec.template.metadata.labels", shown, "`selector` does not match template `labels`")
            )
        causes.extend(_pod_template_causes(d, template, "spec.template"))
        pod_spec = template.get("spec") or {}
        restart = pod_spec.get("restartPolicy") or "Always"
        if restart != "Always":
            causes.append(not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
        if pod_spec.get("activeDeadlineSeconds") is not None:
            causes.append(
                forbidden(
                    "spec.template.spec.activeDeadlineSeconds",
                    "activeDeadlineSeconds in ReplicaSet is not Supported",
                )
            )
    causes.extend(_deployment_strategy_causes(d, spec))
    causes.extend(_nonnegative("spec.minReadySeconds", min_ready))
    causes.extend(_nonnegative("spec.revisionHistoryLimit", history))
    deadline = 600 if deadline is None else deadline
    causes.extend(_nonnegative("spec.progressDeadlineSeconds", deadline))
    if deadline <= min_ready:
        causes.append(
            invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")
        )
    if c.old is None:
        return c.meta_create + causes
    causes = c.meta_update + causes
    old_selector = c.spec("Deployment", "v1.DeploymentSpec", c.old).get("selector")
    if zero_pruned(selector) != zero_pruned(old_selector):  # immutable since apps/v1
        causes.append(invalid("spec.selector", label_selector_value(selector), FIELD_IMMUTABLE))
    return causes


def _event_series(d: Decoder, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    series = d.object_or_none(obj, "series", "", "Event", "v1.EventSeries")
    if series is None:
        return None
    return {
        "count": d.integer(series, "count", "series", "EventSeries") or 0,
        "lastObservedTime": _micro_time(d, series, "lastObservedTime", "series", "EventSeries"),
    }


def _event_fields(d: Decoder, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The core Event fields validation reads, from a core/v1 or an events.k8s.io/v1 object."""
    if obj.get("apiVersion") == "events.k8s.io/v1":
        involved = d.object(obj, "regarding", "", "Event", "v1.ObjectReference")
        message = d.string(obj, "note", "", "Event")
        source = d.object(obj, "deprecatedSource", "", "Event", "v1.EventSource")
        first, last = obj.get("deprecatedFirstTimestamp"), obj.get("deprecatedLastTimestamp")
        count = d.integer(obj, "deprecatedCount", "", "Event") or 0
    else:
        involved = d.object(obj, "involvedObject", "", "Event", "v1.ObjectReference")
        message = d.string(obj, "message", "", "Event")
        source = d.object(obj, "source", "", "Event", "v1.EventSource")
        first, last = obj.get("firstTimestamp"), obj.get("lastTimestamp")
        count = d.integer(obj, "count", "", "Event") or 0
    controller_member = (
        "reportingController" if obj.get("apiVersion") == "events.k8s.io/v1" else "reportingComponent"
    )
    return {
        "namespace": ((obj.get("metadata") or {}).get("namespace")) or "",
        "involvedNamespace": d.string(involved, "namespace", "involvedObject", "ObjectReference"),
        "eventTime": _micro_time(d, obj, "eventTime", "", "Event"),
        "reportingController": d.string(obj, controller_member, "", "Event"),
        "reportingInstance": d.string(obj, "reportingInstance", "", "Event"),
        "action": d.string(obj, "action", "", "Event"),
        "reason": d.string(obj, "reason", "", "Event"),
        "message": message,
        "type": d.string(obj, "type", "", "Event"),
        "source": source,
        "firstTimestamp": first,
        "lastTimestamp": last,
        "count": count,
        "series": _event_series(d, obj),
    }


def _legacy_event_causes(e: Mapping[str, Any]) -> list[Cause]:
    causes = []
    namespace, involved = e["namespace"], e["involvedNamespace"]
    mismatch = invalid("involvedObject.namespace", involved, "does not match event.namespace")
    if not e["eventTime"]:
        if (not involved and namespace not in ("", "default")) or (involved and namespace != involved):
            causes.append(mismatch)
    else:
        if not involved and namespace not in ("default", "kube-system"):
            causes.append(mismatch)
        if not e["reportingController"]:
            causes.append(required("reportingController"))
        causes.extend(
            invalid("reportingController", e["reportingController"], m)
            for m in is_qualified_name(e["reportingController"])
        )
        for member, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
            if not e[member]:
                causes.append(required(member))
            if _blen(e[member]) > limit:
                causes.append(invalid(member, "", "can have at most %d characters" % limit))
        if _blen(e["message"]) > 1024:
            causes.append(invalid("message", "", "can have at most 1024 characters"))
    causes.extend(invalid("namespace", namespace, m) for m in is_dns1123_subdomain(namespace))
    return causes


def _event_series_causes(series: Mapping[str, Any] | None) -> list[Cause]:
    causes = []
    if series is not None:
        if (series.get("count") or 0) < 2:
            causes.append(invalid("series.count", "", "should be at least 2"))
        if not series.get("lastObservedTime"):
            causes.append(required("series.lastObservedTime"))
    return causes


def _strict_event_causes(e: Mapping[str, Any]) -> list[Cause]:
    # events.k8s.io/v1 on create
    causes = _event_series_causes(e["series"])
    if not e["eventTime"]:
        causes.append(required("eventTime"))
    if e["type"] not in ("Normal", "Warning"):
        causes.append(invalid("type", "", "has invalid value: %s" % e["type"]))
    for member in ("firstTimestamp", "lastTimestamp", "count"):
        if e[member]:
            causes.append(invalid(member, "", "needs to be unset"))
    if e["source"].get("component") or e["source"].get("host"):
        causes.append(invalid("source", "", "needs to be unset"))
    return causes


_EVENT_IMMUTABLE: Final = (
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "type",
    "eventTime",
    "action",
    "related",
    "reportingController",
    "reportingInstance",
)


def _event(c: _Context) -> list[Cause]:
    event = _event_fields(c.d, c.obj)
    causes = _legacy_event_causes(event)
    if c.obj.get("apiVersion") == "events.k8s.io/v1":
        if c.old is None:
            causes = causes + c.meta_create + _strict_event_causes(event)
        else:
            old = _event_fields(c.d, c.old)
            causes = causes + c.meta_update
            if zero_pruned(event["series"]) != zero_pruned(old["series"]):
                causes.extend(_event_series_causes(event["series"]))
            causes.extend(
                invalid(m, event.get(m), FIELD_IMMUTABLE)
                for m in _EVENT_IMMUTABLE
                if m in event and zero_pruned(event[m]) != zero_pruned(old[m])
            )
        return causes
    # core/v1 only gets the legacy rules; the generic name checks run when those pass
    if causes:
        return causes
    return c.meta_update if c.old is not None else c.meta_create


def _endpoint_address_causes(d: Decoder, address: dict[str, Any], path: str) -> list[Cause]:
    s = "EndpointAddress"
    ip = d.string(address, "ip", path, s)
    hostname = d.string(address, "hostname", path, s)
    node_name = d.string_or_none(address, "nodeName", path, s)
    ip_path = path_child(path, "ip")
    causes = ip_errors(ip_path, ip)
    if hostname:
        causes.extend(invalid(path_child(path, "hostname"), hostname, m) for m in is_dns1123_label(hostname))
    if node_name is not None:
        causes.extend(_name_causes(path_child(path, "nodeName"), node_name, "subdomain"))
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return [*causes, invalid(ip_path, ip, "must be a valid IP address")]
    if parsed.is_unspecified:
        causes.append(invalid(ip_path, ip, "may not be unspecified (%s)" % ip))
    if parsed.is_loopback:
        causes.append(invalid(ip_path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if parsed.is_link_local and not parsed.is_multicast:
        causes.append(invalid(ip_path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if parsed in ipaddress.ip_network("224.0.0.0/24") or (
        isinstance(parsed, ipaddress.IPv6Address) and parsed.is_multicast and (parsed.packed[1] & 0x0F) == 2
    ):
        causes.append(
            invalid(ip_path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        )
    return causes


def _endpoints(c: _Context) -> list[Cause]:
    d = c.d
    causes = []
    for i, subset in enumerate(d.objects(c.obj, "subsets", "", "Endpoints", "v1.EndpointSubset")):
        p = path_index("subsets", i)
        addresses = d.objects(subset, "addresses", p, "EndpointSubset", "v1.EndpointAddress")
        not_ready = d.objects(subset, "notReadyAddresses", p, "EndpointSubset", "v1.EndpointAddress")
        ports = d.objects(subset, "ports", p, "EndpointSubset", "v1.EndpointPort")
        if not addresses and not not_ready:
            causes.append(required(p, "must specify `addresses` or `notReadyAddresses`"))
        for j, address in enumerate(addresses):
            causes.extend(_endpoint_address_causes(d, address, path_index(path_child(p, "addresses"), j)))
        for j, address in enumerate(not_ready):
            causes.extend(
                _endpoint_address_causes(d, address, path_index(path_child(p, "notReadyAddresses"), j))
            )
        for j, port in enumerate(ports):
            pp = path_index(path_child(p, "ports"), j)
            name = d.string(port, "name", pp, "EndpointPort")
            number = d.integer(port, "port", pp, "EndpointPort") or 0
            protocol = d.string(port, "protocol", pp, "EndpointPort", "v1.Protocol") or "TCP"
            app_protocol = d.string_or_none(port, "appProtocol", pp, "EndpointPort")
            if len(ports) > 1 and not name:
                causes.append(required(path_child(pp, "name")))
            elif name:
                causes.extend(invalid(path_child(pp, "name"), name, m) for m in is_dns1123_label(name))
            causes.extend(invalid(path_child(pp, "port"), number, m) for m in is_valid_port_num(number))
            if protocol not in PROTOCOLS:
                causes.append(not_supported(path_child(pp, "protocol"), protocol, PROTOCOLS))
            if app_protocol is not None:
                causes.extend(
                    invalid(path_child(pp, "appProtocol"), app_protocol, m)
                    for m in is_qualified_name(app_protocol)
                )
    if c.old is None:
        return c.meta_create + causes
    return c.meta_update + c.meta_create + causes


def _metadata_only(c: _Context) -> list[Cause]:
    """ServiceAccount, and kinds without rules of their own here."""
    return c.meta_update + c.meta_create if c.old is not None else c.meta_create


@dataclass(frozen=True)
class _KindRules:
    namespaced: bool
    name_rule: NameRule
    validate: Callable[[_Context], list[Cause]]
    kube_finalizers: bool = True  # core/v1 and apps kinds go through core's ValidateObjectMeta


_KINDS: Final = {
    "Pod": _KindRules(True, "subdomain", _pod),
    "Namespace": _KindRules(False, "label", _namespace),
    "ConfigMap": _KindRules(True, "subdomain", _config_map),
    "Secret": _KindRules(True, "subdomain", _secret),
    "Service": _KindRules(True, "label1035", _service),
    "Node": _KindRules(False, "subdomain", _node),
    "Lease": _KindRules(True, "subdomain", _lease, False),
    "Deployment": _KindRules(True, "subdomain", _deployment),
    "Event": _KindRules(True, "path-segment", _event, False),
    "ServiceAccount": _KindRules(True, "subdomain", _metadata_only),
    "Endpoints": _KindRules(True, "subdomain", _endpoints),
}

CLUSTER_SCOPED_KINDS: Final = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)
_PATH_SEGMENT_NAMED: Final = frozenset({"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Event"})


def name_rule_for(kind: str) -> NameRule:
    """How kube-apiserver validates metadata.name of a kind; custom resources use "subdomain"."""
    rules = _KINDS.get(kind)
    if rules is not None:
        return rules.name_rule
    return "path-segment" if kind in _PATH_SEGMENT_NAMED else "subdomain"


def validate_builtin(
    kind: str, obj: Mapping[str, Any], *, old: Mapping[str, Any] | None = None
) -> list[Cause]:
    """All causes for a built-in object on create (old None) or update, metadata included.

    Kinds without rules of their own get their metadata validated (name rule from `name_rule_for`,
    scope from CLUSTER_SCOPED_KINDS). Wrong JSON types raise ApiError.bad_request as kube's decoder does.
    """
    if kind == "CustomResourceDefinition":
        return validate_crd(obj, old=old)
    rules = _KINDS.get(kind) or _KindRules(
        kind not in CLUSTER_SCOPED_KINDS, name_rule_for(kind), _metadata_only
    )
    d = Decoder.for_object(obj)
    meta = _Meta(d, obj)
    context = _Context(
        d,
        obj,
        old,
        _metadata_create_causes(
            d,
            meta,
            namespaced=rules.namespaced,
            name_check=lambda name, prefix: name_errors(rules.name_rule, name, prefix=prefix),
            require_name=True,
            kube_finalizers=rules.kube_finalizers,
        ),
    )
    if old is not None:
        context.meta_update = _metadata_update_causes(
            d, meta, _Meta(d, old), kube_finalizers=rules.kube_finalizers
        )
    return rules.validate(context)


def raise_if_invalid(kind: str, name: str, causes: Sequence[Cause], group: str = "") -> None:
    """Raise the 422 Invalid status kube-apiserver answers for these causes (repeats dropped)."""
    if causes:
        raise ApiError.invalid(kind, name, list(dict.fromkeys(causes)), group)


# -- CustomResourceDefinition (apiextensions-apiserver pkg/apis/apiextensions/validation) --------------

PRINTER_COLUMN_TYPES: Final = ("boolean", "date", "integer", "number", "string")
PRINTER_COLUMN_FORMATS: Final = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")


def _subresource_causes(d: Decoder, subresources: Mapping[str, Any] | None, path: str) -> list[Cause]:
    if subresources is None:
        return []
    s = "CustomResourceSubresources"
    d.object_or_none(subresources, "status", path, s, "v1.CustomResourceSubresourceStatus")
    scale = d.object_or_none(subresources, "scale", path, s, "v1.CustomResourceSubresourceScale")
    if scale is None:
        return []
    causes = []
    scale_path = path_child(path, "scale")
    for member, prefixes in (
        ("specReplicasPath", (".spec.",)),
        ("statusReplicasPath", (".status.",)),
        ("labelSelectorPath", (".spec.", ".status.")),
    ):
        value = d.string_or_none(scale, member, scale_path, "CustomResourceSubresourceScale")
        member_path = path_child(path, "scale." + member)
        if not value:
            if member != "labelSelectorPath":
                causes.append(required(member_path))
            continue
        if value[0] != ".":
            causes.append(invalid(member_path, value, "must be a simple json path starting with ."))
        elif not value.startswith(prefixes):
            where = (
                "under either .spec or .status" if len(prefixes) == 2 else "under " + prefixes[0].rstrip(".")
            )
            causes.append(invalid(member_path, value, "should be a json path " + where))
    return causes


def _column_causes(d: Decoder, column: Mapping[str, Any], path: str) -> list[Cause]:
    s = "CustomResourceColumnDefinition"
    name = d.string(column, "name", path, s)
    column_type = d.string(column, "type", path, s)
    column_format = d.string(column, "format", path, s)
    json_path = d.string(column, "jsonPath", path, s)
    d.string(column, "description", path, s)
    d.integer(column, "priority", path, s)
    causes = [] if name else [required(path_child(path, "name"))]
    types = "must be one of %s" % ",".join(PRINTER_COLUMN_TYPES)
    if not column_type:
        causes.append(required(path_child(path, "type"), types))
    elif column_type not in PRINTER_COLUMN_TYPES:
        causes.append(invalid(path_child(path, "type"), column_type, types))
    if column_format and column_format not in PRINTER_COLUMN_FORMATS:
        causes.append(
            invalid(
                path_child(path, "format"),
                column_format,
                "must be one of %s" % ",".join(PRINTER_COLUMN_FORMATS),
            )
        )
    # the internal type names the member JSONPath
    if not json_path:
        causes.append(required(path_child(path, "JSONPath")))
    elif json_path[0] != ".":
        causes.append(
            invalid(path_child(path, "JSONPath"), json_path, "must be a simple json path starting with .")
        )
    return causes


def _crd_names_causes(names: Mapping[str, Any], path: str) -> list[Cause]:
    causes = []
    for member in ("plural", "singular"):
        value = names[member]
        errs = is_dns1035_label(value) if value else []
        if errs:
            causes.append(invalid(path_child(path, member), value, ",".join(errs)))
    for member in ("kind", "listKind"):
        value = names[member]
        errs = is_dns1035_label(value.lower()) if value else []
        if errs:
            causes.append(
                invalid(
                    path_child(path, member),
                    value,
                    "may have mixed case, but should otherwise match: " + ",".join(errs),
                )
            )
    for member in ("shortNames", "categories"):
        for i, value in enumerate(names[member]):
            errs = is_dns1035_label(value)
            if errs:
                causes.append(invalid(path_index(path_child(path, member), i), value, ",".join(errs)))
    if names["kind"] and names["kind"] == names["listKind"]:
        causes.append(
            invalid(path_child(path, "listKind"), names["listKind"], "kind and listKind may not be the same")
        )
    return causes


def _crd_names(d: Decoder, spec: Mapping[str, Any]) -> dict[str, Any]:
    names = d.object(
        spec, "names", "spec", "CustomResourceDefinitionSpec", "v1.CustomResourceDefinitionNames"
    )
    s, p = "CustomResourceDefinitionNames", "spec.names"
    kind = d.string(names, "kind", p, s)
    return {
        "plural": d.string(names, "plural", p, s),
        "singular": d.string(names, "singular", p, s) or kind.lower(),  # v1 defaulting
        "kind": kind,
        "listKind": d.string(names, "listKind", p, s) or (kind + "List" if kind else ""),
        "shortNames": d.strings(names, "shortNames", p, s),
        "categories": d.strings(names, "categories", p, s),
    }


def _protected_group(group: str) -> bool:
    return group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))


def _api_approval_causes(meta: _Meta) -> list[Cause]:
    annotation_key = "api-approved.kubernetes.io"
    value = meta.annotations.get(annotation_key, "")
    path = path_key("metadata.annotations", annotation_key)
    if not value:
        return [
            required(
                path,
                'protected groups must have approval annotation "%s", see https://github.com/kubernetes/enhancements/pull/1111'
                % annotation_key,
            )
        ]
    if value.startswith("unapproved") or re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+", value):
        return []
    return [
        invalid(
            path,
            value,
            'protected groups must have approval annotation "%s" with either a URL '
            'or a reason starting with "unapproved", see https://github.com/kubernetes/enhancements/pull/1111'
            % annotation_key,
        )
    ]


def validate_crd(crd: Mapping[str, Any], *, old: Mapping[str, Any] | None = None) -> list[Cause]:
    """apiextensions.k8s.io/v1 CustomResourceDefinition rules, on create or (old given) update.

    As kube-apiserver does after converting to its internal type, a schema, subresources or printer
    columns shared by all versions are reported under spec.validation, spec.subresources and
    spec.additionalPrinterColumns. Not checked: conversion webhooks, selectableFields, CEL rules
    (x-kubernetes-validations) beyond presence, and status (the server writes it).
    """
    d = Decoder.for_object(crd)
    s = "CustomResourceDefinitionSpec"
    spec = d.object(crd, "spec", "", "CustomResourceDefinition", "v1.CustomResourceDefinitionSpec")
    group = d.string(spec, "group", "spec", s)
    scope = d.string(spec, "scope", "spec", s, "v1.ResourceScope")
    names = _crd_names(d, spec)
    versions = d.objects(spec, "versions", "spec", s, "v1.CustomResourceDefinitionVersion")
    preserve_unknown = d.boolean(spec, "preserveUnknownFields", "spec", s)
    required_name = "%s.%s" % (names["plural"], group)

    def name_check(name: str, prefix: bool) -> list[str]:
        errs = name_errors("subdomain", name, prefix=prefix)
        return [*errs, 'must be spec.names.plural+"."+spec.group'] if name != required_name else errs

    meta = _Meta(d, crd)
    if old is None:
        causes = _metadata_create_causes(
            d, meta, namespaced=False, name_check=name_check, require_name=True, kube_finalizers=False
        )
    else:
        causes = _metadata_update_causes(d, meta, _Meta(d, old), kube_finalizers=False)
    causes.extend(_crd_spec_causes(d, spec, group, scope, names, versions))
    if old is not None:
        old_spec = old.get("spec") or {}
        if scope != old_spec.get("scope"):
            causes.append(invalid("spec.scope", scope, FIELD_IMMUTABLE))
        if names["plural"] != (old_spec.get("names") or {}).get("plural"):
            causes.append(invalid("spec.names.plural", names["plural"], FIELD_IMMUTABLE))
    old_annotations = ((old or {}).get("metadata") or {}).get("annotations") or {}
    if _protected_group(group) and (
        old is None
        or old_annotations.get("api-approved.kubernetes.io")
        != meta.annotations.get("api-approved.kubernetes.io")
    ):
        causes.extend(_api_approval_causes(meta))
    if preserve_unknown and not ((old or {}).get("spec") or {}).get("preserveUnknownFields"):
        causes.append(
            invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, "
                "set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
            )
        )
    return causes


def _crd_spec_causes(
    d: Decoder,
    spec: Mapping[str, Any],
    group: str,
    scope: str,
    names: dict[str, Any],
    versions: list[dict[str, Any]],
) -> list[Cause]:
    # schema.py builds on this module, hence the late import
    from kedge.apiserver import schema as schemas

    causes = []
    if not group:
        causes.append(required("spec.group"))
    elif is_dns1123_subdomain(group):
        causes.append(invalid("spec.group", group, ",".join(is_dns1123_subdomain(group))))
    elif "." not in group:
        causes.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    if not scope:
        causes.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        causes.append(not_supported("spec.scope", scope, ("Cluster", "Namespaced")))
    vs = "CustomResourceDefinitionVersion"
    parts = []
    for i, version in enumerate(versions):
        p = path_index("spec.versions", i)
        schema = d.object_or_none(version, "schema", p, vs, "v1.CustomResourceValidation")
        subresources = d.object_or_none(version, "subresources", p, vs, "v1.CustomResourceSubresources")
        columns = d.objects(version, "additionalPrinterColumns", p, vs, "v1.CustomResourceColumnDefinition")
        parts.append((schema, subresources, columns))
        open_api = None
        if schema is not None:
            open_api = d.object_or_none(
                schema,
                "openAPIV3Schema",
                path_child(p, "schema"),
                "CustomResourceValidation",
                "v1.JSONSchemaProps",
            )
        if open_api is None:
            causes.append(required(path_child(p, "schema.openAPIV3Schema")))
        else:
            schemas.check_schema_types(d, open_api, path_child(p, "schema.openAPIV3Schema"))

    def shared(index: int) -> bool:
        # the v1 -> internal conversion moves per-version values that are all equal to the top level
        return bool(versions) and all(
            zero_pruned(part[index]) == zero_pruned(parts[0][index]) for part in parts
        )

    shared_schema, shared_subresources, shared_columns = shared(0), shared(1), shared(2)
    any_status = any((sub or {}).get("status") is not None for _, sub, _ in parts)
    storage = 0
    seen: set[str] = set()
    unique = True
    for i, (version, (schema, subresources, columns)) in enumerate(zip(versions, parts, strict=True)):
        p = path_index("spec.versions", i)
        name = d.string(version, "name", p, vs)
        d.boolean(version, "served", p, vs)
        if d.boolean(version, "storage", p, vs):
            storage += 1
        unique = unique and name not in seen
        seen.add(name)
        errs = is_dns1035_label(name)
        if errs:
            causes.append(invalid(path_child(p, "name"), name, ",".join(errs)))
        deprecated = d.boolean(version, "deprecated", p, vs)
        warning = d.string_or_none(version, "deprecationWarning", p, vs)
        causes.extend(
            invalid(path_child(p, "deprecationWarning"), warning, m)
            for m in _deprecation_warning_errors(bool(deprecated), warning)
        )
        if not shared_schema:
            status = (subresources or {}).get("status") is not None
            causes.extend(schemas.definition_causes(d, schema, path_child(p, "schema"), status))
        if not shared_subresources:
            causes.extend(_subresource_causes(d, subresources, path_child(p, "subresources")))
        if not shared_columns:
            for j, column in enumerate(columns):
                causes.extend(
                    _column_causes(d, column, path_index(path_child(p, "additionalPrinterColumns"), j))
                )
    if not unique:
        causes.append(invalid("spec.versions", versions, "must contain unique version names"))
    if storage != 1:
        causes.append(
            invalid("spec.versions", versions, "must have exactly one version marked as storage version")
        )
    if versions:
        first = versions[0].get("name") or ""
        errs = is_dns1035_label(first)
        if errs:  # the internal spec.version is the first version's name
            causes.append(invalid("spec.version", first, ",".join(errs)))
    for member in ("plural", "singular", "kind", "listKind"):
        if not names[member]:
            causes.append(required("spec.names." + member))
    causes.extend(_crd_names_causes(names, "spec.names"))
    if versions and shared_schema:
        causes.extend(schemas.definition_causes(d, parts[0][0], "spec.validation", any_status))
    if versions and shared_subresources:
        causes.extend(_subresource_causes(d, parts[0][1], "spec.subresources"))
    if versions and shared_columns:
        for j, column in enumerate(parts[0][2]):
            causes.extend(_column_causes(d, column, path_index("spec.additionalPrinterColumns", j)))
    return causes


def _deprecation_warning_errors(deprecated: bool, warning: str | None) -> list[str]:
    if not deprecated and warning is not None:
        return ["can only be set for deprecated versions"]
    if warning is None:
        return []
    errs = []
    if _blen(warning) > 256:
        errs.append("must be <= 256 characters long")
    if not warning:
        errs.append("must not be an empty string")
    for i, ch in enumerate(warning):
        if not ch.isprintable():
            errs.append(
                "must only contain printable UTF-8 characters; non-printable character found at index %d"
                % _blen(warning[:i])
            )
            break
    return errs
