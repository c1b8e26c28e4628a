"""The notebooks: committed clean, parameters documented, and run under papermill with small
parameters giving the same figures as the library for the same seed."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

import simlib
from simlib import reports
from simlib.batch import ensure_kernel, execute_notebook, notebooks_dir

NOTEBOOKS = [
    "scenario_report",
    "policy_comparison",
    "satisfaction_vs_arpu",
    "sensitivity",
    "calibration",
]
SMALL = {"population.initial_accounts": 300, "horizon_months": 24}
REPS, SEED = 3, 4
#: |z| beyond which a check fails: P(|N(0, 1)| > 4) = 6.3e-5, small even summed over the ~50
#: pointwise checks below (Bonferroni), so a failure means a wrong number, not bad luck.
Z = 4.0


def _run(
    name: str, tmp_path: Path, base: dict | None = None, cwd: Path | None = None, **params: object
) -> dict:
    out = tmp_path / name
    out.mkdir()
    common = {"overrides": SMALL} if base is None else base
    execute_notebook(
        notebooks_dir() / f"{name}.ipynb",
        out / f"{name}.ipynb",
        {**common, "replications": REPS, "seed": SEED, "output_dir": str(out), **params},
        ensure_kernel(),
        out if cwd is None else cwd,
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


def _printed(notebook: Path) -> str:
    """Everything the executed notebook's cells output, as text (images left out)."""
    executed = nbformat.read(notebook, as_version=4)
    parts = []
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(v for k, v in output.get("data", {}).items() if k.startswith("text/"))
            parts.extend(output.get("traceback", []))
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _no_local_paths(notebook: Path, tmp_path: Path) -> None:
    """A notebook run by hand shows no absolute path of this machine (outputs.json included)."""
    text = _printed(notebook)
    assert "outputs.json" in text
    for path in {str(tmp_path), str(tmp_path.resolve())}:
        assert path not in text, path


def _scenario(**extra: object) -> simlib.Scenario:
    return simlib.load_scenario("b2b_saas", reports.as_overrides({**SMALL, **extra}))


@pytest.mark.slow
def test_scenario_report(tmp_path: Path) -> None:
    out = _run("scenario_report", tmp_path)
    _no_local_paths(tmp_path / "scenario_report" / "scenario_report.ipynb", tmp_path)
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
    elsewhere = tmp_path / "elsewhere"  # outputs.json outside the working folder
    elsewhere.mkdir()
    out = _run("policy_comparison", tmp_path, cwd=elsewhere, variants=variants)
    _no_local_paths(tmp_path / "policy_comparison" / "policy_comparison.ipynb", tmp_path)
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
        uncertain={"churn.satisfaction_effect": [0.5, 3.0]},
        samples=3,
    )
    exp = lab.run_intervention("b2b_saas", 0.15, REPS, SEED, SMALL)
    rob = out["robustness"]  # section 7: the answer across plausible churn links
    assert rob["samples"] == 3 and rob["keys"] == {"churn.satisfaction_effect": [0.5, 3.0]}
    assert sum(rob["share"].values()) == pytest.approx(1.0)
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
    assert {"naive", "within_segment", "causal", "naive_minus_causal"} <= set(
        out["naive_vs_causal"]
    )
    assert sorted({r["dose"] for r in out["dose_response"]}) == [0.1, 0.15, 0.2]
    assert list(out["conditions"]) == conditions
    assert [r["beta"] for r in out["churn_floor"]] == [20, 99]
    assert out["cs_roi"]["cs_cost"]["mean"] > 0


@pytest.mark.slow
def test_sensitivity(tmp_path: Path) -> None:
    ranges = {"economics.annual_discount_rate": [0.05, 0.2], "churn.satisfaction_effect": [0, 4]}
    # the smallest Sobol' sample (2 points a key + 2): the code path, not meaningful indices
    out = _run(
        "sensitivity", tmp_path, ranges=ranges, outcome="ltv_mean", method="sobol", samples=2
    )
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
    glob = out["global"]
    assert glob["method"] == "sobol" and glob["samples"] == 2
    assert set(glob["indices"]) == set(ranges)
    for key in ranges:
        assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(glob["indices"][key]), key
    assert glob["noise_sd"] > 0 and glob["noise_floor"] > 0


