"""B2B deals: approval chains and discretionary budgets (``approval``, ``budget``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import NonNegative, PositiveParam, Probability, SegmentName, Strict

__all__ = ["Approval", "Budget"]


class Approval(Strict):
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


class Budget(Strict):
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
    displace_probability: Probability = Field(
        default=0.0,
        description=(
            "chance that an approved deal which does not fit the budget left displaces other "
            "spending and lands at once, using up what is left (keyed stream budget_displace); "
            "otherwise on_shortfall decides; 0 = never"
        ),
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
