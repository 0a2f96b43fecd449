"""The extra variables a chat template is rendered with, named as lm-eval's vllm backend names
them: ``enable_thinking`` (Qwen3's thinking switch) and ``chat_template_args`` (any others, e.g.
gpt-oss's ``reasoning_effort``).

    variables = chat_template_variables("false", '{"reasoning_effort": "high"}')
"""

from __future__ import annotations

import json
from typing import Any

from s1_eval.common.errors import InputError
from s1_eval.common.values import as_bool

#: lm-eval's vllm names for what reaches the chat template (Qwen3's switch, gpt-oss's effort)
CHAT_TEMPLATE_ARGS = ("enable_thinking", "chat_template_args")


def chat_template_variables(enable_thinking: Any, chat_template_args: Any) -> dict[str, Any]:
    """The extra variables the chat template is rendered with, as lm-eval's vllm passes them:
    ``chat_template_args`` (a dict, or its JSON text from the command line) and
    ``enable_thinking`` (a bool; it wins over a key of the same name in the dict)."""
    if chat_template_args is None:
        variables: dict[str, Any] = {}
    else:
        variables = chat_template_args
        if isinstance(chat_template_args, str):
            try:
                variables = json.loads(chat_template_args)
            except ValueError:
                variables = None
        if not isinstance(variables, dict):
            raise InputError(
                f"chat_template_args={chat_template_args!r} is invalid: expected a JSON object, "
                """e.g. --model_args '{"pretrained": "M", "chat_template_args": """
                """{"reasoning_effort": "high"}}'."""
            )
        variables = dict(variables)
    if enable_thinking is not None:
        variables["enable_thinking"] = as_bool("enable_thinking", enable_thinking)
    return variables
