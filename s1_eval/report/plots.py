"""Scaling plot: accuracy against mean thinking tokens, one panel per task, one line per setting.

    plot_scaling(build_report(["runs/sweep"]), "runs/sweep/scaling.png", reference=True)

Each line is a curve of the report (one model and one setting series across budgets), points
labelled with their budget and drawn with ± stderr bars; the legend gives the curve's Scaling
in acc. points per 1k thinking tokens with its 95 % bootstrap interval. With ``reference`` the paper's s1-32B budget-forcing
accuracy for AIME24 / MATH500 / GPQA-Diamond (its main results table) is drawn as a dashed
horizontal line; the paper gives its curves only as figures, so no paper points are drawn.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from s1_eval.common.files import write_atomic
from s1_eval.common.numbers import fmt
from s1_eval.report.build import CellRow, CurveRow, Report
from s1_eval.report.metrics import SCALING_UNIT
from s1_eval.report.reference import load_reference, reference_accuracy

#: the x axis of a scaling plot
XAxis = Literal["thinking", "total"]


def plot_scaling(
    report: Report,
    path: str | Path,
    reference: bool | str | Path = False,
    title: str | None = None,
    x: XAxis = "thinking",
) -> Path:
    """Write the PNG (atomically) and return its path. ``reference``: True, or a JSON path."""
    out = Path(path)
    png = render_scaling(report, reference, title, x)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, png)
    return out


def render_scaling(
    report: Report,
    reference: bool | str | Path = False,
    title: str | None = None,
    x: XAxis = "thinking",
) -> bytes:
    """The scaling plot as PNG bytes (so a caller can write it together with other files).

    ``x``: "thinking" (mean thinking tokens per sample, the paper's axis) or "total" (mean
    thinking + answer tokens: what each sample cost)."""
    return figure_png(scaling_figure(report, reference, title, x))


def _x_value(row: CellRow, x: XAxis) -> float | None:
    return row.thinking_mean if x == "thinking" else row.generated_mean


def scaling_figure(
    report: Report,
    reference: bool | str | Path = False,
    title: str | None = None,
    x: XAxis = "thinking",
):
    """The scaling plot as an open matplotlib figure (PNG for files, SVG for the HTML page)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = load_reference(None if reference is True else reference) if reference else None
    tasks = sorted({row.task for row in report.cells}) or ["(no cells)"]
    columns = min(3, len(tasks))
    rows = math.ceil(len(tasks) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 4.2 * rows), squeeze=False)
    for index, task in enumerate(tasks):
        ax = axes[index // columns][index % columns]
        drawn = _draw_task_curves(ax, report, task, x)
        drawn += _draw_paper_line(ax, reference_accuracy(task, ref))
        _label_panel(ax, task, x, drawn)
    for index in range(len(tasks), rows * columns):
        axes[index // columns][index % columns].axis("off")
    default_title = "thinking tokens" if x == "thinking" else "generated tokens"
    fig.suptitle(title or f"Accuracy vs. {default_title} (point labels: budget)")
    return fig


def _draw_task_curves(ax, report: Report, task: str, x: XAxis) -> int:
    """One line per model and series of ``task``, labelled with its Scaling; how many drawn."""
    curves = {(c.model, c.task, c.series): c for c in report.curves}
    several_models = len({row.model for row in report.cells}) > 1
    drawn = 0
    for model, series in sorted({(r.model, r.series) for r in report.cells if r.task == task}):
        members = sorted(
            (
                r
                for r in report.cells
                if (r.task, r.model, r.series) == (task, model, series)
                and _x_value(r, x) is not None
                and r.accuracy_pct is not None
            ),
            key=lambda r: _x_value(r, x),
        )
        if not members:
            continue
        label = f"{model}: {series}" if several_models else series
        _draw_curve(
            ax, members, x, f"{label} (Scaling {_scaling_text(curves.get((model, task, series)))})"
        )
        drawn += 1
    return drawn


def _scaling_text(curve: CurveRow | None) -> str:
    text = fmt(curve.scaling if curve else None, 2)
    if curve is not None and curve.scaling_ci_low is not None:
        text += f" [{curve.scaling_ci_low:.2f}, {curve.scaling_ci_high:.2f}]"
    return text


def _draw_curve(ax, members: list[CellRow], x: XAxis, label: str) -> None:
    """Accuracy with its stderr against the x value, each point labelled with its budget."""
    xs = [_x_value(r, x) for r in members]
    line = ax.errorbar(
        xs,
        [r.accuracy_pct for r in members],
        yerr=[r.accuracy_stderr_pct or 0.0 for r in members],
        marker="o",
        capsize=3,
        label=label,
    )
    for r, at in zip(members, xs, strict=True):
        ax.annotate(
            r.budget,
            (at, r.accuracy_pct),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
            color=line[0].get_color(),
        )


def _draw_paper_line(ax, accuracy: float | None) -> int:
    if accuracy is None:
        return 0
    ax.axhline(
        accuracy,
        linestyle="--",
        color="grey",
        linewidth=1,
        label=f"s1-32B budget forcing, paper ({accuracy:.1f})",
    )
    return 1


def _label_panel(ax, task: str, x: XAxis, drawn: int) -> None:
    if drawn == 0:
        ax.text(
            0.5, 0.5, "no cells with thinking tokens", ha="center", va="center",
            transform=ax.transAxes,
        )  # fmt: skip
    ax.set_title(task)
    ax.set_xlabel(
        "mean thinking tokens per sample"
        if x == "thinking"
        else "mean generated tokens per sample (thinking + answer)"
    )
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(fontsize=7, title=f"Scaling: {SCALING_UNIT}", title_fontsize=7)


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (laid out, 120 dpi); the figure is closed."""
    import io

    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=120, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def figure_svg(fig) -> str:
    """A matplotlib figure as an inline ``<svg>`` element (text kept as text); closed after."""
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.StringIO()
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "s1-eval"}):
            # no <metadata> block: it names URLs (Dublin Core, matplotlib.org) the page does not need
            fig.savefig(
                buffer, format="svg", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type"))
            )
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    # the XML prolog and DOCTYPE (which names a URL) are for a file, not for inline markup
    return svg[svg.index("<svg") :]
