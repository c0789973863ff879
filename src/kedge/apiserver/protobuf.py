"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) decoded into JSON objects.

kubectl's typed commands (`create namespace|configmap|secret|deployment|job|role|...`, `autoscale`,
`create token`, `auth can-i`, `certificate approve`, `debug`, the DeleteOptions of `drain`) send protobuf
and do not retry with JSON on 415 (`run`, `expose`, `apply`, `create -f` and patches send JSON). kedge
stores JSON, so a body becomes the dict that the JSON encoding of the same Go object decodes to;
responses stay JSON, which kubectl also accepts.

Body (k8s.io/apimachinery pkg/runtime/serializer/protobuf): the magic b"k8s\\x00", then a runtime.Unknown
message {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType}; raw is the object's
own message, laid out as the tables in `protobuf_messages` say.

JSON as Go's encoding/json writes the decoded object: a scalar equal to its zero value is left out
unless its field keeps it (Go writes every non-pointer field to protobuf, zero or not); sub-messages
present on the wire are kept, even empty (`"spec": {}`); empty repeated fields and maps are absent;
bytes become base64; a zero Time is null. A field number without a table entry is an error, never
dropped data.
"""

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from kedge.apiserver.errors import ApiError
from kedge.apiserver.protobuf_messages import (
    CODECS,
    DELETE_OPTIONS,
    KINDS,
    MAP,
    MESSAGES,
    REPEATED,
    SCALARS,
    Field,
)

MAGIC = b"k8s\x00"

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5

_MASK64 = (1 << 64) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VARINT_TYPES = frozenset({"bool", "int32", "int64"})

WireValue = int | memoryview


class ProtobufError(ValueError):
    """Protobuf data that cannot become JSON.

    `unsupported` marks valid protobuf that kedge has no table for (a 415: the client may send JSON);
    otherwise the data is malformed (a 400). `path` is the JSON path of the field being decoded.
    """

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unsupported = unsupported
        self.path: list[str] = []

    def where(self) -> str:
        return "".join(p if p.startswith("[") else "." + p for p in self.path).lstrip(".")


# -- wire format -------------------------------------------------------------------------------------


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """The unsigned 64-bit varint at data[pos:] and the position after it."""
    result = shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(data: bytes | memoryview) -> Iterator[tuple[int, int, WireValue]]:
    """(field number, wire type, value) of each field of one message, in wire order.

    The value is an int for varint and fixed-size fields, a memoryview for length-delimited ones.
    """
    view = memoryview(data)
    pos, end = 0, len(view)
    while pos < end:
        key = view[pos]
        if key < 0x80:  # one-byte keys and lengths are the common case: skip the call
            pos += 1
        else:
            key, pos = read_varint(view, pos)
        number, wire_type = key >> 3, key & 7
        if not 0 < number < 1 << 29:
            raise ProtobufError("invalid field number %d" % number)
        value: WireValue
        if wire_type == VARINT:
            value, pos = read_varint(view, pos)
        elif wire_type == LENGTH_DELIMITED:
            if pos < end and view[pos] < 0x80:
                length = view[pos]
                pos += 1
            else:
                length, pos = read_varint(view, pos)
            if length > end - pos:
                raise ProtobufError("field %d needs %d bytes, %d left" % (number, length, end - pos))
            value = view[pos : pos + length]
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if size > end - pos:
                raise ProtobufError("truncated fixed%d field %d" % (size * 8, number))
            value = int.from_bytes(view[pos : pos + size], "little")
            pos += size
        else:
            raise ProtobufError(
                "field %d has wire type %d (groups are not used by Kubernetes)" % (number, wire_type)
            )
        yield number, wire_type, value


def _signed(value: int, bits: int) -> int:
    """Two's complement, as Go converts a varint to int32/int64 (negative int32s come sign-extended)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _string(value: memoryview) -> str:
    try:
        return str(value, "utf-8")
    except UnicodeDecodeError as e:
        raise ProtobufError("string is not valid UTF-8 (byte %d)" % e.start) from None


