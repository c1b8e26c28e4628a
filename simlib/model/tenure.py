"""Early-life churn: a tenure profile of the churn odds (an onboarding phase).

The ``tenure`` churn-odds term (order 15, between ``satisfaction`` and ``champion``; see
:mod:`simlib.churn_odds`) adds ``d[n]`` to the log-odds of churn at an account's renewal number
``n``, from ``churn.tenure_profile``: ``monthly[n - 1]`` on a monthly contract, ``annual[n - 1]``
on an annual one, and 0 once ``n`` is past the list. With base risk ``theta ~ Beta(alpha, beta)``
drawn once per account and no other term, the churn probability at renewal ``n`` is
``h_n(theta) = expit(logit(theta) + d[n])`` and a cohort's survival after ``t`` renewals is

    S(t) = E_theta[ prod_{n=1..t} (1 - h_n(theta)) ]

(a shifted-beta-geometric model, Fader & Hardie 2007, whose first renewals carry a log-odds
shift: the hazard can rise over the first renewals, then falls as heterogeneity sorts accounts).

**The renewal number.** With ``a`` the account's anniversary (its start month for an account that
arrived in the simulation; ``-tenure_months`` for an imported one, so its tenure before month 0
counts; the month drawn in its contract year for a staggered opening book,
``contracts.stagger_opening_renewals``; the month of a term conversion, from which an annual
contract counts its own renewals), the renewal at the end of month ``m`` is the account's

* monthly contract: renewal ``n = m - a + 1`` (the end of its first month is renewal 1);
* annual contract: renewal ``n = (m - a + 1) / 12`` (the end of month ``a + 11`` is renewal 1).

Both are ``ceil(tau / K)`` of the months of tenure ``tau = m - a + 1`` at the renewal's end,
``K`` = 1 or 12 months per renewal period: the periods ``simlib calibrate`` counts.

**Onboarding.** With ``churn.tenure_profile.onboarding_completion`` = ``q`` > 0, each account's
onboarding completes in month ``C`` of its tenure, ``P(C = c) = q (1 - q)^(c - 1)`` (geometric,
drawn once by inversion of a keyed uniform of stream ``onboarding``: ``C = 1 + floor(log u /
log(1 - q))``, common between scenarios). A renewal with ``tau >= C`` (onboarding complete by
the end of that month) gets the later-tenure odds: nothing is added. ``q = 1`` cancels the
profile; ``q = 0`` (the default) leaves it as the table says.

**Per segment.** ``population.segments.<S>.churn.tenure_profile`` gives segment ``S`` a profile
of its own (the same keys; a partial mapping is merged over the scenario-wide one, and an absent
one inherits it, filled in by :func:`simlib.config.loader.fill_defaults`). Each account's
renewals use its own segment's profile, and its onboarding its segment's ``q``.

With an empty or all-zero profile in every segment the term is not switched on, so every result
stays the same to the bit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..account import CONTRACT_ANNUAL
from ..churn_odds import register_churn_odds_term
from ..config.renewal import TenureProfile
from ..engine import Simulation
from ..scenario import Scenario

__all__ = ["onboarding_month", "renewal_number", "segment_profiles"]

#: Slot of the onboarding draw in stream ``onboarding`` (one draw per account).
SLOT_ONBOARDING = 0


def renewal_number(sim: Simulation, rows: NDArray[np.intp], month: int) -> NDArray[np.int64]:
    """The renewal number ``n`` (1, 2, ...) of each row's renewal at the end of ``month``.

    ``ceil(tau / K)`` with ``tau = month - anniversary + 1`` months of tenure and ``K`` = 12 on
    an annual contract, 1 on a monthly one (see the module docstring).
    """
    book = sim.book
    tau = month - book.anniversary[rows].astype(np.int64) + 1
    annual = book.contract[rows] == CONTRACT_ANNUAL
    return np.where(annual, -(-tau // 12), tau)


def onboarding_month(sim: Simulation, rows: NDArray[np.intp], q: float) -> NDArray[np.float64]:
    """Month of tenure ``C`` (1, 2, ...) in which each row's onboarding completes, geometric with
    success probability ``q`` per month (``inf`` when ``q`` = 0)."""
    if q <= 0.0:
        return np.full(rows.size, np.inf)
    if q >= 1.0:
        return np.ones(rows.size)
    u = sim.streams.uniform("onboarding", sim.book.key[rows], SLOT_ONBOARDING)
    return 1.0 + np.floor(np.log(u) / np.log1p(-q))


def _renewal_month(sim: Simulation) -> int:
    """The month whose end the renewal desk is deciding: the calendar closes month ``m - 1``
    while ``sim.month`` is already ``m``; outside a close, the current month."""
    return sim.month - 1 if getattr(sim, "_closing", False) else sim.month


def segment_profiles(scenario: Scenario) -> list[TenureProfile]:
    """The tenure profile of each segment, by segment code (the order of
    :meth:`Scenario.segment_table`): its own ``churn.tenure_profile``, else the scenario's."""
    wide = scenario.churn.tenure_profile
    return [
        seg.churn.tenure_profile if seg.churn.tenure_profile is not None else wide
        for seg in scenario.segment_table().values()
    ]


def _enabled(scenario: Scenario) -> bool:
    return any(profile.active for profile in segment_profiles(scenario))


def _profile_table(values: list[float], n: NDArray[np.int64]) -> NDArray[np.float64]:
    """``values[n - 1]`` where ``1 <= n <= len(values)``, else 0."""
    table = np.concatenate(([0.0], np.asarray(values, dtype=np.float64), [0.0]))
    return table[np.clip(n, 0, len(values) + 1)] * ((n >= 1) & (n <= len(values)))


def _profile_shift(
    sim: Simulation, rows: NDArray[np.intp], month: int, cfg: TenureProfile
) -> NDArray[np.float64]:
    """``d[n]`` of profile ``cfg`` at each row's renewal at the end of ``month`` (0 past the
    list and once onboarding has completed)."""
    n = renewal_number(sim, rows, month)
    annual = sim.book.contract[rows] == CONTRACT_ANNUAL
    shift = np.where(annual, _profile_table(cfg.annual, n), _profile_table(cfg.monthly, n))
    if cfg.onboarding_completion > 0:
        tau = month - sim.book.anniversary[rows].astype(np.int64) + 1
        done = onboarding_month(sim, rows, cfg.onboarding_completion) <= tau
        shift[done] = 0.0
    return shift


@register_churn_odds_term("tenure", order=15, enabled=_enabled)
def _tenure(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """``d[n]`` of each row's segment's tenure profile at its renewal number ``n`` (0 past the
    list and once onboarding has completed); None when nothing is added for these rows."""
    profiles = segment_profiles(sim.scenario)
    month = _renewal_month(sim)
    if all(p == profiles[0] for p in profiles):  # one profile for every segment
        shift = _profile_shift(sim, rows, month, profiles[0])
    else:
        shift = np.zeros(rows.size)
        seg = sim.book.segment[rows]
        for code, cfg in enumerate(profiles):
            sel = np.flatnonzero(seg == code)
            if sel.size and cfg.active:
                shift[sel] = _profile_shift(sim, rows[sel], month, cfg)
    if not shift.any():
        return None
    return shift
