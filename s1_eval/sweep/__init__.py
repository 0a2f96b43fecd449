"""Budget sweeps: tasks x settings in one model process, resumable, one shared pass by default."""
