"""``json-jcs-v2``: RFC 8785 (JCS) with exact numbers only (consensus-critical: bytes decided here).

A number is accepted only if its exact decimal value is the value of an IEEE 754 double, so no two
different numbers share a hash; duplicate keys, NaN and Infinity are refused. registry/canonicalization.md
specifies it; :mod:`registry.core.canon` dispatches to it.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import rfc8785

from registry.core.json_limits import check_json_depth
from registry.errors import CanonicalizationError


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalizationError(f"JSON refused: duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise CanonicalizationError(f"JSON refused: {name} is not a JSON number")


def _number(text: str) -> float:
    """A JSON number, accepted only if its exact decimal value is the value of its own RFC 8785 form.

    So every spelling of one value (``1``, ``1.0``, ``10e-1``) gets the same verdict and the same
    double, RFC 8785's own output is always accepted, and two different values never share a hash
    (``9007199254740993`` and ``0.1000000000000000055511151231257827`` are refused: as doubles
    they would become ``9007199254740992`` and ``0.1``).
    """
    if len(text) <= 15 and "." not in text and "e" not in text and "E" not in text:
        return float(int(text))  # at most 15 digits: exact
    value = float(text)
    if math.isinf(value):
        raise CanonicalizationError(f"JSON refused: number {text[:40]} is out of the range of a double")
    # repr() is the shortest string that reads back as the same double: the digits RFC 8785 writes
    if Decimal(text) != Decimal(repr(value)):
        raise CanonicalizationError(
            f"JSON refused: number {text[:40]} differs from its RFC 8785 form {_es6(value)}"
            " (write that value; two different numbers must not share a hash)"
        )
    return value


def _es6(value: float) -> str:
    return rfc8785.dumps(value).decode("ascii")


def canonicalize(data: bytes) -> bytes:
    """The ``json-jcs-v2`` bytes of a JSON document; CanonicalizationError if refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise CanonicalizationError("JSON refused: byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalizationError(f"JSON is not UTF-8: byte {exc.start}") from None
    check_json_depth(text)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_number,
            parse_int=_number,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalizationError(f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise CanonicalizationError("JSON refused: nested too deeply") from None
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        raise CanonicalizationError(f"JSON cannot be canonicalized: {exc}") from None
