"""Configuration: the scenario format, apart from the runtime.

A scenario is a YAML file (or a preset name); :func:`load_scenario` reads, merges, overrides,
fills defaults and validates it into a :class:`Scenario`, the root composed of one block per
mechanism (:mod:`.population`, :mod:`.renewal`, :mod:`.satisfaction`, :mod:`.usage`,
:mod:`.coverage`, :mod:`.offers`, :mod:`.deals`, :mod:`.economics`) on the shared strict base
and unit types of :mod:`.base`. The loader is :mod:`.loader`.

Nothing here imports the runtime (only :mod:`simlib.errors` and :mod:`simlib.io`, both below
everything): names of plug-ins, ``coverage.policy`` and the kinds under ``offers.kinds``, stay
strings and are checked at the runtime boundary by :func:`simlib.plugins.check_plugins`
(``simlib.load_scenario`` and the experiment layer call it).
"""

from __future__ import annotations

from .base import (
    MAX_ACCOUNTS,
    MAX_DEPTH,
    MAX_HORIZON,
    BetaDist,
    ByKey,
    NonNegative,
    PositiveParam,
    Probability,
    SegmentName,
    Strict,
)
from .coverage import (
    Alerts,
    Coverage,
    CSMTeam,
    Requests,
    TechTier,
    TierName,
    TierRule,
    Tiers,
    TierShares,
    TierThresholds,
    TouchTier,
)
from .deals import Approval, Budget
from .economics import Economics, Reporting
from .extensions import EXTENSION_BLOCKS, register_block
from .loader import (
    apply_overrides,
    deep_merge,
    fill_defaults,
    load_scenario,
    parse_yaml,
    preset_dir,
    preset_names,
    scenario_hash,
    to_yaml,
    validate,
)
from .offers import (
    BUILTIN_OFFER_KINDS,
    OFFER_KIND_SPECS,
    Addon,
    CrossSellSpec,
    CustomOfferKindSpec,
    DownsellSpec,
    Fatigue,
    Intent,
    OfferKindSpec,
    Offers,
    TermConversionSpec,
    UpsellSpec,
)
from .population import Acquisition, Population, Segment, SegmentChurn
from .renewal import ChurnConfig, ContractChurn, Contracts
from .satisfaction import Champion, Loyalty, LoyaltyStage, Satisfaction
from .scenario import DEFAULTS, Scenario
from .usage import Usage

__all__ = [
    "BUILTIN_OFFER_KINDS",
    "DEFAULTS",
    "EXTENSION_BLOCKS",
    "MAX_ACCOUNTS",
    "MAX_DEPTH",
    "MAX_HORIZON",
    "OFFER_KIND_SPECS",
    "Acquisition",
    "Addon",
    "Alerts",
    "Approval",
    "BetaDist",
    "Budget",
    "ByKey",
    "CSMTeam",
    "Champion",
    "ChurnConfig",
    "ContractChurn",
    "Contracts",
    "Coverage",
    "CrossSellSpec",
    "CustomOfferKindSpec",
    "DownsellSpec",
    "Economics",
    "Fatigue",
    "Intent",
    "Loyalty",
    "LoyaltyStage",
    "NonNegative",
    "OfferKindSpec",
    "Offers",
    "Population",
    "PositiveParam",
    "Probability",
    "Reporting",
    "Requests",
    "Satisfaction",
    "Scenario",
    "Segment",
    "SegmentChurn",
    "SegmentName",
    "Strict",
    "TechTier",
    "TermConversionSpec",
    "TierName",
    "TierRule",
    "TierShares",
    "TierThresholds",
    "Tiers",
    "TouchTier",
    "UpsellSpec",
    "Usage",
    "apply_overrides",
    "deep_merge",
    "fill_defaults",
    "load_scenario",
    "parse_yaml",
    "preset_dir",
    "preset_names",
    "register_block",
    "scenario_hash",
    "to_yaml",
    "validate",
]
