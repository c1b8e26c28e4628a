"""The lab's answer across plausible worlds: Latin hypercube samples, the flip finder, the
calibrated standard errors, the per-account causal slope, the wording from the numbers and the
``simlib lab`` command.

Known answers: a synthetic function with a known threshold, a regression with a known slope
within segments, a book with no channel from satisfaction to price (per-account slope exactly 0).
"""

from __future__ import annotations

import json
import math
import re
from statistics import NormalDist
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from simlib import lab
from simlib.cli import main
from simlib.errors import UserInputError
from simlib.lab.causal import per_account_slopes, prices_changed, within_segment_slopes
from simlib.lab.robustness import (
    PLAUSIBLE,
    Robustness,
    Uncertain,
    find_flips,
    parse_uncertain,
    sample_points,
    uncertain_from_fit,
)

SMALL = ["population.initial_accounts=400", "horizon_months=24"]

# ------------------------------------------------------------------------------------------
# Samples and the flip finder


def test_latin_hypercube_puts_one_sample_in_each_stratum() -> None:
    n = 12
    uncertain = {
        "churn.satisfaction_effect": Uncertain("churn.satisfaction_effect", 0.5, 3.0),
        "churn.monthly.alpha": Uncertain.normal("churn.monthly.alpha", 2.0, 0.1),
    }
    points = sample_points(uncertain, n, seed=3)
    x = np.array([p["churn.satisfaction_effect"] for p in points])
    strata = np.floor((x - 0.5) / 2.5 * n).astype(int)
    assert sorted(strata) == list(range(n))
    # the normal key: its probability within the central 95 %, one sample per stratum
    a = np.array([p["churn.monthly.alpha"] for p in points])
    tail = (1 - PLAUSIBLE) / 2
    u = (np.array([NormalDist(2.0, 0.1).cdf(v) for v in a]) - tail) / PLAUSIBLE
    assert sorted(np.floor(u * n).astype(int)) == list(range(n))
    z = NormalDist().inv_cdf(0.5 + PLAUSIBLE / 2)
    assert (np.abs(a - 2.0) <= z * 0.1 + 1e-12).all()


def test_a_calibrated_key_that_cannot_be_negative_is_cut_at_zero() -> None:
    u = Uncertain.normal("churn.satisfaction_effect", 0.3, 0.5)
    assert u.lo == 0.0 and u.hi == pytest.approx(0.3 + 1.959964 * 0.5, rel=1e-6)
    assert min(u.at(p) for p in np.linspace(0, 0.999, 50)) == 0.0
    assert Uncertain.normal("churn.monthly.beta", 10.0, 8.0).lo == pytest.approx(0.1)


def test_flip_finder_recovers_a_known_threshold() -> None:
    """answer(x) = expansion below 0.9, retention above, whatever y is: the finder's threshold
    is within half the gap between the two samples that straddle 0.9, with no mismatch."""
    for seed in range(5):
        uncertain = {
            "churn.satisfaction_effect": Uncertain("churn.satisfaction_effect", 0.2, 3.0),
            "noise": Uncertain("noise", 0.0, 1.0),
        }
        points = sample_points(uncertain, 12, seed=seed)
        x = [p["churn.satisfaction_effect"] for p in points]
        answers = ["expansion" if v < 0.9 else "retention" for v in x]
        flips = find_flips({k: [p[k] for p in points] for k in uncertain}, answers)
        best = flips[0]
        assert best["key"] == "churn.satisfaction_effect"
        assert (best["below"], best["above"], best["mismatches"]) == ("expansion", "retention", 0)
        lo = max(v for v in x if v < 0.9)
        hi = min(v for v in x if v >= 0.9)
        assert abs(best["threshold"] - 0.9) <= (hi - lo) / 2 + 1e-12
        assert all(f["mismatches"] > 0 for f in flips[1:])  # the noise key explains less


def test_flip_finder_with_one_answer_finds_no_flip() -> None:
    assert find_flips({"k": [1.0, 2.0, 3.0]}, ["retention"] * 3) == []
    # a flip to "unsure" is a flip too
    flips = find_flips({"k": [1.0, 2.0, 3.0, 4.0]}, ["unsure", "unsure", "retention", "retention"])
    assert flips[0]["threshold"] == 2.5 and flips[0]["below"] == "unsure"


