"""A CS team's return on investment: the same book with and without the team, on one seed
(common random numbers; paired Student-t intervals), and its plain-language reading."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..compare import ComparisonResult
from ..experiment import CacheArg, ExecutorArg
from ..results import SimulationResult
from ..run_options import RunOptions, accepts_run_options
from ..scenario import Scenario, load_scenario
from ..stats import mean_ci
from .designs import _options, _run
from .narrative import _ci_text, _money, _percent, _sure

__all__ = ["cs_roi", "cs_verdict", "run_cs_roi"]


def cs_roi(
    without_cs: SimulationResult, with_cs: SimulationResult, level: float = 0.95
) -> pd.DataFrame:
    """What a CS team earns back, paired by replication: ``with_cs`` against ``without_cs`` (the
    same book with no coverage, same seed).

    Rows (currency over the horizon unless said): ``cs_cost`` (what the team cost), ``revenue``
    (revenue it retained or added), ``gross_margin_gained`` (gross margin x that revenue),
    ``net_value`` (margin gained - extra CS and offer cost), ``roi`` (net value gained / extra CS
    cost; -1 = the cost is lost, 0 = break-even), ``mean_satisfaction`` (0-1) and
    ``logo_churn_monthly`` (share per month). Columns ``figure, mean, ci_low, ci_high, n``.
    """
    a = without_cs.summary.set_index("replication").sort_index()
    b = with_cs.summary.set_index("replication").sort_index()
    common = a.index.intersection(b.index)
    a, b = a.loc[common], b.loc[common]
    margin = with_cs.scenario.economics.gross_margin
    d_cost = (b["cs_cost"] - a["cs_cost"]).to_numpy(dtype=np.float64)
    d_net = (b["net_value"] - a["net_value"]).to_numpy(dtype=np.float64)
    values = {
        "cs_cost": d_cost,
        "revenue": (b["revenue"] - a["revenue"]).to_numpy(dtype=np.float64),
        "gross_margin_gained": margin * (b["revenue"] - a["revenue"]).to_numpy(dtype=np.float64),
        "net_value": d_net,
        "roi": np.where(d_cost > 0, d_net / np.where(d_cost > 0, d_cost, 1.0), np.nan),
        "mean_satisfaction": (b["mean_satisfaction"] - a["mean_satisfaction"]).to_numpy(),
        "logo_churn_monthly": (b["logo_churn_monthly"] - a["logo_churn_monthly"]).to_numpy(),
    }
    rows = []
    for name, x in values.items():
        ci = mean_ci(np.asarray(x, dtype=np.float64), level)
        rows.append(
            {"figure": name, "mean": ci.mean, "ci_low": ci.low, "ci_high": ci.high, "n": ci.n}
        )
    return pd.DataFrame(rows)


@accepts_run_options
def run_cs_roi(
    scenario: str | Scenario | dict = "cs_surveys_only",
    replications: int = 10,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    executor: ExecutorArg = "local",
    workers: int | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    options: RunOptions | None = None,
) -> tuple[pd.DataFrame, ComparisonResult]:
    """A CS team's return: ``scenario`` against the same book with no coverage (policy none,
    no CSMs), on one seed. Returns (:func:`cs_roi` table, the comparison)."""
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    with_cs = load_scenario(scenario, list(opts.overrides))
    without = load_scenario(with_cs, ["coverage.policy=none", "coverage.csm.count=0"])
    without = without.model_copy(update={"name": f"{with_cs.name}, no CS team"})
    res = _run([without, with_cs], opts)
    return cs_roi(res.results[without.name], res.results[with_cs.name], level), res


def cs_verdict(roi: pd.DataFrame, currency: str = "USD") -> str:
    """Plain-language reading of a :func:`cs_roi` table: what the team cost, what it retained,
    and whether it earns its cost back (the interval of the net value gained against zero)."""
    r = roi.set_index("figure")
    cost, rev, net, ratio = (r.loc[k] for k in ("cs_cost", "revenue", "net_value", "roi"))
    text = (
        f"The CS team cost {_money(cost['mean'], currency)} over the horizon and changed revenue "
        f"by {_ci_text(rev['mean'], rev['ci_low'], rev['ci_high'], currency)}; net of its cost "
        f"the business gained {_ci_text(net['mean'], net['ci_low'], net['ci_high'], currency)} "
        f"(ROI {_percent(ratio['mean'], decimals=0)} of the cost)"
    )
    sign = _sure(net["ci_low"], net["ci_high"])
    if sign == "up":
        return text + ": it pays for itself."
    if sign == "down":
        return text + ": it does not earn its cost back."
    return text + ": the interval includes break-even, so whether it pays is not yet clear."
