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
onboarding completes at the end of a month of its tenure, and from then on its renewals get the
later-tenure odds: nothing is added. Completion is a cumulative hazard against one keyed uniform
``u`` of stream ``onboarding`` (drawn once per account, common between scenarios): onboarding is
complete at the end of tenure month ``t`` once

    sum_{s <= t} h_s > -log u,    h_s = -log(1 - q) x (1 + e x [a CS touch landed in month s]),

``e`` = ``churn.tenure_profile.onboarding_touch_effect``. Divided by ``-log(1 - q)`` the test
reads ``t + e k_t > x`` with ``x = log u / log(1 - q)`` and ``k_t`` the months ``1 .. t`` with a
touch. A touch is what the coverage actor counts per account (CSM touches, served alerts,
tech-touch campaigns: :meth:`CoverageActor.touch_counts`), in the month it lands (between the
turn into that month and the turn out of it). With ``e = 0``, or no CS, ``t > x`` is ``t >= C``,
``C = 1 + floor(x)``: the geometric completion month, ``P(C = c) = q (1 - q)^(c - 1)``, to the
bit (the strict ``>`` is what makes it so; ``>=`` would differ only where ``x`` is a whole
number, a set of measure zero). More touches never delay completion (``k_t`` only grows); ``q =
1`` cancels the profile; ``q = 0`` (the default) leaves it as the table says and touches do
nothing. Tenure months count from the account's anniversary as it was when it arrived (an
imported account's tenure before month 0 has no touches), so a term conversion, which restarts
the renewal count, does not restart onboarding.

With ``q`` > 0 in some segment the :class:`OnboardingTracker` actor keeps, per account, the
months with a touch and the month onboarding completed (accounts table: ``onboarded_month``, NaN
while not complete); the offers' ``onboarding`` moment and timing then mean "onboarding
completed within the last ``offers.moments.onboarding_window_months`` months"
(:mod:`simlib.model.engagement`).

**Per segment.** ``population.segments.<S>.churn.tenure_profile`` gives segment ``S`` a profile
of its own (the same keys; a partial mapping is merged over the scenario-wide one, and an absent
one inherits it, filled in by :func:`simlib.config.loader.fill_defaults`). Each account's
renewals use its own segment's profile, and its onboarding its segment's ``q``.

With an empty or all-zero profile in every segment the term is not switched on, so every result
stays the same to the bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np
from numpy.typing import NDArray

from ..account import CONTRACT_ANNUAL
from ..churn_odds import register_churn_odds_term
from ..config.renewal import TenureProfile
from ..engine import Actor, Simulation, register_actor
from ..scenario import Scenario

if TYPE_CHECKING:
    from .coverage.actor import CoverageActor

__all__ = [
    "OnboardingTracker",
    "just_onboarded",
    "onboarding_done",
    "onboarding_month",
    "onboarding_need",
    "renewal_number",
    "segment_profiles",
]

#: Slot of the onboarding draw in stream ``onboarding`` (one draw per account).
SLOT_ONBOARDING = 0
#: ``onboarding_start`` of an account not (yet) set up.
NOT_YET = -(2**31)


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
    """Month of tenure ``C`` (1, 2, ...) in which each row's onboarding completes with no CS
    touch, geometric with success probability ``q`` per month (``inf`` when ``q`` = 0)."""
    if q <= 0.0:
        return np.full(rows.size, np.inf)
    if q >= 1.0:
        return np.ones(rows.size)
    u = sim.streams.uniform("onboarding", sim.book.key[rows], SLOT_ONBOARDING)
    return 1.0 + np.floor(np.log(u) / np.log1p(-q))


def _segment_values(sim: Simulation, name: str) -> NDArray[np.float64]:
    """``tenure_profile.<name>`` of each segment, by segment code."""
    return np.array([getattr(p, name) for p in segment_profiles(sim.scenario)], dtype=np.float64)


def onboarding_need(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64]:
    """``x = log u / log(1 - q)`` of each row, ``q`` its segment's ``onboarding_completion``:
    onboarding is complete at the end of tenure month ``t`` once ``t + e k_t > x`` (module
    docstring); ``inf`` where ``q`` = 0, 0 where ``q`` = 1."""
    q = _segment_values(sim, "onboarding_completion")[sim.book.segment[rows]]
    out = np.where(q >= 1.0, 0.0, np.inf)
    inner = np.flatnonzero((q > 0.0) & (q < 1.0))
    if inner.size:
        u = sim.streams.uniform("onboarding", sim.book.key[rows[inner]], SLOT_ONBOARDING)
        out[inner] = np.log(u) / np.log1p(-q[inner])
    return out


