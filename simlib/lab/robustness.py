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
from ..run_options import RunOptions, accepts_run_options
from ..scenario import load_scenario
from ..sweep import integer_keys, lhs_points
from .decomposition import decompose_revenue, dominance
from .designs import _lab_scenario, _options, _run, _treated

__all__ = [
    "ANSWERS",
    "Robustness",
    "Uncertain",
    "find_flips",
    "parse_uncertain",
    "pooled_intervals",
    "run_robustness",
    "sample_points",
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
        a key that cannot be negative (a non-negative value; alpha and beta of a Beta stay
        above 1 % of their value)."""
        z = NormalDist().inv_cdf(0.5 + PLAUSIBLE / 2.0)
        lo, hi = value - z * se, value + z * se
        if value >= 0:
            lo = max(lo, 0.0)
        if key.rsplit(".", 1)[-1] in ("alpha", "beta"):
            lo = max(lo, 0.01 * value)
        return cls(key, lo, hi, value, se)


def parse_uncertain(items: Sequence[str]) -> dict[str, Uncertain]:
    """``["KEY=LO:HI", ...]`` (``--uncertain``) -> uncertain ranges; LO < HI, finite."""
    out: dict[str, Uncertain] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        lo_text, colon, hi_text = text.partition(":")
        if not sep or not key or not colon:
            raise CommandError(f"--uncertain: expected KEY=LO:HI, got {item!r}")
        if key in out:
            raise CommandError(f"--uncertain: key {key!r} is given twice")
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
    return keys


def uncertain_from_fit(path: str | Path) -> tuple[dict[str, Uncertain], list[str], list[str]]:
    """Read the JSON of ``simlib calibrate`` (``--uncertain-from FIT.json``).

    Returns (uncertain keys, fixed overrides, notes). Uncertain: every key with a value and a
    positive standard error, from ``scenario_keys: {KEY: {value, se}}`` and from ``fits``
    (``alpha``/``alpha_se``, ``beta``/``beta_se`` -> ``churn.monthly|annual.alpha|beta``, per
    group ``population.segments.G.churn...``; ``satisfaction_effect``/``satisfaction_effect_se``
    -> ``churn.satisfaction_effect``, one link for the scenario, so fits by group with different
    links leave it out with a note). Fixed: the file's ``overrides``
    whose key is not sampled (held at the fitted value). Notes: each key without a standard
    error, and what could not be used.
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
    found: dict[str, tuple[float | None, float | None]] = {}
    keys = doc.get("scenario_keys") or {}
    if not isinstance(keys, dict):
        raise DataError(f"{p}: scenario_keys must be an object KEY -> {{value, se}}")
    for key, rec in keys.items():
        rec = rec if isinstance(rec, dict) else {}
        found[str(key)] = (_number(rec.get("value")), _number(rec.get("se")))
    fits = doc.get("fits") or []
    if not isinstance(fits, list):
        raise DataError(f"{p}: fits must be a list of fit records")
    links = set()
    for fit in fits:
        if isinstance(fit, dict):
            for key, vf, sf in _fit_keys(fit):
                found.setdefault(key, (_number(fit.get(vf)), _number(fit.get(sf))))
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
    p: Path, found: dict[str, tuple[float | None, float | None]], overrides: Any
) -> tuple[dict[str, Uncertain], list[str], list[str]]:
    uncertain: dict[str, Uncertain] = {}
    fixed: list[str] = []
    notes: list[str] = []
    for key, (value, se) in found.items():
        if value is None:
            notes.append(f"{key}: no fitted value in {p.name}; left at the scenario's value")
        elif se is None or se <= 0:
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
            "fits' alpha_se, beta_se and satisfaction_effect_se); give ranges with --uncertain"
        )
    return uncertain, fixed, notes


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
    word = KEY_WORDS.get(key)
    return f"a {word} ({key})" if word else key


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
    overrides held at every sample (fitted values without a standard error), after
    ``overrides`` and before the sample's keys. All ``2 x samples`` scenarios run in one batch.
    """
    if not uncertain:
        raise CommandError("robustness needs at least one uncertain key (--uncertain KEY=LO:HI)")
    opts = _options(options, replications, seed, overrides, executor, workers, cache)
    common = [*opts.overrides, *fixed]
    whole = integer_keys(load_scenario(scenario, common), list(uncertain))
    points = sample_points(uncertain, samples, opts.seed, whole)
    pairs = []
    for i, point in enumerate(points):
        extra = [f"{k}={json.dumps(v)}" for k, v in point.items()]
        base = _lab_scenario(scenario, [*common, *extra])
        base = base.model_copy(update={"name": f"{base.name} @ setting {i + 1}"})
        pairs.append((base, _treated(base, dose, kind)))
    res = _run([s for pair in pairs for s in pair], opts)
    decompositions = [decompose_revenue(res.results[b.name], res.results[t.name]) for b, t in pairs]
    frame = _sample_rows(points, decompositions, level)
    flips = find_flips({k: frame[k].tolist() for k in uncertain}, frame["dominant"].tolist())
    return Robustness(frame, dict(uncertain), flips, list(notes), opts.replications)
