"""The metric registry: every figure the kit reports, defined once.

A :class:`Metric` carries its name, a label for people, its unit, its direction (whether more is
better) and how it is computed. Summary tables, compare, sweep, the lab, reports, plots and the
batch index page all read this registry, so a new figure is one entry::

    register_metric(Metric(
        "expansion_share", "expansion share of new MRR", "share", better="higher",
        compute=lambda sim, accounts, monthly: ...,    # one number per replication
        views=("compare",),                            # also compared by default
    ))

Two kinds of figure:

* *summary* figures (``compute(sim, accounts, monthly) -> float``) are computed for every
  replication as it ends and are columns of ``summary.parquet`` (CONTRACT.md), in registration
  order after ``scenario, replication, seed``;
* *derived* figures (``derive(result) -> Series`` indexed by replication) are computed afterwards
  from a result's tables (``ltv_opening_book`` from the accounts table, say) by whoever asks
  for them (:func:`derived_figures`).

*Views* are the ordered lists of figures shown by default in one place: ``compare`` (the
comparison table), ``headline`` (a scenario's headline table and the index page) and ``lab``
(the lab's comparison). Registering a metric with ``views=("compare",)`` appends it to that view.

Units: ``money`` (currency, over the horizon or per account), ``money_month`` (currency per
month), ``share`` (a 0-1 ratio, shown in %), ``score`` (a 0-1 health score), ``count``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import pandas as pd

from ..registry import Registry

if TYPE_CHECKING:
    from ..engine import Simulation
    from ..results import SimulationResult

__all__ = [
    "ID_COLUMNS",
    "METRICS",
    "Metric",
    "derived_figures",
    "metric_label",
    "metric_unit",
    "metric_view",
    "register_metric",
    "summary_columns",
]

Unit = Literal["money", "money_month", "share", "score", "count"]
SummaryFn = Callable[["Simulation", pd.DataFrame, pd.DataFrame], float]
DeriveFn = Callable[["SimulationResult"], pd.Series]

#: Summary columns that identify a replication rather than measure it.
ID_COLUMNS = ("scenario", "replication", "seed")


@dataclass(frozen=True)
class Metric:
    """One figure. ``better``: ``"higher"``, ``"lower"`` or None (neither: a count, say).
    Exactly one of ``compute`` (a summary figure) and ``derive`` (a derived one) is given."""

    name: str
    label: str
    unit: Unit
    better: Literal["higher", "lower"] | None = None
    compute: SummaryFn | None = None
    derive: DeriveFn | None = None
    views: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if (self.compute is None) == (self.derive is None):
            raise ValueError(f"metric {self.name!r}: give exactly one of compute and derive")

    @property
    def summary(self) -> bool:
        """Whether the figure is a column of the summary table."""
        return self.compute is not None


#: Every figure, by name, in registration order.
METRICS: Registry[Metric] = Registry("metric")
_VIEWS: dict[str, list[str]] = {"compare": [], "headline": [], "lab": []}


def register_metric(metric: Metric) -> Metric:
    """Register ``metric`` and append it to each of its views."""
    METRICS.add(metric.name, metric)
    for view in metric.views:
        names = _VIEWS.setdefault(view, [])
        if metric.name not in names:
            names.append(metric.name)
    return metric


def define_view(view: str, names: Iterable[str]) -> None:
    """Set the order of a view (the built-in views are defined once, in figures.py)."""
    names = list(names)
    for name in names:
        METRICS[name]  # an unknown name is an error here, not a silent gap in a table
    _VIEWS[view] = names


def metric_view(view: str) -> tuple[str, ...]:
    """The figures of a view, in order."""
    if view not in _VIEWS:
        raise KeyError(f"unknown metric view {view!r}; known: {', '.join(_VIEWS)}")
    return tuple(_VIEWS[view])


def summary_columns() -> tuple[str, ...]:
    """Columns of the summary table: the identifiers, then every summary figure."""
    return ID_COLUMNS + tuple(m.name for m in METRICS.values() if m.summary)


def metric_label(name: str) -> str:
    """Readable name of a figure (the name itself, spaced, when unknown)."""
    metric = METRICS.get(name) if name in METRICS else None
    return metric.label if metric is not None else name.replace("_", " ")


def metric_unit(name: str) -> str:
    """Unit of a figure ("" when unknown)."""
    return METRICS[name].unit if name in METRICS else ""


def derived_figures(result: SimulationResult, names: Iterable[str]) -> dict[str, pd.Series]:
    """The derived figures among ``names``, each a Series indexed by replication."""
    out: dict[str, pd.Series] = {}
    for name in names:
        metric = METRICS[name]
        if metric.derive is not None:
            out[name] = metric.derive(result)
    return out