def test_pooled_intervals_known_answers() -> None:
    """One group: the ordinary Student-t interval; equal groups: the pooled variance is theirs
    and the degrees of freedom add up."""
    from scipy.special import stdtrit

    from simlib.lab.robustness import pooled_intervals
    from simlib.stats import mean_ci

    x = np.array([1.0, 4.0, 2.5, 7.0])
    ci = mean_ci(x)
    assert pooled_intervals([x]) == [pytest.approx((ci.low, ci.high), rel=1e-12)]
    groups = [np.array([1.0, 3.0]), np.array([10.0, 12.0]), np.array([5.0, 7.0])]
    half = float(stdtrit(3, 0.975)) * math.sqrt(2.0) / math.sqrt(2)  # s_p^2 = 3 x 2 / 3 = 2
    got = pooled_intervals(groups)
    for g, (low, high) in zip(groups, got, strict=True):
        assert (low, high) == pytest.approx((g.mean() - half, g.mean() + half), rel=1e-12)
    assert all(math.isnan(v) for v in pooled_intervals([np.array([1.0])])[0])


def test_robustness_text_states_share_and_flip() -> None:
    x = np.linspace(0.3, 2.9, 12)
    answers = ["expansion" if v < 0.9 else "retention" for v in x]
    frame = pd.DataFrame({"sample": range(1, 13), "churn.satisfaction_effect": x})
    frame["dominant"] = answers
    flips = find_flips({"churn.satisfaction_effect": list(x)}, answers)
    rob = Robustness(
        frame,
        {"churn.satisfaction_effect": Uncertain("churn.satisfaction_effect", 0.3, 2.9)},
        flips,
    )
    n_ret = answers.count("retention")
    text = rob.sentences()
    assert f"retention dominates in {n_ret} of 12" in text
    assert f"expansion in {12 - n_ret}" in text
    assert "below a churn link (churn.satisfaction_effect) of about" in text
    assert "expansion dominates, above it retention dominates" in text
    share = rob.to_json()["share"]
    assert math.isclose(sum(share.values()), 1.0) and share["retention"] == n_ret / 12
    # numbers as the report tables write them: two significant digits, the minus sign U+2212
    rob = Robustness(frame, {"k.x": Uncertain("k.x", -0.4567, 1234.0)}, [])
    assert "k.x −0.46 to 1,200" in rob.sentences()


# ------------------------------------------------------------------------------------------
# Uncertain keys from the command line and from a calibration


def test_parse_uncertain_refuses_bad_ranges() -> None:
    assert parse_uncertain(["a.b=1:2"])["a.b"].hi == 2.0
    for bad in ("a.b", "a.b=1", "a.b=x:2", "a.b=2:1", "a.b=1:inf"):
        with pytest.raises(UserInputError, match="--uncertain"):
            parse_uncertain([bad])
    with pytest.raises(UserInputError, match="twice"):
        parse_uncertain(["a=1:2", "a=2:3"])


def test_uncertain_from_a_calibration_json(tmp_path) -> None:
    doc = {
        "fits": [
            {
                "group": None,
                "alpha": 1.2,
                "beta": 30.0,
                "alpha_se": 0.1,
                "beta_se": 2.0,
                "period_months": 1,
                "satisfaction_effect": 1.5,
                "satisfaction_effect_se": 0.4,
            }
        ],
        "overrides": ["churn.monthly.alpha=1.2", "churn.monthly.beta=30.0"],
        "scenario_keys": {"offers.intent.satisfaction_to_intent": {"value": 3.0, "se": None}},
    }
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(doc))
    uncertain, fixed, notes = uncertain_from_fit(path)
    assert set(uncertain) == {
        "churn.monthly.alpha",
        "churn.monthly.beta",
        "churn.satisfaction_effect",
    }
    assert uncertain["churn.satisfaction_effect"].se == 0.4
    assert fixed == ["offers.intent.satisfaction_to_intent=3.0"]
    assert any("offers.intent.satisfaction_to_intent: no standard error" in n for n in notes)
    path.write_text(json.dumps({"fits": [{"alpha": 1.0, "beta": 2.0}]}))
    with pytest.raises(UserInputError, match="no key with a value and a standard error"):
        uncertain_from_fit(path)
    path.write_text("{not json")
    with pytest.raises(UserInputError, match=r"fit\.json: not a JSON"):
        uncertain_from_fit(path)


