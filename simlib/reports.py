"""Shareable reports: headline figures with intervals, offline HTML of notebooks, the batch index.

Everything written here opens from the file system with no network: notebook HTML is rendered by
nbconvert's ``lab`` template with every CDN script (require.js, MathJax, Mermaid, widgets)
dropped, images are embedded as ``data:`` URIs, and the index page carries its own CSS. Names
given by users (scenario names, batch titles) are HTML-escaped on every page (Jinja2 autoescape);
file names come from :func:`simlib.paths.safe_name`. Files are written atomically (temporary
file, then rename).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import report_tables
from .compare import COMPARISON_COLUMNS
from .formatting import format_percent
from .formatting import is_finite as _finite
from .metrics import METRICS as REGISTERED_METRICS
from .metrics import metric_label, metric_view
from .paths import write_text_atomic
from .run_options import as_overrides
from .stats import mean_ci

if TYPE_CHECKING:
    from .results import SimulationResult

__all__ = [
    "COMPARISON_COLUMNS",
    "HEADLINE_METRICS",
    "METRICS",
    "as_overrides",
    "comparison_from_results",
    "concat_tables",
    "external_references",
    "figure_data_uri",
    "format_interval",
    "format_value",
    "headline_metrics",
    "headline_table",
    "metric_label",
    "notebook_to_html",
    "render_index",
]

#: Label and unit of every registered figure, by name (a read-only view of
#: :data:`simlib.metrics.METRICS`, kept for scripts that look units up here).
METRICS: dict[str, dict[str, str]] = {
    m.name: {"label": m.label, "unit": m.unit} for m in REGISTERED_METRICS.values()
}

#: The figures of a scenario's headline table, in order: the registry's ``headline`` view.
HEADLINE_METRICS = metric_view("headline")


def headline_metrics() -> tuple[str, ...]:
    """The headline figures, read from the registry at call time."""
    return metric_view("headline")


def format_value(value: float, metric: str, currency: str = "USD") -> str:
    """A figure as text with its unit: ``12,345 USD``, ``2.15 %``, ``0.57`` (a dash when it
    does not exist); :func:`simlib.report_tables.format_number` with the figure's unit."""
    return report_tables.format_number(value, report_tables.figure_unit(metric), currency)


def format_interval(
    mean: float, low: float, high: float, metric: str, currency: str = "USD"
) -> str:
    """``1,266 USD [941 to 1,591]`` (the interval left out when it is undefined)."""
    unit = report_tables.figure_unit(metric)
    return report_tables.format_interval(mean, low, high, unit, currency)


def _summary_of(source: SimulationResult | pd.DataFrame) -> pd.DataFrame:
    return source if isinstance(source, pd.DataFrame) else source.summary


def headline_table(
    source: SimulationResult | pd.DataFrame,
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean and Student-t interval across replications of each headline metric, per scenario.

    ``source``: a result or a summary table (one row per scenario and replication). Columns:
    ``scenario, metric, label, mean, ci_low, ci_high, half_width, n``.
    """
    summary = _summary_of(source)
    chosen = list(metrics or headline_metrics())
    rows = []
    for name, part in summary.groupby("scenario", sort=False, observed=True):
        for metric in chosen:
            if metric not in part.columns:
                continue
            ci = mean_ci(part[metric].to_numpy(dtype=np.float64), level)
            rows.append(
                {
                    "scenario": name,
                    "metric": metric,
                    "label": metric_label(metric),
                    "mean": ci.mean,
                    "ci_low": ci.low,
                    "ci_high": ci.high,
                    "half_width": ci.half_width,
                    "n": ci.n,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["scenario", "metric", "label", "mean", "ci_low", "ci_high", "half_width", "n"],
    )


def comparison_from_results(
    results: Mapping[str, SimulationResult] | Sequence[SimulationResult],
    metrics: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired comparison of each finished result against the first, as ``simlib.compare``
    computes it (same seed: common random numbers): :func:`simlib.compare.comparison_table`
    with each result named by its scenario's name.

    Columns: :data:`COMPARISON_COLUMNS`, one row per (scenario other than the baseline, metric).
    """
    from .compare import comparison_table

    items = list(results.values()) if isinstance(results, Mapping) else list(results)
    return comparison_table(items, metrics, level)


def figure_data_uri(fig: Any, close: bool = True) -> str:
    """A matplotlib Figure as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*|url\(\s*["']?|import\(\s*["'])"""
    r"""((?:https?:)?//[^"'\s)>]+)""",
    flags=re.IGNORECASE,
)


def external_references(html: str) -> list[str]:
    """Addresses the page would fetch from the network (``src``/``href``/``url()``/``import()``
    pointing at ``http://``, ``https://`` or ``//``): an offline report has none."""
    return sorted(set(_EXTERNAL.findall(html)))


# Drops every block of nbconvert's lab template that loads a script from a CDN.
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block data_png scoped %}
{%- set said = output.data.get('text/plain', '') -%}
{%- set said = said if said is string else said | join('') -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
alt="{{ (said if said.startswith('Chart:') else 'A chart of this report') | escape_html }}">
</div>
{%- endblock data_png %}
"""


def notebook_to_html(
    notebook: str | Path | Any,
    html_path: str | Path,
    show_code: bool = False,
    title: str | None = None,
) -> Path:
    """Render an executed notebook to a self-contained, offline HTML file (atomically).

    Code cells are hidden unless ``show_code``; outputs (tables, charts as embedded PNG) stay.
    Raises RuntimeError if the page would still fetch anything from the network.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = (
        nbformat.read(str(notebook), as_version=4) if isinstance(notebook, str | Path) else notebook
    )
    if title:
        nb.metadata["title"] = report_tables.clean_text(title)
    nb.metadata.pop("widgets", None)
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"simlib_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="simlib_offline.html.j2",
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    external = external_references(body)
    if external:
        raise RuntimeError(f"report would fetch from the network: {external[:3]}")
    return write_text_atomic(html_path, body)


_INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK JP",
       sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; } .sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: .8rem 0 1.5rem; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .35rem .6rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #f2f4f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fff1f0; }
