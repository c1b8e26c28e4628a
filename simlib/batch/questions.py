"""The questions of a batch: each story against its own counterfactual.

A batch file may declare ``compare: [{baseline: NAME, variants: [NAME, ...]}]``: each variant is
read against its baseline, paired (same seed: common random numbers), and the index opens with
one row per variant: the question, the answer in words, the effect on the question's figure
with its 95 % paired interval, and links to the reports.

Scenarios on different *books* are never paired: a paired difference between a B2C book at
14 USD a month and a B2B book at 1,500 says nothing about any policy. Two scenarios are on the
same book when they start from the same customers and run as long in the same currency:
:data:`BOOK_KEYS` are equal. Asking to pair scenarios on different books is a
:class:`~simlib.batch.plan.BatchError` (exit code 2) that says which of those differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..metrics import METRICS, metric_view
from ..reports import comparison_from_results, effect_sentence, effect_text
from .plan import BatchError, BatchFile, ScenarioSpec

__all__ = ["BOOK_KEYS", "answer_questions", "book_difference", "check_compare", "same_book"]

#: What makes a book: the opening customers, who arrives later, the horizon and the currency.
BOOK_KEYS = ("population", "acquisition", "horizon_months", "economics.currency")


def _get(scenario: Any, key: str) -> Any:
    value = scenario
    for part in key.split("."):
        value = getattr(value, part)
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{prefix}.{k}"))
        return out
    return {prefix: value}


def book_difference(a: Any, b: Any) -> str | None:
    """In words, how the books of scenarios ``a`` and ``b`` differ (None: the same book)."""
    for key in BOOK_KEYS:
        va, vb = _get(a, key), _get(b, key)
        if va == vb:
            continue
        la, lb = _leaves(va, key), _leaves(vb, key)
        diffs = [k for k in sorted(set(la) | set(lb)) if la.get(k) != lb.get(k)]
        shown = ", ".join(
            f"{k}: {la.get(k, '(none)')} against {lb.get(k, '(none)')}" for k in diffs[:2]
        )
        more = f" and {len(diffs) - 2} more" if len(diffs) > 2 else ""
        return f"{shown}{more}"
    return None


def same_book(a: Any, b: Any) -> bool:
    """Whether scenarios ``a`` and ``b`` start from the same book (:data:`BOOK_KEYS`)."""
    return book_difference(a, b) is None


def check_compare(
    batch_path: Path, batch: BatchFile, loaded: Sequence[tuple[ScenarioSpec, Any]]
) -> None:
    """Check the batch's ``compare`` before anything runs: every name is a scenario of the batch,
    the figure is a known one, and each variant is on its baseline's book; otherwise a
    :class:`BatchError` naming the batch file and the key (exit code 2)."""
    scenarios = {spec.name: scen for spec, scen in loaded}
    known = ", ".join(repr(n) for n in scenarios)
    for i, q in enumerate(batch.compare):
        where = f"{batch_path}: compare[{i}]"
        if q.figure not in METRICS:
            raise BatchError(
                f"{where}.figure: unknown figure {q.figure!r}; known: {', '.join(METRICS)}"
            )
        names = [("baseline", q.baseline)] + [
            (f"variants[{j}]", v) for j, v in enumerate(q.variants)
        ]
        for key, name in names:
            if name not in scenarios:
                raise BatchError(f"{where}.{key}: no scenario named {name!r}; the batch's: {known}")
        base = scenarios[q.baseline]
        for j, variant in enumerate(q.variants):
            if variant == q.baseline:
                raise BatchError(f"{where}.variants[{j}]: {variant!r} is the baseline itself")
            scen = scenarios[variant]
            if base is None or scen is None:
                continue  # a scenario that does not load is that scenario's recorded failure
            diff = book_difference(base, scen)
            if diff is not None:
                raise BatchError(
                    f"{where}.variants[{j}]: {variant!r} is not on the book of {q.baseline!r} "
                    f"({diff}); a paired difference across different books measures the books, "
                    "not a policy: compare each scenario with a counterfactual on its own book"
                )


def paired_with_first(
    loaded: Sequence[tuple[ScenarioSpec, Any]], names: Sequence[str]
) -> list[str]:
    """Of ``names`` (the first is the baseline), those on the first one's book."""
    scenarios = {spec.name: scen for spec, scen in loaded}
    if not names:
        return []
    first = scenarios.get(names[0])
    return [
        n
        for n in names
        if first is not None and scenarios.get(n) is not None and same_book(first, scenarios[n])
    ]


def answer_questions(
    batch: BatchFile,
    results: Mapping[str, Any],
    links: Mapping[str, list[dict[str, str]]],
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """One row per (question, variant) for the index: ``question``, ``answer``, ``effect``,
    ``links`` (``href``/``text``), ``ok``; and the paired comparison of every pair (the
    comparison table's columns, ``scenario`` the variant, plus ``baseline``)."""
    rows: list[dict[str, Any]] = []
    tables = []
    for q in batch.compare:
        for variant in q.variants:
            row: dict[str, Any] = {
                "question": q.question or f"What does {variant} change against {q.baseline}?",
                "variant": variant,
                "baseline": q.baseline,
                "figure": q.figure,
                "links": [*links.get(variant, []), *_baseline_links(links.get(q.baseline, []))],
            }
            missing = [n for n in (q.baseline, variant) if n not in results]
            if missing:
                row.update(
                    ok=False, answer=f"not answered: {missing[0]} has no results", effect="–"
                )
                rows.append(row)
                continue
            currency = results[variant].scenario.economics.currency
            metrics = list(dict.fromkeys([q.figure, *metric_view("compare")]))
            table = comparison_from_results(
                {q.baseline: results[q.baseline], variant: results[variant]}, metrics
            )
            table = table[table["scenario"] == variant].assign(baseline=q.baseline)
            tables.append(table)
            hit = next(table[table["metric"] == q.figure].itertuples())
            row.update(
                ok=True,
                answer=f"{variant} {effect_sentence(hit, currency)} against {q.baseline}.",
                effect=effect_text(hit, currency),
            )
            rows.append(row)
    pairs = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return rows, pairs


def _baseline_links(links: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {**link, "text": f"baseline {link['text']}"} for link in links if link["text"] == "report"
    ]