# ------------------------------------------------------------------------------------------
# The per-account causal slope and the regressions beside it


def _no_price_channel() -> dict:
    """One segment, sizes spread wide, no offers: nothing carries satisfaction into an
    account's MRR, so the causal effect of satisfaction on price is zero by construction."""
    return {
        "name": "no price channel",
        "horizon_months": 24,
        "population": {
            "initial_accounts": 500,
            "segments": {"all": {"plans": {"standard": 500}, "size_sigma": 0.9}},
        },
        "churn": {"monthly": {"alpha": 1.0, "beta": 30.0}, "satisfaction_effect": 3.0},
        "satisfaction": {"enabled": True},
    }


def test_per_account_causal_slope_is_zero_without_a_price_channel() -> None:
    exp = lab.run_intervention(_no_price_channel(), 0.15, replications=3, seed=4)
    nc = exp.naive_vs_causal().set_index("estimate")
    causal = nc.loc["causal"]
    assert causal["ci_low"] <= 0.0 <= causal["ci_high"], nc
    assert causal["mean"] == 0.0  # every paired account pays what it paid
    assert not prices_changed(exp.baseline, exp.treated)
    slopes = per_account_slopes(exp.baseline, exp.treated)
    assert (slopes["accounts"] > 0).all()
    # the survivors' ratio reads who survives as what satisfaction does
    assert {"naive", "within_segment", "survivors_ratio", "naive_minus_causal"} <= set(nc.index)
    assert "price change" not in exp.verdict()


def test_within_segment_regression_recovers_the_slope_inside_segments() -> None:
    """MRR = 100 x segment + 5 x satisfaction, the pricier segment also more satisfied: the
    naive slope is far above 5, the within-segment slope is 5 exactly."""
    rng = np.random.default_rng(0)
    rows = []
    for rep in range(3):
        for seg in (0, 1):
            sat = rng.uniform(0.1, 0.5, 50) + 0.4 * seg
            rows.append(
                pd.DataFrame(
                    {
                        "replication": rep,
                        "segment": f"s{seg}",
                        "final_satisfaction": sat,
                        "final_mrr": 100.0 * seg + 5.0 * sat,
                        "churned": False,
                    }
                )
            )
    fake = SimpleNamespace(accounts=pd.concat(rows, ignore_index=True))
    within = within_segment_slopes(fake)  # type: ignore[arg-type]
    assert np.allclose(within["slope"], 5.0, rtol=1e-12)
    naive = lab.naive_slopes(SimpleNamespace(scenario=SimpleNamespace(name="x"), **vars(fake)))  # type: ignore[arg-type]
    assert (naive["slope"] > 50).all()


# ------------------------------------------------------------------------------------------
# Wording from the numbers


def test_dominant_answer_follows_the_paired_interval() -> None:
    def summ(ret: float, exp: float, low: float, high: float) -> pd.DataFrame:
        return pd.DataFrame(
            {"mean": [ret, exp, ret - exp], "ci_low": [0, 0, low], "ci_high": [0, 0, high]},
            index=["retention", "expansion", "retention_minus_expansion"],
        )

    assert lab.dominant_answer(summ(10, 2, 5, 11)) == "retention"
    assert lab.dominant_answer(summ(1, 9, -10, -6)) == "expansion"
    assert lab.dominant_answer(summ(10, 2, -1, 17)) == "unsure"


def _decomposition(arpa_mix: np.ndarray, arpa_within: np.ndarray) -> pd.DataFrame:
    reps = arpa_mix.size
    return pd.DataFrame(
        {
            "scenario": "raised",
            "replication": np.arange(reps),
            "baseline_revenue": 10_000.0,
            "revenue": 10_500.0,
            "total": 500.0 + np.arange(reps),
            "retention": 480.0 + np.arange(reps),
            "expansion": 20.0,
            "mix": -10.0,
            "within": 30.0,
            "baseline_arpa_end": 500.0,
            "arpa_end": 500.0 + arpa_mix + arpa_within,
            "arpa_change": arpa_mix + arpa_within,
            "arpa_mix": arpa_mix,
            "arpa_within": arpa_within,
        }
    )


