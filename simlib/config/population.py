"""The opening book and new accounts: segments (plan ladders, sizes, per-segment overrides),
the population and acquisition (``population``, ``acquisition``)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import (
    MAX_ACCOUNTS,
    MAX_HORIZON,
    BetaDist,
    NonNegative,
    PositiveParam,
    Probability,
    Strict,
)
from .renewal import TenureProfile

__all__ = ["Acquisition", "Population", "Segment", "SegmentChurn"]


class SegmentChurn(Strict):
    """Per-segment override of the churn Beta distributions and of the tenure profile (unset:
    the scenario's ``churn``; a partial mapping is merged over it, key by key)."""

    monthly: BetaDist | None = Field(default=None, description="override of churn.monthly")
    annual: BetaDist | None = Field(default=None, description="override of churn.annual")
    tenure_profile: TenureProfile | None = Field(
        default=None,
        description=(
            "override of churn.tenure_profile for this segment's accounts (early-life churn: "
            "log-odds added at the first renewals, onboarding completion); unset: the "
            "scenario-wide profile"
        ),
    )


class Segment(Strict):
    """A segment of the book: its share, its plan ladder, account sizes and overrides."""

    share: Probability = Field(default=1.0, description="share of accounts in this segment (0-1)")
    buyer: Literal["b2b", "b2c"] = Field(
        default="b2b", description="how accounts buy: b2b (approvals, budgets) or b2c"
    )
    plans: dict[str, NonNegative] = Field(
        default_factory=dict,
        description=(
            "plan ladder, cheapest first: plan name -> list price (currency per month); "
            "unset: one plan 'standard' at population.mrr"
        ),
    )
    plan_mix: dict[str, Probability] | None = Field(
        default=None,
        description="share of new accounts starting on each plan (default: all on the first)",
    )
    size_sigma: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        default=0.0,
        description=(
            "account size spread: MRR = plan price x size, size ~ LogNormal with mean 1 and "
            "this log-scale standard deviation (0 = every account at list price)"
        ),
    )
    annual_share: Probability | None = Field(
        default=None, description="override of contracts.annual_share for this segment"
    )
    churn: SegmentChurn = Field(
        default_factory=SegmentChurn, description="override of churn Beta distributions"
    )
    fit: BetaDist | None = Field(default=None, description="override of satisfaction.fit")
    plan_limits: dict[str, PositiveParam] | None = Field(
        default=None,
        description=(
            "usage limit of each plan (usage units per month); default: the first plan 100 and "
            "each next plan twice the one before"
        ),
    )
    usage: BetaDist | None = Field(
        default=None,
        description="starting usage of new accounts, as a share of their plan limit, ~ Beta "
        "(unset: usage.initial)",
    )
    fiscal_year_start_month: Annotated[int, Field(ge=1, le=12)] = Field(
        default=4,
        description="calendar month (1-12) in which a B2B account's fiscal year starts (4 = April)",
    )

    @model_validator(mode="after")
    def _check_limits(self) -> Segment:
        if self.plan_limits is not None:
            unknown = [p for p in self.plan_limits if p not in self.plans]
            if unknown:
                raise ValueError(
                    f"plan_limits names plan(s) {unknown} not in plans {list(self.plans)}"
                )
        return self

    def limits(self) -> list[float]:
        """Usage limit of each plan of the ladder (usage units per month), cheapest first."""
        given = self.plan_limits or {}
        out: list[float] = []
        for i, name in enumerate(self.plans):
            default = 100.0 if i == 0 else 2.0 * out[-1]
            out.append(float(given.get(name, default)))
        return out

    @model_validator(mode="after")
    def _check_mix(self) -> Segment:
        if not self.plans:
            raise ValueError("plans must name at least one plan (plan name: list price)")
        if self.plan_mix is not None:
            unknown = [p for p in self.plan_mix if p not in self.plans]
            if unknown:
                raise ValueError(
                    f"plan_mix names plan(s) {unknown} not in plans {list(self.plans)}"
                )
            missing = [p for p in self.plans if p not in self.plan_mix]
            if missing:  # a plan added to a segment whose plan_mix was written before it
                raise ValueError(
                    f"plan_mix gives no share to plan(s) {missing} of plans {list(self.plans)}; "
                    "give every plan its share (0 for none)"
                )
            total = sum(self.plan_mix.values())
            if not math.isclose(total, 1.0, abs_tol=1e-6):
                raise ValueError(f"plan_mix shares must add up to 1, got {total:g}")
        return self


class Population(Strict):
    """The opening book (month 0) and the segments every account belongs to."""

    initial_accounts: Annotated[int, Field(ge=0, le=MAX_ACCOUNTS)] = Field(
        default=1000, description="accounts alive at month 0"
    )
    mrr: NonNegative = Field(
        default=100.0,
        description=(
            "list price (currency per month) of the single plan of the default segment, used "
            "when no segments are given"
        ),
    )
    segments: dict[str, Segment] | None = Field(
        default=None,
        description="segments by name (default: one segment 'all' with one plan at `mrr`)",
    )
    from_csv: str | None = Field(
        default=None,
        description=(
            "CSV of real accounts to start from instead of a generated opening book (columns "
            "id, segment, plan and/or mrr, contract, tenure_months, optional satisfaction; see "
            "simlib.model.book_import); replaces initial_accounts. A relative path is read "
            "from the scenario file's folder and recorded as an absolute path"
        ),
    )

    @model_validator(mode="after")
    def _check_segments(self) -> Population:
        if self.segments is None:
            return self
        if not self.segments:
            raise ValueError("segments must name at least one segment")
        total = sum(s.share for s in self.segments.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"segment shares must add up to 1, got {total:g}")
        return self


class Acquisition(Strict):
    """New accounts arriving each month (paid acquisition, before referrals)."""

    new_accounts_per_month: NonNegative = Field(
        default=0.0, description="mean new accounts per month (accounts per month)"
    )
    process: Literal["poisson", "fixed"] = Field(
        default="poisson",
        description="poisson: Poisson counts with that mean; fixed: exactly round(mean)",
    )
    start_month: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=1, description="first month with new accounts (month 0 is the opening book)"
    )
