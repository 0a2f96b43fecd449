"""The scripted engine behind ``--model s1_scripted``: a deterministic toy "model" and tokenizer,
no weights, that runs through the real forcing loop, step sharing and sweeps.

    lm_eval --model s1_scripted --tasks s1_demo_arithmetic --gen_kwargs max_tokens_thinking=64

Its next token is a function of the prefix text only (like a greedy model), so shared steps
equal separate ones and a stored trajectory continues exactly. Each prompt has a ``need``: the
thinking tokens it takes to be right (from "needs K thinking tokens" in the prompt, else 32 to
256 by a hash of it). The model thinks ``min(need, patience)`` tokens, then writes the preset's
end-of-thinking delimiter; every "Wait" (or "Hmm", "Alternatively") already in its thinking buys
``wait_tokens`` more. Its answer, ``\\boxed{x}``, is right (the sum, difference or product of the
prompt's last ``a + b``; else a guess) when it thought at least ``need`` tokens, else off by one.
Sampling (temperature > 0) varies its patience by the seed. It obeys prompted controls as a
model trained on them would: "Think for up to N tokens" (or N steps of ``STEP_CHARS``) caps its
patience, a "short"/"long amount of thinking" prompt halves/doubles it, and so does a
``reasoning_effort`` of low/high passed to its chat template. Tokens are characters, plus a few
special tokens; the engine applies max_tokens, stops, EOS, min_tokens and the context length
(``max_model_len``: a step ends with "length" when the context is full) as vLLM does, and
banned words (a step's ``control.bad_words``) as vLLM's ``bad_words``: the token that would
complete one, with or without a leading space, within the step, is written as a space instead;
and a step's ``thinking_token_budget`` as vLLM's: the end delimiter is written at the budget.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from s1_eval.common.errors import InputError
from s1_eval.core.s1_format import PRESETS, Delimiters
from s1_eval.core.settings import Sampling
from s1_eval.core.steps import GenerationStep, StepResult
from s1_eval.engines.lazy import LazyEngine
from s1_eval.engines.tokenizer import HFTokenizer, load_tokenizer

SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")
EOS = (0, 2)  # <|endoftext|> and <|im_end|>, as Qwen's generation config lists both
CHAR_OFFSET = len(SPECIAL)
#: what the model thinks, over and over; no digit, delimiter or reconsidering word in it
THOUGHTS = (
    "Let me read the question again. I work through it one part at a time. "
    "Each step follows from the one before. That looks consistent so far. "
)
RECONSIDER = ("Wait", "Hmm", "Alternatively")
RECHECK = ", let me check that. "
NEED = re.compile(r"needs (\d+) thinking tokens")
PROMPTED = re.compile(r"Think for up to (\d+) (tokens|steps)\.")
#: the prompted controls, left out when the toy judges how hard a question is
CONTROL_TEXT = re.compile(
    r"\n\n(?:Think for up to \d+ (?:tokens|steps)\.|Answer after a (?:short|long) amount of "
    r"thinking\.[^<\n]*)|<\|im_start\|>system\nReasoning: \w+<\|im_end\|>\n"
)
#: the toy's thinking step: how many characters "Think for up to N steps" allows per step
STEP_CHARS = 10
PATIENCE_SCALE = {"short amount of thinking": 0.5, "long amount of thinking": 2.0,
                  "Reasoning: low": 0.5, "Reasoning: high": 2.0}  # fmt: skip
ARITHMETIC = re.compile(r"(-?\d+)\s*([-+*×])\s*(-?\d+)")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class ScriptedTokenizer:
    """One token per character, plus the special tokens; ``hf`` is the slice of a Hugging Face
    tokenizer lm-eval reads (name, chat template), here the tokenizer itself."""

    vocab_size = CHAR_OFFSET + 0x110000
    eos_token_ids = frozenset(EOS)
    name_or_path = "s1-scripted"
    chat_template = CHAT_TEMPLATE

    def __init__(self):
        self.hf = self
        self._special_ids = {text: i for i, text in enumerate(SPECIAL)}

    def encode(self, text: str) -> list[int]:
        ids, i = [], 0
        while (at := text.find("<", i)) >= 0:  # every special token starts with "<"
            special = next((s for s in SPECIAL if text.startswith(s, at)), None)
            ids += [CHAR_OFFSET + ord(c) for c in text[i:at]]
            ids.append(self._special_ids[special] if special else CHAR_OFFSET + ord("<"))
            i = at + (len(special) if special else 1)
        return ids + [CHAR_OFFSET + ord(c) for c in text[i:]]

    def decode(self, token_ids: Sequence[int]) -> str:
        # ids past the vocabulary decode to nothing, as in real tokenizers
        return "".join(
            SPECIAL[t] if t < CHAR_OFFSET else chr(t - CHAR_OFFSET)
            for t in token_ids
            if 0 <= t < self.vocab_size
        )

    def apply_chat_template(
        self,
        chat_history: list[dict],
        tokenize: bool = False,
        add_generation_prompt: bool = True,
        continue_final_message: bool = False,
        **variables: object,
    ) -> str:
        """``CHAT_TEMPLATE`` rendered (ChatML, as Qwen and s1 write it); of the template
        variables it reads only ``reasoning_effort`` (a system line, as gpt-oss's template)."""
        turns = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in chat_history]
        if variables.get("reasoning_effort"):
            effort = f"<|im_start|>system\nReasoning: {variables['reasoning_effort']}<|im_end|>\n"
            turns.insert(0, effort)
        if continue_final_message and turns:
            turns[-1] = turns[-1].removesuffix("<|im_end|>\n")
        text = "".join(turns) + ("<|im_start|>assistant\n" if add_generation_prompt else "")
        return self.encode(text) if tokenize else text


