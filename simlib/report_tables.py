"""Tables for people: the one formatter behind every table of every report.

Every table a report shows (the headline figures, comparisons, the lab's tables, the index page)
goes through this module, so they all read alike:

* figures are named by their label for people and carry their unit, both from the metric
  registry (:mod:`simlib.metrics.registry`); the few figures only the lab computes (revenue per
  opening account and the parts of its decomposition) are described in :data:`LAB_FIGURES`;
* numbers are written by :mod:`simlib.formatting` (shared with the lab's verdict): thousands
  separators and never scientific notation; money has no decimals from 100 up, one from 10,
  two below (the same number of decimals for a value and its interval); the minus sign is
  U+2212; shares are percentages (``2.15 %``), differences of shares percentage points
  (``−0.25 pp``);
* intervals are written ``1,266 USD [941 to 1,591]``; differences carry their sign;
* a value that does not exist (NaN: GRR and NRR on a horizon under 13 months, ARPA of a book
  with no account left, ...) is a dash with a numbered footnote saying why
  (:func:`missing_reason`), never ``NaN``;
* tables have no row numbers: :class:`ReportTable` renders through pandas' ``Styler`` with the
  index hidden, as offline HTML (no script, no font, no style sheet from the network).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .formatting import DASH, MINUS, format_interval, format_number
from .formatting import is_finite as _finite
from .metrics import METRICS, metric_label, metric_unit

__all__ = [
    "DASH",
    "LAB_FIGURES",
    "MINUS",
    "ReportTable",
    "Value",
    "clean_text",
    "figure_label",
    "figure_unit",
    "figures_table",
    "format_interval",
    "format_number",
    "missing_reason",
    "plain_table",
]


#: Figures the hypothesis lab reports that are not per-replication summary figures (so not in
#: the metric registry): label and unit. Money is revenue per opening account over the horizon.
LAB_FIGURES: dict[str, tuple[str, str]] = {
    "revenue_per_opening_account": ("revenue per opening account", "money"),
    "total": ("total change in revenue per opening account", "money"),
    "retention": ("retention (accounts staying longer)", "money"),
    "expansion": ("expansion (survivors paying more)", "money"),
    "within": ("expansion within segments", "money"),
    "mix": ("segment mix of survivors", "money"),
    "retention_minus_expansion": ("retention minus expansion", "money"),
    "arpa_change": ("ARPA change of surviving opening accounts", "money_month"),
    "arpa_mix": ("ARPA change from the segment mix", "money_month"),
    "arpa_within": ("ARPA change within segments", "money_month"),
    "gross_margin_gained": ("gross margin gained", "money"),
    "roi": ("return on the CS cost", "share"),
    "naive": ("CRM regression (naive)", "money_month"),
    "within_segment": ("CRM regression within segments", "money_month"),
    "causal": ("intervention (causal, per account)", "money_month"),
    "survivors_ratio": ("survivors' ARPA change per unit", "money_month"),
    "naive_minus_causal": ("regression minus intervention", "money_month"),
    "within_segment_minus_causal": ("within-segment regression minus intervention", "money_month"),
    "referrals": ("referred accounts per opening account", ""),
    "referral_revenue": ("revenue of referred accounts per opening account", "money"),
    "total_with_referrals": ("total change with referrals", "money"),
}

_RETENTION_HORIZON = (
    "GRR and NRR need a horizon of 13 months or more (they follow the accounts alive 12 months "
    "before the last month)"
)

#: Why a figure can be missing, by name (the reason shown in the footnote of its dash).
_MISSING = {
    "grr_12m": _RETENTION_HORIZON,
    "nrr_12m": _RETENTION_HORIZON,
    "arpa_start": "ARPA does not exist without an active account at month 0",
    "arpa_end": "ARPA does not exist without an active account at the last month",
    "ltv_mean": "LTV per account does not exist without accounts",
    "ltv_opening_book": "LTV per opening-book account does not exist without an opening book",
    "mean_satisfaction": "satisfaction does not exist without an active account at the horizon",
    "logo_churn_monthly": "churn does not exist without active accounts",
    "revenue_churn_monthly": "revenue churn does not exist without MRR",
    "roi": "the return on the CS cost does not exist when the team costs nothing",
    "per_point_churn": "the lowest churn level has no lower level to compare with",
    "per_point_expansion": "the push added no ARPA growth to divide by",
    "payback_months": (
        "payback needs an acquisition cost (economics.cac) and new accounts bringing MRR"
    ),
    "ltv_cac": "LTV:CAC needs an acquisition cost (economics.cac) for the accounts acquired",
}

#: The figures that may be missing, each with its reason (read by the tests: a summary figure
#: missing without a documented reason is a defect).
MISSING_REASONS = _MISSING


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """``text`` without control characters (NUL and the like; tab and newline become a space),
    as every page shows a user's name."""
    return _CONTROL.sub("", str(text).replace("\t", " ").replace("\n", " "))


