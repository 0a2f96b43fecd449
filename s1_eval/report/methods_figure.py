"""Sequential and parallel test-time scaling on one axis: accuracy vs. total thinking tokens per
problem, one line per method, sequential methods solid and parallel ones dashed.

    png = render_methods_figure(build_report(["runs/x"]))

A sequential method spends one sample's thinking per problem; majority@k and short-m@k spend
the thinking of all their samples (``s1_eval.report.parallel``), so the two read on one axis.
Budget forcing is the run's plain cap curve (its series without a method).
"""

from __future__ import annotations

from s1_eval.report.build import Report
from s1_eval.report.plots import figure_png
from s1_eval.runs.methods import PAPER_NAMES, PARALLEL

#: the figure's file in a run folder (written with methods.md when such methods ran)
METHODS_FIGURE = "methods_tokens.png"


def method_lines(report: Report, task: str) -> dict[str, list[tuple[float, float, str]]]:
    """For one task: series -> [(total thinking tokens per problem, accuracy %, budget)]."""
    lines: dict[str, list[tuple[float, float, str]]] = {}
    for row in report.cells:
        if row.task != task or row.thinking_mean is None or row.accuracy_pct is None:
            continue
        lines.setdefault(row.series, []).append((row.thinking_mean, row.accuracy_pct, row.budget))
    return {series: sorted(points) for series, points in sorted(lines.items())}


def is_parallel(series: str) -> bool:
    return series.split(",")[0] in PARALLEL


def render_methods_figure(report: Report, title: str | None = None) -> bytes:
    """The figure as PNG bytes (one panel per task)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({row.task for row in report.cells}) or ["(no cells)"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(7.5 * len(tasks), 5.2), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for series, points in method_lines(report, task).items():
            method = series.split(",")[0]
            name = PAPER_NAMES.get(method, "budget forcing") if method in PAPER_NAMES else series
            ax.plot(
                [x for x, _, _ in points],
                [y for _, y, _ in points],
                linestyle="--" if is_parallel(series) else "-",
                marker="s" if is_parallel(series) else "o",
                label=f"{series}: {name}" if series != name else series,
            )
        ax.set_title(task)
        ax.set_xlabel("mean total thinking tokens per problem (all samples)")
        ax.set_ylabel("accuracy (%)")
        ax.set_xscale("symlog", linthresh=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, title="solid: sequential, dashed: parallel", title_fontsize=7)
    fig.suptitle(title or "Test-time scaling methods on one token axis")
    return figure_png(fig)