.ok { color: #1a7f37; font-weight: 600; } .failed { color: #cf222e; font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; margin: .5rem 0 1rem; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .85rem; }
details summary { cursor: pointer; }
.note { color: #555; font-size: .9rem; } .error { white-space: pre-wrap; }
.ci { color: #666; font-size: .8rem; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="sub">Batch <code>{{ batch_name }}</code> · {{ scenarios|length }} scenario(s) ·
{{ replications }} replication(s) each · seed {{ seed }} · generated {{ generated }}</p>
{% if description %}<p>{{ description }}</p>{% endif %}
{% if failures %}
<p class="failed">{{ failures|length }} part(s) of this batch failed; see
<a href="#failures">Failures</a>.</p>
{% endif %}

<h2 id="answer">Answer</h2>
{% if questions %}
<p class="note">Each variant against its own counterfactual: the same book and the same seed
(common random numbers), so the difference is the policy's. Effects are paired differences
(variant minus baseline) with their 95 % intervals.</p>
<table id="questions-table">
<thead><tr><th>question</th><th>answer</th><th>effect [95 % paired interval]</th>
<th>reports</th></tr></thead>
<tbody>
{% for q in questions %}
<tr class="question-row{% if not q.ok %} failed{% endif %}">
<td>{{ q.question }}</td><td>{{ q.answer }}</td>
<td class="num">{{ q.effect }}<br><span class="ci">{{ q.figure_label }}</span></td>
<td>{% for link in q.links %}<a href="{{ link.href }}">{{ link.text }}</a>
{%- if not loop.last %} · {% endif %}{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p>This batch asks no question: a <code>compare:</code> list in the batch file pairs each
variant with its own baseline, and the answers then open this page. The summary below gives
each scenario's headline figures.</p>
{% endif %}
{% if unpaired and not questions %}
<p class="note">Not paired with the first scenario, as they run on another book (other
customers, horizon or currency), where a paired difference would measure the books, not a
policy: {% for n in unpaired %}“{{ n }}”{% if not loop.last %}, {% endif %}{% endfor %}.</p>
{% endif %}

<h2 id="summary">Summary</h2>
<p class="note">Means across replications with 95 % confidence intervals in brackets.
Common random numbers: every scenario ran with the same seed.</p>
<table id="summary-table">
<thead><tr><th>scenario</th><th>status</th>
{% for m in metrics %}<th>{{ m.label }}</th>{% endfor %}
<th>reports</th></tr></thead>
<tbody>
{% for s in scenarios %}
<tr class="scenario-row{% if not s.ok %} failed{% endif %}">
<td>{{ s.name }}</td>
<td class="{{ 'ok' if s.ok else 'failed' }}">{{ 'ok' if s.ok else 'failed' }}</td>
{% for cell in s.cells %}<td class="num">{{ cell.mean }}
{%- if cell.note %}<sup>{{ cell.note }}</sup>{% endif %}
{%- if cell.interval %}<br><span class="ci">{{ cell.interval }}</span>{% endif %}</td>{% endfor %}
<td>{% for link in s.links %}<a href="{{ link.href }}">{{ link.text }}</a>
{%- if not loop.last %} · {% endif %}{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% for n in notes %}<p class="note"><sup>{{ loop.index }}</sup> {{ n }}.</p>{% endfor %}

{% if batch_reports %}
<h2 id="batch-reports">Batch reports</h2>
<ul>
{% for r in batch_reports %}
<li>{{ r.name }}:
{% if r.ok %}<span class="ok">ok</span>{% else %}<span class="failed">failed</span>{% endif %}
{% for link in r.links %} · <a href="{{ link.href }}">{{ link.text }}</a>{% endfor %}</li>
{% endfor %}
</ul>
{% endif %}

{% if charts %}
<h2 id="charts">Comparison charts</h2>
{% for c in charts %}
<h3>{{ c.title }}</h3>
<img src="{{ c.uri }}" alt="{{ c.alt or c.title }}">
{% if c.csv %}<p class="note">The chart's data: <a href="{{ c.csv }}">{{ c.csv }}</a></p>{% endif %}
{% endfor %}
{% endif %}

{% if failures %}
<h2 id="failures">Failures</h2>
<table id="failures-table">
<thead><tr><th>part</th><th>name</th><th>error</th></tr></thead>
<tbody>
{% for f in failures %}
<tr class="failure-row"><td>{{ f.kind }}</td><td>{{ f.name }}</td>
<td><strong class="error">{{ f.error }}</strong>
{% if f.links %}<br>
{% for link in f.links %}<a href="{{ link.href }}">{{ link.text }}</a> {% endfor %}{% endif %}
</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}

<h2 id="parameters">Parameters</h2>
<pre>{{ parameters }}</pre>

<h2 id="versions">Package versions and seeds</h2>
<table>
<tbody>
<tr><th>seed</th><td>{{ seed }}</td></tr>
<tr><th>replications</th><td>{{ replications }}</td></tr>
{% for k, v in versions.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}
</tbody>
</table>
</body>
</html>
"""


def render_index(
    *,
    title: str,
    batch_name: str,
    description: str,
    generated: str,
    replications: int,
    seed: int,
    scenarios: Iterable[Mapping[str, Any]],
    metrics: Sequence[str],
    batch_reports: Iterable[Mapping[str, Any]],
    charts: Iterable[Mapping[str, str]],
    failures: Iterable[Mapping[str, Any]],
    parameters: str,
    versions: Mapping[str, str],
    questions: Iterable[Mapping[str, Any]] = (),
    notes: Sequence[str] = (),
    unpaired: Sequence[str] = (),
) -> str:
    """The batch's ``index.html`` as text (every value HTML-escaped by Jinja2 autoescape).

    ``scenarios``: mappings with ``name``, ``ok``, ``cells`` (one per metric: ``mean`` and
    ``interval``, formatted text) and ``links`` (``href``/``text``); ``charts``: ``title`` and ``uri`` (a ``data:``
    URI, ``alt`` text and the ``csv`` of its data); ``failures``: ``kind``, ``name``, ``error``
    (the message: no traceback) and ``links``; ``questions``: ``question``, ``answer``,
    ``effect``, ``figure``, ``ok`` and ``links``; ``notes``: footnotes of the summary's dashes;
    ``unpaired``: scenarios on another book than the first.
    """
    from jinja2 import Environment

    env = Environment(autoescape=True)
    template = env.from_string(_INDEX_TEMPLATE)
    return template.render(
        title=title,
        batch_name=batch_name,
        description=description,
        generated=generated,
        replications=replications,
        seed=seed,
        scenarios=list(scenarios),
        metrics=[{"name": m, "label": metric_label(m)} for m in metrics],
        batch_reports=list(batch_reports),
        charts=list(charts),
        failures=list(failures),
        parameters=parameters,
        versions=dict(versions),
        questions=[
            {**q, "figure_label": f"on {report_tables.figure_label(str(q.get('figure', '')))}"}
            for q in questions
        ],
        notes=list(notes),
        unpaired=list(unpaired),
    )


# ------------------------------------------------------------------------------------------
# Helpers the notebooks call (so that notebooks hold narrative and calls, no logic)


def describe_scenario(result: SimulationResult) -> report_tables.ReportTable:
    """A small table describing a result's scenario and run (name, horizon, replications ...)."""
    sc = result.scenario
    rows = [
        ("scenario", report_tables.clean_text(sc.name)),
        ("description", report_tables.clean_text(sc.description) or "–"),
        ("horizon", f"{sc.horizon_months} months"),
        ("accounts at month 0", f"{sc.population.initial_accounts:,}"),
        (
            "new accounts per month",
            report_tables.format_number(sc.acquisition.new_accounts_per_month, "count"),
        ),
        ("segments", ", ".join(sc.segment_table())),
        ("replications", str(result.replications)),
        ("seed", str(result.seed)),
        ("currency", sc.economics.currency),
    ]
    frame = pd.DataFrame(rows, columns=["setting", "value"])
    return report_tables.ReportTable(frame)


def _horizon(source: SimulationResult | pd.DataFrame) -> int | None:
    return None if isinstance(source, pd.DataFrame) else int(source.scenario.horizon_months)


def headline_display(
    source: SimulationResult | pd.DataFrame, currency: str = "USD"
) -> report_tables.ReportTable:
    """The headline table formatted for reading: one row per figure (per scenario if several),
    mean and 95 % interval with units; a figure that does not exist is a dash with a footnote."""
    table = headline_table(source)
    several = table["scenario"].nunique() > 1
    return report_tables.figures_table(
        table,
        by=("scenario",) if several else (),
        currency=currency,
        horizon_months=_horizon(source),
    )


def comparison_display(table: pd.DataFrame, currency: str = "USD") -> report_tables.ReportTable:
    """A comparison table formatted for reading (baseline rows left out): each scenario's
    figure beside the baseline's, the paired difference with its 95 % interval, the relative
    change."""
    rows: list[dict[str, Any]] = []
    fmt = report_tables
    for r in table.itertuples():
        if r.difference == 0 and (pd.isna(r.paired_half_width) or r.paired_half_width == 0):
            continue
        unit = fmt.figure_unit(r.metric)
        rel = r.relative_change
        rows.append(
            {
                "scenario": fmt.clean_text(str(r.scenario)),
                "figure": fmt.figure_label(r.metric),
                "baseline": fmt.format_number(r.baseline_mean, unit, currency),
                "scenario mean": fmt.format_number(r.mean, unit, currency),
                "difference [95 % paired interval]": fmt.format_interval(
                    r.difference, r.paired_ci_low, r.paired_ci_high, unit, currency, signed=True
                ),
                "relative change": format_percent(rel, signed=True, decimals=2),
            }
        )
    columns = [
        "scenario",
        "figure",
        "baseline",
        "scenario mean",
        "difference [95 % paired interval]",
        "relative change",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return report_tables.ReportTable(frame, numeric=tuple(columns[2:]))


# ------------------------------------------------------------------------------------------
# Answers: each report opens with its answer in plain language, computed from its numbers


def md_text(text: str) -> str:
    """A user's text (a scenario name) safe inside Markdown: HTML and Markdown marks escaped."""
    import html as _html

    out = _html.escape(report_tables.clean_text(str(text)), quote=False)
    return re.sub(r"([\\`*_\[\]{}#|~])", r"\\\1", out)


def _sure(low: float, high: float) -> bool:
    return bool(np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0))


def scenario_answer(result: SimulationResult, currency: str = "USD") -> str:
    """What the book earns and loses over the horizon, in words, with 95 % intervals (means
    across replications): revenue and net value, the MRR lost to churn and contraction, the
    monthly churn rates, and GRR/NRR (or why they do not exist)."""
    fmt = report_tables
    sc = result.scenario
    names = list(dict.fromkeys(["revenue", "net_value", *headline_metrics()]))
    head = headline_table(result, names).set_index("metric")

    def fig(name: str) -> str:
        r = head.loc[name]
        return fmt.format_interval(
            r["mean"], r["ci_low"], r["ci_high"], fmt.figure_unit(name), currency
        )

    monthly = result.monthly
    lost = (
        monthly[monthly["month"] > 0]
        .groupby("replication")[["churned_mrr", "contraction_mrr"]]
        .sum()
        .sum(axis=1)
    )
    ci = mean_ci(lost.to_numpy(dtype=np.float64))
    lost_text = fmt.format_interval(ci.mean, ci.low, ci.high, "money_month", currency)
    lines = [
        f"Over {sc.horizon_months} months the book earns **{fig('revenue')}** in revenue and "
        f"**{fig('net_value')}** net of CS and offer costs (gross margin minus costs).",
        f"It loses {fig('logo_churn_monthly')} of its accounts and {fig('revenue_churn_monthly')} "
        f"of its MRR a month; churn and contraction take {lost_text} of MRR away over the "
        "horizon (the sum of the monthly losses).",
    ]
    grr = head.loc["grr_12m"]
    if np.isfinite(grr["mean"]):
        lines.append(
            f"Of the MRR of the accounts alive a year before the end, it keeps {fig('grr_12m')} "
            f"without expansion (GRR) and {fig('nrr_12m')} with it (NRR)."
        )
    else:
        lines.append(f"GRR and NRR: none ({fmt.missing_reason('grr_12m')}).")
    lines.append(f"Means across {result.replications} replications, 95 % intervals in brackets.")
    return "\n\n".join(lines)


#: The figures a comparison's answer reads, in order.
ANSWER_FIGURES = ("net_value", "ltv_mean", "logo_churn_monthly", "arpa_end", "nrr_12m")


def effect_text(row: Any, currency: str = "USD") -> str:
    """A comparison row's paired difference with its interval: ``+1,266 USD [941 to 1,591]``."""
    unit = report_tables.figure_unit(row.metric)
    return report_tables.format_interval(
        row.difference, row.paired_ci_low, row.paired_ci_high, unit, currency, signed=True
    )


def effect_sentence(row: Any, currency: str = "USD") -> str:
    """``raises net value (better): +1,266 USD [...]; ...``: the direction, the effect and whether the paired
    interval excludes zero, for one comparison row."""
    label = report_tables.figure_label(row.metric)
    if not np.isfinite(row.difference):
        return f"{label}: no value ({report_tables.missing_reason(row.metric)})"
    verb = "raises" if row.difference > 0 else "lowers" if row.difference < 0 else "leaves"
    better = _better(row.metric)
    good = (
        ""
        if better is None or row.difference == 0
        else " (better)"
        if (row.difference > 0) == (better == "higher")
        else " (worse)"
    )
    sure = (
        "the 95 % paired interval excludes zero"
        if _sure(row.paired_ci_low, row.paired_ci_high)
        else "not sure: the 95 % paired interval includes zero"
    )
    if row.difference == 0:
        return f"leaves {label} unchanged"
    return f"{verb} {label}{good}: {effect_text(row, currency)}; {sure}"  # the sign is the verb's


def _better(metric: str) -> str | None:
    return REGISTERED_METRICS[metric].better if metric in REGISTERED_METRICS else None


def comparison_answer(
    table: pd.DataFrame, currency: str = "USD", figures: Sequence[str] = ANSWER_FIGURES
) -> str:
    """Which scenario wins on which figure, and how sure (paired 95 % intervals against the
    baseline), as Markdown lines: the scenario with the best paired difference on each figure
    (by the registry's direction), or the baseline when no scenario beats it."""
    lines = []
    for metric in figures:
        rows = [
            r
            for r in table[table["metric"] == metric].itertuples()
            if not (r.difference == 0 and not r.paired_half_width)
        ]
        if not rows:
            continue
        label = report_tables.figure_label(metric)
        finite = [r for r in rows if np.isfinite(r.difference)]
        if not finite:
            lines.append(f"- **{label}**: none ({report_tables.missing_reason(metric)}).")
            continue
        sign = -1.0 if _better(metric) == "lower" else 1.0
        best = max(finite, key=lambda r: sign * r.difference)
        effect = effect_text(best, currency)
        if sign * best.difference > 0:
            sure = "sure" if _sure(best.paired_ci_low, best.paired_ci_high) else "not sure"
            lines.append(
                f"- **{label}**: *{md_text(best.scenario)}* wins, {effect} against the baseline "
                f"({sure}: 95 % paired interval)."
            )
        else:
            lines.append(
                f"- **{label}**: the baseline wins; the closest, *{md_text(best.scenario)}*, differs "
                f"by {effect}."
            )
    return "\n".join(lines) if lines else "No scenario to compare with the baseline."


# ------------------------------------------------------------------------------------------
# The lab's tables, for reading (the frames of simlib.lab in, ReportTable out)


def _cells(frame: pd.DataFrame, numeric: Sequence[str], notes: list[str]) -> Any:
    return report_tables.ReportTable(frame, notes, tuple(numeric))


def lab_dose_table(
    table: pd.DataFrame, shown: Sequence[str], currency: str = "USD"
) -> report_tables.ReportTable:
    """The dose-response for reading: a row per figure, a column per dose, each cell the paired
    difference from the baseline with its 95 % interval."""
    part = table[table["metric"].isin(list(shown))]
    return report_tables.figures_table(
        part,
        mean="difference",
        across="dose",
        across_label=lambda d: f"satisfaction +{float(d):g}",
        currency=currency,
        signed=True,
    )


def lab_parts_table(parts: pd.DataFrame, currency: str = "USD") -> report_tables.ReportTable:
    """The decomposition for reading: each part of the change in revenue per opening account
    with its interval, and the shares of retention and expansion in the total."""
    fmt = report_tables
    rows = []
    for r in parts.to_dict("records"):
        if r["part"] not in ("total", "retention", "expansion", "within", "mix"):
            continue
        share = r["share"] if r["part"] in ("retention", "expansion") else None
        rows.append(
            {
                "part": fmt.figure_label(str(r["part"])),
                "change [95 % interval]": fmt.format_interval(
                    r["mean"], r["ci_low"], r["ci_high"], "money", currency, signed=True
                ),
                "share of the total": "" if share is None else fmt.format_number(share, "share"),
            }
        )
    frame = pd.DataFrame(rows, columns=["part", "change [95 % interval]", "share of the total"])
    return _cells(frame, frame.columns[1:], [])


def lab_estimates_table(
    naive_causal: pd.DataFrame, currency: str = "USD"
) -> report_tables.ReportTable:
    """The CRM's regression beside the intervention, in currency per month per unit of
    satisfaction, with 95 % intervals."""
    return report_tables.figures_table(
        naive_causal,
        name="estimate",
        header=f"{currency}/month per unit of satisfaction [95 % interval]",
        currency=currency,
        signed=True,
    )


_CONDITION_PARTS = ("total", "retention", "expansion", "arpa_end")


def lab_conditions_table(
    by_condition: pd.DataFrame, currency: str = "USD"
) -> report_tables.ReportTable:
    """One row per condition: the change in revenue per opening account, its retention and
    expansion parts and the change in ARPA at the last month, each with its interval."""
    fmt = report_tables
    rows = []
    for name, part in by_condition.groupby("condition", sort=False):
        row = {"condition": str(name)}
        values = part.set_index("part")
        for p in _CONDITION_PARTS:
            r = values.loc[p]
            unit = fmt.figure_unit(p)
            row[fmt.figure_label(p)] = fmt.format_interval(
                r["mean"], r["ci_low"], r["ci_high"], unit, currency, signed=True
            )
        rows.append(row)
    frame = pd.DataFrame(rows)
    return _cells(frame, frame.columns[1:], [])


def lab_floor_table(floor: pd.DataFrame, currency: str = "USD") -> report_tables.ReportTable:
    """The churn floor for reading: churn level, revenue per opening account, what one point
    less churn and one point more expansion buy (with intervals), the retention headroom and
    the push's gain."""
    return report_tables.plain_table(
        floor[
            [
                "churn",
                "revenue",
                "per_point_churn",
                "per_point_churn_low",
                "per_point_churn_high",
                "per_point_expansion",
                "per_point_expansion_low",
                "per_point_expansion_high",
                "retention_headroom",
                "push_gain",
                "push_gain_low",
                "push_gain_high",
            ]
        ],
        {
            "churn": "share",
            "revenue": "money",
            "per_point_churn": ("money", "per_point_churn_low", "per_point_churn_high"),
            "per_point_expansion": (
                "money",
                "per_point_expansion_low",
                "per_point_expansion_high",
            ),
            "retention_headroom": "money",
            "push_gain": ("money", "push_gain_low", "push_gain_high"),
        },
        labels={
            "churn": "monthly logo churn",
            "revenue": "revenue per opening account",
            "per_point_churn": "one point less churn buys",
            "per_point_expansion": "one point more expansion buys",
            "retention_headroom": "churn cut to zero could add",
            "push_gain": "the expansion push adds",
        },
        currency=currency,
    )


def lab_roi_table(roi: pd.DataFrame, currency: str = "USD") -> report_tables.ReportTable:
    """A CS team's return against no team, paired: each figure's change with its interval
    (the return as a share of the CS cost)."""
    fmt = report_tables
    rows = []
    notes: list[str] = []
    for r in roi.to_dict("records"):
        name = str(r["figure"])
        unit = fmt.figure_unit(name)
        if pd.isna(r["mean"]):
            reason = fmt.missing_reason(name)
            notes.append(reason)
            text = f"{fmt.DASH} [{len(notes)}]"
        else:
            text = fmt.format_interval(
                r["mean"], r["ci_low"], r["ci_high"], unit, currency, signed=name != "roi"
            )
            if name == "roi":
                text = text.replace(" pp", " %")
        rows.append({"figure": fmt.figure_label(name), "change [95 % interval]": text})
    frame = pd.DataFrame(rows, columns=["figure", "change [95 % interval]"])
    return _cells(frame, frame.columns[1:], notes)


def tornado_table(result: Any, currency: str = "USD") -> report_tables.ReportTable:
    """A tornado's table for reading: each key's low and high value, the outcome at each with
    its 95 % interval, and the swing (high minus low) with its paired interval."""
    fmt = report_tables
    unit = fmt.figure_unit(result.outcome)
    rows = []
    for r in result.table.itertuples():
        hw = r.swing_half_width
        rows.append(
            {
                "key": str(r.parameter),
                "from low to high": f"{r.low:g} to {r.high:g}",
                "at the low value": fmt.format_interval(
                    r.low_mean, r.low_ci_low, r.low_ci_high, unit, currency
                ),
                "at the high value": fmt.format_interval(
                    r.high_mean, r.high_ci_low, r.high_ci_high, unit, currency
                ),
                "swing [95 % paired interval]": fmt.format_interval(
                    r.swing, r.swing - hw, r.swing + hw, unit, currency, signed=True
                ),
            }
        )
    frame = pd.DataFrame(rows)
    return report_tables.ReportTable(frame, numeric=tuple(frame.columns[2:]))


def tornado_answer(result: Any, currency: str = "USD") -> str:
    """Which key moves the outcome most from its low to its high value, and how sure (the
    swing's paired 95 % interval against zero), in words."""
    if result.table.empty:
        return "No key to vary."
    r = next(result.table.itertuples())  # widest swing first
    unit = report_tables.figure_unit(result.outcome)
    swing = report_tables.format_interval(
        r.swing, r.swing - r.swing_half_width, r.swing + r.swing_half_width, unit, currency, True
    )
    sure = (
        "sure"
        if _sure(r.swing - r.swing_half_width, r.swing + r.swing_half_width)
        else ("not sure: the paired interval includes zero")
    )
    base = report_tables.format_number(result.base_mean, unit, currency)
    return (
        f"Of the keys varied, **{md_text(r.parameter)}** moves "
        f"{report_tables.figure_label(result.outcome)} most: from {r.low:g} to {r.high:g} it "
        f"changes it by {swing} ({sure}), around {base} at the baseline."
    )


def sensitivity_indices_table(
    glob: Any, outcome: str, currency: str = "USD"
) -> report_tables.ReportTable:
    """Global sensitivity indices for reading: Morris effects in the outcome's unit, Sobol'
    indices as shares of the outcome's variance."""
    fmt = report_tables
    unit = fmt.figure_unit(outcome) if glob.method == "morris" else ""
    frame = glob.indices.copy()
    shown = pd.DataFrame({"key": frame["parameter"].astype(str)})
    for col in frame.columns:
        if col != "parameter":
            shown[col] = [fmt.format_number(v, unit, currency) for v in frame[col]]
    return report_tables.ReportTable(shown, numeric=tuple(shown.columns[1:]))


def noise_text(glob: Any, outcome: str, currency: str = "USD") -> str:
    """The simulation noise beside global indices, in words with the outcome's unit."""
    unit = report_tables.figure_unit(outcome)
    fmt = report_tables.format_number
    return (
        f"Simulation noise: sd {fmt(glob.noise_sd, unit, currency)} across replications at the "
        f"baseline, standard error {fmt(glob.noise_se, unit, currency)} of a point's mean, "
        f"{fmt(glob.noise_floor, unit, currency)} on the indices' scale."
    )


# ------------------------------------------------------------------------------------------
# The calibration's tables and answer, for reading (simlib.calibrate's frames in)

#: The names of the churn models a calibration tries, for people.
CALIBRATION_MODELS = {"sbg": "plain sBG", "sbg_tenure": "sBG + tenure profile"}


def _period_word(period_months: int) -> str:
    return {1: "month", 12: "year"}.get(int(period_months), "period")


def _pp(x: Any) -> str:
    """An absolute difference of two shares in percentage points (``0.82 pp``)."""
    if not _finite(x):
        return report_tables.DASH
    return f"{100 * float(x):,.2f} pp"


def _p_value(p: Any) -> str:
    if not _finite(p):
        return report_tables.DASH
    return "< 0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def _with_se(value: Any, se: Any) -> str:
    """``0.694 (se 0.065)``: a fitted value and its standard error."""
    text = report_tables.format_number(value, "")
    return text if not _finite(se) else f"{text} (se {report_tables.format_number(se, '')})"


def _first_churn(fit: Any) -> float:
    """The churn of a new account at its first renewal under the recommended model (the sBG's
    alpha / (alpha + beta), or the tenure profile's hazard at renewal 1)."""
    checks = fit.checks or {}
    best = checks.get("recommended", "sbg")
    first = next((h for h in checks.get("hazard", []) if h.get("period") == 1), None)
    if first is not None and _finite(first.get(best)):
        return float(first[best])
    return float(fit.mean_churn)


def calibration_answer(
    fits: Sequence[Any],
    holdout: pd.DataFrame | None = None,
    gap: pd.DataFrame | None = None,
    period_months: int = 1,
) -> str:
    """The calibration's answer in words, per group: the churn of a new account at its first
    renewal, the recommended model and why, how far the projection of the periods left out
    is from the data, and how far simulated survival is from the data's Kaplan–Meier curve
    (Markdown, one paragraph per group)."""
    word = _period_word(period_months)
    gaps = gap.set_index(gap["group"].astype(str)) if gap is not None and len(gap) else None
    lines = []
    for f in fits:
        name = "all accounts" if f.group is None else str(f.group)
        checks = f.checks or {}
        best = checks.get("recommended", "sbg")
        p = (checks.get("likelihood_ratio") or {}).get("p_value")
        text = (
            f"**{md_text(name)}**: a new account churns at its first renewal with probability "
            f"**{report_tables.format_number(_first_churn(f), 'share')}** "
            f"({report_tables.format_number(f.n, 'count')} accounts); the recommended model is "
            f"the {CALIBRATION_MODELS.get(best, best)}"
        )
        if _finite(p):
            text += f" (likelihood-ratio p-value of the tenure profile {_p_value(p)})"
        text += "."
        text += _holdout_words(holdout, f.group, word)
        if (
            gaps is not None
            and (key := str(f.group if f.group is not None else "all")) in gaps.index
        ):
            g = gaps.loc[key]
            text += (
                f" Simulated with the fitted churn, its survival stays within "
                f"{_pp(g['max_abs_gap'])} of the data's Kaplan–Meier curve (largest gap at "
                f"{word} {int(g['period'])})."
            )
        warnings = checks.get("warnings") or []
        if warnings:
            text += f" {len(warnings)} warning(s) below (section 3)."
        lines.append(text)
    lines.append(
        "Survival gaps are absolute differences of the share still subscribed, in percentage "
        "points (pp)."
    )
    return "\n\n".join(lines)


def _holdout_words(holdout: pd.DataFrame | None, group: Any, word: str) -> str:
    if holdout is None or not len(holdout):
        return ""
    part = holdout[holdout["group"].isna() if group is None else holdout["group"] == group]
    later = part[part["part"] == "holdout"]
    if not len(later):
        return ""
    err = (later["fitted_survival"] - later["observed_survival"]).abs()
    k = int(part["fit_periods"].iloc[0])
    return (
        f" Fitted on {word}s 0 to {k}, the curve projects the {len(later)} {word}s left out "
        f"within {_pp(err.mean())} of the data on average (at most {_pp(err.max())})."
    )


def calibration_data_table(table: pd.DataFrame, rows: int = 8) -> report_tables.ReportTable:
    """The first ``rows`` renewal periods of a cohort retention table (``period, alive`` and
    optionally ``segment``): accounts still subscribed after each renewal, one column per
    segment."""
    if "segment" in table.columns:
        order = list(pd.unique(table["segment"]))  # the table's order, not the alphabet's
        wide = table.pivot(index="period", columns="segment", values="alive")[order]
        wide = wide.reset_index()
        wide.columns = [str(c) for c in wide.columns]
    else:
        wide = table[["period", "alive"]].rename(columns={"alive": "accounts still subscribed"})
    wide = wide.head(rows)
    units = {c: "count" for c in wide.columns if c != "period"}
    shown = wide.assign(period=wide["period"].astype(int).astype(str))
    return report_tables.plain_table(shown, units, labels={c: c for c in units})


def calibration_fit_table(
    fits: Sequence[Any], annual_discount_rate: float = 0.1
) -> report_tables.ReportTable:
    """The fits for reading: alpha and beta with their standard errors, the mean churn of a
    new account at its first renewal, the accounts, and the discounted expected lifetime (DEL,
    renewal periods paid, Fader & Hardie 2010)."""
    rows = []
    for f in fits:
        d = f.to_dict(annual_discount_rate)
        rows.append(
            {
                "group": "all" if f.group is None else report_tables.clean_text(str(f.group)),
                "alpha": _with_se(d["alpha"], d["alpha_se"]),
                "beta": _with_se(d["beta"], d["beta_se"]),
                "mean churn at the first renewal": report_tables.format_number(
                    d["mean_churn"], "share"
                ),
                "accounts": report_tables.format_number(d["n"], "count"),
                "DEL (periods paid, discounted)": report_tables.format_number(d["del"], ""),
            }
        )
    frame = pd.DataFrame(rows)
    return report_tables.ReportTable(frame, numeric=tuple(frame.columns[1:]))


def calibration_model_table(fits: Sequence[Any]) -> report_tables.ReportTable:
    """Each model tried per group (:func:`simlib.calibrate.model_table`): parameters,
    log-likelihood, AIC, the likelihood-ratio p-value of the tenure profile, the holdout gaps
    of the projected survival (pp, when there was a holdout) and the recommendation."""
    from .calibration.models import model_table

    table = model_table(fits)
    holdout = table["holdout_mean_abs_error"].notna().any()
    rows = []
    for r in table.to_dict("records"):
        row = {
            "group": "all" if r["group"] is None else report_tables.clean_text(str(r["group"])),
            "model": CALIBRATION_MODELS.get(r["model"], str(r["model"])),
            "parameters": report_tables.format_number(r["parameters"], "count"),
            "log-likelihood": report_tables.format_number(r["log_likelihood"], ""),
            "AIC": report_tables.format_number(r["aic"], ""),
            "LR p-value": _p_value(r["lr_p_value"]) if r["model"] != "sbg" else "",
        }
        if holdout:
            row["holdout: mean gap"] = _pp(r["holdout_mean_abs_error"])
            row["holdout: largest gap"] = _pp(r["holdout_max_abs_error"])
        row["recommended"] = "yes" if r["recommended"] else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    numeric = [c for c in frame.columns if c not in ("group", "model", "recommended")]
    return report_tables.ReportTable(frame, numeric=tuple(numeric))


def calibration_gap_table(gap: pd.DataFrame, period_months: int = 1) -> report_tables.ReportTable:
    """Per group, the largest gap between simulated survival and the data's Kaplan–Meier
    curve (:func:`simlib.calibrate.survival_gap`), where it is, and the accounts behind each."""
    word = _period_word(period_months)
    frame = pd.DataFrame(
        [
            {
                "group": report_tables.clean_text(str(r["group"])),
                "largest gap": _pp(r["max_abs_gap"]),
                f"at {word}": str(int(r["period"])),
                "accounts in the data": report_tables.format_number(r["observed_n"], "count"),
                "simulated accounts": report_tables.format_number(r["simulated_n"], "count"),
            }
            for r in gap.to_dict("records")
        ]
    )
    return report_tables.ReportTable(frame, numeric=tuple(frame.columns[1:]))


def calibration_panel_table(
    panel_fit: Mapping[str, Any], truth: Mapping[str, float] | None = None
) -> report_tables.ReportTable:
    """The scenario keys fitted from a CRM panel (``simlib calibrate panel``) with their
    standard errors, the naive (uncorrected) link beside them and, for a synthetic panel, the
    values that generated it."""
    naive = panel_fit.get("naive") or {}
    rows = []
    for key, v in (panel_fit.get("scenario_keys") or {}).items():
        row = {"scenario key": key, "fitted": _with_se(v.get("value"), v.get("se"))}
        row["naive (no noise correction)"] = (
            _with_se(naive[key]["value"], naive[key].get("se")) if key in naive else ""
        )
        if truth is not None:
            row["truth"] = report_tables.format_number(truth[key], "") if key in truth else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    return report_tables.ReportTable(frame, numeric=tuple(frame.columns[1:]))


def panel_measurement_text(panel_fit: Mapping[str, Any]) -> str:
    """The measurement noise a CRM panel's health score carries, in words (its standard
    deviation on the score's scale, how it was estimated, the reliability)."""
    m = panel_fit.get("measurement") or {}
    return (
        f"Measurement noise of the health score: sd {report_tables.format_number(m.get('noise_sd'), '')} "
        f"points on the score's scale ({m.get('method', 'not estimated')}); reliability "
        f"{report_tables.format_number(m.get('reliability'), 'score')} (the share of the "
        "score's variance that is the account's true health)."
    )


class CodeBlock:
    """Text to copy as it is (a scenario fragment): shown verbatim, in a ``pre`` block of class
    ``simlib-code``; its numbers keep the digits a scenario file needs."""

    def __init__(self, text: str, language: str = "yaml") -> None:
        self.text, self.language = text, language

    def _repr_html_(self) -> str:
        import html as _html

        return (
            f'<pre class="simlib-code" data-language="{_html.escape(self.language)}">'
            f"{_html.escape(self.text)}</pre>"
        )

    def __repr__(self) -> str:
        return self.text


def write_chart_data(output_dir: str | Path) -> list[Path]:
    """Write the data of every chart drawn in this session as ``output_dir/charts/chart-NN.csv``
    (one tidy table per chart, its columns named from the chart's axes, legend and titles:
    :func:`simlib.plots.chart_data`), numbered as the charts' alt text names them, so a reader
    can rebuild any chart of the report. Returns the files."""
    from . import plots

    folder = Path(output_dir) / "charts"
    written = []
    for fig in plots.drawn_figures():
        number = getattr(fig, "chart_number", 0)
        if number:
            path = folder / f"chart-{number:02d}.csv"
            folder.mkdir(parents=True, exist_ok=True)
            written.append(write_text_atomic(path, plots.chart_data(fig).to_csv(index=False)))
    return written


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_outputs(output_dir: str | Path, values: Mapping[str, Any]) -> Path:
    """Write a notebook's key outputs to ``output_dir/outputs.json`` (atomically; NaN -> null)."""
    import json

    text = json.dumps(_json_safe(dict(values)), indent=2, ensure_ascii=False)
    return write_text_atomic(Path(output_dir) / "outputs.json", text)


def shown_path(path: str | Path) -> str:
    """``path`` as a notebook shows it: relative to the working folder, or just the file name
    when it lies elsewhere, so no report shows this machine's folders or user name."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def headline_outputs(source: SimulationResult | pd.DataFrame) -> dict[str, dict[str, dict]]:
    """``{scenario: {metric: {mean, ci_low, ci_high, n}}}`` of the headline table."""
    out: dict[str, dict[str, dict]] = {}
    for r in headline_table(source).itertuples():
        out.setdefault(str(r.scenario), {})[r.metric] = {
            "mean": r.mean,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "n": r.n,
        }
    return out


def concat_tables(results: Mapping[str, SimulationResult], table: str) -> pd.DataFrame:
    """One long table (``"monthly"``, ``"accounts"`` or ``"summary"``) of several results."""
    return pd.concat([getattr(r, table) for r in results.values()], ignore_index=True)


def load_results(folders: Sequence[str | Path]) -> dict[str, SimulationResult]:
    """Results written by ``simlib run`` / ``simlib batch``, by scenario name, in order."""
    from .results import SimulationResult

    out: dict[str, SimulationResult] = {}
    for folder in folders:
        res = SimulationResult.read(folder)
        out[res.scenario.name] = res
    return out


def build_scenarios(
    scenarios: Sequence[str],
    variants: Mapping[str, Mapping[str, Any] | Sequence[str]],
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> list[Any]:
    """Scenarios for a comparison: each of ``scenarios`` (presets or paths), then each variant
    (name -> overrides of the first scenario); ``overrides`` apply to all."""
    from .scenario import load_scenario

    common = as_overrides(overrides)
    out = [load_scenario(s, common) for s in scenarios]
    if not out:
        raise ValueError("name at least one scenario")
    base = scenarios[0]
    for name, extra in variants.items():
        sc = load_scenario(base, [*common, *as_overrides(extra)])
        out.append(sc.model_copy(update={"name": str(name)}))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must differ, got {names}")
    return out


def run_comparison(
    scenarios: Sequence[Any], replications: int, seed: int
) -> tuple[pd.DataFrame, dict[str, SimulationResult]]:
    """Simulate scenarios with one seed (common random numbers) and compare each with the
    first through ``simlib.compare``: ``(comparison table, results by name)``."""
    from .compare import compare

    res = compare(list(scenarios), replications=replications, seed=seed)
    return res.table, dict(res.results)
