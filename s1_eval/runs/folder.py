"""The run folder, in one place: its layout, the grid point ``Setting``, budget values; its
files are written atomically (``s1_eval.common.files``, re-exported here). The sweep writes run
folders; samples and report read them (a samples row's trace columns: ``s1_eval.trace``).

    folder = cell_folder("runs/x", "s1_aime24", Setting(512, 2, "Wait"))

Layout of a sweep's folder::

    RUN_DIR/sweep.json                                   what the sweep is (checked on resume)
    RUN_DIR/trajectories.jsonl                           every generated step (s1_eval.core.sharing)
    RUN_DIR/cells/<task>__<setting>/cell.json            marker, written last
    RUN_DIR/cells/<task>__<setting>/<model>/results_<date>.json, samples_<task>_<date>.jsonl
    RUN_DIR/cells/.tmp-<cell>.<pid>.<random>/            a cell in progress (never read)
    RUN_DIR/.tmp-<file>.<random>                         a file being written (never read)
    RUN_DIR/.lock                                        held by the one process writing it

A cell is written into its temporary folder, its ``cell.json`` is added, and only then is the
folder renamed into place: a finished cell is complete, a killed run leaves only a temporary
folder, which the next run of the same sweep removes once its process is gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# atomic writes live in s1_eval.common.files; named here too, as the run folder's way to write a file
from s1_eval.common.files import TMP_PREFIX as TMP_PREFIX
from s1_eval.common.files import replacing as replacing
from s1_eval.common.files import write_all_atomic as write_all_atomic
from s1_eval.common.files import write_atomic as write_atomic
from s1_eval.common.files import write_json_atomic as write_json_atomic
from s1_eval.core.settings import NO_CAP_WORDS
from s1_eval.runs.methods import forces_budget, method_gen_kwargs

SWEEP_FILE = "sweep.json"
CELL_FILE = "cell.json"
TRAJECTORIES_FILE = "trajectories.jsonl"
SWEEP_VERSION = 1

#: gen_kwargs that define a budget-forcing setting (s1 fork names)
BUDGET_KEY, N_IGNORE_KEY, IGNORE_STR_KEY = (
    "max_tokens_thinking",
    "thinking_n_ignore",
    "thinking_n_ignore_str",
)
#: the sampling seed gen_kwarg: a sampled sweep's repeats differ only in it
SEED_KEY = "seed"


# --------------------------------------------------------------------------- values


def read_count(value: Any) -> int | str | None:
    """A budget or count as found in a file: ints, integral floats, digit strings -> int;
    'none' / '' -> None; other text (e.g. 'auto') is kept. Never raises."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if text.lower() in {"", *NO_CAP_WORDS}:
        return None
    try:
        return int(text)
    except ValueError:
        return text


# --------------------------------------------------------------------------- the grid point


