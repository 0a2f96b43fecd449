"""The vLLM adapter's own counters (iterations, seconds inside vLLM, requests in flight), no engine.

    pytest tests/test_engine_stats.py

A fake ``LLMEngine`` stands in for vLLM: the counters are plain arithmetic over its iterations,
so they are checked exactly, without starting a model.
"""

from __future__ import annotations

from types import SimpleNamespace

from s1_eval.engines.vllm import VLLMEngine


class FakeLLMEngine:
    """Finishes request i after ``lengths[i]`` iterations, one token per iteration."""

    def __init__(self, lengths: dict[str, int]):
        self.model_config = SimpleNamespace(max_model_len=64)
        self.left = dict(lengths)
        self.lengths = dict(lengths)

    def has_unfinished_requests(self) -> bool:
        return bool(self.left)

    def get_num_unfinished_requests(self) -> int:
        return len(self.left)

    def step(self):
        done = []
        for rid in list(self.left):
            self.left[rid] -= 1
            if self.left[rid] == 0:
                del self.left[rid]
                n = self.lengths[rid]
                completion = SimpleNamespace(
                    token_ids=list(range(n)), text="x" * n, finish_reason="length", stop_reason=None
                )
                done.append(
                    SimpleNamespace(
                        request_id=rid,
                        finished=True,
                        prompt_token_ids=[1, 2, 3, 4],
                        num_cached_tokens=3,
                        outputs=[completion],
                    )
                )
        return done


def test_collect_counts_iterations_time_and_requests_in_flight():
    fake = FakeLLMEngine({"0": 2, "1": 5})
    engine = VLLMEngine(SimpleNamespace(llm_engine=fake), tokenizer=object())
    engine._keys.update({"0": "a", "1": "b"})  # as submit() leaves them
    finished = engine.collect() + engine.collect()
    assert [key for key, _ in finished] == ["a", "b"]
    stats = engine.stats
    # iterations 1-2 run both requests, 3-5 only the longer one
    assert stats["iterations"] == 5
    assert stats["iteration_requests"] == 2 + 2 + 1 + 1 + 1
    assert stats["engine_s"] >= 0.0
    assert stats["steps"] == 2 and stats["generated_tokens"] == 7
    assert stats["prompt_tokens"] == 8 and stats["cached_prompt_tokens"] == 6
