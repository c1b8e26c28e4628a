"""How sure the lab's answer is about the world, not only about the dice.

The lab's intervals cover the simulation's noise at one setting of the links that decide the
answer (satisfaction -> churn, -> buying intent, touch -> satisfaction). Robustness samples
those links instead and asks the same question at each sample:

* **Uncertain keys** (:class:`Uncertain`): a range ``KEY=LO:HI`` (uniform over it), or a
  calibrated value with its standard error (:func:`uncertain_from_fit` reads the JSON of
  ``simlib calibrate``), sampled from the normal ``value + se x z`` with ``z`` within its central
  95 % (so every setting is plausible at that level), cut at 0 for keys that cannot be negative.
  Keys are sampled independently: the correlation between fitted parameters (alpha and beta of
  one fit, say) is not in the JSON and is left out.
* **Elements of a list key** (a fitted tenure profile, ``churn.tenure_profile.monthly``): each
  element is its own uncertain key, named ``KEY[i]`` (``churn.tenure_profile.monthly[0]``, the
  log-odds added at renewal 1); at a sample the scenario gets the whole list, the scenario's (or
  the fit's) list with the sampled elements put in (:func:`point_overrides`).
* **Samples** (:func:`sample_points`): a Latin hypercube (McKay, Beckman & Conover 1979; the
  points of :func:`simlib.sweep.lhs_points`), each key's probability scale cut in ``N`` equal
  strata with one point in each.
* **At each sample** the paired intervention of :func:`simlib.lab.run_intervention` on the same
  seed and replications as every other sample (common random numbers across samples too); the
  answer is :func:`~simlib.lab.decomposition.dominance`: ``retention``, ``expansion`` or
  ``unsure`` (the paired interval of retention - expansion includes zero), the interval's
  noise pooled across the samples (:func:`pooled_intervals`), so that a few replications per
  sample still tell a clear ranking from a close one.
* **Flips** (:func:`find_flips`): along each key, the split of the sorted samples into a part
  below and a part above a threshold whose majority answers differ and that misclassifies the
  fewest samples (a one-split decision stump); the threshold is the midpoint between the two
  neighbouring samples, so it is within half their gap of the true boundary when the answer
  changes once along that key.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from ..errors import CommandError, DataError
from ..experiment import CacheArg, ExecutorArg
from ..formatting import format_plain
from ..run_options import RunOptions, accepts_run_options, as_overrides
from ..scenario import Scenario, load_scenario
from ..sweep import integer_keys, lhs_points
from .decomposition import decompose_revenue, dominance
from .designs import _lab_scenario, _options, _run, _treated

__all__ = [
    "ANSWERS",
    "Robustness",
    "Uncertain",
    "element_of",
    "find_flips",
    "parse_uncertain",
    "point_overrides",
    "pooled_intervals",
    "run_robustness",
    "sample_points",
    "sample_settings",
    "uncertain_from_fit",
]

#: The answers a sample can give, in the order ties are broken.
ANSWERS = ("retention", "expansion", "unsure")

#: The central probability of the normal a calibrated key is sampled within.
PLAUSIBLE = 0.95

#: Words for the keys that decide the answer (the verdict names the key beside them).
KEY_WORDS = {
    "churn.satisfaction_effect": "churn link",
    "offers.intent.satisfaction_to_intent": "intent link",
    "satisfaction.uplift": "satisfaction uplift",
}

#: ``KEY[i]``: element ``i`` (from 0) of the list at ``KEY``.
_ELEMENT = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<index>\d+)\]$")

#: An element of a tenure profile: log-odds added at renewal ``index + 1``.
_PROFILE = re.compile(
    r"^(?:population\.segments\.(?P<segment>[^.]+)\.)?churn\.tenure_profile\."
    r"(?P<kind>monthly|annual)\[(?P<index>\d+)\]$"
)


def element_of(key: str) -> tuple[str, int] | None:
    """``"KEY[i]"`` -> ``("KEY", i)``; None for a key that names no list element."""
    m = _ELEMENT.match(key)
    return None if m is None else (m["base"], int(m["index"]))


def _log_odds(key: str) -> bool:
    """Whether ``key`` is an element of a tenure profile: log-odds, of either sign; entries
    after the end of the list add nothing (0)."""
    return _PROFILE.match(key) is not None


@dataclass(frozen=True)
class Uncertain:
    """One uncertain key: a range ``[lo, hi]`` (uniform), or a calibrated ``value`` with its
    standard error ``se`` (normal within its central :data:`PLAUSIBLE`, cut to ``[lo, hi]``)."""

    key: str
    lo: float
    hi: float
    value: float | None = None
    se: float | None = None

    @property
    def source(self) -> str:
        return "range" if self.se is None else "standard_error"

    def at(self, u: float) -> float:
        """The key's value at probability ``u`` in [0, 1) of its sampling distribution."""
        if self.se is None or self.value is None:
            return self.lo + u * (self.hi - self.lo)
        tail = (1.0 - PLAUSIBLE) / 2.0
        z = NormalDist().inv_cdf(tail + u * PLAUSIBLE)
        return min(max(self.value + self.se * z, self.lo), self.hi)

    @classmethod
    def normal(cls, key: str, value: float, se: float) -> Uncertain:
        """A calibrated key: ``value +- z se`` over the central :data:`PLAUSIBLE`, cut at 0 for
        a key that cannot be negative (a non-negative value, except the log-odds of a tenure
        profile's elements; alpha and beta of a Beta stay above 1 % of their value)."""
        z = NormalDist().inv_cdf(0.5 + PLAUSIBLE / 2.0)
        lo, hi = value - z * se, value + z * se
        if value >= 0 and not _log_odds(key):
            lo = max(lo, 0.0)
        if key.rsplit(".", 1)[-1] in ("alpha", "beta"):
            lo = max(lo, 0.01 * value)
        return cls(key, lo, hi, value, se)


