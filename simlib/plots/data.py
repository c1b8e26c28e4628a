"""The data of a chart as one tidy table, its columns named from the chart itself.

:func:`chart_data` reads what a Figure draws (lines, error bars, bars, bands, filled areas,
scatter points, heatmap cells) and names the columns from the chart's own words, so one reader
works for every chart, present and future:

* the position along an axis is named from that axis's label, shortened to the words before the
  first parenthesis, comma, colon or semicolon, with the unit kept when the parenthesis starts
  with one (``MRR (USD per month)`` -> ``mrr_usd_per_month``, ``month since start of
  simulation`` -> ``month_since_start_of_simulation``); a label that is a registered figure's
  label is that figure's registry name (``LTV per account`` -> ``ltv_mean``; ``Δ`` before it
  -> ``delta_ltv_mean``);
* an axis of names (scenarios, parameters, the steps of a waterfall) gives a column of those
  names, named from the axis label (``category`` without one);
* the drawn series (legend entries) are a column named from the legend's title (``series``
  without one), left out when no series has a name;
* a 95 % interval drawn as a band or an error bar is ``ci_low``, ``ci_high`` beside its value
  (``<value>_ci_low`` where a table holds several values with intervals);
* bars that do not start at zero (a waterfall, a tornado, stacked parts) also give
  ``bar_start`` and ``bar_end``;
* a chart of several panels is one table: side by side (one column per panel's value, named
  from its axis label, or its title where the panels share a label) when the panels draw the
  same points, else stacked with a ``panel`` column (the panel's title).

Values are as drawn, in the chart's data units (shares as fractions, 0.05 for 5 %, unless the
axis label says %; money in the scenario's currency). Reference lines (a zero line, a base
point, a threshold) and legend-only entries carry no data and are left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import FillBetweenPolyCollection, PathCollection, QuadMesh
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from ..metrics import METRICS

__all__ = ["chart_data", "column_name"]

_NUMERIC_TICK = re.compile(r"^[−+-]?[\d,.]*\d[\d,.]*\s*[kMB%]?$")
_UNIT_HINT = re.compile(r"\b[A-Z]{3}\b|%|\bper\b")
#: A label that is only a unit (``USD``, ``USD/month``, ``%``): it names no value.
_UNIT_ONLY = re.compile(r"([A-Z]{3}(\s*(/|per)\s*(month|year|account))*|%|\(%\))?")
_WORDS = {"Δ": " delta ", "%": " pct ", " − ": " minus ", " - ": " minus ", " + ": " plus "}


def _slug(text: str) -> str:
    for old, new in _WORDS.items():
        text = text.replace(old, new)
    text = re.sub(r"['’*]", "", text.lower())
    return re.sub(r"\W+", "_", text).strip("_")[:60].strip("_")


def _metric_name(text: str) -> str | None:
    """The registry name of the figure whose label ``text`` is, if any."""
    low = text.strip().lower()
    for m in METRICS.values():
        if low == m.label.lower():
            return m.name
    return None


def _fraction_axis(axis: Any) -> bool:
    """Whether the axis shows fractions as percentages (its data: 0.05 for 5 %)."""
    fmt = axis.get_major_formatter()
    return isinstance(fmt, PercentFormatter) and float(fmt.xmax) == 1.0


def _axis_name(label: str, axis: Any) -> str:
    """:func:`column_name` of an axis label; no ``pct`` where the data are fractions drawn as
    percentages (the label's % is the axis's, not the data's)."""
    name = column_name(label)
    if _fraction_axis(axis):
        name = re.sub(r"(^|_)pct(?=_|$)", "", name).strip("_")
    return name


def column_name(label: str) -> str:
    """A column name for what an axis label (or a panel title) describes (module docstring)."""
    text = " ".join(str(label).split())
    delta = ""
    if text.startswith("Δ"):
        delta, text = "delta_", text[1:].strip()
    metric = _metric_name(text)
    if metric:
        return delta + metric
    head = re.split(r"[(,;:]", text, maxsplit=1)[0].strip()
    unit = ""
    rest = text[len(head) :].strip()
    if rest.startswith("("):
        first = re.split(r"[,;:)]", rest[1:], maxsplit=1)[0]
        if first.strip().startswith("%"):
            unit = "%"
        elif _UNIT_HINT.search(first):
            unit = first
    return delta + _slug(f"{head} {unit}")


# ------------------------------------------------------------------------------------------
# Reading one panel


@dataclass
class _Point:
    """One drawn value: its position ``x`` and value ``y`` in data units, with intervals."""

    x: Any
    y: float
    series: str = ""
    x_low: float = math.nan
    x_high: float = math.nan
    y_low: float = math.nan
    y_high: float = math.nan
    start: float = math.nan
    order: int = 0
    color: tuple[float, ...] = ()
    row: Any = None  # a heatmap cell's row (its position along y)

    def has_y_interval(self) -> bool:
        return not (math.isnan(self.y_low) and math.isnan(self.y_high))


@dataclass
class _Band:
    t: np.ndarray
    low: np.ndarray
    high: np.ndarray
    series: str
    order: int
    color: tuple[float, ...]
    vertical: bool
    step: bool = False


@dataclass
class _Panel:
    title: str
    points: list[_Point] = field(default_factory=list)
    horizontal: bool = False  # values along x, names along y


def _rgb(color: Any) -> tuple[float, ...]:
    """A colour as an (r, g, b) tuple rounded to 4 decimals, () when it is none."""
    if color is None:
        return ()
    if not isinstance(color, str):
        arr = np.asarray(color, dtype=float)
        if arr.ndim == 2:
            if not len(arr):
                return ()
            arr = arr[0]
        color = tuple(arr[:4]) if arr.ndim == 1 and arr.size >= 3 else color
    try:
        return tuple(round(v, 4) for v in to_rgb(color))
    except (TypeError, ValueError):
        return ()


def _legend(ax: Axes) -> tuple[str, dict[tuple[float, ...], str]]:
    """The legend's title and its entries by colour (to name artists drawn without a label)."""
    leg = ax.get_legend()
    if leg is None:
        return "", {}
    by_colour: dict[tuple[float, ...], str] = {}
    for handle, text in zip(leg.legend_handles, leg.get_texts(), strict=False):
        colour: Any = None
        for getter in ("get_color", "get_facecolor"):
            if hasattr(handle, getter):
                colour = getattr(handle, getter)()
                break
        rgb = _rgb(colour)
        if rgb:
            by_colour.setdefault(rgb, text.get_text())
    return leg.get_title().get_text(), by_colour


def _label(artist: Any, colour: tuple[float, ...], legend: dict[tuple[float, ...], str]) -> str:
    label = str(artist.get_label() or "")
    if label and not label.startswith("_"):
        return label
    return legend.get(colour, "")


def _band_of(coll: FillBetweenPolyCollection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, lower, upper) of a ``fill_between`` polygon, its steps undone: the polygon runs
    along the first curve, then back along the second (matplotlib's ``_make_verts``)."""
    ts: list[float] = []
    lows: list[float] = []
    highs: list[float] = []
    vertical = getattr(coll, "t_direction", "x") == "x"
    for path in coll.get_paths():
        v = np.asarray(path.vertices, dtype=float)
        codes: Any = path.codes
        if codes is not None and len(v) and codes[-1] == path.CLOSEPOLY:
            v = v[:-1]
        n = (len(v) - 2) // 2
        if n < 1:
            continue
        one, two = v[1 : n + 1], v[n + 2 : 2 * n + 2][::-1]
        if not vertical:
            one, two = one[:, ::-1], two[:, ::-1]
        last: dict[float, tuple[float, float]] = {}
        for (t, a), (_t, b) in zip(one, two, strict=False):
            last[float(t)] = (float(a), float(b))  # after a step: the value that follows t
        ts.extend(last)
        lows.extend(min(a, b) for a, b in last.values())
        highs.extend(max(a, b) for a, b in last.values())
    return np.array(ts), np.array(lows), np.array(highs)


def _errorbar_points(
    c: ErrorbarContainer, order: int, legend: dict[tuple[float, ...], str]
) -> list[_Point]:
    data_line, _caps, bars = c.lines
    cols = list(bars)
    x_err = cols.pop(0) if c.has_xerr and cols else None
    y_err = cols.pop(0) if c.has_yerr and cols else None
    segs_x = x_err.get_segments() if x_err is not None else []
    segs_y = y_err.get_segments() if y_err is not None else []
    if data_line is not None:
        xs = np.asarray(data_line.get_xdata(), dtype=float)
        ys = np.asarray(data_line.get_ydata(), dtype=float)
        colour = _rgb(data_line.get_color())
    else:  # no marker: the middle of each bar
        segs = segs_x or segs_y
        xs = np.array([(s[0][0] + s[-1][0]) / 2 for s in segs])
        ys = np.array([(s[0][1] + s[-1][1]) / 2 for s in segs])
        colour = _rgb((x_err or y_err).get_color()) if (x_err or y_err) else ()
    series = _label(c, colour, legend)
    points = [_Point(x, y, series, order=order, color=colour) for x, y in zip(xs, ys, strict=True)]
    for segs, axis in ((segs_x, 0), (segs_y, 1)):
        if len(segs) != len(points):
            continue
        for p, s in zip(points, segs, strict=True):
            lo, hi = sorted((float(s[0][axis]), float(s[-1][axis])))
            if axis == 0:
                p.x_low, p.x_high = lo, hi
            else:
                p.y_low, p.y_high = lo, hi
    return points


def _bar_points(
    c: BarContainer, order: int, legend: dict[tuple[float, ...], str]
) -> tuple[list[_Point], bool]:
    horizontal = getattr(c, "orientation", "vertical") == "horizontal"
    points = []
    for patch in c.patches:
        colour = _rgb(patch.get_facecolor())
        series = _label(c, colour, legend)
        if horizontal:
            pos, value, start = (
                patch.get_y() + patch.get_height() / 2,
                patch.get_width(),
                patch.get_x(),
            )
        else:
            pos, value, start = (
                patch.get_x() + patch.get_width() / 2,
                patch.get_height(),
                patch.get_y(),
            )
        points.append(_Point(pos, value, series, start=start, order=order, color=colour))
    return points, horizontal


def _heatmap_points(mesh: QuadMesh) -> list[_Point]:
    values: Any = np.ma.filled(np.ma.asarray(mesh.get_array(), dtype=float), np.nan)
    corners: Any = np.asarray(mesh.get_coordinates(), dtype=float)
    centres = (corners[:-1, :-1] + corners[1:, 1:]) / 2
    if values.ndim == 1:
        values = values.reshape(centres.shape[:2])
    points = []
    for r in range(values.shape[0]):
        for k in range(values.shape[1]):
            cx, cy = centres[r, k]
            points.append(_Point(float(cx), float(values[r, k]), order=r, row=float(cy)))
    return points


# ------------------------------------------------------------------------------------------
# Positions to names


def _ticks(axis: Any) -> tuple[np.ndarray, list[str]]:
    locs = np.asarray(axis.get_majorticklocs(), dtype=float)
    labels = [" ".join(t.get_text().split()) for t in axis.get_majorticklabels()]
    return locs, labels


def _tick_number(text: str) -> float | None:
    t = text.replace("−", "-").replace(",", "").replace("%", "").strip()
    scale = {"k": 1e3, "M": 1e6, "B": 1e9}.get(t[-1:], 1.0) if t else 1.0
    try:
        return float(t.rstrip("kMB")) * scale
    except ValueError:
        return None


def _position_map(axis: Any) -> Any:
    """How a position reads: names at the ticks of an axis of names (nearest tick within half
    the spacing); numbers read off the tick labels where they differ from the positions (a
    heatmap's columns); None for an ordinary number axis."""
    locs, labels = _ticks(axis)
    pairs = [(loc, lab) for loc, lab in zip(locs, labels, strict=False) if lab]
    if not pairs:
        return None
    if all(_NUMERIC_TICK.match(lab) for _, lab in pairs):
        read = [(float(loc), _tick_number(lab)) for loc, lab in pairs]
        nums = [(loc, n) for loc, n in read if n is not None]
        if len(nums) < 2 or all(abs(loc - n) < 1e-9 for loc, n in nums):
            return None
        (l0, n0), (l1, n1) = nums[0], nums[-1]
        if l1 == l0 or any(
            abs(n0 + (loc - l0) * (n1 - n0) / (l1 - l0) - n) > 1e-6 for loc, n in nums
        ):
            return None
        return lambda v: n0 + (float(v) - l0) * (n1 - n0) / (l1 - l0)
    spots = np.array([loc for loc, _ in pairs])
    names = [lab for _, lab in pairs]
    half = np.min(np.diff(np.sort(spots))) / 2 if len(spots) > 1 else 0.5

    def name(v: Any) -> Any:
        i = int(np.argmin(np.abs(spots - float(v))))
        return names[i] if abs(spots[i] - float(v)) <= half + 1e-9 else v

    return name


def _is_names(mapping: Any, axis: Any) -> bool:
    if mapping is None:
        return False
    _, labels = _ticks(axis)
    return not all(_NUMERIC_TICK.match(lab) for lab in labels if lab)


# ------------------------------------------------------------------------------------------
# One panel: its points, in the panel's orientation (``x`` the position, ``y`` the value)


def _orientation(ax: Axes) -> bool:
    """True when the panel's values run along x (horizontal bars, names down the y axis; a
    heatmap's values are its cells, its columns along x)."""
    if any(isinstance(c, QuadMesh) for c in ax.collections):
        return False
    if any(isinstance(c, BarContainer) for c in ax.containers):
        return any(getattr(c, "orientation", "") == "horizontal" for c in ax.containers)
    y_names = _is_names(_position_map(ax.yaxis), ax.yaxis)
    x_names = _is_names(_position_map(ax.xaxis), ax.xaxis)
    return y_names and not x_names


def _swap(p: _Point) -> _Point:
    return _Point(
        p.y, p.x, p.series, p.y_low, p.y_high, p.x_low, p.x_high, p.start, p.order, p.color, p.row
    )


def _container_artists(c: Any) -> list[Any]:
    if isinstance(c, ErrorbarContainer):
        data_line, caps, cols = c.lines
        return [a for a in (data_line, *caps, *cols) if a is not None]
    return list(c.patches) if isinstance(c, BarContainer) else []


def _drawn(ax: Axes, horizontal: bool) -> tuple[list[_Point], list[_Band]]:
    """Every point and band the panel draws, in drawing order."""
    _title, legend = _legend(ax)
    order = {id(a): i for i, a in enumerate(ax.get_children())}
    consumed: set[int] = set()
    points: list[_Point] = []
    for c in ax.containers:
        artists = _container_artists(c)
        consumed.update(id(a) for a in artists)
        first = min((order.get(id(a), 0) for a in artists), default=0)
        if isinstance(c, ErrorbarContainer):
            drawn = _errorbar_points(c, first, legend)
            points.extend(_swap(p) for p in drawn) if horizontal else points.extend(drawn)
        elif isinstance(c, BarContainer):
            points.extend(_bar_points(c, first, legend)[0])
    bands: list[_Band] = []
    for i, a in enumerate(ax.get_children()):
        if id(a) in consumed:
            continue
        if isinstance(a, Line2D) and a.get_transform() == ax.transData and np.size(a.get_xdata()):
            colour = _rgb(a.get_color())
            label = _label(a, colour, legend)
            xs = np.asarray(a.get_xdata(), dtype=object)
            ys = np.asarray(a.get_ydata(), dtype=float)
            drawn = [
                _Point(x, y, label, order=i, color=colour) for x, y in zip(xs, ys, strict=False)
            ]
            points.extend(_swap(p) for p in drawn) if horizontal else points.extend(drawn)
        elif isinstance(a, FillBetweenPolyCollection):
            t, low, high = _band_of(a)
            colour = _rgb(a.get_facecolor())
            vertical = (getattr(a, "t_direction", "x") == "x") != horizontal
            step = getattr(a, "_step", None) is not None
            bands.append(_Band(t, low, high, _label(a, colour, legend), i, colour, vertical, step))
        elif isinstance(a, PathCollection) and np.size(a.get_offsets()):
            colour = _rgb(a.get_facecolor()) or _rgb(a.get_edgecolor())
            seen = {(round(float(p.x), 9), round(float(p.y), 9)) for p in points}
            for x, y in np.asarray(a.get_offsets(), dtype=float):
                p = _Point(float(x), float(y), _label(a, colour, legend), order=i, color=colour)
                p = _swap(p) if horizontal else p
                if (round(float(p.x), 9), round(float(p.y), 9)) not in seen:
                    points.append(p)
        elif isinstance(a, QuadMesh):
            points.extend(_heatmap_points(a))
    return points, bands


def _attach_bands(points: list[_Point], bands: list[_Band]) -> list[_Point]:
    """Each band becomes the interval of the drawn line it surrounds (same positions, same
    colour where one matches, drawn nearest to it); a band around no line is an area (a
    histogram: its upper edge) or an interval of its own."""
    by_artist: dict[int, list[_Point]] = {}
    for p in points:
        by_artist.setdefault(p.order, []).append(p)
    out = list(points)
    for band in bands:
        at = {
            round(float(t), 9): (lo, hi)
            for t, lo, hi in zip(band.t, band.low, band.high, strict=True)
        }
        fits = [
            (o, ps)
            for o, ps in by_artist.items()
            if band.vertical
            and all(
                isinstance(p.x, int | float | np.number) and round(float(p.x), 9) in at for p in ps
            )
        ]
        same = [(o, ps) for o, ps in fits if ps[0].color == band.color] or fits
        if same:
            _o, ps = min(same, key=lambda item: abs(item[0] - band.order))
            if not any(p.has_y_interval() for p in ps):
                for p in ps:
                    p.y_low, p.y_high = at[round(float(p.x), 9)]
            continue
        area = bool(np.all(band.low == 0))
        t_all, low_all, high_all = band.t, band.low, band.high
        if area and band.step and len(t_all) > 1:  # a histogram: the last edge closes a bin
            t_all, low_all, high_all = t_all[:-1], low_all[:-1], high_all[:-1]
        for t, lo, hi in zip(t_all, low_all, high_all, strict=True):
            if area:
                out.append(_Point(float(t), float(hi), band.series, order=band.order))
            else:
                out.append(
                    _Point(float(t), math.nan, band.series, y_low=lo, y_high=hi, order=band.order)
                )
    return out


def _bars_take_their_error_bars(points: list[_Point]) -> list[_Point]:
    """An error bar drawn at a bar's end is that bar's interval (one row, not two)."""
    bars = [p for p in points if not math.isnan(p.start)]
    out = []
    for p in points:
        if math.isnan(p.start) and p.has_y_interval():
            end = [
                b
                for b in bars
                if abs(float(b.x) - float(p.x)) < 1e-9
                and abs(b.start + b.y - p.y) <= 1e-9 * max(1.0, abs(p.y))
                and not b.has_y_interval()
            ]
            if end:
                end[0].y_low, end[0].y_high = p.y_low, p.y_high
                if not end[0].series:
                    end[0].series = p.series
                continue
        out.append(p)
    return out


def _merge_coincident(points: list[_Point]) -> list[_Point]:
    """A point drawn twice (a line through error bars, markers over them) is one row: the
    drawing with an interval and a name is kept."""

    def key(p: _Point) -> tuple[Any, ...]:
        x = round(float(p.x), 9) if isinstance(p.x, int | float | np.number) else p.x
        return (x, round(float(p.y), 9) if math.isfinite(p.y) else p.y)

    kept: dict[tuple[Any, ...], list[_Point]] = {}
    out: list[_Point] = []
    for p in points:
        if p.row is not None or not math.isnan(p.start):
            out.append(p)
            continue
        same = [
            q for q in kept.get(key(p), []) if not (q.series and p.series and q.series != p.series)
        ]
        if not same:
            kept.setdefault(key(p), []).append(p)
            out.append(p)
            continue
        q = same[0]
        if not q.has_y_interval() and p.has_y_interval():
            q.y_low, q.y_high = p.y_low, p.y_high
        if math.isnan(q.x_low) and not math.isnan(p.x_low):
            q.x_low, q.x_high = p.x_low, p.x_high
        q.series = q.series or p.series
    return out


# ------------------------------------------------------------------------------------------
# Panels to one table


@dataclass
class _Table:
    """One panel's rows: ``pos``, ``series``, ``value``, intervals and bar ends, with the names
    its axes give them ("" where the panel says nothing)."""

    title: str
    frame: pd.DataFrame
    pos: str
    series: str
    value: str
    generic_pos: bool


def _colorbar_label(ax: Axes) -> str:
    for coll in ax.collections:
        bar = getattr(coll, "colorbar", None)
        if isinstance(coll, QuadMesh) and bar is not None:
            return str(bar.ax.get_ylabel() or bar.ax.get_xlabel())
    return ""


def _names_of(ax: Axes) -> tuple[np.ndarray, Any] | None:
    """The ticks and names of the panel's axis of names, if it has one."""
    axis = ax.yaxis if _orientation(ax) else ax.xaxis
    mapping = _position_map(axis)
    return (_ticks(axis)[0], mapping) if _is_names(mapping, axis) else None


def _panel_table(ax: Axes, borrowed: list[tuple[np.ndarray, Any]]) -> _Table | None:
    """The panel's rows and names; ``borrowed``: the axes of names of the other panels (a
    panel beside another shows its names once, the second keeps the ticks without labels)."""
    horizontal = _orientation(ax)
    points, bands = _drawn(ax, horizontal)
    points = _merge_coincident(_bars_take_their_error_bars(_attach_bands(points, bands)))
    if not points:
        return None
    pos_axis = ax.yaxis if horizontal else ax.xaxis
    pos_map = _position_map(pos_axis)
    names = _is_names(pos_map, pos_axis)
    if not names:
        locs = _ticks(pos_axis)[0]
        for spots, mapping in borrowed:
            if len(spots) == len(locs) and np.allclose(spots, locs):
                pos_map, names = mapping, True
                break
    value_axis = ax.xaxis if horizontal else ax.yaxis
    pos_label = ax.get_ylabel() if horizontal else ax.get_xlabel()
    value_label = ax.get_xlabel() if horizontal else ax.get_ylabel()
    series = column_name(_legend(ax)[0])
    heat = any(p.row is not None for p in points)
    row_map = _position_map(ax.yaxis) if heat else None
    if heat:
        series, value_label = column_name(ax.get_ylabel()) or "row", _colorbar_label(ax)
    rows = []
    for p in points:
        rows.append(
            {
                "pos": pos_map(p.x) if pos_map else p.x,
                "series": (row_map(p.row) if row_map else p.row) if heat else p.series,
                "value": p.y,
                "ci_low": p.y_low,
                "ci_high": p.y_high,
                "pos_ci_low": p.x_low,
                "pos_ci_high": p.x_high,
                "bar_start": p.start,
                "bar_end": p.start + p.y,
            }
        )
    frame = pd.DataFrame(rows)
    drawn = frame[["value", "ci_low", "ci_high"]].notna().any(axis=1)
    frame = frame[drawn].dropna(axis=1, how="all")  # a point drawn nowhere (NaN) is no data
    if "bar_start" in frame and (frame["bar_start"].fillna(0) == 0).all():
        frame = frame.drop(columns=["bar_start", "bar_end"])
    pos = _axis_name(pos_label, pos_axis)
    title = " ".join((ax.get_title() or ax.get_title("left")).split())
    generic = not pos
    value = "" if _UNIT_ONLY.fullmatch(value_label.strip()) else _axis_name(value_label, value_axis)
    return _Table(title, frame, pos or ("category" if names else "x"), series, value, generic)


_INTERVALS = ("ci_low", "ci_high", "bar_start", "bar_end")


_ORDER = (
    "pos",
    "pos_ci_low",
    "pos_ci_high",
    "series",
    "value",
    *("ci_low", "ci_high"),
    "bar_start",
    "bar_end",
)


def _rename(t: _Table, value: str, prefixed: bool) -> pd.DataFrame:
    """The panel's frame with its columns named: ``prefixed`` puts the value's name before its
    interval and bar columns (a table holding several values)."""
    f = t.frame[[c for c in _ORDER if c in t.frame.columns]]
    both = "pos_ci_low" in f.columns and "ci_low" in f.columns
    names = {"pos": t.pos, "series": t.series or "series", "value": value}
    for col in _INTERVALS:
        names[col] = f"{value}_{col}" if prefixed or both else col
    names["pos_ci_low"], names["pos_ci_high"] = f"{t.pos}_ci_low", f"{t.pos}_ci_high"
    return f.rename(columns=names)


def _unique(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        name, k = n, 2
        while name in out:
            name, k = f"{n}_{k}", k + 1
        out.append(name)
    return out


def _combine(tables: list[_Table]) -> pd.DataFrame:
    """One table from the panels (module docstring): side by side when they draw the same
    points under different names, else stacked with a ``panel`` column."""
    real = [t.pos for t in tables if not t.generic_pos]
    for t in tables:
        if t.generic_pos and real:
            t.pos = real[0]
    series = next((t.series for t in tables if t.series), "")
    for t in tables:
        t.series = series
    if len(tables) == 1:
        t = tables[0]
        return _rename(t, t.value or column_name(t.title) or "value", prefixed=False)
    values = [t.value for t in tables]
    if values[0] and len(set(values)) == 1:
        return _stacked(tables, values[0])
    keys = ["pos", "series"] if "series" in tables[0].frame else ["pos"]
    titles = [column_name(t.title) for t in tables]
    if all(values) and len(set(values)) == len(values):
        named = values  # each panel's axis says what it holds
    elif all(titles) and len(set(titles)) == len(titles):
        named = titles  # the panels share (or lack) a label: their titles tell them apart
    else:
        named = _unique(v or title or "value" for v, title in zip(values, titles, strict=True))
    side_by_side = len({t.pos for t in tables}) == 1 and all(
        set(keys) <= set(t.frame.columns) and not t.frame.duplicated(keys).any() for t in tables
    )
    if not side_by_side:
        return _stacked(tables, "value")
    key_names = [tables[0].pos, *([series or "series"] if "series" in keys else [])]
    parts = [_rename(t, name, prefixed=True) for t, name in zip(tables, named, strict=True)]
    # every point of any panel, in the order drawn; a panel without it leaves its cells empty
    out = pd.concat([p[key_names] for p in parts], ignore_index=True).drop_duplicates()
    for part in parts:
        out = out.merge(part, on=key_names, how="left", sort=False)
    return out


def _stacked(tables: list[_Table], value: str) -> pd.DataFrame:
    parts = [_rename(t, value, prefixed=False).assign(panel=t.title) for t in tables]
    out = pd.concat(parts, ignore_index=True, sort=False)
    return out[["panel", *[c for c in out.columns if c != "panel"]]]


def chart_data(fig: Figure) -> pd.DataFrame:
    """The numbers a chart draws, as one tidy table, its columns named from the chart's axes,
    legend and titles (module docstring)."""
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    borrowed = [n for n in map(_names_of, axes) if n is not None]
    tables = [t for t in (_panel_table(ax, borrowed) for ax in axes) if t is not None]
    if not tables:
        return pd.DataFrame()
    out = _combine(tables)
    blank = [c for c in out.columns if out[c].dtype == object and out[c].fillna("").eq("").all()]
    return out.drop(columns=blank).reset_index(drop=True)
