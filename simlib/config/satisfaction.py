"""How customers feel and what follows from it: satisfaction, champion turnover and loyalty
stages with referrals (``satisfaction``, ``champion``, ``loyalty``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from .base import MAX_HORIZON, BetaDist, Probability, Strict

__all__ = ["Champion", "Loyalty", "LoyaltyStage", "Satisfaction"]


class Satisfaction(Strict):
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
    observation_noise: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.0,
        description=(
            "standard deviation (0-1 scale) of the measurement noise of the health score a CRM "
            "records, in the panel of simlib run --panel only: health = satisfaction + noise x "
            "N(0, 1), kept in [0, 1]; it never changes the simulation; 0 = the true level"
        ),
    )


class Champion(Strict):
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


class LoyaltyStage(Strict):
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


class Loyalty(Strict):
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
