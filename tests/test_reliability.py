"""Reliability and safety: bad input never crashes and never passes silently, nothing finished is
lost, untrusted files stay harmless.

Fuzz tests add to the "fuzzing: tried ..." line of the test summary. The long end-to-end tests
(kills and resumes, a killed Dask worker, a rendered batch) are in ``test_reliability_kill.py``.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FUZZ_COUNTS, dask_executor
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import simlib
from simlib.batch import BatchError, load_batch
from simlib.cache import ResultCache
from simlib.calibrate import fit_retention, read_accounts, read_retention
from simlib.errors import DataError, ScenarioError, StorageError, UserInputError
from simlib.model.book_import import read_book
from simlib.paths import safe_name, within
from simlib.results import SimulationResult
from simlib.scenario import _DEFAULTS, _owner_model, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["population.initial_accounts=60", "horizon_months=6"]
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


# --------------------------------------------------------------------------------------------
# The scenario loader: misspellings, non-finite and huge numbers, empty files, language tags


def _leaf_keys(doc: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(parent path, key) of every key of the defaults."""
    out = []
    for k, v in doc.items():
        out.append((prefix, k))
        if isinstance(v, dict):
            out += _leaf_keys(v, f"{prefix}{k}.")
    return out


def _set(doc: dict, dotted: str, value: object) -> dict:
    node = doc
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return doc


def _is_field(parent: str, key: str) -> bool:
    """True when ``key`` is a field name (not a name the user chooses, such as a segment's)."""
    owner = _owner_model((*(p for p in parent.split(".") if p), key))
    return owner is not None and key in owner.model_fields


KEYS = [(p, k) for p, k in _leaf_keys(_DEFAULTS) if len(k) >= 5 and _is_field(p, k)]
NUMERIC = [
    "horizon_months",
    "population.initial_accounts",
    "acquisition.new_accounts_per_month",
    "contracts.annual_share",
    "churn.monthly.alpha",
    "churn.monthly.beta",
    "churn.satisfaction_effect",
    "economics.gross_margin",
    "economics.annual_discount_rate",
]


@FUZZ
@given(key=st.sampled_from(KEYS), data=st.data())
def test_misspelled_keys_name_the_path_and_suggest_the_closest(key, data):
    parent, name = key
    pos = data.draw(st.integers(0, len(name) - 1))
    kind = data.draw(st.sampled_from(["drop", "double", "swap"]))
    if kind == "drop":
        typo = name[:pos] + name[pos + 1 :]
    elif kind == "double":
        typo = name[:pos] + name[pos] + name[pos:]
    else:
        pos = min(pos, len(name) - 2)
        typo = name[:pos] + name[pos + 1] + name[pos] + name[pos + 2 :]
    owner = _owner_model((*(p for p in parent.split(".") if p), name))
    assert owner is not None
    siblings = set(owner.model_fields)
    assume(typo not in siblings)
    FUZZ_COUNTS["misspelled scenario keys"] += 1
    with pytest.raises(ScenarioError) as info:
        load_scenario(_set({}, f"{parent}{typo}", 1))
    text = str(info.value)
    assert f"{parent}{typo}: unknown key" in text
    suggestion = re.search(r"did you mean '([^']+)'\?", text)
    assert suggestion is not None, text
    assert suggestion.group(1) in siblings


@FUZZ
@given(
    key=st.sampled_from(NUMERIC),
    value=st.sampled_from(
        [".nan", ".inf", "-.inf", "1e400", "-1e400", "10" * 200, "1e308", "-1", "ten", "[1]", "{}"]
    ),
)
def test_non_finite_and_huge_numbers_are_refused_naming_the_key(key, value):
    FUZZ_COUNTS["non-finite and huge numbers"] += 1
    try:
        scenario = load_scenario("textbook", [*SMALL, f"{key}={value}"])
    except ScenarioError as exc:
        assert any(k == key for k, _ in exc.problems), exc
        return
    # a finite value that happens to be allowed (say a large beta): finite figures
    numbers = scenario.model_dump(mode="json")
    assert "nan" not in json.dumps(numbers).lower()


@pytest.mark.parametrize(
    "text",
    ["", "   \n", "# only a comment\n", "---\n", "null\n", "~\n", "[]\n", "42\n", "'text'\n"],
)
def test_empty_and_non_mapping_files_are_refused_naming_the_file(tmp_path, text):
    FUZZ_COUNTS["empty or non-mapping files"] += 1
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(str(path))):
        load_scenario(path)


TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.check_output [['touch', '{marker}']]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:simlib.scenario.Scenario {{}}",
    "!ruby/object:Gem::Installer {{}}",
]


@pytest.mark.parametrize("tag", TAGS)
def test_language_tags_are_rejected_and_never_run(tmp_path, run_cli, tag):
    FUZZ_COUNTS["YAML language tags"] += 1
    marker = tmp_path / "ran"
    value = tag.format(marker=marker)
    scenario = tmp_path / "tagged.yaml"
    scenario.write_text(f"extends: textbook\nname: {value}\n", encoding="utf-8")
    code, _, err = run_cli("validate", str(scenario))
    assert code == 2 and str(scenario) in err
    assert "Traceback" not in err
    code, _, err = run_cli("validate", "textbook", "--set", f"name={value}")
    assert code == 2 and "--set name" in err
    batch = tmp_path / "batch.yaml"
    batch.write_text(f"name: {value}\nscenarios: [{{scenario: textbook}}]\n", encoding="utf-8")
    with pytest.raises(BatchError, match=re.escape(str(batch))):
        load_batch(batch)
    assert not marker.exists()
    if "python" in tag:
        with pytest.raises(ScenarioError, match="language-specific YAML tags"):
            load_scenario(scenario)


# --------------------------------------------------------------------------------------------
# Extreme but valid parameters


