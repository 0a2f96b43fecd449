"""What the demo measured: its tables, its targets and its figure, all read from its run folder.

    measured = measure_demo(Path("results/demo"))   # tables + targets, recomputed from samples

The demo sweeps three families of settings on one task; each is found by its setting alone:
- the **cap curve**: integer budgets, with up to two "Wait"s below the cap (budget forcing)
  and without any (the cap alone);
- the **"Wait" curve**: no cap, ``thinking_n_ignore`` = k with "Wait" (k = 0 is the model's
  native behaviour);
- the **string ablation**: no cap, two suppressions with another string (or none).
Differences against native are paired: the same problems, so each problem's difficulty
cancels. ``readme_section`` renders it all for the docs' demo page; a test compares the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from s1_eval.common.files import read_json
from s1_eval.common.numbers import fmt
from s1_eval.report.metrics import (
    SCALING_UNIT,
    RunPoint,
    cell_stats,
    scaling,
)
from s1_eval.report.statistics import PairedDifference, paired_difference
from s1_eval.runs.samples import Cell, load_cells

WAIT = "Wait"
RECORD_FILE = "demo.json"  # the training mix and the wall time of each demo run


@dataclass(frozen=True)
class Point:
    """One cell of the demo: what it asked for and what it measured."""

    cell: Cell
    accuracy_pct: float
    stderr_pct: float
    thinking_mean: float
    suppressions_mean: float
    vs_native: PairedDifference | None = None

    @property
    def setting(self):
        return self.cell.setting

    @property
    def label(self) -> str:
        s = self.setting
        if s.cap is not None:
            return f"budget {s.cap}"
        if not s.n_ignore:
            return "native (no forcing)"
        word = "no string" if not s.ignore_str else f'"{s.ignore_str}"'
        return f"{s.n_ignore}× {word}"


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool


@dataclass(frozen=True)
class DemoMeasurement:
    cap_only: tuple[Point, ...]
    cap_with_wait: tuple[Point, ...]
    native: Point | None
    wait_curve: tuple[Point, ...]  # k >= 1, "Wait", no cap
    ablation: tuple[Point, ...]  # no cap, another string (or none)
    premature: int  # native samples that closed their thinking themselves with a wrong count
    targets: tuple[Target, ...]


def _point(cell: Cell, native: Cell | None = None) -> Point:
    stats = cell_stats(cell.records, cap=cell.setting.cap)
    return Point(
        cell=cell,
        accuracy_pct=stats.accuracy_pct or 0.0,
        stderr_pct=stats.accuracy_stderr_pct or 0.0,
        thinking_mean=stats.thinking_mean or 0.0,
        suppressions_mean=stats.suppressions_mean or 0.0,
        vs_native=paired_difference(native.records, cell.records) if native else None,
    )


def measure_demo(run_dir: str | Path) -> DemoMeasurement:
    cells, _ = load_cells([run_dir])
    uncapped = [c for c in cells if c.setting.budget is None]
    native_cell = next((c for c in uncapped if not c.setting.n_ignore), None)
    capped = sorted((c for c in cells if c.setting.cap is not None), key=lambda c: c.setting.cap)
    native = _point(native_cell) if native_cell else None
    wait_curve = sorted(
        (_point(c, native_cell) for c in uncapped if c.setting.n_ignore and c.setting.ignore_str == WAIT),
        key=lambda p: p.setting.n_ignore,
    )  # fmt: skip
    ablation = [
        _point(c, native_cell)
        for c in uncapped
        if c.setting.n_ignore and c.setting.ignore_str != WAIT
    ]
    ablation.sort(key=lambda p: (p.setting.n_ignore, -len(p.setting.ignore_str or "")))
    premature = 0
    if native_cell:
        premature = sum(r.correct == 0 and not r.cap_fired for r in native_cell.records)
    measured = DemoMeasurement(
        cap_only=tuple(_point(c) for c in capped if not c.setting.n_ignore),
        cap_with_wait=tuple(_point(c) for c in capped if c.setting.n_ignore),
        native=native,
        wait_curve=tuple(wait_curve),
        ablation=tuple(ablation),
        premature=premature,
        targets=(),
    )
    return DemoMeasurement(**{**measured.__dict__, "targets": tuple(check_targets(measured))})


def _control_pct(points: Sequence[Point]) -> float | None:
    """Per-sample Control pooled over the points (metrics.cell_stats counts each cell)."""
    stats = [cell_stats(p.cell.records, cap=p.setting.cap) for p in points]
    capped = sum(s.n_capped for s in stats)
    return 100.0 * sum(s.n_within_cap for s in stats) / capped if capped else None


def check_targets(m: DemoMeasurement) -> list[Target]:
    """The demo's claims, each measured on its own run folder."""
    targets: list[Target] = []
    if m.native is not None:
        n = len(m.native.cell.records)
        targets.append(Target("native accuracy (no cap, no suppression) <= 70%",
                              f"{m.native.accuracy_pct:.1f}% ({m.premature}/{n} concluded too soon)",
                              m.native.accuracy_pct <= 70))  # fmt: skip
    if m.native is not None and m.wait_curve:
        curve = [m.native, *m.wait_curve]
        accuracies = [p.accuracy_pct for p in curve]
        rising = all(b >= a for a, b in pairwise(accuracies)) and accuracies[-1] > accuracies[0]
        targets.append(Target('accuracy rises with the number of "Wait"s',
                              " -> ".join(f"{a:.0f}" for a in accuracies) + "%", rising))  # fmt: skip
        early = [p for p in m.wait_curve if p.setting.n_ignore <= 2]
        best = max(early, key=lambda p: p.accuracy_pct, default=None)
        if best is not None:
            targets.append(Target('>= 90% with at most 2 "Wait"s',
                                  f"{best.accuracy_pct:.1f}% ({best.label})", best.accuracy_pct >= 90))  # fmt: skip
        for p in m.wait_curve:
            d = p.vs_native
            if d is None or d.stderr_pct is None:
                continue
            targets.append(Target(f"{p.label}: gain over native > 3x its paired stderr",
                                  f"{d.difference_pct:+.1f} ± {d.stderr_pct:.1f} points",
                                  d.difference_pct > 3 * d.stderr_pct))  # fmt: skip
    if len(m.cap_with_wait) >= 2:
        low, high = m.cap_with_wait[0], m.cap_with_wait[-1]
        targets += [
            Target(f"cap curve: accuracy at budget {low.setting.cap} <= 30%", f"{low.accuracy_pct:.1f}%", low.accuracy_pct <= 30),
            Target(f"cap curve: accuracy at budget {high.setting.cap} >= 80%", f"{high.accuracy_pct:.1f}%", high.accuracy_pct >= 80),
        ]  # fmt: skip
    for name, points in (("cap curve", m.cap_with_wait), ("cap alone", m.cap_only)):
        control = _control_pct(points)
        if control is not None:
            targets.append(Target(f"Control 100% ({name}, every sample within its cap)",
                                  f"{control:.0f}%", control == 100))  # fmt: skip
    return targets


