"""Offers: the add-on catalogue, the kinds of offer and how offers are received (``offers``).

Each built-in kind has a spec model of its own, chosen by its key under ``offers.kinds``:
every kind has the targeting, channel and acceptance keys of :class:`OfferKindSpec`;
``upsell`` adds ``target_plans`` (:class:`UpsellSpec`), ``downsell`` adds ``target_plans`` and
its save terms ``mode``, ``discount``, ``discount_months``, ``risk_multiplier``
(:class:`DownsellSpec`), ``term_conversion`` adds ``keep_risk`` (:class:`TermConversionSpec`);
``cross_sell`` adds nothing. A key of another
kind is an error naming the allowed keys, except one holding exactly the value it had in the
single model of earlier versions (a resolved.yaml written by them), which is dropped.

A kind registered in Python (``simlib.model.offers.register_offer_kind``) is validated as
:class:`CustomOfferKindSpec`, which has every key of the built-in kinds, unless its module puts a
model of its own (a subclass of :class:`OfferKindSpec` with ``target_plans``) into
:data:`OFFER_KIND_SPECS`. Whether a kind is registered is checked at the runtime boundary
(:func:`simlib.plugins.check_plugins`), not here.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, SerializeAsAny, model_validator

from .base import MAX_HORIZON, ByKey, NonNegative, Probability, SegmentName, Strict
from .coverage import TierName

__all__ = [
    "BUILTIN_OFFER_KINDS",
    "OFFER_KIND_SPECS",
    "Addon",
    "AddonCancellation",
    "CrossSellSpec",
    "CustomOfferKindSpec",
    "DownsellSpec",
    "Fatigue",
    "Intent",
    "Moments",
    "OfferKindSpec",
    "Offers",
    "TermConversionSpec",
    "UpsellSpec",
]


class Addon(Strict):
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


#: A shift of the log-odds of acceptance (|20| moves 0.5 to 2e-9 or 1 - 2e-9)
LogOddsShift = Annotated[float, Field(ge=-20.0, le=20.0)]

# Keys whose default differs between kinds (the spec model of each kind sets its own)
BaseIntent = Annotated[
    float,
    Field(ge=-50.0, le=50.0, description="log-odds of accepting before the terms of offers.intent"),
]
Timing = Annotated[
    Literal["random", "renewal", "before_renewal", "usage_spike", "onboarding", "request"],
    Field(
        description=(
            "random: any month; renewal: the month ending in the account's renewal (every month "
            "on a monthly contract); before_renewal: within days_before_renewal of it; "
            "usage_spike: the month usage first reaches usage.near_limit; onboarding: the month "
            "onboarding completes (tenure = min_tenure_months; where "
            "churn.tenure_profile.onboarding_completion > 0, the month after the account's "
            "onboarding completed); request: a month the account asks about features "
            "(offers.moments.request_rate)"
        )
    ),
]
MonthlyRate = Annotated[
    Probability, Field(description="chance per month that a targeted account gets the offer")
]
MinTenure = Annotated[
    int,
    Field(ge=0, le=MAX_HORIZON, description="months since the account started (onboarding done)"),
]
Cooldown = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_HORIZON,
        description="months between two offers to the same account (any kind)",
    ),
]


class OfferKindSpec(Strict):
    """One kind of offer: who gets it, when, through which channel, and how it is received.

    Targeting (all must hold): alive; tenure >= ``min_tenure_months`` (onboarding done);
    satisfaction >= ``min_satisfaction``; usage >= ``usage.near_limit`` when
    ``require_usage_near_limit``; segment in ``segments`` and tier in ``tiers`` when given; no
    offer within ``cooldown_months``; fewer than ``max_per_year`` offers this simulation year; no
    deal in approval; the ``timing`` holds; then a keyed draw below ``monthly_rate``.

    The keys every kind has; each kind's model (see the module docstring) adds its own.
    """

    enabled: bool = Field(default=False, description="switch this kind of offer on")
    base_intent: BaseIntent = -4.0
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
    timing: Timing = "random"
    days_before_renewal: Annotated[float, Field(ge=0.0, le=365.0)] = Field(
        default=60.0, description="window before a renewal for timing before_renewal (days)"
    )
    monthly_rate: MonthlyRate = 0.2
    min_satisfaction: Probability = Field(
        default=0.0, description="lowest satisfaction (health score) targeted"
    )
    require_usage_near_limit: bool = Field(
        default=False, description="target only accounts with usage >= usage.near_limit"
    )
    min_tenure_months: MinTenure = 3
    segments: list[SegmentName] | None = Field(
        default=None, description="segments targeted (default: all)"
    )
    tiers: list[TierName] | None = Field(
        default=None, description="CS tiers targeted (default: all)"
    )
    cooldown_months: Cooldown = 3
    max_per_year: Annotated[int, Field(ge=0, le=120)] = Field(
        default=4, description="most offers to one account per simulation year (any kind)"
    )


class _PlanTargets(Strict):
    """Kinds that move an account to another plan of its ladder."""

    target_plans: list[str] | None = Field(
        default=None,
        description=(
            "upsell / downsell: plans the offer may move an account to (default: any); an "
            "account is offered the next plan up (down) that is in this list"
        ),
    )


class _SaveTerms(Strict):
    """What a save offer (made to an account about to churn) gives and what it changes."""

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


class UpsellSpec(_PlanTargets, OfferKindSpec):
    """``offers.kinds.upsell``: the next plan up (among ``target_plans``)."""


class CrossSellSpec(OfferKindSpec):
    """``offers.kinds.cross_sell``: an add-on not owned (picked as ``offers.recommendation``)."""

    #: moves no plan (the engine's plan mask reads it for every kind: any plan)
    target_plans: ClassVar[None] = None


class DownsellSpec(_SaveTerms, _PlanTargets, OfferKindSpec):
    """``offers.kinds.downsell``: a save offer to an account about to churn, the next plan down
    (among ``target_plans``) or a discount."""

    base_intent: BaseIntent = -1.5
    monthly_rate: MonthlyRate = 1.0
    min_tenure_months: MinTenure = 0
    cooldown_months: Cooldown = 6


class TermConversionSpec(OfferKindSpec):
    """``offers.kinds.term_conversion``: monthly to annual at ``contracts.annual_discount``."""

    #: moves no plan (the engine's plan mask reads it for every kind: any plan)
    target_plans: ClassVar[None] = None

    base_intent: BaseIntent = -3.0
    timing: Timing = "renewal"
    keep_risk: bool = Field(
        default=False,
        description=(
            "false: a converted account takes its quantile of the annual contracts' churn "
            "distribution (the annual book's self-selection treated as caused by the contract); "
            "true: it keeps its own latent monthly churn risk r, now faced once a year at its "
            "renewal as 1 - (1 - r)^12, so conversion changes churn opportunities and price only"
        ),
    )


class CustomOfferKindSpec(_SaveTerms, _PlanTargets, OfferKindSpec):
    """A kind registered in Python: every key of the built-in kinds, their defaults."""


#: The kinds every scenario has (all off by default), in the order the engine offers them.
BUILTIN_OFFER_KINDS: tuple[str, ...] = ("upsell", "cross_sell", "downsell", "term_conversion")

#: The spec model of each kind by name; any other name gets :class:`CustomOfferKindSpec`.
OFFER_KIND_SPECS: dict[str, type[OfferKindSpec]] = {
    "upsell": UpsellSpec,
    "cross_sell": CrossSellSpec,
    "downsell": DownsellSpec,
    "term_conversion": TermConversionSpec,
}

#: Keys of the single model of earlier versions that a kind without them may still carry, with
#: exactly the value written there (they are dropped).
_TOLERATED = {
    name: field.default
    for name, field in CustomOfferKindSpec.model_fields.items()
    if name not in OfferKindSpec.model_fields
}

OfferKinds = Annotated[
    dict[str, SerializeAsAny[OfferKindSpec]],
    ByKey(OFFER_KIND_SPECS, CustomOfferKindSpec, _TOLERATED),
]


def _default_kinds() -> dict[str, OfferKindSpec]:
    return {name: OFFER_KIND_SPECS[name]() for name in BUILTIN_OFFER_KINDS}


class Intent(Strict):
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


class Moments(Strict):
    """Timing of an offer, apart from its relevance: log-odds of acceptance added for the
    moment it is made (simlib.model.engagement). Every moment that holds adds its term; an
    offer made at none of them (a random month) gets ``off_moment``. All 0 by default (today's
    acceptance). Save offers (downsell) are made at the account's renewal and get none."""

    renewal: LogOddsShift = Field(
        default=0.0,
        description=(
            "log-odds added within renewal_window_months of an annual contract's renewal (the "
            "renewal month included; a monthly contract renews every month: no moment)"
        ),
    )
    renewal_window_months: Annotated[int, Field(ge=1, le=12)] = Field(
        default=2, description="months of the renewal moment, the renewal month included"
    )
    near_limit: LogOddsShift = Field(
        default=0.0, description="log-odds added while usage >= usage.near_limit"
    )
    onboarding: LogOddsShift = Field(
        default=0.0,
        description=(
            "log-odds added in the onboarding_window_months from the month onboarding completes "
            "(tenure = the kind's min_tenure_months; where "
            "churn.tenure_profile.onboarding_completion > 0, in the onboarding_window_months "
            "after the account's onboarding completed)"
        ),
    )
    onboarding_window_months: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=1, description="months of the onboarding moment"
    )
    request: LogOddsShift = Field(
        default=0.0, description="log-odds added in a month the account asks about features"
    )
    request_rate: Probability = Field(
        default=0.0,
        description=(
            "chance per month that an account asks about features (keyed stream "
            "feature_request); 0 = never"
        ),
    )
    off_moment: LogOddsShift = Field(
        default=0.0,
        description="log-odds added to an offer made at none of the moments above (<= 0: worse)",
    )

    def any_set(self) -> bool:
        """Whether any moment moves acceptance (all 0: the term is skipped)."""
        return any(
            v != 0.0
            for v in (self.renewal, self.near_limit, self.onboarding, self.request, self.off_moment)
        )


