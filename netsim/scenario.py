"""Load a scenario file into a :class:`~netsim.plan.NetworkPlan`, or say exactly what is wrong.

::

    from netsim.scenario import load_scenario
    sc = load_scenario("scenarios/md1-check.yaml")
    sc.plan          # NetworkPlan, SI units
    sc.document      # the YAML document as the user wrote it
    sc.sha256        # hash of its canonical JSON

A file goes through three stages, and the first problem found stops it with a one-line
:class:`~netsim.errors.ScenarioError` naming the file, the line and the field:

1. safe YAML parsing that keeps the line of every value (:mod:`netsim.yamlsource`);
2. validation against the pydantic models of :mod:`netsim.scenario_format`, which parse the
   units; of all the errors pydantic finds, the one written first in the file is reported
   (:mod:`netsim.scenario_errors`);
3. checks across fields: names, paths, the order of links, times and budgets.

:func:`scenario_json_schema` gives the JSON Schema of the format.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError, create_model

from .errors import ScenarioError, read_user_text
from .plan import BudgetSpec, NetworkPlan
from .scenario_errors import first_error
from .scenario_format import NetworkEntry, ScenarioFile, StreamEntry
from .scenario_links import compile_link
from .scenario_transport import compile_transport, transport_streams
from .scenario_types import describe
from .units import format_time
from .workloads import Expansion, WorkloadContext, discover
from .yamlsource import DocPath, LineMap, format_path, load_yaml

__all__ = [
    "Scenario",
    "load_scenario",
    "load_scenario_text",
    "scenario_json_schema",
    "document_sha256",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    plan
        What the engine runs, in SI units.
    path
        The file it was read from, or None for a text.
    document
        The YAML document as parsed: plain dicts, lists and scalars, as the user wrote them.
    sha256
        Hex SHA-256 of the canonical JSON of ``document`` (see :func:`document_sha256`).
    """

    plan: NetworkPlan
    path: Path | None
    document: dict[str, Any]
    sha256: str
    workload_metrics: dict[str, Any] = field(default_factory=dict, repr=False)
    workload_verdicts: dict[str, Any] = field(default_factory=dict, repr=False)
    workload_taps: dict[str, Any] = field(default_factory=dict, repr=False)

    def bounded_reason(self) -> str | None:
        """Why this scenario cannot run with ``memory="bounded"``, or None: a workload whose
        figures read every packet and that has no tap (netsim.workloads.Expansion.tap)."""
        for name in (*self.workload_metrics, *self.workload_verdicts):
            if name not in self.workload_taps:
                return (
                    f"the {name} workload reads every packet (its own metrics), so it needs "
                    "memory 'exact'"
                )
        return None

    def taps(self) -> dict[str, Any]:
        """Fresh taps of the workloads, for a run with ``memory="bounded"`` (an exact run
        ignores them): ``netsim.engine.run(plan, packets=False, taps=scenario.taps())``."""
        return {name: make() for name, make in self.workload_taps.items()}

    def workload_results(self, results: Any) -> dict[str, Any]:
        """Each workload's own metrics for a run of this scenario (results.json ``workloads``)."""
        return {name: metrics(results) for name, metrics in self.workload_metrics.items()}

    def judge(self, results: Any) -> dict[str, Any]:
        """Add the workloads' own budget verdicts to ``results.budgets``; return their metrics.

        Call it once per run, before showing or writing the results (``medlink run`` and
        ``medlink check`` do): a workload's budgets (a control loop's latency) then count in
        ``results.passed`` like any other.
        """
        for verdicts in self.workload_verdicts.values():
            results.budgets.extend(verdicts(results))
        return self.workload_results(results)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read, validate and compile a scenario file.

    Parameters
    ----------
    path
        The YAML file (UTF-8).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        For a file that cannot be read (``line`` None) and for any invalid content.
    """
    name, text = read_user_text(path, "a scenario file")
    return replace(load_scenario_text(text, filename=name), path=Path(path))


def load_scenario_text(text: str, filename: str = "<string>") -> Scenario:
    """Validate and compile a scenario given as YAML text.

    Parameters
    ----------
    text
        The YAML text.
    filename
        The name errors report, such as the file the text came from.

    Returns
    -------
    Scenario
        With ``path`` None.

    Raises
    ------
    ScenarioError
        For the first problem in the text, with its line and field.
    """
    document, lines = load_yaml(text, filename)
    if not isinstance(document, dict):
        got = "an empty document" if document is None else describe(document)
        message = f"expected a mapping with name, duration, network and streams, got {got}"
        raise ScenarioError(message, filename, lines.line(()))
    workloads = discover()
    sections = [name for name in workloads if name in document]
    strict, relaxed = _scenario_models()
    try:
        model = (relaxed if sections else strict).model_validate(document)
    except ValidationError as exc:
        raise first_error(exc, lines, filename) from None

    def error(path: DocPath, message: str) -> ScenarioError:
        return ScenarioError(message, filename, lines.line(path), format_path(path))

    is_file = not (filename.startswith("<") and filename.endswith(">"))
    base_dir = Path(filename).parent if is_file else Path.cwd()
    expansions: dict[str, Expansion] = {}
    for name in sections:
        context = WorkloadContext((name,), base_dir, model.duration, filename, error)
        expansions[name] = workloads[name].expand(getattr(model, name), context)
    _check(model, lines, filename, expansions)
    plan = _compile(model, lines, filename, expansions)
    metrics = {name: e.metrics for name, e in expansions.items() if e.metrics is not None}
    verdicts = {name: e.verdicts for name, e in expansions.items() if e.verdicts is not None}
    taps = {name: e.tap for name, e in expansions.items() if e.tap is not None}
    scenario = Scenario(plan, None, document, document_sha256(document), metrics, verdicts, taps)
    reason = scenario.bounded_reason() if plan.memory == "bounded" else None
    if reason is not None:
        raise error(("memory",), reason)
    return scenario


def _scenario_models() -> tuple[type[ScenarioFile], type[ScenarioFile]]:
    """The scenario model with the installed workloads' sections: strict (network and
    streams required) for a file without a workload section, relaxed for one with."""
    sections: dict[str, Any] = {
        name: (workload.model | None, None) for name, workload in discover().items()
    }
    doc = ScenarioFile.__doc__
    strict = create_model("ScenarioFile", __base__=ScenarioFile, __doc__=doc, **sections)
    relaxed = create_model(
        "ScenarioFile",
        __base__=ScenarioFile,
        __doc__=doc,
        network=(NetworkEntry | None, None),
        streams=(list[StreamEntry], []),
        **sections,
    )
    return strict, relaxed


def document_sha256(document: Any) -> str:
    """Hex SHA-256 of ``json.dumps(document, sort_keys=True, separators=(",", ":"))``."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the scenario file format.

    Quantities with units appear as strings with a ``pattern``, a ``description`` and
    ``examples``; every mapping has ``additionalProperties: false``. The loader checks more
    than the schema can say (paths name existing links, times are ordered, ...).
    """
    _, relaxed = _scenario_models()
    schema = relaxed.model_json_schema()
    # network and streams are required unless a workload section supplies them.
    schema["required"] = [key for key in schema.get("required", []) if key not in ("network",)]
    schema["anyOf"] = [{"required": ["network", "streams"]}] + [
        {"required": [name]} for name in discover()
    ]
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


# --- checks across fields ------------------------------------------------------------------


def _check(
    model: ScenarioFile, lines: LineMap, filename: str, expansions: dict[str, Expansion]
) -> None:
    """Names, paths, link order, times and budgets; raise on the first problem."""

    def error(path: DocPath, message: str) -> ScenarioError:
        return ScenarioError(message, filename, lines.line(path), format_path(path))

    links: dict[str, Any] = dict(model.network.links) if model.network is not None else {}
    for section, expansion in expansions.items():
        for name in expansion.links:
            if name in links:
                raise error(
                    ("network", "links", name),
                    f"link {name!r} is also a link of the {section} section; rename it",
                )
            links[name] = None
    workload_streams = {
        name: section
        for section, expansion in expansions.items()
        for stream in expansion.streams
        for name in (stream.name, stream.group)
        if name is not None
    }
    if not model.streams and not workload_streams:
        raise error(("streams",), "a scenario needs streams (or a workload section that adds some)")
    order: dict[str, set[str]] = {name: set() for name in links}  # link -> links after it
    streams: dict[str, int] = {}
    for i, stream in enumerate(model.streams):
        if stream.name in workload_streams:
            raise error(
                ("streams", i, "name"),
                f"stream {stream.name!r} is also a stream of the "
                f"{workload_streams[stream.name]} section; rename it",
            )
        if stream.name in streams:
            first = streams[stream.name]
            raise error(
                ("streams", i, "name"),
                f"duplicate stream name {stream.name!r} (also streams[{first}])",
            )
        streams[stream.name] = i
        _check_path(stream.path, ("streams", i, "path"), "the path", links, order, error)
        _check_transport(stream, i, links, order, error)
        if stream.stop is not None and stream.stop <= stream.start:
            raise error(
                ("streams", i, "stop"),
                f"expected stop after start "
                f"({format_time(stream.start)}), got {format_time(stream.stop)}",
            )
        if stream.start >= model.duration:
            raise error(
                ("streams", i, "start"),
                f"expected start before the end of the run "
                f"(duration {format_time(model.duration)}), got {format_time(stream.start)}",
            )
    transports = {s.name: s.transport for s in model.streams}
    transports |= {
        stream.name: stream.transport.kind if stream.transport is not None else "packets"
        for expansion in expansions.values()
        for stream in expansion.streams
    }
    for j, budget in enumerate(model.budgets):
        if budget.stream not in streams and budget.stream not in workload_streams:
            known = ", ".join([*streams, *workload_streams])
            raise error(
                ("budgets", j, "stream"),
                f"no stream named {budget.stream!r}; streams are: {known}",
            )
        latencies = (budget.latency, budget.frame_latency, budget.message_latency)
        if budget.percentile is not None and all(limit is None for limit in latencies):
            raise error(
                ("budgets", j, "percentile"),
                "percentile applies to a latency limit; add 'latency' (or 'frame_latency', "
                "'message_latency') or remove it",
            )
        if all(getattr(budget, key) is None for key in BUDGET_KEYS):
            raise error(
                ("budgets", j), f"a budget must state at least one of {', '.join(BUDGET_KEYS)}"
            )
        transport = transports.get(budget.stream, "packets")
        for key, allowed in _TRANSPORT_BUDGETS.items():
            if getattr(budget, key) is not None and transport not in allowed:
                raise error(
                    ("budgets", j, key),
                    f"{key} needs a stream with transport {' or '.join(allowed)}; "
                    f"stream {budget.stream!r} has transport {transport}",
                )


BUDGET_KEYS = (
    "latency",
    "max_loss",
    "max_jitter",
    "min_throughput",
    "frame_latency",
    "max_freezes",
    "max_freeze_duration",
    "message_latency",
    "max_message_loss",
)
_TRANSPORT_BUDGETS = {
    "frame_latency": ("webrtc-video", "webrtc-audio"),
    "max_freezes": ("webrtc-video",),
    "max_freeze_duration": ("webrtc-video",),
    "message_latency": ("datachannel",),
    "max_message_loss": ("datachannel",),
}


def _check_transport(stream, i: int, links, order, error) -> None:
    """A stream's transport sections agree with its transport; its feedback path is sound."""
    media = stream.transport in ("webrtc-video", "webrtc-audio")
    for key in ("type", "packet_size", "rate"):
        given = getattr(stream, key) is not None
        if media and given:
            raise error(
                ("streams", i, key),
                f"transport {stream.transport} takes its packets from the codec model; "
                f"remove '{key}'",
            )
        if not media and not given:
            raise error(
                ("streams", i, key),
                "required field is missing (a stream needs it unless its transport is "
                "webrtc-video or webrtc-audio)",
            )
    for key, needs in (
        ("video", "webrtc-video"),
        ("audio", "webrtc-audio"),
        ("channel", "datachannel"),
    ):
        if getattr(stream, key) is not None and stream.transport != needs:
            raise error(
                ("streams", i, key),
                f"'{key}' applies to transport {needs}; this stream's transport is "
                f"{stream.transport}",
            )
    if stream.video is not None:
        from .webrtc.frames import VIDEO_PRESETS

        if stream.video.preset not in VIDEO_PRESETS:
            raise error(
                ("streams", i, "video", "preset"),
                f"unknown preset {stream.video.preset!r}; presets are: {', '.join(VIDEO_PRESETS)}",
            )
        low, high = stream.video.min_bitrate, stream.video.max_bitrate
        if low is not None and high is not None and low > high:
            raise error(
                ("streams", i, "video", "min_bitrate"),
                "expected min_bitrate at most max_bitrate",
            )
    channel = stream.channel
    if channel is not None and None not in (channel.max_retransmits, channel.max_packet_lifetime):
        raise error(
            ("streams", i, "channel", "max_packet_lifetime"),
            "give max_retransmits or max_packet_lifetime, not both (W3C RTCDataChannelInit)",
        )
    if stream.feedback is None:
        return
    if stream.transport == "packets":
        raise error(
            ("streams", i, "feedback"),
            "feedback applies to a WebRTC transport; set 'transport' or remove it",
        )
    _check_path(stream.feedback, ("streams", i, "feedback"), "feedback", links, order, error)


