"""The model's mechanisms, one module per domain concept; importing registers their actors."""

from . import acquisition, champion, coverage, csm, population, renewal, satisfaction

__all__ = [
    "acquisition",
    "champion",
    "coverage",
    "csm",
    "population",
    "renewal",
    "satisfaction",
]
