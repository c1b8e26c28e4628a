"""Renewals and churn: contract types and the per-renewal churn risk (``contracts``,
``churn``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import BetaDist, NonNegative, Probability, Strict

__all__ = ["ChurnConfig", "ContractChurn", "Contracts", "TenureProfile"]

#: A shift of the log-odds of churn; |20| already moves a probability of 0.5 to 2e-9 or 1 - 2e-9.
LogOdds = Annotated[float, Field(ge=-20.0, le=20.0)]


class ContractChurn(Strict):
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


class TenureProfile(Strict):
    """Early-life churn: log-odds of churn added at the first renewals of an account.

    ``monthly[n - 1]`` is added at monthly renewal ``n`` (n = 1 at the end of the first month),
    ``annual[n - 1]`` at annual renewal ``n``; from the renewal after the last entry on nothing is
    added, so Beta(alpha, beta) is the churn risk of a seasoned account. A positive entry makes
    the hazard rise over the first renewals (onboarding that did not take, trials ending), which
    the shifted-beta-geometric model alone cannot do. Empty lists (the default) change nothing.
    See :mod:`simlib.model.tenure` for how the renewal number is counted.
    """

    monthly: list[LogOdds] = Field(
        default_factory=list,
        max_length=120,
        description="log-odds of churn added at monthly renewals 1, 2, ... (0 after the list)",
    )
    annual: list[LogOdds] = Field(
        default_factory=list,
        max_length=10,
        description="log-odds of churn added at annual renewals 1, 2, ... (0 after the list)",
    )
    onboarding_completion: Probability = Field(
        default=0.0,
        description=(
            "probability per month that an account's onboarding completes; from the month it "
            "completes on, its renewals get the later-tenure odds (nothing added); 0 = never "
            "sooner than the profile says"
        ),
    )
    onboarding_touch_effect: NonNegative = Field(
        default=0.0,
        description=(
            "how much a month with a CS touch (a CSM touch, a served alert or a tech-touch "
            "campaign, as the coverage actor counts them) raises that month's hazard of "
            "completing onboarding: -log(1 - onboarding_completion) x (1 + this); 0 = touches "
            "do not speed onboarding (simlib.model.tenure)"
        ),
    )

    @property
    def active(self) -> bool:
        """Whether any entry moves the odds (all zeros or empty: the term is off)."""
        return any(v != 0.0 for v in (*self.monthly, *self.annual))


class ChurnConfig(ContractChurn):
    """Churn: heterogeneous base risk plus the links to satisfaction, tenure and champion loss."""

    tenure_profile: TenureProfile = Field(
        default_factory=TenureProfile,
        description="early-life churn: log-odds added at the first renewals (off by default)",
    )

    satisfaction_effect: NonNegative = Field(
        default=0.0,
        description=(
            "log-odds of churn added per unit (0-1 scale) that satisfaction lies below the "
            "account's product fit, and removed per unit above it; 0 = no link"
        ),
    )
    satisfaction_reference: Probability | None = Field(
        default=None,
        description=(
            "null: the satisfaction link measures the gap to each account's product fit "
            "(unobservable); a number (0-1): to this one reference health level for every "
            "account, satisfaction_effect x (reference - satisfaction), which a churn model on "
            "CRM health scores can fit (simlib.model.satisfaction)"
        ),
    )


class Contracts(Strict):
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
