"""Bias and coverage of ``simlib calibrate panel``'s churn fit, over seeds.

Each seed simulates the CRM demo book (:func:`simlib.calibration.simulated.demo_panel_scenario`:
churn ~ Beta(1, 20) at health 0.6, the link 2.0, satisfaction drifting) on a small panel, fits it
with the reference pinned at the truth's 0.6 (so alpha and beta have exact true values) and
reports three estimators from one set of fits: ``rc`` regression calibration alone (the
correction before SIMEX), ``quadratic`` its SIMEX with the quadratic extrapolant (what the
command reports, :mod:`simlib.calibration.panel_simex`) and ``linear`` with a straight line. It
counts how often the nominal 95 % Wald interval ``estimate +- 1.96 se`` holds the truth, for the
estimator's own standard error (the stacked sandwich) and, for comparison, the calibrated fit's
sandwich scaled by estimate / calibrated estimate. With S seeds a coverage is binomial: below
``0.95 - 1.96 sqrt(0.95 x 0.05 / S)`` (0.89 for S = 50) is evidence of intervals too narrow;
a mean more than 2 ``se mean`` (sd / sqrt(S)) from the truth is evidence of bias.

    python benchmarks/panel_coverage.py [--seeds 50] [--accounts 400] [--months 24]
        [--noise 0.08] [--given] [--profile -1,0.8] [--replicates 2] [--verbose]
    python benchmarks/panel_coverage.py --summarize RECORDS  (the lines of a --verbose run)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

Z95 = 1.959963984540054


def one_seed(seed: int, args: argparse.Namespace) -> dict[str, tuple[float, float, float, float]]:
    """``{parameter: (estimate, truth, se_rc, se)}`` for one seed: ``parameter`` the
    estimator's name and the parameter's (``rc.effect``: regression calibration alone;
    ``linear.effect``, ``quadratic.effect``: its SIMEX with that extrapolant), ``se_rc`` the
    sandwich of the calibrated fit at lambda 0 (scaled by estimate / calibrated estimate for the
    SIMEX rows, for comparison), ``se`` the estimator's own."""
    import simlib
    from simlib.calibration.panel_noise import noise_from_panel, noise_influence
    from simlib.calibration.panel_read import read_panel
    from simlib.calibration.panel_simex import LAMBDAS, extrapolate, simex_replicates
    from simlib.calibration.simulated import demo_panel_scenario

    scenario: dict[str, Any] = demo_panel_scenario(args.accounts, args.months)
    scenario["satisfaction"]["observation_noise"] = args.noise
    profile = [float(v) for v in args.profile.split(",")] if args.profile else []
    if profile:
        scenario["churn"]["tenure_profile"] = {"monthly": profile}
    result = simlib.simulate(scenario, seed=seed, panel=True)
    d = read_panel(result.panel)
    sd = args.noise if args.given else noise_from_panel(d)["sd"]
    psi_sigma = None if args.given else noise_influence(d)
    pieces = len(profile) + 1 if profile else 1
    base, means, infl = simex_replicates(
        d, sd, psi_sigma, (0.6, pieces, False), LAMBDAS, args.replicates
    )
    rc_cov = infl[0].T @ infl[0]
    truth = {"alpha": 1.0, "beta": 20.0, "effect": 2.0} | {
        f"d{i + 1}": v for i, v in enumerate(profile)
    }
    out: dict[str, Any] = {}
    kinds = (("rc", 0, False), ("linear", 1, False), ("quadratic", 2, False))
    kinds += (("sd_linear", 1, True), ("sd_quadratic", 2, True))
    out["curve"] = [float(m[base.layout.effect]) for m in means]
    for label, degree, in_sd in kinds:
        x, cov = (
            (base.x, rc_cov) if degree == 0 else extrapolate(means, infl, LAMBDAS, degree, in_sd)
        )
        for i, (name, value) in enumerate(truth.items()):
            est = float(x[i])
            scale = math.exp(est) if i < 2 else 1.0
            ratio = scale / math.exp(base.x[i]) if i < 2 else est / float(base.x[i])
            out[f"{label}.{name}"] = (
                math.exp(est) if i < 2 else est,
                value,
                math.sqrt(rc_cov[i, i]) * math.exp(base.x[i]) * ratio
                if i < 2
                else math.sqrt(rc_cov[i, i]) * abs(ratio),
                math.sqrt(cov[i, i]) * scale,
            )
    return out


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """The table: per estimator and parameter, the mean, truth, sd between seeds, mean se (the
    calibrated fit's, then the estimator's own), the coverage of each and the standard error
    of the mean (sd / sqrt(seeds): a mean within 2 of them of the truth shows no bias)."""
    n = len(rows)
    floor = 0.95 - Z95 * math.sqrt(0.95 * 0.05 / n)
    out = [f"{n} seeds; a coverage below {floor:.2f} is evidence of intervals too narrow"]
    out.append(f"{'':16} {'mean':>8} {'truth':>8} {'sd':>8} {'se rc':>8} {'se':>8} "
               f"{'cov rc':>7} {'cov':>5} {'se mean':>8}")  # fmt: skip
    for name in (k for k in rows[0] if k not in ("seed", "curve")):
        est, truth, se_i, se_s = (np.array([r[name][k] for r in rows]) for k in range(4))
        cov_i = float(np.mean(np.abs(est - truth) <= Z95 * se_i))
        cov_s = float(np.mean(np.abs(est - truth) <= Z95 * se_s))
        sd = float(est.std(ddof=1)) if n > 1 else float("nan")
        out.append(
            f"{name:16} {est.mean():8.3f} {truth[0]:8.3f} {sd:8.3f} {se_i.mean():8.3f} "
            f"{se_s.mean():8.3f} {cov_i:7.2f} {cov_s:5.2f} {sd / math.sqrt(n):8.3f}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--accounts", type=int, default=400)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--noise", type=float, default=0.08, help="health noise sd (0-1)")
    p.add_argument("--verbose", action="store_true", help="print each seed's record (JSON)")
    p.add_argument("--given", action="store_true", help="give the noise sd (else estimated)")
    p.add_argument("--profile", default="", help="tenure profile, comma-separated log-odds")
    p.add_argument("--replicates", type=int, default=8, help="SIMEX pseudo-panels per lambda")
    p.add_argument("--summarize", default="", help="only summarize the records of a --verbose run")
    args = p.parse_args(argv)
    if args.summarize:
        lines = Path(args.summarize).read_text().splitlines()
        print("\n".join(summary([json.loads(x) for x in lines if x.startswith("{")])))
        return 0
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for s in range(args.first_seed, args.first_seed + args.seeds):
        rows.append(one_seed(s, args))
        if args.verbose:
            print(json.dumps({"seed": s} | rows[-1]), flush=True)
    print(
        f"{args.accounts} accounts, {args.months} months, noise {args.noise} "
        f"({'given' if args.given else 'estimated'}), profile [{args.profile}], "
        f"{args.replicates} replicates: {time.perf_counter() - t0:.0f} s"
    )
    print("\n".join(summary(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
