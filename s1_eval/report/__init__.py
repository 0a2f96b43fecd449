"""Reports over runs: Control / Scaling / Performance, statistics, leaderboards, plots, verify, submit."""
