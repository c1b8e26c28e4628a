"""Storage and results, second pass: what ``--out`` may replace, errors that name the user's
path, temporaries of killed writers removed on the next run, incomplete result folders reported
as such, the user's umask honoured, and one writer per output folder.

Faults are simulated: a full disk by an ``OSError(ENOSPC)`` from the writer's rename, a killed
writer by a temporary named after a process that has ended (a child started and waited for) or
by ``kill -9`` of a child process.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pandas as pd
import pytest

import simlib
from simlib import results
from simlib.cache import ResultCache
from simlib.errors import DataError, StorageError, UserInputError
from simlib.io import atomic
from simlib.io.atomic import atomic_file, temp_prefix, write_text_atomic
from simlib.io.locks import exclusive_lock
from simlib.results import SimulationResult, atomic_folder, recover_folder
from simlib.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["population.initial_accounts=60", "horizon_months=6"]
SETS = ["--set", SMALL[0], "--set", SMALL[1]]
POSIX = pytest.mark.skipif(os.name != "posix", reason="modes, pids and kill -9 as on POSIX")


@pytest.fixture(scope="module")
def small_result() -> SimulationResult:
    return simlib.simulate("textbook", overrides=SMALL, workers=1)


def _dead_pid() -> int:
    """The id of a process that has ended (started and waited for here)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(child.stdout)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert not atomic.pid_alive(pid)
    return pid


def _temp_of(dest: Path, pid: int, tail: str = "abc123") -> Path:
    """The temporary name a writer with process id ``pid`` on this machine uses for ``dest``."""
    return dest.parent / (temp_prefix(dest).replace(f"-{os.getpid()}-", f"-{pid}-") + tail)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


class _FullDisk(types.ModuleType):
    """``os`` for :mod:`simlib.io.atomic`, whose ``replace`` fails as a full disk does (the
    rest of ``os`` unchanged) for destinations named in ``names`` (every one when empty)."""

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        super().__init__("os")
        self.names = names

    def __getattr__(self, name: str):
        return getattr(os, name)

    def replace(self, src, dst, *args, **kwargs):
        if not self.names or Path(dst).name in self.names:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # no file name, as write()
        return os.replace(src, dst, *args, **kwargs)


# --------------------------------------------------------------------------------------------
# 9. What --out may replace: nothing but a folder of simlib results (or nothing, or an empty one)


def test_run_refuses_a_file_as_out_and_leaves_it(tmp_path, run_cli):
    target = tmp_path / "notes.txt"
    target.write_text("my notes\n", encoding="utf-8")
    code, _, err = run_cli("run", "textbook", "-q", *SETS, "--out", str(target))
    assert code == 2, err
    assert str(target) in err and "is a file" in err and "Traceback" not in err
    assert target.read_text(encoding="utf-8") == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing hidden beside


def test_run_refuses_a_folder_of_other_files_and_accepts_empty_and_results(tmp_path, run_cli):
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.md").write_text("text", encoding="utf-8")
    code, _, err = run_cli("run", "textbook", "-q", *SETS, "--out", str(other))
    assert code == 2 and str(other) in err and "no simlib results" in err, err
    assert sorted(p.name for p in other.iterdir()) == ["chapter1.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli("run", "textbook", "-q", *SETS, "--out", str(empty))
    assert code == 0, err
    assert (empty / "manifest.json").is_file()
    code, _, err = run_cli("run", "textbook", "-q", *SETS, "--seed", "3", "--out", str(empty))
    assert code == 0, err  # a folder of results is replaced by the new result
    assert SimulationResult.read(empty).seed == 3


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("compare", ["compare", "textbook", "b2b_saas"]),
        ("sweep", ["sweep", "textbook", "--grid", "churn.monthly.alpha=0.5,1"]),
    ],
)
def test_compare_and_sweep_refuse_a_file_as_out_before_running(
    tmp_path, run_cli, monkeypatch, module, args
):
    target = tmp_path / "table.csv"
    target.write_text("a,b\n", encoding="utf-8")
    loaded = importlib.import_module(f"simlib.{module}")
    monkeypatch.setattr(loaded, module, None)  # never gets to run
    code, _, err = run_cli(*args, "-q", "--out", str(target))
    assert code == 2 and str(target) in err and "is a file" in err, err
    assert target.read_text(encoding="utf-8") == "a,b\n"


def test_the_library_refuses_a_file_or_a_symbolic_link(tmp_path, small_result):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"\x00\x01")
    with pytest.raises(UserInputError, match="is a file"):
        small_result.write(target)
    assert target.read_bytes() == b"\x00\x01"
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(UserInputError, match="symbolic link"):
        small_result.write(link)
    assert link.is_symlink() and target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bin", "link"]


def test_a_file_put_at_the_destination_during_the_write_is_kept(tmp_path):
    dest = tmp_path / "result"
    with pytest.raises(UserInputError, match="is a file"), atomic_folder(dest) as tmp:
        (tmp / "manifest.json").write_text("{}", encoding="utf-8")
        dest.write_text("arrived meanwhile", encoding="utf-8")
    assert dest.read_text(encoding="utf-8") == "arrived meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