def _check_reconciled(res: SimulationResult) -> None:
    """Finite figures; the MRR waterfall and the account flow reconcile in every replication."""
    m = res.monthly
    numbers = m.drop(columns=["scenario", "mean_satisfaction"]).to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    for _, g in m.groupby("replication"):
        flows = g["new_mrr"] + g["expansion_mrr"] - g["contraction_mrr"] - g["churned_mrr"]
        np.testing.assert_allclose(
            g["mrr"].iloc[1:].to_numpy(), (g["mrr"].shift(1) + flows).iloc[1:].to_numpy()
        )
        active = g["active_accounts"].to_numpy()
        initial = active[0]
        expected = initial + g["new_accounts"].cumsum() - g["churned_accounts"].cumsum()
        np.testing.assert_array_equal(active, expected.to_numpy())
    s = res.summary
    totals = ["accounts", "revenue", "cs_cost", "offer_cost", "net_value"]
    assert np.isfinite(s[totals].to_numpy(dtype=float)).all()
    # a ratio is undefined (NaN) only when its denominator is zero: no account at all, or none
    # at month 0 for arpa_start; GRR/NRR need 13 months of history
    opening = m[m["month"] == 0].set_index("replication")["active_accounts"]
    for _, row in s.iterrows():
        ratios = ["ltv_mean", "logo_churn_monthly", "revenue_churn_monthly", "arpa_end"]
        finite = {c: math.isfinite(row[c]) for c in [*ratios, "arpa_start"]}
        if row["accounts"] > 0:
            assert all(finite[c] for c in ratios), row
        assert finite["arpa_start"] == (opening[row["replication"]] > 0), row


@pytest.mark.parametrize(
    "overrides",
    [
        ["churn.monthly.alpha=0.01", "churn.monthly.beta=1000", "horizon_months=600"],
        ["contracts.annual_share=1", "horizon_months=600", "churn.annual.alpha=0.01"],
        ["population.initial_accounts=0", "horizon_months=600"],
        ["population.initial_accounts=0", "acquisition.new_accounts_per_month=0"],
        ["churn.monthly.alpha=1000", "churn.monthly.beta=0.01", "horizon_months=60"],
    ],
    ids=["alpha-0.01-beta-1000", "all-annual", "zero-accounts", "empty-business", "all-churn"],
)
def test_extreme_but_valid_parameters_reconcile(overrides):
    res = simlib.simulate(
        "b2b_saas",
        replications=2,
        seed=3,
        overrides=[
            "population.initial_accounts=40",
            "acquisition.new_accounts_per_month=2",
            *overrides,
        ],
        workers=1,
    )
    _check_reconciled(res)


# --------------------------------------------------------------------------------------------
# CSV files: customer books and retention tables


BOOK_HEADER = ["id", "segment", "plan", "mrr", "contract", "tenure_months", "satisfaction"]


def _book_rows(n: int = 12) -> list[list[str]]:
    scenario = load_scenario("b2b_saas")
    segments = scenario.segment_table()
    names = list(segments)
    rows = []
    for i in range(n):
        seg = names[i % len(names)]
        plan = list(segments[seg].plans)[i % len(segments[seg].plans)]
        rows.append(
            [
                f"acct-{i}",
                seg,
                plan if i % 3 else "",
                "" if i % 3 == 1 else str(100 + 7 * i),
                "annual" if i % 4 == 0 else "monthly",
                str(i * 2),
                "" if i % 2 else f"{(i % 10) / 10:.1f}",
            ]
        )
    return rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


cells = st.one_of(
    st.sampled_from(
        ["", " ", "nan", "NaN", "inf", "-inf", "1e400", "-1", "-0", "0", "1.5", "10001", "2.5"]
    ),
    st.sampled_from(["monthly", "ANNUAL", "weekly", "smb", "enterprise", "acct-0", "acct-1"]),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
        max_size=12,
    ),
)


@settings(FUZZ, max_examples=250)
@given(row=st.integers(0, 11), column=st.integers(0, len(BOOK_HEADER) - 1), value=cells)
def test_book_csv_bad_cell_is_named_or_the_book_is_sound(tmp_path, row, column, value):
    FUZZ_COUNTS["CSV cells (customer books)"] += 1
    rows = _book_rows()
    rows[row][column] = value
    path = _write_csv(tmp_path / "book.csv", BOOK_HEADER, rows)
    scenario = load_scenario("b2b_saas")
    try:
        book = read_book(path, scenario)
    except DataError as exc:
        text = str(exc)
        assert text.startswith(f"{path}: "), text
        # the only changed row is named: its own line, or the row it now repeats an id of
        assert f"line {row + 2} " in text or f"also line {row + 2} " in text, text
        assert "column" in text or "plan or an mrr" in text, text
        return
    assert len(book) == 12
    for arr in (book.size, book.mrr):
        assert np.isfinite(arr).all() and (arr >= 0).all()
    sat = book.satisfaction[~np.isnan(book.satisfaction)]
    assert ((sat >= 0) & (sat <= 1)).all()


RETENTION = [["0", "1000"], ["1", "800"], ["2", "690"], ["3", "610"], ["4", "560"], ["5", "520"]]


@settings(FUZZ, max_examples=200)
@given(row=st.integers(0, 5), column=st.integers(0, 1), value=cells)
def test_retention_csv_bad_cell_is_named_or_the_fit_is_finite(tmp_path, row, column, value):
    FUZZ_COUNTS["CSV cells (retention tables)"] += 1
    rows = [list(r) for r in RETENTION]
    rows[row][column] = value
    path = _write_csv(tmp_path / "retention.csv", ["period", "alive"], rows)
    try:
        fits = fit_retention(path)
    except DataError as exc:
        text = str(exc)
        assert text.startswith(f"{path}: "), text
        lines = [int(n) for n in re.findall(r"line (\d+)", text)]
        assert all(2 <= n <= 7 for n in lines), text
        assert "column 'period'" in text or "column 'alive'" in text, text
        return
    for fit in fits:
        assert all(math.isfinite(v) for v in (fit.alpha, fit.beta, fit.log_likelihood))