# --------------------------------------------------------------------------- tables


def _acc(p: Point) -> str:
    return f"{p.accuracy_pct:.1f} ± {p.stderr_pct:.1f}"


def _scaling(points: Sequence[Point]) -> str:
    value = scaling([RunPoint(p.thinking_mean, p.accuracy_pct) for p in points])
    return fmt(value, 0, signed=True)


def cap_table(m: DemoMeasurement) -> str:
    alone_at = {p.setting.cap: p for p in m.cap_only}
    rows = ['| budget | cap alone: accuracy (%) | mean thinking | cap + up to 2 "Wait": accuracy (%) | mean thinking | cap fired |',
            "|---|---|---|---|---|---|"]  # fmt: skip
    for p in m.cap_with_wait:
        alone = alone_at.get(p.setting.cap)
        fired = cell_stats(p.cell.records, cap=p.setting.cap).cap_fired_pct or 0.0
        without = f"{_acc(alone)} | {alone.thinking_mean:.1f}" if alone else "n/a | n/a"
        rows.append(
            f"| {p.setting.cap} | {without} | {_acc(p)} | {p.thinking_mean:.1f} | {fired:.0f}% |"
        )
    rows += ["", f"Scaling ({SCALING_UNIT}): cap alone {_scaling(m.cap_only)}, "
             f'cap + "Wait" {_scaling(m.cap_with_wait)}.']  # fmt: skip
    return "\n".join(rows)