def _check_path(path, where: tuple, what: str, links, order, error) -> None:
    """Every link of ``path`` exists, appears once, and keeps the links' common order."""
    key = where[-1]
    for k, link in enumerate(path):
        at = (*where, k)
        if link not in links:
            raise error(at, f"no link named {link!r}; links are: {', '.join(links)}")
        if link in path[:k]:
            first = path.index(link)
            raise error(at, f"link {link!r} appears twice in {what} (also {key}[{first}])")
        if k > 0:
            before = path[k - 1]
            route = _route(order, link, before)
            if route:
                cycle = " -> ".join([before, *route])
                raise error(
                    at,
                    f"links ordered in a cycle, {cycle}: every path must "
                    "cross the links in one common order",
                )
            order[before].add(link)


def _route(order: dict[str, set[str]], start: str, goal: str) -> list[str]:
    """Links from ``start`` to ``goal`` following ``order`` (both included), or []."""
    parents: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        if node == goal:
            route = [node]
            while (parent := parents[route[-1]]) is not None:
                route.append(parent)
            return route[::-1]
        for after in sorted(order[node]):
            if after not in parents:
                parents[after] = node
                frontier.append(after)
    return []


# --- compile -------------------------------------------------------------------------------


def _compile(
    model: ScenarioFile, lines: LineMap, filename: str, expansions: dict[str, Expansion]
) -> NetworkPlan:
    """The validated file as a NetworkPlan in SI units.

    Trace files are read relative to the scenario file's folder (the working folder for a
    text without a file).
    """

    def error(path: DocPath, message: str) -> ScenarioError:
        return ScenarioError(message, filename, lines.line(path), format_path(path))

    is_file = not (filename.startswith("<") and filename.endswith(">"))
    base_dir = Path(filename).parent if is_file else Path.cwd()
    explicit = model.network.links if model.network is not None else {}
    links = {name: compile_link(name, link, error, base_dir) for name, link in explicit.items()}
    streams = []
    for stream in model.streams:
        transport = compile_transport(
            stream.transport,
            stream.video,
            stream.audio,
            stream.channel,
            stream.feedback,
            stream.name,
        )
        streams.extend(
            transport_streams(
                stream.name,
                stream.type,
                stream.rate,
                stream.packet_size,
                tuple(stream.path),
                stream.start,
                math.inf if stream.stop is None else stream.stop,
                transport,
            )
        )
    budgets = []
    for budget in model.budgets:
        common = {"stream": budget.stream, "source": budget.source, "name": budget.name}
        percentile = 99.0 if budget.percentile is None else float(budget.percentile)
        for metric, limit in (
            ("latency", budget.latency),
            ("frame_latency", budget.frame_latency),
            ("message_latency", budget.message_latency),
        ):
            if limit is not None:
                budgets.append(
                    BudgetSpec(metric=metric, limit=limit, percentile=percentile, **common)
                )
        for metric, limit in (
            ("loss", budget.max_loss),
            ("jitter", budget.max_jitter),
            ("throughput", budget.min_throughput),
            ("freeze_count", budget.max_freezes),
            ("freeze_duration", budget.max_freeze_duration),
            ("message_loss", budget.max_message_loss),
        ):
            if limit is not None:
                budgets.append(BudgetSpec(metric=metric, limit=float(limit), **common))
    for expansion in expansions.values():
        links.update(expansion.links)
        streams.extend(expansion.streams)
        budgets.extend(expansion.budgets)
    return NetworkPlan(
        name=model.name,
        duration_s=model.duration,
        links=links,
        streams=tuple(streams),
        budgets=tuple(budgets),
        seed=model.seed,
        drain_s=model.drain,
        replications=model.replications,
        memory=model.memory,
    )
