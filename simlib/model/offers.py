"""Offers: upsell, cross-sell, downsell (save offers) and term conversion, and how they are bought.

Each kind of offer is a named function in :data:`OFFER_KINDS` (a new kind is a new function
decorated with :func:`register_offer_kind`) that turns targeted accounts into a
:class:`Proposal`: what each is offered and what it would change. The :class:`OfferEngine` actor
does the rest, vectorized over the book, once a month after billing and CS coverage:

1. **Targeting** (``offers.kinds.K``): alive, onboarding done, healthy enough, usage near the
   limit if asked, segment / tier, cool-down and yearly cap (any kind), no deal in approval, no
   MRR change pending, the timing (random, renewal month, days before renewal, usage spike,
   onboarding: the month tenure reaches ``min_tenure_months``, or, where onboarding completion
   is simulated, the month after it completed), channel ``csm`` only for accounts in a CSM book, then a keyed draw
   below ``monthly_rate`` (stream ``offer_target.K``). Downsell is made to accounts about to
   churn, through the renewal desk's save handler, and keeps those who accept.
2. **Acceptance**: P = logistic(base_intent + satisfaction_to_intent x (satisfaction - 0.5)
   + relevance_to_intent x (relevance - 0.5) + fan_bonus x [fan and relevant]
   + strong_reason_bonus x [strong reason] + the moment's terms) against a keyed uniform
   (stream ``offer_accept.K``); the moments (renewal window, usage near the limit, onboarding
   done, a customer request, or none: ``offers.moments``) are in :mod:`simlib.model.engagement`.
3. **Fatigue**: an offer with relevance below ``relevance_threshold`` lowers satisfaction by
   ``fatigue.satisfaction_drop`` and usage by the share ``fatigue.usage_drop``, accepted or not
   (which feeds churn through ``churn.satisfaction_effect``); declined and badly timed offers,
   engagement and the growth of every drop with the frequency of offers are in
   :mod:`simlib.model.engagement` (all off by default).
4. **Buying**: B2C accounts (and B2B ones with approval and budget gates off) buy at once: the
   MRR change takes effect at the next billing month. An accepted upsell / cross-sell of a B2B
   account goes through the approval chain (:mod:`simlib.model.approval`) and the budget gate
   (:mod:`simlib.model.budget`) as a simpy process; only an approved, funded deal changes MRR.

**Add-on cancellation** (``offers.addon_cancellation``): each month an owned add-on is cancelled
with P = logistic(logit(monthly_rate) + relevance_effect x (0.5 - relevance)) (keyed stream
``addon_cancel``, slot month x 64 + add-on), its MRR removed from the next month (contraction
MRR; ``addons_cancelled``); monthly_rate 0 by default: never.

MRR changes (currency per month) scale list-price differences by the account's size and by
``1 - contracts.annual_discount`` on annual contracts. With ``offers.scaled_prices`` (off by
default) they also scale by the list scale (:meth:`OfferEngine.list_scale`): seats now over
seats at arrival (:func:`simlib.model.seats.seat_multiplier`) times the list level the account
pays from the month the change is billed (:func:`simlib.model.pricing.price_multiplier_from`),
both 1 with seats and price rises off. Seat moves, price rises and term conversions scale the
whole MRR, add-ons included, so an add-on priced this way is, at any later month, the part of
the MRR it makes up, and its cancellation removes exactly that. A gated B2B deal is priced when
accepted and repriced to the seats and level of the month it lands. An offer through channel ``csm`` adds
``csm_hours`` to the CSM's reactive hours of the week (displacing scheduled touches); an
automated one costs ``cost_per_offer`` (currency, in ``offer_cost``). Offers are made in months
0 .. horizon - 2 (a change made in the last month could not take effect).

Monthly columns: ``offers_made_K``, ``offers_accepted_K``, ``offers_rejected_K`` for every kind,
``approvals_pending`` (deals in approval or waiting for a fiscal year at the month's end),
``approvals_approved``, ``approvals_rejected``, ``deals_deferred``, ``deals_lost``. Account
columns: ``plan`` and ``initial_plan`` (index in the segment's ladder), ``addons`` (bitmask of
add-ons owned, bit i = i-th add-on of ``offers.addons``), ``offers_received``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import expit, logit

from ..account import CONTRACT_ANNUAL, CONTRACT_MONTHLY
from ..distributions import beta_ppf
from ..engine import Actor, Simulation, register_actor
from ..registry import Registry
from ..rng import Streams, compiled, keyed_uniform
from ..scenario import OfferKindSpec, Scenario
from ..tiers import TIER_CODES
from .approval import (
    BEYOND_HORIZON,
    DAYS_PER_MONTH,
    DEAL_STATUS,
    DEFERRED,
    LANDED,
    LOST_BUDGET,
    LOST_CHURNED,
    REJECTED,
    DealBook,
    decision_times,
    draw_chains,
)
from .budget import EPS, Budgets, FiscalCalendar
from .engagement import after_offers, age_pressure, ensure_columns, moment_log_odds, requested
from .population import SLOT_RISK
from .pricing import price_multiplier_from, price_rises_on
from .renewal import RenewalDesk
from .seats import seat_multiplier
from .tenure import just_onboarded

if TYPE_CHECKING:
    from ..account import AccountBook
    from ..scenario import CustomOfferKindSpec, DownsellSpec
    from .coverage.actor import CoverageActor


__all__ = [
    "OFFER_KINDS",
    "OfferEngine",
    "OfferKind",
    "Proposal",
    "register_offer_kind",
]


class _PlanTargets(Protocol):
    """What every kind's spec answers: ``target_plans`` (a field, or None on the class)."""

    target_plans: list[str] | None


NEVER = -1_000_000


