"""The offline demo: s1 in miniature on SmolLM2, its model, runs and report."""
