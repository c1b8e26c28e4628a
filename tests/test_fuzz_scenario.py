"""Fuzzing the scenario loader: any input either validates or raises the kit's own error.

Random YAML documents built from valid and misspelled keys with values of every type (huge
numbers, NaN, infinity, text, lists, nesting), random text and binary junk. Never a bare
exception; a valid scenario always gives finite, reconciled tables. The number of inputs tried is
printed in the test summary.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import FUZZ_COUNTS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import simlib
from simlib.config import preset_names
from simlib.config.base import MAX_ACCOUNTS, MAX_REQUESTS
from simlib.config.limits import expected_accounts, expected_requests
from simlib.errors import ScenarioError
from simlib.report_tables import MISSING_REASONS
from simlib.scenario import _DEFAULTS, load_scenario, parse_yaml


def _keys(doc: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in doc.items():
        out.append(prefix + k)
        if isinstance(v, dict):
            out += _keys(v, prefix + k + ".")
    return out


VALID_KEYS = _keys(_DEFAULTS)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from([0, 1, -1, 0.5, 1e308, -1e-308, "poisson", "monthly", "b2b"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
key_paths = st.one_of(
    st.sampled_from(VALID_KEYS),
    st.builds(lambda k, c: k[:-1] + c if k else c, st.sampled_from(VALID_KEYS), st.characters()),
    st.text(min_size=1, max_size=12),
)


def _set(doc: dict, path: str, value) -> None:
    parts = [p for p in path.split(".") if p] or ["x"]
    node = doc
    for p in parts[:-1]:
        nxt = node.get(p)
        if not isinstance(nxt, dict):
            nxt = node[p] = {}
        node = nxt
    node[parts[-1]] = value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(key_paths, values), min_size=1, max_size=6))
@example(edits=[("coverage.policy", "poisson")])  # plug-in names: checked at the boundary
@example(edits=[("offers.kinds.upsel.enabled", True)])
def test_random_documents_validate_or_raise_scenario_error(edits):
    FUZZ_COUNTS["scenario documents"] += 1
    doc = {"horizon_months": 3, "population": {"initial_accounts": 20}}
    for path, value in edits:
        _set(doc, path, value)
    try:
        scenario = simlib.load_scenario(doc)  # the configuration, then the plug-in names
    except ScenarioError as exc:
        assert str(exc).startswith("<mapping>: invalid scenario")
        return
    # valid: a short run gives finite tables with no NaN where numbers belong
    small = scenario.model_copy(
        update={
            "horizon_months": min(scenario.horizon_months, 4),
            "population": scenario.population.model_copy(
                update={"initial_accounts": min(scenario.population.initial_accounts, 50)}
            ),
            "acquisition": scenario.acquisition.model_copy(
                update={
                    "new_accounts_per_month": min(scenario.acquisition.new_accounts_per_month, 20)
                }
            ),
        }
    )
    res = simlib.simulate(small, seed=1)
    numbers = res.monthly.drop(columns=["scenario", "mean_satisfaction"]).to_numpy(dtype=float)
    assert np.isfinite(numbers).all()


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_random_text_parses_or_raises_scenario_error(text):
    FUZZ_COUNTS["YAML texts"] += 1
    try:
        parse_yaml(text, "fuzz.yaml")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.yaml:")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_binary_files_raise_scenario_error(tmp_path: Path, data: bytes):
    FUZZ_COUNTS["binary files"] += 1
    path = tmp_path / "junk.yaml"
    path.write_bytes(data)
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert str(path) in str(exc)


def test_deeply_nested_documents_are_rejected_cleanly(tmp_path: Path):
    for depth in (40, 5000):
        path = tmp_path / f"deep{depth}.yaml"
        path.write_text("population: " + "{x: " * depth + "1" + "}" * depth + "\n")
        with pytest.raises(ScenarioError, match="nested more than 32 levels deep"):
            load_scenario(path)
        FUZZ_COUNTS["scenario documents"] += 1


def test_extreme_but_valid_parameters_give_finite_reconciled_tables():
    res = simlib.simulate(
        "textbook",
        seed=1,
        overrides=[
            "population.initial_accounts=300",
            "horizon_months=600",
            "churn.monthly.alpha=0.01",
            "churn.monthly.beta=1000",
            "contracts.annual_share=1",
        ],
    )
    m = res.monthly
    assert np.isfinite(m.drop(columns=["scenario"]).to_numpy(dtype=float)).all()
    flows = m["new_mrr"] + m["expansion_mrr"] - m["contraction_mrr"] - m["churned_mrr"]
    np.testing.assert_allclose(m["mrr"].iloc[1:], (m["mrr"].shift(1) + flows).iloc[1:])
    empty = simlib.simulate("textbook", seed=1, overrides=["population.initial_accounts=0"])
    assert (empty.monthly["active_accounts"] == 0).all() and len(empty.accounts) == 0


# --------------------------------------------------------------------------------------------
# Mutations of every preset's resolved YAML (issue 18): numeric extremes and scalings, booleans,
# numbers as text, complex keys, alias bombs, plans a segment or an offer does not have


def _leaves(node, path=()):
    """``(path, value)`` of every value of a resolved scenario (lists are values)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, node


