"""Reading JSON from outside: the nesting limit and a depth-checked loader (shared by every JSON reader)."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from registry.errors import CanonicalizationError

#: Deepest JSON nesting accepted (records are shallow; this keeps parsers off deep recursion).
MAX_JSON_DEPTH: Final = 128
# Escapes are removed first (left to right, "\\\\" before '\\"', as a JSON reader pairs them), so every string
# left is '"[^"]*"': stripping strings is then linear even for unterminated ones full of escaped quotes
# (the pattern '"(?:[^"\\]|\\.)*"' retries from every such quote: quadratic, 20 s for 80 KB).
_JSON_STRING = re.compile(r'"[^"]*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def check_json_depth(text: str, what: str = "JSON") -> None:
    """Refuse ``text`` nesting deeper than MAX_JSON_DEPTH; call before any ``json.loads`` of outside input.

    Needed wherever JSON from outside is parsed: web3's dependencies raise the recursion limit to 100000 at
    import, and the C JSON parser then overflows the C stack (SIGSEGV) instead of raising RecursionError.
    """
    if "[" not in text and "{" not in text:
        return
    flat = _JSON_STRING.sub("", text.replace("\\\\", "").replace('\\"', ""))
    depth = 0
    for match in _JSON_BRACKET.finditer(flat):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise CanonicalizationError(f"{what} refused: nested deeper than {MAX_JSON_DEPTH} levels")
        else:
            depth -= 1


def load_json(data: bytes | str, what: str = "JSON") -> Any:
    """``json.loads`` for input from outside: UTF-8, depth-limited; CanonicalizationError when refused."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise CanonicalizationError(f"{what} is not UTF-8: byte {exc.start}") from None
    check_json_depth(text, what)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CanonicalizationError(f"{what} is not valid JSON: {exc}") from None
