"""PDF copies of a batch's HTML reports (``simlib batch --pdf``), printed by headless Chromium.

Each ``.html`` report of the batch folder (the index page included) gets a ``.pdf`` beside it,
printed from the file system by a headless Chromium with a fresh profile, no network
services, no GPU (:data:`FLAGS`), written under a temporary name and renamed into place.
Without Chromium, :func:`find_chromium` raises :class:`NoChromiumError` (a user error, exit code 2)
saying how to install it, and the batch does not start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import UserInputError

__all__ = ["FLAGS", "NoChromiumError", "find_chromium", "print_pdf", "print_reports"]

#: Command-line flags of every print: headless, no sandbox (containers), no GPU, no first-run
#: dialogs, no background network services, no component updates, no sync.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
)

INSTALL = (
    "install Chromium to print PDFs: on Debian or Ubuntu `sudo apt-get install -y chromium` "
    "(with fonts: fonts-dejavu-core fonts-ipafont-gothic), on macOS `brew install --cask "
    "chromium`; or point SIMLIB_CHROMIUM at a Chromium or Chrome executable"
)


class NoChromiumError(UserInputError):
    """``--pdf`` was asked for and no Chromium is installed (exit code 2)."""


def find_chromium() -> str:
    """The Chromium (or Chrome) executable: ``$SIMLIB_CHROMIUM``, else the first of
    ``chromium``, ``chromium-browser``, ``google-chrome`` on the PATH."""
    given = os.environ.get("SIMLIB_CHROMIUM")
    if given:
        if shutil.which(given):
            return str(shutil.which(given))
        raise NoChromiumError(f"SIMLIB_CHROMIUM={given}: no such executable; {INSTALL}")
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise NoChromiumError(f"simlib batch --pdf: no Chromium found; {INSTALL}")


def print_pdf(html: Path, pdf: Path, chromium: str, timeout: float = 180.0) -> Path:
    """Print ``html`` to ``pdf`` (atomically) with headless ``chromium``; RuntimeError naming
    the report when Chromium fails or writes nothing."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf.with_name(f".{pdf.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="simlib-chromium-") as profile:
        cmd = [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={tmp}",
            html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"{html.name}: Chromium did not print it in {timeout:g} s") from None
    if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        last = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:]
        raise RuntimeError(f"{html.name}: Chromium could not print it ({' '.join(last)})")
    os.replace(tmp, pdf)
    return pdf


def print_reports(out: Path, chromium: str) -> tuple[list[Path], list[str]]:
    """A PDF beside every HTML report of the batch folder ``out``: (PDFs written, errors)."""
    written, errors = [], []
    pages = sorted(p for p in out.rglob("*.html") if not p.name.startswith("."))
    for page in pages:
        try:
            written.append(print_pdf(page, page.with_suffix(".pdf"), chromium))
        except RuntimeError as exc:
            errors.append(str(exc))
    return written, errors