PRESETS = {name: simlib.load_scenario(name).model_dump(mode="json") for name in preset_names()}
LEAVES = {name: [p for p, _ in _leaves(doc)] for name, doc in PRESETS.items()}
EXTREMES = [0, -1, 0.5, 1, 1200, 1201, 5e7, 1e9, 1e12, 1e308, -1e308, 1e-308, 10**30, 2**63]
EXTREMES += [float("nan"), float("inf"), float("-inf")]
#: texts put into the YAML in place of a value (a sentinel the dump writes as a plain word)
TEXTS = {
    "complex": "{[1]: 2}",
    "complex_key": "{? [a, b] : 1}",
    "mapping_key": "{{a: 1}: 2}",
    "bomb": "*l8",
    "binary": "!!binary aGVsbG8=",
}


def _mutate(doc: dict, path: tuple, kind: str, draw) -> None:
    """One mutation of ``doc`` at ``path`` (in place)."""
    node = doc
    for part in path[:-1]:
        node = node[part]
    key, value = path[-1], node[path[-1]]
    if kind == "extreme":
        node[key] = draw(st.sampled_from(EXTREMES))
    elif kind == "scale":  # often still valid: large books, rates and teams that do run
        factor = draw(st.sampled_from([10, 1000, 2, 0.5, 0]))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            node[key] = type(value)(value * factor)
    elif kind == "boolean":
        node[key] = draw(st.booleans())
    elif kind == "number as text":
        node[key] = str(value) if isinstance(value, (int, float)) else "300"
    elif kind == "text":
        node[key] = f"@@{draw(st.sampled_from(sorted(TEXTS)))}@@"
    elif kind == "unknown plan":
        segments = doc["population"]["segments"]
        name = draw(st.sampled_from(sorted(segments)))
        where = draw(st.sampled_from(["plans", "plan_mix", "plan_limits", "target_plans"]))
        if where == "target_plans":
            kinds = doc["offers"]["kinds"]
            if kinds:
                spec = kinds[draw(st.sampled_from(sorted(kinds)))]
                spec["target_plans"] = [*(spec.get("target_plans") or []), "extra"]
            return
        seg = segments[name]
        seg[where] = {**(seg.get(where) or {}), "extra": draw(st.sampled_from([0, 0.2, 50]))}


def _yaml_text(doc: dict) -> str:
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    for word, value in TEXTS.items():
        text = text.replace(f"'@@{word}@@'", value).replace(f"@@{word}@@", value)
    if "*l8" in text:  # the alias bomb's anchors, 9 levels of 9 aliases, ahead of the document
        lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
        lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
        text = "\n".join(lines) + "\n" + text
    return text


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(preset=st.sampled_from(sorted(PRESETS)), data=st.data())
def test_mutated_presets_are_refused_cleanly_or_run_without_failing_on_memory(
    tmp_path: Path, run_cli, preset, data
):
    """Every preset's resolved YAML with one to three mutations either validates or is refused
    with exit code 2 and the kit's message (no traceback: an unexpected exception fails the
    test); a valid one runs, its first months at full rates, without a MemoryError."""
    FUZZ_COUNTS["mutated presets"] += 1
    doc = copy.deepcopy(PRESETS[preset])
    kinds = ["scale", "extreme", "boolean", "number as text", "text", "unknown plan"]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(LEAVES[preset]))
        _mutate(doc, path, data.draw(st.sampled_from(kinds)), data.draw)
    path = tmp_path / "mutated.yaml"
    path.write_text(_yaml_text(doc), encoding="utf-8")
    code, out, err = run_cli("validate", str(path))
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 2:
        assert err.startswith(f"simlib validate: {path}:"), err
        return
    scenario = simlib.load_scenario(path)
    resolved = tmp_path / "resolved.yaml"  # what validate printed loads as the same scenario
    resolved.write_text(out, encoding="utf-8")
    assert simlib.load_scenario(resolved) == scenario
    assert expected_accounts(scenario) <= MAX_ACCOUNTS
    assert expected_requests(scenario) <= MAX_REQUESTS
    # the first months at the scenario's own rates (new accounts, requests a month): what a
    # month allocates is what the full run allocates, month after month
    small = scenario.model_copy(
        update={
            "horizon_months": min(scenario.horizon_months, 3),
            "population": scenario.population.model_copy(
                update={"initial_accounts": min(scenario.population.initial_accounts, 200)}
            ),
        }
    )
    res = simlib.simulate(small, seed=1, workers=1)
    assert len(res.monthly) == small.horizon_months
    # no NaN without a reason: a figure missing from the summary has one the reports give
    missing = [c for c in res.summary.columns if res.summary[c].isna().any()]
    assert set(missing) <= set(MISSING_REASONS), f"missing without a reason: {missing}"
    FUZZ_COUNTS["mutated presets that ran"] += 1
