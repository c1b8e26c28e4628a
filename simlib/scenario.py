"""The scenario format: typed, documented, validated (pydantic v2).

A scenario is a YAML file (or a preset name from ``data/scenarios/``). Loading follows Ciw's
order: read the YAML safely, resolve ``extends:`` (a preset name or a path, merged key by key),
apply ``--set KEY=VALUE`` overrides, *fill defaults*, then *validate*. Every field carries its
unit in its description; unknown keys are errors that suggest the closest valid key; each error
names the file, the dotted key path and what is allowed (:class:`simlib.errors.ScenarioError`).

Units: time in whole months from the start of the simulation (month 0); money in the scenario's
currency; MRR and prices in currency per month; probabilities and shares in [0, 1].
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .errors import ScenarioError

__all__ = [
    "BetaDist",
    "Scenario",
    "apply_overrides",
    "load_scenario",
    "preset_dir",
    "preset_names",
    "scenario_hash",
    "to_yaml",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveParam = Annotated[float, Field(gt=0.0, le=1e9)]
NonNegative = Annotated[float, Field(ge=0.0, le=1e12)]

MAX_ACCOUNTS = 50_000_000
MAX_DEPTH = 32  # mapping/list nesting levels a scenario document may have
MAX_HORIZON = 1200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


class BetaDist(_Strict):
    """A Beta(alpha, beta) distribution on [0, 1]; mean alpha / (alpha + beta)."""

    alpha: PositiveParam = Field(description="Beta shape alpha (> 0)")
    beta: PositiveParam = Field(description="Beta shape beta (> 0)")

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


class ContractChurn(_Strict):
    """Per-renewal churn probability of each contract type, ~ Beta, drawn once per account.

    This is the shifted-beta-geometric model of Fader & Hardie (2007), "How to project customer
    retention", J. Interactive Marketing 21(1): with satisfaction effects off, the share of a cohort
    alive after t renewals is S(t) = B(alpha, beta + t) / B(alpha, beta).
    """

    monthly: BetaDist = Field(
        default_factory=lambda: BetaDist(alpha=1.0, beta=30.0),
        description="churn probability per monthly renewal (end of every month) ~ Beta",
    )
    annual: BetaDist = Field(
        default_factory=lambda: BetaDist(alpha=1.0, beta=7.0),
        description="churn probability per annual renewal (every 12 months) ~ Beta",
    )


class ChurnConfig(ContractChurn):
    """Churn: heterogeneous base risk plus the links to satisfaction and champion loss."""

    satisfaction_effect: NonNegative = Field(
        default=0.0,
        description=(
            "log-odds of churn added per unit (0-1 scale) that satisfaction lies below the "
            "account's product fit, and removed per unit above it; 0 = no link"
        ),
    )


class SegmentChurn(_Strict):
    """Per-segment override of the churn Beta distributions (unset: the scenario's ``churn``)."""

    monthly: BetaDist | None = Field(default=None, description="override of churn.monthly")
    annual: BetaDist | None = Field(default=None, description="override of churn.annual")


class Segment(_Strict):
    """A segment of the book: its share, its plan ladder, account sizes and overrides."""

    share: Probability = Field(default=1.0, description="share of accounts in this segment (0-1)")
    buyer: Literal["b2b", "b2c"] = Field(
        default="b2b", description="how accounts buy: b2b (approvals, budgets) or b2c"
    )
    plans: dict[str, NonNegative] = Field(
        default_factory=dict,
        description=(
            "plan ladder, cheapest first: plan name -> list price (currency per month); "
            "unset: one plan 'standard' at population.mrr"
        ),
    )
    plan_mix: dict[str, Probability] | None = Field(
        default=None,
        description="share of new accounts starting on each plan (default: all on the first)",
    )
    size_sigma: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        default=0.0,
        description=(
            "account size spread: MRR = plan price x size, size ~ LogNormal with mean 1 and "
            "this log-scale standard deviation (0 = every account at list price)"
        ),
    )
    annual_share: Probability | None = Field(
        default=None, description="override of contracts.annual_share for this segment"
    )
    churn: SegmentChurn = Field(
        default_factory=SegmentChurn, description="override of churn Beta distributions"
    )
    fit: BetaDist | None = Field(default=None, description="override of satisfaction.fit")
    plan_limits: dict[str, PositiveParam] | None = Field(
        default=None,
        description=(
            "usage limit of each plan (usage units per month); default: the first plan 100 and "
            "each next plan twice the one before"
        ),
    )
    usage: BetaDist | None = Field(
        default=None,
        description="starting usage of new accounts, as a share of their plan limit, ~ Beta "
        "(unset: usage.initial)",
    )
    fiscal_year_start_month: Annotated[int, Field(ge=1, le=12)] = Field(
        default=4,
        description="calendar month (1-12) in which a B2B account's fiscal year starts (4 = April)",
    )

    @model_validator(mode="after")
    def _check_limits(self) -> Segment:
        if self.plan_limits is not None:
            unknown = [p for p in self.plan_limits if p not in self.plans]
            if unknown:
                raise ValueError(
                    f"plan_limits names plan(s) {unknown} not in plans {list(self.plans)}"
                )
        return self

    def limits(self) -> list[float]:
        """Usage limit of each plan of the ladder (usage units per month), cheapest first."""
        given = self.plan_limits or {}
        out: list[float] = []
        for i, name in enumerate(self.plans):
            default = 100.0 if i == 0 else 2.0 * out[-1]
            out.append(float(given.get(name, default)))
        return out

    @model_validator(mode="after")
    def _check_mix(self) -> Segment:
        if not self.plans:
            raise ValueError("plans must name at least one plan (plan name: list price)")
        if self.plan_mix is not None:
            unknown = [p for p in self.plan_mix if p not in self.plans]
            if unknown:
                raise ValueError(
                    f"plan_mix names plan(s) {unknown} not in plans {list(self.plans)}"
                )
            total = sum(self.plan_mix.values())
            if not math.isclose(total, 1.0, abs_tol=1e-6):
                raise ValueError(f"plan_mix shares must add up to 1, got {total:g}")
        return self


