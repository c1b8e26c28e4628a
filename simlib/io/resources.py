"""The kit's own data files, found through :mod:`importlib.resources`.

The presets (``simlib/data/scenarios/*.yaml``), the batch files (``simlib/data/batches/*.yaml``)
and the notebooks (``simlib/data/notebooks/*.ipynb``) ship inside the package, so an ordinary
(non-editable) install from a wheel finds them as well as a checkout does. In the repository
``data/scenarios``, ``data/batches`` and ``notebooks`` are relative links to these folders, so
the paths the README and CONTRACT.md give keep working.

Callers get real folders (:class:`pathlib.Path`): scenarios refer to each other by path
(``extends``) and papermill reads notebooks by path. Where the package is imported from a zip
archive, the folder is copied out once per process into a temporary folder.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = [
    "batch_dir",
    "batch_names",
    "data_dir",
    "notebook_names",
    "notebooks_dir",
    "preset_dir",
    "preset_names",
]

#: The folders of package data under ``simlib/data``, by kind, with the suffix of their files.
KINDS = {"scenarios": ".yaml", "batches": ".yaml", "notebooks": ".ipynb"}


def _copy_out(node: Traversable, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for child in node.iterdir():
        if child.is_dir():
            _copy_out(child, dest / child.name)
        else:
            (dest / child.name).write_bytes(child.read_bytes())


@functools.cache
def data_dir(kind: str) -> Path:
    """The folder of one kind of package data: ``scenarios``, ``batches`` or ``notebooks``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of package data {kind!r}; known: {', '.join(KINDS)}")
    node = resources.files("simlib").joinpath("data", kind)
    if isinstance(node, Path):
        return node.resolve()
    tmp = Path(tempfile.mkdtemp(prefix=f"simlib-{kind}-"))  # a zipped package: copy it out
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    _copy_out(node, tmp / kind)
    return tmp / kind


def _names(kind: str) -> list[str]:
    suffix = KINDS[kind]
    return sorted(p.stem for p in data_dir(kind).iterdir() if p.suffix == suffix and p.is_file())


def preset_dir() -> Path:
    """Folder of the preset scenarios (``simlib/data/scenarios``; ``data/scenarios`` in the repo)."""
    return data_dir("scenarios")


def preset_names() -> list[str]:
    """Names of the preset scenarios (file names without ``.yaml``), sorted."""
    return _names("scenarios")


def batch_dir() -> Path:
    """Folder of the kit's batch files (``simlib/data/batches``; ``data/batches`` in the repo)."""
    return data_dir("batches")


def batch_names() -> list[str]:
    """Names of the kit's batch files (``demo``, ``ci``, ...), sorted."""
    return _names("batches")


def notebooks_dir() -> Path:
    """Folder of the kit's notebooks (``simlib/data/notebooks``; ``notebooks`` in the repo)."""
    return data_dir("notebooks")


def notebook_names() -> list[str]:
    """Names of the kit's notebooks (file names without ``.ipynb``), sorted."""
    return _names("notebooks")