@dataclass(frozen=True)
class Setting:
    """A budget-forcing setting: thinking cap, suppression count, ignore string and sampling seed.

    ``budget`` is an int cap, ``"auto"``, or ``None`` (no cap asked for). ``seed`` is set for
    the repeats of a sampled sweep (``--seeds``), one cell per seed. ``method`` names another
    way to control thinking (``s1_eval.runs.methods``: a budget stated in the prompt, a
    class prompt, chat-template levels, rejection sampling) and ``level`` its non-numeric
    level; for those ``budget`` is the bound the method aims at, a cap only where it forces.
    ``name`` reads like ``budget=512,n_ignore=2,str=Wait``; ``series`` is the name without the
    budget (one curve of a sweep; each seed draws its own curve; each method its own).
    """

    budget: int | str | None = None
    n_ignore: int | None = None
    ignore_str: str | None = None
    seed: int | None = None
    method: str | None = None
    level: str | None = None

    def __post_init__(self) -> None:
        if not self.n_ignore:  # an ignore string without suppressions changes nothing
            object.__setattr__(self, "ignore_str", None)

    @property
    def series(self) -> str:
        parts = [self.method] if self.method else []
        if self.n_ignore is not None:
            parts.append(f"n_ignore={self.n_ignore}")
        if self.ignore_str is not None and (self.n_ignore or 0) > 0:
            plain = self.ignore_str and self.ignore_str.strip() == self.ignore_str
            parts.append(f"str={self.ignore_str if plain else json.dumps(self.ignore_str)}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(parts) or "budget forcing"

    @property
    def capped(self) -> bool:
        """Whether the budget is sent as ``max_tokens_thinking`` (a prompted bound is not)."""
        return forces_budget(self.method)

    @property
    def unseeded(self) -> Setting:
        """The same setting without its seed: what the repeats of one setting share."""
        return replace(self, seed=None)

    @property
    def name(self) -> str:
        budget = "none" if self.budget is None else self.budget
        if self.method:
            rest = self.series.split(",")[1:]
            parts = [f"method={self.method}"]
            parts += [f"budget={budget}"] if self.budget is not None or not self.level else []
            parts += [f"level={self.level}"] if self.level else []
            return ",".join(parts + rest)
        rest = self.series
        return f"budget={budget}" + ("" if rest == "budget forcing" else f",{rest}")

    @property
    def slug(self) -> str:
        """A file-name-safe form of ``name``."""
        return re.sub(r"[^A-Za-z0-9=,._-]+", "_", self.name)

    @property
    def cap(self) -> int | None:
        if self.method == "nothinking":  # its budget limits the answer, not the thinking
            return None
        return self.budget if isinstance(self.budget, int) else None

    def gen_kwargs(self) -> dict[str, Any]:
        """The gen_kwargs for lm-eval (keys left out when not set)."""
        out: dict[str, Any] = {}
        if self.budget is not None and self.capped:
            out[BUDGET_KEY] = self.budget
        if self.n_ignore is not None:
            out[N_IGNORE_KEY] = self.n_ignore
        if self.ignore_str is not None:
            out[IGNORE_STR_KEY] = self.ignore_str
        if self.seed is not None:
            out[SEED_KEY] = self.seed
        if self.method:
            out.update(method_gen_kwargs(self.method, self.level, self.budget))
        return out

    def to_dict(self) -> dict[str, Any]:
        data = {"budget": self.budget, "n_ignore": self.n_ignore, "ignore_str": self.ignore_str}
        # only when set, so the folders of older sweeps stay as they were
        extra = {"seed": self.seed, "method": self.method, "level": self.level}
        return {**data, **{k: v for k, v in extra.items() if v is not None}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Setting:
        n_ignore = read_count(data.get("n_ignore"))
        seed = data.get("seed")
        method, level = data.get("method"), data.get("level")
        return cls(
            read_count(data.get("budget")),
            n_ignore if isinstance(n_ignore, int) else None,
            data.get("ignore_str"),
            seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            method if isinstance(method, str) and method else None,
            str(level) if level is not None else None,
        )

    @classmethod
    def from_gen_kwargs(cls, *sources: Mapping[str, Any] | None) -> Setting:
        """Take each key from the first source that has it (e.g. task gen_kwargs, s1_forcing)."""

        def pick(key: str) -> Any:
            for source in sources:
                if source and source.get(key) is not None:
                    return source[key]
            return None

        ignore_str = pick(IGNORE_STR_KEY)
        if isinstance(ignore_str, (list, tuple)):  # the backend records a list of strings
            ignore_str = ignore_str[0] if len(ignore_str) == 1 else "|".join(map(str, ignore_str))
        return cls.from_dict(
            {
                "budget": pick(BUDGET_KEY),
                "n_ignore": pick(N_IGNORE_KEY),
                "ignore_str": ignore_str,
                "seed": pick(SEED_KEY),
            }
        )


# --------------------------------------------------------------------------- layout


def cell_folder(output: str | Path, task: str, setting: Setting) -> Path:
    task_part = re.sub(r"[^A-Za-z0-9._-]+", "_", task)
    return Path(output) / "cells" / f"{task_part}__{setting.slug}"


#: lm-eval's results files (its EvaluationTracker names them results_<date>.json)
RESULTS_GLOB = "results_*.json"


def samples_path(results_file: Path, task: str) -> Path:
    """lm-eval's samples file of ``task`` beside a results file: samples_<task>_<date>.jsonl."""
    date_id = results_file.stem[len("results_") :]
    return results_file.parent / f"samples_{task}_{date_id}.jsonl"


def is_sweep(folder: str | Path) -> bool:
    return (Path(folder) / SWEEP_FILE).is_file()


def is_finished(folder: Path) -> bool:
    return (folder / CELL_FILE).is_file()


def finished_markers(output: str | Path) -> list[Path]:
    """The ``cell.json`` of every finished cell (temporary folders never match)."""
    return sorted(Path(output).glob(f"cells/*/{CELL_FILE}"))


def is_temporary(path: Path, root: Path) -> bool:
    return any(part.startswith(TMP_PREFIX) for part in path.relative_to(root).parts)


def new_cell_tmp(final: Path) -> Path:
    """A temporary folder for a cell in progress, named by this process (see clean_stale)."""
    prefix = f"{TMP_PREFIX}{final.name}.{os.getpid()}."
    return Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))


def _owner_pid(path: Path) -> int | None:
    match = re.search(r"\.(\d+)\.[^.]*$", path.name)
    return int(match.group(1)) if match else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_cells(output: str | Path) -> list[Path]:
    """Temporary cell folders of other processes that are running now."""
    return [
        path
        for path in (Path(output) / "cells").glob(f"{TMP_PREFIX}*")
        if (pid := _owner_pid(path)) is not None and pid != os.getpid() and _pid_alive(pid)
    ]


def clean_stale(output: str | Path) -> list[Path]:
    """Remove temporary cell folders / files whose process is gone; return what was removed."""
    removed = []
    live = set(live_cells(output))
    for root in (Path(output), Path(output) / "cells"):
        for path in root.glob(f"{TMP_PREFIX}*"):
            if path in live:
                continue  # another live sweep owns it
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed
