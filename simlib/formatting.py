"""Numbers for people: the one number formatter of every table and every sentence simlib writes.

The report tables (:mod:`simlib.report_tables`) and the hypothesis lab's verdict
(:mod:`simlib.lab.narrative`) both write numbers through this module, so a figure reads the same
in a table cell and in a sentence:

* thousands separators, never scientific notation; money has no decimals from 100 up, one from
  10, two below (a value and its interval share their decimals);
* negative numbers carry a real minus sign (U+2212 ``−``), differences a ``+`` when positive;
* shares are percentages (``2.15 %``), differences of shares percentage points (``−0.25 pp``);
* intervals are written ``1,266 USD [941 to 1,591]`` (a 95 % interval unless said otherwise);
* a value that does not exist (NaN, infinity, None) is a dash (:data:`DASH`).

Units are the metric registry's (:mod:`simlib.metrics.registry`): ``money`` (currency),
``money_month`` (currency per month), ``share`` (a fraction, shown in %), ``score`` (0-1
scale), ``count`` and "" (a plain number). This module sits in the lowest layer: it knows no
figure names, only units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DASH",
    "MINUS",
    "decimals_for",
    "format_interval",
    "format_number",
    "format_percent",
    "format_plain",
    "is_finite",
    "number_text",
    "unit_suffix",
]

#: What a table or sentence shows where a value does not exist.
DASH = "–"
#: The minus sign of negative numbers (U+2212), never the hyphen-minus ``-``.
MINUS = "−"


def is_finite(x: Any) -> bool:
    """Whether ``x`` is a finite number (False for None, NaN, infinity and text)."""
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def decimals_for(unit: str, values: Sequence[Any]) -> int:
    """Decimals shared by a value and its interval: fewer as the largest magnitude grows
    (shares: two decimals of a percentage; scores: three)."""
    finite = [abs(float(v)) for v in values if is_finite(v)]
    big = max(finite, default=0.0)
    if unit == "share":
        return 2
    if unit == "score":
        return 3
    if unit == "count":
        return 0 if big >= 100 or all(float(v).is_integer() for v in finite) else 1
    if big >= 100:
        return 0
    if unit.startswith("money"):
        return 1 if big >= 10 else 2
    return 2 if big >= 1 else 3


def unit_suffix(unit: str, currency: str = "USD", signed: bool = False) -> str:
    """What follows a number of ``unit``: `` USD``, `` USD/month``, `` %`` (`` pp`` for a
    difference of shares) or nothing."""
    return {
        "money": f" {currency}",
        "money_month": f" {currency}/month",
        "share": " pp" if signed else " %",
    }.get(unit, "")


def number_text(x: float, unit: str, decimals: int, signed: bool) -> str:
    """One number without its unit, scaled (a share to %), with separators, the minus sign
    U+2212 and, when ``signed``, ``+`` before a positive number; a number that rounds to 0 is
    ``0`` (never ``−0``)."""
    v = 100 * float(x) if unit == "share" else float(x)
    if round(v, decimals) == 0:
        v = 0.0
    text = f"{abs(v):,.{decimals}f}"
    if v < 0:
        return MINUS + text
    return ("+" if signed and v > 0 else "") + text


def format_number(
    value: Any, unit: str, currency: str = "USD", signed: bool = False, decimals: int | None = None
) -> str:
    """A value with its unit (``12,345 USD``, ``2.15 %``, ``+0.25 pp``, ``−3.4``), or
    :data:`DASH`."""
    if not is_finite(value):
        return DASH
    d = decimals_for(unit, [value]) if decimals is None else decimals
    return number_text(value, unit, d, signed) + unit_suffix(unit, currency, signed)


def format_interval(
    mean: Any, low: Any, high: Any, unit: str, currency: str = "USD", signed: bool = False
) -> str:
    """``1,266 USD [941 to 1,591]``, ``−12.9 USD [−20.1 to −5.7]`` (the interval left out
    when it is undefined, or when it has no width: a known value)."""
    if not is_finite(mean):
        return DASH
    if not (is_finite(low) and is_finite(high)):
        return format_number(mean, unit, currency, signed)
    d = decimals_for(unit, [mean, low, high])
    text = number_text(mean, unit, d, signed) + unit_suffix(unit, currency, signed)
    if float(low) == float(high) == float(mean):
        return text
    return f"{text} [{number_text(low, unit, d, signed)} to {number_text(high, unit, d, signed)}]"


def format_percent(ratio: Any, signed: bool = False, decimals: int = 1) -> str:
    """A ratio as a percentage (``0.023`` -> ``2.3 %``, ``+2.3 %`` when ``signed``; a
    relative change is a percentage, not percentage points), or :data:`DASH`."""
    if not is_finite(ratio):
        return DASH
    return number_text(ratio, "share", decimals, signed) + " %"


def format_plain(value: Any, signed: bool = False) -> str:
    """A parameter as written (``0.1``, ``1,500``, ``−0.05``: up to six significant digits),
    with the minus sign U+2212, or :data:`DASH`."""
    if not is_finite(value):
        return DASH
    v = float(value)
    if abs(v) >= 1e6:
        text = f"{abs(v):,.0f}"
    elif 0 < abs(v) < 1e-4:  # no scientific notation: six significant digits, fixed point
        text = f"{abs(v):.{5 - math.floor(math.log10(abs(v)))}f}".rstrip("0")
    else:
        text = f"{abs(v):,.6g}"
    if v < 0 and text.strip("0.,") != "":
        return MINUS + text
    return ("+" if signed and v > 0 else "") + text
