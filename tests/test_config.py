"""Configuration apart from the runtime: simlib.config imports no runtime, offer kinds are one spec
model each, and plug-in names are checked at the runtime boundary (simlib.plugins)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import yaml

import simlib
from simlib import config
from simlib.errors import ScenarioError
from simlib.model.offers import OFFER_KINDS, Proposal, register_offer_kind
from simlib.tiers import COVERAGE_POLICIES

CONFIG = Path(config.__file__).parent
#: what simlib.config may import of the rest of simlib: the errors and I/O (both below everything)
BELOW = {"errors", "io", "io.resources", "registry"}  # the bottom layer


def test_config_imports_nothing_of_the_runtime():
    for path in sorted(CONFIG.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert node.level == 2 and node.module in BELOW, f"{path.name}: {node.module}"
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("simlib"), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("simlib") for a in node.names), path.name


def test_each_built_in_kind_has_its_own_spec_model():
    kinds = config.load_scenario("b2b_saas").offers.kinds
    assert {k: type(s) for k, s in kinds.items()} == {
        "upsell": config.UpsellSpec,
        "cross_sell": config.CrossSellSpec,
        "downsell": config.DownsellSpec,
        "term_conversion": config.TermConversionSpec,
    }
    common = set(config.OfferKindSpec.model_fields)
    assert set(config.UpsellSpec.model_fields) - common == {"target_plans"}
    assert set(config.CrossSellSpec.model_fields) == common
    assert set(config.TermConversionSpec.model_fields) - common == {"keep_risk"}
    save = {"target_plans", "mode", "discount", "discount_months", "risk_multiplier"}
    assert set(config.DownsellSpec.model_fields) - common == save
    # kinds that move no plan still answer target_plans (the engine's plan mask reads it)
    assert (
        kinds["cross_sell"].target_plans is None and kinds["term_conversion"].target_plans is None
    )
    # each kind's defaults are its own
    assert kinds["downsell"].monthly_rate == 1.0 and kinds["term_conversion"].timing == "renewal"


@pytest.mark.parametrize(
    ("override", "words"),
    [
        (
            "offers.kinds.cross_sell.mode=discount",
            "offers.kinds.cross_sell.mode: unknown key (a key of downsell, not of cross_sell); "
            "allowed: base_intent, channel,",
        ),
        (
            "offers.kinds.term_conversion.target_plans=[team]",
            "(a key of upsell and downsell, not of term_conversion)",
        ),
        ("offers.kinds.upsell.risk_multiplier=0.7", "allowed: base_intent"),
        ("offers.kinds.downsell.mdoe=plan", "unknown key (did you mean 'mode'?)"),
        ("offers.kinds.upsell=3", "offers.kinds.upsell: must be a mapping, got 3"),
    ],
)
def test_a_key_of_another_kind_is_an_error_naming_the_allowed_keys(override, words, run_cli):
    with pytest.raises(ScenarioError) as info:
        simlib.load_scenario("b2b_saas", [override])
    assert words in str(info.value)
    code, _, err = run_cli("validate", "b2b_saas", "--set", override)
    assert code == 2 and words in err


def test_a_resolved_yaml_of_the_single_kind_model_still_loads(tmp_path: Path):
    """Earlier versions wrote every key for every kind; those holding their old default are
    dropped, any other value of them is an error."""
    doc = simlib.load_scenario("downsell_saves").model_dump(mode="json")
    legacy = {"target_plans": None, "mode": "plan", "discount": 0.2, "discount_months": 3}
    doc["offers"]["kinds"]["cross_sell"].update(legacy, risk_multiplier=0.5)
    old = tmp_path / "resolved.yaml"
    old.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert simlib.load_scenario(old) == simlib.load_scenario("downsell_saves")
    doc["offers"]["kinds"]["cross_sell"]["mode"] = "discount"
    old.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"offers\.kinds\.cross_sell\.mode: unknown key"):
        simlib.load_scenario(old)


def test_plug_in_names_stay_strings_in_config_and_are_checked_at_the_boundary():
    overrides = ["coverage.policy=tierd_by_arr", "horizon_months=3"]
    loaded = config.load_scenario("textbook", overrides)  # the configuration alone: fine
    assert loaded.coverage.policy == "tierd_by_arr"
    allowed = ", ".join(sorted(COVERAGE_POLICIES))  # every registered policy, the built-in ones
    assert {"none", "rules", "tiered_by_arr", "uniform_low_touch"} <= set(COVERAGE_POLICIES)
    expected = (  # the key path names the key, not its block
        "coverage.policy",
        f"unknown coverage policy 'tierd_by_arr' (did you mean 'tiered_by_arr'?); allowed: {allowed}",
    )
    with pytest.raises(ScenarioError) as info:
        simlib.load_scenario("textbook", overrides)
    assert info.value.problems == [expected] and info.value.exit_code == 2
    with pytest.raises(ScenarioError) as info:  # a loaded scenario, before anything runs
        simlib.simulate(loaded)
    assert info.value.source == "textbook" and info.value.problems == [expected]


def test_a_kind_registered_in_python_gets_the_generic_spec():
    def spy(engine, rows, month, spec) -> Proposal:
        z = np.zeros(0)
        return Proposal(rows[:0], z, z, np.zeros(0, dtype=bool))

    overrides = ["offers.kinds.spy={enabled: true, mode: discount}", "horizon_months=3"]
    with pytest.raises(ScenarioError) as info:
        simlib.load_scenario("textbook", overrides)
    assert info.value.problems == [
        (
            "offers.kinds.spy",
            "unknown offer kind 'spy'; allowed: cross_sell, downsell, term_conversion, upsell",
        )
    ]
    register_offer_kind("spy")(spy)
    try:
        scenario = simlib.load_scenario("textbook", overrides)
        spec = scenario.offers.kinds["spy"]
        assert isinstance(spec, config.CustomOfferKindSpec) and spec.mode == "discount"
        result = simlib.simulate(scenario, seed=1)
        assert (result.monthly["offers_made_spy"] == 0).all()
    finally:
        OFFER_KINDS.remove("spy")
