"""The leaderboard as one self-contained HTML page: a sortable table and inline SVG curves.

    Path("board.html").write_text(render_html(build_report(["runs/s1"]), reference=True))

Built from the same report object as leaderboard.md/json: one table row per curve (the JSON's
``curves``), each number cell carrying its exact value in ``data-value`` (what sorting and
checks read). The page names no URL and needs no network; it reads without JavaScript, and a
few lines of inline script sort the table when a header is clicked. What keeps rows from
comparing (different tasks, task versions, s1-eval or lm-eval versions) is stated above the table.
"""

from __future__ import annotations

import math
from dataclasses import replace
from html import escape
from pathlib import Path

from s1_eval.common.numbers import fmt
from s1_eval.report.build import ALL_SETTINGS, CellRow, CurveRow, Report
from s1_eval.report.metrics import SCALING_UNIT

STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:0.9em;margin-bottom:1.5em}
th,td{border:1px solid #ccc;padding:0.3em 0.5em;text-align:left}
th{background:#f0f0f0;cursor:pointer}td.num{text-align:right;white-space:nowrap}
td.budgets{min-width:14em}
.notes li{color:#8a4b00}
.incompatible{border:2px solid #c77700;background:#fff4e0;padding:0.2em 1em;margin-bottom:1em}
figure{margin:0 0 1.5em 0}svg{max-width:100%;height:auto}"""

# sorts by data-value when a cell has one (numbers), else by text; a second click reverses
SCRIPT = """document.querySelectorAll("table.sortable th").forEach(function (th, i) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var up = th.dataset.order !== "asc";
    th.dataset.order = up ? "asc" : "desc";
    function key(row) {
      var cell = row.cells[i], v = cell.dataset.value;
      return v !== undefined && v !== "" ? parseFloat(v) : cell.textContent;
    }
    Array.prototype.slice.call(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      var d = typeof x === "number" && typeof y === "number" ? x - y
        : String(x).localeCompare(String(y));
      return up ? d : -d;
    }).forEach(function (row) { body.appendChild(row); });
  });
});"""

#: (header, CurveRow field or None for a text column, digits)
COLUMNS = (
    ("model", None, 0),
    ("task", None, 0),
    ("setting", None, 0),
    ("runs", "n_runs", 0),
    ("budgets", None, 0),
    ("Performance (acc. %) ± stderr", "performance_pct", 1),
    ("at thinking tokens", "best_thinking_mean", 0),
    ("Control (runs)", "control_pct", 0),
    ("Control (samples)", "control_per_sample_pct", 1),
    (f"Scaling ({SCALING_UNIT}) [95 % interval]", "scaling", 2),
    ("tokens / correct", "tokens_per_correct", 0),
    ("s / correct", "seconds_per_correct", 2),
    ("hardware", None, 0),
    ("s1-eval", None, 0),
    ("lm-eval", None, 0),
)


def _value(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value))


def _num(field: str, value, text: str) -> str:
    return f'<td class="num" data-key="{field}" data-value="{_value(value)}">{escape(text)}</td>'


def _members(report: Report, curve: CurveRow) -> list[CellRow]:
    return [
        c
        for c in report.cells
        if c.model == curve.model
        and c.task == curve.task
        and (curve.series == ALL_SETTINGS or c.series == curve.series)
    ]


def _joined(values) -> str:
    return ", ".join(sorted({v for v in values if v})) or "n/a"


def _row(report: Report, curve: CurveRow) -> str:
    members = _members(report, curve)
    cells = {
        "model": curve.model,
        "task": curve.task,
        "setting": curve.series,
        "budgets": curve.budgets,
        "hardware": _joined(c.hardware for c in members),
        "s1-eval": _joined(c.s1_eval_version for c in members),
        "lm-eval": _joined(c.lm_eval_version for c in members),
    }
    html = []
    for header, field, digits in COLUMNS:
        if field is None:
            if header == "budgets":  # a pooled curve lists every cell's budget: let it wrap
                html.append(
                    f'<td class="budgets">{escape(cells[header]).replace(",", ",<wbr>")}</td>'
                )
            else:
                html.append(f"<td>{escape(cells[header])}</td>")
            continue
        value = getattr(curve, field)
        text = fmt(value, digits)
        if field == "performance_pct" and value is not None:
            text += f" ± {fmt(curve.performance_stderr_pct, 1)}"
        if field == "scaling" and curve.scaling_ci_low is not None:
            text += f" [{curve.scaling_ci_low:.2f}, {curve.scaling_ci_high:.2f}]"
        html.append(_num(field, value, text))
    return "<tr>" + "".join(html) + "</tr>"


def _notes(report: Report) -> list[str]:
    """What qualifies single rows: curve notes and what was skipped while reading."""
    notes = [f"{c.model} / {c.task} / {c.series}: {c.note}" for c in report.curves if c.note]
    return notes + list(report.warnings)


def _incompatibilities(report: Report) -> list[str]:
    """Why rows (or the cells of one curve) do not compare directly, shown above the table."""
    found = []
    tasks = sorted({c.task for c in report.cells})
    if len(tasks) > 1:
        found.append(f"rows cover different tasks ({', '.join(tasks)}): compare within a task")
    for task in tasks:
        versions = sorted(
            {c.task_version for c in report.cells if c.task == task and c.task_version}
        )
        if len(versions) > 1:
            found.append(
                f"{task}: runs recorded different task versions ({', '.join(versions)}); "
                "its curves pool them"
            )
    for attribute, name in (("s1_eval_version", "s1-eval"), ("lm_eval_version", "lm-eval")):
        seen = sorted({getattr(c, attribute) for c in report.cells if getattr(c, attribute)})
        if len(seen) > 1:
            found.append(f"runs recorded different {name} versions ({', '.join(seen)})")
    return found


def _list(css: str, title: str, items: list[str]) -> str:
    if not items:
        return ""
    lines = "".join(f"<li>{escape(i)}</li>" for i in items)
    return f'<div class="{css}">{title}<ul>{lines}</ul></div>'


def _reference_section(reference: dict) -> str:
    from s1_eval.report.reference import paper_intervals

    parts = ["<h2>The paper's reference rows (s1 paper)</h2>"]
    table = reference.get("headline_greedy") or {}
    columns = table.get("columns") or []
    if columns:
        head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
            for row in table.get("rows") or []
        )
        parts.append(
            f'<table class="sortable reference"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    intervals = paper_intervals(reference)
    if intervals:
        rows = "".join(
            f"<tr><td>{escape(s)}</td><td>{c} / {n}</td><td>{100 * c / n:.1f}</td>"
            f"<td>{low:.1f} - {high:.1f}</td></tr>"
            for s, c, n, low, high in intervals
        )
        parts.append(
            "<p>AIME24 extrapolation, s1-32B, greedy, 30 problems, 95 % exact interval:</p>"
            '<table class="sortable reference"><thead><tr><th>thinking_n_ignore</th>'
            "<th>correct / problems</th><th>accuracy (%)</th><th>95 % interval (%)</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    return "\n".join(parts)


def _curves_svg(report: Report, reference) -> str:
    from s1_eval.report.plots import figure_svg, scaling_figure

    figures = []
    for task in sorted({c.task for c in report.cells}):
        part = replace(
            report,
            cells=tuple(c for c in report.cells if c.task == task),
            curves=tuple(c for c in report.curves if c.task == task),
        )
        # the axes carry the task's name already; the figure title says what is plotted
        svg = figure_svg(scaling_figure(part, reference))
        figures.append(f"<figure><figcaption>{escape(task)}</figcaption>{svg}</figure>")
    return "\n".join(figures)


def render_html(report: Report, reference: bool | str | Path = False) -> str:
    """The whole page; ``reference``: True (the shipped paper numbers) or a JSON path."""
    ref = None
    if reference:
        from s1_eval.report.reference import load_reference

        ref = load_reference(None if reference is True else reference)
    head = "".join(f"<th>{escape(h)}</th>" for h, _, _ in COLUMNS)
    rows = "\n".join(_row(report, c) for c in report.curves)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>s1-eval leaderboard</title><style>{STYLE}</style></head>
<body>
<h1>Leaderboard</h1>
<p>Scaling in {escape(SCALING_UNIT)} (mean pairwise slope, paper §3.2). Control = share of capped
runs whose mean thinking stayed within the cap; per-sample Control = share of samples within
their cap. Performance = the best accuracy of the curve. Click a header to sort.</p>
{_list("incompatible", "<strong>These rows do not all compare:</strong>", _incompatibilities(report))}
<table class="sortable leaderboard"><thead><tr>{head}</tr></thead>
<tbody>
{rows}
</tbody></table>
{_list("notes", "<h2>Notes</h2>", _notes(report))}
{_reference_section(ref) if ref else ""}
<h2>Scaling curves</h2>
{_curves_svg(report, reference)}
<script>{SCRIPT}</script>
</body></html>
"""
