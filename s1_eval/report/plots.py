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
from s1_eval.report.build import Report
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


def scaling_figure(
    report: Report,
    reference: bool | str | Path = False,
    title: str | None = None,
    x: XAxis = "thinking",
):
    """The scaling plot as an open matplotlib figure (PNG for files, SVG for the HTML page)."""

    def x_of(row):
        return row.thinking_mean if x == "thinking" else row.generated_mean

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = None
    if reference:
        ref = load_reference(None if reference is True else reference)
    tasks = sorted({row.task for row in report.cells}) or ["(no cells)"]
    columns = min(3, len(tasks))
    rows = math.ceil(len(tasks) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 4.2 * rows), squeeze=False)
    curves = {(c.model, c.task, c.series): c for c in report.curves}
    models = sorted({row.model for row in report.cells})
    for index, task in enumerate(tasks):
        ax = axes[index // columns][index % columns]
        drawn = 0
        series_keys = sorted({(r.model, r.series) for r in report.cells if r.task == task})
        for model, series in series_keys:
            members = [
                r
                for r in report.cells
                if r.task == task
                and r.model == model
                and r.series == series
                and x_of(r) is not None
                and r.accuracy_pct is not None
            ]
            if not members:
                continue
            members.sort(key=x_of)
            curve = curves.get((model, task, series))
            scaling = fmt(curve.scaling if curve else None, 2)
            if curve is not None and curve.scaling_ci_low is not None:
                scaling += f" [{curve.scaling_ci_low:.2f}, {curve.scaling_ci_high:.2f}]"
            label = series if len(models) == 1 else f"{model}: {series}"
            line = ax.errorbar(
                [x_of(r) for r in members],
                [r.accuracy_pct for r in members],
                yerr=[r.accuracy_stderr_pct or 0.0 for r in members],
                marker="o",
                capsize=3,
                label=f"{label} (Scaling {scaling})",
            )
            for r in members:
                ax.annotate(
                    r.budget,
                    (x_of(r), r.accuracy_pct),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color=line[0].get_color(),
                )
            drawn += 1
        ref_acc = reference_accuracy(task, ref)
        if ref_acc is not None:
            ax.axhline(
                ref_acc,
                linestyle="--",
                color="grey",
                linewidth=1,
                label=f"s1-32B budget forcing, paper ({ref_acc:.1f})",
            )
            drawn += 1
        if drawn == 0:
            ax.text(
                0.5,
                0.5,
                "no cells with thinking tokens",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
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
    for index in range(len(tasks), rows * columns):
        axes[index // columns][index % columns].axis("off")
    default_title = "thinking tokens" if x == "thinking" else "generated tokens"
    fig.suptitle(title or f"Accuracy vs. {default_title} (point labels: budget)")
    return fig


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
