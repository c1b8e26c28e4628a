"""Customer-success coverage: tiers, the CSM team, touches, alerts and requests (``coverage``).

``coverage.policy`` names a plug-in; it stays a string here and is checked against the
registered coverage policies at the runtime boundary (:func:`simlib.plugins.check_plugins`).
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import Field, model_validator

from .base import MAX_HORIZON, NonNegative, Probability, Strict

__all__ = [
    "Alerts",
    "CSMTeam",
    "Capacity",
    "Coverage",
    "Digital",
    "Growth",
    "Requests",
    "TechTier",
    "TierName",
    "TierRule",
    "TierShares",
    "TierThresholds",
    "Tiers",
    "TouchTier",
]


TierName = Literal["high", "low", "tech", "none"]


class TouchTier(Strict):
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


class TechTier(Strict):
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


class Tiers(Strict):
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


class TierShares(Strict):
    high: Probability = Field(default=0.05, description="share of the book in high touch")
    low: Probability = Field(default=0.25, description="share of the book in low touch")

    @model_validator(mode="after")
    def _check_total(self) -> TierShares:
        if self.high + self.low > 1.0 + 1e-9:
            raise ValueError(f"high + low shares must be at most 1, got {self.high + self.low:g}")
        return self


class TierThresholds(Strict):
    high: NonNegative | None = Field(
        default=None, description="score (ARR or LTV potential, currency) from which high touch"
    )
    low: NonNegative | None = Field(default=None, description="score from which low touch")


class TierRule(Strict):
    """One rule of a policy defined in YAML: the first rule an account matches sets its tier."""

    tier: TierName = Field(description="tier given by this rule")
    segments: list[str] | None = Field(default=None, description="segments it applies to")
    min_arr: NonNegative = Field(default=0.0, description="lowest ARR it applies to (currency)")
    max_arr: NonNegative | None = Field(default=None, description="ARR below which it applies")


class CSMTeam(Strict):
    """The CSM team: people with limited hours."""

    count: Annotated[int, Field(ge=0, le=100_000)] = Field(default=10, description="CSMs")
    hours_per_week: Annotated[float, Field(gt=0.0, le=168.0)] = Field(
        default=30.0, description="working hours per CSM per week for accounts"
    )
    cost_per_month: NonNegative = Field(
        default=8000.0, description="fully loaded cost of one CSM (currency per month)"
    )


class Alerts(Strict):
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
        default_factory=lambda: cast("list[TierName]", ["high", "low"]),
        description="tiers whose accounts can alert",
    )


class Requests(Strict):
    """Reactive work: requests from covered accounts arriving as a Poisson process."""

    per_month: NonNegative = Field(default=0.0, description="mean requests per month (team-wide)")
    hours: Annotated[float, Field(gt=0.0, le=100.0)] = Field(
        default=0.5, description="mean CSM hours per request"
    )
    distribution: Literal["exponential", "fixed"] = Field(
        default="exponential", description="distribution of the hours a request takes"
    )


class Capacity(Strict):
    """The ``by_capacity`` policy: the team's hours decide how many accounts get a CSM."""

    planned_share: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.8,
        description=(
            "share of the CSMs' weekly hours planned for scheduled touches; the rest is left "
            "for alerts and requests"
        ),
    )


class Growth(Strict):
    """LTV potential recomputed at each re-assignment from the account as it is now."""

    enabled: bool = Field(
        default=False,
        description=(
            "recompute LTV potential from current MRR, usage and satisfaction at each "
            "re-assignment (off: from the top plan and the account's size, fixed at arrival)"
        ),
    )
    health_effect: Annotated[float, Field(ge=0.0, le=50.0)] | None = Field(
        default=None,
        description=(
            "log-odds of churn per unit of satisfaction the account manager assumes when "
            "projecting an account's lifetime; unset: churn.satisfaction_effect"
        ),
    )


class Digital(Strict):
    """A pooled digital-CS queue that works the health alerts of tech-touch accounts."""

    hours_per_week: Annotated[float, Field(ge=0.0, le=100_000.0)] = Field(
        default=0.0,
        description="hours the digital-CS pool works a week (0 = no pool, tech touch never alerts)",
    )
    hours_per_alert: Annotated[float, Field(gt=0.0, le=100.0)] | None = Field(
        default=None, description="hours the pool spends on one alert; unset: alerts.hours"
    )
    cost_per_hour: NonNegative | None = Field(
        default=None,
        description=(
            "cost of one pool hour (currency); unset: a CSM's hour (csm.cost_per_month over "
            "the CSM's hours in a month)"
        ),
    )


class Coverage(Strict):
    """Customer-success coverage: tiers by a named policy, a CSM team, touches, alerts."""

    policy: str = Field(
        default="none",
        description=(
            "coverage policy by name: none, uniform_low_touch, tech_touch_only, tiered_by_arr, "
            "tiered_by_ltv_potential, by_capacity, rules (the `rules` list), or one registered "
            "in Python"
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
    capacity: Capacity = Field(
        default_factory=Capacity, description="the by_capacity policy's planning of hours"
    )
    growth: Growth = Field(
        default_factory=Growth, description="LTV potential that moves with the account"
    )
    digital: Digital = Field(
        default_factory=Digital, description="a digital-CS pool for tech-touch alerts"
    )

    @model_validator(mode="after")
    def _check_policy(self) -> Coverage:
        # whether the policy is registered is checked at the runtime boundary (simlib.plugins)
        if self.policy == "rules" and not self.rules:
            raise ValueError("policy 'rules' needs a non-empty `rules` list")
        th = self.thresholds
        if self.policy == "by_capacity" and (th.high is not None or th.low is not None):
            raise ValueError(
                "policy 'by_capacity' ranks by shares of the book (coverage.shares); "
                "unset coverage.thresholds or choose tiered_by_ltv_potential"
            )
        return self
