"""What ``make demo`` produces, in a real browser (headless Chromium driven by Selenium), opened
from the file system: the demo batch (``data/batches/demo.yaml``, every scenario, question and
report of it, read from the file at test time) run on smaller books, and the calibration report.

Every page is checked for what a reader sees: the Answer section first, no raw floats (long
decimals, scientific notation, NaN), no row numbers, no number in a table signed with a hyphen
instead of the minus sign, no horizontal scrolling at 1,280 pixels, every image decoded and
described (alt text), no console errors, no request leaving the file system; the index's links
resolve, it has one summary row per scenario and one row per question, and every chart's data
named by its alt text is a CSV beside the report, its columns named for what they hold.
Screenshots of the index, a scenario report and the lab report are saved in the test's folder
(with ``SIMLIB_UPDATE_SCREENSHOT=1`` they replace the README's pictures in ``docs/img/``).

Needs Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs them) and the
``selenium`` package (the ``test`` extra); skipped with the reason when one is missing. The demo
batch runs 12 scenario reports, 6 comparisons and the lab (a few minutes): ``slow``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import yaml

import simlib
from simlib.cli import main
from simlib.io import resources

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "batches" / "demo.yaml"
#: The demo batch on smaller books (what changes; every scenario, question, notebook and
#: parameter name stays as demo.yaml has it): 200 accounts over 24 months (13 or more, so GRR
#: and NRR exist), 2 replications, the lab's robustness at 4 settings.
SMALL_BOOK = {"population.initial_accounts": 200, "horizon_months": 24}
SMALL_RUNS = {"replications": 2, "robustness_replications": 2, "samples": 4}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
]


def _browser_paths() -> tuple[str, str]:
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed: pip install -e '.[test]'")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip(
            "no headless browser: run `make browser` (sudo apt-get install -y chromium "
            "chromium-driver fonts-dejavu-core fonts-ipafont-gothic)"
        )
    return chromium, driver


def _resolved(ref: str) -> str:
    """A scenario reference of demo.yaml that still works from another folder."""
    if ref in resources.preset_names():
        return ref
    return str((DEMO.parent / ref).resolve())


def small_demo(path: Path) -> dict[str, Any]:
    """demo.yaml as it is, on smaller books: written to ``path``, returned as read."""
    doc = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    doc["replications"] = min(int(doc.get("replications", 5)), SMALL_RUNS["replications"])
    common = doc.get("set") or {}
    if isinstance(common, list):
        doc["set"] = [*common, *(f"{k}={v}" for k, v in SMALL_BOOK.items())]
    else:
        doc["set"] = {**common, **SMALL_BOOK}
    for entry in doc["scenarios"]:
        target = entry.get("grid", entry)
        target["scenario"] = _resolved(target["scenario"])
    for group in ("scenario", "batch"):
        for nb in (doc.get("notebooks") or {}).get(group, []):
            params = nb.get("parameters", {}) if isinstance(nb, dict) else {}
            if "overrides" in params:
                params["overrides"] = {**params["overrides"], **SMALL_BOOK}
            for key, small in SMALL_RUNS.items():
                if key in params:
                    params[key] = min(params[key], small)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return doc


def _scenario_names(doc: dict[str, Any]) -> list[str]:
    names = []
    for entry in doc["scenarios"]:
        assert "grid" not in entry, "a grid in demo.yaml: name its scenarios here"
        names.append(entry.get("name") or simlib.load_scenario(entry["scenario"]).name)
    return names


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    _browser_paths()
    work = tmp_path_factory.mktemp("browser")
    doc = small_demo(work / "demo.yaml")
    out = work / "reports" / "demo"
    assert main(["batch", str(work / "demo.yaml"), "-q", "--out", str(out)]) == 0
    return out, doc


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory):
    chromium, chromedriver = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium fetch a driver
    options = Options()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    yield browser
    browser.quit()


def _open(driver, page: Path) -> dict:
    """Load a page from the file system and return what it did."""
    driver.get_log("performance")  # drop earlier entries
    driver.get_log("browser")
    driver.get(page.resolve().as_uri())
    driver.execute_script("return document.readyState")
    images = driver.execute_script(
        "return Array.from(document.images).map(i => "
        "({src: i.src.slice(0, 40), complete: i.complete, width: i.naturalWidth}))"
    )
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    console = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    return {"images": images, "requests": requests, "console": console}


#: What a reader should never see: a float printed raw (four or more decimals, scientific
#: notation), NaN or inf.
RAW = re.compile(r"\d\.\d{4,}|\d[eE][-+]\d|\bNaN\b|\bnan\b|\binf\b")
#: A number signed with the hyphen-minus (the tables write the minus sign U+2212).
HYPHEN_NUMBER = re.compile(r"(?<![\w.)/:-])-\d")
#: The page's text without the blocks meant to be copied as they are (a scenario fragment
#: keeps the digits a scenario file needs).
_READ_TEXT = (
    "const kept = Array.from(document.querySelectorAll('.simlib-code'));"
    "kept.forEach(e => { e.dataset.display = e.style.display; e.style.display = 'none'; });"
    "const text = document.body.innerText;"
    "kept.forEach(e => { e.style.display = e.dataset.display; });"
    "return text;"
)


def _check_page(seen: dict, driver) -> str:
    """Every check a page must pass; returns the text a reader sees."""
    assert seen["console"] == [], seen["console"]
    assert seen["images"], "no image on the page"
    bad = [i for i in seen["images"] if not i["complete"] or i["width"] <= 0]
    assert bad == [], bad
    # nothing from the network (the browser's own chrome:// pages are not the network)
    inside = ("file", "data", "blob", "about", "chrome", "chrome-extension", "devtools")
    outside = [u for u in seen["requests"] if urlparse(u).scheme not in inside]
    assert outside == [], outside
    # every image says what it shows
    alts = driver.execute_script("return Array.from(document.images).map(i => i.alt)")
    assert all(a and len(a) > 10 for a in alts), alts
    # what a reader sees: the answer first, no raw floats, no row numbers, no sideways scroll
    headings = driver.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent.trim())"
    )
    assert headings and headings[0].rstrip("¶").strip() == "Answer", headings
    text = driver.execute_script(_READ_TEXT)
    assert not RAW.findall(text), RAW.findall(text)[:5]
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('table.simlib-table td, #summary-table td,"
        " #questions-table td')).map(c => c.textContent)"
    )
    signed = [c for c in cells if HYPHEN_NUMBER.search(c)]
    assert signed == [], signed[:5]
    row_numbers = driver.execute_script(
        "return document.querySelectorAll('table.dataframe, th.row_heading, th.blank').length"
    )
    assert row_numbers == 0
    width = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert width[0] <= width[1], width
    return str(text)


def _chart_files(driver, page: Path) -> list[Path]:
    """The chart data files the page's alt texts name, beside the page."""
    alts = driver.execute_script("return Array.from(document.images).map(i => i.alt)")
    named = {m for a in alts for m in re.findall(r"charts/chart-\d+\.csv", a)}
    return sorted(page.parent / n for n in named)


