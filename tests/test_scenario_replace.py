"""Replacing an inherited mapping or list instead of merging into it: ``key!`` in a scenario that
``extends:`` another (simlib/config/loader.py), in files, mappings and ``--set``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import simlib
from simlib.engine import Simulation
from simlib.errors import ScenarioError, UserInputError

WATER = "water_server: {price: 19.99, relevance: {light: 0.02, heavy: 0.02}}"
SMALL = ["population.initial_accounts=2000", "horizon_months=24"]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_water_server_only_variant_runs_with_only_that_addon(tmp_path: Path) -> None:
    replaced = _write(
        tmp_path,
        "water_only.yaml",
        f"extends: irrelevant_cross_sell\nname: water_only\noffers:\n  addons!:\n    {WATER}\n",
    )
    merged = _write(
        tmp_path,
        "water_merged.yaml",
        f"extends: irrelevant_cross_sell\nname: water_merged\noffers:\n  addons:\n    {WATER}\n",
    )
    parent = simlib.load_scenario("irrelevant_cross_sell")
    assert len(parent.offers.addons) == 5
    assert list(simlib.load_scenario(merged).offers.addons) == list(parent.offers.addons)
    scenario = simlib.load_scenario(replaced, SMALL)
    assert list(scenario.offers.addons) == ["water_server"]
    sim = Simulation(scenario, seed=1).run()
    offers = sim.actor("offers")
    assert offers is not None and offers.addon_names == ["water_server"]  # type: ignore[attr-defined]
    owned = sim.book.addons
    assert set(np.unique(owned)) <= {0, 1}  # bit 0 only: the water server
    assert (owned == 1).sum() > 0  # it was offered and bought
    # everything else is inherited: the rest of the parent's offers block is unchanged
    assert scenario.offers.kinds == simlib.load_scenario("irrelevant_cross_sell").offers.kinds


def test_replace_in_a_mapping_through_a_chain_and_with_set(tmp_path: Path) -> None:
    doc = {
        "extends": "irrelevant_cross_sell",
        "offers": {
            "addons!": {"water_server": {"price": 1.0, "relevance": {"light": 0.1, "heavy": 0.1}}}
        },
    }
    assert list(simlib.load_scenario(doc).offers.addons) == ["water_server"]
    _write(
        tmp_path,
        "middle.yaml",
        f"extends: irrelevant_cross_sell\noffers:\n  addons!:\n    {WATER}\n",
    )
    child = _write(
        tmp_path,
        "child.yaml",
        "extends: middle.yaml\noffers:\n  addons:\n"
        "    tea: {price: 3.0, relevance: {light: 0.5, heavy: 0.5}}\n",
    )
    assert list(simlib.load_scenario(child).offers.addons) == ["water_server", "tea"]
    by_set = simlib.load_scenario("irrelevant_cross_sell", [f"offers.addons!={{{WATER}}}"])
    assert list(by_set.offers.addons) == ["water_server"]
    # a list: replaced either way; a marked key with nothing inherited is a plain key
    seg = _write(tmp_path, "plain.yaml", "name: plain\nchurn!: {satisfaction_effect: 0.5}\n")
    assert simlib.load_scenario(seg).churn.satisfaction_effect == 0.5


def test_a_badly_marked_key_is_an_error_naming_the_file_and_key(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "bad.yaml",
        "extends: irrelevant_cross_sell\noffers:\n  addons: {}\n  addons!: {}\n  kinds!!: {}\n",
    )
    with pytest.raises(ScenarioError) as err:
        simlib.load_scenario(bad)
    text = str(err.value)
    assert str(bad) in text
    assert "offers.addons!: given both" in text and "offers.kinds!!:" in text
    assert isinstance(err.value, UserInputError)
    with pytest.raises(ScenarioError, match=r"offers\.addon: unknown key \(did you mean 'addons'"):
        simlib.load_scenario({"extends": "irrelevant_cross_sell", "offers": {"addon!": {}}})
    run = subprocess.run(
        [sys.executable, "-m", "simlib", "validate", str(bad)], capture_output=True, text=True
    )
    assert run.returncode == 2 and "offers.addons!" in run.stderr