def onboarding_done(sim: Simulation, rows: NDArray[np.intp], month: int) -> NDArray[np.bool_]:
    """Whether each row's onboarding is complete by the end of ``month``: ``tau + e k > x``,
    ``tau`` its months of tenure at the end of ``month``, ``k`` its touched months counted by the
    :class:`OnboardingTracker` (months it has not reached count as untouched)."""
    book = sim.book
    tracked = "onboarding_start" in book.columns
    start = book.anniversary[rows].astype(np.int64)
    if tracked:
        seen = book.onboarding_start[rows]
        start = np.where(seen != NOT_YET, seen, start)
        need = book.onboarding_need[rows]
        need = np.where(np.isnan(need), onboarding_need(sim, rows), need)
    else:
        need = onboarding_need(sim, rows)
    tau = (month - start + 1).astype(np.float64)
    if tracked:
        effect = _segment_values(sim, "onboarding_touch_effect")[book.segment[rows]]
        tau = tau + effect * book.onboarding_touched[rows]
    return tau > need


def just_onboarded(
    sim: Simulation, rows: NDArray[np.intp], month: int, window: int, otherwise: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """For an offer made in ``month``: whether each row's onboarding completed within the last
    ``window`` months (``1 <= month - onboarded_month <= window``), for rows of segments that
    simulate completion (``q`` > 0); ``otherwise`` (returned as it is when no segment does)
    for the others."""
    book = sim.book
    if "onboarded_month" not in book.columns or rows.size == 0:
        return otherwise
    q = _segment_values(sim, "onboarding_completion")[book.segment[rows]]
    since = month - book.onboarded_month[rows]  # NaN (not yet) compares false
    recent = (since >= 1) & (since <= window)
    return np.where(q > 0.0, recent, otherwise)


@register_actor
class OnboardingTracker(Actor):
    """Onboarding completion month by month, with the CS touches that speed it (module
    docstring); on when some segment has ``onboarding_completion`` > 0.

    Book columns: ``onboarding_start`` (the anniversary the account arrived with),
    ``onboarding_need`` (``x``), ``onboarding_touched`` (``k``: months with a touch while
    onboarding), ``onboarding_seen`` (touches at the last reading) and, reported,
    ``onboarded_month``: the month at whose end onboarding completed (NaN: not within the
    horizon; before month 0 for an opening-book or imported account that completed before).
    """

    name: ClassVar[str] = "onboarding"
    #: before the renewal desk (30), whose churn decisions at the end of a month read it
    order: ClassVar[int] = 15

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return any(p.onboarding_completion > 0 for p in segment_profiles(scenario))

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        book = sim.book
        book.add_column("onboarding_start", np.int32, NOT_YET)
        book.add_column("onboarding_need", np.float64, np.nan)
        book.add_column("onboarding_touched", np.int32, 0)
        book.add_column("onboarding_seen", np.int64, 0)
        book.add_column("onboarded_month", np.float64, np.nan, report=True)
        self._effect = _segment_values(sim, "onboarding_touch_effect")
        self._seen = 0  # rows below this have been set up
        self._pending = np.empty(0, dtype=np.intp)  # rows whose onboarding may still complete

    def _set_up(self, month: int) -> None:
        """The rows added since the last month: their tenure start and ``x``; a row whose
        tenure before ``month`` (with no touch) already completes it, at ``start + floor(x)``."""
        book = self.sim.book
        first, self._seen = self._seen, book.n
        if first == book.n:
            return
        rows = np.arange(first, book.n, dtype=np.intp)
        start = book.anniversary[rows]
        book.onboarding_start[rows] = start
        need = onboarding_need(self.sim, rows)
        book.onboarding_need[rows] = need
        before = (month - start).astype(np.float64) > need  # done by the end of month - 1
        book.onboarded_month[rows[before]] = start[before] + np.floor(need[before])
        self._pending = np.concatenate([self._pending, rows[np.isfinite(need) & ~before]])

    def close_month(self, month: int) -> None:
        """Count this month's touches of the accounts still onboarding, then mark those whose
        onboarding completes at its end (before the renewal desk decides)."""
        self._set_up(month)
        sim, book = self.sim, self.sim.book
        rows = self._pending[book.alive[self._pending]]
        coverage = cast("CoverageActor | None", sim.actor("coverage"))
        if coverage is not None and rows.size:
            speeds = rows[self._effect[book.segment[rows]] > 0]
            count = coverage.touch_counts(speeds)
            book.onboarding_touched[speeds] += count > book.onboarding_seen[speeds]
            book.onboarding_seen[speeds] = count
        done = onboarding_done(sim, rows, month)
        book.onboarded_month[rows[done]] = month
        self._pending = rows[~done]

    def finish(self) -> None:
        """Set up the last month's arrivals (the end of the last month is never closed)."""
        self._set_up(self.sim.horizon - 1)


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
        shift[onboarding_done(sim, rows, month)] = 0.0
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
