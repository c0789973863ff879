"""The JSONPath dialect of kubectl and CRD `additionalPrinterColumns` (k8s.io/client-go/util/jsonpath).

Supported: `.field` (backslash escapes terminators: `.metadata.labels.app\\.kubernetes\\.io/name`),
`['field']`, `..field` (recursive descent), `*` / `[*]`, `[0]`, `[-1]`, `[1:3]`, `[::2]`, and filters
`[?(@.type=="Ready")]` with `== != < <= > >=` against a quoted string, number, boolean or another `@`
path, or `[?(@.field)]` for presence. An expression may be wrapped in `{}` and start with `$`.
Missing keys and out-of-range indexes yield no result, as with `AllowMissingKeys(true)`.
"""

import decimal
import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["JsonPath", "JsonPathError", "compile_path", "find", "to_text"]


class JsonPathError(ValueError):
    """The expression is not valid JSONPath (or uses syntax this dialect does not support)."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str


@dataclass(frozen=True, slots=True)
class _Recursive:
    name: str


@dataclass(frozen=True, slots=True)
class _Wildcard:
    pass


@dataclass(frozen=True, slots=True)
class _Index:
    index: int


@dataclass(frozen=True, slots=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True, slots=True)
class _Filter:
    left: tuple[Any, ...]
    op: str  # "exists" or a comparison
    right: Any  # literal, or a tuple of steps for an @ path
    right_is_path: bool


_Step = _Field | _Recursive | _Wildcard | _Index | _Slice | _Filter

_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_COMPARISON = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


class JsonPath:
    """A compiled expression; `find` returns every match, in document order."""

    __slots__ = ("_steps", "expression")

    def __init__(self, expression: str, steps: tuple[_Step, ...]) -> None:
        self.expression = expression
        self._steps = steps

    def find(self, data: Any) -> list[Any]:
        return list(_evaluate(self._steps, data))

    def __repr__(self) -> str:
        return "JsonPath(%r)" % self.expression


@functools.lru_cache(maxsize=1024)
def compile_path(expression: str) -> JsonPath:
    """Parse once; raises JsonPathError naming what is wrong and where."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if not text:
        raise JsonPathError("empty JSONPath expression")
    parser = _Parser(text, expression)
    if parser.peek() == "$":
        parser.pos += 1
    steps = parser.parse_steps(stop_at="")
    if parser.pos != len(text):
        raise parser.error("unexpected %r" % text[parser.pos])
    return JsonPath(expression, tuple(steps))


def find(expression: str, data: Any) -> list[Any]:
    return compile_path(expression).find(data)


def to_text(value: Any) -> str:
    """How kubectl's jsonpath prints one result: strings as they are, maps and lists as compact JSON,
    numbers and booleans the way Go formats them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if value is None:
        return "<nil>"
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def go_float(value: float) -> str:
    """fmt.Sprint(float64): shortest digits; exponent form when the exponent is below -4 or from 6 up."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digit_tuple, exp = decimal.Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exp, int)
    exponent = len(digits) + exp - 1  # decimal exponent of the first digit
    prefix = "-" if sign else ""
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (prefix, mantissa, "-" if exponent < 0 else "+", abs(exponent))
    if exponent < 0:
        return "%s0.%s%s" % (prefix, "0" * (-exponent - 1), digits)
    point = exponent + 1
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return "%s%s.%s" % (prefix, digits[:point], digits[point:])