class Population(_Strict):
    """The opening book (month 0) and the segments every account belongs to."""

    initial_accounts: Annotated[int, Field(ge=0, le=MAX_ACCOUNTS)] = Field(
        default=1000, description="accounts alive at month 0"
    )
    mrr: NonNegative = Field(
        default=100.0,
        description=(
            "list price (currency per month) of the single plan of the default segment, used "
            "when no segments are given"
        ),
    )
    segments: dict[str, Segment] | None = Field(
        default=None,
        description="segments by name (default: one segment 'all' with one plan at `mrr`)",
    )
    from_csv: str | None = Field(
        default=None,
        description=(
            "CSV of real accounts to start from instead of a generated opening book (columns "
            "id, segment, plan and/or mrr, contract, tenure_months, optional satisfaction; see "
            "simlib.model.book_import); replaces initial_accounts. A relative path is read "
            "from the scenario file's folder and recorded as an absolute path"
        ),
    )

    @model_validator(mode="after")
    def _check_segments(self) -> Population:
        if self.segments is None:
            return self
        if not self.segments:
            raise ValueError("segments must name at least one segment")
        total = sum(s.share for s in self.segments.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"segment shares must add up to 1, got {total:g}")
        return self


class Acquisition(_Strict):
    """New accounts arriving each month (paid acquisition, before referrals)."""

    new_accounts_per_month: NonNegative = Field(
        default=0.0, description="mean new accounts per month (accounts per month)"
    )
    process: Literal["poisson", "fixed"] = Field(
        default="poisson",
        description="poisson: Poisson counts with that mean; fixed: exactly round(mean)",
    )
    start_month: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=1, description="first month with new accounts (month 0 is the opening book)"
    )


class Contracts(_Strict):
    """Monthly and annual contracts."""

    annual_share: Probability = Field(
        default=0.0,
        description="share of accounts on annual contracts (they churn only at 12-month renewals)",
    )
    annual_discount: Probability = Field(
        default=0.0, description="price reduction of annual contracts (share of list price)"
    )
    stagger_opening_renewals: bool = Field(
        default=False,
        description=(
            "true: annual accounts of the opening book renew in a month drawn uniformly from "
            "their contract year (a seasoned book); false: all at month 11, 23, ..."
        ),
    )


class Satisfaction(_Strict):
    """Latent satisfaction (health) in (0, 1), mean-reverting toward the account's product fit.

    Monthly, in logit space: z <- z + reversion x (logit(fit) - z) + volatility x N(0, 1).
    """

    enabled: bool = Field(default=True, description="false: satisfaction stays at its start")
    fit: BetaDist = Field(
        default_factory=lambda: BetaDist(alpha=6.0, beta=4.0),
        description="product fit of each account ~ Beta: the level satisfaction drifts back to",
    )
    reversion: Probability = Field(
        default=0.2, description="share of the (logit) gap to fit closed per month"
    )
    volatility: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.3, description="standard deviation of the monthly logit noise"
    )
    uplift: Annotated[float, Field(ge=-0.9, le=0.9)] = Field(
        default=0.0,
        description=(
            "sustained rise of the level satisfaction drifts to, above the account's product "
            "fit (0-1 scale; the level is fit + uplift, kept inside (0.001, 0.999)): a "
            "satisfaction programme that lifts every account without changing who the "
            "customers are; 0 = none (see simlib.lab)"
        ),
    )


class Champion(_Strict):
    """Champion turnover: the customer's internal champion leaves their job."""

    enabled: bool = Field(default=False, description="switch the mechanism on")
    monthly_turnover: Probability = Field(
        default=0.01, description="probability per account per month that the champion leaves"
    )
    satisfaction_drop: Probability = Field(
        default=0.2, description="fall in satisfaction (0-1 scale) when the champion leaves"
    )
    churn_odds_multiplier: Annotated[float, Field(ge=1.0, le=1e6)] = Field(
        default=2.0,
        description="odds multiplier of churn at the next renewal after the champion left",
    )


TierName = Literal["high", "low", "tech", "none"]


class TouchTier(_Strict):
    """Scheduled CSM touches of one tier (high- or low-touch)."""

    cadence_weeks: Annotated[float, Field(ge=0.0, le=520.0)] = Field(
        default=4.0, description="weeks between scheduled touches of an account (0 = none)"
    )
    touch_hours: Annotated[float, Field(gt=0.0, le=100.0)] = Field(
        default=1.0, description="CSM hours one touch takes"
    )
    touch_effect: Probability = Field(
        default=0.05,
        description="share of the gap to full satisfaction (1 - s) a first touch closes",
    )
    max_book: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=50, description="most accounts of this tier one CSM can hold in their book"
    )


class TechTier(_Strict):
    """Tech touch: automated campaigns (email, in-app guides); no CSM hours."""

    cadence_weeks: Annotated[float, Field(ge=0.0, le=520.0)] = Field(
        default=4.0, description="weeks between campaign touches of an account (0 = none)"
    )
    touch_effect: Probability = Field(
        default=0.01, description="share of the gap to full satisfaction a campaign closes"
    )
    cost_per_account_month: NonNegative = Field(
        default=1.0, description="tooling cost per tech-touch account (currency per month)"
    )