@pytest.mark.slow
def test_sensitivity_global_indices_against_the_noise(tmp_path: Path) -> None:
    """Morris: a key that cannot move the outcome stays within the reported noise; one that
    does clears it."""
    smb_beta = "population.segments.smb.churn.monthly.beta"
    ranges = {
        "economics.annual_discount_rate": [0.05, 0.2],  # discounting cannot reach churn
        "churn.satisfaction_effect": [0, 4],
        smb_beta: [10, 40],  # 70 % of the book: from ~7 % to ~2.4 % churn a month
    }
    outcome = "logo_churn_monthly"
    out = _run("sensitivity", tmp_path, ranges=ranges, outcome=outcome, method="morris", samples=2)
    # the tornado: same luck at every point, so discounting leaves churn exactly unchanged, and
    # a larger beta (less churn-prone SMB accounts) lowers it
    rate, beta = out["keys"]["economics.annual_discount_rate"], out["keys"][smb_beta]
    assert rate["low"] == rate["high"] == out["baseline"]
    assert beta["high"] < out["baseline"] < beta["low"]
    glob = out["global"]
    assert glob["method"] == "morris" and set(glob["indices"]) == set(ranges)
    idx = glob["indices"]
    for key in ranges:
        assert {"mu", "mu_star", "sigma", "mu_star_conf"} <= set(idx[key]), key
    # the noise as the module reports it: sd across the baseline's replications, the standard
    # error of a point's mean of REPS replications, and that error divided by SALib's Morris
    # step delta = levels / (2 (levels - 1)) = 2/3 (4 levels): an elementary effect is a
    # difference of two point means over delta
    assert glob["noise_sd"] > 0
    assert glob["noise_se"] == pytest.approx(glob["noise_sd"] / REPS**0.5, rel=1e-12)
    assert glob["noise_floor"] == pytest.approx(glob["noise_se"] * 1.5, rel=1e-12)
    floor = glob["noise_floor"]
    assert idx["economics.annual_discount_rate"]["mu_star"] <= floor
    assert idx[smb_beta]["mu_star"] > floor
    # the chart and the table agree on the order: the key that matters is on top
    assert max(idx, key=lambda k: idx[k]["mu_star"]) == smb_beta


def _survival_sd(fit: object, t: np.ndarray) -> np.ndarray:
    """Delta-method standard error of a fit's S(t), from its (alpha, beta) covariance:
    d log S / d alpha = psi(a + b) - psi(a + b + t), d log S / d beta = psi(b + t) - psi(b)
    + psi(a + b) - psi(a + b + t), with S(t) = B(a, b + t) / B(a, b)."""
    from scipy.special import digamma

    a, b = fit.alpha, fit.beta
    g = np.stack(
        [
            digamma(a + b) - digamma(a + b + t),
            digamma(b + t) - digamma(b) + digamma(a + b) - digamma(a + b + t),
        ]
    )
    var = fit.survival(t) ** 2 * np.einsum("it,ij,jt->t", g, fit.covariance, g)
    return np.sqrt(var)


def _binomial_sd(s: np.ndarray, n: int) -> np.ndarray:
    """Sampling error of a share s of a cohort of n independent accounts."""
    return np.sqrt(s * (1 - s) / n)


