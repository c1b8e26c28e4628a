"""The hypothesis lab: does raising satisfaction raise ARPU, or mostly keep accounts longer?

The lab answers the question by *intervention*, not correlation: it raises satisfaction on
purpose and measures what follows, with common random numbers (every run of a lab experiment
uses the same seed, so replication ``r`` of the baseline and of the raised book face the same luck
account by account; see :mod:`simlib.compare`). Intervals are paired Student-t intervals of the
per-replication differences.

**The intervention** (:func:`intervention_overrides`). ``uplift`` (the default) sets
``satisfaction.uplift = dose``: satisfaction drifts toward ``fit + dose`` instead of the account's
product fit (0-1 scale), like a satisfaction programme that lifts every account without changing
who the customers are. The churn link measures satisfaction against fit (``churn.satisfaction_
effect x (fit - satisfaction)``), so this reaches churn, offer intent, usage and loyalty alike.
``fit`` raises every segment's mean product fit by ``dose`` instead (better-fitting customers):
satisfaction rises, but so does the reference the churn link compares it with, so that dose
reaches only what reads satisfaction directly (offer intent and targeting, alert thresholds,
loyalty stages).

**Revenue per opening account and its exact decomposition** (:func:`decompose_revenue`). The
cohort is the opening book (accounts alive at month 0, ``N0`` of them), the same accounts in both
runs; accounts that arrive later are left out, so their number cannot blur the comparison.
With ``S_t`` the share of the cohort alive at month ``t`` and ``A_t`` the ARPA of those survivors
(currency per month), revenue per opening account over the horizon ``H`` is

    R = sum_{t=0}^{H-1} S_t x A_t            (currency per opening account)

and the change from baseline (0) to the raised book (1) splits exactly, with midpoint (Shapley)
weights for a product of two factors:

    dR = sum_t dS_t x (A0_t + A1_t) / 2      retention: accounts staying longer
       + sum_t (S0_t + S1_t) / 2 x dA_t      expansion: survivors paying more (or less)

``A_t = sum_g w_gt x a_gt`` over segments ``g`` (``w`` the survivors' segment shares, ``a`` each
segment's ARPA), so the expansion part splits again, exactly:

    dA_t = sum_g dw_gt x (a0_gt + a1_gt) / 2   mix: composition of the survivors
         + sum_g (w0_gt + w1_gt) / 2 x da_gt   within: change inside each segment

Keeping more small accounts gives a negative mix term: ARPA can fall while revenue and LTV rise.
The figures come from the monthly columns ``opening_accounts.SEGMENT`` and
``opening_revenue.SEGMENT`` that runs with ``reporting.opening_cohort: true`` record (the lab
switches it on; it changes no outcome).

**What the CRM would show** (:func:`naive_vs_causal`): the ordinary least-squares slope of account
MRR on satisfaction across the accounts alive at the last month, the same with one intercept per
segment, beside the causal slope per account (accounts paired across the two runs by
``account_key``: ``sum dMRR / sum dsatisfaction`` over the accounts alive at the end of both;
:mod:`~simlib.lab.causal`), all in currency per month per unit of satisfaction.

**How sure about the world** (:func:`run_robustness`): the same question at Latin hypercube
samples of uncertain keys (ranges, or calibrated values with their standard errors), and where
the answer flips along each key (:mod:`~simlib.lab.robustness`); :func:`lab_json` is the JSON of
``simlib lab --out``.

**Layout, by job.** :mod:`~simlib.lab.cohort` records the opening cohort during a run (the
``opening_cohort`` actor) and reads it back; :mod:`~simlib.lab.metrics` registers revenue per
opening account and the ``lab`` view of the metric registry (once, on import of
:mod:`simlib.lab`); :mod:`~simlib.lab.designs` holds the interventions, the dose-response and the
conditions; :mod:`~simlib.lab.decomposition` the exact decomposition and the CRM's regression
beside the causal slope; :mod:`~simlib.lab.churn_floor` the churn floor (closed form and
simulated curve); :mod:`~simlib.lab.roi` a CS team's return on investment;
:mod:`~simlib.lab.narrative` the plain-language verdict; :mod:`~simlib.lab.causal` the per-account
pairing; :mod:`~simlib.lab.robustness` the samples and the flips; :mod:`~simlib.lab.answer` the
JSON. Every public name is re-exported here.
"""

from __future__ import annotations

from .answer import full_verdict, lab_json
from .causal import paired_accounts, per_account_slopes, prices_changed, within_segment_slopes
from .churn_floor import ArrayLikeFloat as ArrayLikeFloat
from .churn_floor import churn_floor_closed_form, churn_floor_curve
from .cohort import OpeningCohortTracker, opening_cohort_paths
from .decomposition import (
    DECOMPOSITION_PARTS,
    REFERRAL_PARTS,
    decompose_revenue,
    decomposition_summary,
    dominant_answer,
    naive_slopes,
    naive_vs_causal,
)
from .designs import (
    CONDITIONS,
    INTERVENTIONS,
    DoseResponse,
    LabExperiment,
    dose_response,
    intervention_overrides,
    run_conditions,
    run_intervention,
    shifted_fit_overrides,
)
from .metrics import LAB_METRICS, lab_metrics
from .narrative import verdict
from .robustness import (
    ANSWERS,
    Robustness,
    Uncertain,
    find_flips,
    parse_uncertain,
    run_robustness,
    sample_points,
    uncertain_from_fit,
)
from .roi import cs_roi, cs_verdict, run_cs_roi

__all__ = [
    "ANSWERS",
    "CONDITIONS",
    "DECOMPOSITION_PARTS",
    "INTERVENTIONS",
    "LAB_METRICS",
    "REFERRAL_PARTS",
    "DoseResponse",
    "LabExperiment",
    "OpeningCohortTracker",
    "Robustness",
    "Uncertain",
    "churn_floor_closed_form",
    "churn_floor_curve",
    "cs_roi",
    "cs_verdict",
    "decompose_revenue",
    "decomposition_summary",
    "dominant_answer",
    "dose_response",
    "find_flips",
    "full_verdict",
    "intervention_overrides",
    "lab_json",
    "lab_metrics",
    "naive_slopes",
    "naive_vs_causal",
    "opening_cohort_paths",
    "paired_accounts",
    "parse_uncertain",
    "per_account_slopes",
    "prices_changed",
    "run_conditions",
    "run_cs_roi",
    "run_intervention",
    "run_robustness",
    "sample_points",
    "shifted_fit_overrides",
    "uncertain_from_fit",
    "verdict",
    "within_segment_slopes",
]
