"""The churn floor: is cutting churn further still worth it, or should CS switch to expansion?

:func:`churn_floor_closed_form` gives revenue per opening account of a homogeneous book in closed
form; :func:`churn_floor_curve` simulates a book at several churn levels, without and with an
expansion push, on one seed (common random numbers; paired Student-t intervals, see
:mod:`simlib.lab`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..compare import ComparisonResult, paired_interval
from ..errors import UserInputError
from ..experiment import CacheArg, ExecutorArg
from ..run_options import RunOptions, accepts_run_options
from ..scenario import Scenario, load_scenario
from ..stats import mean_ci
from .cohort import _cube
from .decomposition import _safe_div
from .designs import _options, _run
from .metrics import lab_metrics

__all__ = ["ArrayLikeFloat", "churn_floor_closed_form", "churn_floor_curve"]

ArrayLikeFloat = Sequence[float] | np.ndarray


def churn_floor_closed_form(
    churn: ArrayLikeFloat,
    arpa: float,
    horizon_months: int,
    expansion: float = 0.0,
    step: float = 0.01,
) -> pd.DataFrame:
    """Closed form of the churn floor for a homogeneous book with constant monthly churn ``c``
    and survivors' ARPA growing by ``g`` a month (``expansion``):

        R(c, g) = a x sum_{t=0}^{H-1} ((1 - c)(1 + g))^t   (currency per opening account)

    (``a / (1 - r)`` with ``r = (1 - c)(1 + g)`` as H grows without bound). Columns: ``churn``,
    ``revenue`` R(c, g), ``per_point_churn`` = R(c - step/2, g) - R(c + step/2, g) (one point =
    ``step``, one percentage point by default, of monthly churn), ``per_point_expansion`` =
    R(c, g + step/2) - R(c, g - step/2), and ``retention_headroom`` = R(0, g) - R(c, g), what
    cutting churn all the way to zero could still add.
    """
    c = np.asarray(churn, dtype=np.float64)
    h = int(horizon_months)

    def big_r(cc: np.ndarray, g: float) -> np.ndarray:
        q = (1.0 - cc) * (1.0 + g)
        t = np.arange(h)
        return arpa * (q[..., None] ** t).sum(axis=-1)

    half = step / 2.0
    return pd.DataFrame(
        {
            "churn": c,
            "revenue": big_r(c, expansion),
            "per_point_churn": big_r(np.maximum(c - half, 0.0), expansion)
            - big_r(c + half, expansion),
            "per_point_expansion": big_r(c, expansion + half) - big_r(c, expansion - half),
            "retention_headroom": big_r(np.zeros_like(c), expansion) - big_r(c, expansion),
        }
    )


@accepts_run_options
def churn_floor_curve(
    betas: Sequence[float] = (20, 32, 49, 99, 149, 199),
    replications: int = 5,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    scenario: str | Scenario | dict = "churn_floor",
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    options: RunOptions | None = None,
) -> pd.DataFrame:
    """The churn floor, simulated: ``scenario`` (default the ``churn_floor`` preset) at each
    churn level ``churn.monthly.beta`` (mean churn probability 1/(1 + beta) with alpha 1),
    without and with its expansion push (``offers.kinds.upsell.enabled``), all on one seed.

    One row per churn level (most churn first): ``beta``, ``churn`` (the realized monthly logo
    churn of the book without the push, mean), ``revenue`` and ``revenue_with_push`` (revenue
    per opening account, currency), ``push_gain`` with ``push_gain_low/high`` (the push's paired
    effect on it), ``per_point_churn`` with ``_low/_high`` (revenue per opening account bought by
    one percentage point less monthly churn, between this level and the next lower one at
    ``churn_next``: paired revenue difference / churn difference in points; the closed form is
    taken half-way between the two), ``per_point_expansion`` with ``_low/_high``
    (push gain per percentage point of monthly ARPA growth of the surviving opening accounts it
    adds), the closed form's ``closed_per_point_churn`` and ``closed_per_point_expansion`` at
    the realized churn and the book's opening ARPA, and ``retention_headroom`` (closed form: what
    cutting churn to zero could still add) beside ``push_gain``.
    """
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    levels = sorted({float(b) for b in betas})
    if len(levels) < 2:
        raise UserInputError("the churn floor needs at least two churn levels (betas)")
    runs = _floor_scenarios(scenario, levels, opts)
    per = _floor_figures(_run(runs, opts), runs)
    horizon = runs[0].horizon_months
    rows = []
    for i, beta in enumerate(levels):  # most churn (lowest beta) first
        nxt = levels[i + 1] if i + 1 < len(levels) else None  # the next lower churn
        rows.append(_floor_row(beta, nxt, per, level, horizon))
    out = pd.DataFrame(rows)
    out.attrs["currency"] = runs[0].economics.currency
    out.attrs["horizon_months"] = horizon
    return out


def _floor_scenarios(
    scenario: str | Scenario | dict, levels: list[float], opts: RunOptions
) -> list[Scenario]:
    """The runs of the curve: each churn level ``churn.monthly.beta``, without and with the
    expansion push, named ``beta B`` and ``beta B, push``."""
    common = [*opts.overrides, "reporting.opening_cohort=true"]
    runs: list[Scenario] = []
    for beta in levels:
        for push in (False, True):
            sc = load_scenario(
                scenario,
                [
                    *common,
                    f"churn.monthly.beta={beta:g}",
                    f"offers.kinds.upsell.enabled={'true' if push else 'false'}",
                ],
            )
            runs.append(sc.model_copy(update={"name": f"beta {beta:g}{', push' if push else ''}"}))
    return runs


def _floor_figures(res: ComparisonResult, runs: list[Scenario]) -> dict[str, pd.DataFrame]:
    """Per run, its per-replication lab figures (indexed by replication) plus ``arpa_open``
    (the opening accounts' ARPA at month 0, currency per month) and ``arpa_growth`` (the
    survivors' mean monthly ARPA growth, ``(A_end / A_0)^(1 / (H - 1)) - 1``)."""
    per: dict[str, pd.DataFrame] = {}
    for sc in runs:
        r = res.results[sc.name]
        m = lab_metrics(r).set_index("replication").sort_index()
        _, _, n, rev = _cube(r)
        tot = n.sum(axis=2)
        a = _safe_div(rev.sum(axis=2), tot)
        months = a.shape[1]
        growth = np.where(a[:, 0] > 0, (a[:, -1] / a[:, 0]) ** (1.0 / max(months - 1, 1)) - 1, 0.0)
        m["arpa_growth"] = growth
        m["arpa_open"] = a[:, 0]
        per[sc.name] = m
    return per


def _floor_row(
    beta: float, nxt: float | None, per: dict[str, pd.DataFrame], level: float, horizon: int
) -> dict[str, Any]:
    """One row of :func:`churn_floor_curve`: churn level ``beta`` against its push and against
    the next lower churn level ``nxt`` (None for the lowest), beside the closed form."""
    off, on = per[f"beta {beta:g}"], per[f"beta {beta:g}, push"]
    churn = float(off["logo_churn_monthly"].mean())
    gain = paired_interval(
        off["revenue_per_opening_account"], on["revenue_per_opening_account"], level
    )
    d_growth = 100 * (on["arpa_growth"] - off["arpa_growth"])
    per_exp = mean_ci(
        (on["revenue_per_opening_account"] - off["revenue_per_opening_account"])
        / d_growth.where(d_growth.abs() > 1e-9),
        level,
    )
    row: dict[str, Any] = {
        "beta": beta,
        "churn": churn,
        "revenue": float(off["revenue_per_opening_account"].mean()),
        "revenue_with_push": float(on["revenue_per_opening_account"].mean()),
        "push_gain": gain.mean,
        "push_gain_low": gain.low,
        "push_gain_high": gain.high,
        "per_point_expansion": per_exp.mean,
        "per_point_expansion_low": per_exp.low,
        "per_point_expansion_high": per_exp.high,
    }
    row.update(_per_point_churn(off, None if nxt is None else per[f"beta {nxt:g}"], level))
    arpa0 = float(off["arpa_open"].mean())
    closed = churn_floor_closed_form([churn], arpa0, horizon)
    between = churn_floor_closed_form([(churn + row["churn_next"]) / 2], arpa0, horizon)
    row["closed_per_point_churn"] = float(between["per_point_churn"].iloc[0])
    row["closed_per_point_expansion"] = float(closed["per_point_expansion"].iloc[0])
    row["retention_headroom"] = float(closed["retention_headroom"].iloc[0])
    return row


def _per_point_churn(off: pd.DataFrame, low: pd.DataFrame | None, level: float) -> dict[str, float]:
    """Revenue per opening account bought by one percentage point less monthly churn, from
    this level (``off``) to the next lower one (``low``; NaN when there is none): the paired
    revenue difference / churn difference in points, with its interval and ``churn_next``."""
    if low is None:
        nan = float("nan")
        return {
            "churn_next": nan,
            "per_point_churn": nan,
            "per_point_churn_low": nan,
            "per_point_churn_high": nan,
        }
    d_churn = 100 * (off["logo_churn_monthly"] - low["logo_churn_monthly"])
    ci = mean_ci(
        (low["revenue_per_opening_account"] - off["revenue_per_opening_account"])
        / d_churn.where(d_churn.abs() > 1e-12),
        level,
    )
    return {
        "churn_next": float(low["logo_churn_monthly"].mean()),
        "per_point_churn": ci.mean,
        "per_point_churn_low": ci.low,
        "per_point_churn_high": ci.high,
    }
