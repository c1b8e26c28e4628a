"""The scenario format (a compatibility module): everything here lives in :mod:`simlib.config`.

``from simlib.scenario import Scenario, load_scenario, ...`` keeps working; new code imports
from :mod:`simlib.config`. :func:`load_scenario` here is the configuration's loader and does not
check plug-in names (coverage policies, offer kinds) against the runtime's registries: that
happens at the runtime boundary, :func:`simlib.plugins.check_plugins`, which
``simlib.load_scenario`` and the experiment layer call before any simulation is built.
"""

from __future__ import annotations

from . import config as _config
from .config import *  # noqa: F403 - every public name of simlib.config

# private names that tests and notebooks of earlier versions reach for
from .config.base import Strict as _Strict  # noqa: F401
from .config.loader import _owner_model as _owner_model
from .config.loader import _UniqueKeyLoader as _UniqueKeyLoader
from .config.offers import _default_kinds as _default_kinds
from .config.scenario import DEFAULTS as _DEFAULTS  # noqa: F401

__all__ = list(_config.__all__)