@dataclass
class Proposal:
    """What each targeted account is offered (arrays aligned with ``rows``).

    ``delta`` is the MRR change if bought (currency per month; negative for a downsell);
    ``relevance`` 0-1; ``strong`` whether the account has a strong reason to buy; ``plan`` the
    plan index after the deal (None: unchanged); ``addon`` the add-on index bought (None: none);
    ``cost`` a one-off cost of the offer if accepted (currency; a discount's value);
    ``to_annual`` moves the account to an annual contract; ``needs_approval`` sends B2B deals
    through approval and budget gates.
    """

    rows: NDArray[np.intp]
    delta: NDArray[np.float64]
    relevance: NDArray[np.float64]
    strong: NDArray[np.bool_]
    plan: NDArray[np.int16] | None = None
    addon: NDArray[np.int16] | None = None
    cost: NDArray[np.float64] | None = None
    to_annual: bool = False
    needs_approval: bool = True

    def subset(self, mask: NDArray[np.bool_]) -> Proposal:
        def pick(a):
            return None if a is None else a[mask]

        return Proposal(
            self.rows[mask],
            self.delta[mask],
            self.relevance[mask],
            self.strong[mask],
            pick(self.plan),
            pick(self.addon),
            pick(self.cost),
            self.to_annual,
            self.needs_approval,
        )


ProposeFn = Callable[["OfferEngine", NDArray[np.intp], int, OfferKindSpec], Proposal]


@dataclass(frozen=True)
class OfferKind:
    """A registered kind: its proposal function and when it is made (monthly or at churn)."""

    name: str
    propose: ProposeFn
    trigger: Literal["month", "save"] = "month"


#: Offer kinds by the name a scenario gives under ``offers.kinds``.
OFFER_KINDS: Registry[OfferKind] = Registry("offer kind")


def register_offer_kind(
    name: str, trigger: Literal["month", "save"] = "month"
) -> Callable[[ProposeFn], ProposeFn]:
    """Decorator: ``propose(engine, rows, month, spec) -> Proposal`` becomes offer kind ``name``.

    ``trigger="month"``: offered each month to targeted accounts; ``"save"``: offered to
    accounts about to churn (their acceptance keeps them).
    """

    def add(fn: ProposeFn) -> ProposeFn:
        OFFER_KINDS.replace(name, OfferKind(name, fn, trigger))
        return fn

    return add


# -- the built-in kinds ------------------------------------------------------------------------


@register_offer_kind("upsell")
def upsell(
    engine: OfferEngine, rows: NDArray[np.intp], month: int, spec: OfferKindSpec
) -> Proposal:
    """The next plan up (among ``target_plans``); strong reason: usage near the plan limit."""
    book = engine.sim.book
    target = engine.step_plan(rows, spec, +1)
    ok = target >= 0
    rows, target = rows[ok], target[ok]
    delta = engine.price_change(rows, target, month)
    near = book.usage[rows] >= engine.sim.scenario.usage.near_limit
    return Proposal(rows, delta, np.ones(rows.size), near, plan=target)


@register_offer_kind("cross_sell")
def cross_sell(
    engine: OfferEngine, rows: NDArray[np.intp], month: int, spec: OfferKindSpec
) -> Proposal:
    """An add-on not owned: the most relevant to the segment (``recommendation: data_driven``,
    only if at least ``relevance_threshold``) or a random one (``random``, stream
    ``offer_pick``). Strong reason: relevance >= ``strong_relevance``."""
    cfg = engine.sim.scenario.offers
    book = engine.sim.book
    n_addons = engine.relevance.shape[1]
    if n_addons == 0 or rows.size == 0:
        return engine.empty()
    owned = (book.addons[rows, None] >> np.arange(n_addons, dtype=np.int64)) & 1
    free = owned == 0
    rel = engine.relevance[book.segment[rows]]
    if cfg.recommendation == "random":
        score = np.where(
            free, 1.0 + _uniform_matrix(engine.sim.streams, book.key[rows], month, n_addons), 0
        )
    else:
        score = np.where(free, rel + 1.0, 0.0)
    pick = score.argmax(axis=1)
    ok = free[np.arange(rows.size), pick]
    relevance = rel[np.arange(rows.size), pick]
    if cfg.recommendation == "data_driven":
        ok &= relevance >= cfg.relevance_threshold
    rows, pick, relevance = rows[ok], pick[ok], relevance[ok]
    delta = engine.addon_mrr(pick, rows, month)
    return Proposal(
        rows,
        delta,
        relevance,
        relevance >= cfg.strong_relevance,
        addon=pick.astype(np.int16),
    )


@register_offer_kind("downsell", trigger="save")
def downsell(
    engine: OfferEngine, rows: NDArray[np.intp], month: int, spec: OfferKindSpec
) -> Proposal:
    """A save offer to accounts about to churn: the next plan down (mode ``plan``; accounts on
    the cheapest allowed plan get none) or ``discount`` of MRR for ``discount_months``, booked
    as a one-off offer cost."""
    book = engine.sim.book
    spec = cast("DownsellSpec", spec)
    if spec.mode == "discount":
        cost = book.mrr[rows] * spec.discount * spec.discount_months
        return Proposal(
            rows,
            np.zeros(rows.size),
            np.ones(rows.size),
            np.zeros(rows.size, dtype=bool),
            cost=cost,
            needs_approval=False,
        )
    target = engine.step_plan(rows, spec, -1)
    ok = target >= 0
    rows, target = rows[ok], target[ok]
    delta = engine.price_change(rows, target, month)
    return Proposal(
        rows,
        delta,
        np.ones(rows.size),
        np.zeros(rows.size, dtype=bool),
        plan=target,
        needs_approval=False,
    )