@settings(FUZZ, max_examples=120)
@given(data=st.binary(max_size=400))
def test_binary_junk_csv_is_refused_with_a_data_error(tmp_path, data):
    FUZZ_COUNTS["binary CSV files"] += 1
    path = tmp_path / "junk.csv"
    path.write_bytes(data)
    for read in (
        read_retention,
        lambda p: read_accounts(p, "duration", "event"),
        lambda p: read_book(p, load_scenario("textbook")),
    ):
        try:
            read(path)
        except DataError as exc:
            assert str(exc).startswith(f"{path}: ")


def test_bad_rows_name_line_column_and_what_is_allowed(tmp_path):
    rows = _book_rows()
    rows[4][4] = "weekly"
    path = _write_csv(tmp_path / "book.csv", BOOK_HEADER, rows)
    with pytest.raises(DataError) as info:
        read_book(path, load_scenario("b2b_saas"))
    assert str(info.value) == (
        f"{path}: line 6 (data row 5): column 'contract': must be 'monthly' or 'annual', "
        "got 'weekly'"
    )
    rows = [list(r) for r in RETENTION]
    rows[3][1] = "-5"
    path = _write_csv(tmp_path / "retention.csv", ["period", "alive"], rows)
    with pytest.raises(DataError, match=r"line 5 \(data row 4\): column 'alive': must be >= 0"):
        read_retention(path)
    path = _write_csv(tmp_path / "accounts.csv", ["duration", "event"], [["3", "1"], ["2", "yes"]])
    with pytest.raises(DataError, match=r"line 3 \(data row 2\): column 'event': not a number"):
        read_accounts(path, "duration", "event")


_MEMORY_SCRIPT = """
import resource, sys
from pathlib import Path
import simlib
from simlib.calibrate import read_accounts
from simlib.model.book_import import read_book


def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


# The peak a process inherits from its parent (on fork) is reset where Linux allows it.
try:
    Path("/proc/self/clear_refs").write_text("5")
    base = status("VmRSS")
except OSError:
    base = None
if base is None:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if sys.argv[1] == "book":
    n = len(read_book(sys.argv[2], simlib.load_scenario("textbook")))
else:
    n = sum(d.periods.size for d in read_accounts(sys.argv[2], "tenure", "churned", "segment"))
peak = status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(n, peak - base)
"""


def _big_csv(path: Path, kind: str, n: int) -> int:
    """A CSV of ``n`` rows; returns its number of cells."""
    rng = np.random.default_rng(0)
    tenure = rng.integers(0, 60, n)
    annual = rng.random(n) < 0.3
    if kind == "book":
        frame = pd.DataFrame(
            {
                "id": pd.RangeIndex(n).map("acct-{}".format),
                "plan": "standard",
                "contract": np.where(annual, "annual", "monthly"),
                "tenure_months": tenure,
                "satisfaction": rng.random(n).round(3),
            }
        )
    else:
        frame = pd.DataFrame(
            {
                "tenure": tenure + 1,
                "churned": annual.astype(int),
                "segment": np.where(np.arange(n) % 3 == 0, "enterprise", "smb"),
            }
        )
    frame.to_csv(path, index=False)
    return frame.size


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["book", "accounts"])
def test_a_million_row_csv_loads_in_bounded_memory(tmp_path, kind):
    """Peak memory added by reading (measured in a fresh process) stays below 60 bytes a cell
    plus 60 MB: about 360 MB for the book's 5 million cells, where keeping one Python string
    per cell took over 650 MB."""
    n = 1_000_000
    path = tmp_path / f"{kind}.csv"
    cell_count = _big_csv(path, kind, n)
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, kind, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows, added = (int(x) for x in done.stdout.split())
    assert rows == n and added > 0
    bound = 60 * cell_count + 60 * 2**20
    print(
        f"{kind}: {n:,} rows, {path.stat().st_size / 2**20:.0f} MB file, peak +{added / 2**20:.0f} MB"
    )
    assert added < bound, f"peak memory grew by {added / 2**20:.0f} MB (bound {bound / 2**20:.0f})"


# --------------------------------------------------------------------------------------------
# A bad data file named by a scenario is bad input (exit 2), not a failed replication


def _bad_book_scenario(tmp_path: Path) -> tuple[Path, Path]:
    """A customer book whose data row 3 has a negative tenure, and a scenario that imports it."""
    rows = _book_rows()
    rows[2][5] = "-3"
    book = _write_csv(tmp_path / "book.csv", BOOK_HEADER, rows)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"extends: b2b_saas\nhorizon_months: 6\npopulation: {{from_csv: {book}}}\n",
        encoding="utf-8",
    )
    return book, scenario


@pytest.mark.parametrize("workers", ["1", "2"])
def test_bad_book_during_a_run_exits_2_with_the_message(tmp_path, run_cli, workers):
    book, scenario = _bad_book_scenario(tmp_path)
    out = tmp_path / "out"
    code, _, err = run_cli(
        "run", str(scenario), "-q", "-r", "2", "--workers", workers, "--out", str(out)
    )
    assert code == 2, err
    assert f"{book}: line 4 (data row 3): column 'tenure_months'" in err
    assert "replication" not in err and "Traceback" not in err
    assert not out.exists()
    with pytest.raises(DataError, match="tenure_months"):
        simlib.simulate(str(scenario), replications=2, workers=1, cache=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("rep-*"))  # nothing stored for bad input