def parse_uncertain(items: Sequence[str]) -> dict[str, Uncertain]:
    """``["KEY=LO:HI", ...]`` (``--uncertain``) -> uncertain ranges; LO < HI, finite. ``KEY[i]``
    is element ``i`` (from 0) of the list at ``KEY`` (:func:`point_overrides`)."""
    out: dict[str, Uncertain] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        lo_text, colon, hi_text = text.partition(":")
        if not sep or not key or not colon:
            raise CommandError(f"--uncertain: expected KEY=LO:HI, got {item!r}")
        if key in out:
            raise CommandError(f"--uncertain: key {key!r} is given twice")
        if ("[" in key or "]" in key) and element_of(key) is None:
            raise CommandError(
                f"--uncertain {key}: an element of a list key is KEY[i], i a whole number "
                "from 0 (churn.tenure_profile.monthly[0] is the entry of renewal 1)"
            )
        try:
            lo, hi = float(lo_text), float(hi_text)
        except ValueError:
            raise CommandError(
                f"--uncertain {key}: LO and HI must be numbers, got {lo_text!r} and {hi_text!r}"
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            raise CommandError(
                f"--uncertain {key}: LO and HI must be finite numbers with LO < HI, got {text!r}"
            )
        out[key] = Uncertain(key, lo, hi)
    return out


def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


#: A fitted value or standard error: a number, a list of them (a tenure profile), or None.
Fitted = float | list[float | None] | None


def _fitted(x: Any) -> Fitted:
    """A number, or a list of numbers (None where an entry is not a finite number)."""
    return [_number(v) for v in x] if isinstance(x, list) else _number(x)


def _fit_keys(fit: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(scenario key, value field, standard-error field) of one record of ``fits``."""
    kind = {1: "monthly", 12: "annual"}.get(fit.get("period_months", 1))
    if kind is None:
        return []
    group = fit.get("group")
    prefix = "churn" if group is None else f"population.segments.{group}.churn"
    keys = [
        (f"{prefix}.{kind}.alpha", "alpha", "alpha_se"),
        (f"{prefix}.{kind}.beta", "beta", "beta_se"),
    ]
    if "satisfaction_effect" in fit:  # one link for the scenario (a joint fit by group too)
        keys.append(("churn.satisfaction_effect", "satisfaction_effect", "satisfaction_effect_se"))
    if isinstance(fit.get("tenure_profile"), list):  # calibrate --tenure-profile K
        keys.append((f"{prefix}.tenure_profile.{kind}", "tenure_profile", "tenure_profile_se"))
    return keys


def uncertain_from_fit(path: str | Path) -> tuple[dict[str, Uncertain], list[str], list[str]]:
    """Read the JSON of ``simlib calibrate`` (``--uncertain-from FIT.json``).

    Returns (uncertain keys, fixed overrides, notes). Uncertain: every key with a value and a
    positive standard error, from ``scenario_keys: {KEY: {value, se}}`` and from ``fits``
    (``alpha``/``alpha_se``, ``beta``/``beta_se`` -> ``churn.monthly|annual.alpha|beta``, per
    group ``population.segments.G.churn...``; ``satisfaction_effect``/``satisfaction_effect_se``
    -> ``churn.satisfaction_effect``, one link for the scenario, so fits by group with different
    links leave it out with a note; ``tenure_profile``/``tenure_profile_se`` ->
    ``churn.tenure_profile.monthly|annual``, per group under ``population.segments.G``). A list
    value with a list of standard errors (a tenure profile) gives one uncertain key per element,
    ``KEY[i]``, and the whole fitted list among the fixed overrides (the list each sample puts
    its elements in, so an element without a standard error stays at its fitted value). Fixed:
    those lists and the file's ``overrides`` whose key is not sampled (held at the fitted
    value). Notes: each key or element without a standard error, and what could not be used.
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{p}: cannot read the calibration JSON ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not a JSON document ({exc})") from None
    if not isinstance(doc, dict):
        raise DataError(
            f"{p}: expected the JSON object of simlib calibrate, got {type(doc).__name__}"
        )
    found: dict[str, tuple[Fitted, Fitted]] = {}
    keys = doc.get("scenario_keys") or {}
    if not isinstance(keys, dict):
        raise DataError(f"{p}: scenario_keys must be an object KEY -> {{value, se}}")
    for key, rec in keys.items():
        rec = rec if isinstance(rec, dict) else {}
        found[str(key)] = (_fitted(rec.get("value")), _fitted(rec.get("se")))
    fits = doc.get("fits") or []
    if not isinstance(fits, list):
        raise DataError(f"{p}: fits must be a list of fit records")
    links = set()
    for fit in fits:
        if isinstance(fit, dict):
            for key, vf, sf in _fit_keys(fit):
                found.setdefault(key, (_fitted(fit.get(vf)), _fitted(fit.get(sf))))
            if "satisfaction_effect" in fit:
                links.add(_number(fit.get("satisfaction_effect")))
    uncertain, fixed, notes = _split_found(p, found, doc.get("overrides") or [])
    if len(links) > 1:  # the scenario has one churn link: a link per group cannot be sampled
        uncertain.pop("churn.satisfaction_effect", None)
        fixed = [f for f in fixed if not f.startswith("churn.satisfaction_effect=")]
        notes.append(
            f"churn.satisfaction_effect: {p.name} fits a different link per group; the "
            "scenario has one link, so it is left at the scenario's value"
        )
    return uncertain, fixed, notes


def _split_found(
    p: Path, found: dict[str, tuple[Fitted, Fitted]], overrides: Any
) -> tuple[dict[str, Uncertain], list[str], list[str]]:
    uncertain: dict[str, Uncertain] = {}
    fixed: list[str] = []
    notes: list[str] = []
    for key, (value, se) in found.items():
        if isinstance(value, list):
            _split_list(p, key, value, se, (uncertain, fixed, notes))
        elif value is None:
            notes.append(f"{key}: no fitted value in {p.name}; left at the scenario's value")
        elif not isinstance(se, float) or se <= 0:
            notes.append(
                f"{key}: no standard error in {p.name}; held at its fitted value {value:g}"
            )
            fixed.append(f"{key}={value!r}")
        else:
            uncertain[key] = Uncertain.normal(key, value, se)
    for item in overrides if isinstance(overrides, list) else []:
        key = str(item).partition("=")[0].strip()
        if key and key not in found:
            notes.append(f"{key}: no standard error in {p.name}; held at its fitted value")
            fixed.append(str(item))
    if not uncertain:
        raise DataError(
            f"{p}: no key with a value and a standard error (looked in scenario_keys and in the "
            "fits' alpha_se, beta_se, satisfaction_effect_se and tenure_profile_se); give "
            "ranges with --uncertain"
        )
    return uncertain, fixed, notes


def _split_list(
    p: Path,
    key: str,
    value: list[float | None],
    se: Fitted,
    into: tuple[dict[str, Uncertain], list[str], list[str]],
) -> None:
    """One list key (a tenure profile): the whole fitted list held (fixed), and each element
    with a positive standard error uncertain, ``KEY[i]``; the others noted as held."""
    uncertain, fixed, notes = into
    missing = [i for i, v in enumerate(value) if v is None]
    if missing:
        notes.append(
            f"{key}: no fitted value for element(s) {', '.join(map(str, missing))} in {p.name}; "
            "the list is left at the scenario's value"
        )
        return
    ses = se if isinstance(se, list) else []
    fixed.append(f"{key}={json.dumps(value)}")
    for i, v in enumerate(value):
        name, s = f"{key}[{i}]", ses[i] if i < len(ses) else None
        if s is None or s <= 0 or v is None:
            notes.append(f"{name}: no standard error in {p.name}; held at its fitted value {v:g}")
        else:
            uncertain[name] = Uncertain.normal(name, v, s)


def sample_points(
    uncertain: Mapping[str, Uncertain], n: int, seed: int = 0, whole: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """``n`` Latin hypercube samples of the uncertain keys (each key's probability scale in
    ``n`` strata, :func:`simlib.sweep.lhs_points`), mapped through :meth:`Uncertain.at`;
    keys in ``whole`` are rounded to whole numbers."""
    if n < 2:
        raise CommandError(f"--samples: robustness needs at least 2 samples, got {n}")
    probs = lhs_points({k: (0.0, 1.0) for k in uncertain}, n, seed)
    out = []
    for point in probs:
        values: dict[str, Any] = {}
        for key, u in point.items():
            v = uncertain[key].at(min(float(u), 1.0 - 1e-12))
            values[key] = round(v) if key in whole else v
        out.append(values)
    return out


def _value_at(doc: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def point_overrides(scenario: Scenario, point: Mapping[str, Any]) -> list[str]:
    """The ``KEY=VALUE`` overrides (JSON values) that put one sample into ``scenario``.

    A key as it is; the elements ``KEY[i]`` of a list key as one override of the whole list:
    ``scenario``'s list at ``KEY`` with the sampled elements put in. A tenure profile shorter
    than an element's index is padded with 0 (entries after its end add nothing, so the padding
    changes nothing); any other list must already have the element.
    """
    out: list[str] = []
    lists: dict[str, list[Any]] = {}
    doc: dict[str, Any] | None = None
    for key, v in point.items():
        element = element_of(key)
        if element is None:
            out.append(f"{key}={json.dumps(v)}")
            continue
        base, i = element
        if base not in lists:
            doc = scenario.model_dump(mode="json") if doc is None else doc
            current = _value_at(doc, base)
            if not isinstance(current, list):
                what = "a mapping" if isinstance(current, dict) else json.dumps(current)
                raise CommandError(
                    f"{key}: KEY[i] names element i of a list key, and "
                    + (
                        f"the scenario has no list at {base}"
                        if current is None
                        else f"the scenario's {base} is not a list (it is {what})"
                    )
                )
            lists[base] = list(current)
        values = lists[base]
        if i >= len(values) and _log_odds(key):
            values.extend([0.0] * (i + 1 - len(values)))
        if i >= len(values):
            raise CommandError(
                f"{key}: the scenario's {base} has {len(values)} entries (elements 0 to "
                f"{len(values) - 1}), so it has no element {i}"
            )
        values[i] = v
    return out + [f"{base}={json.dumps(values)}" for base, values in lists.items()]


def sample_settings(
    scenario: Any,
    uncertain: Mapping[str, Uncertain],
    samples: int,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    fixed: Sequence[str] = (),
) -> list[tuple[dict[str, Any], Scenario]]:
    """The Latin hypercube samples of ``uncertain`` (:func:`sample_points`) and the lab's
    baseline scenario at each: ``overrides``, then ``fixed``, then the sample
    (:func:`point_overrides`, so a list key's elements go into the list ``fixed`` holds)."""
    common = [*as_overrides(overrides), *fixed]
    held = load_scenario(scenario, common)
    points = sample_points(uncertain, samples, seed, integer_keys(held, list(uncertain)))
    out = []
    for i, point in enumerate(points):
        base = _lab_scenario(scenario, [*common, *point_overrides(held, point)])
        out.append((point, base.model_copy(update={"name": f"{base.name} @ setting {i + 1}"})))
    return out


def _majority(labels: Sequence[str]) -> tuple[str, int]:
    """The most frequent label and its count (ties: the order of :data:`ANSWERS`, then by
    name)."""
    counts = Counter(labels)
    best = max(counts.items(), key=lambda kv: (kv[1], -_rank(kv[0])))
    return best


def _rank(label: str) -> float:
    return ANSWERS.index(label) if label in ANSWERS else len(ANSWERS) + 0.5


def _stump(values: Sequence[float], answers: Sequence[str]) -> dict[str, Any] | None:
    """The best single split of ``answers`` along ``values`` (see the module docstring), or
    None when no split with different majorities beats the majority of all samples."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    v = [float(values[i]) for i in order]
    a = [answers[i] for i in order]
    n = len(a)
    best: dict[str, Any] | None = None
    base_errors = n - _majority(a)[1]
    for k in range(1, n):
        if v[k - 1] == v[k]:
            continue
        below, nb = _majority(a[:k])
        above, na = _majority(a[k:])
        if below == above:
            continue
        errors = n - nb - na
        if errors < base_errors and (best is None or errors < best["mismatches"]):
            best = {
                "threshold": (v[k - 1] + v[k]) / 2.0,
                "below": below,
                "above": above,
                "mismatches": errors,
                "samples_below": k,
                "samples_above": n - k,
            }
    return best


def find_flips(
    values: Mapping[str, Sequence[float]], answers: Sequence[str]
) -> list[dict[str, Any]]:
    """Where the answer flips along each key: ``values`` key -> the key's value at each sample,
    ``answers`` the answer at each sample. One record per key with a flip (``key, threshold,
    below, above, mismatches, samples_below, samples_above``), fewest mismatches first."""
    flips = []
    for key, column in values.items():
        if len(column) != len(answers):
            raise ValueError(f"{key}: {len(column)} values for {len(answers)} answers")
        stump = _stump(list(column), list(answers))
        if stump is not None:
            flips.append({"key": key, **stump})
    return sorted(flips, key=lambda f: (f["mismatches"], f["key"]))


@dataclass
class Robustness:
    """The answer across plausible settings of the uncertain keys.

    ``samples``: one row per sample: ``sample``, each key's value, ``total``, ``retention``,
    ``expansion`` (mean revenue per opening account, currency), ``difference_low``,
    ``difference_high`` (the paired interval of retention - expansion) and ``dominant``.
    """

    samples: pd.DataFrame
    uncertain: dict[str, Uncertain]
    flips: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    replications: int = 0

    @property
    def share(self) -> dict[str, float]:
        """Answer -> share of the samples (every answer of :data:`ANSWERS`; sums to 1)."""
        n = len(self.samples)
        counts = Counter(self.samples["dominant"])
        return {a: counts.get(a, 0) / n for a in ANSWERS}

    def to_json(self) -> dict[str, Any]:
        """The ``robustness`` object of ``simlib lab --out`` (CONTRACT.md)."""
        keys = list(self.uncertain)
        return {
            "samples": len(self.samples),
            "replications": self.replications,
            "keys": {k: [u.lo, u.hi] for k, u in self.uncertain.items()},
            "sources": {k: u.source for k, u in self.uncertain.items()},
            "share": self.share,
            "flips": [
                {k: f[k] for k in ("key", "threshold", "below", "above", "mismatches")}
                for f in self.flips
            ],
            "points": [
                {**{k: row[k] for k in keys}, "dominant": row["dominant"]}
                for row in self.samples.to_dict("records")
            ],
            "notes": list(self.notes),
        }

    def sentences(self) -> str:
        """The robustness verdict in words (see :func:`robustness_text`)."""
        return robustness_text(self)


def _about(x: float) -> str:
    """``x`` to two significant digits, plainly (0.5, 0.94, 12, 1,200, −0.3)."""
    if x == 0 or not math.isfinite(x):
        return format_plain(x)
    return format_plain(round(x, 1 - math.floor(math.log10(abs(x)))))


def _key_words(key: str) -> str:
    """``a churn link (churn.satisfaction_effect)``; an element of a tenure profile: ``the
    log-odds added at renewal 1 (churn.tenure_profile.monthly[0])``."""
    word = KEY_WORDS.get(key)
    if word:
        return f"a {word} ({key})"
    m = _PROFILE.match(key)
    if m is None:
        return key
    renewal = ("annual renewal " if m["kind"] == "annual" else "renewal ") + str(
        int(m["index"]) + 1
    )
    where = f" in segment {m['segment']}" if m["segment"] else ""
    return f"the log-odds added at {renewal}{where} ({key})"


def _answer_words(answer: str) -> str:
    return "the ranking is unsure" if answer == "unsure" else f"{answer} dominates"


def robustness_text(rob: Robustness) -> str:
    """ "Retention dominates in 9 of 12 plausible settings ...; below a churn link of about 0.9,
    expansion dominates", computed from the samples and the flips."""
    n = len(rob.samples)
    counts = Counter(rob.samples["dominant"])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], _rank(kv[0])))
    how = ", ".join(
        f"{k} {_about(u.lo)} to {_about(u.hi)}"
        + (" (calibrated, ±1.96 standard errors)" if u.se is not None else "")
        for k, u in rob.uncertain.items()
    )
    top, top_n = ranked[0]
    head = (
        f"Across {n} plausible settings of the uncertain links (Latin hypercube over {how}; "
        f"{rob.replications} replication(s) each): {_answer_words(top)} in {top_n} of {n}"
    )
    rest = [f"{'unsure' if a == 'unsure' else a} in {c}" for a, c in ranked[1:]]
    if rest:
        head += " (" + ", ".join(rest) + ")"
    else:
        head = head.replace(f"in {top_n} of {n}", f"in all {n}")
    if not rob.flips:
        if len(ranked) > 1:
            return head + "; no single boundary along one key separates the answers." + _CLOSING
        if top == "unsure":
            return head + ": more replications per setting would tell." + _CLOSING
        return head + ": the answer holds across these ranges." + _CLOSING
    f = rob.flips[0]
    text = (
        f"{head}; below {_key_words(f['key'])} of about {_about(f['threshold'])}, "
        f"{_answer_words(f['below'])}, above it {_answer_words(f['above'])}"
    )
    if f["mismatches"]:
        text += f" (the boundary leaves {f['mismatches']} of {n} settings on the other side)"
    return text + "." + _CLOSING


