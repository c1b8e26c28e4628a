"""``simlib batch``: the batch file, failures that do not stop the batch, --resume, safe names."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest

from simlib.batch import ensure_kernel, execute_notebook, expand_scenarios, load_batch
from simlib.cli import main
from simlib.io.locks import exclusive_lock
from simlib.paths import safe_name
from simlib.reports import external_references

EVIL = "../../evil <script>alert(1)</script>"
JAPANESE = "解約率の低い世界"

FAILING_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "p",
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": 'flag: str = ""  # file whose presence makes this notebook fail\n'
            'output_dir: str = "."  # folder for outputs.json',
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "r",
            "metadata": {},
            "outputs": [],
            "source": "from pathlib import Path\n\nprint('first cell ran')\n"
            "if flag and Path(flag).exists():\n    raise RuntimeError('deliberate failure')",
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_invalid_batch_file_exits_2_naming_file_and_key(tmp_path: Path, capsys) -> None:
    bad = _write(
        tmp_path / "bad.yaml",
        """
        replications: 0
        scenarios:
          - scenario: textbook
            sett: {horizon_months: 12}
        """,
    )
    assert main(["batch", str(bad), "-q", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert "replications" in err and "scenarios.0.sett" in err
    assert not (tmp_path / "out" / "index.html").exists()
    empty = _write(tmp_path / "empty.yaml", "scenarios: []\n")
    assert main(["batch", str(empty), "-q"]) == 2


def test_grid_and_overrides_expand(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "grid.yaml",
        """
        set: {horizon_months: 12}
        scenarios:
          - scenario: textbook
          - grid:
              scenario: b2b_saas
              vary: {churn.satisfaction_effect: [0, 2], champion.enabled: [true, false]}
        """,
    )
    specs = expand_scenarios(load_batch(path), tmp_path)
    assert len(specs) == 5
    assert specs[0].overrides == ["horizon_months=12"]
    assert specs[1].name == "b2b_saas churn.satisfaction_effect=0, champion.enabled=True"
    assert specs[4].overrides[-2:] == ["churn.satisfaction_effect=2", "champion.enabled=false"]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_broken_parts_do_not_stop_the_batch_and_resume_completes_them(
    tmp_path: Path, capsys
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    broken = _write(work / "broken.yaml", "extends: textbook\nchurn: {monthly: {alpha: -1}}\n")
    flag = _write(work / "fail.flag", "fail\n")
    (work / "failing.ipynb").write_text(json.dumps(FAILING_NOTEBOOK), encoding="utf-8")
    batch = _write(
        work / "broken_batch.yaml",
        f"""
        name: broken batch
        replications: 2
        seed: 3
        set: {{population.initial_accounts: 150, horizon_months: 14}}
        scenarios:
          - scenario: b2b_saas
          - name: "{EVIL}"
            scenario: b2b_saas
            set: {{churn.satisfaction_effect: 4.0}}
          - name: {JAPANESE}
            scenario: textbook
          - name: broken
            scenario: broken.yaml
        notebooks:
          scenario: [scenario_report]
          batch:
            - notebook: failing.ipynb
              parameters: {{flag: "{flag}"}}
        """,
    )
    out = work / "reports" / "broken"
    before = _files(tmp_path)
    code = main(["batch", str(batch), "-q", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.strip() == str(out.resolve() / "index.html")
    assert "broken" in captured.err and "deliberate failure" in captured.err

    # Nothing outside the batch folder besides what the test wrote itself.
    outside = {p for p in _files(tmp_path) - before if out.resolve() not in p.resolve().parents}
    assert outside == set()
    assert not list(tmp_path.rglob("evil*")) or all(
        out.resolve() in p.resolve().parents for p in tmp_path.rglob("evil*")
    )

    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert JAPANESE in index
    assert index.count('class="scenario-row') == 4
    assert index.count('class="failure-row"') == 2  # the broken scenario, the failing notebook
    assert "alpha" in index and "deliberate failure" in index
    for html in out.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert "<script>alert(1)" not in text, html
        assert external_references(text) == [], html  # opens offline

    # The good scenarios are complete, with figures matching the result tables.
    for name in ("b2b_saas", EVIL, JAPANESE):
        folder = out / "scenarios" / safe_name(name) / "scenario_report"
        assert (folder / "scenario_report.html").is_file(), name
        outputs = json.loads((folder / "outputs.json").read_text(encoding="utf-8"))
        summary = (out / "results" / safe_name(name) / "summary.csv").read_text()
        assert outputs["scenario"] == name and summary.count("\n") == 3
    assert not (out / "results" / "broken").exists()
    # The failing notebook's partial run is kept, with its first cell's output.
    failing = out / "batch" / "failing" / "failing.ipynb"
    assert "first cell ran" in failing.read_text(encoding="utf-8")
    state = json.loads((out / "run.json").read_text(encoding="utf-8"))["tasks"]
    assert not state["simulate:broken"]["ok"]

    # Fix both, then resume: only the missing parts run.
    _write(broken, "extends: textbook\nchurn: {monthly: {alpha: 1.5}}\n")
    flag.unlink()
    report = out / "scenarios" / "b2b_saas" / "scenario_report" / "scenario_report.html"
    mtime = report.stat().st_mtime_ns
    log_lines = (out / "run_log.jsonl").read_text(encoding="utf-8").count("\n")
    code = main(["batch", str(batch), "-q", "--resume", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert report.stat().st_mtime_ns == mtime
    log = [
        json.loads(line)
        for line in (out / "run_log.jsonl").read_text(encoding="utf-8").splitlines()
    ][log_lines:]
    assert sorted(e["task"] for e in log) == sorted(
        ["simulate:broken", "notebook:broken:scenario_report", "batch:failing"]
    )
    assert all(e["ok"] for e in log)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'class="failure-row"' not in index
    assert index.count('class="scenario-row') == 4
    assert os.path.isfile(out / "results" / "broken" / "manifest.json")


def test_notebooks_run_on_a_kernel_over_ipc(tmp_path: Path) -> None:
    source = tmp_path / "transport.ipynb"
    nb = json.loads(json.dumps(FAILING_NOTEBOOK))
    nb["cells"][1]["source"] = (
        "import json\nfrom ipykernel import get_connection_info\n"
        "print(json.loads(get_connection_info())['transport'])"
    )
    source.write_text(json.dumps(nb), encoding="utf-8")
    dest = tmp_path / "out" / "transport.ipynb"
    execute_notebook(source, dest, {}, ensure_kernel(), tmp_path)
    done = nbformat.read(dest, as_version=4)
    expected = "tcp" if os.name == "nt" else "ipc"
    assert done.cells[-1].outputs[0]["text"].strip() == expected


TINY = """\
replications: 1
set: {{population.initial_accounts: 60, horizon_months: 6{extra}}}
scenarios:
  - scenario: textbook
  - scenario: b2b_saas
