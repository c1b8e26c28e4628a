"""The notebooks: committed clean, parameters documented, and run under papermill with small
parameters giving the same figures as the library for the same seed."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import simlib
from simlib import reports
from simlib.batch import ensure_kernel, execute_notebook, notebooks_dir

NOTEBOOKS = ["scenario_report", "policy_comparison", "satisfaction_vs_arpu", "sensitivity"]
SMALL = {"population.initial_accounts": 300, "horizon_months": 24}
REPS, SEED = 3, 4


def _run(name: str, tmp_path: Path, **params: object) -> dict:
    out = tmp_path / name
    out.mkdir()
    execute_notebook(
        notebooks_dir() / f"{name}.ipynb",
        out / f"{name}.ipynb",
        {"overrides": SMALL, "replications": REPS, "seed": SEED, "output_dir": str(out), **params},
        ensure_kernel(),
        out,
        timeout=300,
    )
    executed = nbformat.read(out / f"{name}.ipynb", as_version=4)
    images = [
        o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert images, f"{name} drew no chart"
    return json.loads((out / "outputs.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs_and_with_documented_parameters(name: str) -> None:
    import papermill as pm

    nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"] == {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    params = pm.inspect_notebook(str(notebooks_dir() / f"{name}.ipynb"))
    assert "output_dir" in params and "seed" in params
    for p in params.values():
        assert p["inferred_type_name"] not in ("None", ""), p
        assert p["help"], f"{name}: parameter {p['name']} has no comment"
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 2


def _scenario(**extra: object) -> simlib.Scenario:
    return simlib.load_scenario("b2b_saas", reports.as_overrides({**SMALL, **extra}))


@pytest.mark.slow
def test_scenario_report(tmp_path: Path) -> None:
    out = _run("scenario_report", tmp_path)
    expected = simlib.simulate(_scenario(), replications=REPS, seed=SEED).summary
    assert out["scenario"] == "b2b_saas" and out["replications"] == REPS and out["seed"] == SEED
    for metric in reports.HEADLINE_METRICS:
        ci = simlib.mean_ci(expected[metric])
        got = out["headline"][metric]
        assert got["mean"] == pytest.approx(ci.mean, rel=1e-12), metric
        assert got["ci_low"] == pytest.approx(ci.low, rel=1e-12), metric
        assert got["n"] == REPS


@pytest.mark.slow
def test_policy_comparison(tmp_path: Path) -> None:
    variants = {"fewer champion losses": {"champion.monthly_turnover": 0.002}}
    out = _run("policy_comparison", tmp_path, variants=variants)
    assert out["baseline"] == "b2b_saas"
    assert out["scenarios"] == ["b2b_saas", "fewer champion losses"]
    base = simlib.simulate(_scenario(), replications=REPS, seed=SEED).summary
    alt = simlib.simulate(
        _scenario(**{"champion.monthly_turnover": 0.002}), replications=REPS, seed=SEED
    ).summary
    for metric in ("ltv_mean", "logo_churn_monthly", "net_value"):
        diff = simlib.mean_ci(alt[metric].to_numpy() - base[metric].to_numpy())
        got = out["differences"]["fewer champion losses"][metric]
        assert got["difference"] == pytest.approx(diff.mean, rel=1e-9, abs=1e-12), metric
        assert got["ci_high"] - got["ci_low"] == pytest.approx(2 * diff.half_width, rel=1e-6)
    # fewer champion losses cannot raise churn when every account faces the same luck
    assert out["differences"]["fewer champion losses"]["logo_churn_monthly"]["difference"] <= 0


@pytest.mark.slow
def test_satisfaction_vs_arpu(tmp_path: Path) -> None:
    from simlib import lab

    conditions = ["B2B, no gates", "B2B, approvals + budget cycle"]
    out = _run(
        "satisfaction_vs_arpu",
        tmp_path,
        dose=0.15,
        doses=[0.1, 0.2],
        conditions=conditions,
        churn_betas=[20, 99],
    )
    exp = lab.run_intervention("b2b_saas", 0.15, REPS, SEED, SMALL)
    for r in exp.table.itertuples():
        got = out["differences"][r.metric]
        assert got["difference"] == pytest.approx(r.difference, rel=1e-9, abs=1e-12), r.metric
        assert got["ci_low"] == pytest.approx(r.ci_low, rel=1e-9, abs=1e-12), r.metric
    assert out["differences"]["mean_satisfaction"]["ci_low"] > 0
    # the decomposition adds up, and the verdict is the library's text for these numbers
    parts = out["decomposition"]
    total = parts["retention"]["mean"] + parts["expansion"]["mean"]
    assert parts["total"]["mean"] == pytest.approx(total, rel=1e-9, abs=1e-6)
    assert parts["expansion"]["mean"] == pytest.approx(
        parts["mix"]["mean"] + parts["within"]["mean"], rel=1e-9, abs=1e-6
    )
    assert out["verdict"] == exp.verdict()
    assert set(out["naive_vs_causal"]) == {"naive", "causal", "naive_minus_causal"}
    assert sorted({r["dose"] for r in out["dose_response"]}) == [0.1, 0.15, 0.2]
    assert list(out["conditions"]) == conditions
    assert [r["beta"] for r in out["churn_floor"]] == [20, 99]
    assert out["cs_roi"]["cs_cost"]["mean"] > 0


@pytest.mark.slow
def test_sensitivity(tmp_path: Path) -> None:
    ranges = {"economics.annual_discount_rate": [0.05, 0.2], "churn.satisfaction_effect": [0, 4]}
    out = _run("sensitivity", tmp_path, ranges=ranges, outcome="ltv_mean")
    base = simlib.simulate(_scenario(), replications=REPS, seed=SEED).summary
    assert out["baseline"] == pytest.approx(base["ltv_mean"].mean(), rel=1e-12)
    low = simlib.simulate(
        _scenario(**{"economics.annual_discount_rate": 0.05}), replications=REPS, seed=SEED
    ).summary
    assert out["keys"]["economics.annual_discount_rate"]["low"] == pytest.approx(
        low["ltv_mean"].mean(), rel=1e-9
    )
    # a higher discount rate lowers discounted LTV
    rate = out["keys"]["economics.annual_discount_rate"]
    assert rate["high"] < out["baseline"] < rate["low"]