class Tiers(_Strict):
    high: TouchTier = Field(
        default_factory=lambda: TouchTier(
            cadence_weeks=2, touch_hours=1.5, touch_effect=0.06, max_book=30
        ),
        description="high touch: frequent, personal, a named CSM with few accounts",
    )
    low: TouchTier = Field(
        default_factory=lambda: TouchTier(
            cadence_weeks=8, touch_hours=0.5, touch_effect=0.04, max_book=200
        ),
        description="low touch: pooled CSMs, infrequent scheduled touches",
    )
    tech: TechTier = Field(default_factory=TechTier, description="tech touch: automated")


class TierShares(_Strict):
    high: Probability = Field(default=0.05, description="share of the book in high touch")
    low: Probability = Field(default=0.25, description="share of the book in low touch")

    @model_validator(mode="after")
    def _check_total(self) -> TierShares:
        if self.high + self.low > 1.0 + 1e-9:
            raise ValueError(f"high + low shares must be at most 1, got {self.high + self.low:g}")
        return self


class TierThresholds(_Strict):
    high: NonNegative | None = Field(
        default=None, description="score (ARR or LTV potential, currency) from which high touch"
    )
    low: NonNegative | None = Field(default=None, description="score from which low touch")


class TierRule(_Strict):
    """One rule of a policy defined in YAML: the first rule an account matches sets its tier."""

    tier: TierName = Field(description="tier given by this rule")
    segments: list[str] | None = Field(default=None, description="segments it applies to")
    min_arr: NonNegative = Field(default=0.0, description="lowest ARR it applies to (currency)")
    max_arr: NonNegative | None = Field(default=None, description="ARR below which it applies")


class CSMTeam(_Strict):
    """The CSM team: people with limited hours."""

    count: Annotated[int, Field(ge=0, le=100_000)] = Field(default=10, description="CSMs")
    hours_per_week: Annotated[float, Field(gt=0.0, le=168.0)] = Field(
        default=30.0, description="working hours per CSM per week for accounts"
    )
    cost_per_month: NonNegative = Field(
        default=8000.0, description="fully loaded cost of one CSM (currency per month)"
    )


class Alerts(_Strict):
    """Health-score alerts: a noisy health score below a threshold queues the account."""

    enabled: bool = Field(default=True, description="raise health alerts")
    threshold: Probability = Field(default=0.35, description="health score that raises an alert")
    noise: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.05,
        description="standard deviation of health-score noise (higher: more false alarms)",
    )
    champion_signal: Probability = Field(
        default=0.15, description="fall of the health score when the champion has left"
    )
    hours: Annotated[float, Field(gt=0.0, le=100.0)] = Field(
        default=1.0, description="CSM hours to work one alert"
    )
    effect: Probability = Field(
        default=0.15, description="share of the gap to full satisfaction a served alert closes"
    )
    cooldown_months: Annotated[int, Field(ge=0, le=120)] = Field(
        default=3, description="months before the same account can alert again"
    )
    save_probability: Probability = Field(
        default=0.3,
        description="chance that an account served within the save window does not churn",
    )
    save_window_months: Annotated[int, Field(ge=0, le=120)] = Field(
        default=2, description="months before a renewal in which a served alert can save it"
    )
    tiers: list[TierName] = Field(
        default_factory=lambda: ["high", "low"], description="tiers whose accounts can alert"
    )


class Requests(_Strict):
    """Reactive work: requests from covered accounts arriving as a Poisson process."""

    per_month: NonNegative = Field(default=0.0, description="mean requests per month (team-wide)")
    hours: Annotated[float, Field(gt=0.0, le=100.0)] = Field(
        default=0.5, description="mean CSM hours per request"
    )
    distribution: Literal["exponential", "fixed"] = Field(
        default="exponential", description="distribution of the hours a request takes"
    )