_CLOSING = (
    " (The intervals above cover the simulation's noise at one setting of these links; this "
    "sentence says how sure the answer is across the plausible settings.)"
)


def _sample_rows(
    points: Sequence[Mapping[str, Any]], decompositions: Sequence[pd.DataFrame], level: float
) -> pd.DataFrame:
    """One row per sample (see :class:`Robustness`), each answer from the paired interval of
    retention - expansion with the noise pooled across samples (:func:`pooled_intervals`)."""
    diffs = [(d["retention"] - d["expansion"]).to_numpy(dtype=np.float64) for d in decompositions]
    intervals = pooled_intervals(diffs, level)
    rows = []
    for i, (point, d, (low, high)) in enumerate(
        zip(points, decompositions, intervals, strict=True)
    ):
        ret, exp = float(d["retention"].mean()), float(d["expansion"].mean())
        rows.append(
            {
                "sample": i + 1,
                **point,
                "total": float(d["total"].mean()),
                "retention": ret,
                "expansion": exp,
                "difference_low": low,
                "difference_high": high,
                "dominant": dominance(ret, exp, low, high),
            }
        )
    return pd.DataFrame(rows)


def pooled_intervals(
    groups: Sequence[np.ndarray], level: float = 0.95
) -> list[tuple[float, float]]:
    """Student-t intervals of each group's mean with the variance pooled across the groups:
    ``s_p^2 = sum_g sum_r (x_gr - mean_g)^2 / sum_g (n_g - 1)`` and ``mean_g +- t(level, df =
    sum_g (n_g - 1)) s_p / sqrt(n_g)`` (the within-group mean square of a one-way analysis of
    variance). With 2 replications a sample has 1 degree of freedom of its own (t = 12.7 at
    95 %); 12 samples pool 12 (t = 2.18), assuming the noise of the paired difference is alike
    across the sampled settings. NaN bounds without a degree of freedom."""
    clean = [g[np.isfinite(g)] for g in groups]
    df = sum(max(g.size - 1, 0) for g in clean)
    ss = sum(float(((g - g.mean()) ** 2).sum()) for g in clean if g.size > 1)
    if df == 0:
        return [(float("nan"), float("nan")) for _ in clean]
    sp = math.sqrt(ss / df)
    t = float(stdtrit(df, 0.5 + level / 2))
    out = []
    for g in clean:
        if g.size == 0:
            out.append((float("nan"), float("nan")))
            continue
        half = t * sp / math.sqrt(g.size)
        out.append((float(g.mean()) - half, float(g.mean()) + half))
    return out