def test_dask_runs_a_bad_book_once_and_reports_it_as_bad_input(tmp_path, run_cli):
    """Bad input fails the same way every time: Dask does not retry it (one attempt, counted by
    marker files), and the command still exits 2 with the file's message."""
    import uuid

    from simlib.experiment import ReplicationTask, run_task

    book, scenario = _bad_book_scenario(tmp_path)
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def attempt(task):  # defined here: cloudpickle sends it to the workers by value
        (attempts / uuid.uuid4().hex).touch()
        return run_task(task)

    task = ReplicationTask(simlib.load_scenario(str(scenario)), 0, 0)
    out = tmp_path / "out"
    with dask_executor(1) as (cluster, ex):
        assert ex.retries >= 1
        with pytest.raises(DataError, match="tenure_months"):
            list(ex.map(attempt, [task]))
        assert len(list(attempts.iterdir())) == 1
        with pytest.raises(DataError, match="tenure_months"):
            simlib.simulate(str(scenario), replications=2, executor=ex)
        code, _, err = run_cli(
            "run", str(scenario), "-q", "-r", "2", "--executor", "dask", "--scheduler",
            cluster.scheduler_address, "--out", str(out),
        )  # fmt: skip
    assert code == 2, err
    assert f"{book}: line 4 (data row 3): column 'tenure_months'" in err
    assert "Traceback" not in err and not out.exists()


# --------------------------------------------------------------------------------------------
# Nothing finished is lost: atomic result folders, a full disk, an unwritable folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _fail_after(monkeypatch, calls: int, err: int = errno.ENOSPC) -> None:
    """Make the ``calls``-th table write (Parquet or CSV) and every later one fail as a full
    disk does."""
    count = {"n": 0}

    def failing(original):
        def write(self, path=None, *args, **kwargs):
            count["n"] += 1
            if count["n"] >= calls:
                raise OSError(err, os.strerror(err), str(path))
            return original(self, path, *args, **kwargs)

        return write

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing(pd.DataFrame.to_parquet))
    monkeypatch.setattr(pd.DataFrame, "to_csv", failing(pd.DataFrame.to_csv))


@pytest.mark.parametrize(
    "command",
    [
        ["run", "textbook", "-r", "2"],
        ["compare", "textbook", "b2b_saas", "-r", "2"],
        ["sweep", "textbook", "--grid", "churn.monthly.alpha=0.5,1"],
    ],
    ids=["run", "compare", "sweep"],
)
def test_full_disk_exits_1_naming_the_folder_and_keeps_earlier_results(
    tmp_path, run_cli, monkeypatch, command
):
    out = tmp_path / "out"
    args = [*command, "-q", "--workers", "1", "--no-cache", "--set", SMALL[0], "--set", SMALL[1]]
    code, _, err = run_cli(*args, "--out", str(out))
    assert code == 0, err
    before = _snapshot(out)
    assert "manifest.json" in before
    for calls in (1, 2):
        with monkeypatch.context() as m:
            _fail_after(m, calls)
            code, _, err = run_cli(*args, "--seed", "9", "--out", str(out))
        assert code == 1, err
        assert str(out) in err and "No space left on device" in err
        assert "Traceback" not in err
        assert _snapshot(out) == before  # the earlier result, untouched
        assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


class _Killed(BaseException):
    """A kill -9 at that point: nothing after it runs, no clean-up."""


def _swap_supported(tmp_path: Path) -> bool:
    from simlib import results

    a, b = tmp_path / "probe-a", tmp_path / "probe-b"
    a.mkdir()
    b.mkdir()
    try:
        return results._exchange(a, b)
    finally:
        a.rmdir()
        b.rmdir()


@pytest.mark.parametrize("killed_before", ["move aside", "rename in", "remove old", "never"])
def test_replacing_a_result_the_two_step_way_survives_a_kill_at_every_step(
    tmp_path, monkeypatch, killed_before
):
    """Where there is no atomic swap (macOS, Windows, some file systems) the earlier result is
    moved aside, then the new one renamed in. Killed at any step, the destination reads back as
    the earlier or the new complete result (one left aside is put back by the reader)."""
    from simlib import results

    earlier = simlib.simulate("textbook", overrides=SMALL, workers=1)
    newer = simlib.simulate("textbook", overrides=SMALL, workers=1, seed=9)
    expected = {
        "earlier": _snapshot(earlier.write(tmp_path / "ref-earlier")),
        "new": _snapshot(newer.write(tmp_path / "ref-new")),
    }
    dest = tmp_path / "out" / "result"
    earlier.write(dest)
    steps = ["move aside", "rename in", "remove old"]
    seen: list[str] = []
    real_replace, real_rmtree = os.replace, shutil.rmtree

    def replace(src, dst, *args, **kwargs):
        name = "move aside" if Path(src) == dest else "rename in"
        seen.append(name)
        if name == killed_before:
            raise _Killed
        return real_replace(src, dst, *args, **kwargs)

    def rmtree(path, *args, **kwargs):
        if ".old-" in Path(path).name:
            seen.append("remove old")
            if killed_before == "remove old":
                raise _Killed
        return real_rmtree(path, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(results, "_exchange", lambda a, b: False)  # as where renameat2 is missing
        m.setattr(results.os, "replace", replace)
        m.setattr(results.shutil, "rmtree", rmtree)
        with contextlib.suppress(_Killed):
            newer.write(dest)
    assert seen == (steps[: steps.index(killed_before) + 1] if killed_before in steps else steps)
    # what a reader finds: the earlier result until the new one is in place, never nothing
    got = SimulationResult.read(dest)
    want = "new" if killed_before in ("remove old", "never") else "earlier"
    assert _snapshot(dest) == expected[want], killed_before
    pd.testing.assert_frame_equal(got.summary, (newer if want == "new" else earlier).summary)
    # the next write tidies up: one result, nothing aside
    newer.write(dest)
    assert _snapshot(dest) == expected["new"]
    assert not [p for p in dest.parent.iterdir() if ".old-" in p.name]


def test_the_atomic_swap_never_leaves_the_destination_without_a_result(tmp_path):
    """On Linux the earlier result and the new one are swapped in one step (renameat2 with
    RENAME_EXCHANGE): a reader polling the destination during 300 replacements always finds a
    manifest there. Killed right after the swap, the destination holds the new result."""
    import threading

    from simlib import results
    from simlib.results import atomic_folder

    if not _swap_supported(tmp_path):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here")
    dest = tmp_path / "result"

    def write(label: str) -> None:
        with atomic_folder(dest) as tmp:
            (tmp / "data.txt").write_text(label, encoding="utf-8")
            (tmp / "manifest.json").write_text(json.dumps({"label": label}), encoding="utf-8")

    write("first")
    writer = threading.Thread(target=lambda: [write(str(i)) for i in range(300)])
    checks, missing = 0, 0
    writer.start()
    while writer.is_alive():
        checks += 1
        missing += not (dest / "manifest.json").is_file()
    writer.join()
    assert missing == 0 and checks > 0, (missing, checks)
    assert (dest / "data.txt").read_text(encoding="utf-8") == "299"
    assert [p.name for p in tmp_path.iterdir()] == ["result"]  # the earlier ones removed

    real_rmtree = shutil.rmtree

    def killed(path, *args, **kwargs):  # right after the swap: the earlier result is in tmp
        raise _Killed

    results.shutil.rmtree = killed
    try:
        with pytest.raises(_Killed):
            write("after the swap")
    finally:
        results.shutil.rmtree = real_rmtree
    assert json.loads((dest / "manifest.json").read_text())["label"] == "after the swap"
    left = [p for p in tmp_path.iterdir() if p.name != "result"]
    assert len(left) == 1 and ".tmp" in left[0].name  # the earlier one, removed as a leftover
    assert (left[0] / "data.txt").read_text(encoding="utf-8") == "299"


def test_storage_error_from_the_library(tmp_path, monkeypatch):
    res = simlib.simulate("textbook", overrides=SMALL, workers=1)
    _fail_after(monkeypatch, 3)
    with pytest.raises(StorageError, match=re.escape(str(tmp_path / "r"))) as info:
        res.write(tmp_path / "r")
    assert info.value.exit_code == 1
    assert not (tmp_path / "r").exists() and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="running as root: permissions do not stop writes (the full-disk test covers this)",
)
def test_unwritable_reports_folder_exits_2_and_keeps_earlier_results(tmp_path, run_cli):
    reports = tmp_path / "reports"
    out = reports / "run"
    sets = ["--set", SMALL[0], "--set", SMALL[1]]
    code, _, err = run_cli("run", "textbook", "-q", *sets, "--out", str(out))
    assert code == 0, err
    before = _snapshot(out)
    reports.chmod(0o555)
    try:
        code, _, err = run_cli("run", "textbook", "-q", "--seed", "2", *sets, "--out", str(out))
        assert code == 2 and str(reports) in err and "Traceback" not in err
        batch = str(ROOT / "data" / "batches" / "ci.yaml")
        code, _, err = run_cli("batch", batch, "-q", "--out", str(reports / "batch"))
        assert code == 2 and str(reports / "batch") in err
    finally:
        reports.chmod(0o755)
    assert _snapshot(out) == before