def test_no_claim_of_no_rise_while_the_within_segment_rise_excludes_zero() -> None:
    table = pd.DataFrame(
        [
            {
                "metric": "mean_satisfaction",
                "dose": 0.1,
                "difference": 0.08,
                "ci_low": 0.07,
                "ci_high": 0.09,
            }
        ]
    )
    noise = np.array([-1.0, 1.0, -0.5, 0.5])
    d = _decomposition(-6.0 + 8 * noise, 6.0 + 0.2 * noise)  # total ARPA change ~0, within > 0
    text = lab.verdict(table, d, prices_changed=False)
    assert "no measurable rise in ARPU" not in text
    assert "within segments ARPA measurably rises" in text
    assert "price change" not in text and "composition within segments" in text
    assert "price change within segments" in lab.verdict(table, d, prices_changed=True)


# ------------------------------------------------------------------------------------------
# The command


def test_lab_command_writes_the_answer_with_robustness(tmp_path, capsys) -> None:
    out = tmp_path / "lab.json"
    code = main(
        [
            "lab",
            "b2c_subscription",
            *[a for s in SMALL for a in ("--set", s)],
            "-r",
            "2",
            "--seed",
            "1",
            "--uncertain",
            "churn.satisfaction_effect=0.2:3",
            "--samples",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    doc = json.loads(out.read_text())
    assert {"effects", "decomposition", "dominant", "verdict", "robustness"} <= set(doc)
    assert set(doc["decomposition"]) >= {"retention", "expansion", "mix", "within"}
    assert doc["dominant"] in ("retention", "expansion", "unsure")
    rob = doc["robustness"]
    assert rob["samples"] == 3 and rob["keys"] == {"churn.satisfaction_effect": [0.2, 3.0]}
    assert math.isclose(sum(rob["share"].values()), 1.0)
    for flip in rob["flips"]:
        assert {"key", "threshold", "below", "above"} <= set(flip)
    printed = capsys.readouterr().out
    assert "plausible settings" in printed
    # what the command prints reads like the report tables (the minus sign U+2212, intervals
    # "[a to b]", units); the JSON keeps its numbers as numbers
    assert printed.startswith(doc["verdict"])
    assert not re.search(r"(?<![\w.)])-\d", printed), printed
    assert not re.search(r"\[[^\]]*\d, [^\]]*\]", printed), printed
    assert re.search(r"by [+−]?[\d,]+(\.\d+)? USD \[[+−]?[\d,.]+ to [+−]?[\d,.]+\]", printed)
    assert " pp [" in printed and " USD/month" in printed
    total = doc["decomposition"]["total"]
    assert all(isinstance(total[k], float) for k in ("mean", "ci_low", "ci_high"))
    assert isinstance(doc["effects"]["arpa_end"]["baseline"], float)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--uncertain", "churn.satisfaction_effect"], "--uncertain"),
        (["--samples", "4"], "--samples"),
        (["--uncertain-from", "/nonexistent/fit.json"], "fit.json"),
        (["--uncertain", "churn.no_such_key=0:1"], "no_such_key"),
        (["--dose", "3"], "dose"),
    ],
)
def test_lab_command_refuses_bad_input_before_running(argv, flag, tmp_path, capsys) -> None:
    out = tmp_path / "lab.json"
    assert main(["lab", "b2c_subscription", *argv, "--out", str(out)]) == 2
    assert flag in capsys.readouterr().err
    assert not out.exists()


def test_the_robustness_chart_marks_the_flip() -> None:
    from simlib.plots.robustness import robustness

    x = np.linspace(0.3, 2.9, 8)
    answers = ["expansion" if v < 0.9 else "retention" for v in x]
    frame = pd.DataFrame(
        {
            "sample": range(1, 9),
            "churn.satisfaction_effect": x,
            "retention": 100 * x,
            "expansion": 100.0,
            "difference_low": 100 * x - 130,
            "difference_high": 100 * x - 70,
            "dominant": answers,
        }
    )
    key = "churn.satisfaction_effect"
    flips = find_flips({key: list(x)}, answers)
    fig = robustness(Robustness(frame, {key: Uncertain(key, 0.3, 2.9)}, flips))
    ax = fig.axes[0]
    vertical = [ln for ln in ax.get_lines() if len(set(ln.get_xdata())) == 1]
    assert any(ln.get_xdata()[0] == pytest.approx(flips[0]["threshold"]) for ln in vertical)


