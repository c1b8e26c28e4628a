"""Fuzzing the scenario loader: any input either validates or raises the kit's own error.

Random YAML documents built from valid and misspelled keys with values of every type (huge
numbers, NaN, infinity, text, lists, nesting), random text and binary junk. Never a bare
exception; a valid scenario always gives finite, reconciled tables. The number of inputs tried is
printed in the test summary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import FUZZ_COUNTS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import simlib
from simlib.errors import ScenarioError
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