class Coverage(_Strict):
    """Customer-success coverage: tiers by a named policy, a CSM team, touches, alerts."""

    policy: str = Field(
        default="none",
        description=(
            "coverage policy by name: none, uniform_low_touch, tech_touch_only, tiered_by_arr, "
            "tiered_by_ltv_potential, rules (the `rules` list), or one registered in Python"
        ),
    )
    reassign_every_months: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=3, description="months between tier re-assignments"
    )
    shares: TierShares = Field(
        default_factory=TierShares, description="tier shares of the book (tiered policies)"
    )
    thresholds: TierThresholds = Field(
        default_factory=TierThresholds,
        description="score thresholds; when set they replace the shares",
    )
    rules: list[TierRule] = Field(default_factory=list, description="rules of policy `rules`")
    tiers: Tiers = Field(default_factory=Tiers)
    diminishing: NonNegative = Field(
        default=0.3,
        description="the k-th touch of a quarter has effect / (1 + diminishing x (k - 1))",
    )
    csm: CSMTeam = Field(default_factory=CSMTeam)
    alerts: Alerts = Field(default_factory=Alerts)
    requests: Requests = Field(default_factory=Requests)

    @model_validator(mode="after")
    def _check_policy(self) -> Coverage:
        from .tiers import COVERAGE_POLICIES

        if self.policy not in COVERAGE_POLICIES:
            close = difflib.get_close_matches(self.policy, list(COVERAGE_POLICIES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown coverage policy {self.policy!r}{hint}; allowed: "
                + ", ".join(sorted(COVERAGE_POLICIES))
            )
        if self.policy == "rules" and not self.rules:
            raise ValueError("policy 'rules' needs a non-empty `rules` list")
        return self


SegmentName = Annotated[str, Field(min_length=1, max_length=200)]


class Addon(_Strict):
    """An add-on product sold beside the plan (cross-sell)."""

    price: NonNegative = Field(
        description="list price (currency per month), x the account's size like plan prices"
    )
    relevance: dict[SegmentName, Probability] = Field(
        default_factory=dict,
        description=(
            "relevance of the add-on to each segment's accounts (0-1; segments not named: 0): "
            "how closely it relates to what they bought"
        ),
    )


class OfferKindSpec(_Strict):
    """One kind of offer: who gets it, when, through which channel, and how it is received.

    Targeting (all must hold): alive; tenure >= ``min_tenure_months`` (onboarding done);
    satisfaction >= ``min_satisfaction``; usage >= ``usage.near_limit`` when
    ``require_usage_near_limit``; segment in ``segments`` and tier in ``tiers`` when given; no
    offer within ``cooldown_months``; fewer than ``max_per_year`` offers this simulation year; no
    deal in approval; the ``timing`` holds; then a keyed draw below ``monthly_rate``.
    """

    enabled: bool = Field(default=False, description="switch this kind of offer on")
    base_intent: Annotated[float, Field(ge=-50.0, le=50.0)] = Field(
        default=-4.0, description="log-odds of accepting before the terms of offers.intent"
    )
    channel: Literal["automated", "csm"] = Field(
        default="automated",
        description="automated (campaigns, in-app) or csm (only accounts with a CSM; uses hours)",
    )
    csm_hours: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=1.0, description="CSM hours one offer takes (channel csm)"
    )
    cost_per_offer: NonNegative = Field(
        default=0.0, description="cost of making one offer (currency), booked as offer_cost"
    )
    timing: Literal["random", "renewal", "before_renewal", "usage_spike", "onboarding"] = Field(
        default="random",
        description=(
            "random: any month; renewal: the month ending in the account's renewal (every month "
            "on a monthly contract); before_renewal: within days_before_renewal of it; "
            "usage_spike: the month usage first reaches usage.near_limit; onboarding: the month "
            "onboarding completes (tenure = min_tenure_months)"
        ),
    )
    days_before_renewal: Annotated[float, Field(ge=0.0, le=365.0)] = Field(
        default=60.0, description="window before a renewal for timing before_renewal (days)"
    )
    monthly_rate: Probability = Field(
        default=0.2, description="chance per month that a targeted account gets the offer"
    )
    min_satisfaction: Probability = Field(
        default=0.0, description="lowest satisfaction (health score) targeted"
    )
    require_usage_near_limit: bool = Field(
        default=False, description="target only accounts with usage >= usage.near_limit"
    )
    min_tenure_months: Annotated[int, Field(ge=0, le=MAX_HORIZON)] = Field(
        default=3, description="months since the account started (onboarding done)"
    )
    segments: list[SegmentName] | None = Field(
        default=None, description="segments targeted (default: all)"
    )
    tiers: list[TierName] | None = Field(
        default=None, description="CS tiers targeted (default: all)"
    )
    cooldown_months: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=3, description="months between two offers to the same account (any kind)"
    )
    max_per_year: Annotated[int, Field(ge=0, le=120)] = Field(
        default=4, description="most offers to one account per simulation year (any kind)"
    )
    target_plans: list[str] | None = Field(
        default=None,
        description=(
            "upsell / downsell: plans the offer may move an account to (default: any); an "
            "account is offered the next plan up (down) that is in this list"
        ),
    )
    mode: Literal["plan", "discount"] = Field(
        default="plan",
        description="downsell: a cheaper plan (contraction MRR) or a temporary discount",
    )
    discount: Probability = Field(
        default=0.2, description="downsell mode discount: price reduction (share of MRR)"
    )
    discount_months: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=3,
        description="downsell mode discount: months it lasts; its value is booked as offer_cost",
    )
    risk_multiplier: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.5,
        description="downsell: factor on the base churn risk of an account it saves",
    )


_BUILTIN_OFFER_KINDS = ("upsell", "cross_sell", "downsell", "term_conversion")


def _default_kinds() -> dict[str, OfferKindSpec]:
    return {
        "upsell": OfferKindSpec(),
        "cross_sell": OfferKindSpec(),
        "downsell": OfferKindSpec(
            base_intent=-1.5, min_tenure_months=0, cooldown_months=6, monthly_rate=1.0
        ),
        "term_conversion": OfferKindSpec(base_intent=-3.0, timing="renewal"),
    }


class Intent(_Strict):
    """Acceptance of an offer: P(accept) = logistic(z), with

    z = base_intent + satisfaction_to_intent x (satisfaction - 0.5)
        + relevance_to_intent x (relevance - 0.5) + fan_bonus x [fan and relevant]
        + strong_reason_bonus x [strong reason].
    """

    satisfaction_to_intent: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=2.0,
        description="log-odds of accepting per unit (0-1 scale) of satisfaction above 0.5; 0 = none",
    )
    relevance_to_intent: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=4.0, description="log-odds of accepting per unit of relevance above 0.5"
    )
    fan_bonus: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=1.0, description="log-odds added for fans offered something relevant"
    )
    strong_reason_bonus: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=1.0,
        description=(
            "log-odds added when the account has a strong reason (upsell: usage near the "
            "limit; cross-sell: relevance >= offers.strong_relevance)"
        ),
    )


