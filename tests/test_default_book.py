"""The default book a SaaS CFO would recognise: it expands (NRR in the range B2B SaaS books report,
GRR below it), offers are accepted in the single digits, and the book without offers is the old
default (expansion and contraction 0, NRR = GRR)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlib
from simlib.results import SimulationResult
from simlib.stats import mean_ci

REPLICATIONS = 5
KINDS = ("upsell", "cross_sell", "downsell", "term_conversion")


@pytest.fixture(scope="module")
def default_book() -> SimulationResult:
    return simlib.simulate("b2b_saas", replications=REPLICATIONS, seed=1)


def test_the_default_book_expands_within_the_range_saas_books_report(
    default_book: SimulationResult,
) -> None:
    summary = default_book.summary
    nrr = mean_ci(summary["nrr_12m"].to_numpy())
    # the whole 95 % interval of the mean (t with 4 degrees of freedom) lies in 1.00-1.25
    assert nrr.low > 1.0 and nrr.high < 1.25, nrr
    # GRR below NRR in every replication: the expansion is real, not a rounding of the cohort
    assert (summary["grr_12m"] < summary["nrr_12m"]).all()
    monthly = default_book.monthly
    assert monthly["expansion_mrr"].sum() > 0 and monthly["contraction_mrr"].sum() > 0


def test_offers_are_accepted_in_the_single_digits(default_book: SimulationResult) -> None:
    totals = default_book.monthly.sum(numeric_only=True)
    for kind in KINDS:
        made, accepted = totals[f"offers_made_{kind}"], totals[f"offers_accepted_{kind}"]
        assert made > 500, kind  # every kind is on and reaches accounts
        share = accepted / made
        # binomial standard error of the share, sqrt(p (1 - p) / n), is under 1.2 points with
        # n > 500: a share 3 errors below 10 % cannot be a 10 %-or-more rate by chance
        se = np.sqrt(share * (1 - share) / made)
        assert share > 0 and share + 3 * se < 0.10, (kind, share, se)


def test_the_book_without_offers_never_expands_and_keeps_nrr_equal_to_grr() -> None:
    res = simlib.simulate(
        "b2b_saas_no_offers", replications=2, seed=1, overrides=["population.initial_accounts=800"]
    )
    assert res.monthly["expansion_mrr"].sum() == 0 and res.monthly["contraction_mrr"].sum() == 0
    pd.testing.assert_series_equal(
        res.summary["nrr_12m"], res.summary["grr_12m"], check_names=False
    )
