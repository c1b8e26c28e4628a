"""The batch's HTML reports in a real browser (headless Chromium driven by Selenium), opened
from the file system, checked for what a reader sees: the Answer section first, no raw floats
(long decimals, scientific notation, NaN), no row numbers, no horizontal scrolling at 1,280
pixels, every image decoded and described (alt text), no console errors, no request leaving
the file system, every link of the index resolving, one summary row per scenario. Screenshots
of the index, a scenario report and the lab report are saved in the test's folder (with
``SIMLIB_UPDATE_SCREENSHOT=1`` they replace the README's pictures in ``docs/img/``).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and the
``selenium`` package (the ``test`` extra); skipped with the reason when one is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from simlib.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["b2b_saas", "b2b_saas, stronger satisfaction link", "textbook"]
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


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _browser_paths()
    work = tmp_path_factory.mktemp("browser")
    batch = work / "browser.yaml"
    batch.write_text(
        textwrap.dedent(
            f"""
            name: browser
            title: "Example batch: B2B SaaS and textbook books"
            replications: 3
            seed: 2
            set: {{population.initial_accounts: 300, horizon_months: 24}}
            scenarios:
              - scenario: b2b_saas
              - name: {SCENARIOS[1]}
                scenario: b2b_saas
                set: {{churn.satisfaction_effect: 4.0}}
              - scenario: textbook
            compare:
              - question: Does a stronger satisfaction link pay?
                baseline: b2b_saas
                variants: ["{SCENARIOS[1]}"]
            notebooks:
              scenario: [scenario_report]
              batch:
                - notebook: satisfaction_vs_arpu
                  parameters:
                    dose: 0.1
                    doses: [0.1]
                    conditions: ["B2B, no gates"]
                    churn_betas: [20, 99]
                    replications: 2
            """
        ),
        encoding="utf-8",
    )
    out = work / "reports" / "browser"
    assert main(["batch", str(batch), "-q", "--out", str(out)]) == 0
    return out


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


def _check_page(seen: dict, driver) -> None:
    assert seen["console"] == [], seen["console"]
    assert seen["images"], "no image on the page"
    bad = [i for i in seen["images"] if not i["complete"] or i["width"] <= 0]
    assert bad == [], bad
    outside = [u for u in seen["requests"] if not u.startswith(("file://", "data:"))]
    assert outside == [], outside
    # every image says what it shows
    alts = driver.execute_script("return Array.from(document.images).map(i => i.alt)")
    assert all(a and len(a) > 10 for a in alts), alts
    # what a reader sees: the answer first, no raw floats, no row numbers, no sideways scroll
    headings = driver.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent.trim())"
    )
    assert headings and headings[0].rstrip("¶").strip() == "Answer", headings
    text = driver.execute_script("return document.body.innerText")
    assert not RAW.findall(text), RAW.findall(text)[:5]
    row_numbers = driver.execute_script(
        "return document.querySelectorAll('table.dataframe, th.row_heading, th.blank').length"
    )
    assert row_numbers == 0
    width = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert width[0] <= width[1], width


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


def test_index_page(driver, batch_dir: Path, tmp_path: Path) -> None:
    index = batch_dir / "index.html"
    seen = _open(driver, index)
    _check_page(seen, driver)
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#summary-table tbody tr'))"
        ".map(r => r.cells[0].textContent)"
    )
    assert rows == SCENARIOS
    hrefs = driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
    )
    assert len(hrefs) >= 2 * len(SCENARIOS)
    for href in hrefs:
        url = urlparse(href)
        assert url.scheme == "file", href
        target = Path(unquote(url.path))
        assert target.is_file(), href
        assert batch_dir.resolve() in target.resolve().parents or target == index.resolve()

    questions = driver.execute_script(
        "return Array.from(document.querySelectorAll('#questions-table tbody tr'))"
        ".map(r => r.cells[0].textContent)"
    )
    assert questions == ["Does a stronger satisfaction link pay?"]
    _screenshot(driver, tmp_path, "report-index")


def test_scenario_report_page(driver, batch_dir: Path, tmp_path: Path) -> None:
    page = batch_dir / "scenarios" / "b2b_saas" / "scenario_report" / "scenario_report.html"
    seen = _open(driver, page)
    _check_page(seen, driver)
    assert len(seen["images"]) >= 7  # every chart of the report
    text = driver.execute_script("return document.body.innerText")
    assert "Headline figures" in text and "LTV per account" in text
    assert "the book earns" in text  # the answer: what the book earns and loses
    # code is hidden by default
    assert "reports.headline_display" not in text
    _screenshot(driver, tmp_path, "report-scenario")


def test_lab_report_page(driver, batch_dir: Path, tmp_path: Path) -> None:
    page = batch_dir / "batch" / "satisfaction_vs_arpu" / "satisfaction_vs_arpu.html"
    seen = _open(driver, page)
    _check_page(seen, driver)
    text = driver.execute_script("return document.body.innerText")
    answer = text[text.index("Answer") : text.index("1. Dose-response")]
    assert "Raising satisfaction by 0.1" in answer  # the verdict comes first
    _screenshot(driver, tmp_path, "report-lab")
