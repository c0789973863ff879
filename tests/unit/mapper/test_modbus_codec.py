"""Modbus register codec and settings: types, scale, mappers-go's swaps, limits, clear errors."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.mapper import modbus_codec as codec
from kedge.mapper.modbus_codec import CodecError, Target, Visitor, decode, encode, parse_target, parse_visitor


def hr(limit: int = 1, **kw) -> Visitor:
    return Visitor(codec.HOLDING, 0, limit, **kw)


def test_swaps_as_mappers_go() -> None:
    data = bytes([1, 2, 3, 4, 5, 6, 7, 8])
    assert codec.swap(data, hr(4)) == data
    assert codec.swap(data, hr(4, is_swap=True)) == bytes([2, 1, 4, 3, 6, 5, 8, 7])
    assert codec.swap(data, hr(4, is_register_swap=True)) == bytes([7, 8, 5, 6, 3, 4, 1, 2])
    assert codec.swap(data, hr(4, is_swap=True, is_register_swap=True)) == bytes(reversed(data))
    assert codec.swap(bytes([1, 2, 3, 4, 5, 6]), hr(3, is_register_swap=True)) == bytes([5, 6, 3, 4, 1, 2])


def test_int() -> None:
    assert decode([0x1234], "int", hr()) == "4660"
    assert decode([0x0001, 0x0002], "int", hr(2)) == str(0x00010002)
    assert decode([0x0001, 0x0002], "int", hr(2, is_register_swap=True)) == str(0x00020001)
    assert decode([0x0102], "int", hr(is_swap=True)) == str(0x0201)
    assert decode([0xFFFF] * 4, "INT", hr(4)) == str(2**64 - 1)  # exact, not through a float
    assert decode([215], "int", hr(scale=0.1)) == "21"  # truncated toward zero, as mappers-go
    assert decode([215], "int", hr(scale=10)) == "2150"
    assert decode([3], "int", hr(scale=-1.5)) == "-4"
    assert encode("4660", "int", hr()) == [0x1234]
    assert encode("21", "int", hr(scale=0.1)) == [210]
    assert encode("2150", "int", hr(scale=10)) == [215]
    assert encode("65537", "int", hr(2, is_register_swap=True)) == [0x0001, 0x0001]
    assert encode("1", "int", hr(2, is_register_swap=True)) == [0x0001, 0x0000]
    assert encode(" 7.0 ", "int", hr()) == [7]


def test_float_and_double() -> None:
    regs = list(struct.unpack(">HH", struct.pack(">f", 21.5)))
    assert decode(regs, "float", hr(2)) == "21.5"
    assert decode(regs[::-1], "float", hr(2, is_register_swap=True)) == "21.5"
    assert decode(regs, "float", hr(2, scale=2)) == "43"
    assert decode(list(struct.unpack(">HH", struct.pack(">f", 0.1))), "float", hr(2)) == "0.1"
    third = list(struct.unpack(">HHHH", struct.pack(">d", 1 / 3)))
    assert decode(third, "double", hr(4)) == repr(1 / 3)
    assert encode("21.5", "float", hr(2)) == regs
    assert encode("43", "float", hr(2, scale=2)) == regs
    assert encode("0.3333333333333333", "double", hr(4)) == third
    with pytest.raises(CodecError, match="not a finite number"):
        decode(list(struct.unpack(">HH", struct.pack(">f", math.nan))), "float", hr(2))
    with pytest.raises(CodecError, match="out of range for a float"):
        encode("1e39", "float", hr(2))
    with pytest.raises(CodecError, match="not a finite float"):
        encode("inf", "float", hr(2))
    with pytest.raises(CodecError, match="'warm' is not a float"):
        encode("warm", "float", hr(2))


def test_boolean_and_string() -> None:
    assert decode([0], "boolean", hr()) == "false"
    assert decode([0x0100], "boolean", hr()) == "true"
    assert encode("true", "boolean", hr()) == [1]
    assert encode("OFF", "boolean", hr(2)) == [0, 0]
    regs = list(struct.unpack(">HHH", b"PLC-7\0"))
    assert decode(regs, "string", hr(3)) == "PLC-7"
    assert encode("PLC-7", "string", hr(3)) == regs
    assert encode("ab", "string", hr(1, is_swap=True)) == [int.from_bytes(b"ba", "big")]
    with pytest.raises(CodecError, match="'PLC-77' is 6 bytes; 2 registers hold 4"):
        encode("PLC-77", "string", hr(2))
    with pytest.raises(CodecError, match="not a boolean"):
        encode("maybe", "boolean", hr())


def test_bits() -> None:
    coil = Visitor(codec.COIL, 3, 1)
    assert decode([True] + [False] * 7, "boolean", coil) == "true"
    assert decode([False] * 8, "boolean", coil) == "false"
    four = Visitor(codec.DISCRETE_INPUT, 0, 4)
    assert decode([True, False, True, True, True, True, True, True], "int", four) == "13"  # LSB first, 4 bits
    assert encode("true", "boolean", coil) == [True]
    assert encode("13", "int", Visitor(codec.COIL, 0, 4)) == [True, False, True, True]
    with pytest.raises(CodecError, match="does not fit 4 unsigned bits"):
        encode("16", "int", Visitor(codec.COIL, 0, 4))
    with pytest.raises(CodecError, match="read 2 bits, expected 4"):
        decode([True, False], "int", four)


def test_values_that_do_not_fit() -> None:
    with pytest.raises(CodecError, match=r"65536 .* does not fit 16 unsigned bits"):
        encode("65536", "int", hr())
    with pytest.raises(CodecError, match=r"-1 .* does not fit"):
        encode("-1", "int", hr())
    with pytest.raises(CodecError, match="is not a int"):
        encode("twelve", "int", hr())
    with pytest.raises(CodecError, match="read 1 registers, expected 2"):
        decode([1], "float", hr(2))


swaps = st.fixed_dictionaries({"is_swap": st.booleans(), "is_register_swap": st.booleans()})


@given(limit=st.integers(1, 4), data=st.data(), flags=swaps)
def test_int_round_trip(limit: int, data: st.DataObject, flags: dict) -> None:
    v = hr(limit, **flags)
    n = data.draw(st.integers(0, 2 ** (16 * limit) - 1))
    regs = encode(str(n), "int", v)
    assert len(regs) == limit and all(0 <= r <= 0xFFFF for r in regs)
    assert decode(regs, "int", v) == str(n)


@given(x=st.floats(allow_nan=False, allow_infinity=False), flags=swaps)
def test_double_round_trip(x: float, flags: dict) -> None:
    v = hr(4, **flags)
    assert float(decode(encode(repr(x), "double", v), "double", v)) == x


@given(x=st.floats(width=32, allow_nan=False, allow_infinity=False), flags=swaps)
def test_float_round_trip(x: float, flags: dict) -> None:
    v = hr(2, **flags)
    text = decode(encode(repr(x), "float", v), "float", v)
    assert struct.unpack(">f", struct.pack(">f", float(text)))[0] == x  # the digits name the same single
    assert len(text.lstrip("-").replace(".", "").split("e")[0].lstrip("0")) <= 9


@given(s=st.text(st.characters(min_codepoint=1, max_codepoint=0x7FF), max_size=8), flags=swaps)
def test_string_round_trip(s: str, flags: dict) -> None:
    v = hr(8, **flags)
    assert decode(encode(s, "string", v), "string", v) == s


def test_visitor_settings() -> None:
    assert parse_visitor(
        {"register": "HoldingRegister", "offset": 2, "limit": 1, "scale": 1}, "int"
    ) == Visitor(codec.HOLDING, 2, 1, 1.0)
    # defaults by type, any letter case (Go's JSON), numbers as strings, scale 0 = unset
    v = parse_visitor({"Register": "inputregister", "OFFSET": "7", "scale": 0, "isswap": "true"}, "float")
    assert v == Visitor(codec.INPUT, 7, 2, 1.0, is_swap=True)
    assert parse_visitor({"register": "HoldingRegister"}, "double").limit == 4
    assert parse_visitor({"register": "CoilRegister", "offset": 3}, "boolean") == Visitor(codec.COIL, 3, 1)
    assert parse_visitor({"register": "HoldingRegister", "scale": "0.5"}, "int").scale == 0.5
    assert parse_visitor({"register": "HoldingRegister", "scale": "0"}, "int").scale == 1.0


@pytest.mark.parametrize(
    ("config", "type_", "needle"),
    [
        ({}, "int", "visitors.configData with a register is required"),
        ({"register": "Holding"}, "int", "register must be one of CoilRegister"),
        ({"register": "HoldingRegister"}, "bytes", "property type bytes is not supported"),
        ({"register": "CoilRegister"}, "float", "CoilRegister holds bits: a float property needs"),
        ({"register": "HoldingRegister", "limit": 1}, "float", "a float takes 2 registers, but limit is 1"),
        ({"register": "HoldingRegister", "limit": 2}, "double", "a double takes 4 registers"),
        ({"register": "HoldingRegister", "limit": 5}, "int", "an int is at most 4 registers"),
        ({"register": "CoilRegister", "limit": 65}, "int", "an int is at most 64 bits"),
        ({"register": "HoldingRegister", "limit": 126}, "string", "limit must be an integer from 1 to 125"),
        ({"register": "HoldingRegister"}, "string", "limit is required for a string"),
        ({"register": "HoldingRegister", "offset": -1}, "int", "offset must be an integer from 0 to 65535"),
        ({"register": "HoldingRegister", "offset": 65535, "limit": 2}, "int", "runs past address 65535"),
        ({"register": "HoldingRegister", "scale": "x"}, "int", "scale must be a number, got 'x'"),
        ({"register": "HoldingRegister", "scale": True}, "int", "scale must be a number"),
        ({"register": "HoldingRegister", "isSwap": "maybe"}, "int", "isSwap must be true or false"),
        ({"register": "HoldingRegister", "limit": 1.5}, "int", "limit must be an integer"),
    ],
)
def test_bad_visitors(config: dict, type_: str, needle: str) -> None:
    with pytest.raises(CodecError) as e:
        parse_visitor(config, type_)
    assert needle in str(e.value)


def test_targets() -> None:
    assert parse_target({"ip": "10.0.0.5"}) == Target("10.0.0.5", 502, 1)
    assert parse_target({"ip": "h", "port": "1502", "slaveID": 7}) == Target("h", 1502, 7)
    assert parse_target({"tcp": {"ip": "h", "port": 15}, "slaveid": "2"}) == Target(
        "h", 15, 2
    )  # v1alpha2 common.tcp
    assert parse_target({"IP": "h", "SlaveID": 0}) == Target("h", 502, 0)
    with pytest.raises(CodecError, match="serialPort but no ip: Modbus RTU"):
        parse_target({"serialPort": "/dev/ttyS0", "slaveID": 1})
    with pytest.raises(CodecError, match=r"protocol\.configData\.ip is required"):
        parse_target({})
    with pytest.raises(CodecError, match="port must be an integer from 1 to 65535"):
        parse_target({"ip": "h", "port": 0})
    with pytest.raises(CodecError, match="slaveID must be an integer from 0 to 255"):
        parse_target({"ip": "h", "slaveID": 300})
    with pytest.raises(CodecError, match="ip must be a string"):
        parse_target({"ip": 10})
