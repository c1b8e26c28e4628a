"""The model's mechanisms, one module per domain concept; importing registers their actors."""

from . import (
    acquisition,
    approval,
    budget,
    champion,
    coverage,
    csm,
    loyalty,
    offers,
    population,
    renewal,
    satisfaction,
    usage,
)

__all__ = [
    "acquisition",
    "approval",
    "budget",
    "champion",
    "coverage",
    "csm",
    "loyalty",
    "offers",
    "population",
    "renewal",
    "satisfaction",
    "usage",
]
