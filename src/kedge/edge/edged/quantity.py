"""Kubernetes resource quantities ("64Mi", "500m", "1.5G", "2e3") as numbers, without the API library."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


class QuantityError(ValueError):
    pass


def parse_quantity(value: object) -> Decimal:
    """The quantity's value in base units (bytes, cores)."""
    if isinstance(value, bool):
        raise QuantityError("quantity %r is not a number" % (value,))
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str) or not value:
        raise QuantityError("quantity %r is not a string like 64Mi or 500m" % (value,))
    text = value.strip()
    suffix = text[-2:] if text[-2:] in _BINARY else ""
    if suffix:
        number, mult = text[:-2], Decimal(_BINARY[suffix])
    elif text[-1:] in _DECIMAL and text[-1:] not in "0123456789":
        number, mult = text[:-1], _DECIMAL[text[-1:]]
    else:
        number, mult = text, Decimal(1)
    try:
        n = Decimal(number)
    except InvalidOperation:
        raise QuantityError("quantity %r is not a number with an optional suffix" % (value,)) from None
    if not n.is_finite() or n < 0:
        raise QuantityError("quantity %r must be finite and not negative" % (value,))
    return n * mult


def bytes_of(value: object) -> int:
    """Memory quantities: whole bytes, rounded up."""
    q = parse_quantity(value)
    return int(q.to_integral_value(rounding="ROUND_CEILING"))


def millicores(value: object) -> int:
    """CPU quantities: whole millicores, rounded up (as Kubernetes does for "0.0001")."""
    q = parse_quantity(value) * 1000
    return int(q.to_integral_value(rounding="ROUND_CEILING"))
