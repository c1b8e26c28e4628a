"""Seat-based expansion (``seats``): accounts priced per seat, whose seats grow and shrink each
month with the customer's use and headcount (the mechanism: :mod:`simlib.model.seats`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import PositiveParam, Probability, SegmentName, Strict

__all__ = ["Seats"]

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Effect = Annotated[float, Field(ge=-20.0, le=20.0)]


class Seats(Strict):
    """Seats per account and their monthly birth-death process (off by default).

    An account of ``size`` x (the reference account) starts with
    ``max(1, round(size x reference_seats))`` seats; its price per seat is its MRR at arrival
    over those seats, so turning seats on leaves every arrival's MRR as it was. Each month seats
    are added ~ Poisson(seats x add_rate x g) and removed ~ Poisson(seats x remove_rate / g)
    (at least one seat is kept), with ``g = exp(satisfaction_effect x (satisfaction -
    satisfaction_reference) + usage_effect x (usage share - usage_reference))``.
    """

    enabled: bool = Field(default=False, description="price accounts per seat and move seats")
    segments: list[SegmentName] | None = Field(
        default=None,
        description="segments whose plans are priced per seat (unset: every segment)",
    )
    reference_seats: PositiveParam = Field(
        default=10.0,
        description=(
            "seats of an account of size 1 (seats at arrival = max(1, round(size x this)); "
            "the price per seat is the arrival MRR over the seats)"
        ),
    )
    add_rate: Rate = Field(
        default=0.008,
        description="seats added per seat per month at the reference levels (0.008: ~10 %/year)",
    )
    remove_rate: Rate = Field(
        default=0.003,
        description="seats removed per seat per month at the reference levels (~3.5 %/year)",
    )
    satisfaction_effect: Effect = Field(
        default=1.0,
        description=(
            "log change of the add rate (and minus that of the remove rate) per unit of "
            "satisfaction above satisfaction_reference"
        ),
    )
    satisfaction_reference: Probability = Field(
        default=0.5, description="satisfaction at which the rates are add_rate and remove_rate"
    )
    usage_effect: Effect = Field(
        default=0.0,
        description=(
            "log change of the add rate (minus that of the remove rate) per unit of usage share "
            "(usage / plan limit) above usage_reference; read only when usage is on"
        ),
    )
    usage_reference: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.5, description="usage share (usage / plan limit) at the reference rates"
    )
    annual_removals: Literal["at_renewal", "monthly"] = Field(
        default="at_renewal",
        description=(
            "at_renewal: an annual contract sheds seats only at its renewal (the year's "
            "removals at once, Poisson with 12 x the monthly mean); monthly: like a monthly one"
        ),
    )