# --------------------------------------------------------------------------------------------
# 10. Errors name the user's path: never a temporary name, never no path at all


def test_calibrate_out_on_a_full_disk_names_the_file(tmp_path, run_cli, monkeypatch):
    table = tmp_path / "retention.csv"
    table.write_text("period,alive\n0,100\n1,80\n2,68\n3,60\n4,54\n5,50\n", encoding="utf-8")
    out = tmp_path / "fit.json"
    monkeypatch.setattr(atomic, "os", _FullDisk())
    code, _, err = run_cli("calibrate", "retention", str(table), "--out", str(out))
    assert code == 1, err
    assert f"{out}: cannot write this file (No space left on device)" in err
    assert ".tmp-" not in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retention.csv"]


def test_writing_a_file_onto_a_folder_names_the_folder(tmp_path, run_cli):
    table = tmp_path / "retention.csv"
    table.write_text("period,alive\n0,100\n1,80\n2,68\n3,60\n", encoding="utf-8")
    folder = tmp_path / "some_dir"
    folder.mkdir()
    code, out, err = run_cli("calibrate", "retention", str(table), "--out", str(folder))
    assert code == 2, err
    assert f"{folder}: is a folder" in err and ".tmp-" not in err
    assert list(folder.iterdir()) == [] and out == ""


def test_a_failing_writer_is_reported_with_the_destination(tmp_path):
    dest = tmp_path / "table.parquet"
    with pytest.raises(StorageError) as info, atomic_file(dest) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(tmp))
    assert str(dest) in str(info.value) and ".tmp-" not in str(info.value)
    assert info.value.exit_code == 1 and list(tmp_path.iterdir()) == []


