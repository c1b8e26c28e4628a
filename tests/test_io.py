"""simlib.io: CSV tables with line numbers, atomic writes, package data; and what io and
calibration may import (nothing above them, not even inside a function)."""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlib.paths
from simlib.errors import DataError, UserInputError
from simlib.io import atomic, resources
from simlib.io import csv as iocsv

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# CSV


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_csv_keeps_line_numbers_across_chunks(tmp_path, monkeypatch):
    rows = "".join(f" {i} ,x{i}\n" + ("\n" if i % 4 == 0 else "") for i in range(10))
    path = _write(tmp_path, "n,label\n" + rows)
    whole = iocsv.read_csv(path)
    monkeypatch.setattr(iocsv, "_CHUNK_ROWS", 3)
    chunked = iocsv.read_csv(path)
    for table in (whole, chunked):
        assert table.header == ["n", "label"] and len(table) == 10
        assert iocsv.parse_numbers(table, "n").tolist() == list(range(10))
        assert table.cell(9, "label") == "x9"
    assert whole.lines.tolist() == chunked.lines.tolist()
    assert whole.where(5) == "line 9 (data row 6)"  # blank lines counted as lines, not rows


def test_bad_cells_are_named_by_file_line_row_and_column(tmp_path):
    table = iocsv.read_csv(_write(tmp_path, "count,group\n1,a\n2.5,b\n"))
    with pytest.raises(DataError, match=r"t\.csv: line 3 \(data row 2\): column 'count': must be"):
        iocsv.parse_whole(table, "count", "a count")
    blank = iocsv.read_csv(_write(tmp_path, "g,x\na,1\n ,2\n", "b.csv"))
    with pytest.raises(DataError, match=r"b\.csv: line 3 \(data row 2\): column 'g': empty"):
        iocsv.labels(blank, "g")
    with pytest.raises(DataError, match=r"c\.csv: line 2 \(data row 1\): has 3 cell\(s\)"):
        iocsv.read_csv(_write(tmp_path, "a,b\n1,2,3\n", "c.csv"))


def test_frames_and_tables_share_the_parsers():
    frame = pd.DataFrame({"x": [1.0, None, 3.0], "g": ["b", "a", "b"]})
    table = iocsv.as_table(frame, "columns x, g")
    assert np.isnan(iocsv.parse_numbers(table, "x", blank=True)[1])
    with pytest.raises(DataError, match=r"<table>: data row 2: column 'x': empty cell"):
        iocsv.parse_numbers(table, "x")
    groups = iocsv.group_rows(iocsv.labels(table, "g"))
    assert [(name, rows.tolist()) for name, rows in groups] == [("b", [0, 2]), ("a", [1])]
    with pytest.raises(DataError, match="no data rows"):
        iocsv.as_table(frame.iloc[:0], "")


# --------------------------------------------------------------------------------------------
# Atomic writes


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_text_atomic_replaces_whole_and_paths_reexports_it(tmp_path):
    assert simlib.paths.write_text_atomic is atomic.write_text_atomic
    dest = tmp_path / "sub" / "out.json"
    atomic.write_text_atomic(dest, "one")
    atomic.write_text_atomic(dest, "two")
    assert dest.read_text() == "two" and _leftovers(dest.parent) == []
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserInputError, match="cannot write there"):
        atomic.write_text_atomic(blocker / "x.txt", "no")


def test_atomic_file_keeps_the_old_file_on_error_and_the_suffix_for_writers(tmp_path):
    dest = tmp_path / "table.csv"
    dest.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_file(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert dest.read_text() == "old" and _leftovers(tmp_path) == []
    with atomic.atomic_file(dest) as tmp:
        assert tmp.suffix == ".csv" and tmp.parent == tmp_path
        pd.DataFrame({"a": [1]}).to_csv(tmp, index=False)
    assert pd.read_csv(dest)["a"].tolist() == [1] and _leftovers(tmp_path) == []


def test_atomic_new_folder_appears_whole_and_the_first_writer_wins(tmp_path):
    dest = tmp_path / "entry"
    with atomic.atomic_new_folder(dest) as tmp:
        (tmp / "a.txt").write_text("first")
        assert not dest.exists()
    with atomic.atomic_new_folder(dest) as tmp:
        (tmp / "a.txt").write_text("second")
    assert (dest / "a.txt").read_text() == "first" and _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError), atomic.atomic_new_folder(tmp_path / "other") as tmp:
        raise RuntimeError("failed")
    assert not (tmp_path / "other").exists() and _leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Package data


def test_package_data_lists_presets_batches_and_notebooks():
    assert "textbook" in resources.preset_names() and "b2b_saas" in resources.preset_names()
    assert {"demo", "ci"} <= set(resources.batch_names())
    assert "scenario_report" in resources.notebook_names()
    assert resources.preset_dir() == (ROOT / "simlib" / "data" / "scenarios").resolve()
    with pytest.raises(ValueError, match="unknown kind"):
        resources.data_dir("secrets")


def test_a_zipped_package_has_its_data_copied_out(tmp_path, monkeypatch):
    archive = tmp_path / "simlib.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("simlib/data/scenarios/tiny.yaml", "name: tiny\n")
        zf.writestr("simlib/data/scenarios/more/deeper.yaml", "name: deeper\n")
    monkeypatch.setattr(
        resources.resources, "files", lambda package: zipfile.Path(archive, "simlib/")
    )
    resources.data_dir.cache_clear()
    try:
        folder = resources.data_dir("scenarios")
        assert resources.preset_names() == ["tiny"]
        assert (folder / "more" / "deeper.yaml").read_text() == "name: deeper\n"
    finally:
        resources.data_dir.cache_clear()


# --------------------------------------------------------------------------------------------
# Nothing low imports anything high


def _imports(path: Path, package: str) -> list[str]:
    """Absolute names of every module ``path`` imports, at the top and inside functions."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out += [name] + [f"{name}.{a.name}" for a in node.names]
    return [n for n in out if n == "simlib" or n.startswith("simlib.")]


@pytest.mark.parametrize(
    ("folder", "allowed"),
    [
        ("io", ("simlib.errors", "simlib.io")),
        (
            "calibration",
            (
                "simlib.errors",
                "simlib.io",
                "simlib.calibration",
                "simlib.survival",
                "simlib.scenario",
            ),
        ),
    ],
)
def test_io_and_calibration_import_nothing_above_them(folder, allowed):
    bad = []
    for path in sorted((ROOT / "simlib" / folder).glob("*.py")):
        for name in _imports(path, f"simlib.{folder}.{path.stem}"):
            if not any(name == a or name.startswith(a + ".") for a in allowed):
                bad.append(f"{path.name}: {name}")
    assert bad == []
