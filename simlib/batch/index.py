"""The index page of a batch: every scenario's headline metrics and links to its reports, the
batch-level reports, comparison charts, failures, the batch file and the package versions."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..paths import within, write_text_atomic
from ..reports import (
    HEADLINE_METRICS,
    format_interval,
    format_value,
    headline_table,
    render_index,
)
from .failures import Failure, FailureKind
from .plan import BatchFile, NotebookSource, ScenarioSpec

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
    rows = [
        _scenario_row(out, spec, scen, results.get(spec.name), reports, scen_nbs, failed_names)
        for spec, scen in loaded
    ]
    charts = _charts(results, comparison, failures)
    text = render_index(
        title=batch.title or f"Batch {name}",
        batch_name=name,
        description=batch.description,
        generated=now(),
        replications=batch.replications,
        seed=batch.seed,
        scenarios=rows,
        metrics=HEADLINE_METRICS,
        batch_reports=batch_reports,
        charts=charts,
        failures=failures,
        parameters=yaml.safe_dump(
            batch.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True
        ),
        versions=_versions(),
    )
    return write_text_atomic(out / "index.html", text)


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
    return {"name": spec.name, "ok": ok, "cells": _headline_cells(res, currency), "links": links}


def _headline_cells(res: Any, currency: str) -> list[dict[str, str]]:
    """The headline metrics of one result (mean, interval), or dashes without a result."""
    if res is None:
        return [{"mean": "–", "interval": ""}] * len(HEADLINE_METRICS)
    cells = []
    head = headline_table(res).set_index("metric")
    for m in HEADLINE_METRICS:
        r = head.loc[m]
        cells.append(
            {
                "mean": format_value(r["mean"], m, currency),
                "interval": ""
                if pd.isna(r["half_width"])
                else format_interval(
                    float("nan"), r["ci_low"], r["ci_high"], m, currency
                ).removeprefix("– "),
            }
        )
    return cells


def _charts(
    results: dict[str, Any], comparison: pd.DataFrame, failures: list[Failure]
) -> list[dict[str, str]]:
    """The index charts; a chart that fails is recorded, and must not cost the index."""
    if not results:
        return []
    try:
        return _index_charts(results, comparison)
    except Exception as exc:
        failures.append(Failure.from_exception(FailureKind.INDEX_CHART, "comparison charts", exc))
        return []


def _index_charts(results: dict[str, Any], comparison: pd.DataFrame) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from .. import plots
    from ..reports import figure_data_uri

    summary = pd.concat([r.summary for r in results.values()], ignore_index=True)
    monthly = pd.concat([r.monthly for r in results.values()], ignore_index=True)
    charts = [
        {
            "title": "Headline metrics by scenario",
            "uri": figure_data_uri(
                plots.metric_bars(
                    summary, ("ltv_mean", "logo_churn_monthly", "arpa_end", "net_value")
                )
            ),
        },
        {"title": "MRR by scenario", "uri": figure_data_uri(plots.overlaid_mrr(monthly))},
    ]
    if len(results) > 1 and not comparison.empty:
        charts.append(
            {
                "title": "Paired differences against the baseline",
                "uri": figure_data_uri(
                    plots.forest_plot(
                        comparison, ("ltv_mean", "logo_churn_monthly", "arpa_end", "net_value")
                    )
                ),
            }
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