def test_a_folder_without_manifest_is_never_read_as_a_result(tmp_path):
    res = simlib.simulate("textbook", overrides=SMALL, workers=1)
    folder = res.write(tmp_path / "done")
    (folder / "manifest.json").unlink()
    with pytest.raises(UserInputError, match=r"no manifest\.json"):
        SimulationResult.read(folder)


def test_cache_ignores_half_written_entries(tmp_path):
    """A worker killed while storing leaves only a temporary folder; it is never read back."""
    cache = ResultCache(tmp_path / "cache")
    scenario = load_scenario("textbook", SMALL)
    reference = simlib.simulate(scenario, replications=2, seed=4, workers=1)
    cache.prepare(scenario, 4)
    entry = cache.entry_path(scenario, 4, 1)
    junk = entry.with_name(f".{entry.name}.tmp-123-abc")
    junk.mkdir(parents=True)
    (junk / "summary.parquet").write_bytes(b"not parquet at all")
    assert cache.get(scenario, 4, 1) is None
    again = simlib.simulate(scenario, replications=2, seed=4, workers=1, cache=cache)
    pd.testing.assert_frame_equal(again.monthly, reference.monthly, check_exact=True)
    assert not any(
        p.suffix == ".pkl" or "pickle" in p.name for p in (tmp_path / "cache").rglob("*")
    )


# --------------------------------------------------------------------------------------------
# Untrusted files stay harmless


_DANGEROUS = re.compile(
    r"\b(pickle|cPickle|dill|cloudpickle|marshal|shelve)\b|(?<![\w.])(eval|exec)\(|yaml\.(unsafe_)?load\("
    r"|Loader=yaml\.(Unsafe|Full)?Loader"
)


def test_no_pickle_eval_or_unsafe_yaml_on_user_input():
    """Grep the package: no pickle/eval/exec, and the one yaml.load uses the safe loader."""
    hits = []
    for path in sorted((ROOT / "simlib").rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if _DANGEROUS.search(code) and "Loader=_UniqueKeyLoader" not in code:
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == []
    loader = simlib.scenario._UniqueKeyLoader
    import yaml

    assert issubclass(loader, yaml.SafeLoader)


PARAMETER_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "p",
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": 'value = "default"\nitems = []\noutput_dir = "."',
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "w",
            "metadata": {},
            "outputs": [],
            "source": "import json, pathlib\n"
            "pathlib.Path(output_dir, 'seen.json').write_text(json.dumps("
            "{'value': value, 'items': items, 'type': type(value).__name__}))",
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

INJECTIONS = [
    '"; import os; os.system("touch {marker}") #',
    "'; import os; os.system('touch {marker}') #",
    '"""\nimport os\nos.system("touch {marker}")\n"""',
    "\\\"; __import__('os').system('touch {marker}')\n#",
    "x'''\n__import__('os').system('touch {marker}')\n'''",
]


def test_notebook_parameters_cannot_inject_code(tmp_path):
    from simlib.batch import ensure_kernel, execute_notebook

    source = tmp_path / "params.ipynb"
    source.write_text(json.dumps(PARAMETER_NOTEBOOK), encoding="utf-8")
    marker = tmp_path / "injected"
    values = [s.format(marker=marker) for s in INJECTIONS]
    out = tmp_path / "out"
    out.mkdir()
    execute_notebook(
        source,
        out / "params.ipynb",
        {"value": values[0], "items": values[1:], "output_dir": str(out)},
        ensure_kernel(),
        out,
        timeout=120,
    )
    seen = json.loads((out / "seen.json").read_text(encoding="utf-8"))
    assert seen == {"value": values[0], "items": values[1:], "type": "str"}
    assert not marker.exists()


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=300
) | st.sampled_from(
    ["..", ".", "../../etc/passwd", "/etc/passwd", "C:\\Windows", "con", "NUL", "a/../b", "\x00",
     "e\u0301", "\u00e9", "解約率" * 80, " ", "-", "._-"]
)  # fmt: skip


