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

from .compare import COMPARISON_COLUMNS
from .metrics import METRICS as REGISTERED_METRICS
from .metrics import metric_label, metric_unit, metric_view
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
    """A figure as text with its unit: ``12,345 USD``, ``2.15 %``, ``0.57``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    unit = metric_unit(metric)
    if unit == "share":
        return f"{100 * value:,.2f} %"
    if unit == "money":
        return f"{value:,.0f} {currency}"
    if unit == "money_month":
        return f"{value:,.0f} {currency}/month"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.3f}"


def format_interval(
    mean: float, low: float, high: float, metric: str, currency: str = "USD"
) -> str:
    """``mean [low, high]`` with units (the interval left out when it is undefined)."""
    text = format_value(mean, metric, currency)
    if low is None or high is None or np.isnan(low) or np.isnan(high):
        return text
    unit = metric_unit(metric)
    if unit == "share":
        return f"{text} [{100 * low:,.2f}, {100 * high:,.2f}]"
    if unit in ("money", "money_month", "count"):
        return f"{text} [{low:,.0f}, {high:,.0f}]"
    return f"{text} [{low:,.3f}, {high:,.3f}]"


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
        nb.metadata["title"] = title
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
th, td { border: 1px solid #ccc; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #f2f4f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fff1f0; }
.ok { color: #1a7f37; font-weight: 600; } .failed { color: #cf222e; font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; margin: .5rem 0 1rem; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .85rem; }
details summary { cursor: pointer; }
.note { color: #555; font-size: .9rem; }
.ci { color: #666; font-size: .8rem; white-space: nowrap; }
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
{%- if cell.interval %}<br><span class="ci">{{ cell.interval }}</span>{% endif %}</td>{% endfor %}
<td>{% for link in s.links %}<a href="{{ link.href }}">{{ link.text }}</a>
{%- if not loop.last %} · {% endif %}{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>

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
<img src="{{ c.uri }}" alt="{{ c.title }}">
{% endfor %}
{% endif %}

{% if failures %}
<h2 id="failures">Failures</h2>
<table id="failures-table">
<thead><tr><th>part</th><th>name</th><th>error</th></tr></thead>
<tbody>
{% for f in failures %}
<tr class="failure-row"><td>{{ f.kind }}</td><td>{{ f.name }}</td>
<td><strong>{{ f.error }}</strong>
{% if f.detail %}<details><summary>details</summary><pre>{{ f.detail }}</pre></details>{% endif %}
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
) -> str:
    """The batch's ``index.html`` as text (every value HTML-escaped by Jinja2 autoescape).

    ``scenarios``: mappings with ``name``, ``ok``, ``cells`` (one per metric: ``mean`` and
    ``interval``, formatted text) and ``links`` (``href``/``text``); ``charts``: ``title`` and ``uri`` (a ``data:``
    URI); ``failures``: ``kind``, ``name``, ``error``, ``detail`` and ``links``.
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
    )


# ------------------------------------------------------------------------------------------
# Helpers the notebooks call (so that notebooks hold narrative and calls, no logic)


def describe_scenario(result: SimulationResult) -> pd.DataFrame:
    """A small table describing a result's scenario and run (name, horizon, replications ...)."""
    sc = result.scenario
    rows = [
        ("scenario", sc.name),
        ("description", sc.description or "–"),
        ("horizon", f"{sc.horizon_months} months"),
        ("accounts at month 0", f"{sc.population.initial_accounts:,}"),
        ("new accounts per month", f"{sc.acquisition.new_accounts_per_month:,.0f}"),
        ("segments", ", ".join(sc.segment_table())),
        ("replications", str(result.replications)),
        ("seed", str(result.seed)),
        ("currency", sc.economics.currency),
    ]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def headline_display(
    source: SimulationResult | pd.DataFrame, currency: str = "USD"
) -> pd.DataFrame:
    """The headline table formatted for reading: one row per figure (per scenario if several),
    mean and 95 % interval with units."""
    table = headline_table(source)
    several = table["scenario"].nunique() > 1
    out = pd.DataFrame(
        {
            "scenario": table["scenario"],
            "figure": table["label"],
            "mean": [
                format_value(v, m, currency)
                for v, m in zip(table["mean"], table["metric"], strict=True)
            ],
            "95 % interval": [
                format_interval(float("nan"), lo, hi, m, currency).removeprefix("– ")
                for lo, hi, m in zip(
                    table["ci_low"], table["ci_high"], table["metric"], strict=True
                )
            ],
        }
    )
    return out.set_index(["scenario", "figure"] if several else ["figure"]).drop(
        columns=[] if several else ["scenario"]
    )


def comparison_display(table: pd.DataFrame, currency: str = "USD") -> pd.DataFrame:
    """A comparison table formatted for reading (baseline rows left out)."""
    rows = []
    for r in table.itertuples():
        if r.difference == 0 and (pd.isna(r.paired_half_width) or r.paired_half_width == 0):
            continue
        rows.append(
            {
                "scenario": r.scenario,
                "figure": metric_label(r.metric),
                "baseline": format_value(r.baseline_mean, r.metric, currency),
                "scenario mean": format_value(r.mean, r.metric, currency),
                "difference [95 % paired interval]": format_interval(
                    r.difference, r.paired_ci_low, r.paired_ci_high, r.metric, currency
                ),
                "relative change": "–"
                if pd.isna(r.relative_change)
                else f"{100 * r.relative_change:+.1f} %",
            }
        )
    return pd.DataFrame(rows).set_index(["scenario", "figure"]) if rows else pd.DataFrame()


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