def figure_label(name: str) -> str:
    """A figure's label for people: the registry's, else the lab's, else the name spaced."""
    if name in METRICS:
        return metric_label(name)
    if name in LAB_FIGURES:
        return LAB_FIGURES[name][0]
    return name.replace("_", " ")


def figure_unit(name: str) -> str:
    """A figure's unit (``money``, ``money_month``, ``share``, ``score``, ``count`` or "")."""
    if name in METRICS:
        return metric_unit(name)
    return LAB_FIGURES.get(name, ("", ""))[1]


def missing_reason(name: str, horizon_months: int | None = None) -> str:
    """Why ``name`` has no value, in words (the footnote of its dash)."""
    if name in ("grr_12m", "nrr_12m") and horizon_months is not None and horizon_months >= 13:
        return f"{figure_label(name)} does not exist for this run (no MRR in its cohort)"
    if name in _MISSING:
        return _MISSING[name]
    return f"{figure_label(name)} does not exist for this run"


@dataclass(frozen=True)
class Value:
    """A cell's text, and why it is empty when it is (the footnote)."""

    text: str
    reason: str = ""


_CSS = (
    "<style>.simlib-table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}"
    ".simlib-table th,.simlib-table td{border:1px solid #d0d7de;padding:.3rem .6rem;"
    "vertical-align:top}.simlib-table th{background:#f2f4f7}"
    ".jp-RenderedHTMLCommon table.simlib-table th,table.simlib-table th,"
    ".jp-RenderedHTMLCommon table.simlib-table td,table.simlib-table td{text-align:left}"
    ".jp-RenderedHTMLCommon table.simlib-table td.num,table.simlib-table td.num{"
    "text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.simlib-note{color:#555;font-size:.85rem;margin:.2rem 0}</style>"
)


