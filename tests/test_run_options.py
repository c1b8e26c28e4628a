"""Run options as one frozen object passed through the experiment layer."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import simlib
from simlib.compare import compare
from simlib.errors import UserInputError
from simlib.run_options import RunOptions
from simlib.sweep import sweep

OVERRIDES = ["horizon_months=12", "population.initial_accounts=300"]


def test_frozen_and_replace_makes_a_copy() -> None:
    opts = RunOptions(replications=3, seed=5, overrides=OVERRIDES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.seed = 6  # type: ignore[misc]
    more = opts.replace(replications=6)
    assert (opts.replications, more.replications, more.seed) == (3, 6, 5)
    assert more.overrides == tuple(OVERRIDES)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"replications": 0}, "replications must be >= 1"),
        ({"replications": 2.5}, "whole number"),
        ({"workers": 0}, "workers must be >= 1"),
        ({"max_replications": 0}, "max_replications must be >= 1"),
    ],
)
def test_bad_options_are_user_errors(changes: dict, message: str) -> None:
    with pytest.raises(UserInputError, match=message) as info:
        RunOptions(**changes)
    assert info.value.exit_code == 2


def test_mapping_overrides_and_targets_become_tuples() -> None:
    opts = RunOptions(overrides={"horizon_months": 12}, target_ci={"ltv_mean": 5.0})
    assert opts.overrides == ("horizon_months=12",)
    assert opts.targets == {"ltv_mean": 5.0} and hash(opts.target_ci)


def test_options_and_keywords_together_are_refused() -> None:
    with pytest.raises(UserInputError, match=r"not both .*replications"):
        simlib.simulate("textbook", replications=2, options=RunOptions())


def test_simulate_with_options_equals_simulate_with_keywords() -> None:
    by_keywords = simlib.simulate(
        "textbook", replications=2, seed=9, overrides=OVERRIDES, executor="local", workers=1
    )
    opts = RunOptions(2, 9, OVERRIDES, "local", 1)
    by_options = simlib.simulate("textbook", options=opts)
    pd.testing.assert_frame_equal(by_keywords.summary, by_options.summary)
    pd.testing.assert_frame_equal(by_keywords.monthly, by_options.monthly)


def test_one_object_drives_compare_and_sweep() -> None:
    opts = RunOptions(2, 3, OVERRIDES, "local", 1)
    cmp = compare(["textbook", "b2c_subscription"], options=opts)
    assert cmp.seed == 3 and cmp.replications == 2
    swept = sweep("textbook", {"churn.satisfaction_effect": [0, 2]}, options=opts)
    assert set(swept.table["replication"]) == {0, 1}
    assert set(swept.table["seed"]) == {3}
    direct = simlib.simulate(
        "textbook", options=opts.replace(overrides=(*OVERRIDES, "churn.satisfaction_effect=2"))
    )
    point = swept.table[swept.table["point"] == 1].sort_values("replication")
    assert point["ltv_mean"].tolist() == direct.summary["ltv_mean"].tolist()
