"""Product usage as a share of the plan limit (``usage``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import BetaDist, Strict

__all__ = ["Usage"]


class Usage(Strict):
    """Usage of each account as a share of its plan limit (1 = at the limit).

    Monthly: usage <- usage x exp(growth_per_month + satisfaction_effect x (satisfaction - fit)
    - engagement_effect x (1 - engagement) + volatility x N(0, 1)), kept within [0.01, 3]; an
    irrelevant offer cuts it (fatigue); an upgrade divides it by the ratio of the new limit to
    the old. The usage that unwanted offers took away raises churn (churn_effect).
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
    engagement_effect: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.0,
        description=(
            "log growth of usage lost per month per unit of engagement lost to unwanted offers "
            "(offers.fatigue.engagement_drop); 0 = engagement does not move usage"
        ),
    )
    churn_effect: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=0.0,
        description=(
            "log-odds of churn added per unit of log usage that unwanted offers took away "
            "(fatigue cuts and the engagement drag; the lost_usage churn-odds term); 0 = none"
        ),
    )
