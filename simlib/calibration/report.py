"""The JSON object ``simlib calibrate`` prints (CONTRACT.md): the fits, their holdout check and
the ``--set`` overrides that put them into a scenario."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..errors import DataError
from .fragments import KINDS, scenario_overrides
from .sbg import SBGFit, json_number

__all__ = ["calibration_json"]


def calibration_json(
    fits: Sequence[SBGFit],
    kind: str,
    source: str,
    annual_discount_rate: float = 0.1,
    holdout: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The object ``simlib calibrate`` prints: ``{"fits": [...], ...}`` (see CONTRACT.md)."""
    records = [f.to_dict(annual_discount_rate) for f in fits]
    if holdout is not None:
        for rec in records:
            rec["holdout"] = _holdout_record(holdout, rec["group"])
    out: dict[str, Any] = {"fits": records, "kind": kind, "source": source}
    if fits and fits[0].period_months in KINDS:
        try:
            out["overrides"] = scenario_overrides(fits)
        except DataError as err:  # fits by group with a tenure profile: no scenario keys
            out["overrides"] = None
            out["overrides_note"] = str(err)
    return out


def _holdout_record(holdout: pd.DataFrame, group: str | None) -> dict[str, Any]:
    """One group's periods held out: observed and projected survival, and their gaps."""
    part = holdout[holdout["group"].isna() if group is None else holdout["group"] == group]
    ho = part[part["part"] == "holdout"]
    err = (ho["fitted_survival"] - ho["observed_survival"]).abs()
    return {
        "fit_periods": int(part["fit_periods"].iloc[0]),
        "periods": ho["period"].astype(int).tolist(),
        "observed_survival": [json_number(v) for v in ho["observed_survival"]],
        "projected_survival": [json_number(v) for v in ho["fitted_survival"]],
        "mean_abs_error": json_number(err.mean()),
        "max_abs_error": json_number(err.max()),
    }
