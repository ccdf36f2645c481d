"""Workload plug-ins: domain sections of a scenario that compile into links, streams, budgets.

A workload (``ambulance``, ``telesurgery``, or a third party's: remote ultrasound, drones)
registers an object under the entry-point group ``medlink.workloads``::

    [project.entry-points."medlink.workloads"]
    ambulance = "ambulance.workload:WORKLOAD"

The object has:

- ``name``: the scenario key of its section (``ambulance:``);
- ``model``: the pydantic model of that section (netsim's ``_Model`` rules: unknown keys are
  errors), validated with the rest of the file, so its errors carry file, line and field;
- ``expand(section, context) -> Expansion``: the links, streams and budgets the section
  means, in netsim's own types; and optionally per-run ``metrics(results) -> dict`` for
  results.json (under ``workloads.<name>``) and ``verdicts(results) -> [BudgetResult]`` for
  budgets on metrics of its own (a control loop's latency), judged with the others; and
  ``tap() -> tap`` when those can be computed as the packets go, for runs that keep no
  per-packet record (``memory: bounded``).

netsim never imports a workload; it finds them here. A scenario with a workload section may
leave out ``network`` and ``streams``; it may also add its own, and budgets may name the
workload's streams.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from .errors import ScenarioError
from .plan import BudgetSpec, LinkSpec, StreamSpec

__all__ = [
    "Workload",
    "Expansion",
    "WorkloadContext",
    "discover",
    "entry_error_message",
    "ENTRY_POINT_GROUP",
]

ENTRY_POINT_GROUP = "medlink.workloads"


@dataclass(frozen=True)
class WorkloadContext:
    """What a workload may use while it expands its section.

    ``error(path, message)`` makes the one-line ScenarioError for a field below the section
    (``path`` relative to the section); ``base_dir`` is the scenario file's folder (for the
    files the section names); ``duration_s`` the run's duration.
    """

    section_path: tuple
    base_dir: Path
    duration_s: float
    filename: str
    make_error: Callable[[tuple, str], ScenarioError]

    def error(self, path: tuple, message: str) -> ScenarioError:
        return self.make_error((*self.section_path, *path), message)


@dataclass
class Expansion:
    """A workload section in netsim's terms."""

    links: dict[str, LinkSpec] = field(default_factory=dict)
    streams: list[StreamSpec] = field(default_factory=list)
    budgets: list[BudgetSpec] = field(default_factory=list)
    metrics: Callable[[Any], dict] | None = None
    verdicts: Callable[[Any], list] | None = None  # Results -> list[BudgetResult] of its own
    # For runs with memory="bounded" (no per-packet record): a factory of a fresh tap that sees
    # each stream's final packets as they go (netsim.summaries.SummaryBuilder); ``metrics``
    # then reads its result from ``results.packets.taps[<workload>]``. A workload with
    # metrics or verdicts and no tap reads every packet, and cannot run bounded.
    tap: Callable[[], Any] | None = None


class Workload(Protocol):
    name: str
    model: type

    def expand(self, section: Any, context: WorkloadContext) -> Expansion: ...


_CACHE: dict[str, Workload] | None = None


def discover() -> dict[str, Workload]:
    """The installed workloads, by section name (entry points of ``medlink.workloads``)."""
    global _CACHE
    if _CACHE is None:
        found: dict[str, Workload] = {}
        for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
            workload = point.load()
            found[workload.name] = workload
        _CACHE = found
    return _CACHE


def entry_error_message(exc: Exception) -> str:
    """One line for a pydantic error raised validating an entry a workload built (a link).

    The first error, with its field below the entry (``buffer: expected a buffer ...``); an
    unknown key is named as such.
    """
    errors = getattr(exc, "errors", None)
    if callable(errors):
        for error in errors():
            ctx = error.get("ctx") or {}
            inner = ctx.get("errors")
            if inner:
                first = inner[0]
                loc = ".".join(str(p) for p in first.get("loc", ()))
                text = (first.get("ctx") or {}).get("message") or first.get("msg")
                if first.get("type") == "extra_forbidden":
                    text = f"unknown key {loc!r}"
                return f"{loc}: {text}" if loc else str(text)
            return str(ctx.get("message") or error.get("msg"))
    return str(exc)
