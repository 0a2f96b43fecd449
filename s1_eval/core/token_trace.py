"""The token ids of one forced response, by phase, in the compact text a samples row carries.

    row["trace_tokens"] = TokenTrace(thinking, inserted, closing, answer).encode()

A forced response is: thinking tokens (ignore strings inserted among them), the closing text's
tokens (the end delimiter, "Final Answer:" when the cap fired), then the answer tokens. Two runs
can then be compared token by token (``s1_eval.report.trace_diff``) instead of by re-tokenizing text.

The text form is ``t1:<thinking>:<closing>:<answer>:<start+length,...>:<ids>`` where the three
counts split the ids into phases, each ``start+length`` is one inserted string's place among the
thinking tokens, and ``<ids>`` is the ids as LEB128 varints, zlib-compressed, base64 (at most
4 characters a token for a vocabulary below 2 million, fewer where the text repeats). Rows written before this column existed, and rows of backends without a trace,
hold ``""``: ``decode`` gives None for them.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: the samples-row column (a text field, aggregation "bypass")
TOKENS_COLUMN = "trace_tokens"
VERSION = "t1"


@dataclass(frozen=True)
class TokenTrace:
    """Generated ids by phase; ``inserted`` holds (start, length) of each inserted string's ids
    within ``thinking`` (the loop's ignore strings, a thinking control's "Wait"s), in order."""

    thinking: tuple[int, ...] = ()
    inserted: tuple[tuple[int, int], ...] = ()
    closing: tuple[int, ...] = ()
    answer: tuple[int, ...] = ()

    @property
    def tokens(self) -> tuple[int, ...]:
        return self.thinking + self.closing + self.answer

    def phase_at(self, index: int) -> str:
        """Which part of the response token ``index`` belongs to, in words."""
        if index < len(self.thinking):
            done = 0
            for number, (start, length) in enumerate(self.inserted, 1):
                if start <= index < start + length:
                    return f"inserted string {number}"
                if start + length <= index:
                    done = number
            return f"thinking after inserted string {done}" if done else "thinking"
        if index < len(self.thinking) + len(self.closing):
            return "closing text"
        return "answer"

    def encode(self) -> str:
        spans = ",".join(f"{start}+{length}" for start, length in self.inserted)
        packed = base64.b64encode(zlib.compress(_varints(self.tokens), 9)).decode("ascii")
        counts = f"{len(self.thinking)}:{len(self.closing)}:{len(self.answer)}"
        return f"{VERSION}:{counts}:{spans}:{packed}"

    @classmethod
    def decode(cls, text: Any) -> TokenTrace | None:
        """The trace in a row's column; None when the row has none ("" or absent).

        ValueError for text that is not a token trace this version can read."""
        if not text:
            return None
        try:
            version, thinking, closing, answer, spans, packed = str(text).split(":")
            if version != VERSION:
                raise ValueError(f"unknown format {version!r}")
            ids = _read_varints(zlib.decompress(base64.b64decode(packed, validate=True)))
            sizes = [int(thinking), int(closing), int(answer)]
            inserted = tuple(
                (int(start), int(length))
                for start, _, length in (s.partition("+") for s in spans.split(",") if s)
            )
        except (ValueError, zlib.error) as error:
            raise ValueError(f"{TOKENS_COLUMN}: unreadable token trace ({error})") from None
        if sum(sizes) != len(ids):
            raise ValueError(f"{TOKENS_COLUMN}: phase lengths {sizes} do not add up to {len(ids)}")
        a, b = sizes[0], sizes[0] + sizes[1]
        return cls(tuple(ids[:a]), inserted, tuple(ids[a:b]), tuple(ids[b:]))


def token_column(response: Any) -> dict[str, str]:
    """The token-trace column of a response's samples row ("" without a trace)."""
    trace = getattr(response, "trace", None)
    return {TOKENS_COLUMN: getattr(trace, "tokens", "") or ""}


def _varints(ids: Sequence[int]) -> bytes:
    out = bytearray()
    for value in ids:
        if value < 0:
            raise ValueError(f"token id {value}: ids are never negative")
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out)


def _read_varints(data: bytes) -> list[int]:
    ids, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        ids.append(value)
        value, shift = 0, 0
    if shift:
        raise ValueError("the ids end inside a number")
    return ids
