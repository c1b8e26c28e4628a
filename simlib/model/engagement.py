"""Timing, fatigue and engagement: what the moment of an offer and unwanted offers do.

The offer engine (:mod:`simlib.model.offers`) calls these functions; the settings are
``offers.moments``, ``offers.fatigue`` and ``usage.engagement_effect`` / ``usage.churn_effect``.
Every parameter that is new here is 0 by default, which gives the acceptance, fatigue and churn of
earlier versions exactly.

**Moments** (timing, apart from relevance). For an offer made in month ``m`` (save offers
excepted: they are made at the renewal itself), the log-odds of acceptance gain::

    renewal x [annual contract, (m - anniversary) mod 12 >= 12 - renewal_window_months]
    + near_limit x [usage >= usage.near_limit]
    + onboarding x [0 <= m - start_month - min_tenure_months < onboarding_window_months]
    + request x [the account asks about features in m]
    + off_moment x [none of the four]

When onboarding completion is simulated (``churn.tenure_profile.onboarding_completion`` > 0
for the account's segment, :mod:`simlib.model.tenure`), the onboarding moment is instead
``[1 <= m - onboarded_month <= onboarding_window_months]``: onboarding completed (at the end of
month ``onboarded_month``) within the last ``onboarding_window_months`` months.

An account asks about features in month ``m`` when a keyed uniform (stream ``feature_request``,
slot ``m``) is below ``request_rate``; timing ``request`` targets those months.

**Fatigue.** An offer is unwanted when it is irrelevant (relevance below
``offers.relevance_threshold``, accepted or not) or declined. With ``f = 1 + frequency_effect x
pressure``, where ``pressure`` = sum over the account's earlier offers of
0.5 ^ (months ago / frequency_half_life_months) (counted before this one; it ages once a month),
an offer lowers

* satisfaction by ``f x (satisfaction_drop x [irrelevant] + declined_satisfaction_drop x
  [declined] + off_moment_satisfaction_drop x [declined, at no moment])`` (floored at 1e-6);
* usage by the share ``f x usage_drop`` when irrelevant (floored at 0.01);
* engagement (1 = full: logins, visits) by the share ``min(f x engagement_drop, 1)`` when
  unwanted.

**Engagement and lost usage.** Each month engagement regains ``engagement_recovery`` of what it
lost, and lost engagement drags usage: the usage actor subtracts ``usage.engagement_effect x
(1 - engagement)`` from usage's log growth. ``usage_lost`` sums the log usage that unwanted offers
took away (each fatigue cut's ``-log(1 - share)`` and each month's drag, before usage's bounds);
the ``lost_usage`` churn-odds term adds ``usage.churn_effect x usage_lost`` to the log-odds of
churn at a renewal (None while the effect is 0 or nothing was lost). Book columns (not reported):
``engagement``, ``usage_lost``, ``offer_pressure``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..account import CONTRACT_ANNUAL
from ..churn_odds import register_churn_odds_term
from .tenure import just_onboarded

if TYPE_CHECKING:
    from ..engine import Simulation
    from ..scenario import Scenario

__all__ = [
    "after_offers",
    "age_pressure",
    "engagement_month",
    "ensure_columns",
    "moment_log_odds",
    "requested",
]

MIN_USAGE = 0.01  # as simlib.model.usage (which imports this module)


def ensure_columns(sim: Simulation) -> None:
    """Add the book columns of this module (once: the usage actor and the offer engine both
    call it)."""
    book = sim.book
    if not hasattr(book, "engagement"):
        book.add_column("engagement", np.float64, 1.0)
        book.add_column("usage_lost", np.float64, 0.0)
        book.add_column("offer_pressure", np.float64, 0.0)


def requested(sim: Simulation, rows: NDArray[np.intp], month: int) -> NDArray[np.bool_]:
    """Whether each account asks about features in ``month`` (stream ``feature_request``)."""
    rate = sim.scenario.offers.moments.request_rate
    if rate <= 0 or rows.size == 0:
        return np.zeros(rows.size, dtype=bool)
    return sim.streams.uniform("feature_request", sim.book.key[rows], month) < rate


def _at_moment(
    sim: Simulation, rows: NDArray[np.intp], month: int, min_tenure: int
) -> list[tuple[float, NDArray[np.bool_]]]:
    """(log-odds, holds) of each of the four moments for ``rows`` in ``month``."""
    cfg, book = sim.scenario.offers.moments, sim.book
    into = (month - book.anniversary[rows]) % 12
    renewal = (book.contract[rows] == CONTRACT_ANNUAL) & (into >= 12 - cfg.renewal_window_months)
    near = book.usage[rows] >= sim.scenario.usage.near_limit
    since = month - book.start_month[rows] - min_tenure
    onboarding = (since >= 0) & (since < cfg.onboarding_window_months)
    onboarding = just_onboarded(sim, rows, month, cfg.onboarding_window_months, onboarding)
    return [
        (cfg.renewal, renewal),
        (cfg.near_limit, near),
        (cfg.onboarding, onboarding),
        (cfg.request, requested(sim, rows, month)),
    ]


def moment_log_odds(
    sim: Simulation, rows: NDArray[np.intp], month: int, min_tenure: int
) -> tuple[NDArray[np.float64] | None, NDArray[np.bool_] | None]:
    """(log-odds of acceptance the moments add, or None: none set; whether each offer was made
    at none of the moments, or None: nothing reads it)."""
    offers = sim.scenario.offers
    cfg = offers.moments
    needs_off = cfg.off_moment != 0 or offers.fatigue.off_moment_satisfaction_drop > 0
    if not (cfg.any_set() or needs_off) or rows.size == 0:
        return None, None
    moments = _at_moment(sim, rows, month, min_tenure)
    off = np.ones(rows.size, dtype=bool)
    for _, holds in moments:
        off &= ~holds
    if not cfg.any_set():
        return None, off
    z = np.zeros(rows.size)
    for log_odds, holds in moments:
        if log_odds:
            z += log_odds * holds
    if cfg.off_moment:
        z += cfg.off_moment * off
    return z, off


def _multiplier(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """1 + frequency_effect x pressure before these offers (None: the effect is 0)."""
    effect = sim.scenario.offers.fatigue.frequency_effect
    if effect == 0:
        return None
    return 1.0 + effect * sim.book.offer_pressure[rows]


def after_offers(
    sim: Simulation,
    rows: NDArray[np.intp],
    irrelevant: NDArray[np.bool_],
    declined: NDArray[np.bool_] | None,
    off_moment: NDArray[np.bool_] | None,
) -> None:
    """Fatigue of the offers just made to ``rows`` (distinct accounts); ``declined`` None: save
    offers, whose refusal ends the relationship anyway (only irrelevance counts)."""
    fat, book = sim.scenario.offers.fatigue, sim.book
    mult = _multiplier(sim, rows)
    if mult is not None:
        book.offer_pressure[rows] += 1.0
    if declined is None or not (fat.declined_satisfaction_drop or fat.off_moment_satisfaction_drop):
        declined_drop = None
    else:
        declined_drop = fat.declined_satisfaction_drop * declined
        if off_moment is not None and fat.off_moment_satisfaction_drop:
            declined_drop = declined_drop + fat.off_moment_satisfaction_drop * (
                declined & off_moment
            )
    if mult is None and declined_drop is None:  # irrelevance alone, as earlier versions did
        tired = rows[irrelevant]
        if tired.size:
            book.satisfaction[tired] = np.maximum(
                book.satisfaction[tired] - fat.satisfaction_drop, 1e-6
            )
            _cut_usage(sim, tired, np.full(tired.size, fat.usage_drop))
    else:
        drop = np.asarray(fat.satisfaction_drop * irrelevant, dtype=np.float64)
        if declined_drop is not None:
            drop = drop + declined_drop
        share = np.asarray(fat.usage_drop * irrelevant, dtype=np.float64)
        if mult is not None:
            drop, share = drop * mult, share * mult
        hit = drop > 0
        book.satisfaction[rows[hit]] = np.maximum(book.satisfaction[rows[hit]] - drop[hit], 1e-6)
        _cut_usage(sim, rows[irrelevant], share[irrelevant])
    if fat.engagement_drop:
        unwanted = irrelevant | declined if declined is not None else irrelevant
        lost = (
            np.full(rows.size, fat.engagement_drop) if mult is None else fat.engagement_drop * mult
        )
        book.engagement[rows[unwanted]] *= 1.0 - np.minimum(lost[unwanted], 1.0)


def _cut_usage(sim: Simulation, rows: NDArray[np.intp], share: NDArray[np.float64]) -> None:
    """Usage falls by ``share`` (floored at 0.01); the log usage lost is kept (the share capped
    at 0.999 there, so that it stays finite)."""
    if rows.size == 0:
        return
    book = sim.book
    book.usage[rows] = np.maximum(book.usage[rows] * (1.0 - share), MIN_USAGE)
    book.usage_lost[rows] -= np.log1p(-np.minimum(share, 0.999))


def age_pressure(sim: Simulation, rows: NDArray[np.intp]) -> None:
    """Age the offer pressure by one month (x 0.5 ^ (1 / frequency_half_life_months))."""
    fat = sim.scenario.offers.fatigue
    if fat.frequency_effect and rows.size:
        sim.book.offer_pressure[rows] *= 0.5 ** (1.0 / fat.frequency_half_life_months)


def engagement_month(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """The month's drag on the log growth of usage (``engagement_effect x (1 - engagement)``,
    added to ``usage_lost``), then engagement regains ``engagement_recovery`` of what it lost;
    None when engagement cannot move (no engagement drop)."""
    if not sim.scenario.offers.fatigue.engagement_drop or rows.size == 0:
        return None
    book = sim.book
    gap = 1.0 - book.engagement[rows]
    effect = sim.scenario.usage.engagement_effect
    drag = effect * gap if effect else None
    if drag is not None:
        book.usage_lost[rows] += drag
    book.engagement[rows] = 1.0 - gap * (1.0 - sim.scenario.offers.fatigue.engagement_recovery)
    return drag


def _lost_usage_on(scenario: Scenario) -> bool:
    return scenario.usage.churn_effect > 0 and scenario.offers.any_enabled()


@register_churn_odds_term("lost_usage", order=40, enabled=_lost_usage_on)
def _lost_usage(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """``usage.churn_effect x usage_lost`` (log-odds): usage that unwanted offers took away."""
    effect = sim.scenario.usage.churn_effect
    if effect == 0 or not hasattr(sim.book, "usage_lost"):
        return None
    lost = sim.book.usage_lost[rows]
    if not lost.any():
        return None
    return effect * lost