class Fatigue(_Strict):
    """What an irrelevant offer (relevance below offers.relevance_threshold) costs."""

    satisfaction_drop: Probability = Field(
        default=0.05, description="fall in satisfaction (0-1 scale) per irrelevant offer"
    )
    usage_drop: Probability = Field(
        default=0.05, description="share of usage lost per irrelevant offer (fewer logins)"
    )


class Offers(_Strict):
    """Offers: the add-on catalogue, the kinds of offer (by name) and how offers are received."""

    kinds: dict[str, OfferKindSpec] = Field(
        default_factory=_default_kinds,
        description=(
            "offer kinds by name: upsell, cross_sell, downsell (a save offer at churn), "
            "term_conversion (monthly to annual at contracts.annual_discount), or one "
            "registered in Python; all off by default"
        ),
    )
    addons: dict[str, Addon] = Field(
        default_factory=dict, description="add-on catalogue by name (at most 63)"
    )
    recommendation: Literal["data_driven", "random"] = Field(
        default="data_driven",
        description=(
            "cross-sell pick: data_driven = the most relevant add-on not owned; random = any "
            "add-on not owned"
        ),
    )
    relevance_threshold: Probability = Field(
        default=0.3, description="relevance below which an offer is irrelevant (fatigue)"
    )
    strong_relevance: Probability = Field(
        default=0.8, description="relevance from which a cross-sell is a strong reason to buy"
    )
    intent: Intent = Field(default_factory=Intent)
    fatigue: Fatigue = Field(default_factory=Fatigue)

    @model_validator(mode="after")
    def _check_kinds(self) -> Offers:
        unknown = [k for k in self.kinds if k not in _BUILTIN_OFFER_KINDS]
        if unknown:  # a kind registered in Python?
            from .model.offers import OFFER_KINDS

            unknown = [k for k in unknown if k not in OFFER_KINDS]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(OFFER_KINDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown offer kind {unknown[0]!r}{hint}; allowed: " + ", ".join(OFFER_KINDS)
            )
        if len(self.addons) > 63:
            raise ValueError(f"at most 63 add-ons, got {len(self.addons)}")
        return self

    def any_enabled(self) -> bool:
        return any(k.enabled for k in self.kinds.values())


class Usage(_Strict):
    """Usage of each account as a share of its plan limit (1 = at the limit).

    Monthly: usage <- usage x exp(growth_per_month + satisfaction_effect x (satisfaction - fit)
    + volatility x N(0, 1)), kept within [0.01, 3]; an irrelevant offer cuts it (fatigue); an
    upgrade divides it by the ratio of the new limit to the old.
    """

    initial: BetaDist = Field(
        default_factory=lambda: BetaDist(alpha=2.0, beta=3.0),
        description="starting usage share ~ Beta (per-segment override: segments.X.usage)",
    )
    growth_per_month: Annotated[float, Field(ge=-1.0, le=1.0)] = Field(
        default=0.02, description="log growth of usage per month"
    )
    satisfaction_effect: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.2, description="log growth per month per unit of satisfaction above fit"
    )
    volatility: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        default=0.05, description="standard deviation of the monthly log change"
    )
    near_limit: Annotated[float, Field(gt=0.0, le=3.0)] = Field(
        default=0.8, description="usage share from which usage is near the limit (a signal)"
    )


class Approval(_Strict):
    """B2B approval chain for an accepted upsell or cross-sell (buyer b2b segments only)."""

    enabled: bool = Field(default=False, description="switch approval chains on")
    approvers: dict[SegmentName, Annotated[int, Field(ge=0, le=20)]] = Field(
        default_factory=dict, description="approvers by segment (segments not named: default)"
    )
    default_approvers: Annotated[int, Field(ge=0, le=20)] = Field(
        default=2, description="approvers of a segment not named in approvers"
    )
    price_step: PositiveParam = Field(
        default=1000.0,
        description="one more approver per this much MRR increase (currency per month)",
    )
    max_approvers: Annotated[int, Field(ge=0, le=20)] = Field(
        default=6, description="most approvers in one chain"
    )
    delay_days: NonNegative = Field(default=7.0, description="mean days each approver takes")
    delay_distribution: Literal["exponential", "fixed"] = Field(
        default="exponential", description="distribution of each approver's delay"
    )
    rejection: Probability = Field(
        default=0.05, description="chance that one approver rejects when there is a strong reason"
    )
    rejection_no_reason: Probability = Field(
        default=0.25,
        description="chance that one approver rejects when usage is far from the limit",
    )


class Budget(_Strict):
    """B2B discretionary budgets by fiscal year (fiscal start: segments.X.fiscal_year_start_month).

    An approved deal costs 12 x its MRR increase a year; it fits when that is at most what is
    left of the account's budget for the fiscal year in which it would start.
    """

    enabled: bool = Field(default=False, description="switch budget gates on")
    calendar_start_month: Annotated[int, Field(ge=1, le=12)] = Field(
        default=1, description="calendar month (1-12) of simulation month 0"
    )
    per_year: dict[SegmentName, NonNegative] = Field(
        default_factory=dict,
        description="discretionary budget per account per fiscal year, by segment (currency)",
    )
    default_per_year: NonNegative = Field(
        default=5000.0, description="budget of a segment not named in per_year (currency a year)"
    )
    scale_with_size: bool = Field(
        default=True, description="multiply the budget by the account's size"
    )
    on_shortfall: Literal["defer", "lose"] = Field(
        default="defer",
        description="a deal that does not fit: wait for the next fiscal year, or be lost",
    )
    draft_window_months: Annotated[int, Field(ge=0, le=12)] = Field(
        default=4,
        description=(
            "last months of a fiscal year in which next year's budget is drafted: a deal that "
            "does not fit then is written into it (deferred) even with on_shortfall lose"
        ),
    )


