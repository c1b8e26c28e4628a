"""The index page of a batch: the answer first (the batch's questions, each variant against its
own baseline), then every scenario's headline metrics and links to its reports, the batch-level
reports, comparison charts (each with its data as a CSV beside the page), failures (the error
message; the traceback stays in ``run.json``), the batch file and the package versions."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .. import report_tables as rt
from ..paths import within, write_text_atomic
from ..reports import headline_metrics, headline_table, render_index
from .failures import Failure, FailureKind
from .plan import BatchFile, NotebookSource, ScenarioSpec
from .questions import answer_questions, paired_with_first

__all__ = ["Report", "now", "report_links", "write_index"]


def now() -> str:
    """The time stamp of the index page and of ``run.json``: UTC, to the second."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Report:
    """A notebook run for a scenario: its executed notebook, its HTML report, whether it ran
    and rendered without error."""

    ipynb: Path
    html: Path
    ok: bool


def report_links(out: Path, ipynb: Path, html: Path) -> list[dict[str, str]]:
    """Links (relative to the batch folder ``out``) to the report and the notebook that exist."""
    links = []
    if html.exists():
        links.append({"href": html.relative_to(out).as_posix(), "text": "report"})
    if ipynb.exists():
        links.append({"href": ipynb.relative_to(out).as_posix(), "text": "notebook"})
    return links


def write_index(
    out: Path,
    batch: BatchFile,
    name: str,
    loaded: list[tuple[ScenarioSpec, Any]],
    results: dict[str, Any],
    reports: dict[tuple[str, str], Report],
    scen_nbs: list[NotebookSource],
    batch_reports: list[dict[str, Any]],
    comparison: pd.DataFrame,
    failures: list[Failure],
) -> Path:
    """Write ``out/index.html``. A failure drawing the charts is appended to ``failures`` (and
    listed on the page, which is written without them)."""
    failed_names = {f.name for f in failures if f.kind == FailureKind.SCENARIO}
    notes: list[str] = []
    rows = [
        _scenario_row(out, spec, scen, results.get(spec.name), reports, scen_nbs, failed_names)
        for spec, scen in loaded
    ]
    for row in rows:
        row["cells"] = _headline_cells(row.pop("result"), row.pop("currency"), notes)
    questions, pairs = answer_questions(
        batch, results, {r["name"]: [x for x in r["links"] if x["text"] == "report"] for r in rows}
    )
    _link_comparisons(questions, batch, batch_reports)
    if not pairs.empty:
        _write_csv(out / "results" / "questions.csv", pairs)
    same = paired_with_first(loaded, [s.name for s, _ in loaded if s.name in results])
    paired = pairs if batch.compare else comparison[comparison["scenario"].isin(same)]
    charts = _charts(out, results, paired, failures)
    text = render_index(
        title=rt.clean_text(batch.title or f"Batch {name}"),
        batch_name=rt.clean_text(name),
        description=rt.clean_text(batch.description),
        generated=now(),
        replications=batch.replications,
        seed=batch.seed,
        scenarios=rows,
        metrics=headline_metrics(),
        batch_reports=batch_reports,
        charts=charts,
        failures=[_shown_failure(f, out) for f in failures],
        parameters=yaml.safe_dump(
            batch.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True
        ),
        versions=_versions(),
        questions=questions,
        notes=notes,
        unpaired=[s.name for s, _ in loaded if s.name in results and s.name not in same],
    )
    return write_text_atomic(out / "index.html", text)


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\\/\s:'\"]+)+[\\/]([^\\/\s:'\"]+)")


def _shown_failure(f: Failure, out: Path) -> dict[str, Any]:
    """A failure as the page shows it: the error message without this machine's folders (a
    path is shown by its file name), no traceback (that stays in ``run.json``)."""
    error = _message(f).replace(str(out) + "/", "")
    return {
        "kind": str(f.kind),
        "name": rt.clean_text(f.name),
        "error": rt.clean_text(_PATH.sub(r"\1", error)),
        "links": list(f.links),
    }


_LAST_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*): ", re.M)


def _message(f: Failure) -> str:
    """The failure's whole error message (a user error's lines name the key and what is
    allowed), read from the end of its traceback; a notebook's stays its one line."""
    starts = list(_LAST_EXCEPTION.finditer(f.detail or ""))
    if not starts or "Papermill" in starts[-1].group(1):
        return str(f.error)
    kind = starts[-1].group(1).rsplit(".", 1)[-1]
    text = f"{kind}: {f.detail[starts[-1].end() :].rstrip()}"
    return text[:1500]


def _link_comparisons(
    questions: list[dict[str, Any]], batch: BatchFile, batch_reports: list[dict[str, Any]]
) -> None:
    """Put first in each question's links the batch report comparing its baseline and variant
    (a batch notebook given ``scenario_names: [baseline, variant]``, or else one given the
    baseline first and the variant among the others), when there is one."""
    found: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for ref, report in zip(batch.notebooks.batch, batch_reports, strict=False):
        names = getattr(ref, "parameters", {}).get("scenario_names")
        if isinstance(names, list):
            links = [x for x in report.get("links", []) if x["text"] == "report"]
            found[tuple(str(n) for n in names)] = [{**x, "text": "comparison"} for x in links]
    for q in questions:
        exact = found.get((q["baseline"], q["variant"]))
        wider = [v for k, v in found.items() if k[:1] == (q["baseline"],) and q["variant"] in k]
        q["links"] = [*(exact or (wider[0] if wider else [])), *q["links"]]


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, frame.to_csv(index=False))