def _scalar(type_: str, value: WireValue) -> Any:
    """A scalar's JSON value; the wire-type check gave varint types an int, the others bytes."""
    if isinstance(value, int):
        if type_ == "bool":
            return value != 0
        return _signed(value, 32 if type_ == "int32" else 64)
    if type_ == "string":
        return _string(value)
    return base64.b64encode(value).decode("ascii")


def _zero(type_: str) -> WireValue:
    """The wire value of an absent scalar."""
    return 0 if type_ in _VARINT_TYPES else memoryview(b"")


def _joined(chunks: list[WireValue]) -> bytes | memoryview:
    """The bytes of length-delimited chunks; occurrences of one message field merge, which for
    protobuf is decoding their concatenation."""
    if len(chunks) == 1 and isinstance(chunks[0], memoryview):
        return chunks[0]
    return b"".join(c for c in chunks if isinstance(c, memoryview))


def _view(values: dict[int, WireValue], number: int) -> memoryview:
    value = values.get(number)
    return value if isinstance(value, memoryview) else memoryview(b"")


def _int(values: dict[int, WireValue], number: int, bits: int) -> int:
    value = values.get(number)
    return _signed(value, bits) if isinstance(value, int) else 0


def _expect_wire_type(message: str, field: Field, wire_type: int) -> None:
    if field.type in _VARINT_TYPES and field.label != MAP:
        # proto2 writers may pack repeated scalars into one length-delimited field
        if wire_type == VARINT or (field.label == REPEATED and wire_type == LENGTH_DELIMITED):
            return
        expected = VARINT
    elif wire_type == LENGTH_DELIMITED:
        return
    else:
        expected = LENGTH_DELIMITED
    raise ProtobufError(
        "%s field %d (%s) has wire type %d, expected %d"
        % (message, field.number, field.name or field.type, wire_type, expected)
    )


# -- messages ----------------------------------------------------------------------------------------


def decode_message(data: bytes | memoryview, message: str) -> dict[str, Any]:
    """One message as its JSON object; `message` is a table name such as "core.v1.PodSpec"."""
    table = MESSAGES[message]
    values: dict[int, list[WireValue]] = {}
    for number, wire_type, value in iter_fields(data):
        field = table.get(number)
        if field is None:
            raise ProtobufError("%s has no field %d in kedge's tables" % (message, number), unsupported=True)
        if wire_type != LENGTH_DELIMITED or field.type in _VARINT_TYPES:  # most fields skip the call
            _expect_wire_type(message, field, wire_type)
        if number in values:
            values[number].append(value)
        else:
            values[number] = [value]
    obj: dict[str, Any] = {}
    for number, chunks in values.items():
        field = table[number]
        try:
            _decode_field(obj, field, chunks)
        except ProtobufError as e:
            if not field.inline:
                e.path.insert(0, field.name)
            raise
    return obj


def _decode_field(obj: dict[str, Any], field: Field, chunks: list[WireValue]) -> None:
    if field.label == MAP:
        obj[field.name] = _decode_map(field, chunks)
    elif field.label == REPEATED:
        items = _decode_repeated(field, chunks)
        if items:
            obj[field.name] = items
    elif field.type in SCALARS:
        value = _scalar(field.type, chunks[-1])  # a repeated scalar field: the last one wins
        if value or field.keep_zero:
            obj[field.name] = value
    else:
        value = _decode_value(field.type, _joined(chunks))
        if field.inline:
            obj.update(value)
        elif value is not None or not field.omit_zero:
            obj[field.name] = value


def _decode_value(type_: str, data: bytes | memoryview) -> Any:
    """A message-typed value: a codec's JSON form or a nested object."""
    if type_ in CODECS:
        return _CODECS[type_](data)
    return decode_message(data, type_)


def _decode_repeated(field: Field, chunks: list[WireValue]) -> list[Any]:
    if field.type in _VARINT_TYPES:
        items: list[Any] = []
        for chunk in chunks:
            if isinstance(chunk, int):
                items.append(_scalar(field.type, chunk))
                continue
            pos = 0
            while pos < len(chunk):
                value, pos = read_varint(chunk, pos)
                items.append(_scalar(field.type, value))
        return items
    if field.type in SCALARS:
        return [_scalar(field.type, chunk) for chunk in chunks]
    items = []
    for i, chunk in enumerate(chunks):
        try:
            items.append(_decode_value(field.type, _joined([chunk])))
        except ProtobufError as e:
            e.path.insert(0, "[%d]" % i)
            raise
    return items


