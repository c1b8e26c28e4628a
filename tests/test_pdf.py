"""``simlib batch --pdf``: a PDF beside each HTML report, printed by headless Chromium; without
Chromium, exit code 2 before anything runs, saying how to install it."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from simlib.cli import main

BATCH = """
name: pdf
replications: 2
seed: 1
set: {population.initial_accounts: 100, horizon_months: 6}
scenarios: [{scenario: textbook}]
notebooks: {scenario: [], batch: []}
"""


def _batch(tmp_path: Path) -> Path:
    path = tmp_path / "pdf.yaml"
    path.write_text(textwrap.dedent(BATCH), encoding="utf-8")
    return path


def test_without_chromium_nothing_runs_and_the_message_says_how_to_install_it(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("SIMLIB_CHROMIUM", str(tmp_path / "no-such-chromium"))
    out = tmp_path / "out"
    assert main(["batch", str(_batch(tmp_path)), "-q", "--pdf", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "apt-get install -y chromium" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="no Chromium: apt-get install -y chromium",
)
def test_each_report_gets_a_pdf(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["batch", str(_batch(tmp_path)), "-q", "--pdf", "--out", str(out)]) == 0
    pdf = out / "index.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    assert not list(out.rglob(".*.tmp"))
