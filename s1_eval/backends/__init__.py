"""The lm-eval model backends (s1_vllm, s1_hf, s1_server, s1_scripted) and what they share."""