def _decode_map(field: Field, entries: list[WireValue]) -> dict[str, Any]:
    """Map entries {1 key, 2 value}; a missing part is its zero value, a repeated key the last one."""
    result: dict[str, Any] = {}
    for entry in entries:
        key = ""
        value: WireValue = _zero(field.type)
        for number, wire_type, item in iter_fields(_joined([entry])):
            if number == 1 and isinstance(item, memoryview):
                key = _string(item)
            elif number == 2:
                expected = VARINT if field.type in _VARINT_TYPES else LENGTH_DELIMITED
                if wire_type != expected:
                    raise ProtobufError(
                        "map entry value has wire type %d, expected %d" % (wire_type, expected)
                    )
                value = item
            else:
                raise ProtobufError("map entry has field %d with wire type %d" % (number, wire_type))
        try:
            if field.type in SCALARS:
                result[key] = _scalar(field.type, value)
            else:
                result[key] = _decode_value(field.type, _joined([value]))
        except ProtobufError as e:
            e.path.insert(0, "[%s]" % key)
            raise
    return result


# -- messages with a JSON form of their own ------------------------------------------------------------


def _fields(data: bytes | memoryview, message: str, wire_types: dict[int, int]) -> dict[int, WireValue]:
    """The last value of each field of a small fixed message, checking numbers and wire types."""
    values: dict[int, WireValue] = {}
    for number, wire_type, value in iter_fields(data):
        expected = wire_types.get(number)
        if expected is None:
            raise ProtobufError("%s has no field %d" % (message, number), unsupported=True)
        if wire_type != expected:
            raise ProtobufError(
                "%s field %d has wire type %d, expected %d" % (message, number, wire_type, expected)
            )
        values[number] = value
    return values


def _timestamp(data: bytes | memoryview, message: str) -> tuple[int, int] | None:
    if not data:
        return None  # Go writes the zero time as an empty message
    f = _fields(data, message, {1: VARINT, 2: VARINT})
    return _int(f, 1, 64), _int(f, 2, 32)


def _utc(seconds: int, microseconds: int) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=microseconds)
    except OverflowError:
        raise ProtobufError("time %d seconds from 1970 is out of range" % seconds) from None


def _time(data: bytes | memoryview) -> str | None:
    """meta/v1 Time: RFC 3339 in seconds; Go drops the nanos when it decodes (time_proto.go)."""
    ts = _timestamp(data, "meta.v1.Time")
    if ts is None:
        return None
    t = _utc(ts[0], 0)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (t.year, t.month, t.day, t.hour, t.minute, t.second)


def _micro_time(data: bytes | memoryview) -> str | None:
    """meta/v1 MicroTime: RFC 3339 with 6 fractional digits, nanos truncated toward zero."""
    ts = _timestamp(data, "meta.v1.MicroTime")
    if ts is None:
        return None
    seconds, nanos = ts
    t = _utc(seconds, nanos // 1000 if nanos >= 0 else -(-nanos // 1000))
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.microsecond,
    )


def _quantity(data: bytes | memoryview) -> str:
    """resource.Quantity {1 string}: the string; the zero Quantity is "0"."""
    value = _view(_fields(data, "resource.Quantity", {1: LENGTH_DELIMITED}), 1)
    return _string(value) if value else "0"


def _int_or_string(data: bytes | memoryview) -> int | str:
    """intstr.IntOrString {1 type, 2 intVal, 3 strVal}: type 0 is the int, 1 the string."""
    f = _fields(data, "intstr.IntOrString", {1: VARINT, 2: VARINT, 3: LENGTH_DELIMITED})
    kind = _int(f, 1, 64)
    if kind == 0:
        return _int(f, 2, 32)
    if kind == 1:
        return _string(_view(f, 3))
    raise ProtobufError("IntOrString type %d is neither 0 (int) nor 1 (string)" % kind)