class LoyaltyStage(_Strict):
    min_satisfaction: Probability = Field(description="satisfaction held every month")
    months: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        description="consecutive months satisfaction is held"
    )
    min_tenure_months: Annotated[int, Field(ge=0, le=MAX_HORIZON)] = Field(
        default=0, description="months since the account started"
    )
    referral_rate: Probability = Field(
        default=0.0, description="chance per month that an account at this stage refers one"
    )


class Loyalty(_Strict):
    """Loyalty stages repeater -> promoter -> fan, referrals, and champion-move referrals."""

    enabled: bool = Field(default=False, description="switch loyalty stages and referrals on")
    repeater_tenure_months: Annotated[int, Field(ge=0, le=MAX_HORIZON)] = Field(
        default=2, description="months since start from which an account is a repeater"
    )
    promoter: LoyaltyStage = Field(
        default_factory=lambda: LoyaltyStage(
            min_satisfaction=0.7, months=6, min_tenure_months=6, referral_rate=0.01
        )
    )
    fan: LoyaltyStage = Field(
        default_factory=lambda: LoyaltyStage(
            min_satisfaction=0.8, months=12, min_tenure_months=12, referral_rate=0.03
        )
    )
    champion_referral: Probability = Field(
        default=0.0,
        description="chance that a satisfied champion who changes job brings a new account",
    )
    champion_min_satisfaction: Probability = Field(
        default=0.6, description="satisfaction (before the move) of a satisfied champion"
    )

    @model_validator(mode="after")
    def _check_stages(self) -> Loyalty:
        if self.fan.min_satisfaction < self.promoter.min_satisfaction:
            raise ValueError("fan.min_satisfaction must be at least promoter.min_satisfaction")
        return self


class Reporting(_Strict):
    """Extra figures recorded during a run (they change no outcome, only the tables)."""

    opening_cohort: bool = Field(
        default=False,
        description=(
            "record each month the opening book's (accounts alive at month 0) accounts alive "
            "and revenue by segment, as monthly columns opening_accounts.SEGMENT and "
            "opening_revenue.SEGMENT (currency per month); used by simlib.lab"
        ),
    )


class Economics(_Strict):
    """Margin, discounting and currency."""

    gross_margin: Probability = Field(
        default=0.8, description="share of revenue kept as gross margin (0-1)"
    )
    annual_discount_rate: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.1, description="yearly discount rate for LTV (0.1 = 10 % a year)"
    )
    currency: str = Field(default="USD", max_length=16, description="currency label of figures")


class Scenario(_Strict):
    """One scenario: everything a run needs apart from the seed and the replication count."""

    name: str = Field(default="scenario", min_length=1, max_length=200, description="free text")
    description: str = Field(default="", max_length=10_000, description="free text")
    horizon_months: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=60, description="months simulated (months 0 .. horizon_months - 1)"
    )
    population: Population = Field(default_factory=Population)
    acquisition: Acquisition = Field(default_factory=Acquisition)
    contracts: Contracts = Field(default_factory=Contracts)
    churn: ChurnConfig = Field(default_factory=ChurnConfig)
    satisfaction: Satisfaction = Field(default_factory=Satisfaction)
    champion: Champion = Field(default_factory=Champion)
    coverage: Coverage = Field(default_factory=Coverage)
    offers: Offers = Field(default_factory=Offers)
    usage: Usage = Field(default_factory=Usage)
    approval: Approval = Field(default_factory=Approval)
    budget: Budget = Field(default_factory=Budget)
    loyalty: Loyalty = Field(default_factory=Loyalty)
    economics: Economics = Field(default_factory=Economics)
    reporting: Reporting = Field(default_factory=Reporting)

    @model_validator(mode="after")
    def _check_offer_names(self) -> Scenario:
        """Segment and plan names used by offers, usage, approval and budget must exist."""
        if self.population.segments is None:
            return self
        segments = self.population.segments
        plans = {p for seg in segments.values() for p in seg.plans}
        named: list[tuple[str, list[str]]] = [
            ("approval.approvers", list(self.approval.approvers)),
            ("budget.per_year", list(self.budget.per_year)),
        ]
        for kind, spec in self.offers.kinds.items():
            named.append((f"offers.kinds.{kind}.segments", spec.segments or []))
            unknown = [p for p in spec.target_plans or [] if p not in plans]
            if unknown:
                raise ValueError(
                    f"offers.kinds.{kind}.target_plans: plan(s) {unknown} are in no segment's "
                    f"plan ladder; plans: {', '.join(sorted(plans))}"
                )
        for name, addon in self.offers.addons.items():
            named.append((f"offers.addons.{name}.relevance", list(addon.relevance)))
        for key, names in named:
            unknown = [n for n in names if n not in segments]
            if unknown:
                raise ValueError(
                    f"{key}: segment(s) {unknown} not in population.segments "
                    f"({', '.join(segments)})"
                )
        return self

    #: the mapping this scenario was validated from, before defaults were filled (see
    #: :func:`load_scenario`); not part of the scenario's value
    _source_doc: dict[str, Any] | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    def segment_table(self) -> dict[str, Segment]:
        """Segments with every inherited value filled in (see :func:`fill_defaults`)."""
        assert self.population.segments is not None, "call fill_defaults first"
        return self.population.segments


