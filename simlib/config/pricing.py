"""A list-price rise at renewal, with grandfathering (``pricing``; the mechanism:
:mod:`simlib.model.pricing`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import MAX_HORIZON, Probability, Strict

__all__ = ["Pricing"]


class Pricing(Strict):
    """Yearly list-price rises, repricing at renewal, grandfathering and the churn it adds.

    At months ``first_month, first_month + 12, ...`` (the price dates) every list price is
    multiplied by ``1 + pct``. An account moves to the list level of the new term at its next
    renewal (a monthly contract at the end of the month, an annual one at its anniversary),
    unless it is grandfathered; accounts arriving after a price date start at the new level.
    A renewal that moves the price adds ``churn_elasticity x log(new / old price)`` to the
    log-odds of churn at that renewal (the ``price_rise`` churn-odds term).
    """

    enabled: bool = Field(default=False, description="raise list prices at the price dates")
    pct: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.0, description="list-price rise at each price date, as a share (0.05 = 5 %)"
    )
    first_month: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=12, description="month of the first price date; then every 12 months"
    )
    grandfather_share: Probability = Field(
        default=0.0,
        description="share of accounts (a keyed draw per account) that keep their price",
    )
    grandfather_signed_before: Annotated[int, Field(ge=-MAX_HORIZON, le=MAX_HORIZON)] | None = (
        Field(
            default=None,
            description="accounts that started before this month keep their price (unset: none)",
        )
    )
    grandfather_months: Annotated[int, Field(ge=0, le=MAX_HORIZON)] = Field(
        default=12,
        description=(
            "months from a price date during which grandfathered accounts keep their price; "
            "they move at their first renewal after that"
        ),
    )
    churn_elasticity: Annotated[float, Field(ge=0.0, le=50.0)] = Field(
        default=2.5,
        description=(
            "log-odds of churn added per unit of log(new price / old price) at the renewal "
            "that moves the price (2.5: a 10 % rise multiplies the churn odds by about 1.27)"
        ),
    )