def _embedded_json(data: bytes | memoryview, message: str) -> Any:
    """FieldsV1 {1 Raw} and RawExtension {1 raw}: JSON bytes, written into the object as JSON."""
    raw = _view(_fields(data, message, {1: LENGTH_DELIMITED}), 1)
    if not raw:
        return None
    try:
        return json.loads(bytes(raw))
    except ValueError:
        raise ProtobufError("%s is not JSON (kedge reads no other content type there)" % message) from None


def _strings(data: bytes | memoryview) -> list[str] | None:
    """The []string wrappers such as authentication/v1 ExtraValue {1 items}; nil is null in JSON."""
    items = []
    for number, wire_type, value in iter_fields(data):
        if number != 1 or not isinstance(value, memoryview):
            raise ProtobufError("string list field %d with wire type %d" % (number, wire_type))
        items.append(_string(value))
    return items or None


_CODECS = {
    "time": _time,
    "microtime": _micro_time,
    "quantity": _quantity,
    "intorstring": _int_or_string,
    "fieldsv1": lambda data: _embedded_json(data, "meta.v1.FieldsV1"),
    "rawextension": lambda data: _embedded_json(data, "runtime.RawExtension"),
    "strings": _strings,
}


# -- the body ----------------------------------------------------------------------------------------


def decode_kubernetes_protobuf(
    body: bytes, *, default_api_version: str = "", default_kind: str = ""
) -> dict[str, Any]:
    """The JSON object of a Kubernetes protobuf body, with `apiVersion` and `kind` from its envelope.

    The defaults fill an envelope without them, as kube-apiserver fills them from the endpoint.
    Raises ApiError: 400 for malformed data, 415 for what kedge cannot decode (a kind or a field
    without a table entry, a content encoding).
    """
    if not body.startswith(MAGIC):
        raise ApiError.bad_request(
            "the body is not a Kubernetes protobuf message: it does not start with 6b 38 73 00 (k8s\\0)"
        )
    try:
        envelope = _fields(
            memoryview(body)[len(MAGIC) :],
            "runtime.Unknown",
            {1: LENGTH_DELIMITED, 2: LENGTH_DELIMITED, 3: LENGTH_DELIMITED, 4: LENGTH_DELIMITED},
        )
        type_meta = _fields(
            _view(envelope, 1), "runtime.TypeMeta", {1: LENGTH_DELIMITED, 2: LENGTH_DELIMITED}
        )
        api_version = _string(_view(type_meta, 1))
        kind = _string(_view(type_meta, 2))
        encoding = _string(_view(envelope, 3))
    except ProtobufError as e:
        raise _api_error(e, "protobuf envelope (runtime.Unknown)") from None
    api_version = api_version or default_api_version
    kind = kind or default_kind
    if not kind or not api_version:
        raise ApiError.bad_request(
            "the protobuf body names no %s in its typeMeta" % ("kind" if not kind else "apiVersion")
        )
    what = "%s %s" % (api_version, kind)
    if encoding:
        raise ApiError.unsupported_media_type(
            "kedge cannot decode protobuf for %s with contentEncoding %r; send it as JSON" % (what, encoding)
        )
    message = DELETE_OPTIONS if kind == "DeleteOptions" else KINDS.get((api_version, kind))
    if message is None:
        raise ApiError.unsupported_media_type(
            "kedge cannot decode protobuf for %s; send it as JSON (Content-Type: application/json)" % what
        )
    try:
        obj = decode_message(_view(envelope, 2), message)
    except ProtobufError as e:
        raise _api_error(e, "protobuf for " + what) from None
    return {"kind": kind, "apiVersion": api_version, **obj}


def _api_error(e: ProtobufError, subject: str) -> ApiError:
    where = e.where()
    detail = "%s (at %s)" % (e.message, where) if where else e.message
    if e.unsupported:
        return ApiError.unsupported_media_type(
            "kedge cannot decode %s: %s; send it as JSON" % (subject, detail)
        )
    return ApiError.bad_request("malformed %s: %s" % (subject, detail))
