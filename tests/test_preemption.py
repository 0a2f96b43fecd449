"""s1-train killed and rerun with the same command: SIGTERM, kill -9, finished and foreign folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("trl")

from s1_eval.common.bundled import TRAINER_DIR
from s1_eval.trainer import preemption, sft
from tests.test_trainer import smollm2_path, tiny_argv, tiny_qwen2  # noqa: F401 (fixtures)

# 2 epochs of the 8-row fixture at batch 2, so a resume crosses an epoch boundary; its longest
# sample is 106 tokens, so max_length 128 changes nothing but the padding work.
STEPS, SAVE_STEPS = 8, 2


def command(model: Path, output_dir: Path) -> list[str]:
    flags = ("--max_steps", str(STEPS), "--save_strategy", "steps", "--save_steps", str(SAVE_STEPS),
             "--max_length", "128")  # fmt: skip
    return [sys.executable, "-m", "s1_eval.trainer.sft", *tiny_argv(model, output_dir, *flags)]


def run_to_end(argv: list[str], log: Path) -> tuple[int, str]:
    with log.open("w") as handle:
        code = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, timeout=600).returncode
    return code, log.read_text()


def kill_after_first_checkpoint(argv: list[str], output_dir: Path, log: Path, signum) -> int:
    """Start the run, wait for checkpoint-SAVE_STEPS to be whole, send signum; the exit code."""
    first = output_dir / f"checkpoint-{SAVE_STEPS}"
    with log.open("w") as handle:
        process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not preemption.has_state(first) and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        assert process.poll() is None, f"finished before the signal:\n{log.read_text()[-2000:]}"
        process.send_signal(signum)
        return process.wait(timeout=300)


def weights(output_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(output_dir / "model.safetensors")


def assert_same_weights(got: dict, expected: dict) -> None:
    import torch

    assert got.keys() == expected.keys()
    different = [name for name in expected if not torch.equal(got[name], expected[name])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def uninterrupted(tiny_qwen2, tmp_path_factory) -> Path:  # noqa: F811
    output_dir = tmp_path_factory.mktemp("uninterrupted") / "out"
    code, log = run_to_end(command(tiny_qwen2, output_dir), output_dir.parent / "log")
    assert code == 0, log[-3000:]
    return output_dir


def test_sigterm_saves_stops_and_the_rerun_matches_an_uninterrupted_run(
    tiny_qwen2,  # noqa: F811
    uninterrupted,
    tmp_path,
):
    output_dir = tmp_path / "out"
    argv = command(tiny_qwen2, output_dir)
    code = kill_after_first_checkpoint(argv, output_dir, tmp_path / "log1", signal.SIGTERM)
    log = (tmp_path / "log1").read_text()
    assert code == preemption.PREEMPTED_EXIT, log[-3000:]
    stops = [line for line in log.splitlines() if "SIGTERM: saved" in line]
    assert len(stops) == 1 and "rerun the same command to resume" in stops[0], log[-3000:]
    saved = preemption.last_complete_checkpoint(output_dir)
    assert saved is not None and saved.name in stops[0]
    assert not (output_dir / "model.safetensors").exists()  # a stopped run is not a finished one

    code, log = run_to_end(argv, tmp_path / "log2")
    assert code == 0, log[-3000:]
    assert f"output_dir has checkpoints: resuming from {saved}" in log
    assert_same_weights(weights(output_dir), weights(uninterrupted))


def test_kill_9_resumes_from_the_last_whole_checkpoint(tiny_qwen2, uninterrupted, tmp_path):  # noqa: F811
    output_dir = tmp_path / "out"
    argv = command(tiny_qwen2, output_dir)
    code = kill_after_first_checkpoint(argv, output_dir, tmp_path / "log1", signal.SIGKILL)
    assert code == -signal.SIGKILL
    saved = preemption.last_complete_checkpoint(output_dir)
    # What a kill during a save leaves: a newer folder without its trainer_state.json.
    (output_dir / "checkpoint-999").mkdir()
    (output_dir / "checkpoint-999" / "model.safetensors").write_bytes(b"cut short")

    code, log = run_to_end(argv, tmp_path / "log2")
    assert code == 0, log[-3000:]
    assert f"resuming from {saved}; skipped checkpoint-999" in log
    assert_same_weights(weights(output_dir), weights(uninterrupted))


def test_a_finished_output_dir_is_left_alone(uninterrupted, capsys):
    before = {path: path.stat().st_mtime_ns for path in uninterrupted.rglob("*")}
    # Same command again: one line, exit 0, before any model loads (so in-process is enough).
    with pytest.raises(SystemExit) as exit_status:
        sft.main(command(Path("no-model-needed"), uninterrupted)[3:])
    assert exit_status.value.code == 0
    out = capsys.readouterr().out
    assert "already holds a finished model (trainer_state.json): nothing to train" in out
    assert {path: path.stat().st_mtime_ns for path in uninterrupted.rglob("*")} == before


def config_for(output_dir: Path, resume: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(output_dir=str(output_dir), resume_from_checkpoint=resume)


def test_half_written_checkpoints_are_never_picked(tmp_path):
    for step, whole in ((2, True), (10, True), (12, False), (100, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if whole:
            (folder / preemption.STATE_FILE).write_text(f'{{"global_step": {step}}}')
    (tmp_path / "checkpoint-11").mkdir()  # killed between opening trainer_state.json and writing
    (tmp_path / "checkpoint-11" / preemption.STATE_FILE).write_text('{"global_st')
    (tmp_path / "checkpoint-x").mkdir()  # not a checkpoint name
    assert preemption.last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    config = config_for(tmp_path)
    line = preemption.plan_resume(config)
    assert config.resume_from_checkpoint == str(tmp_path / "checkpoint-10")
    assert line.endswith(
        "skipped checkpoint-11, checkpoint-12, checkpoint-100 (no whole trainer_state.json: cut short)"
    )
    config = SimpleNamespace(
        output_dir=str(tmp_path), resume_from_checkpoint=None, save_only_model=True
    )
    assert preemption.plan_resume(config).endswith("the optimizer and LR schedule start over")


def test_fresh_foreign_and_explicit_output_dirs(tmp_path):
    assert preemption.plan_resume(config_for(tmp_path / "new")) is None
    (tmp_path / "checkpoint-3").mkdir()  # only a cut-short one: start over
    assert "training from step 0" in preemption.plan_resume(config_for(tmp_path))
    (tmp_path / "config.json").write_text("{}")  # a model from elsewhere, no checkpoint
    with pytest.raises(preemption.ConfigError, match=r"output_dir: .* holds a model but no"):
        preemption.plan_resume(config_for(tmp_path))
    explicit = config_for(tmp_path, resume="elsewhere/checkpoint-7")
    assert (
        preemption.plan_resume(explicit)
        == "resuming from elsewhere/checkpoint-7 (resume_from_checkpoint)"
    )


def test_slurm_script_requeues_on_preemption():
    script = TRAINER_DIR / "slurm" / "s1_multinode.sbatch"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for needed in (
        "#SBATCH --requeue",
        "#SBATCH --signal=B:TERM@",
        "trap ",
        "scontrol requeue",
        "TORCH_ELASTIC_SHUTDOWN_TIMEOUT=",
    ):
        assert needed in text, needed


RANK_SCRIPT = """
import sys
from accelerate import PartialState
from transformers import TrainerControl, TrainerState
from s1_eval.trainer.preemption import StopOnSigterm

PartialState()  # joins the gloo group from RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
stop = StopOnSigterm()
stop.signalled = sys.argv[1] == "1"
control = stop.on_step_end(None, TrainerState(global_step=5), TrainerControl())
print(control.should_save, control.should_training_stop, stop.stopped_at)
"""


def test_ranks_stop_together_when_only_one_got_the_signal():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ranks = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "ACCELERATE_USE_CPU": "true"}  # fmt: skip
        command = [sys.executable, "-c", RANK_SCRIPT, str(rank)]  # only rank 1 saw SIGTERM
        ranks.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=300)[0].split() for process in ranks]
    assert [process.returncode for process in ranks] == [0, 0]
    assert outputs == [["True", "True", "5"], ["True", "True", "5"]]