@settings(FUZZ, max_examples=400)
@given(a=names, b=names)
def test_safe_name_stays_inside_is_deterministic_and_keeps_names_apart(tmp_path, a, b):
    FUZZ_COUNTS["file names"] += 1
    for name in (a, b):
        out = safe_name(name)
        assert out and out == safe_name(name)
        assert out not in (".", "..") and not out.startswith(".")
        assert "/" not in out and "\\" not in out and "\x00" not in out
        assert not any(ord(c) < 32 or ord(c) == 127 for c in out)
        assert len(out.encode("utf-8")) <= 255
        path = within(tmp_path, name)
        assert path.parent == tmp_path.resolve()
    if a != b:
        assert safe_name(a) != safe_name(b)
    reserved = a.lower() in {"con", "prn", "aux", "nul"} or a.lower()[:3] in ("com", "lpt")
    if a.isalnum() and not reserved and len(a) <= 100 and len(a.encode()) <= 200:
        assert safe_name(a) == a  # letters of any script are kept as they are


def test_safe_name_paths_are_creatable(tmp_path):
    # the same letter composed and decomposed: two names, two folders
    assert safe_name("e\u0301") != safe_name("\u00e9") == "\u00e9"
    for name in ["解約率" * 80, "e\u0301", "../../x", "a" * 500, "😀" * 90]:
        folder = within(tmp_path, name)
        folder.mkdir()
        assert folder.parent == tmp_path.resolve()


def test_names_are_html_escaped_in_the_index(tmp_path):
    """The index escapes a hostile scenario name; the batch test covers the full batch."""
    from simlib.reports import render_index

    text = render_index(
        title="<b>t</b>",
        batch_name="x",
        description="<img src=x onerror=alert(1)>",
        generated="now",
        replications=1,
        seed=0,
        scenarios=[{"name": "<script>alert(1)</script>", "ok": True, "cells": [], "links": []}],
        metrics=[],
        batch_reports=[],
        charts=[],
        failures=[],
        parameters="name: '<script>'",
        versions={},
    )
    assert "<script>alert(1)" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# --------------------------------------------------------------------------------------------
# Input that used to be accepted, or crash (issue 18, items 1-5 and 8)


def _bomb(levels: int = 9, width: int = 9) -> str:
    """An "alias bomb": ``levels`` nested levels of ``width`` aliases (about 300 bytes that
    expand to width ** levels values)."""
    names = [f"l{i}" for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['x'] * width)}]"]
    for prev, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_while_reading_in_well_under_a_second(tmp_path, run_cli):
    import time

    from simlib.config.loader import MAX_ALIAS_NODES

    path = tmp_path / "bomb.yaml"
    path.write_text("extends: textbook\n" + _bomb(), encoding="utf-8")
    start = time.perf_counter()
    code, out, err = run_cli("validate", str(path))
    took = time.perf_counter() - start
    assert code == 2 and out == "" and "Traceback" not in err
    assert str(path) in err and f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes" in err
    assert took < 0.5, took  # before: 5.5 minutes of CPU for 9 levels, 82 s for 8
    with pytest.raises(ScenarioError, match="aliases expand"):
        load_scenario(path)
    code, _, err = run_cli("validate", "textbook", "--set", "name=" + "[" + _bomb() + "]")
    assert code == 2 and "Traceback" not in err
    for text in ("a: &a [*a]\n", "a: &a {b: *a}\n"):  # recursive aliases
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ScenarioError, match="refers to a node that holds it"):
            load_scenario(path)
    FUZZ_COUNTS["YAML alias bombs"] += 3


def test_aliases_and_merge_keys_within_the_budget_still_load(tmp_path):
    path = tmp_path / "reuse.yaml"
    path.write_text(
        "extends: textbook\n"
        "population:\n"
        "  segments:\n"
        "    a: &seg {share: 0.5, plans: {basic: 10, pro: 30}, plan_mix: {basic: 0.8, pro: 0.2}}\n"
        "    b:\n"
        "      <<: *seg\n"
        "      size_sigma: 0.2\n",
        encoding="utf-8",
    )
    segments = load_scenario(path).segment_table()
    assert segments["a"].plans == segments["b"].plans == {"basic": 10.0, "pro": 30.0}
    assert segments["b"].size_sigma == 0.2 and segments["a"].size_sigma == 0.0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("? [a, b]\n: 1\n", "key '[a, b]' is a list"),
        ("{a: 1}: 2\n", "key '{a: 1}' is a mapping"),
        ("name: {[1]: 2}\n", "key '[1]' is a list"),
        ("? !!set {a}\n: 1\n", "key '!!set {a}' is a mapping"),
    ],
)
def test_complex_keys_are_refused_naming_the_key(tmp_path, run_cli, text, words):
    FUZZ_COUNTS["complex YAML keys"] += 1
    path = tmp_path / "complex.yaml"
    path.write_text("extends: textbook\n" + text, encoding="utf-8")
    code, out, err = run_cli("validate", str(path))
    assert code == 2 and out == "" and "Traceback" not in err  # before: TypeError, exit 1
    assert str(path) in err and words in err and "a key must be a plain name" in err