def _scenario_row(
    out: Path,
    spec: ScenarioSpec,
    scen: Any,
    res: Any,
    reports: dict[tuple[str, str], Report],
    scen_nbs: list[NotebookSource],
    failed_names: set[str],
) -> dict[str, Any]:
    """One scenario's row: headline metrics with intervals, links, ok or failed."""
    currency = scen.economics.currency if scen is not None else "USD"
    links = []
    for nb_name, _, _ in scen_nbs:
        st = reports.get((spec.name, nb_name))
        if st is None:
            continue
        for link in report_links(out, st.ipynb, st.html):
            text = link["text"] if len(scen_nbs) == 1 else f"{nb_name} {link['text']}"
            links.append({"href": link["href"], "text": text})
    if res is not None:
        summary = within(out, "results", spec.name) / "summary.csv"
        links.append({"href": summary.relative_to(out).as_posix(), "text": "summary.csv"})
    ok = (
        res is not None
        and spec.name not in failed_names
        and all(st.ok for (n, _), st in reports.items() if n == spec.name)
    )
    return {
        "name": rt.clean_text(spec.name),
        "ok": ok,
        "result": res,
        "currency": currency,
        "links": links,
    }


def _headline_cells(res: Any, currency: str, notes: list[str]) -> list[dict[str, str]]:
    """The headline metrics of one result (value, interval, footnote of a missing value), or
    dashes without a result. ``notes``: the page's footnotes, extended."""
    if res is None:
        return [{"mean": rt.DASH, "interval": "", "note": ""}] * len(headline_metrics())
    cells = []
    head = headline_table(res).set_index("metric")
    for m in headline_metrics():
        r = head.loc[m]
        unit = rt.figure_unit(m)
        note = ""
        if pd.isna(r["mean"]):
            reason = rt.missing_reason(m, res.scenario.horizon_months)
            if reason not in notes:
                notes.append(reason)
            note = str(notes.index(reason) + 1)
        full = rt.format_interval(r["mean"], r["ci_low"], r["ci_high"], unit, currency)
        mean = rt.format_number(r["mean"], unit, currency)
        interval = full[len(mean) :].strip() if full.startswith(mean) else ""
        cells.append({"mean": mean, "interval": interval, "note": note})
    return cells


_BARS = ("ltv_mean", "logo_churn_monthly", "arpa_end", "net_value")


def _charts(
    out: Path, results: dict[str, Any], comparison: pd.DataFrame, failures: list[Failure]
) -> list[dict[str, str]]:
    """The index charts (title, image, alt text, link to the chart's data as CSV in
    ``out/charts/``); a chart that fails is recorded, and must not cost the index."""
    if not results:
        return []
    try:
        return _index_charts(out, results, comparison)
    except Exception as exc:
        failures.append(Failure.from_exception(FailureKind.INDEX_CHART, "comparison charts", exc))
        return []


def _chart(out: Path, title: str, fig: Any, data: pd.DataFrame, stem: str, alt: str) -> dict:
    from ..reports import figure_data_uri

    csv = out / "charts" / f"{stem}.csv"
    _write_csv(csv, data)
    href = csv.relative_to(out).as_posix()
    return {
        "title": title,
        "uri": figure_data_uri(fig),
        "alt": f"{alt} The chart's data: {href}.",
        "csv": href,
    }


def _index_charts(
    out: Path, results: dict[str, Any], comparison: pd.DataFrame
) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from .. import plots

    summary = pd.concat([r.summary for r in results.values()], ignore_index=True)
    monthly = pd.concat([r.monthly for r in results.values()], ignore_index=True)
    labels = ", ".join(rt.figure_label(m) for m in _BARS)
    mrr = (
        monthly.groupby(["scenario", "month"], observed=True, sort=False)["mrr"]
        .mean()
        .reset_index()
        .rename(columns={"mrr": "mrr_mean"})
    )
    charts = [
        _chart(
            out,
            "Headline metrics by scenario",
            plots.metric_bars(summary, _BARS),
            summary[["scenario", "replication", *_BARS]],
            "headline_metrics",
            f"Bar charts, one per figure ({labels}), one bar per scenario: means across "
            "replications with 95 % intervals.",
        ),
        _chart(
            out,
            "MRR by scenario",
            plots.overlaid_mrr(monthly),
            mrr,
            "mrr_by_scenario",
            "Line chart of MRR (currency per month) against the month, one line per scenario, "
            "with 95 % bands across replications.",
        ),
    ]
    if not comparison.empty:
        cols = [c for c in ("scenario", "baseline", "metric") if c in comparison.columns]
        rest = ["difference", "paired_ci_low", "paired_ci_high"]
        charts.append(
            _chart(
                out,
                "Paired differences against the baseline",
                plots.forest_plot(comparison, _BARS),
                comparison[comparison["metric"].isin(_BARS)][[*cols, *rest]],
                "paired_differences",
                f"Forest plot, one panel per figure ({labels}): each scenario's paired "
                "difference from its baseline (same book, same seed) with its 95 % interval.",
            )
        )
    return charts


def _versions() -> dict[str, str]:
    from importlib import metadata

    from ..results import package_versions

    out = package_versions()
    for name in ("papermill", "nbconvert", "matplotlib", "seaborn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