@dataclass
class ReportTable:
    """A table for reading: cells already formatted, footnotes for the dashes, no row numbers.

    Shown in a notebook as HTML (pandas ``Styler``, index hidden) and as plain text elsewhere.
    ``numeric``: the columns right-aligned (figures)."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    numeric: tuple[str, ...] = ()
    caption: str = ""

    def to_html(self) -> str:
        """The table as offline HTML: a ``<table class="simlib-table">`` and its footnotes."""
        shown = self.frame.map(lambda v: v if isinstance(v, str) else str(v))
        shown.columns = [html.escape(str(c)) for c in shown.columns]
        numeric = {html.escape(str(c)) for c in self.numeric}
        digest = hashlib.sha1(shown.to_csv().encode("utf-8")).hexdigest()[:8]
        styler = (
            shown.style.set_uuid(f"simlib-{digest}")
            .hide(axis="index")
            .set_table_attributes('class="simlib-table"')
        )
        cols = [c for c in shown.columns if c in numeric]
        if cols:
            styler = styler.set_td_classes(
                pd.DataFrame(
                    {c: ["num" if c in cols else ""] * len(shown) for c in shown.columns},
                    index=shown.index,
                )
            )
        if self.caption:
            styler = styler.set_caption(html.escape(self.caption))
        styler = styler.format(self._cell_html)
        notes = "".join(
            f'<p class="simlib-note"><sup>{i}</sup> {html.escape(n)}.</p>'
            for i, n in enumerate(self.notes, 1)
        )
        return _CSS + styler.to_html() + notes

    def _cell_html(self, text: str) -> str:
        if text.startswith(DASH) and "[" in text and text.endswith("]"):
            number = text[len(DASH) + 2 : -1]
            return f"{DASH}<sup>{html.escape(number)}</sup>"
        return html.escape(text)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        text = self.frame.to_string(index=False) if len(self.frame.columns) else ""
        notes = "\n".join(f"[{i}] {n}." for i, n in enumerate(self.notes, 1))
        return text + ("\n" + notes if notes else "")


def _assemble(
    rows: list[dict[str, Value | str]], columns: list[str], numeric: Sequence[str], caption: str
) -> ReportTable:
    """Number the distinct reasons of empty cells; a dash becomes ``– [n]`` in the frame."""
    notes: list[str] = []
    out = []
    for row in rows:
        cells = {}
        for col in columns:
            cell = row.get(col, "")
            if isinstance(cell, Value):
                if cell.reason:
                    if cell.reason not in notes:
                        notes.append(cell.reason)
                    cells[col] = f"{DASH} [{notes.index(cell.reason) + 1}]"
                else:
                    cells[col] = cell.text
            else:
                cells[col] = str(cell)
        out.append(cells)
    frame = pd.DataFrame(out, columns=columns)
    return ReportTable(frame, notes, tuple(c for c in columns if c in numeric), caption)


def _value(
    name: str,
    mean: Any,
    low: Any = None,
    high: Any = None,
    *,
    currency: str,
    signed: bool,
    horizon_months: int | None,
    unit: str | None = None,
) -> Value:
    u = figure_unit(name) if unit is None else unit
    if not _finite(mean):
        return Value(DASH, missing_reason(name, horizon_months))
    return Value(format_interval(mean, low, high, u, currency, signed))


def figures_table(
    table: pd.DataFrame,
    *,
    name: str = "metric",
    mean: str = "mean",
    low: str | None = "ci_low",
    high: str | None = "ci_high",
    by: Sequence[str] = (),
    across: str | None = None,
    across_label: Any = None,
    header: str = "mean [95 % interval]",
    currency: str = "USD",
    signed: bool = False,
    horizon_months: int | None = None,
    caption: str = "",
) -> ReportTable:
    """A long table of figures (one row per figure ``name``, with ``mean`` and its interval)
    for reading: a ``figure`` column with labels, the value with unit and interval.

    ``by``: columns kept in front (a scenario, a condition); ``across``: a column whose values
    become columns instead (the doses of a dose-response, say), headed ``across_label(value)``.
    ``signed``: the values are differences (``+``, percentage points).
    """
    keys = list(by)
    groups: dict[tuple, dict[str, Value | str]] = {}
    columns: list[str] = [*keys, "figure"]
    for rec in table.to_dict("records"):
        fig = str(rec[name])
        key = (*(rec[k] for k in keys), fig)
        row = groups.setdefault(
            key, {**{k: clean_text(rec[k]) for k in keys}, "figure": figure_label(fig)}
        )
        col = header
        if across is not None:
            col = across_label(rec[across]) if across_label else str(rec[across])
        if col not in columns:
            columns.append(col)
        row[col] = _value(
            fig,
            rec[mean],
            rec.get(low) if low else None,
            rec.get(high) if high else None,
            currency=currency,
            signed=signed,
            horizon_months=horizon_months,
        )
    numeric = columns[len(keys) + 1 :]
    return _assemble(list(groups.values()), columns, numeric, caption)


def plain_table(
    table: pd.DataFrame,
    units: Mapping[str, str | tuple[str, str, str]],
    *,
    labels: Mapping[str, str] | None = None,
    currency: str = "USD",
    signed: Sequence[str] = (),
    horizon_months: int | None = None,
    caption: str = "",
) -> ReportTable:
    """A wide table for reading: each column of ``units`` formatted with its unit; a column's
    unit may be a figure name (its registry unit), and a tuple ``(figure, low, high)`` joins the
    interval columns ``low`` and ``high`` to it. Columns not in ``units`` are text. ``labels``
    rename columns (default: the figure's label)."""
    labels = dict(labels or {})
    rows: list[dict[str, Value | str]] = []
    shown: list[str] = []
    skip = {c for spec in units.values() if isinstance(spec, tuple) for c in spec[1:]}
    cols = [c for c in table.columns if c not in skip]
    heads = {c: labels.get(c, figure_label(c) if c in units else str(c)) for c in cols}
    shown = [heads[c] for c in cols]
    for rec in table.to_dict("records"):
        row: dict[str, Value | str] = {}
        for c in cols:
            spec = units.get(c)
            if spec is None:
                row[heads[c]] = str(rec[c])
                continue
            fig, lo, hi = spec if isinstance(spec, tuple) else (spec, None, None)
            unit = fig if fig in ("money", "money_month", "share", "score", "count", "") else None
            row[heads[c]] = _value(
                c if unit is not None else fig,
                rec[c],
                rec.get(lo) if lo else None,
                rec.get(hi) if hi else None,
                currency=currency,
                signed=c in signed,
                horizon_months=horizon_months,
                unit=unit,
            )
        rows.append(row)
    numeric = [heads[c] for c in cols if c in units]
    return _assemble(rows, shown, numeric, caption)
