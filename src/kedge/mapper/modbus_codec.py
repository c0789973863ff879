"""Modbus values <-> twin strings, and the device/visitor settings they need (pure).

Settings follow KubeEdge's mappers-go: the device's `protocol.configData` gives `ip`, `port` (502) and
`slaveID` (1) — also accepted nested as `tcp: {ip, port}` (v1alpha2's `protocol.common.tcp`), and with
any letter case, as Go's JSON decoding matches them; a property's `visitors.configData` gives
`register` (CoilRegister | DiscreteInputRegister | HoldingRegister | InputRegister), `offset`, `limit`
(registers or bits), `scale`, `isSwap`, `isRegisterSwap`.

Decoding, as mappers-go does it: the registers as big-endian bytes; `isRegisterSwap` reverses the
order of the registers, `isSwap` swaps the two bytes inside each register; then by property type:
int = unsigned big-endian integer of the 1-4 registers times scale (truncated toward zero), float = an
IEEE-754 single in 2 registers, double = a double in 4, boolean = true when any bit is set, string =
the bytes as UTF-8 with trailing NULs dropped (no scale). Coils and discrete inputs hold bits: boolean
is the first, int is the bits as an unsigned number, least significant first. Encoding is the inverse,
dividing by scale; values that do not fit the registers are errors, never silently truncated.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

COIL = "CoilRegister"
DISCRETE_INPUT = "DiscreteInputRegister"
HOLDING = "HoldingRegister"
INPUT = "InputRegister"
REGISTERS = (COIL, DISCRETE_INPUT, HOLDING, INPUT)
BIT_REGISTERS = (COIL, DISCRETE_INPUT)
WRITABLE = (COIL, HOLDING)
TYPES = ("int", "float", "double", "boolean", "string")
_MAX_REGISTERS = 125  # one read request (Modbus application protocol 6.3)
_MAX_BITS = 2000
_DEFAULT_LIMIT = {"int": 1, "float": 2, "double": 4, "boolean": 1}
_TRUE = ("true", "1", "on")
_FALSE = ("false", "0", "off")


class CodecError(ValueError):
    """A setting or value the Modbus mapper cannot use; the text names it."""


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int = 502
    slave_id: int = 1


@dataclass(frozen=True, slots=True)
class Visitor:
    register: str
    offset: int = 0
    limit: int = 1
    scale: float = 1.0
    is_swap: bool = False
    is_register_swap: bool = False

    @property
    def bits(self) -> bool:
        return self.register in BIT_REGISTERS


def _get(config: Mapping[str, Any], key: str) -> Any:
    """config[key] matched without regard to case (Go's encoding/json does the same)."""
    if key in config:
        return config[key]
    low = key.lower()
    for k, v in config.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return None


def _int(v: Any, what: str, lo: int, hi: int) -> int:
    if (isinstance(v, str) and v.strip().lstrip("-").isdigit()) or (isinstance(v, float) and v.is_integer()):
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise CodecError("%s must be an integer from %d to %d, got %r" % (what, lo, hi, v))
    return v


def _bool(v: Any, what: str) -> bool:
    if v is None or isinstance(v, bool):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise CodecError("%s must be true or false, got %r" % (what, v))


def parse_target(config: Mapping[str, Any]) -> Target:
    """The Modbus TCP device of a `protocol.configData`."""
    if not isinstance(config, Mapping):
        raise CodecError("protocol.configData must be an object")
    tcp = _get(config, "tcp")
    tcp = tcp if isinstance(tcp, Mapping) else {}
    host = _get(config, "ip") or _get(tcp, "ip") or _get(config, "host")
    if not host:
        if _get(config, "serialPort"):
            raise CodecError(
                "protocol.configData has serialPort but no ip: Modbus RTU over a serial line is not "
                "supported, this mapper speaks Modbus TCP"
            )
        raise CodecError("protocol.configData.ip is required (the Modbus TCP device's address)")
    if not isinstance(host, str):
        raise CodecError("protocol.configData.ip must be a string, got %r" % (host,))
    port = _get(config, "port")
    port = _get(tcp, "port") if port is None else port
    slave = _get(config, "slaveID")
    return Target(
        host=host,
        port=502 if port is None else _int(port, "protocol.configData.port", 1, 65535),
        slave_id=1 if slave is None else _int(slave, "protocol.configData.slaveID", 0, 255),
    )


def parse_visitor(config: Mapping[str, Any], prop_type: str) -> Visitor:
    """A property's `visitors.configData`, checked against the property type."""
    if not isinstance(config, Mapping) or not config:
        raise CodecError("visitors.configData with a register is required")
    raw = _get(config, "register")
    register = next((r for r in REGISTERS if isinstance(raw, str) and raw.lower() == r.lower()), None)
    if register is None:
        raise CodecError(
            "visitors.configData.register must be one of %s, got %r" % (", ".join(REGISTERS), raw)
        )
    t = prop_type.lower()
    if t not in TYPES:
        raise CodecError(
            "property type %s is not supported by the Modbus mapper (%s)" % (prop_type, ", ".join(TYPES))
        )
    bits = register in BIT_REGISTERS
    if bits and t not in ("boolean", "int"):
        raise CodecError(
            "%s holds bits: a %s property needs HoldingRegister or InputRegister" % (register, t)
        )
    limit_raw = _get(config, "limit")
    if limit_raw is None or limit_raw == 0:
        if t == "string":
            raise CodecError("visitors.configData.limit is required for a string (registers to read)")
        limit = _DEFAULT_LIMIT[t]
    else:
        limit = _int(limit_raw, "visitors.configData.limit", 1, _MAX_BITS if bits else _MAX_REGISTERS)
    if not bits:
        need = {"float": 2, "double": 4}.get(t)
        if need is not None and limit != need:
            raise CodecError("a %s takes %d registers, but limit is %d" % (t, need, limit))
        if t in ("int", "boolean") and limit > 4:
            raise CodecError("an %s is at most 4 registers (64 bits), but limit is %d" % (t, limit))
    elif t == "int" and limit > 64:
        raise CodecError("an int is at most 64 bits, but limit is %d" % limit)
    offset = _int(_get(config, "offset") or 0, "visitors.configData.offset", 0, 65535)
    if offset + limit > 65536:
        raise CodecError("offset %d + limit %d runs past address 65535" % (offset, limit))
    raw_scale = scale = _get(config, "scale")
    if isinstance(scale, str):
        try:
            scale = float(scale)
        except ValueError:
            scale = None
    elif scale is None:
        scale = 1.0
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        raise CodecError("visitors.configData.scale must be a number, got %r" % (raw_scale,))
    if scale == 0:
        scale = 1.0  # Go's omitempty zero: unset, no scaling
    return Visitor(
        register=register,
        offset=offset,
        limit=limit,
        scale=float(scale),
        is_swap=_bool(_get(config, "isSwap"), "visitors.configData.isSwap"),
        is_register_swap=_bool(_get(config, "isRegisterSwap"), "visitors.configData.isRegisterSwap"),
    )


# -- bytes ------------------------------------------------------------------------------------------


def swap(data: bytes, v: Visitor) -> bytes:
    """mappers-go's isRegisterSwap (register order reversed) and isSwap (bytes swapped inside each
    register); each is its own inverse, and they commute, so decoding and encoding share it."""
    regs = [data[i : i + 2] for i in range(0, len(data), 2)]
    if v.is_register_swap:
        regs.reverse()
    if v.is_swap:
        regs = [r[::-1] for r in regs]
    return b"".join(regs)


def _to_bytes(registers: Sequence[int]) -> bytes:
    return b"".join((r & 0xFFFF).to_bytes(2, "big") for r in registers)


def _to_registers(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _scaled_int(raw: int, scale: float) -> int:
    if float(scale).is_integer():
        return raw * int(scale)  # exact, also for 64-bit values
    return math.trunc(raw * scale)


def _single_digits(x: float) -> int:
    """The fewest significant digits that name the IEEE single x exactly (at most 9)."""
    for digits in range(1, 9):
        try:
            if struct.unpack(">f", struct.pack(">f", float(format(x, ".%dg" % digits))))[0] == x:
                return digits
        except OverflowError:  # rounded up past the largest single
            continue
    return 9


def _float_text(x: float, scale: float, single: bool) -> str:
    """x times scale, in as many digits as x has: a single in its shortest form (21.5, not
    21.499999046325684), a double as repr."""
    y = x * scale
    if not math.isfinite(y):
        raise CodecError("the device holds %r, which is not a finite number" % y)
    if not single:
        return repr(y)
    return format(y, ".%dg" % _single_digits(x))


# -- decode -----------------------------------------------------------------------------------------


def decode(values: Sequence[int] | Sequence[bool], prop_type: str, v: Visitor) -> str:
    """A twin string from what a read returned (registers, or bits for coils and discrete inputs)."""
    t = prop_type.lower()
    if v.bits:
        bits = [bool(b) for b in values[: v.limit]]
        if len(bits) < v.limit:
            raise CodecError("read %d bits, expected %d" % (len(bits), v.limit))
        if t == "boolean":
            return "true" if bits[0] else "false"
        raw = sum(1 << i for i, b in enumerate(bits) if b)
        return str(_scaled_int(raw, v.scale))
    regs = list(values[: v.limit])
    if len(regs) < v.limit:
        raise CodecError("read %d registers, expected %d" % (len(regs), v.limit))
    data = swap(_to_bytes(regs), v)
    if t == "int":
        return str(_scaled_int(int.from_bytes(data, "big"), v.scale))
    if t == "float":
        return _float_text(struct.unpack(">f", data)[0], v.scale, single=True)
    if t == "double":
        return _float_text(struct.unpack(">d", data)[0], v.scale, single=False)
    if t == "boolean":
        return "true" if any(data) else "false"
    return data.rstrip(b"\0").decode("utf-8", errors="replace")


# -- encode -----------------------------------------------------------------------------------------


def _number(value: str, t: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise CodecError("%r is not a %s" % (value, t)) from None
    if not math.isfinite(x):
        raise CodecError("%r is not a finite %s" % (value, t))
    return x


def _raw_int(value: str, v: Visitor, nbits: int) -> int:
    text = value.strip()
    try:
        n: float = int(text, 10)
    except ValueError:
        n = _number(text, "int")
    raw = n if v.scale == 1.0 and isinstance(n, int) else round(n / v.scale)  # ints stay exact unscaled
    if not 0 <= raw < (1 << nbits):
        raise CodecError(
            "%s (raw %d after scale %g) does not fit %d unsigned bits" % (value, raw, v.scale, nbits)
        )
    return int(raw)


def _boolean(value: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise CodecError("%r is not a boolean (true or false)" % value)


def encode(value: str, prop_type: str, v: Visitor) -> list[int] | list[bool]:
    """What to write for a twin string: register values, or bits for coils."""
    t = prop_type.lower()
    if v.bits:
        if t == "boolean":
            return [_boolean(value)]
        raw = _raw_int(value, v, v.limit)
        return [bool(raw >> i & 1) for i in range(v.limit)]
    size = 2 * v.limit
    if t == "int":
        data = _raw_int(value, v, 8 * size).to_bytes(size, "big")
    elif t == "boolean":
        data = int(_boolean(value)).to_bytes(size, "big")
    elif t in ("float", "double"):
        x = _number(value, t) / v.scale
        try:
            data = struct.pack(">f" if t == "float" else ">d", x)
        except OverflowError:
            raise CodecError("%s is out of range for a %s" % (value, t)) from None
    else:
        data = value.encode()
        if len(data) > size:
            raise CodecError("%r is %d bytes; %d registers hold %d" % (value, len(data), v.limit, size))
        data = data.ljust(size, b"\0")
    return _to_registers(swap(data, v))