@dataclass(frozen=True)
class _Question:
    """What the model makes of the text before its thinking opened (fixed for the request)."""

    need: int
    answer: int
    patience: int


def _overlap(text: str, target: str) -> int:
    """The longest k <= len(target) such that ``text`` ends with ``target[:k]``."""
    for k in range(min(len(text), len(target)), 0, -1):
        if text.endswith(target[:k]):
            return k
    return 0


class ScriptedEngine:
    """The toy model behind the ``Engine`` protocol; steps run in ``collect``, in order.
    ``stats`` counts steps and generated tokens, as the server engine's does."""

    def __init__(
        self,
        delimiters: Delimiters,
        patience: int = 128,
        wait_tokens: int = 64,
        tokenizer: ScriptedTokenizer | HFTokenizer | None = None,
        max_model_len: int | None = None,
    ):
        self.tokenizer = tokenizer or ScriptedTokenizer()
        # a real tokenizer's end of text ends the answer; the toy's own is <|endoftext|>
        self.eos = min(self.tokenizer.eos_token_ids)
        self.delimiters = delimiters
        self.patience, self.wait_tokens = patience, wait_tokens
        self.max_model_len = max_model_len
        self.pending: list[tuple[Hashable, GenerationStep]] = []
        self.stats = {"steps": 0, "generated_tokens": 0}

    def submit(self, key: Hashable, step: GenerationStep) -> None:
        self.pending.append((key, step))

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        pending, self.pending = self.pending, []
        return [(key, self._run(step)) for key, step in pending]

    def cancel(self) -> None:
        self.pending.clear()

    # -- the model --------------------------------------------------------------------------
    def _read(self, question: str, sampling: Sampling) -> _Question:
        hint = NEED.findall(question)
        digest = zlib.crc32(CONTROL_TEXT.sub("", question).encode())
        need = int(hint[-1]) if hint else 32 * (1 + digest % 8)
        sums = ARITHMETIC.findall(question)
        if sums:
            a, op, b = sums[-1]
            answer = {"+": int(a) + int(b), "-": int(a) - int(b)}.get(op, int(a) * int(b))
        else:
            answer = digest % 1000  # a guess
        patience = self.patience
        for phrase, scale in PATIENCE_SCALE.items():
            if phrase in question:
                patience = max(1, round(patience * scale))
        for count, unit in PROMPTED.findall(question):
            patience = min(patience, int(count) * (STEP_CHARS if unit == "steps" else 1))
        if not sampling.greedy:  # a seeded sample repeats; an unseeded one varies every step
            rng = (
                random.Random(f"{sampling.seed}/{question}") if sampling.seed is not None else None
            )
            draw = (rng or random).random() - 0.5
            patience = max(1, round(patience * (1 + min(sampling.temperature, 1.0) * draw)))
        return _Question(need, answer, patience)

    def _thought(self, body: str) -> str:
        """The next character of its thinking: it starts over after each reconsidering word."""
        restart = max(
            (at + len(word) for word in RECONSIDER if (at := body.rfind(word)) >= 0), default=0
        )
        lead = (
            RECHECK if restart else ("" if self.delimiters.thinking_start.endswith("\n") else "\n")
        )
        position = len(body) - restart
        if position < len(lead):
            return lead[position]
        return THOUGHTS[(position - len(lead)) % len(THOUGHTS)]

    def _choose(self, text: str, opened: int, question: _Question) -> tuple[int, int]:
        """The model's first and second choice of next token (the second when min_tokens bars
        the first), from the text so far; ``opened`` is where its thinking begins."""
        encode, end = self.tokenizer.encode, self.delimiters.thinking_end
        body = text[opened:]
        closed = body.find(end)
        if closed < 0:
            thought = self._thought(body)
            waits = sum(body.count(word) for word in RECONSIDER)
            target = min(question.need, question.patience) + waits * self.wait_tokens
            k = _overlap(body, end)
            if len(body) - k >= target:  # done thinking: write the delimiter
                return encode(end[k:])[0], encode(thought)[0]
            return encode(thought)[0], encode(thought)[0]
        # a capped thinking ends with a newline the forcing loop wrote, not the model
        thought_tokens = len(encode(body[:closed].removesuffix("\n")))
        right = thought_tokens >= question.need
        reply = f"\nThe answer is $\\boxed{{{question.answer if right else question.answer + 1}}}$."
        k = _overlap(body[closed + len(end) :], reply)
        token = self.eos if k == len(reply) else encode(reply[k:])[0]
        return token, token

    def _opened(self, text: str) -> int:
        """Where the thinking begins: after the last opening delimiter (a chat template may
        write it without its trailing newline), or right after a prompt that has none."""
        start = self.delimiters.thinking_start
        at = text.rfind(start.strip())
        if at < 0:
            return len(text)
        return at + (len(start) if text.startswith(start, at) else len(start.strip()))

    def _run(self, step: GenerationStep) -> StepResult:
        self.stats["steps"] += 1
        max_tokens = step.max_tokens
        if self.max_model_len is not None:
            max_tokens = min(max_tokens, self.max_model_len - len(step.prompt_token_ids))
            if max_tokens < 1:  # the prompt fills the context, as the vLLM adapter answers
                return StepResult((), "", "length")
        text = self.tokenizer.decode(step.prompt_token_ids)
        opened = self._opened(text)
        question = self._read(text[:opened], step.sampling)
        stop_ids = set(step.stop_token_ids) | self.tokenizer.eos_token_ids
        out: list[int] = []
        generated = ""
        # NoWait: as vLLM's bad_words, each word with and without a leading space, in this step
        words = step.control.bad_words if step.control is not None else ()
        bans = tuple(p + w for w in words for p in ("", " "))
        cap = EngineCap(self, step, text[opened:])
        while True:
            first, second = self._choose(text, opened, question)
            token = second if first in stop_ids and len(out) < step.min_tokens else first
            token = cap.next_token(token, text[opened:])
            if bans and (generated + self.tokenizer.decode([token])).endswith(bans):
                token = self.tokenizer.encode(" ")[0]  # a banned word's last token gives way
            out.append(token)
            self.stats["generated_tokens"] += 1
            if token in stop_ids:
                eos = token in self.tokenizer.eos_token_ids
                return StepResult(tuple(out), generated, "stop", None if eos else token)
            piece = self.tokenizer.decode([token])
            text += piece
            generated += piece
            if len(out) >= step.min_tokens:
                for stop in step.stop:
                    at = generated.find(stop, max(0, len(generated) - len(piece) - len(stop) + 1))
                    if at >= 0:
                        return StepResult(tuple(out), generated[:at], "stop", stop)
            if len(out) >= max_tokens:
                return StepResult(tuple(out), generated, "length")


