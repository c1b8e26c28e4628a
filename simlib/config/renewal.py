"""Renewals and churn: contract types and the per-renewal churn risk (``contracts``,
``churn``)."""

from __future__ import annotations

from pydantic import Field

from .base import BetaDist, NonNegative, Probability, Strict

__all__ = ["ChurnConfig", "ContractChurn", "Contracts"]


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


class ChurnConfig(ContractChurn):
    """Churn: heterogeneous base risk plus the links to satisfaction and champion loss."""

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