class _Parser:
    def __init__(self, text: str, original: str) -> None:
        self.text = text
        self.original = original
        self.pos = 0

    def error(self, what: str) -> JsonPathError:
        return JsonPathError("invalid JSONPath %r at position %d: %s" % (self.original, self.pos, what))

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def parse_steps(self, stop_at: str) -> list[_Step]:
        steps: list[_Step] = []
        while self.pos < len(self.text) and self.peek() not in stop_at:
            ch = self.peek()
            if ch == ".":
                if self.peek(1) == ".":
                    self.pos += 2
                    name = self.read_name()
                    if not name:
                        raise self.error("expected a field name after '..'")
                    steps.append(_Recursive(name))
                    continue
                self.pos += 1
                if self.pos == len(self.text) or self.peek() in stop_at:
                    if steps or self.pos != 1:
                        raise self.error("expected a field name after '.'")
                    continue  # a lone "." is the current object
                if self.peek() == "[":
                    continue
                name = self.read_name()
                if not name:
                    raise self.error("expected a field name after '.'")
                steps.append(_Wildcard() if name == "*" else _Field(name))
            elif ch == "[":
                steps.append(self.read_bracket())
            elif ch.isspace() and stop_at:
                return steps
            else:
                raise self.error("unexpected %r" % ch)
        return steps

    def read_name(self) -> str:
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch in _TERMINATORS or ch in "()=!<>":
                break
            out.append(ch)
            self.pos += 1
        return "".join(out)

    def read_bracket(self) -> _Step:
        end = self._matching_bracket()
        inner = self.text[self.pos + 1 : end].strip()
        start = self.pos
        if inner.startswith("?("):
            if not inner.endswith(")"):
                raise self.error("unterminated filter")
            step: _Step = self._filter(inner[2:-1].strip())
        elif inner == "*":
            step = _Wildcard()
        elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
            step = _Field(inner[1:-1])
        elif ":" in inner:
            parts = inner.split(":")
            if len(parts) > 3:
                raise self.error("invalid slice %r" % inner)
            try:
                values = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
            except ValueError:
                raise self.error("invalid slice %r" % inner) from None
            if values[2] == 0:
                raise self.error("slice step cannot be zero")
            step = _Slice(values[0], values[1], values[2])
        else:
            try:
                step = _Index(int(inner))
            except ValueError:
                self.pos = start
                raise self.error("invalid array index %r" % inner) from None
        self.pos = end + 1
        return step

    def _matching_bracket(self) -> int:
        depth = 0
        quote = ""
        for i in range(self.pos, len(self.text)):
            ch = self.text[i]
            if quote:
                if ch == quote and self.text[i - 1] != "\\":
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    return i
        raise self.error("unterminated '['")

    def _filter(self, body: str) -> _Filter:
        if not body.startswith("@"):
            raise self.error("a filter must start with @, got %r" % body)
        sub = _Parser(body[1:], self.original)
        left = sub.parse_steps(stop_at="=!<> \t")
        rest = body[1 + sub.pos :]
        if not rest.strip():
            return _Filter(tuple(left), "exists", None, False)
        m = _COMPARISON.match(rest)
        if m is None:
            raise self.error("invalid filter %r" % body)
        operand = rest[m.end() :].strip()
        if operand.startswith("@"):
            right_parser = _Parser(operand[1:], self.original)
            right_steps = right_parser.parse_steps(stop_at="")
            if right_parser.pos != len(operand) - 1:
                raise self.error("invalid filter operand %r" % operand)
            return _Filter(tuple(left), m.group(1), tuple(right_steps), True)
        return _Filter(tuple(left), m.group(1), self._literal(operand), False)

    def _literal(self, text: str) -> Any:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        if text in ("true", "false"):
            return text == "true"
        if _NUMBER.match(text):
            return float(text) if any(c in text for c in ".eE") else int(text)
        raise self.error("invalid filter operand %r" % text)


def _evaluate(steps: tuple[_Step, ...], data: Any) -> Iterator[Any]:
    current = [data]
    for step in steps:
        current = [out for value in current for out in _apply(step, value)]
        if not current:
            break
    return iter(current)


def _apply(step: _Step, value: Any) -> Iterator[Any]:
    if isinstance(step, _Field):
        if isinstance(value, Mapping) and step.name in value:
            yield value[step.name]
    elif isinstance(step, _Wildcard):
        if isinstance(value, Mapping):
            yield from value.values()
        elif isinstance(value, list):
            yield from value
    elif isinstance(step, _Index):
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            yield value[step.index]
    elif isinstance(step, _Slice):
        if isinstance(value, list):
            yield from value[step.start : step.stop : step.step]
    elif isinstance(step, _Recursive):
        yield from _descend(step.name, value)
    elif isinstance(value, list):
        yield from (item for item in value if _matches(step, item))
    elif isinstance(value, Mapping):
        yield from (item for item in value.values() if _matches(step, item))


def _descend(name: str, value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        if name in value:
            yield value[name]
        for child in value.values():
            yield from _descend(name, child)
    elif isinstance(value, list):
        for child in value:
            yield from _descend(name, child)


def _matches(flt: _Filter, item: Any) -> bool:
    lefts = list(_evaluate(flt.left, item))
    if flt.op == "exists":
        return bool(lefts)
    rights = list(_evaluate(flt.right, item)) if flt.right_is_path else [flt.right]
    if not lefts or not rights:
        return False
    return _compare(lefts[0], flt.op, rights[0])


def _compare(left: Any, op: str, right: Any) -> bool:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if op in ("==", "!="):
        equal = left == right if numeric or type(left) is type(right) else False
        return equal if op == "==" else not equal
    if not numeric and not (isinstance(left, str) and isinstance(right, str)):
        return False
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right
