"""Control's bounds per run (s1 paper, Eq. 1): a budget bounds every budgeted method; class
prompts are bounded by the run without a prompt; chat-template levels by their neighbours;
NoThinking (whose budget limits the answer) is not bounded.

    a_min, a_max = run_bounds(setting, {s: mean_thinking for s in settings_of_one_curve})
"""

from __future__ import annotations

from collections.abc import Mapping

from s1_eval.runs.folder import Setting

#: levels whose intended order of thinking length is known (a number orders itself)
_WORD_ORDER = ("false", "none", "minimal", "low", "short", "medium", "long", "high", "true")


def level_rank(level: str) -> float | None:
    """Where a chat-template level stands in its intended order of thinking length."""
    value = level.rpartition("=")[2].strip().lower()
    try:
        return float(value)
    except ValueError:
        return float(_WORD_ORDER.index(value)) if value in _WORD_ORDER else None


def run_bounds(
    setting: Setting, thinking: Mapping[Setting, float | None]
) -> tuple[float | None, float | None]:
    """(a_min, a_max) of one run; ``thinking`` maps each run of the same model and task to its
    mean thinking tokens. A budget is the bound of every budgeted method (paper, Eq. 1). Class
    prompts are bounded by the run without a prompt, as the paper counts them: "short" must not
    think longer, "long" not shorter. Chat-template levels must be in their intended order
    (false < true, numbers ascending, minimal < low < medium < high): each level's mean
    thinking lies between its neighbours'. (None, None): not bounded."""
    if setting.method == "prompt-class":
        baseline = thinking.get(Setting())
        if baseline is None:
            return None, None
        return (None, baseline) if setting.level == "short" else (baseline, None)
    if setting.method == "chat-template":
        return _neighbour_bounds(setting, thinking)
    if setting.method == "nothinking":  # its budget limits the answer; the thinking is fixed
        return None, None
    cap = setting.cap
    return None, (float(cap) if cap is not None else None)


def _neighbour_bounds(setting, thinking) -> tuple[float | None, float | None]:
    key = setting.level.partition("=")[0]
    levels = [
        (level_rank(s.level), s)
        for s in thinking
        if s.method == "chat-template" and s.level and s.level.partition("=")[0] == key
    ]
    if any(rank is None for rank, _ in levels):
        return None, None
    ordered = [s for _, s in sorted(levels, key=lambda pair: pair[0])]
    at = ordered.index(setting)
    low = thinking.get(ordered[at - 1]) if at > 0 else None
    high = thinking.get(ordered[at + 1]) if at + 1 < len(ordered) else None
    return low, high