class Fatigue(Strict):
    """What unwanted offers cost: irrelevant ones (relevance below offers.relevance_threshold,
    accepted or not), declined ones, and declined ones made at no good moment
    (offers.moments). Each drop is multiplied by 1 + frequency_effect x the offers the account
    received before, each weighted 0.5 ^ (months ago / frequency_half_life_months)."""

    satisfaction_drop: Probability = Field(
        default=0.05, description="fall in satisfaction (0-1 scale) per irrelevant offer"
    )
    usage_drop: Probability = Field(
        default=0.05, description="share of usage lost per irrelevant offer (fewer logins)"
    )
    declined_satisfaction_drop: Probability = Field(
        default=0.0, description="fall in satisfaction (0-1 scale) per declined offer"
    )
    off_moment_satisfaction_drop: Probability = Field(
        default=0.0,
        description=(
            "further fall in satisfaction per declined offer made at none of offers.moments "
            "(badly timed)"
        ),
    )
    engagement_drop: Probability = Field(
        default=0.0,
        description=(
            "share of engagement (logins, visits; 1 = full) lost per unwanted offer (irrelevant, "
            "declined or badly timed); engagement drags usage (usage.engagement_effect)"
        ),
    )
    engagement_recovery: Probability = Field(
        default=0.1, description="share of lost engagement regained per month"
    )
    frequency_effect: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=0.0,
        description="rise of every drop per recent offer received (0 = drops do not grow)",
    )
    frequency_half_life_months: Annotated[float, Field(gt=0.0, le=MAX_HORIZON)] = Field(
        default=6.0, description="months after which an offer weighs half in the count"
    )