def test_referrals_are_part_of_the_decomposition_with_loyalty_on() -> None:
    """With loyalty on, the referred accounts' number and revenue per opening account are parts
    of the decomposition (counted from the accounts table), and the verdict names them."""
    on = [*SMALL, "loyalty.enabled=true"]
    exp = lab.run_intervention("b2c_subscription", 0.15, replications=2, seed=2, overrides=on)
    d = exp.decomposition().set_index("replication")
    for result, sign in ((exp.treated, 1), (exp.baseline, -1)):
        acc = result.accounts
        ref = acc[acc["referred"].astype(bool)].groupby("replication")["revenue"].sum()
        opening = acc[acc["start_month"] == 0].groupby("replication").size()
        d["check"] = d.get("check", 0.0) + sign * (ref / opening).reindex(d.index, fill_value=0)
    assert np.allclose(d["referral_revenue"], d["check"], rtol=1e-9, atol=1e-9)
    assert np.allclose(d["total_with_referrals"], d["total"] + d["referral_revenue"])
    assert "Referrals (loyalty)" in exp.verdict()
    assert "referral_revenue" in lab.lab_json(exp)["decomposition"]
    off = lab.run_intervention("b2c_subscription", 0.15, replications=2, seed=2, overrides=SMALL)
    assert "referral_revenue" not in off.decomposition().columns


@pytest.mark.slow
def test_the_survivors_ratio_leaks_survivor_mix_where_the_per_account_slope_does_not() -> None:
    """b2b_saas_no_offers without the intent link has no channel from satisfaction to price: the
    per-account slope is exactly 0, the survivors' ratio measurably below 0 (who survives)."""
    over = ["offers.intent.satisfaction_to_intent=0", "population.initial_accounts=1500"]
    exp = lab.run_intervention("b2b_saas_no_offers", 0.1, 5, 1, [*over, "horizon_months=36"])
    nc = exp.naive_vs_causal().set_index("estimate")
    assert not prices_changed(exp.baseline, exp.treated)
    assert nc.loc["causal", "mean"] == 0.0
    assert nc.loc["survivors_ratio", "ci_high"] < 0, nc
    assert nc.loc["naive_minus_causal", "ci_low"] > 0, nc


def test_fits_by_group_give_segment_keys_and_one_churn_link(tmp_path) -> None:
    def fit(group: str, link: float) -> dict:
        return {
            "group": group,
            "alpha": 1.0,
            "beta": 20.0,
            "alpha_se": 0.1,
            "beta_se": 1.0,
            "period_months": 12,
            "satisfaction_effect": link,
            "satisfaction_effect_se": 0.3,
        }

    path = tmp_path / "groups.json"
    path.write_text(json.dumps({"fits": [fit("smb", 1.5), fit("enterprise", 1.5)]}))
    uncertain, _, notes = uncertain_from_fit(path)
    assert "population.segments.smb.churn.annual.alpha" in uncertain
    assert "population.segments.enterprise.churn.annual.beta" in uncertain
    assert uncertain["churn.satisfaction_effect"].value == 1.5 and not notes
    path.write_text(json.dumps({"fits": [fit("smb", 1.5), fit("enterprise", 0.5)]}))
    uncertain, fixed, notes = uncertain_from_fit(path)
    assert "churn.satisfaction_effect" not in uncertain and not fixed
    assert any("a different link per group" in n for n in notes)


