"""Tests for s1_eval.common.log: the package logger and the "Did you mean" hint.

pytest tests/test_messages.py
"""

from __future__ import annotations

import logging

from s1_eval.common.log import LOGGER_NAME, did_you_mean, logger
from s1_eval.engines import lazy


def test_did_you_mean():
    assert did_you_mean("max_token_thinking", {"max_tokens_thinking", "top_p"}) == (
        " Did you mean 'max_tokens_thinking'?"
    )
    assert did_you_mean("zzz", ["max_tokens_thinking"]) == ""
    assert did_you_mean("x", []) == ""


def test_one_logger_under_lm_evals():
    # a child of lm-eval's logger: lm-eval's format and LMEVAL_LOG_LEVEL apply to our lines
    assert logger is logging.getLogger(LOGGER_NAME) and LOGGER_NAME.startswith("lm_eval.")
    assert lazy.logger is logger