@register_offer_kind("term_conversion")
def term_conversion(
    engine: OfferEngine, rows: NDArray[np.intp], month: int, spec: OfferKindSpec
) -> Proposal:
    """Monthly-contract accounts move to an annual contract at ``contracts.annual_discount``
    off their MRR (all of it: plan, seats, add-ons, at the list level they pay), from the next
    month (first annual renewal 12 months later)."""
    book = engine.sim.book
    rows = rows[book.contract[rows] == CONTRACT_MONTHLY]
    discount = engine.sim.scenario.contracts.annual_discount
    return Proposal(
        rows,
        -book.mrr[rows] * discount,
        np.ones(rows.size),
        np.zeros(rows.size, dtype=bool),
        to_annual=True,
        needs_approval=False,
    )


# -- the engine --------------------------------------------------------------------------------


def _uniform_matrix(
    streams: Streams, keys: NDArray[np.uint64], month: int, k: int
) -> NDArray[np.float64]:
    """Keyed uniforms of stream ``offer_pick``, one column per add-on (slot month x 64 + j)."""
    return np.stack([streams.uniform("offer_pick", keys, month * 64 + j) for j in range(k)], 1)


def _eligibility_args(book: AccountBook, spec: OfferKindSpec, month: int) -> tuple[Any, ...]:
    return (
        book.start_month,
        book.satisfaction,
        book.last_offer,
        book.offers_year,
        book.in_flight,
        book.change_at,
        int(month),
        int(spec.min_tenure_months),
        float(spec.min_satisfaction),
        int(spec.cooldown_months),
        int(spec.max_per_year),
    )


def eligible(
    book: AccountBook, rows: NDArray[np.intp], spec: OfferKindSpec, month: int
) -> NDArray[np.intp]:
    """The rows of ``rows`` past the targeting rules every kind has (tenure, satisfaction,
    cool-down, yearly cap, no deal in flight, no MRR change pending), in order: one compiled
    pass over the rows (:func:`simlib.rng.compiled`) or :func:`eligible_numpy`, the same rows."""
    loop = compiled(_build_eligible_loop)
    if loop is None:
        return eligible_numpy(book, rows, spec, month)
    return cast("NDArray[np.intp]", loop(rows, *_eligibility_args(book, spec, month)))


def eligible_numpy(
    book: AccountBook, rows: NDArray[np.intp], spec: OfferKindSpec, month: int
) -> NDArray[np.intp]:
    """:func:`eligible` in numpy operations (the reference)."""
    keep = month - book.start_month[rows] >= spec.min_tenure_months
    keep &= book.satisfaction[rows] >= spec.min_satisfaction
    keep &= month - book.last_offer[rows] >= spec.cooldown_months
    keep &= book.offers_year[rows] < spec.max_per_year
    keep &= ~book.in_flight[rows]
    keep &= book.change_at[rows] <= month
    return rows[keep]


def _build_eligible_loop() -> Callable[..., Any]:
    import numba

    @numba.njit(cache=True, nogil=True)
    def eligible_loop(
        rows, start, sat, last, year, in_flight, change_at, month, tenure, min_sat, cool, cap
    ):
        out = np.empty(rows.size, dtype=rows.dtype)
        k = 0
        for i in range(rows.size):  # no branch: every row is written, kept ones advance k
            r = rows[i]
            ok = (
                (month - start[r] >= tenure)
                & (sat[r] >= min_sat)
                & (month - last[r] >= cool)
                & (year[r] < cap)
                & (not in_flight[r])
                & (change_at[r] <= month)
            )
            out[k] = r
            k += ok
        return out[:k].copy()

    return cast("Callable[..., Any]", eligible_loop)


