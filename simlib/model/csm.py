"""Moved: the CSM team is :mod:`simlib.model.coverage.team` (this name stays importable)."""

from __future__ import annotations

from .coverage.team import PRIORITY_ALERT, PRIORITY_REQUEST, WEEK, CSMTeam, Job

__all__ = ["PRIORITY_ALERT", "PRIORITY_REQUEST", "WEEK", "CSMTeam", "Job"]
