"""The lab's answer as one JSON object (``simlib lab --out``, CONTRACT.md).

``effects``: metric -> the paired difference from the baseline (``mean``) with its interval;
``decomposition``: retention, expansion, mix, within (and, with loyalty on, referrals and their
revenue) -> the same; ``dominant``: :func:`~simlib.lab.decomposition.dominant_answer`;
``verdict``: the sentences; ``naive_vs_causal``: the regressions beside the per-account causal
slope; ``robustness`` (with uncertain keys): :meth:`Robustness.to_json`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .decomposition import DECOMPOSITION_PARTS, REFERRAL_PARTS, dominant_answer

if TYPE_CHECKING:
    from .designs import LabExperiment
    from .robustness import Robustness

__all__ = ["full_verdict", "lab_json"]


def _num(x: Any) -> float | None:
    """A JSON number (None for NaN or infinity)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _interval(row: Any, mean: str = "mean") -> dict[str, float | None]:
    return {"mean": _num(row[mean]), "ci_low": _num(row["ci_low"]), "ci_high": _num(row["ci_high"])}


def full_verdict(exp: LabExperiment, robustness: Robustness | None = None) -> str:
    """The experiment's verdict, followed by the robustness sentences when there are any."""
    text = exp.verdict()
    return text if robustness is None else f"{text}\n{robustness.sentences()}"


def lab_json(exp: LabExperiment, robustness: Robustness | None = None) -> dict[str, Any]:
    """The object ``simlib lab --out`` writes (module docstring)."""
    summ = exp.decomposition_summary()
    by_part = summ.set_index("part")
    parts = [*DECOMPOSITION_PARTS, *(p for p in REFERRAL_PARTS if p in by_part.index)]
    nc = exp.naive_vs_causal()
    out: dict[str, Any] = {
        "scenario": exp.baseline.scenario.name,
        "dose": exp.dose,
        "intervention": exp.kind,
        "replications": exp.extra.get("replications"),
        "seed": exp.extra.get("seed"),
        "currency": exp.currency,
        "effects": {
            str(r["metric"]): {**_interval(r, "difference"), "baseline": _num(r["baseline_mean"])}
            for r in exp.table.to_dict("records")
        },
        "decomposition": {p: _interval(by_part.loc[p]) for p in ("total", *parts)},
        "dominant": dominant_answer(by_part),
        "naive_vs_causal": {str(r["estimate"]): _interval(r) for r in nc.to_dict("records")},
        "verdict": full_verdict(exp, robustness),
    }
    if robustness is not None:
        out["robustness"] = robustness.to_json()
    return out