def test_a_batch_on_a_full_disk_names_its_file(tmp_path, run_cli, monkeypatch):
    batch = tmp_path / "b.yaml"
    batch.write_text(
        "replications: 1\nset: {population.initial_accounts: 60, horizon_months: 6}\n"
        "scenarios: [{scenario: textbook}]\nnotebooks: {scenario: [], batch: []}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    monkeypatch.setattr(atomic, "os", _FullDisk(("run.json",)))
    code, _, err = run_cli("batch", str(batch), "-q", "--workers", "1", "--out", str(out))
    assert code == 1, err
    assert f"{out / 'run.json'}: cannot write this file (No space left on device)" in err
    assert ".tmp-" not in err and "Traceback" not in err
    assert not [p for p in out.rglob(".*") if ".tmp-" in p.name]


def test_an_os_error_naming_a_temporary_shows_the_users_name():
    from simlib.cli import _user_path

    assert _user_path("/data/.some_dir.tmp-ccz584sn") == "/data/some_dir"
    assert _user_path("/d/.fit.json.tmp-a1b2c3-12-x_y.json") == "/d/fit.json"
    assert _user_path("/d/.report.running.ipynb") == "/d/report.ipynb"
    assert _user_path("/d/.result.old-4242") == "/d/result"
    assert _user_path("/d/plain.csv") == "/d/plain.csv"


# --------------------------------------------------------------------------------------------
# 11. Temporaries of killed writers go on the next run; no manifest beside missing tables


@POSIX
def test_temporaries_of_dead_writers_are_removed_by_the_next_write(tmp_path, small_result):
    dest = tmp_path / "result"
    dead, alive = _dead_pid(), os.getpid()
    stale = _temp_of(dest, dead)
    stale.mkdir()
    (stale / "monthly.parquet").write_bytes(b"half")
    live = _temp_of(dest, alive, "def456")
    live.mkdir()
    other = tmp_path / ".other.tmp-1234"  # another destination's: not this write's business
    other.mkdir()
    small_result.write(dest)
    assert _hidden(tmp_path) == sorted([live.name, other.name])
    text = tmp_path / "run.json"
    stale_file = _temp_of(text, dead)
    stale_file.write_text("{", encoding="utf-8")
    write_text_atomic(text, "{}")
    assert not stale_file.exists() and text.read_text(encoding="utf-8") == "{}"


@POSIX
def test_a_writer_killed_with_sigkill_leaves_nothing_after_the_next_run(tmp_path, small_result):
    dest = tmp_path / "result"
    small_result.write(dest)
    before = _snapshot(dest)
    code = textwrap.dedent(
        f"""
        import sys, time
        from simlib.results import atomic_folder
        with atomic_folder({str(dest)!r}) as tmp:
            (tmp / "monthly.parquet").write_bytes(b"half a table")
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(_hidden(tmp_path)) == 1 and ".tmp-" in _hidden(tmp_path)[0]
    assert _snapshot(dest) == before  # the kill changed nothing that is read
    small_result.write(dest)
    assert _hidden(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["result"]


@POSIX
def test_cache_temporaries_of_dead_writers_are_removed(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    scenario = load_scenario("textbook", SMALL)
    entry = cache.entry_path(scenario, 4, 1)
    entry.parent.mkdir(parents=True)
    dead = _temp_of(entry, _dead_pid())
    live = _temp_of(entry, os.getpid(), "live")
    foreign = entry.with_name(f".{entry.name}.tmp-ffffff-1-young")  # another machine's
    old_foreign = entry.with_name(f".{entry.name}.tmp-ffffff-1-old")
    for path in (dead, live, foreign, old_foreign):
        path.mkdir()
    hours_ago = time.time() - 2 * 3600
    os.utime(old_foreign, (hours_ago, hours_ago))
    cache.prepare(scenario, 4)
    assert _hidden(entry.parent) == sorted([live.name, foreign.name])


def test_a_removal_cut_short_never_leaves_a_result_with_tables_missing(
    tmp_path, monkeypatch, small_result
):
    """Killed while the earlier result is being removed (after the swap), what is left of it
    has no manifest.json: it is never read or restored as a result."""
    dest = tmp_path / "result"
    small_result.write(dest)
    calls = []

    class Killed(BaseException):
        """kill -9 at that point: nothing after it runs"""

    def killed(path, *args, **kwargs):
        calls.append(Path(path))
        raise Killed

    for swap in (True, False):  # the one-step exchange and the two-step way
        with monkeypatch.context() as m:
            if not swap:
                m.setattr(results, "_exchange", lambda a, b: False)
            m.setattr(results.shutil, "rmtree", killed)
            with contextlib.suppress(Killed):
                small_result.write(dest)
        left = [p for p in tmp_path.iterdir() if p.name != "result"]
        assert left and calls and calls[-1] in left
        for half in left:
            assert not (half / "manifest.json").exists(), half
        SimulationResult.read(dest)  # the destination: a complete result
        shutil.rmtree(dest)
        assert recover_folder(dest) is False  # nothing half is put back
        assert not dest.exists()
        for half in left:
            shutil.rmtree(half)
        small_result.write(dest)


def test_reading_an_incomplete_result_folder_names_the_missing_table(tmp_path, small_result):
    folder = small_result.write(tmp_path / "result")
    (folder / "accounts.parquet").unlink()
    with pytest.raises(DataError, match=r"incomplete result folder: accounts\.parquet missing"):
        SimulationResult.read(folder)
    (folder / "monthly.parquet").write_bytes(b"not parquet")
    (folder / "accounts.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="unreadable result folder"):
        SimulationResult.read(folder)


# --------------------------------------------------------------------------------------------
# 12. The user's umask decides the modes


@POSIX
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_results_files_and_cache_entries_honour_the_umask(tmp_path, small_result, umask):
    old = os.umask(umask)
    try:
        folder = small_result.write(tmp_path / "result")
        text = write_text_atomic(tmp_path / "report.html", "<p>hi</p>")
        with atomic_file(tmp_path / "table.csv") as tmp:
            tmp.write_text("a\n", encoding="utf-8")
        cache = ResultCache(tmp_path / "cache")
        scenario = load_scenario("textbook", SMALL)
        simlib.simulate(scenario, workers=1, cache=cache)
        (entry,) = cache.entry_path(scenario, 0, 0).parent.glob("rep-*")
    finally:
        os.umask(old)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(folder) == 0o777 & ~umask
    assert mode(entry) == 0o777 & ~umask
    for path in [*folder.iterdir(), *entry.iterdir(), text, tmp_path / "table.csv"]:
        assert mode(path) == 0o666 & ~umask, path


# --------------------------------------------------------------------------------------------
# 15. One writer per output folder


def test_a_second_run_into_the_same_folder_is_refused_naming_the_first(tmp_path, run_cli):
    out = tmp_path / "runs" / "shared"
    out.parent.mkdir()
    with exclusive_lock(out.parent / f".{out.name}.lock", out, "another simlib run"):
        code, _, err = run_cli("run", "textbook", "-q", *SETS, "--out", str(out))
    assert code == 2, err
    assert f"{out}: another simlib run is already writing here (process {os.getpid()})" in err
    assert not out.exists()
    code, _, err = run_cli("run", "textbook", "-q", *SETS, "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.parent.iterdir()) == ["shared"]  # the lock is gone


@POSIX
def test_a_lock_held_by_a_killed_process_is_free_again(tmp_path, run_cli):
    out = tmp_path / "shared"
    code = textwrap.dedent(
        f"""
        import time
        from simlib.io.locks import exclusive_lock
        with exclusive_lock({str(tmp_path / ".shared.lock")!r}, {str(out)!r}, "a run"):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    code_, _, err = run_cli("run", "textbook", "-q", *SETS, "--out", str(out))
    assert code_ == 2 and f"(process {child.pid})" in err, err
    child.send_signal(signal.SIGKILL)
    child.wait()
    code_, _, err = run_cli("run", "textbook", "-q", *SETS, "--out", str(out))
    assert code_ == 0, err
    pd.testing.assert_frame_equal(
        SimulationResult.read(out).summary,
        simlib.simulate("textbook", overrides=SMALL, workers=1).summary,
    )
