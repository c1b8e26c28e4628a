"""The scenario format: defaults, validation, extends, --set, and clear errors (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import simlib
from simlib.errors import ScenarioError
from simlib.scenario import load_scenario, preset_names, to_yaml


def test_presets_exist_and_validate():
    names = preset_names()
    assert {"textbook", "b2b_saas"} <= set(names)
    for name in names:
        assert load_scenario(name).name


def test_textbook_has_every_mechanism_but_the_core_off():
    s = load_scenario("textbook")
    assert s.acquisition.new_accounts_per_month == 0
    assert not s.satisfaction.enabled and not s.champion.enabled
    assert s.churn.satisfaction_effect == 0
    assert list(s.segment_table()) == ["all"]
    seg = s.segment_table()["all"]
    assert list(seg.plans.values()) == [s.population.mrr] and seg.size_sigma == 0


def test_b2b_saas_has_three_segments_and_about_5000_accounts():
    s = load_scenario("b2b_saas")
    assert list(s.segment_table()) == ["smb", "mid_market", "enterprise"]
    assert s.population.initial_accounts == 5000
    assert 0 < s.segment_table()["enterprise"].annual_share <= 1


def test_resolved_yaml_round_trips(tmp_path: Path):
    s = load_scenario("b2b_saas", ["churn.satisfaction_effect=1.5"])
    path = tmp_path / "resolved.yaml"
    path.write_text(to_yaml(s), encoding="utf-8")
    again = load_scenario(path)
    assert again == s


def test_extends_merges_key_by_key(tmp_path: Path):
    child = tmp_path / "child.yaml"
    child.write_text("extends: textbook\nname: child\nchurn:\n  monthly: {alpha: 2.0}\n")
    s = load_scenario(child)
    parent = load_scenario("textbook")
    assert s.name == "child"
    assert s.churn.monthly.alpha == 2.0
    assert s.churn.monthly.beta == parent.churn.monthly.beta  # kept from the parent
    assert s.population == parent.population.model_copy(update={"segments": s.population.segments})


def test_extends_a_relative_path_and_cycles_are_errors(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.yaml")


def test_set_overrides_and_inherits_into_segments():
    s = load_scenario("textbook", ["churn.monthly.alpha=0.7", "horizon_months=12"])
    assert s.churn.monthly.alpha == 0.7
    assert s.segment_table()["all"].churn.monthly.alpha == 0.7
    assert s.horizon_months == 12


def test_partial_override_keeps_sibling_defaults():
    s = load_scenario("textbook", ["satisfaction.fit.beta=3"])
    assert s.satisfaction.fit.beta == 3 and s.satisfaction.fit.alpha == 6.0


@pytest.mark.parametrize(
    ("override", "key", "words"),
    [
        ("churn.monthly.alpha=-1", "churn.monthly.alpha", "must be > 0"),
        ("contracts.annual_share=1.5", "contracts.annual_share", "must be <= 1"),
        ("population.initial_accounts=-3", "population.initial_accounts", "must be >= 0"),
        ("horizon_months=abc", "horizon_months", "whole number"),
        ("churn.monthy.alpha=1", "churn.monthy", "did you mean 'monthly'"),
        ("economics.gross_margin=.nan", "economics.gross_margin", "finite"),
        ("acquisition.process=weekly", "acquisition.process", "'poisson' or 'fixed'"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(override, key, words):
    with pytest.raises(ScenarioError) as info:
        load_scenario("textbook", [override])
    message = str(info.value)
    assert message.startswith("textbook:")
    assert f"{key}:" in message and words in message


def test_segment_shares_must_add_up(tmp_path: Path):
    doc = yaml.safe_load(Path(simlib.scenario.preset_dir() / "b2b_saas.yaml").read_text())
    doc["population"]["segments"]["smb"]["share"] = 0.9
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ScenarioError, match=r"population: segment shares must add up to 1"):
        load_scenario(path)


def test_plan_mix_must_name_plans():
    with pytest.raises(ScenarioError, match="plan_mix names plan"):
        load_scenario("b2b_saas", ["population.segments.smb.plan_mix.gold=0.1"])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name: [unclosed\n", "not valid YAML (line"),
        ("name: x\nname: y\n", "given twice"),
        ("!!python/object/apply:os.system ['echo hi']\n", "language-specific YAML tags"),
        ("", "empty"),
        ("- a\n- b\n", "a YAML mapping"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, words: str):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value) and words in str(info.value)


def test_binary_junk_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "junk.yaml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ScenarioError, match="UTF-8"):
        load_scenario(path)


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(ScenarioError, match="did you mean 'textbook'"):
        load_scenario("textbok")


def test_missing_file():
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario("nowhere/at_all.yaml")


# -- the same through the command line: exit code 2, a message, nothing written -----------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["textbook", "--set", "churn.monthly.alpha=-1"], "churn.monthly.alpha: must be > 0"),
        (["textbook", "--set", "churn.typo=1"], "churn.typo: unknown key"),
        (["textbok"], "did you mean 'textbook'"),
        (["missing/file.yaml"], "no such file"),
        (["textbook", "--set", "nokeyvalue"], "expected KEY=VALUE"),
    ],
)
def test_cli_run_rejects_bad_input_with_exit_2_and_no_output(run_cli, tmp_path, args, words):
    out = tmp_path / "out"
    code, _stdout, stderr = run_cli("run", *args, "--out", str(out), "-q")
    assert code == 2
    assert words in stderr
    assert "Traceback" not in stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_cli_invalid_yaml_file(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("horizon_months: [1, 2\n")
    code, _, stderr = run_cli("validate", str(bad))
    assert code == 2 and str(bad) in stderr and "not valid YAML" in stderr


def test_cli_validate_prints_resolved_yaml(run_cli):
    code, stdout, _ = run_cli("validate", "textbook", "--set", "horizon_months=7")
    assert code == 0
    doc = yaml.safe_load(stdout)
    assert doc["horizon_months"] == 7
    assert doc["population"]["segments"]["all"]["churn"]["monthly"]["alpha"] == 1.0


def test_a_segment_needs_a_plan_and_inherits_the_default_one():
    with pytest.raises(ScenarioError, match=r"population.segments.new: plans must name at least"):
        load_scenario(
            "textbook",
            [
                "population.segments={all: {share: 0.5, plans: {a: 1}}, new: {share: 0.5, plans: {}}}"
            ],
        )
    scenario = load_scenario(
        "textbook",
        [
            "population.mrr=42",
            "population.segments={all: {share: 0.5, plans: {a: 1}}, new: {share: 0.5}}",
        ],
    )
    assert scenario.segment_table()["new"].plans == {"standard": 42.0}


def test_overrides_on_a_loaded_scenario_reach_inherited_segment_values():
    loaded = load_scenario("textbook")
    again = load_scenario(loaded, ["churn.monthly.alpha=0.7"])
    assert again.segment_table()["all"].churn.monthly.alpha == 0.7
    # a scenario changed after loading is taken as it is
    changed = loaded.model_copy(update={"horizon_months": 5})
    assert load_scenario(changed, ["name=x"]).horizon_months == 5