def wait_table(m: DemoMeasurement) -> str:
    rows = ["| no cap | accuracy (%) ± stderr | mean thinking tokens | suppressions used | vs native: paired difference (points) | won / lost |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for p in ([m.native] if m.native else []) + list(m.wait_curve) + list(m.ablation):
        d = p.vs_native
        paired = "—" if d is None else f"{d.difference_pct:+.1f} ± {d.stderr_pct or 0:.1f}"
        record = "—" if d is None else f"{d.wins} / {d.losses}"
        rows.append(f"| {p.label} | {_acc(p)} | {p.thinking_mean:.1f} | "
                    f"{p.suppressions_mean:.2f} | {paired} | {record} |")  # fmt: skip
    return "\n".join(rows)


def targets_table(m: DemoMeasurement) -> str:
    rows = ["| target (measured by the demo itself) | measured | |", "|---|---|---|"]
    rows += [f"| {t.name} | {t.measured} | {'met' if t.met else 'MISSED'} |" for t in m.targets]
    return "\n".join(rows)


def read_record(run_dir: str | Path) -> dict:
    path = Path(run_dir) / RECORD_FILE
    return read_json(path) if path.is_file() else {}


def read_timings(run_dir: str | Path) -> list[dict]:
    return read_record(run_dir).get("runs", [])


def mix_table(counts: dict[str, int]) -> str:
    rows = ["| training traces | rows |", "|---|---|"]
    rows += [f"| {name} | {value} |" for name, value in counts.items()]
    return "\n".join(rows)


def timing_line(timings: Sequence[dict]) -> str:
    fresh = next((t for t in timings if t.get("trained")), None)
    rerun = next((t for t in reversed(timings) if not t.get("trained")), None)
    parts = []
    if fresh:
        parts.append(f"training {fresh['train_seconds']:.0f} s (model conversion included), "
                     f"whole demo {fresh['total_seconds']:.0f} s")  # fmt: skip
    if rerun:
        parts.append(f"a rerun with the model cached {rerun['total_seconds']:.0f} s")
    return "; ".join(parts)


def readme_section(run_dir: str | Path) -> str:
    """The demo page's results (docs/demo.md), generated from the committed run folder."""
    m = measure_demo(run_dir)
    record = read_record(run_dir)
    timings = timing_line(record.get("runs", []))
    n = len(m.native.cell.records) if m.native else 0
    parts = []
    if record.get("training_set"):
        parts += [mix_table(record["training_set"]), ""]
    parts += [
        f"Budget sweep (the cap), greedy, {n} held-out problems:",
        "",
        cap_table(m),
        "",
        "Extending thinking (no cap; k suppressions, each followed by the string), and the "
        "paper's string ablation:",
        "",
        wait_table(m),
        "",
        targets_table(m),
    ]
    if timings:
        parts += ["", f"Time on 2 CPU cores, install excluded: {timings}."]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- figure


@dataclass(frozen=True)
class Series:
    """One line (or set of markers) of the figure: points as (thinking, accuracy, stderr, label)."""

    label: str
    points: tuple[tuple[float, float, float, str], ...]
    marker: str
    line: bool = True


def figure_series(m: DemoMeasurement) -> list[Series]:
    """What the figure draws: the cap curves (points labelled by budget), the "Wait" curve
    (labelled by k) and the ablation's markers."""

    def points(members: Sequence[Point], label) -> tuple:
        return tuple((p.thinking_mean, p.accuracy_pct, p.stderr_pct, label(p)) for p in members)

    def budget(p: Point) -> str:
        return str(p.setting.cap)

    wait = ([m.native] if m.native else []) + list(m.wait_curve)
    series = [
        Series('cap (budget sweep) + up to 2 "Wait"', points(m.cap_with_wait, budget), "o"),
        Series("cap alone (no suppression)", points(m.cap_only, budget), "s"),
        Series('extend: k × "Wait", no cap', points(wait, lambda p: f"k={p.setting.n_ignore or 0}"), "D"),
    ]  # fmt: skip
    series += [
        Series(f"ablation: {p.label}", points([p], lambda _: ""), "x", line=False)
        for p in m.ablation
    ]
    return [s for s in series if s.points]


def render_figure(m: DemoMeasurement) -> bytes:
    """Accuracy vs mean thinking tokens: the cap curve and the "Wait" curve on one axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from s1_eval.report.plots import figure_png

    fig, ax = plt.subplots(figsize=(7, 4.6))
    for index, series in enumerate(figure_series(m)):
        xs, ys, errors, labels = zip(*series.points, strict=True)
        drawn = ax.errorbar(xs, ys, yerr=errors, marker=series.marker, capsize=3,
                            markersize=9 if not series.line else 6,
                            linestyle="-" if series.line else "none", label=series.label)  # fmt: skip
        # budgets past the model's own stop land on one point: one label "48,64,96" there, and
        # each series' labels on their own row (the third above) so curves meeting stay readable
        at: dict[tuple[float, float], list[str]] = {}
        for x, y, label in zip(xs, ys, labels, strict=True):
            at.setdefault((round(x, 1), round(y, 1)), []).append(label)
        for (x, y), names in at.items():
            ax.annotate(",".join(n for n in names if n), (x, y), textcoords="offset points",
                        xytext=(5, -11 - 9 * index) if index < 2 else (4, 6), fontsize=7,
                        color=drawn[0].get_color())  # fmt: skip
    ax.set_xlabel("mean thinking tokens per sample")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-5, 105)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("s1 in miniature: the cap (labels: budget) and the extension (k)", fontsize=10)
    return figure_png(fig)