def test_a_complex_key_in_an_override_is_refused_naming_the_key(run_cli):
    code, _, err = run_cli("validate", "textbook", "--set", "name={[1]: 2}")
    assert code == 2 and "Traceback" not in err
    assert "--set name" in err and "key '[1]' is a list; a key must be a plain name" in err


@pytest.mark.parametrize(
    ("override", "key", "message"),
    [
        ("horizon_months=true", "horizon_months", "must be a whole number, got True"),
        (
            "population.initial_accounts=true",
            "population.initial_accounts",
            "must be a whole number, got True",
        ),
        (
            "population.initial_accounts='300'",
            "population.initial_accounts",
            "must be a whole number, got '300'",
        ),
        ("churn.monthly.alpha=false", "churn.monthly.alpha", "must be a number, got False"),
        ("churn.monthly.alpha='0.5'", "churn.monthly.alpha", "must be a number, got '0.5'"),
        ("name=!!binary aGVsbG8=", "name", "must be text, got b'hello'"),
        ("name=2024", "name", "must be text, got 2024"),
        ("satisfaction.enabled=1", "satisfaction.enabled", "must be true or false, got 1"),
        (
            "population.segments={a: {plans: {basic: true}}}",
            "population.segments.a.plans.basic",
            "must be a number, got True",
        ),
        ("horizon_months=12.5", "horizon_months", "must be a whole number, got 12.5"),
        (
            "population.initial_accounts=1e308",
            "population.initial_accounts",
            "must be <= 50000000, got 1.000e+308",
        ),
    ],
)
def test_booleans_are_not_numbers_and_numbers_are_not_text(run_cli, override, key, message):
    FUZZ_COUNTS["values of the wrong type"] += 1
    with pytest.raises(ScenarioError) as info:
        load_scenario("textbook", [override])
    assert info.value.problems == [(key, message)]
    code, _, err = run_cli("validate", "textbook", "--set", override)
    assert code == 2 and f"{key}: {message}" in err and "Traceback" not in err


def test_numbers_that_look_like_numbers_still_are():
    """A whole float is a whole number (ranges and sweeps give 12.0); YAML 1.2 floats without
    a dot or an exponent sign (1e3, 1.5e3) are numbers, not text."""
    scenario = load_scenario(
        "textbook",
        [
            "horizon_months=12.0",
            "acquisition.new_accounts_per_month=1e3",
            "churn.monthly.beta=1.5e3",
        ],
    )
    assert scenario.horizon_months == 12 and isinstance(scenario.horizon_months, int)
    assert scenario.acquisition.new_accounts_per_month == 1000.0
    assert scenario.segment_table()["all"].churn.monthly.beta == 1500.0
    from simlib.config import Population

    # numpy numbers from Python code are numbers (a numpy boolean is still not one)
    assert Population(initial_accounts=np.int64(5), mrr=np.float64(2.5)).initial_accounts == 5
    with pytest.raises(ValueError, match="int_type"):
        Population(initial_accounts=np.bool_(True))


@pytest.mark.parametrize("cell", ["1_000", "1_0.5", "1e1_0"])
def test_csv_numbers_with_underscores_are_refused(tmp_path, cell):
    FUZZ_COUNTS["CSV cells (customer books)"] += 1
    rows = _book_rows()
    rows[3][3] = cell  # the mrr column
    path = _write_csv(tmp_path / "book.csv", BOOK_HEADER, rows)
    with pytest.raises(DataError) as info:
        read_book(path, load_scenario("b2b_saas"))
    assert str(info.value) == f"{path}: line 5 (data row 4): column 'mrr': not a number: {cell!r}"
    retention = [list(r) for r in RETENTION]
    retention[2][1] = cell
    path = _write_csv(tmp_path / "retention.csv", ["period", "alive"], retention)
    with pytest.raises(DataError, match=r"line 4 \(data row 3\): column 'alive': not a number"):
        read_retention(path)


@pytest.mark.parametrize(
    ("override", "key", "bound"),
    [
        (
            "acquisition.new_accounts_per_month=1e12",
            "acquisition.new_accounts_per_month",
            "50,000,000",
        ),
        ("coverage.requests.per_month=1e9", "coverage.requests.per_month", "10,000,000"),
        ("coverage.requests.per_month=5e7", "coverage.requests.per_month", "10,000,000"),
    ],
)
def test_a_run_larger_than_the_bounds_is_refused_before_it_starts(
    tmp_path, run_cli, override, key, bound
):
    """Before: each validated, then the run failed with a MemoryError traceback (5e7 requests
    a month ran 51 s and took 7.4 GB first)."""
    code, out, err = run_cli("validate", "textbook", "--set", override)
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"{key}: a run would " in err and f"more than the {bound} a run may hold" in err
    code, _, err = run_cli("run", "textbook", "--set", override, "--out", str(tmp_path / "o"))
    assert code == 2 and f"{key}: a run would" in err and not (tmp_path / "o").exists()


def test_the_bounds_are_the_documented_formulas():
    """accounts = initial + rate x horizon (the room the engine reserves; a late start_month
    does not hide a huge rate), requests = per_month x horizon; a value at the bound passes, one
    just above it is refused."""
    from simlib.config.base import MAX_ACCOUNTS, MAX_REQUESTS

    base = ["population.initial_accounts=1000", "horizon_months=11", "acquisition.start_month=11"]
    rate = (MAX_ACCOUNTS - 1000) / 11
    assert load_scenario("textbook", [*base, f"acquisition.new_accounts_per_month={rate!r}"])
    with pytest.raises(ScenarioError, match=r"acquisition\.new_accounts_per_month"):
        load_scenario("textbook", [*base, f"acquisition.new_accounts_per_month={rate + 1!r}"])
    per_month = MAX_REQUESTS / 11
    assert load_scenario("textbook", [*base, f"coverage.requests.per_month={per_month!r}"])
    with pytest.raises(ScenarioError, match=r"coverage\.requests\.per_month"):
        load_scenario("textbook", [*base, f"coverage.requests.per_month={per_month * 1.001!r}"])


