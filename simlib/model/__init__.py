"""The model's mechanisms, one module per domain concept; importing registers their actors."""

from . import acquisition, champion, population, renewal, satisfaction

__all__ = ["acquisition", "champion", "population", "renewal", "satisfaction"]
