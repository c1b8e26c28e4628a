"""The scenario root: one block per mechanism, composed (see the block modules beside this)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PrivateAttr, model_validator

from .base import MAX_HORIZON, Strict
from .coverage import Coverage
from .deals import Approval, Budget
from .economics import Economics, Reporting
from .extensions import EXTENSION_BLOCKS
from .offers import Offers
from .population import Acquisition, Population, Segment
from .pricing import Pricing
from .renewal import ChurnConfig, Contracts
from .satisfaction import Champion, Loyalty, Satisfaction
from .seats import Seats
from .usage import Usage

__all__ = ["DEFAULTS", "Scenario"]


class Scenario(Strict):
    """One scenario: everything a run needs apart from the seed and the replication count."""

    name: str = Field(default="scenario", min_length=1, max_length=200, description="free text")
    description: str = Field(default="", max_length=10_000, description="free text")
    horizon_months: Annotated[int, Field(ge=1, le=MAX_HORIZON)] = Field(
        default=60, description="months simulated (months 0 .. horizon_months - 1)"
    )
    population: Population = Field(default_factory=Population)
    acquisition: Acquisition = Field(default_factory=Acquisition)
    contracts: Contracts = Field(default_factory=Contracts)
    churn: ChurnConfig = Field(default_factory=ChurnConfig)
    satisfaction: Satisfaction = Field(default_factory=Satisfaction)
    champion: Champion = Field(default_factory=Champion)
    coverage: Coverage = Field(default_factory=Coverage)
    offers: Offers = Field(default_factory=Offers)
    usage: Usage = Field(default_factory=Usage)
    approval: Approval = Field(default_factory=Approval)
    budget: Budget = Field(default_factory=Budget)
    loyalty: Loyalty = Field(default_factory=Loyalty)
    seats: Seats = Field(default_factory=Seats)
    pricing: Pricing = Field(default_factory=Pricing)
    economics: Economics = Field(default_factory=Economics)
    reporting: Reporting = Field(default_factory=Reporting)
    extensions: dict[str, dict[str, Any] | None] = Field(
        default_factory=dict,
        description="settings of mechanisms added as plug-ins, by name (simlib.config.extensions)",
    )

    @model_validator(mode="after")
    def _check_offer_names(self) -> Scenario:
        """Segment and plan names used by offers, usage, approval and budget must exist."""
        if self.population.segments is None:
            return self
        segments = self.population.segments
        plans = {p for seg in segments.values() for p in seg.plans}
        named: list[tuple[str, list[str]]] = [
            ("approval.approvers", list(self.approval.approvers)),
            ("budget.per_year", list(self.budget.per_year)),
            ("seats.segments", list(self.seats.segments or [])),
            ("economics.cac", list(self.economics.cac)),
        ]
        for kind, spec in self.offers.kinds.items():
            named.append((f"offers.kinds.{kind}.segments", spec.segments or []))
            targets = getattr(spec, "target_plans", None) or []  # kinds moving plans
            unknown = [p for p in targets if p not in plans]
            if unknown:
                raise ValueError(
                    f"offers.kinds.{kind}.target_plans: plan(s) {unknown} are in no segment's "
                    f"plan ladder; plans: {', '.join(sorted(plans))}"
                )
        for name, addon in self.offers.addons.items():
            named.append((f"offers.addons.{name}.relevance", list(addon.relevance)))
        for key, names in named:
            unknown = [n for n in names if n not in segments]
            if unknown:
                raise ValueError(
                    f"{key}: segment(s) {unknown} not in population.segments "
                    f"({', '.join(segments)})"
                )
        return self

    #: the mapping this scenario was validated from, before defaults were filled (see
    #: :func:`load_scenario`); not part of the scenario's value
    _source_doc: dict[str, Any] | None = PrivateAttr(default=None)
    #: where the scenario was loaded from (a path, a preset name, "<mapping>"), named by errors
    #: found after loading (:func:`simlib.plugins.check_plugins`); not part of its value
    _source: str | None = PrivateAttr(default=None)
    #: validated plug-in blocks (:meth:`block`); not part of the value
    _blocks: dict[str, Strict] = PrivateAttr(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    def block(self, name: str) -> Strict:
        """The settings of plug-in mechanism ``name`` (``extensions.<name>``), validated by its
        registered model with every default filled in (:mod:`simlib.config.extensions`)."""
        cached = self._blocks.get(name)
        if cached is None:
            cached = EXTENSION_BLOCKS[name].model_validate(self.extensions.get(name) or {})
            self._blocks[name] = cached
        return cached

    def segment_table(self) -> dict[str, Segment]:
        """Segments with every inherited value filled in (see :func:`fill_defaults`)."""
        assert self.population.segments is not None, "call fill_defaults first"
        return self.population.segments


#: Every default value, as a mapping: user documents are merged over it, so a partial override
#: (``--set satisfaction.fit.beta=3``) keeps the other defaults of the same block.
DEFAULTS: dict[str, Any] = Scenario().model_dump(mode="python")