def test_a_scenario_changed_in_python_past_the_bounds_is_refused_before_it_runs():
    scenario = load_scenario("textbook")
    big = scenario.model_copy(
        update={
            "acquisition": scenario.acquisition.model_copy(update={"new_accounts_per_month": 1e12})
        }
    )
    with pytest.raises(ScenarioError) as info:
        simlib.simulate(big, seed=1)
    assert info.value.exit_code == 2 and info.value.source == "textbook"
    assert [k for k, _ in info.value.problems] == ["acquisition.new_accounts_per_month"]


def test_a_plan_added_to_a_segment_with_a_plan_mix_is_refused_by_validate(tmp_path, run_cli):
    """Before: it validated, then the run failed with KeyError: 'extra'."""
    override = "population.segments.smb.plans.extra=50"
    with pytest.raises(ScenarioError) as info:
        load_scenario("b2b_saas", [override])
    assert info.value.problems == [
        (
            "population.segments.smb",
            "plan_mix gives no share to plan(s) ['extra'] of plans ['starter', 'team', "
            "'business', 'extra']; give every plan its share (0 for none)",
        )
    ]
    code, _, err = run_cli("run", "b2b_saas", "--set", override, "--out", str(tmp_path / "o"))
    assert code == 2 and "plan_mix gives no share" in err and "Traceback" not in err
    # with its share the new plan runs, and starts accounts on it (its price is 100 times the
    # dearest other plan's, and every smb account is at list price: size_sigma 0)
    res = simlib.simulate(
        "b2b_saas",
        seed=1,
        overrides=[
            *SMALL,
            "population.segments.smb.plans.extra=40000",
            "population.segments.smb.size_sigma=0",
            "population.segments.smb.plan_mix={starter: 0.5, team: 0.2, business: 0.1, extra: 0.2}",
        ],
    )
    smb = res.accounts[res.accounts["segment"] == "smb"]
    assert (smb["initial_mrr"] > 20_000).any() and (smb["initial_mrr"] < 400).any()


@pytest.mark.parametrize("kind", ["device", "fifo", "folder", "long line", "missing"])
def test_a_book_that_is_not_a_csv_file_is_refused_at_once(tmp_path, run_cli, kind):
    """Before: population.from_csv=/dev/zero read until the machine ran out of memory (24 GB),
    and `simlib validate` passed a missing book."""
    import time

    from simlib.io.csv import MAX_LINE_CHARS

    path = {"device": Path("/dev/zero"), "missing": tmp_path / "none.csv"}.get(
        kind, tmp_path / "book.csv"
    )
    if kind == "fifo":
        os.mkfifo(path)  # opening it would wait for a writer
    elif kind == "folder":
        path.mkdir()
    elif kind == "long line":
        path.write_bytes(b"\0" * (MAX_LINE_CHARS + 10))
    words = {
        "device": "not a regular file (a character device, such as /dev/zero)",
        "fifo": "not a regular file (a named pipe)",
        "folder": "not a regular file (a folder)",
        "long line": f"line 1: longer than {MAX_LINE_CHARS:,} characters",
        "missing": "cannot read file: No such file or directory",
    }[kind]
    start = time.perf_counter()
    for command in ("validate", "run"):
        code, _, err = run_cli(command, "textbook", "--set", f"population.from_csv={path}")
        assert code == 2 and f"{path}: {words}" in err and "Traceback" not in err, err
    assert time.perf_counter() - start < 10
    with pytest.raises(DataError, match=re.escape(words)):
        read_book(path, load_scenario("textbook"))


def test_validate_checks_the_header_of_the_book(tmp_path, run_cli):
    rows = _book_rows()
    good = _write_csv(tmp_path / "good.csv", BOOK_HEADER, rows)
    code, out, _ = run_cli("validate", "b2b_saas", "--set", f"population.from_csv={good}")
    assert code == 0 and str(good) in out
    header = [h for h in BOOK_HEADER if h != "tenure_months"]
    bad = _write_csv(tmp_path / "bad.csv", header, [r[:5] + r[6:] for r in rows])
    code, out, err = run_cli("validate", "b2b_saas", "--set", f"population.from_csv={bad}")
    assert code == 2 and out == ""
    assert f"{bad}: missing column(s) 'tenure_months'" in err
    only_header = _write_csv(tmp_path / "header.csv", BOOK_HEADER, [])
    code, _, err = run_cli("validate", "b2b_saas", "--set", f"population.from_csv={only_header}")
    assert code == 2 and "no data rows, only a header" in err


def test_a_book_growing_past_the_bound_during_a_run_stops_it_as_bad_input(
    monkeypatch, tmp_path, run_cli
):
    """Referrals compound (every promoter refers one account a month here: the book doubles
    monthly), so no bound before the run can foresee them; the book refuses to grow past its
    limit (lowered here from 60 million to 5,000) with exit code 2, not a MemoryError."""
    import simlib.account

    monkeypatch.setattr(simlib.account, "BOOK_LIMIT", 5000)
    stage = "{min_satisfaction: 0, months: 1, min_tenure_months: 0, referral_rate: 1}"
    overrides = [
        "population.initial_accounts=1000",
        "horizon_months=8",
        "loyalty.enabled=true",
        "loyalty.repeater_tenure_months=0",
        f"loyalty.promoter={stage}",
        f"loyalty.fan={stage}",
    ]
    sets = [a for o in overrides for a in ("--set", o)]
    code, _, err = run_cli("run", "textbook", *sets, "--workers", "1", "--out", str(tmp_path / "o"))
    assert code == 2 and "the run's book grew past 5,000 accounts" in err, err
    assert "Traceback" not in err and not (tmp_path / "o").exists()
    # under the limit the same growth runs: 3 months hold fewer than 5,000 rows (1000, about
    # 2000 and 4000 alive, and the churned ones)
    res = simlib.simulate("textbook", seed=1, workers=1, overrides=[*overrides, "horizon_months=3"])
    assert 2 * 1000 < len(res.accounts) <= 5000
