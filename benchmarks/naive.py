"""The naive design, kept as a baseline: one simpy generator per account, waking every month.

Same arithmetic as simlib's core lifecycle for a one-segment book: each account draws its churn
probability once from Beta(alpha, beta), pays its MRR at the start of every month it is alive and
churns at the end of a month with that probability. Used only by the benchmark.
"""

from __future__ import annotations

import numpy as np
import simpy


def run_naive(accounts: int, months: int, alpha: float, beta: float, mrr: float, seed: int = 0):
    """Simulate; returns (account-months simulated, total revenue)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    totals = {"account_months": 0, "revenue": 0.0}

    def account(p: float):
        month = 0
        while month < months:
            totals["account_months"] += 1
            totals["revenue"] += mrr
            if month < months - 1 and rng.random() < p:
                return
            month += 1
            yield env.timeout(1)

    for p in rng.beta(alpha, beta, size=accounts):
        env.process(account(float(p)))
    env.run(until=months)
    return totals["account_months"], totals["revenue"]


def run_numpy(
    accounts: int,
    months: int,
    alpha: float,
    beta: float,
    mrr: float,
    new_per_month: float = 0.0,
    seed: int = 0,
):
    """The practical limit in Python: a bare numpy loop of the same churn-and-billing arithmetic.

    Returns (account-months simulated, total revenue).
    """
    rng = np.random.default_rng(seed)
    risk = rng.beta(alpha, beta, size=accounts)
    fee = np.full(accounts, mrr)
    account_months = 0
    revenue = 0.0
    for month in range(months):
        if month > 0 and new_per_month > 0:
            k = rng.poisson(new_per_month)
            risk = np.concatenate([risk, rng.beta(alpha, beta, size=k)])
            fee = np.concatenate([fee, np.full(k, mrr)])
        account_months += risk.size
        revenue += float(fee.sum())
        if month < months - 1:
            stay = rng.random(risk.size) >= risk
            risk = risk[stay]
            fee = fee[stay]
    return account_months, revenue