#: Column names that say nothing of what a column holds.
GENERIC = {"x", "y", "value", "panel series x y"}


def _check_chart_data(files: list[Path]) -> None:
    for path in files:
        assert path.is_file(), path
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        header = rows[0]
        assert len(rows) > 1, path
        assert len(set(header)) == len(header), (path, header)
        assert not GENERIC & {*header, " ".join(header)}, (path, header)
        assert all(re.fullmatch(r"[\w]+", h) for h in header), (path, header)


def _screenshot(driver, tmp_path: Path, name: str) -> Path:
    """The page's top (up to 1,800 pixels) at 1,280 pixels wide, saved in the test's folder;
    with SIMLIB_UPDATE_SCREENSHOT=1 it also replaces the README's picture of that name."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(int(height) + 40, 800), 1800))
    shot = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("SIMLIB_UPDATE_SCREENSHOT") == "1":
        docs = ROOT / "docs" / "img"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, docs / f"{name}.png")
    driver.set_window_size(1280, 1000)
    return shot


@pytest.mark.slow
def test_demo_index_page(driver, demo, tmp_path: Path) -> None:
    out, doc = demo
    index = out / "index.html"
    _check_page(_open(driver, index), driver)
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#summary-table tbody tr'))"
        ".map(r => r.cells[0].textContent)"
    )
    assert rows == _scenario_names(doc)
    questions = driver.execute_script(
        "return Array.from(document.querySelectorAll('#questions-table tbody tr'))"
        ".map(r => r.cells[0].textContent)"
    )
    # one row per variant, each against its own baseline
    assert questions == [q.get("question") or v for q in doc["compare"] for v in q["variants"]]
    hrefs = driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
    )
    assert len(hrefs) >= 2 * len(rows)
    for href in hrefs:
        url = urlparse(href)
        assert url.scheme == "file", href
        target = Path(unquote(url.path))
        assert target.is_file(), href
        assert out.resolve() in target.resolve().parents or target == index.resolve()
    _check_chart_data(_chart_files(driver, index))
    _screenshot(driver, tmp_path, "report-index")


@pytest.mark.slow
def test_every_demo_report_page(driver, demo, tmp_path: Path) -> None:
    out, doc = demo
    scenario_pages = sorted((out / "scenarios").glob("*/*/*.html"))
    batch_pages = sorted((out / "batch").glob("*/*.html"))
    assert len(scenario_pages) == len(doc["scenarios"]) * len(doc["notebooks"]["scenario"])
    assert len(batch_pages) == len(doc["notebooks"]["batch"])
    for page in [*scenario_pages, *batch_pages]:
        text = _check_page(_open(driver, page), driver)
        answer = text[text.index("Answer") :][:2000]
        if page.stem == "scenario_report":
            assert "the book earns" in answer, page  # what the book earns and loses
            assert "reports.headline_display" not in text  # code is hidden
        elif page.stem == "satisfaction_vs_arpu":
            assert "Raising satisfaction by" in answer  # the verdict comes first
            assert not HYPHEN_NUMBER.search(answer.split("1. Dose-response")[0]), answer
        _check_chart_data(_chart_files(driver, page))
    first = out / "scenarios" / scenario_pages[0].parent.parent.name
    _open(driver, next(first.glob("scenario_report/*.html")))
    _screenshot(driver, tmp_path, "report-scenario")
    lab = [p for p in batch_pages if p.stem == "satisfaction_vs_arpu"]
    assert lab, "the demo batch runs the hypothesis lab"
    _open(driver, lab[0])
    _screenshot(driver, tmp_path, "report-lab")


def test_calibration_report_page(driver, tmp_path: Path) -> None:
    """The calibration notebook as a report: its answer first, its tables written for
    people, its charts described and their data beside it."""
    from simlib import reports
    from simlib.batch import ensure_kernel, execute_notebook, notebooks_dir

    executed = tmp_path / "calibration.ipynb"
    params = {"replications": 2, "seed": 4, "output_dir": str(tmp_path), "holdout_periods": 12}
    execute_notebook(
        notebooks_dir() / "calibration.ipynb", executed, params, ensure_kernel(), tmp_path, 300
    )
    page = reports.notebook_to_html(executed, tmp_path / "calibration.html")
    text = _check_page(_open(driver, page), driver)
    answer = text[text.index("Answer") : text.index("1. The data")]
    assert "churns at its first renewal with probability" in answer
    assert "recommended model" in answer and " pp " in answer
    tables = driver.execute_script("return document.querySelectorAll('table.simlib-table').length")
    assert tables >= 5  # data, fit, models, holdout models, gaps, CRM keys
    fragment = driver.execute_script(
        "return Array.from(document.querySelectorAll('.simlib-code')).map(e => e.innerText)"
    )
    assert len(fragment) == 1 and "churn:" in fragment[0]
    files = _chart_files(driver, page)
    assert len(files) >= 4
    _check_chart_data(files)
