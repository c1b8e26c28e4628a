"""The causal slope per account, and the regressions a strategist can run on a CRM.

Common random numbers give every account the same identity (``account_key``) in the baseline
and in the raised run, so the two runs can be paired account by account. For the accounts alive
at the last month in *both* runs, with ``dm_i`` the change of account ``i``'s MRR (currency per
month) and ``ds_i`` the change of its satisfaction (0-1 scale), the per-account causal slope of
a replication is

    causal = sum_i dm_i / sum_i ds_i        (currency per month per unit of satisfaction)

the average change in an account's MRR per unit of satisfaction change (a ratio of means, the
Wald form of an average effect per unit of dose). It compares each account with itself, so who
survives cannot leak into it: with no channel from satisfaction to price every ``dm_i`` is 0 and
so is the slope. The survivors' ratio ``dARPA_end / dmean_satisfaction`` (what the lab reported
before) mixes in that a raised book keeps other, often smaller, accounts.

Beside it, two regressions across the baseline's surviving accounts (what a CRM export allows):

* ``naive``: ordinary least squares of MRR on satisfaction;
* ``within_segment``: the same with one intercept per segment (fixed effects: x and y demeaned
  within each segment, then ``sum dx dy / sum dx^2``), the easy fix that removes the part of the
  bias that comes from segments differing in both satisfaction and price.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..results import SimulationResult

__all__ = ["paired_accounts", "per_account_slopes", "prices_changed", "within_segment_slopes"]


def paired_accounts(baseline: SimulationResult, treated: SimulationResult) -> pd.DataFrame:
    """Accounts alive at the last month in both runs, paired by (``replication``,
    ``account_key``): ``replication, account_key, segment, mrr0, mrr1, sat0, sat1, d_mrr, d_sat``
    (MRR in currency per month, satisfaction 0-1)."""
    cols = ["replication", "account_key", "segment", "final_mrr", "final_satisfaction"]

    def alive(result: SimulationResult) -> pd.DataFrame:
        acc = result.accounts
        return acc.loc[~acc["churned"].astype(bool), cols]

    both = alive(baseline).merge(
        alive(treated), on=["replication", "account_key"], suffixes=("0", "1"), validate="1:1"
    )
    out = pd.DataFrame(
        {
            "replication": both["replication"].to_numpy(),
            "account_key": both["account_key"].to_numpy(),
            "segment": both["segment0"].astype(str).to_numpy(),
            "mrr0": both["final_mrr0"].to_numpy(dtype=np.float64),
            "mrr1": both["final_mrr1"].to_numpy(dtype=np.float64),
            "sat0": both["final_satisfaction0"].to_numpy(dtype=np.float64),
            "sat1": both["final_satisfaction1"].to_numpy(dtype=np.float64),
        }
    )
    out["d_mrr"] = out["mrr1"] - out["mrr0"]
    out["d_sat"] = out["sat1"] - out["sat0"]
    return out


def per_account_slopes(baseline: SimulationResult, treated: SimulationResult) -> pd.DataFrame:
    """Per replication, the per-account causal slope ``sum dm_i / sum ds_i`` (module docstring;
    currency per month per unit of satisfaction): ``replication, slope, accounts`` (NaN when the
    paired accounts' satisfaction did not move)."""
    pairs = paired_accounts(baseline, treated)
    reps = sorted(
        set(baseline.accounts["replication"].astype(int))
        & set(treated.accounts["replication"].astype(int))
    )
    rows = []
    for rep in reps:
        part = pairs[pairs["replication"] == rep]
        d_sat = float(part["d_sat"].sum())
        slope = float(part["d_mrr"].sum()) / d_sat if abs(d_sat) > 1e-12 else float("nan")
        rows.append({"replication": int(rep), "slope": slope, "accounts": len(part)})
    return pd.DataFrame(rows, columns=["replication", "slope", "accounts"])


def prices_changed(baseline: SimulationResult, treated: SimulationResult) -> bool:
    """Whether any account alive at the end of both runs pays a different MRR in the raised run
    (more than a millionth of a currency unit a month): whether "price change" is the word."""
    pairs = paired_accounts(baseline, treated)
    return bool((pairs["d_mrr"].abs() > 1e-6).any())


def within_segment_slopes(result: SimulationResult) -> pd.DataFrame:
    """Per replication, the least-squares slope of MRR on satisfaction across the accounts alive
    at the last month with one intercept per segment (currency per month per unit of
    satisfaction): ``replication, slope, accounts`` (NaN without spread within segments)."""
    acc = result.accounts
    alive = acc.loc[~acc["churned"].astype(bool)]
    rows = []
    for rep, part in alive.groupby("replication", sort=True):
        x = part["final_satisfaction"].to_numpy(dtype=np.float64)
        y = part["final_mrr"].to_numpy(dtype=np.float64)
        seg = part["segment"].astype(str).to_numpy()
        dx, dy = x.copy(), y.copy()
        for s in np.unique(seg):
            m = seg == s
            dx[m] -= x[m].mean()
            dy[m] -= y[m].mean()
        sxx = float(dx @ dx)
        slope = float(dx @ dy) / sxx if x.size >= 3 and sxx > 0 else float("nan")
        rows.append({"replication": int(rep), "slope": slope, "accounts": int(x.size)})
    return pd.DataFrame(rows, columns=["replication", "slope", "accounts"])
