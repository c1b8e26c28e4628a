"""A batch's questions (``compare:``): each variant against its own baseline on the same book,
the index opening with the answers; pairs across different books refused with the reason; the
failures table without tracebacks or local paths; no control characters on any page."""

from __future__ import annotations

import csv
import html
import re
import textwrap
from pathlib import Path

import pytest

import simlib
from simlib.batch import load_batch
from simlib.batch.plan import BatchError
from simlib.batch.questions import book_difference, check_compare
from simlib.cli import main
from simlib.compare import comparison_table
from simlib.reports import as_overrides, effect_text

SMALL = {"population.initial_accounts": 150, "horizon_months": 10}


def _load(name: str, **extra: object) -> simlib.Scenario:
    return simlib.load_scenario(name, as_overrides({**SMALL, **extra}))


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_books_are_the_same_only_with_the_same_customers_horizon_and_currency() -> None:
    friction = _load("b2b_approval_friction")
    none = _load("b2b_no_friction")
    assert book_difference(friction, none) is None
    textbook = _load("textbook")
    assert "population" in book_difference(none, textbook)
    longer = _load("b2b_no_friction", horizon_months=11)
    assert book_difference(none, longer) == "horizon_months: 10 against 11"


def _loaded(*names: str) -> list:
    from simlib.batch.plan import ScenarioSpec

    return [(ScenarioSpec(n, n, []), _load(n)) for n in names]


@pytest.mark.parametrize(
    ("compare", "words"),
    [
        (
            "[{baseline: b2b_no_friction, variants: [textbook]}]",
            "compare[0].variants[0]: 'textbook' is not on the book of 'b2b_no_friction'",
        ),
        (
            "[{baseline: b2b_no_friction, variants: [nothing]}]",
            "compare[0].variants[0]: no scenario named 'nothing'",
        ),
        (
            "[{baseline: b2b_no_friction, variants: [textbook], figure: ltv}]",
            "compare[0].figure: unknown figure 'ltv'",
        ),
    ],
)
def test_questions_are_checked_before_anything_runs(
    tmp_path: Path, compare: str, words: str, capsys
) -> None:
    batch = _write(
        tmp_path / "q.yaml",
        f"""
        scenarios: [{{scenario: b2b_no_friction}}, {{scenario: textbook}}]
        compare: {compare}
        """,
    )
    with pytest.raises(BatchError, match=re.escape(words)):
        check_compare(batch, load_batch(batch), _loaded("b2b_no_friction", "textbook"))
    out = tmp_path / "out"
    assert main(["batch", str(batch), "-q", "--out", str(out)]) == 2
    assert words in capsys.readouterr().err
    assert not (out / "index.html").exists()


def test_old_batch_files_stay_valid() -> None:
    from simlib.io.resources import batch_dir

    assert load_batch(batch_dir() / "ci.yaml").compare == []  # no questions: still valid
    demo = load_batch(batch_dir() / "demo.yaml")
    assert [len(q.variants) for q in demo.compare] == [1, 1, 1, 1, 1, 1, 2]  # + CSM headcount


@pytest.mark.slow
def test_the_index_opens_with_the_answers(tmp_path: Path) -> None:
    batch = _write(
        tmp_path / "questions.yaml",
        """
        name: questions
        replications: 3
        seed: 5
        set: {population.initial_accounts: 150, horizon_months: 10}
        scenarios:
          - scenario: b2b_no_friction
          - scenario: b2b_approval_friction
          - name: "bro\\0ken\\u0007"
            scenario: no_such_preset
        compare:
          - question: Do approvals cost value?
            baseline: b2b_no_friction
            variants: [b2b_approval_friction]
        notebooks: {scenario: [], batch: []}
        """,
    )
    out = tmp_path / "out"
    assert main(["batch", str(batch), "-q", "--out", str(out)]) == 1  # the broken scenario
    index = (out / "index.html").read_text(encoding="utf-8")
    # the Answer comes first, with the question's paired effect computed as compare does
    assert index.index('id="answer"') < index.index('id="summary"')
    base = simlib.simulate(_load("b2b_no_friction"), replications=3, seed=5)
    alt = simlib.simulate(_load("b2b_approval_friction"), replications=3, seed=5)
    table = comparison_table([base, alt], ["net_value"])
    row = next(table[table["scenario"] == "b2b_approval_friction"].itertuples())
    effect = effect_text(row)
    assert "Do approvals cost value?" in index and effect in index
    with (out / "results" / "questions.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["metric"] == "net_value"]
    assert float(rows[0]["difference"]) == pytest.approx(row.difference, rel=1e-12)
    # GRR/NRR do not exist on a 10-month horizon: a dash and the reason, never NaN
    assert "13 months or more" in index and not re.search(r"\bnan\b", index, re.IGNORECASE)
    # the failure shows its message, no traceback, no folder of this machine
    failures = index[index.index('id="failures"') :]
    assert "no_such_preset" in failures
    assert "Traceback" not in index and str(tmp_path) not in index
    # no control character on any page
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text), page
    # each chart has alt text and its data beside the page
    alts = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', index)
    assert alts and all("The chart's data: charts/" in html.unescape(a) for a in alts)
    for href in re.findall(r'href="(charts/[^"]+\.csv)"', index):
        assert (out / href).is_file()


def test_a_question_links_the_comparison_report_that_holds_its_pair() -> None:
    from types import SimpleNamespace

    from simlib.batch.index import _link_comparisons

    def ref(names: list[str]) -> SimpleNamespace:
        return SimpleNamespace(parameters={"scenario_names": names})

    batch = SimpleNamespace(
        notebooks=SimpleNamespace(batch=[ref(["a", "b"]), ref(["c", "d", "e"]), ref(["d", "c"])])
    )
    reports = [{"links": [{"text": "report", "href": f"r{i}.html"}]} for i in range(3)]
    questions = [
        {"baseline": "a", "variant": "b", "links": []},
        {"baseline": "c", "variant": "e", "links": []},  # a three-way report, baseline first
        {"baseline": "e", "variant": "c", "links": []},  # no report starts with e: none
    ]
    _link_comparisons(questions, batch, reports)  # type: ignore[arg-type]
    assert [q["links"] for q in questions] == [
        [{"text": "comparison", "href": "r0.html"}],
        [{"text": "comparison", "href": "r1.html"}],
        [],
    ]
