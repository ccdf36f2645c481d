"""A progress bar for long runs: simulated time reached, and the time left (rich, on stderr).

Quiet unless stderr is a terminal, so pipes, CI logs and tests see nothing of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(
    label: str,
    total_s: float,
    stream: TextIO | None = None,
    force: bool = False,
    counting: str = "simulated {task.completed:.0f} / {task.total:.0f} s",
) -> Iterator[Callable[[float, float], None] | None]:
    """Yield a ``progress(t_s, horizon_s)`` callback for the engine, or None when quiet.

    Parameters
    ----------
    label
        What is running (the scenario's name).
    total_s
        The simulated time the run will reach (duration plus drain).
    stream
        Where the bar goes; default ``sys.stderr``.
    force
        Show the bar even when ``stream`` is not a terminal (for tests).
    counting
        What the bar counts, as a rich column format (a sweep counts runs).
    """
    stream = stream if stream is not None else sys.stderr
    if not (force or (hasattr(stream, "isatty") and stream.isatty())):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=stream, force_terminal=force or None)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn(counting),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total_s)

        def update(t_s: float, horizon_s: float) -> None:
            bar.update(task, completed=t_s, total=horizon_s)

        yield update
