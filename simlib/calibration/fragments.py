"""Fits into scenarios: a YAML fragment, ``--set`` overrides, or a scenario with the fitted churn.

A fit of monthly renewal periods sets ``churn.monthly``, one of 12-month periods
``churn.annual``; fits by group set ``population.segments.<group>.churn.<kind>`` with each
group's share of the accounts in the data (the shares add up to 1). A fit with a tenure profile
(:class:`~simlib.calibration.tenure.TenureFit`) also sets ``churn.tenure_profile.<kind>``, and
fits by group with a profile set each group's own ``population.segments.<group>.churn.
tenure_profile.<kind>`` (a segment's profile is merged over the scenario's, so its other keys,
such as ``onboarding_completion``, stay the scenario's). Values are rounded to six significant
digits in fragments and overrides. A fit with the satisfaction covariate
(:class:`~simlib.calibration.covariate.CovariateFit`) also sets ``churn.satisfaction_effect``
and ``churn.satisfaction_reference`` (shared by every segment, as the fit shares them), so that
the Beta it writes is the risk at that reference health.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import yaml

from ..errors import DataError
from .sbg import SBGFit

__all__ = [
    "KINDS",
    "apply_fits",
    "scenario_fragment",
    "scenario_overrides",
    "segments_take_a_profile",
]

#: Renewal periods (months) that scenarios know, by the contract kind they set.
KINDS = {1: "monthly", 12: "annual"}


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _shares(fits: Sequence[SBGFit]) -> list[float]:
    total = sum(f.n for f in fits)
    shares = [round(f.n / total, 6) for f in fits]
    shares[-1] = round(1.0 - sum(shares[:-1]), 9)
    return shares


def _kind(fits: Sequence[SBGFit]) -> str:
    months = {f.period_months for f in fits}
    if len(months) != 1 or next(iter(months)) not in KINDS:
        raise ValueError(
            "scenario fragments exist for monthly (period_months 1) and annual (12) renewal "
            f"periods only, got {sorted(months)}"
        )
    return KINDS[next(iter(months))]


def _profile(fits: Sequence[SBGFit]) -> dict[str | None, list[float]] | None:
    """The tenure profile of each fit that has one (rounded), by group; None without one.
    Fits by group with a profile need a scenario whose segments take a profile of their own
    (``population.segments.<S>.churn.tenure_profile``); otherwise they are refused."""
    with_profile = [f for f in fits if getattr(f, "tenure_profile", None)]
    if not with_profile:
        return None
    grouped = len(fits) != 1 or fits[0].group is not None
    if grouped and not segments_take_a_profile():
        raise DataError(
            "churn.tenure_profile is one profile for every segment of a scenario, so fits by "
            "group with a tenure profile cannot be written as a scenario; fit without the "
            "groups (or one group's data at a time) to get a fragment"
        )
    return {f.group: [_round(v) for v in f.tenure_profile] for f in with_profile}  # type: ignore[attr-defined]


def segments_take_a_profile() -> bool:
    """Whether a scenario's segments take a tenure profile of their own."""
    from ..scenario import SegmentChurn

    return "tenure_profile" in SegmentChurn.model_fields


def _satisfaction(fits: Sequence[SBGFit]) -> dict[str, float] | None:
    """``churn.satisfaction_effect`` and ``churn.satisfaction_reference`` of fits with the
    satisfaction covariate (None without one); a negative effect (churn falling as health
    falls) has no scenario key and is refused."""
    if not fits or not hasattr(fits[0], "satisfaction_effect"):
        return None
    f = fits[0]
    effect = float(f.satisfaction_effect)
    if effect < 0:
        raise DataError(
            f"the fitted satisfaction effect is negative ({effect:.3g}: churn falls as health "
            "falls); churn.satisfaction_effect must be >= 0, so the fit cannot be written as a "
            "scenario; check the direction of the health score (--satisfaction-range LO:HI, "
            "LO the worst)"
        )
    return {
        "satisfaction_effect": _round(effect),
        "satisfaction_reference": _round(f.satisfaction_reference),  # type: ignore[attr-defined]
    }


