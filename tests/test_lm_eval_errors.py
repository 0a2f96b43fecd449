"""Bad input ends a real `lm_eval` run in one line; lm-eval's own errors print as before.

lm-eval's CLI has no error handler: an exception that ends a run prints its traceback. The
startup hook installs an excepthook that prints our ``InputError`` (a bad model_arg, gen_kwarg,
task data file or engine setting) as one ``error:`` line instead, ``S1_EVAL_DEBUG=1`` shows
its traceback, and anything else is left to the hook before. lm-eval's log and progress bars
are turned off here (LMEVAL_LOG_LEVEL=ERROR, TQDM_DISABLE=1) so the whole output is compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s1_eval.common.log import one_line
from s1_eval.core.settings import parse_gen_kwargs
from s1_eval.tasks.datafiles import REQUIRED, DataFileError, read_rows

DEBUG = " (S1_EVAL_DEBUG=1 shows the traceback)"


def lm_eval(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lm_eval", *args, "--limit", "2",
               "--output_path", str(tmp_path / "out")]  # fmt: skip
    quiet = {"LMEVAL_LOG_LEVEL": "ERROR", "TQDM_DISABLE": "1"}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, **quiet, **env},
    )


def message_of(call, *args) -> str:
    with pytest.raises(ValueError) as caught:
        call(*args)
    return one_line(caught.value)


def bad_math500(tmp_path: Path) -> Path:
    path = tmp_path / "math500.jsonl"
    path.write_text('{"problem": "What is 1 + 1?"}\n')
    return path


def test_a_bad_gen_kwarg_ends_the_run_in_one_line(tmp_path):
    gen = "max_tokens_thinkng=64"
    done = lm_eval(tmp_path, "--model", "s1_scripted", "--tasks", "s1_demo_counting",
                   "--gen_kwargs", gen)  # fmt: skip
    expected = message_of(parse_gen_kwargs, {"max_tokens_thinkng": 64})
    assert "Did you mean 'max_tokens_thinking'?" in expected
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: {expected}{DEBUG}\n")


def test_a_bad_model_arg_ends_the_run_in_one_line(tmp_path):
    done = lm_eval(tmp_path, "--model", "s1_scripted", "--model_args", "patience=0",
                   "--tasks", "s1_demo_counting")  # fmt: skip
    line = "error: patience=0 is invalid: expected an integer >= 1."
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"{line}{DEBUG}\n")


def test_bad_task_data_ends_the_run_in_one_line(tmp_path):
    path = bad_math500(tmp_path)
    done = lm_eval(tmp_path, "--model", "s1_scripted", "--tasks", "s1_math500",
                   S1_EVAL_MATH500_FILE=str(path))  # fmt: skip
    expected = message_of(read_rows, path, REQUIRED["math"], "math500")
    assert expected.startswith(f"{path}, line 1: the row has no 'answer' column")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"error: {expected}") and done.stderr.endswith(f"{DEBUG}\n")
    assert len(done.stderr.splitlines()) == 1


def test_a_data_folder_without_the_file_ends_the_run_in_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    done = lm_eval(tmp_path, "--model", "s1_scripted", "--tasks", "s1_math500",
                   S1_EVAL_DATA_DIR=str(tmp_path / "data"))  # fmt: skip
    line = (
        f"error: math500: {tmp_path / 'data' / 'math500.jsonl'} does not exist (S1_EVAL_DATA_DIR "
        f"or metadata s1_data_dir points at {tmp_path / 'data'}); add the file or set "
        "S1_EVAL_MATH500_FILE to its path"
    )
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"{line}{DEBUG}\n")


def test_s1_eval_debug_shows_the_traceback(tmp_path):
    done = lm_eval(tmp_path, "--model", "s1_scripted", "--model_args", "patience=0",
                   "--tasks", "s1_demo_counting", S1_EVAL_DEBUG="1")  # fmt: skip
    lines = done.stderr.splitlines()
    assert done.returncode == 1 and lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == (
        "s1_eval.common.errors.InputError: patience=0 is invalid: expected an integer >= 1."
    )


def test_lm_evals_own_error_still_prints_its_traceback(tmp_path):
    done = lm_eval(tmp_path, "--model", "s1_scripted", "--tasks", "s1_no_such_task")
    lines = done.stderr.splitlines()
    assert done.returncode == 1 and lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: Tasks not found: s1_no_such_task"
    assert not any(line.startswith("error: ") for line in lines)


def test_the_hook_shortens_only_our_error_class(capsys, monkeypatch):
    """In process: an InputError is one line; a plain ValueError goes to the hook before."""
    from s1_eval.common.errors import InputError
    from s1_eval.common.log import install_excepthook

    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: seen.append(exc[1]))
    monkeypatch.delenv("S1_EVAL_DEBUG", raising=False)
    install_excepthook()
    install_excepthook()  # idempotent: one wrapper
    ours, theirs = DataFileError("data.jsonl, line 3:\n  no answer"), ValueError("lm-eval's")
    sys.excepthook(DataFileError, ours, None)
    sys.excepthook(ValueError, theirs, None)
    assert capsys.readouterr().err == f"error: data.jsonl, line 3: no answer{DEBUG}\n"
    assert seen == [theirs] and isinstance(ours, InputError)
