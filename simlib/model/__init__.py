"""The model's mechanisms, one module per domain concept; importing registers their actors
(and their churn-odds terms, run inputs and snapshots)."""

from . import (
    acquisition,
    approval,
    book_import,
    budget,
    champion,
    coverage,
    engagement,
    loyalty,
    offers,
    opening_book,
    population,
    pricing,
    renewal,
    satisfaction,
    seats,
    tenure,
    usage,
)

__all__ = [
    "acquisition",
    "approval",
    "book_import",
    "budget",
    "champion",
    "coverage",
    "engagement",
    "loyalty",
    "offers",
    "opening_book",
    "population",
    "pricing",
    "renewal",
    "satisfaction",
    "seats",
    "tenure",
    "usage",
]