@register_actor
class OfferEngine(Actor):
    name: ClassVar[str] = "offers"
    order: ClassVar[int] = 85  # after billing, satisfaction, usage, champion and coverage

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.offers.any_enabled()

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        scenario = sim.scenario
        cfg = scenario.offers
        book, ledger = sim.book, sim.ledger
        segments = scenario.segment_table()
        names = list(segments)
        n_plans = max(len(s.plans) for s in segments.values())
        self.prices = np.full((len(names), n_plans), np.nan)
        self.limits = np.full((len(names), n_plans), np.nan)
        self.plan_names: list[list[str]] = []
        for i, seg in enumerate(segments.values()):
            self.prices[i, : len(seg.plans)] = list(seg.plans.values())
            self.limits[i, : len(seg.plans)] = seg.limits()
            self.plan_names.append(list(seg.plans))
        self.b2b = np.array([s.buyer == "b2b" for s in segments.values()])
        addons = list(cfg.addons.values())
        self.addon_names = list(cfg.addons)
        self.addon_price = np.array([a.price for a in addons], dtype=np.float64)
        self.relevance = np.array(
            [[a.relevance.get(n, 0.0) for a in addons] for n in names], dtype=np.float64
        ).reshape(len(names), len(addons))
        self.kinds = {k: s for k, s in cfg.kinds.items() if s.enabled}
        # seats and list-price rises scale what plan steps and add-ons cost (1 when both off)
        self._scaled = cfg.scaled_prices and (scenario.seats.enabled or price_rises_on(scenario))
        self._deal_scale = np.ones(0)  # each gated deal's list scale when accepted
        self._allowed = {id(s): self._allowed_plans(s) for s in self.kinds.values()}
        book.add_column("addons", np.int64, 0, report=True)
        book.add_column("initial_plan", np.int16, -1, report=True)
        book.add_column("offers_received", np.int32, 0, report=True)
        book.add_column("last_offer", np.int32, NEVER)
        book.add_column("offers_year", np.int32, 0)
        book.add_column("in_flight", np.bool_, False)
        book.add_column("change_at", np.int32, -1)
        if "plan" not in book.reported:
            book.reported.append("plan")
        for kind in cfg.kinds:
            for what in ("made", "accepted", "rejected"):
                ledger.declare(f"offers_{what}_{kind}", integer=True)
        for name in (
            "approvals_pending",
            "approvals_approved",
            "approvals_rejected",
            "deals_deferred",
            "deals_lost",
        ):
            ledger.declare(name, integer=True)
        ensure_columns(sim)
        # columns of mechanisms that are off by default appear only when they are on
        if cfg.addon_cancellation.monthly_rate > 0 and addons:
            ledger.declare("addons_cancelled", integer=True)
        if scenario.budget.enabled and scenario.budget.displace_probability > 0:
            ledger.declare("deals_displaced", integer=True)
        conversion = self.kinds.get("term_conversion")
        self._keep_risk = bool(getattr(conversion, "keep_risk", False))
        self.gated = scenario.approval.enabled or scenario.budget.enabled
        self.calendar = FiscalCalendar(sim)
        self.budgets = Budgets(sim, self.calendar) if scenario.budget.enabled else None
        self.deals = DealBook(sim.horizon)
        self.open_deals = 0
        self._batches: list[dict[str, NDArray]] = []  # deals bought at once (B2C), per month
        self._to_annual: dict[int, list[NDArray[np.intp]]] = defaultdict(list)
        self.coverage = cast("CoverageActor | None", sim.actor("coverage"))
        self._loyalty = sim.actor("loyalty")
        renewal = sim.actor("renewal")
        if isinstance(renewal, RenewalDesk) and any(
            OFFER_KINDS[k].trigger == "save" for k in self.kinds
        ):
            renewal.add_save_handler(self.save)

    # -- helpers for kinds -------------------------------------------------------------------
    def empty(self) -> Proposal:
        z = np.empty(0)
        return Proposal(np.empty(0, dtype=np.intp), z, z, np.empty(0, dtype=bool))

    def _allowed_plans(self, spec: OfferKindSpec) -> NDArray[np.bool_]:
        allowed = ~np.isnan(self.prices)
        targets = cast(_PlanTargets, spec).target_plans
        if targets is not None:
            for i, names in enumerate(self.plan_names):
                for j, name in enumerate(names):
                    allowed[i, j] &= name in targets
        return allowed

    def step_plan(
        self, rows: NDArray[np.intp], spec: OfferKindSpec, direction: int
    ) -> NDArray[np.int16]:
        """The nearest allowed plan above (direction +1) or below (-1) each account's; -1 none."""
        book = self.sim.book
        allowed = self._allowed[id(spec)][book.segment[rows]]
        plan = book.plan[rows].astype(np.int64)
        idx = np.arange(allowed.shape[1])
        if direction > 0:
            ok = allowed & (idx[None, :] > plan[:, None])
            target = np.where(ok.any(axis=1), ok.argmax(axis=1), -1)
        else:
            ok = allowed & (idx[None, :] < plan[:, None])
            last = ok.shape[1] - 1 - ok[:, ::-1].argmax(axis=1)
            target = np.where(ok.any(axis=1), last, -1)
        return target.astype(np.int16)

    def contract_factor(self, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        """1 - annual discount on annual contracts, 1 on monthly ones."""
        discount = self.sim.scenario.contracts.annual_discount
        return np.where(self.sim.book.contract[rows] == CONTRACT_ANNUAL, 1.0 - discount, 1.0)

    def list_scale(self, rows: NDArray[np.intp], month: int) -> NDArray[np.float64] | None:
        """``seat_multiplier x price_multiplier_from(month)`` of ``rows``: what a list price x
        size is multiplied by for a change decided in ``month`` and billed from ``month + 1``
        (the seats the account has then over its seats at arrival, the list level it pays
        then); None without ``offers.scaled_prices`` or with seats and price rises both off."""
        if not self._scaled:
            return None
        return seat_multiplier(self.sim, rows) * price_multiplier_from(self.sim, rows, month)

    def _month(self) -> int:
        """The month being decided: the one closing during a close, else the current one."""
        sim = self.sim
        return sim.month - 1 if getattr(sim, "_closing", False) else sim.month

    def price_change(
        self, rows: NDArray[np.intp], target: NDArray[np.int16], month: int | None = None
    ) -> NDArray:
        """MRR change of moving ``rows`` to plan ``target`` (currency per month), decided in
        ``month`` (default: the month being decided): the list-price difference x size x the
        contract factor x :meth:`list_scale`, so the new plan is priced at the account's seats
        and list level."""
        book = self.sim.book
        seg = book.segment[rows]
        diff = self.prices[seg, target] - self.prices[seg, book.plan[rows]]
        delta = diff * book.size[rows] * self.contract_factor(rows)
        scale = self.list_scale(rows, self._month() if month is None else month)
        return delta if scale is None else delta * scale

    def addon_mrr(
        self, addon: NDArray[np.intp] | int, rows: NDArray[np.intp], month: int
    ) -> NDArray[np.float64]:
        """MRR of add-on(s) ``addon`` for ``rows``, decided in ``month``: price x size x the
        contract factor x :meth:`list_scale` (currency per month). What a purchase adds and a
        cancellation removes: every seat move, price rise and term conversion scales the whole
        MRR, add-ons included, so the add-on's part of an account's MRR is this at any time."""
        book = self.sim.book
        mrr = self.addon_price[addon] * book.size[rows] * self.contract_factor(rows)
        scale = self.list_scale(rows, month)
        return mrr if scale is None else mrr * scale

    # -- targeting ---------------------------------------------------------------------------
    def target(
        self, kind: str, spec: OfferKindSpec, rows: NDArray[np.intp], month: int, timed: bool
    ) -> NDArray[np.intp]:
        """The rows of ``rows`` that get an offer of ``kind`` this month (see module doc)."""
        sim, book = self.sim, self.sim.book
        rows = eligible(book, rows, spec, month)
        keep = np.ones(rows.size, dtype=bool)
        if spec.require_usage_near_limit:
            keep &= book.usage[rows] >= sim.scenario.usage.near_limit
        if spec.segments is not None:
            codes = [sim.segments.index(s) for s in spec.segments]
            keep &= np.isin(book.segment[rows], codes)
        if spec.tiers is not None:
            keep &= np.isin(book.tier[rows], [TIER_CODES[t] for t in spec.tiers])
        if spec.channel == "csm":
            if self.coverage is None:
                return rows[:0]
            keep &= book.csm[rows] >= 0
        rows = rows[keep]
        # every rule is a pure function of the row (keyed draws included), so the order they
        # are applied in changes nothing but the work: the draw below thins the rows first
        if spec.monthly_rate < 1.0:
            u = sim.streams.uniform(f"offer_target.{kind}", book.key[rows], month)
            rows = rows[u < spec.monthly_rate]
        if timed and spec.timing != "random":
            rows = rows[self._timed(spec, rows, month)]
        return rows

    def _timed(self, spec: OfferKindSpec, rows: NDArray[np.intp], month: int) -> NDArray[np.bool_]:
        """Whether ``month`` is each row's moment for ``spec.timing`` (module docstring)."""
        sim, book = self.sim, self.sim.book
        annual = book.contract[rows] == CONTRACT_ANNUAL
        into = (month - book.anniversary[rows]) % 12  # renewal at the end of into == 11
        if spec.timing == "renewal":
            return ~annual | (into == 11)
        if spec.timing == "before_renewal":
            window = int(np.ceil(spec.days_before_renewal / DAYS_PER_MONTH))
            return ~annual | (into >= 12 - max(window, 1))
        if spec.timing == "onboarding":  # completion when simulated (model.tenure)
            ok = month - book.start_month[rows] == spec.min_tenure_months
            return just_onboarded(sim, rows, month, 1, ok)
        if spec.timing == "request":
            return requested(sim, rows, month)
        near = sim.scenario.usage.near_limit  # usage_spike
        return (book.usage[rows] >= near) & (book.usage_prev[rows] < near)

    # -- offers, acceptance, fatigue ---------------------------------------------------------
    def offer(
        self, kind: str, spec: OfferKindSpec, prop: Proposal, month: int, ledger_month: int
    ) -> NDArray[np.bool_]:
        """Make the offers of ``prop``; returns who accepted (fatigue and counts booked)."""
        sim, book, ledger = self.sim, self.sim.book, self.sim.ledger
        cfg = sim.scenario.offers
        rows = prop.rows
        n = rows.size
        ledger.add(f"offers_made_{kind}", ledger_month, n)
        if n == 0:
            return np.zeros(0, dtype=bool)
        book.last_offer[rows] = month
        book.offers_year[rows] += 1
        book.offers_received[rows] += 1
        if spec.channel == "csm" and self.coverage is not None:
            np.add.at(self.coverage.team.reactive_hours, book.csm[rows], spec.csm_hours)
        elif spec.cost_per_offer:
            ledger.add("offer_cost", ledger_month, spec.cost_per_offer * n)
        intent = cfg.intent
        relevant = prop.relevance >= cfg.relevance_threshold
        z = (
            spec.base_intent
            + intent.satisfaction_to_intent * (book.satisfaction[rows] - 0.5)
            + intent.relevance_to_intent * (prop.relevance - 0.5)
            + intent.strong_reason_bonus * prop.strong
        )
        save = OFFER_KINDS[kind].trigger == "save"  # made at the renewal: no moment terms
        moments, off_moment = (
            (None, None) if save else moment_log_odds(sim, rows, month, spec.min_tenure_months)
        )
        if moments is not None:
            z = z + moments
        if self._loyalty is not None and intent.fan_bonus:
            from .loyalty import FAN

            z = z + intent.fan_bonus * ((book.loyalty_stage[rows] == FAN) & relevant)
        u = sim.streams.uniform(f"offer_accept.{kind}", book.key[rows], month)
        accepted = u < expit(z)
        after_offers(sim, rows, ~relevant, None if save else ~accepted, off_moment)
        panel = sim.actor("panel")  # only in runs that record the panel (simlib.model.panel)
        if panel is not None:
            panel.on_offer(kind, rows, accepted, month)  # type: ignore[attr-defined]
        ledger.add(f"offers_accepted_{kind}", ledger_month, int(accepted.sum()))
        ledger.add(f"offers_rejected_{kind}", ledger_month, int(n - accepted.sum()))
        if prop.cost is not None:
            ledger.add("offer_cost", ledger_month, float(prop.cost[accepted].sum()))
        return accepted

    # -- the month ---------------------------------------------------------------------------
    def open_month(self, month: int) -> None:
        sim, book = self.sim, self.sim.book
        self._flip_to_annual(month)
        fresh = book.initial_plan < 0
        book.initial_plan[fresh] = book.plan[fresh]
        if month % 12 == 0:
            book.offers_year[:] = 0
        if month + 1 >= sim.horizon:
            return
        rows = book.alive_index()
        age_pressure(sim, rows)
        self._cancel_addons(rows, month)
        for kind, spec in self.kinds.items():
            if OFFER_KINDS[kind].trigger != "month":
                continue
            targeted = self.target(kind, spec, rows, month, timed=True)
            prop = OFFER_KINDS[kind].propose(self, targeted, month, spec)
            accepted = self.offer(kind, spec, prop, month, month)
            self.buy(kind, prop.subset(accepted), month)
            rows = rows[book.last_offer[rows] != month]  # one offer per account a month

    def buy(self, kind: str, prop: Proposal, month: int) -> None:
        """Accepted offers: B2B deals that need it go to approval; the rest change MRR next
        month."""
        book = self.sim.book
        gated = np.zeros(prop.rows.size, dtype=bool)
        if prop.needs_approval and self.gated:
            gated = self.b2b[book.segment[prop.rows]]
        if gated.any():
            self._start_deals(kind, prop.subset(gated), month)
        now = prop.subset(~gated)
        if now.rows.size:
            self._apply(now, month + 1)
            self._batches.append(
                {
                    "row": now.rows,
                    "kind": np.full(now.rows.size, kind, dtype=object),
                    "accept_month": np.full(now.rows.size, month),
                    "effective_month": np.full(now.rows.size, month + 1),
                    "delta": now.delta,
                }
            )

    def _apply(self, prop: Proposal, effective: int) -> None:
        """Schedule the MRR (and plan) change of ``prop`` for billing month ``effective``."""
        sim, book = self.sim, self.sim.book
        rows = prop.rows
        if np.any(prop.delta != 0) or prop.plan is not None:
            sim.change_mrr_by(rows, prop.delta, effective, prop.plan)
            book.change_at[rows] = effective
        self._after_purchase(prop)
        if prop.to_annual:
            self._to_annual[effective].append(rows)

    def _after_purchase(self, prop: Proposal) -> None:
        book = self.sim.book
        rows = prop.rows
        if prop.addon is not None:
            bought = prop.addon >= 0
            book.addons[rows[bought]] |= np.int64(1) << prop.addon[bought].astype(np.int64)
        if prop.plan is not None:
            seg = book.segment[rows]
            ratio = self.limits[seg, book.plan[rows]] / self.limits[seg, prop.plan]
            book.usage[rows] = np.maximum(book.usage[rows] * ratio, 0.01)

    def _cancel_addons(self, rows: NDArray[np.intp], month: int) -> None:
        """Owned add-ons cancelled this month (see the module docstring): the add-on's bit is
        cleared now and its MRR (price x size x contract factor) removed from next month."""
        rate = self.sim.scenario.offers.addon_cancellation.monthly_rate
        if rate <= 0 or self.addon_price.size == 0:
            return
        sim, book = self.sim, self.sim.book
        effect = sim.scenario.offers.addon_cancellation.relevance_effect
        rows = rows[book.addons[rows] != 0]
        cancelled = 0
        for j in range(self.addon_price.size):
            owned = rows[(book.addons[rows] >> j) & 1 == 1]
            if owned.size == 0:
                continue
            rel = self.relevance[book.segment[owned], j]
            p = expit(logit(rate) + effect * (0.5 - rel)) if rate < 1 else np.ones(owned.size)
            u = sim.streams.uniform("addon_cancel", book.key[owned], month * 64 + j)
            gone = owned[u < p]
            if gone.size == 0:
                continue
            book.addons[gone] &= ~(np.int64(1) << j)
            sim.change_mrr_by(gone, -self.addon_mrr(j, gone, month), month + 1)
            book.change_at[gone] = month + 1  # no offer before the change lands
            cancelled += gone.size
        sim.ledger.add("addons_cancelled", month, cancelled)

    def _flip_to_annual(self, month: int) -> None:
        """Term conversions take effect: annual contract from this month, annual churn risk."""
        batches = self._to_annual.pop(month, [])
        if not batches:
            return
        sim, book = self.sim, self.sim.book
        rows = np.concatenate(batches)
        rows = rows[book.alive[rows] & (book.contract[rows] == CONTRACT_MONTHLY)]
        if rows.size == 0:
            return
        book.contract[rows] = CONTRACT_ANNUAL
        book.anniversary[rows] = month
        if self._keep_risk:  # its own latent monthly risk r, faced once a year
            book.risk[rows] = -np.expm1(12.0 * np.log1p(-book.risk[rows]))
            return
        # the account keeps its rank in the risk distribution, now that of annual contracts
        u = keyed_uniform(sim.streams.key("population"), book.key[rows], SLOT_RISK)
        seg = book.segment[rows]
        for s, cfg in enumerate(sim.scenario.segment_table().values()):
            sel = seg == s
            if sel.any():
                dist = cfg.churn.annual
                assert dist is not None
                book.risk[rows[sel]] = beta_ppf(u[sel], dist.alpha, dist.beta)

    # -- save offers (renewal desk) ----------------------------------------------------------
    def save(self, leaving: NDArray[np.intp], month: int) -> NDArray[np.intp]:
        """Save handler: accounts about to churn at the end of ``month`` get save offers; those
        who accept stay (on the cheaper plan, or with the discount) and their base churn risk
        is multiplied by ``risk_multiplier``. The MRR change takes effect at the billing of
        month ``month + 1``, which the calendar is opening."""
        book = self.sim.book
        saved: list[NDArray[np.intp]] = []
        rows = leaving
        for kind, spec in self.kinds.items():
            if OFFER_KINDS[kind].trigger != "save" or rows.size == 0:
                continue
            targeted = self.target(kind, spec, rows, month, timed=False)
            prop = OFFER_KINDS[kind].propose(self, targeted, month, spec)
            accepted = self.offer(kind, spec, prop, month, month + 1)
            kept = prop.subset(accepted)
            if kept.rows.size:
                self._apply(kept, month + 1)
                # a save kind's spec has the save terms (DownsellSpec, CustomOfferKindSpec)
                terms = cast("DownsellSpec | CustomOfferKindSpec", spec)
                book.risk[kept.rows] *= terms.risk_multiplier
                saved.append(kept.rows)
                rows = np.setdiff1d(rows, kept.rows, assume_unique=True)
        return np.concatenate(saved) if saved else leaving[:0]

    # -- B2B deals ---------------------------------------------------------------------------
    def start(self):
        """The deal desk: once a month, just before the month turns, decide the deals due."""
        return self._desk() if self.gated else None

    def _desk(self):
        env = self.sim.env
        for month in range(self.sim.horizon):
            # the calendar turns at month + 1; decisions of this month come before it, and
            # deals deferred to the fiscal-year start month + 1 wake at month + 1 - EPS (a chain
            # ending in the last EPS / 2 of the month, which continuous delays never do, would
            # be decided that much early)
            yield env.timeout(month + 1 - EPS / 2 - env.now)
            self._decide(month)

    def _start_deals(self, kind: str, prop: Proposal, month: int) -> None:
        sim, book = self.sim, self.sim.book
        rows = prop.rows
        n = rows.size
        book.in_flight[rows] = True
        if sim.scenario.approval.enabled:
            count, delays, reject = draw_chains(sim, rows, prop.delta, prop.strong, month)
        else:
            count = np.zeros(n, dtype=np.int64)
            delays = np.zeros((n, 0))
            reject = np.full(n, -1)
        deals = self.deals.add(
            row=rows,
            kind=np.full(n, self.deals.kind_code(kind), dtype=np.int16),
            segment=book.segment[rows],
            accept_month=np.full(n, month),
            delta=prop.delta,
            plan=prop.plan if prop.plan is not None else np.full(n, -1),
            addon=prop.addon if prop.addon is not None else np.full(n, -1),
            approvers=count,
            reject_at=reject,
        )
        self.open_deals += n
        self._keep_scale(deals, rows, month)
        times, priority = decision_times(month, count, delays, reject)
        self.deals.schedule(deals, times, priority)

    def _keep_scale(self, deals: NDArray[np.intp], rows: NDArray[np.intp], month: int) -> None:
        """Keep the list scale the deals were priced at (seats or price rises on)."""
        scale = self.list_scale(rows, month)
        if scale is None:
            return
        if self._deal_scale.size < self.deals.n:
            grown = np.ones(max(self.deals.n, 2 * self._deal_scale.size))
            grown[: self._deal_scale.size] = self._deal_scale
            self._deal_scale = grown
        self._deal_scale[deals] = scale

    def _month_now(self) -> int:
        return min(self.sim.month, self.sim.horizon - 1)

    def _decide(self, month: int) -> None:
        """Decide every deal due in ``month``, in decision order: the approval chains that end
        in it (then the budget gate) and the deferred deals waking for the next fiscal year."""
        deals, times, wake = self.deals.pop_due(month)
        if deals.size == 0:
            return
        book, ledger = self.sim.book, self.sim.ledger
        d = self.deals
        rows = d.column("row")[deals]
        status = d.column("status")
        decided = d.column("decided")
        ledger_month = self._month_now()
        alive = book.alive[rows]
        # approval chains (an account churned meanwhile loses its deal)
        chain = ~wake
        lost = ~alive
        rejected = chain & alive & (d.column("reject_at")[deals] >= 0)
        approved = chain & alive & ~rejected
        decided[deals[chain]] = times[chain]
        ledger.add(
            "approvals_approved",
            ledger_month,
            int(np.count_nonzero(approved & (d.column("approvers")[deals] > 0))),
        )
        status[deals[rejected]] = REJECTED
        ledger.add("approvals_rejected", ledger_month, int(np.count_nonzero(rejected)))
        decided[deals[wake & lost]] = times[wake & lost]
        status[deals[lost]] = LOST_CHURNED
        closed = int(np.count_nonzero(lost | rejected))
        ledger.add("deals_lost", ledger_month, int(np.count_nonzero(lost)))
        # the budget gate: approved chains for next month, deferred deals for their year start
        effective = np.full(deals.size, month + 1, dtype=np.int64)
        lands = approved.copy()
        budgets = self.budgets
        if budgets is not None:
            cost = 12.0 * np.maximum(d.column("delta")[deals], 0.0)
            gate = np.flatnonzero((approved & (cost > 0)) | (wake & alive))
            fits = budgets.try_spend(rows[gate], month + 1, cost[gate])
            lands[gate] = fits
            short = gate[~fits]
            if short.size:
                woke = wake[short]
                if woke.any():  # pragma: no cover - a fresh year's budget always fits
                    status[deals[short[woke]]] = LOST_BUDGET
                    decided[deals[short[woke]]] = times[short[woke]]
                    closed += int(woke.sum())
                    ledger.add("deals_lost", ledger_month, int(woke.sum()))
                    short = short[~woke]
                closed += self._shortfall(deals[short], rows[short], times[short], cost[short])
        if closed:
            book.in_flight[rows[lost | rejected]] = False
            self.open_deals -= closed
        self._land(deals[lands], rows[lands], effective[lands])

    def _shortfall(
        self,
        deals: NDArray[np.intp],
        rows: NDArray[np.intp],
        times: NDArray[np.float64],
        cost: NDArray[np.float64],
    ) -> int:
        """Approved deals the budget cannot pay now: lost, or deferred to the next fiscal-year
        start (decided again just before it). Returns how many were closed (lost)."""
        if deals.size == 0:
            return 0
        sim, book, ledger = self.sim, self.sim.book, self.sim.ledger
        cfg = sim.scenario.budget
        d = self.deals
        budgets = self.budgets
        assert budgets is not None
        effective = self.sim.month + 1
        ledger_month = self._month_now()
        seg = d.column("segment")[deals]
        cal = budgets.calendar
        if cfg.displace_probability > 0:  # some deals displace other spending and land now
            keep = self._displace(deals, rows, effective)
            deals, rows, times = deals[keep], rows[keep], times[keep]
            cost, seg = cost[keep], seg[keep]
        too_big = cost > budgets.annual(rows) + 1e-9
        in_window = cal.months_into_year(effective, seg) >= 12 - cfg.draft_window_months
        lose = too_big | ((cfg.on_shortfall == "lose") & ~in_window)
        status, decided = d.column("status"), d.column("decided")
        status[deals[lose]] = LOST_BUDGET
        decided[deals[lose]] = times[lose]
        book.in_flight[rows[lose]] = False
        ledger.add("deals_lost", ledger_month, int(lose.sum()))
        defer = ~lose
        later = deals[defer]
        status[later] = DEFERRED
        d.column("deferred")[later] = True
        d.column("deferred_month")[later] = sim.month
        ledger.add("deals_deferred", ledger_month, int(defer.sum()))
        start = cal.next_start(effective, seg[defer])
        now = times[defer]
        d.schedule(later, now + np.maximum(start - EPS - now, 0.0), wake=True)
        return int(lose.sum())

    def _displace(
        self, deals: NDArray[np.intp], rows: NDArray[np.intp], effective: int
    ) -> NDArray[np.bool_]:
        """Deals short of budget that displace other spending (a keyed draw of stream
        ``budget_displace`` below ``budget.displace_probability``) land from ``effective``,
        using up what is left of the budget; returns the mask of the others."""
        sim, book = self.sim, self.sim.book
        u = sim.streams.uniform("budget_displace", book.key[rows], sim.month)
        displace = u < sim.scenario.budget.displace_probability
        if displace.any():
            book.budget_left[rows[displace]] = 0.0
            sim.ledger.add("deals_displaced", self._month_now(), int(displace.sum()))
            self._land(deals[displace], rows[displace], np.full(displace.sum(), effective))
        return ~displace

    def _land(
        self, deals: NDArray[np.intp], rows: NDArray[np.intp], effective: NDArray[np.int64]
    ) -> None:
        """Approved, funded deals: MRR (and plan / add-on) change from their effective months,
        all of a month in one scheduled change (upgrades first, then add-ons)."""
        if deals.size == 0:
            return
        sim, book, d = self.sim, self.sim.book, self.deals
        book.in_flight[rows] = False
        self.open_deals -= deals.size
        d.column("effective_month")[deals] = effective
        beyond = effective >= sim.horizon
        d.column("status")[deals] = np.where(beyond, BEYOND_HORIZON, LANDED)
        deals, rows, effective = deals[~beyond], rows[~beyond], effective[~beyond]
        for month in np.unique(effective).tolist():
            sel = effective == month
            self._flush_landing(deals[sel], rows[sel], month)

    def _flush_landing(self, deals: NDArray[np.intp], rows: NDArray[np.intp], month: int) -> None:
        """Schedule the landing deals' changes for billing month ``month``. With seats or price
        rises on, a deal's MRR change is repriced from the seats and list level it was
        accepted at to those it is billed at (seats added while in approval cost too)."""
        d = self.deals
        plan = d.column("plan")[deals]
        addon = d.column("addon")[deals]
        delta = d.column("delta")[deals]
        scale = self.list_scale(rows, month - 1)
        if scale is not None:
            delta = delta * (scale / self._deal_scale[deals])
            d.column("delta")[deals] = delta  # the deal table shows what landed
        ones = np.ones(rows.size)
        no = np.zeros(rows.size, dtype=bool)
        has_plan, has_addon = plan >= 0, addon >= 0
        if has_plan.any():  # upgrades (plan index after the deal)
            self._apply(
                Proposal(
                    rows[has_plan],
                    delta[has_plan],
                    ones[has_plan],
                    no[has_plan],
                    plan=plan[has_plan],
                ),
                month,
            )
        rest = ~has_plan
        if rest.any():  # add-ons and other changes
            self._apply(
                Proposal(
                    rows[rest],
                    delta[rest],
                    ones[rest],
                    no[rest],
                    addon=np.where(has_addon[rest], addon[rest], -1).astype(np.int16),
                ),
                month,
            )

    def close_month(self, month: int) -> None:
        self.sim.ledger.set("approvals_pending", month, self.open_deals)

    def finish(self) -> None:
        self.sim.ledger.set("approvals_pending", self.sim.horizon - 1, self.open_deals)

    def deal_table(self) -> pd.DataFrame:
        """Every accepted deal: B2B deals through approval and budget, and those bought at once
        (``status`` landed, no approvers). Times in months."""
        d = self.deals
        if d.n:
            b2b = pd.DataFrame(
                {
                    "row": d["row"].astype(np.int64),
                    "kind": np.array(d.kinds, dtype=object)[d["kind"]],
                    "segment": d["segment"].astype(np.int64),
                    "accept_month": d["accept_month"].astype(np.int64),
                    "approvers": d["approvers"].astype(np.int64),
                    "decided": d["decided"],
                    "effective_month": d["effective_month"].astype(np.int64),
                    "deferred": d["deferred"],
                    "deferred_month": d["deferred_month"].astype(np.int64),
                    "status": np.array(DEAL_STATUS, dtype=object)[d["status"]],
                    "delta": d["delta"],
                    "gated": True,
                }
            )
        else:
            b2b = pd.DataFrame({name: [] for name in _DEAL_COLUMNS} | {"gated": True})
        if not self._batches:
            return b2b
        now = pd.DataFrame(
            {k: np.concatenate([b[k] for b in self._batches]) for k in self._batches[0]}
        )
        now["segment"] = self.sim.book.segment[now["row"].to_numpy()]
        now["approvers"] = 0
        now["decided"] = now["accept_month"].astype(float)
        now["deferred"] = False
        now["deferred_month"] = -1
        now["status"] = "landed"
        now["gated"] = False
        return pd.concat([b2b, now[b2b.columns]], ignore_index=True)


_DEAL_COLUMNS = (
    "row",
    "kind",
    "segment",
    "accept_month",
    "approvers",
    "decided",
    "effective_month",
    "deferred",
    "deferred_month",
    "status",
    "delta",
)