#: Every default value, as a mapping: user documents are merged over it, so a partial override
#: (``--set satisfaction.fit.beta=3``) keeps the other defaults of the same block.
_DEFAULTS: dict[str, Any] = Scenario().model_dump(mode="python")

# --------------------------------------------------------------------------------------------
# Loading: YAML -> extends -> overrides -> fill defaults -> validate


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also rejects a key given twice in one mapping."""


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def preset_dir() -> Path:
    """Folder of the preset scenarios (package data, see :mod:`simlib.io.resources`)."""
    from .io import resources

    return resources.preset_dir()


def preset_names() -> list[str]:
    """Names of the preset scenarios."""
    from .io import resources

    return resources.preset_names()


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML safely (no language tags, no duplicate keys) or raise :class:`ScenarioError`."""
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except RecursionError:
        raise ScenarioError(source, [("", f"nested more than {MAX_DEPTH} levels deep")]) from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "could not determine a constructor" in str(exc):
            problem = "language-specific YAML tags (such as !!python/object) are not allowed"
        raise ScenarioError(source, [("", f"not valid YAML{where}: {problem}")]) from None
    _check_depth(doc, source)
    return doc


def _check_depth(doc: Any, source: str) -> None:
    """Reject documents nested deeper than any scenario needs (before anything recurses)."""
    stack = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ScenarioError(source, [("", f"nested more than {MAX_DEPTH} levels deep")])
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _resolve_ref(ref: str, relative_to: Path | None) -> Path:
    """A scenario reference: a path to a YAML file, or a preset name."""
    candidates: list[Path] = []
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or "/" in ref or "\\" in ref:
        if not path.is_absolute() and relative_to is not None:
            candidates.append(relative_to / path)
        candidates.append(path)
    else:
        candidates.append(preset_dir() / f"{ref}.yaml")
    for c in candidates:
        if c.is_file():
            return c
    if len(candidates) == 1 and candidates[0].parent == preset_dir():
        names = preset_names()
        close = difflib.get_close_matches(ref, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ScenarioError(
            ref, [("", f"no such file or preset{hint}; presets: {', '.join(names)}")]
        )
    raise ScenarioError(ref, [("", "no such file")])


def _read_document(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(str(path), [("", f"cannot read file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(str(path), [("", "not a UTF-8 text file")]) from None
    doc = parse_yaml(text, str(path))
    if doc is None:
        raise ScenarioError(str(path), [("", "the file is empty; a scenario is a YAML mapping")])
    if not isinstance(doc, dict):
        raise ScenarioError(
            str(path), [("", f"a scenario is a YAML mapping, got {type(doc).__name__}")]
        )
    return doc


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base``, mapping by mapping (lists are replaced)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _resolve_data_paths(doc: dict[str, Any], folder: Path) -> None:
    """Make a relative ``population.from_csv`` absolute, against ``folder`` (in place)."""
    pop = doc.get("population")
    if isinstance(pop, dict) and isinstance(pop.get("from_csv"), str) and pop["from_csv"]:
        csv_path = Path(pop["from_csv"]).expanduser()
        if not csv_path.is_absolute():
            pop["from_csv"] = str((folder / csv_path).resolve())


def _load_with_extends(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ScenarioError(str(path), [("extends", f"extends itself in a cycle: {cycle}")])
    doc = _read_document(path)
    _resolve_data_paths(doc, path.parent)
    parent_ref = doc.pop("extends", None)
    if parent_ref is None:
        return doc
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ScenarioError(
            str(path), [("extends", f"must be a preset name or a path, got {parent_ref!r}")]
        )
    parent_path = _resolve_ref(parent_ref, path.parent)
    parent = _load_with_extends(parent_path, (*chain, resolved))
    return deep_merge(parent, doc)


def apply_overrides(
    doc: dict[str, Any], overrides: list[str] | None, source: str
) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` overrides (dotted key, YAML value) to a copy of a scenario mapping."""
    out = copy.deepcopy(doc)
    for item in overrides or []:
        if "=" not in item:
            raise ScenarioError(source, [("--set", f"expected KEY=VALUE, got {item!r}")])
        key, _, text = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise ScenarioError(source, [("--set", f"invalid key {key!r}")])
        value = parse_yaml(text, f"--set {key}")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ScenarioError(source, [(key, f"{where} is a value, not a mapping")])
            node = child
        node[parts[-1]] = value
    return out


def fill_defaults(doc: dict[str, Any], filled: set[str] | None = None) -> dict[str, Any]:
    """Fill what depends on other keys: the default segment and per-segment inherited values.

    Runs after overrides and before validation, so ``--set churn.monthly.alpha=..`` reaches every
    segment that does not override it, and ``resolved.yaml`` shows each value actually used.
    """
    out = deep_merge(_DEFAULTS, doc) if isinstance(doc, dict) else copy.deepcopy(doc)
    pop = out.setdefault("population", {})
    if not isinstance(pop, dict):
        return out  # validation reports it
    mrr = pop.get("mrr", Population.model_fields["mrr"].default)
    if pop.get("segments") is None:
        pop["segments"] = {"all": {"share": 1.0, "plans": {"standard": mrr}}}
    segments = pop["segments"]
    if not isinstance(segments, dict):
        return out
    churn = out.get("churn") if isinstance(out.get("churn"), dict) else {}
    sat = out.get("satisfaction") if isinstance(out.get("satisfaction"), dict) else {}
    contracts = out.get("contracts") if isinstance(out.get("contracts"), dict) else {}
    defaults = ChurnConfig()
    for seg_name, seg in segments.items():
        if not isinstance(seg, dict):
            continue
        seg_churn = seg.setdefault("churn", {}) or {}
        seg["churn"] = seg_churn
        if isinstance(seg_churn, dict):
            for kind in ("monthly", "annual"):
                base = churn.get(kind) or getattr(defaults, kind).model_dump()
                if isinstance(seg_churn.get(kind), dict) and isinstance(base, dict):
                    seg_churn[kind] = deep_merge(base, seg_churn[kind])
                if seg_churn.get(kind) is None:
                    seg_churn[kind] = copy.deepcopy(base)
                    if filled is not None:
                        filled.add(f"population.segments.{seg_name}.churn.{kind}")
        if seg.get("fit") is None:
            seg["fit"] = copy.deepcopy(sat.get("fit") or Satisfaction().fit.model_dump())
            if filled is not None:
                filled.add(f"population.segments.{seg_name}.fit")
        if seg.get("annual_share") is None:
            seg["annual_share"] = contracts.get(
                "annual_share", Contracts.model_fields["annual_share"].default
            )
        if seg.get("plans") is None:
            seg["plans"] = {"standard": mrr}
            if filled is not None:
                filled.add(f"population.segments.{seg_name}.plans")
        plans = seg.get("plans")
        if isinstance(plans, dict) and plans and seg.get("plan_mix") is None:
            first = next(iter(plans))
            seg["plan_mix"] = {p: (1.0 if p == first else 0.0) for p in plans}
    return out


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _dict_value_model(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *(getattr(annotation, "__args__", ()) or ())):
        if getattr(arg, "__origin__", None) is dict:
            value = arg.__args__[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                return value
    return None


def _owner_model(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Model owning the last key of ``loc``, skipping dict keys (segment names)."""
    model: type[BaseModel] = Scenario
    i = 0
    while i < len(loc):
        part = loc[i]
        if i == len(loc) - 1:
            return model
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        value_model = _dict_value_model(field.annotation)
        if value_model is not None:
            model = value_model
            i += 2  # skip the dict key
            if i >= len(loc):
                return None
            continue
        inner = _inner_model(field.annotation)
        if inner is not None:
            model = inner
            i += 1
            continue
        return None
    return model


_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} characters",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "literal_error": "must be {expected}",
}


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    template = _MESSAGES.get(kind)
    if template is not None:
        try:
            msg = template.format(**(err.get("ctx") or {}))
        except (KeyError, IndexError):
            msg = err["msg"]
        return f"{msg}, got {err.get('input')!r}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if kind == "missing":
        return "required"
    return f"{msg}, got {err.get('input')!r}"


def _format_errors(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(p) for p in loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _owner_model(loc)
            allowed = sorted(owner.model_fields) if owner else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"unknown key{hint}; allowed: {', '.join(allowed)}"
        else:
            msg = _message(err)
        problems.append((key, msg))
    return problems


def validate(doc: Any, source: str) -> Scenario:
    """Fill defaults and validate a scenario mapping, or raise :class:`ScenarioError`."""
    if not isinstance(doc, dict):
        raise ScenarioError(
            source, [("", f"a scenario is a YAML mapping, got {type(doc).__name__}")]
        )
    doc = dict(doc)
    doc.pop("extends", None)
    filled: set[str] = set()
    try:
        scenario = Scenario.model_validate(fill_defaults(doc, filled))
        scenario._source_doc = copy.deepcopy(doc)
        return scenario
    except ValidationError as exc:
        problems = [
            (key, msg)
            for key, msg in _format_errors(exc)
            if not any(key == f or key.startswith(f + ".") for f in filled)
        ]
        raise ScenarioError(source, problems or _format_errors(exc)) from None
    except (TypeError, AttributeError) as exc:  # pragma: no cover - defensive
        raise ScenarioError(source, [("", f"malformed scenario: {exc}")]) from None


def load_scenario(
    ref: str | Path | dict[str, Any] | Scenario, overrides: list[str] | None = None
) -> Scenario:
    """Load a scenario from a YAML path, a preset name, a mapping or a Scenario.

    ``overrides`` are ``"dotted.key=YAML value"`` strings applied after ``extends:`` and before
    defaults are filled and the result validated.
    """
    if isinstance(ref, Scenario):
        if not overrides:
            return ref
        source = ref.name
        # overrides reach inherited segment values only through the document the scenario was
        # loaded from (before defaults were filled), if the scenario is unchanged since
        doc = ref._source_doc
        if doc is None or validate(doc, source) != ref:
            doc = ref.model_dump(mode="python")
        doc = copy.deepcopy(doc)
    elif isinstance(ref, dict):
        _check_depth(ref, "<mapping>")
        doc, source = copy.deepcopy(ref), "<mapping>"
        parent_ref = doc.pop("extends", None)
        if parent_ref is not None:
            doc = deep_merge(_load_with_extends(_resolve_ref(str(parent_ref), None)), doc)
    else:
        path = _resolve_ref(str(ref), None)
        doc, source = _load_with_extends(path), str(ref)
    doc = apply_overrides(doc, overrides, source)
    _resolve_data_paths(doc, Path.cwd())  # a path given by --set or a mapping: from here
    return validate(doc, source)


def to_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (loading it again gives the same scenario)."""
    return yaml.safe_dump(
        scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
    )


def scenario_hash(scenario: Scenario) -> str:
    """A stable SHA-256 of the resolved scenario (its canonical JSON)."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
