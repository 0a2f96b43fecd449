"""An engine that starts on first use, and what lm-eval needs before that: tokenizer, context length.

    lazy = LazyEngine("vllm", tokenizer, max_model_len=4096, start=lambda: VLLMEngine.load(path))

lm-eval asks a model for its tokenizer (chat template, name) long before ``generate_until``;
the engine itself (minutes for a large model) is only needed once every request has been
checked, so a typo in gen_kwargs costs seconds, not an engine start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from s1_eval.common.log import logger
from s1_eval.engines.tokenizer import HFTokenizer


class LazyEngine:
    """Holds the tokenizer and context length now; builds the engine on the first ``get()``."""

    def __init__(
        self, name: str, tokenizer: HFTokenizer, max_model_len: int, start: Callable[[], Any]
    ):
        self.name = name
        self.tokenizer = tokenizer
        self.max_model_len = max_model_len
        self._start = start
        self._engine: Any = None

    @property
    def started(self) -> bool:
        return self._engine is not None

    def get(self) -> Any:
        if self._engine is None:
            logger.info("s1-eval: starting the %s engine (every request checked)", self.name)
            began = time.perf_counter()
            self._engine = self._start()
            logger.info(
                "s1-eval: %s engine started in %.1f s", self.name, time.perf_counter() - began
            )
        return self._engine