@accepts_run_options
def run_robustness(
    scenario: Any,
    uncertain: Mapping[str, Uncertain],
    samples: int = 12,
    dose: float = 0.1,
    replications: int = 2,
    seed: int = 0,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    kind: str = "uplift",
    *,
    fixed: Sequence[str] = (),
    notes: Sequence[str] = (),
    executor: ExecutorArg = "local",
    workers: int | None = None,
    cache: CacheArg = None,
    level: float = 0.95,
    options: RunOptions | None = None,
) -> Robustness:
    """The paired intervention at ``samples`` Latin hypercube settings of ``uncertain`` (module
    docstring), every run on replications ``0 .. replications-1`` of ``seed``; ``fixed``:
    overrides held at every sample (fitted values without a standard error, the fitted lists
    whose elements are sampled), after ``overrides`` and before the sample's keys
    (:func:`sample_settings`). All ``2 x samples`` scenarios run in one batch.
    """
    if not uncertain:
        raise CommandError("robustness needs at least one uncertain key (--uncertain KEY=LO:HI)")
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    settings = sample_settings(scenario, uncertain, samples, opts.seed, opts.overrides, fixed)
    points = [point for point, _ in settings]
    pairs = [(base, _treated(base, dose, kind)) for _, base in settings]
    res = _run([s for pair in pairs for s in pair], opts)
    decompositions = [decompose_revenue(res.results[b.name], res.results[t.name]) for b, t in pairs]
    frame = _sample_rows(points, decompositions, level)
    flips = find_flips({k: frame[k].tolist() for k in uncertain}, frame["dominant"].tolist())
    return Robustness(frame, dict(uncertain), flips, list(notes), opts.replications)