class AddonCancellation(Strict):
    """Owned add-ons are cancelled (contraction MRR from the next month): each month with
    P = logistic(logit(monthly_rate) + relevance_effect x (0.5 - relevance)), the add-on's
    relevance to the account's segment; monthly_rate 0 (the default): never."""

    monthly_rate: Probability = Field(
        default=0.0,
        description="chance per month that an owned add-on of relevance 0.5 is cancelled",
    )
    relevance_effect: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=4.0,
        description=(
            "log-odds of cancelling per unit of relevance below 0.5 (the scale of "
            "offers.intent.relevance_to_intent)"
        ),
    )


class Offers(Strict):
    """Offers: the add-on catalogue, the kinds of offer (by name) and how offers are received."""

    kinds: OfferKinds = Field(
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
    moments: Moments = Field(default_factory=Moments)
    fatigue: Fatigue = Field(default_factory=Fatigue)
    addon_cancellation: AddonCancellation = Field(default_factory=AddonCancellation)
    scaled_prices: bool = Field(
        default=False,
        description=(
            "true: a plan step or an add-on costs list price x size x seats now over seats at "
            "arrival x the list level the account pays (seats and pricing blocks), and a "
            "cancelled add-on removes that; false: list price x size, as before (both are the "
            "same while seats and price rises are off)"
        ),
    )

    @model_validator(mode="after")
    def _check_addons(self) -> Offers:
        # whether each kind is registered is checked at the runtime boundary (simlib.plugins)
        if len(self.addons) > 63:
            raise ValueError(f"at most 63 add-ons, got {len(self.addons)}")
        return self

    def any_enabled(self) -> bool:
        return any(k.enabled for k in self.kinds.values())
