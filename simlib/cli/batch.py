"""``simlib batch``: run a batch file's scenarios and notebooks, render the HTML reports."""

from __future__ import annotations

import argparse
import sys

from . import command
from .common import _positive_int


def _batch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "batch_file", metavar="BATCH.yaml", help="the batch file (see the README, 'Batches')"
    )
    p.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="where simulations run: local processes (default) or a Dask cluster",
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address")
    p.add_argument("--workers", type=_positive_int, metavar="N", help="parallel workers")
    p.add_argument(
        "--resume", action="store_true", help="re-run only what failed, is missing or changed"
    )
    p.add_argument(
        "--show-code", action="store_true", help="keep the notebooks' code in the HTML reports"
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default reports/NAME)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--pdf",
        action="store_true",
        help="also print each HTML report to PDF beside it, with headless Chromium (without "
        "Chromium: exit code 2 before anything runs, saying how to install it)",
    )


@command(
    "batch",
    "run a batch of scenarios and their parameterized notebooks, render HTML reports and an "
    "index page",
    _batch_args,
)
def batch(args: argparse.Namespace) -> int:
    from ..batch import run_batch
    from ..batch.pdf import find_chromium, print_reports

    chromium = find_chromium() if args.pdf else ""  # no Chromium: exit 2, nothing run
    outcome = run_batch(
        args.batch_file,
        out_dir=args.out,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        show_code=True if args.show_code else None,
        progress=not args.quiet,
    )
    for failure in outcome.failures:
        print(
            f"simlib batch: {failure['kind']} {failure['name']!r} failed: {failure['error']}",
            file=sys.stderr,
        )
    if not args.quiet:
        print(
            f"{len(outcome.ran)} task(s) run, {len(outcome.skipped)} reused, "
            f"{len(outcome.failures)} failure(s)",
            file=sys.stderr,
        )
    print(outcome.index)
    if chromium:
        pdfs, errors = print_reports(outcome.out_dir, chromium)
        for error in errors:
            print(f"simlib batch --pdf: {error}", file=sys.stderr)
        if not args.quiet:
            print(f"{len(pdfs)} PDF report(s) printed beside the HTML", file=sys.stderr)
        if errors:
            return 1
    return outcome.exit_code
