"""Margin, discounting and currency, and the extra figures a run records (``economics``,
``reporting``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import NonNegative, Probability, SegmentName, Strict

__all__ = ["Economics", "Reporting"]


class Economics(Strict):
    """Margin, discounting and currency."""

    gross_margin: Probability = Field(
        default=0.8, description="share of revenue kept as gross margin (0-1)"
    )
    annual_discount_rate: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.1, description="yearly discount rate for LTV (0.1 = 10 % a year)"
    )
    currency: str = Field(default="USD", max_length=16, description="currency label of figures")
    cac: dict[SegmentName, NonNegative] = Field(
        default_factory=dict,
        description=(
            "cost of acquiring one account, by segment (currency per account arriving in the "
            "simulation, month 1 on; referrals included); a segment not named costs 0. Read "
            "by the figures cac_total, payback_months and ltv_cac only"
        ),
    )


class Reporting(Strict):
    """Extra figures recorded during a run (they change no outcome, only the tables)."""

    opening_cohort: bool = Field(
        default=False,
        description=(
            "record each month the opening book's (accounts alive at month 0) accounts alive "
            "and revenue by segment, as monthly columns opening_accounts.SEGMENT and "
            "opening_revenue.SEGMENT (currency per month); used by simlib.lab"
        ),
    )
