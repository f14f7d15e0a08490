"""The report's HTML building blocks: escaping, numbers and money for people, tables, inline images.

Every section module builds its HTML with these (re-exported by :mod:`report` as ``report.table`` etc.),
so escaping and the table layout (a scroll box around every table, headers on every column) live here once.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def num(value: Any, digits: int = 0) -> str:
    """A number for people: thousands separators, ``n/a`` for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if digits == 0 and abs(value) < 10:
            digits = 2
        return f"{value:,.{digits}f}"
    return str(value)


def money(value: Any, currency: str) -> str:
    """Fiat with enough digits to be meaningful for sub-cent figures."""
    if value is None:
        return "n/a"
    v = float(value)
    digits = 2 if v >= 1 else 4 if v >= 0.001 else 7
    return f"{v:,.{digits}f} {currency}"


def seconds(value: Any) -> str:
    """A duration for people: ms below a second, s below two minutes, then min or h (``n/a`` for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    v = float(value)
    nb = "\u00a0"  # number and unit stay on one line
    if v == 0:
        return f"0{nb}s"
    if v < 1:
        return f"{v * 1000:,.0f}{nb}ms" if v >= 0.01 else f"{v * 1000:,.1f}{nb}ms"
    if v < 120:
        return f"{v:,.2f}{nb}s"
    if v < 3600:
        return f"{v / 60:,.1f}{nb}min"
    return f"{v / 3600:,.1f}{nb}h"


def table(head: list[str], rows: list[list[Any]], cls: str = "") -> str:
    """An escaped HTML table in a box that scrolls sideways if the table is wider than the page.

    Every column must have a header (a reader must know what a column holds).
    """
    out = [
        f'<div class="wide"><table class="{_e(cls)}"><thead><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
    ]
    for row in rows:
        out.append("<tr>" + "".join(_cell(c) for c in row) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


#: Cells with more characters than this may break anywhere (hashes, addresses, error texts), so that a table
#: of long texts wraps inside the page instead of widening it; shorter cells (numbers) stay whole.
LONG_CELL = 40


def _cell(value: object) -> str:
    text = str(value)
    return f'<td class="long">{_e(text)}</td>' if len(text) > LONG_CELL else f"<td>{_e(text)}</td>"


def image(path: Path, alt: str, caption: str | None = None) -> str:
    """An inline PNG; ``caption`` (default: ``alt``) says what the plot shows and how to read it."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption or alt)}</figcaption></figure>"
    )