class EngineCap:
    """vLLM's ``thinking_token_budget`` in the toy: once the open thinking holds that many
    tokens (the prompt's included), the end delimiter's tokens are written, one per token."""

    def __init__(self, engine: ScriptedEngine, step: GenerationStep, thinking: str):
        self.end = engine.delimiters.thinking_end
        self.budget = step.thinking_token_budget
        self.count = len(engine.tokenizer.encode(thinking))
        self.forced: list[int] = []
        self.encode = engine.tokenizer.encode

    def next_token(self, token: int, body: str) -> int:
        if self.budget is None or self.end in body:
            return token
        if not self.forced and self.count >= self.budget:
            self.forced = self.encode(self.end)
        if self.forced:
            return self.forced.pop(0)
        self.count += 1
        return token


def _positive(name: str, value: object, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InputError(f"{name}={value!r} is invalid: expected an integer >= {least}.")
    return value


def prepare(
    preset: str = "s1",
    patience: int = 128,
    wait_tokens: int = 64,
    max_model_len: int = 32768,
    tokenizer: str | None = None,
) -> LazyEngine:
    """Check the arguments; the engine itself is built on first use, like the real ones.

    ``tokenizer``: a Hugging Face tokenizer (folder or name) whose chat template renders the
    prompts and whose tokens the toy writes, e.g. to try a template's ``enable_thinking``.
    """
    patience = _positive("patience", patience)
    wait_tokens = _positive("wait_tokens", wait_tokens, least=0)
    context = _positive("max_model_len", max_model_len)
    delimiters = PRESETS[preset]
    tokens = load_tokenizer(tokenizer) if tokenizer else ScriptedTokenizer()

    def start() -> ScriptedEngine:
        return ScriptedEngine(delimiters, patience, wait_tokens, tokens, context)

    return LazyEngine("scripted", tokens, context, start)