def test_lab_command_names_the_calibration_whose_keys_the_scenario_refuses(tmp_path, capsys):
    fit = {
        "fits": [
            {"group": "nosuch", "alpha": 1.0, "beta": 9.0, "alpha_se": 0.1, "beta_se": 1.0},
        ],
        "overrides": ["population.segments.nosuch.share=0.5"],
    }
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(fit))
    out = tmp_path / "lab.json"
    assert main(["lab", "b2c_subscription", "--uncertain-from", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--uncertain-from" in err and "fit.json" in err
    assert not out.exists()


# ------------------------------------------------------------------------------------------
# A fitted tenure profile: each element its own uncertain key

PROFILE = "churn.tenure_profile.monthly"
SMB_PROFILE = "population.segments.smb.churn.tenure_profile.monthly"


def _profile_fit(tmp_path) -> tuple[dict, object]:
    """The JSON of calibrate panel --tenure-profile 4 (three shifts, the middle one without a
    standard error) with a per-segment profile from a fit by group (calibrate accounts)."""
    doc = {
        "scenario_keys": {
            "churn.monthly.alpha": {"value": 1.2, "se": 0.1},
            PROFILE: {"value": [-1.0, 0.8, 0.3], "se": [0.2, None, 0.4]},
        },
        "fits": [
            {
                "group": "smb",
                "period_months": 1,
                "alpha": 0.9,
                "beta": 15.0,
                "alpha_se": None,
                "beta_se": None,
                "tenure_profile": [1.5, 0.5],
                "tenure_profile_se": [0.3, 0.25],
            }
        ],
        "overrides": [f"{PROFILE}=[-1.0, 0.8, 0.3]", f"{SMB_PROFILE}=[1.5, 0.5]"],
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(doc))
    return doc, path


def test_a_fitted_tenure_profile_gives_one_uncertain_key_per_element(tmp_path) -> None:
    _, path = _profile_fit(tmp_path)
    uncertain, fixed, notes = uncertain_from_fit(path)
    assert set(uncertain) == {
        "churn.monthly.alpha",
        f"{PROFILE}[0]",
        f"{PROFILE}[2]",
        f"{SMB_PROFILE}[0]",
        f"{SMB_PROFILE}[1]",
    }
    z = NormalDist().inv_cdf(0.5 + PLAUSIBLE / 2)
    u = uncertain[f"{PROFILE}[2]"]
    # log-odds of either sign: a positive shift is not cut at 0 as a non-negative key would be
    assert (u.value, u.se) == (0.3, 0.4)
    assert (u.lo, u.hi) == pytest.approx((0.3 - z * 0.4, 0.3 + z * 0.4)) and u.lo < 0
    # the whole fitted lists are held (the list each sample puts its elements in), once each
    assert f"{PROFILE}=[-1.0, 0.8, 0.3]" in fixed and f"{SMB_PROFILE}=[1.5, 0.5]" in fixed
    assert len([f for f in fixed if f.startswith(f"{PROFILE}=")]) == 1
    assert any(n.startswith(f"{PROFILE}[1]: no standard error") and "0.8" in n for n in notes)
    # the smb Beta has no standard errors: held and noted, as before
    assert any(
        n.startswith("population.segments.smb.churn.monthly.alpha: no standard") for n in notes
    )


def test_profile_samples_stay_within_the_central_band_one_per_stratum(tmp_path) -> None:
    _, path = _profile_fit(tmp_path)
    uncertain, _, _ = uncertain_from_fit(path)
    n, z, tail = 10, NormalDist().inv_cdf(0.5 + PLAUSIBLE / 2), (1 - PLAUSIBLE) / 2
    points = sample_points(uncertain, n, seed=5)
    for key, value, se in ((f"{PROFILE}[0]", -1.0, 0.2), (f"{SMB_PROFILE}[1]", 0.5, 0.25)):
        x = np.array([p[key] for p in points])
        assert (np.abs(x - value) <= z * se + 1e-12).all(), key
        strata = (np.array([NormalDist(value, se).cdf(v) for v in x]) - tail) / PLAUSIBLE * n
        assert sorted(np.floor(strata).astype(int)) == list(range(n)), key


def test_the_scenario_at_a_sample_carries_the_sampled_lists(tmp_path) -> None:
    _, path = _profile_fit(tmp_path)
    uncertain, fixed, _ = uncertain_from_fit(path)
    settings = lab.robustness.sample_settings("b2b_saas", uncertain, 3, 1, SMALL, fixed)
    assert len(settings) == 3
    seen = set()
    for point, scenario in settings:
        want = [point[f"{PROFILE}[0]"], 0.8, point[f"{PROFILE}[2]"]]  # element 1 held
        assert scenario.churn.tenure_profile.monthly == want
        smb = scenario.population.segments["smb"].churn.tenure_profile.monthly
        assert smb == [point[f"{SMB_PROFILE}[0]"], point[f"{SMB_PROFILE}[1]"]]
        # a segment without its own profile inherits the sampled scenario-wide one
        assert scenario.population.segments["mid_market"].churn.tenure_profile.monthly == want
        assert scenario.churn.monthly.alpha == point["churn.monthly.alpha"]
        seen.add(tuple(want))
    assert len(seen) == 3  # the samples differ


def test_point_overrides_put_elements_into_the_list_and_refuse_what_has_none() -> None:
    from simlib.lab.robustness import point_overrides
    from simlib.scenario import load_scenario

    base = load_scenario("b2b_saas", [f"{PROFILE}=[0.5, 0.25]"])
    out = point_overrides(base, {"churn.satisfaction_effect": 1.5, f"{PROFILE}[1]": -0.75})
    assert out == ["churn.satisfaction_effect=1.5", f"{PROFILE}=[0.5, -0.75]"]
    # past the end of a tenure profile: padded with 0 (entries after the end add nothing)
    assert point_overrides(base, {f"{PROFILE}[3]": 1.0}) == [f"{PROFILE}=[0.5, 0.25, 0.0, 1.0]"]
    with pytest.raises(UserInputError, match=r"churn\.satisfaction_effect is not a list"):
        point_overrides(base, {"churn.satisfaction_effect[0]": 1.0})
    with pytest.raises(UserInputError, match=r"--uncertain x\[a\]: an element of a list key"):
        parse_uncertain(["x[a]=0:1"])
    assert parse_uncertain([f"{PROFILE}[0]=-1:1"])[f"{PROFILE}[0]"].lo == -1.0


def test_the_verdict_names_the_renewal_of_a_profile_element() -> None:
    key = f"{SMB_PROFILE}[1]"
    answers = ["unsure"] * 3 + ["retention"] * 3
    frame = pd.DataFrame({"sample": range(1, 7), key: np.linspace(-1, 1, 6), "dominant": answers})
    flips = find_flips({key: frame[key].tolist()}, answers)
    rob = Robustness(frame, {key: Uncertain.normal(key, 0.0, 0.5)}, flips, replications=1)
    text = rob.sentences()
    assert f"below the log-odds added at renewal 2 in segment smb ({key}) of about 0" in text
    k0 = f"{PROFILE}[0]"
    rob = Robustness(frame.rename(columns={key: k0}), {k0: Uncertain(k0, -1, 1)}, flips, [], 1)
    rob.flips = [{**flips[0], "key": k0}]
    assert f"the log-odds added at renewal 1 ({k0})" in rob.sentences()


def test_lab_command_samples_a_fitted_profile_element_by_element(tmp_path, capsys) -> None:
    _, path = _profile_fit(tmp_path)
    out = tmp_path / "lab.json"
    small = ["--set", "population.initial_accounts=150", "--set", "horizon_months=12"]
    extra = f"{PROFILE}[3]=0:1"  # one element by range, past the fitted list's end
    args = ["lab", "b2b_saas", *small, "-r", "1", "--samples", "3", "--out", str(out)]
    assert main([*args, "--uncertain-from", str(path), "--uncertain", extra]) == 0
    printed = capsys.readouterr().out
    assert f"note: {PROFILE}[1]: no standard error" in printed
    rob = json.loads(out.read_text())["robustness"]
    elements = {f"{PROFILE}[0]", f"{PROFILE}[2]", f"{PROFILE}[3]", f"{SMB_PROFILE}[0]"}
    assert elements | {f"{SMB_PROFILE}[1]"} <= set(rob["keys"])
    assert f"{PROFILE}[1]" not in rob["keys"]
    assert rob["sources"][f"{PROFILE}[3]"] == "range"
    for point in rob["points"]:
        for key in elements:
            lo, hi = rob["keys"][key]
            assert lo <= point[key] <= hi
