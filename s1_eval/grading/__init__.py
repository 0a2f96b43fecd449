"""Answer extraction and grading (math-verify, letter choices) under a wall-clock limit."""
