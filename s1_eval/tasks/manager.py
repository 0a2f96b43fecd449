"""lm-eval TaskManagers that index only the folders a command's tasks need.

    manager = task_manager_for(["s1_aime24"])   # our task folder alone: well under a second

lm-eval's ``TaskManager`` parses every YAML file lm-eval bundles (~14,000, ~10 s of CPU) before
it can name one task. Our commands know their task names before they start, so they index our
folder (the startup hook puts it on every include path) and the user's ``--include_path`` first,
and build lm-eval's whole index only when a task is not found there. A task found in the small
index is the one the whole index would pick too: include paths override lm-eval's own folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def task_manager_for(
    tasks: Iterable[str], include_path: Sequence[str] = (), metadata: dict | None = None
):
    """A TaskManager that knows every name in ``tasks``; lm-eval's own index only if needed."""
    from lm_eval.tasks import TaskManager

    paths = [str(path) for path in include_path] or None
    small = TaskManager(include_path=paths, include_defaults=False, metadata=metadata)
    if all(task in small.all_tasks for task in tasks):
        return small
    return TaskManager(include_path=paths, metadata=metadata)