notebooks: {{scenario: [], batch: []}}
"""


@pytest.mark.parametrize(
    ("extra", "key", "what"),
    [
        (", horizon_monthz: 3", "set.horizon_monthz", "unknown key"),
        (", churn.monthly.alpha: -1", "set.churn.monthly.alpha", "must be"),
        (", coverage.policy: bogus", "set.coverage.policy", "unknown coverage policy 'bogus'"),
    ],
    ids=["unknown key", "bad value", "unknown plug-in name"],
)
def test_a_bad_batch_wide_set_stops_before_anything_is_written(
    tmp_path: Path, capsys, extra: str, key: str, what: str
) -> None:
    batch = _write(tmp_path / "b.yaml", TINY.format(extra=extra))
    out = tmp_path / "out"
    assert main(["batch", str(batch), "-q", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{batch}: set:" in err and f"{key}: {what}" in err, err
    assert "Traceback" not in err
    assert not out.exists()  # no run.json, index.html, batch.yaml: not even the folder


def test_a_scenario_broken_on_its_own_is_still_a_recorded_failure(tmp_path: Path) -> None:
    from simlib.batch.plan import check_common_set

    _write(tmp_path / "broken.yaml", "extends: textbook\nchurn: {monthly: {alpha: -1}}\n")
    batch = _write(
        tmp_path / "b.yaml",
        "set: {horizon_months: 6}\nscenarios: [{scenario: broken.yaml}, {scenario: textbook}]\n",
    )
    check_common_set(load_batch(batch), batch)  # the set is fine: the run records the failure


def test_batch_out_must_be_a_batch_folder_or_new(tmp_path: Path, capsys) -> None:
    batch = _write(tmp_path / "b.yaml", TINY.format(extra=""))
    target = _write(tmp_path / "notes.txt", "mine\n")
    assert main(["batch", str(batch), "-q", "--out", str(target)]) == 2
    assert f"{target}: is a file" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "mine\n"
    other = tmp_path / "photos"
    other.mkdir()
    _write(other / ".hidden.tmp-1", "not a batch's\n")
    (other / "a.jpg").write_bytes(b"\xff\xd8")
    assert main(["batch", str(batch), "-q", "--out", str(other)]) == 2
    assert f"{other}: holds files but no batch" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == [".hidden.tmp-1", "a.jpg"]


def test_a_second_batch_into_the_same_folder_exits_2_naming_the_first(tmp_path: Path, capsys):
    import signal
    import subprocess
    import sys

    batch = _write(tmp_path / "b.yaml", TINY.format(extra=""))
    out = tmp_path / "out"
    out.mkdir()
    lock = out / ".simlib-batch.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom simlib.io.locks import exclusive_lock\n"
            f"with exclusive_lock({str(lock)!r}, {str(out)!r}, 'another simlib batch'):\n"
            "    print('locked', flush=True)\n    time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert main(["batch", str(batch), "-q", "--workers", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"another simlib batch is already writing here (process {holder.pid})" in err
        assert str(out) in err
        assert sorted(p.name for p in out.iterdir()) == [lock.name]  # nothing written
    finally:
        holder.send_signal(signal.SIGKILL)  # as a killed batch: the lock goes with it
        holder.wait()
    assert lock.exists()  # left by the killed holder, and free: the next batch takes it
    with exclusive_lock(lock, out, "another simlib batch"):
        assert lock.read_text(encoding="ascii").strip() == str(os.getpid())
    assert not lock.exists()


def test_kernels_keep_their_sockets_in_the_batch_s_own_folder(tmp_path: Path) -> None:
    """Jupyter's defaults put a kernel's IPC sockets (kernel-ipc-1 ... -5) in the notebook's
    folder, where two batches writing one folder share them: each batch gets its own."""
    from simlib.batch.notebooks import kernel_runtime

    source = tmp_path / "where.ipynb"
    nb = json.loads(json.dumps(FAILING_NOTEBOOK))
    nb["cells"][1]["source"] = (
        "import json\nfrom ipykernel import get_connection_file, get_connection_info\n"
        "print(json.dumps([get_connection_file(), json.loads(get_connection_info())['ip']]))"
    )
    source.write_text(json.dumps(nb), encoding="utf-8")
    cwd = tmp_path / "scenarios" / "s" / "where"
    cwd.mkdir(parents=True)
    with kernel_runtime() as a, kernel_runtime() as b:
        assert a != b and oct(a.stat().st_mode & 0o777) == "0o700"
        for runtime in (a, b):
            execute_notebook(source, cwd / "where.ipynb", {}, ensure_kernel(), cwd, 120, runtime)
            done = nbformat.read(cwd / "where.ipynb", as_version=4)
            connection, ip = json.loads(done.cells[-1].outputs[0]["text"])
            assert Path(connection).parent == runtime
            if os.name != "nt":
                assert Path(ip).parent == runtime
    assert not a.exists() and not b.exists()
    assert sorted(p.name for p in cwd.iterdir()) == ["where.ipynb"]  # no sockets left here


def test_kernel_folders_of_killed_batches_are_removed_by_the_next(tmp_path: Path) -> None:
    import subprocess
    import sys
    import tempfile

    from simlib.batch.notebooks import kernel_runtime

    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead = Path(tempfile.gettempdir()) / f"simlib-k{int(child.stdout)}-left"
    live = Path(tempfile.gettempdir()) / f"simlib-k{os.getppid()}-live"  # a running process
    for folder in (dead, live):
        folder.mkdir()
        (folder / "k0123abcd.json").write_text("{}", encoding="utf-8")
    try:
        with kernel_runtime() as mine:
            assert mine.is_dir() and not dead.exists() and live.is_dir()
        assert not mine.exists()
    finally:
        for folder in (dead, live):
            shutil.rmtree(folder, ignore_errors=True)


def test_a_batch_file_gets_the_scenario_loaders_yaml_checks(tmp_path):
    """An alias bomb, a duplicate key or a list as a key in a batch file is refused at once
    (exit 2, the batch file named), as in a scenario file."""
    import time

    from simlib.batch import BatchError, load_batch

    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    cases = {
        "bomb.yaml": bomb + "scenarios: [textbook]\n",
        "twice.yaml": "scenarios: [textbook]\nscenarios: [b2b_saas]\n",
        "complex.yaml": "? [a, b]\n: 1\nscenarios: [textbook]\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        start = time.perf_counter()
        with pytest.raises(BatchError, match=name) as info:
            load_batch(path)
        assert time.perf_counter() - start < 1.0
        assert info.value.exit_code == 2