def _fragment_dict(fits: Sequence[SBGFit]) -> dict[str, Any]:
    kind = _kind(fits)
    profile = _profile(fits)
    link = _satisfaction(fits)
    if len(fits) == 1 and fits[0].group is None:
        f = fits[0]
        churn: dict[str, Any] = {kind: {"alpha": _round(f.alpha), "beta": _round(f.beta)}}
        if profile is not None:
            churn["tenure_profile"] = {kind: profile[None]}
        return {"churn": churn | (link or {})}
    segments = {}
    for f, share in zip(fits, _shares(fits), strict=True):
        seg_churn: dict[str, Any] = {kind: {"alpha": _round(f.alpha), "beta": _round(f.beta)}}
        if profile is not None and f.group in profile:
            seg_churn["tenure_profile"] = {kind: profile[f.group]}
        segments[str(f.group)] = {"share": share, "churn": seg_churn}
    out: dict[str, Any] = {"population": {"segments": segments}}
    return ({"churn": link} | out) if link else out


def scenario_fragment(fits: Sequence[SBGFit], source: str = "") -> str:
    """YAML text to put in a scenario file (beside ``extends:``) to use the fitted churn.

    One fit without a group: ``churn.monthly`` (or ``churn.annual`` for 12-month periods).
    Several groups: ``population.segments.<group>.churn.monthly`` with each group's ``share`` of
    the accounts in the data (so the segment shares add up to 1), and with a tenure profile
    ``population.segments.<group>.churn.tenure_profile.monthly``.
    """
    lines = [
        "# Churn per renewal ~ Beta(alpha, beta), fitted by simlib calibrate (shifted-beta-",
        "# geometric model, Fader & Hardie 2007)" + (f" from {source}" if source else "") + ".",
    ]
    for f in fits:
        name = "all accounts" if f.group is None else f"{f.group}"
        profile = getattr(f, "tenure_profile", None)
        churn = "churn at renewal 1" if profile else "mean churn"
        lines.append(
            f"# {name}: alpha {f.alpha:.4g} (se {f.alpha_se:.2g}), beta {f.beta:.4g} "
            f"(se {f.beta_se:.2g}), n = {f.n}, {churn} {100 * f.mean_churn:.2f} % per period"
        )
        if profile:
            shifts = ", ".join(
                f"{d:+.3g} (se {se:.2g})"
                for d, se in zip(profile, f.tenure_profile_se, strict=True)  # type: ignore[attr-defined]
            )
            lines.append(
                f"# tenure profile: log-odds of churn added at renewals 1..{len(profile)}: "
                f"{shifts}; later renewals: the Beta alone"
            )
    link = _satisfaction(fits)
    if link:
        f = fits[0]
        lo, hi = f.satisfaction_range  # type: ignore[attr-defined]
        lines.append(
            f"# satisfaction link: log-odds of churn + {f.satisfaction_effect:.4g} (se "  # type: ignore[attr-defined]
            f"{f.satisfaction_effect_se:.2g}) x ({link['satisfaction_reference']:g} - health), "  # type: ignore[attr-defined]
            f"health = (score - {lo:g}) / ({hi:g} - {lo:g}); the Beta is the risk at the "
            "reference health"
        )
    body = yaml.safe_dump(_fragment_dict(fits), sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(lines) + "\n" + body


def scenario_overrides(fits: Sequence[SBGFit]) -> list[str]:
    """The same as ``--set KEY=VALUE`` strings (dotted keys, YAML values)."""
    kind = _kind(fits)
    profile = _profile(fits)
    if len(fits) == 1 and fits[0].group is None:
        f = fits[0]
        out = [f"churn.{kind}.alpha={_round(f.alpha)!r}", f"churn.{kind}.beta={_round(f.beta)!r}"]
        if profile is not None:
            out.append(f"churn.tenure_profile.{kind}={profile[None]!r}")
        return out + _link_overrides(fits)
    out = _link_overrides(fits)
    for f, share in zip(fits, _shares(fits), strict=True):
        prefix = f"population.segments.{f.group}"
        out.append(f"{prefix}.share={share!r}")
        out.append(f"{prefix}.churn.{kind}.alpha={_round(f.alpha)!r}")
        out.append(f"{prefix}.churn.{kind}.beta={_round(f.beta)!r}")
        if profile is not None and f.group in profile:
            out.append(f"{prefix}.churn.tenure_profile.{kind}={profile[f.group]!r}")
    return out


def _link_overrides(fits: Sequence[SBGFit]) -> list[str]:
    link = _satisfaction(fits)
    return [f"churn.{k}={v!r}" for k, v in link.items()] if link else []


def apply_fits(base: Any, fits: Sequence[SBGFit], all_on_contract: bool = False) -> Any:
    """A scenario: ``base`` (preset name, path, mapping or Scenario) with the fitted churn.

    One fit without a group sets the churn of every segment. Fits by group set the churn of the
    segments of those names; when ``base`` has a single segment and the groups are not among
    its segments, that segment is cloned once per group with the group's share of the data.
    ``all_on_contract`` also puts every account on the fitted contract type (monthly for
    1-month periods, annual for 12), to compare a simulation with the data.
    """
    from ..scenario import load_scenario

    scenario = load_scenario(base)
    kind = _kind(fits)
    profile = _profile(fits)
    link = _satisfaction(fits)
    doc = scenario.model_dump(mode="python")
    if link:
        doc["churn"].update(link)
    segments = doc["population"]["segments"]
    doc["name"] = f"{scenario.name} (calibrated)"
    if all_on_contract:
        share = 1.0 if kind == "annual" else 0.0
        doc["contracts"]["annual_share"] = share
        for seg in segments.values():
            seg["annual_share"] = share
    if len(fits) == 1 and fits[0].group is None:
        values = {"alpha": fits[0].alpha, "beta": fits[0].beta}
        doc["churn"][kind] = dict(values)
        if profile is not None:
            doc["churn"]["tenure_profile"][kind] = list(fits[0].tenure_profile)  # type: ignore[attr-defined]
        for seg in segments.values():  # the fit is every segment's: no profile of their own
            if profile is not None and seg["churn"].get("tenure_profile"):
                seg["churn"]["tenure_profile"][kind] = list(fits[0].tenure_profile)  # type: ignore[attr-defined]
        for seg in segments.values():
            seg["churn"][kind] = dict(values)
        return load_scenario(doc)
    groups = [str(f.group) for f in fits]
    if all(g in segments for g in groups):
        for f in fits:
            _set_segment_churn(segments[str(f.group)], f, kind, profile is not None)
        return load_scenario(doc)
    if len(segments) != 1:
        raise DataError(
            f"the groups {groups} are not segments of {scenario.name!r} ({list(segments)})"
        )
    template = next(iter(segments.values()))
    new = {}
    for f, share in zip(fits, _shares(fits), strict=True):
        seg = copy.deepcopy(template)
        seg["share"] = share
        _set_segment_churn(seg, f, kind, profile is not None)
        new[str(f.group)] = seg
    doc["population"]["segments"] = new
    return load_scenario(doc)


def _set_segment_churn(seg: dict[str, Any], f: SBGFit, kind: str, with_profile: bool) -> None:
    """A segment's fitted Beta and, with a profile, its own tenure profile (merged over what
    the segment had, so its other profile keys stay)."""
    seg["churn"][kind] = {"alpha": f.alpha, "beta": f.beta}
    if with_profile and getattr(f, "tenure_profile", None):
        own = dict(seg["churn"].get("tenure_profile") or {})
        own[kind] = list(f.tenure_profile)  # type: ignore[attr-defined]
        seg["churn"]["tenure_profile"] = own