@pytest.mark.slow
def test_calibration(tmp_path: Path) -> None:
    from simlib import calibrate as cal

    k = 12  # holdout: fit on periods 0..12 of the demo table's 24
    out = _run("calibration", tmp_path, base={}, holdout_periods=k)
    assert out["source"] == "demo" and out["replications"] == REPS and out["seed"] == SEED
    table = cal.demo_retention_table(seed=SEED)
    fits = {f.group: f for f in cal.fit_retention(table)}
    held = {f.group: f for f in cal.fit_retention(table, fit_periods=k)}
    holdout = cal.holdout_table(table, fit_periods=k)
    assert set(out["groups"]) == set(cal.DEMO_SEGMENTS) == set(fits)
    for name, got in out["groups"].items():
        fit = fits[name]
        # the notebook reports the library's fit
        for p in ("alpha", "beta", "alpha_se", "beta_se"):
            assert got[p] == pytest.approx(getattr(fit, p), rel=1e-12), (name, p)
        assert got["n"] == fit.n
        # 1. the fit recovers the Beta(alpha, beta) that generated the table: the MLE is
        # asymptotically normal with these standard errors, so each is within Z of them
        truth = cal.DEMO_SEGMENTS[name]["churn"]["monthly"]
        for p in ("alpha", "beta"):
            assert abs(got[p] - truth[p]) <= Z * got[f"{p}_se"], (name, p, got[p], truth[p])
        # 2. the projection beyond the fitted periods. At each holdout period t the error is
        # (fitted S(t) - true S(t)) - (observed S(t) - true S(t)): the observed share has the
        # cohort's binomial error sqrt(S (1 - S) / n), the fitted one its delta-method error
        # from the covariance of the fit on periods 0..k. Whatever their correlation the
        # error's sd is at most the sum, so each |error(t)| <= Z x that sum, and so is their
        # mean; the bound is taken at the worst holdout period.
        part = holdout[(holdout["group"] == name) & (holdout["part"] == "holdout")]
        t = part["period"].to_numpy(dtype=np.float64)
        s = part["fitted_survival"].to_numpy()
        sd = _binomial_sd(s, fit.n) + _survival_sd(held[name], t)
        err = (part["fitted_survival"] - part["observed_survival"]).abs().mean()
        assert got["holdout_mean_abs_error"] == pytest.approx(err, rel=1e-12)
        assert 0 < got["holdout_mean_abs_error"] <= Z * sd.max(), (name, err, sd.max())
        # 3. simulated vs observed Kaplan-Meier over periods 1..24: gap(t) = (simulated -
        # fitted S(t)) + (fitted - observed S(t)). The simulated share is the binomial share
        # of the simulated accounts (independent, every replication pooled), independent of
        # the data given the fit. The fitted S(t) is the efficient (maximum likelihood)
        # estimate and the observed share an unbiased one from the same data, so their
        # difference has variance var(observed) - var(fitted) <= S (1 - S) / n (Hausman).
        t = np.arange(1, int(table["period"].max()) + 1, dtype=np.float64)
        s = fit.survival(t)
        sd = np.hypot(_binomial_sd(s, got["simulated_accounts"]), _binomial_sd(s, fit.n))
        assert 0 < got["km_max_abs_gap"] <= Z * sd.max(), (name, got["km_max_abs_gap"], sd)
    # the simulated cohort is the textbook book (no acquisition) in every replication
    book = simlib.load_scenario("textbook").population.initial_accounts
    assert sum(g["simulated_accounts"] for g in out["groups"].values()) == REPS * book
    assert out["km_max_abs_gap"] == max(g["km_max_abs_gap"] for g in out["groups"].values())


@pytest.mark.parametrize(
    ("ticks", "labels"),
    [
        ([20000, 22500, 25000], ["20.0k", "22.5k", "25.0k"]),
        ([0, 0.5e6, 1e6, 1.5e6], ["0.0M", "0.5M", "1.0M", "1.5M"]),
        ([0, 5000, 10000, 15000], ["0k", "5k", "10k", "15k"]),
        ([-1e-12, 0.25, 0.5], ["0.00", "0.25", "0.50"]),
    ],
)
def test_money_ticks_are_exact_and_distinct(ticks, labels):
    """The charts' money axis: one unit and one number of decimals per axis, the fewest that
    show every tick exactly, so two ticks never share a label (22.5k was shown as 22k)."""
    import matplotlib.pyplot as plt

    from simlib.plots import _money

    assert _money("USD").format_ticks(ticks) == labels
    fig, ax = plt.subplots()
    try:
        ax.set_ylim(min(ticks), max(ticks))
        ax.set_yticks(ticks)
        ax.yaxis.set_major_formatter(_money("USD"))
        fig.canvas.draw()
        shown = [t.get_text() for t in ax.get_yticklabels()]
    finally:
        plt.close(fig)
    assert shown == labels and len(set(shown)) == len(shown)
