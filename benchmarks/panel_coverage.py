"""Coverage of the standard errors of ``simlib calibrate panel``'s churn fit, over seeds.

Each seed simulates the CRM demo book (:func:`simlib.calibration.simulated.demo_panel_scenario`:
churn ~ Beta(1, 20) at health 0.6, the link 2.0, satisfaction drifting) on a small panel, fits it
with the reference pinned at the truth's 0.6 (so alpha and beta have exact true values) and
counts how often the nominal 95 % Wald interval ``estimate +- 1.96 se`` holds the truth, for two
kinds of standard error: the inverse observed information (the fit on the calibrated health
taken as if it were the true one) and the sandwich clustered by account with the calibration's
uncertainty (what the command reports). With S seeds a coverage is binomial: below
``0.95 - 1.96 sqrt(0.95 x 0.05 / S)`` (0.89 for S = 50) is evidence of intervals too narrow.

    python benchmarks/panel_coverage.py [--seeds 50] [--accounts 400] [--months 24]
        [--noise 0.08] [--given] [--profile -1,0.8]
"""

from __future__ import annotations

import argparse
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
    """``{parameter: (estimate, truth, se_information, se_sandwich)}`` for one seed."""
    import simlib
    from simlib.calibration.panel_churn import fit_panel_churn, robust_covariance
    from simlib.calibration.panel_noise import calibration, influence, noise_from_panel
    from simlib.calibration.panel_read import read_panel
    from simlib.calibration.simulated import demo_panel_scenario

    scenario: dict[str, Any] = demo_panel_scenario(args.accounts, args.months)
    scenario["satisfaction"]["observation_noise"] = args.noise
    profile = [float(v) for v in args.profile.split(",")] if args.profile else []
    if profile:
        scenario["churn"]["tenure_profile"] = {"monthly": profile}
    result = simlib.simulate(scenario, seed=seed, panel=True)
    d = read_panel(result.panel)
    sd = args.noise if args.given else noise_from_panel(d)["sd"]
    cal = calibration(d, sd)
    psi = influence(d, cal, estimated=not args.given)
    pieces = len(profile) + 1 if profile else 1
    fit = fit_panel_churn(d, cal.health(d.health), 0.6, pieces)
    info_cov = fit.cov_information
    robust = robust_covariance(fit, d, 0.6, lambda p: cal.health(d.health, p), cal.phi, psi)
    truth = {"alpha": 1.0, "beta": 20.0, "effect": 2.0} | {
        f"d{i + 1}": v for i, v in enumerate(profile)
    }
    out = {}
    for i, (name, value) in enumerate(truth.items()):
        est = float(fit.x[i])
        scale = math.exp(est) if i < 2 else 1.0
        out[name] = (
            math.exp(est) if i < 2 else est,
            value,
            math.sqrt(info_cov[i, i]) * scale,
            math.sqrt(robust[i, i]) * scale,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--accounts", type=int, default=400)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--noise", type=float, default=0.08, help="health noise sd (0-1)")
    p.add_argument("--given", action="store_true", help="give the noise sd (else estimated)")
    p.add_argument("--profile", default="", help="tenure profile, comma-separated log-odds")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    rows = [one_seed(s, args) for s in range(args.first_seed, args.first_seed + args.seeds)]
    seconds = time.perf_counter() - t0
    floor = 0.95 - Z95 * math.sqrt(0.95 * 0.05 / args.seeds)
    print(
        f"{args.seeds} seeds, {args.accounts} accounts, {args.months} months, noise "
        f"{args.noise} ({'given' if args.given else 'estimated'}), profile "
        f"[{args.profile}]: {seconds:.0f} s; a coverage below {floor:.2f} is evidence of "
        "intervals too narrow"
    )
    print(f"{'':8} {'mean':>8} {'truth':>8} {'sd':>8} {'se info':>8} {'se sand':>8} "
          f"{'cov info':>9} {'cov sand':>9}")  # fmt: skip
    for name in rows[0]:
        est, truth, se_i, se_s = (np.array([r[name][k] for r in rows]) for k in range(4))
        cov_i = float(np.mean(np.abs(est - truth) <= Z95 * se_i))
        cov_s = float(np.mean(np.abs(est - truth) <= Z95 * se_s))
        print(
            f"{name:8} {est.mean():8.3f} {truth[0]:8.3f} {est.std(ddof=1):8.3f} "
            f"{se_i.mean():8.3f} {se_s.mean():8.3f} {cov_i:9.2f} {cov_s:9.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
