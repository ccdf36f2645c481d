"""Parameter sweeps: one scenario run over a grid of parameter values, with replications.

::

    medlink sweep scenarios/telesurgery-regional-150km.yaml \\
        --param telesurgery.distance=150km,1000km,3000km --replications 5

A sweep is many independent runs. Each ``--param PATH=VALUES`` names a field of the scenario
document (:func:`parse_path`) and the values it takes (:func:`parse_values`); several make a
grid (their cartesian product), or ``--sample N`` draws N of its points. Every point of the
grid is a *combination*: the scenario document with those values written in, validated by the
normal loader before anything runs. Each (combination, replication) is one run, seed
``base + replication``.

Runs go through a :mod:`concurrent.futures` executor: local processes by default, a Dask
cluster with ``--scheduler``. Each run's figures are written to ``OUT/runs/<key>.json`` as
soon as it finishes, the key a hash of what determines the run (the substituted document,
the seed, the duration, the medlink version), so an interrupted sweep resumes where it
stopped. The aggregate (``sweep.json``, ``sweep.csv``, one figure per budget) is computed in
the grid's order from the run files, so it does not depend on the number of workers or on
the order the runs finish in.

Simpler than it could be: a combination's confidence intervals treat its replications as
independent draws of a roughly normal figure (Student t, as :mod:`netsim.replications`);
values are substituted as YAML scalars, so a path cannot add a mapping or a list; figures
plot against the first parameter only.
"""

from __future__ import annotations

import concurrent.futures
import copy
import csv
import hashlib
import io
import itertools
import json
import math
import os
import random
import re
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from .errors import ScenarioError, read_user_text
from .results import json_safe
from .units import UnitError, parse_time
from .version import __version__
from .yamlsource import DocPath, format_path

__all__ = [
    "Param",
    "Combination",
    "parse_param",
    "parse_path",
    "parse_values",
    "grid",
    "run_one",
    "run_key",
    "aggregate",
    "sweep_main",
    "SWEEP_FORMAT",
    "RUN_FORMAT",
]

SWEEP_FORMAT = 1
"""Version of the sweep.json layout."""
RUN_FORMAT = 1
"""Version of the runs/<key>.json layout; part of the key, so a new layout re-runs."""
MAX_VALUES = 10_000
"""Most values one ``--param`` may expand to."""
MAX_TABLE_BUDGETS = 4
"""Most budget columns in the printed table (those closest to failing); all are in the CSV."""
STREAM_METRICS = (
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "loss_rate",
    "jitter_ms",
    "throughput_mbps",
)
"""Each stream's figures a run file keeps (and sweep.json aggregates)."""

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class SweepInputError(Exception):
    """A bad command-line value; reported in one line, exit 2."""


# --- the VALUES grammar ---------------------------------------------------------------------

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/%]*)\s*$")
_FUNCTION = re.compile(r"^\s*(lin|log)\s*\((.*)\)\s*$", re.DOTALL)


def _quantity(text: str, what: str) -> tuple[float, str]:
    """``'100km'`` -> ``(100.0, 'km')``."""
    match = _QUANTITY.match(text)
    if not match:
        raise SweepInputError(f"{what}: expected a number with an optional unit, got {text!r}")
    return float(match.group(1)), match.group(2)


def _common_unit(parts: Sequence[tuple[float, str]], texts: Sequence[str], what: str) -> str:
    units = {unit for _, unit in parts if unit}
    if len(units) > 1:
        raise SweepInputError(
            f"{what}: {', '.join(texts)} mix units ({', '.join(sorted(units))}); use one unit"
        )
    return units.pop() if units else ""


def _number_text(value: float, digits: int) -> str:
    """A number as a user would write it: ``100``, ``0.3``, ``1e-05``."""
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def _scalar(text: str) -> Any:
    """A value as if written in the YAML file: ``1`` -> 1, ``true`` -> True, ``10Mbps`` stays.

    Anything YAML would read as a mapping, list or date stays the text it was.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if value is None and text.strip() not in ("null", "~", "Null", "NULL"):
        return text
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return text


def parse_values(text: str, what: str = "VALUES") -> list[Any]:
    """Expand a VALUES expression into the values a parameter takes.

    Grammar (one of):

    - a comma list, ``10Mbps,20Mbps,50Mbps`` or ``1,2,3``;
    - a range ``START:STOP:STEP``, numbers with one unit (written on any or all of the
      three: ``100km:3000km:500km``, ``100:3000:500km``): START, START+STEP, ... up to STOP,
      included when it lands on the grid (to 1e-9 of a step); STEP may be negative;
    - ``lin(A,B,N)``: N evenly spaced values from A to B, both included;
    - ``log(A,B,N)``: N values from A to B, both included, evenly spaced on a log scale
      (A and B > 0).

    Generated values are written back with their unit (``600km``): a range to 12
    significant digits, lin and log to 6. Every value is then read as a YAML scalar, as if
    written in the scenario file: ``3`` is the number 3, ``true`` a boolean, ``10Mbps`` text
    (which the loader parses with its unit).

    Parameters
    ----------
    text
        The expression.
    what
        Names the parameter in error messages.

    Returns
    -------
    list
        At least one value, at most :data:`MAX_VALUES`.

    Raises
    ------
    SweepInputError
        For an expression outside the grammar.
    """
    match = _FUNCTION.match(text)
    if match:
        strings = _spaced(match.group(1), match.group(2), what)
    elif ":" in text:
        strings = _range(text, what)
    else:
        strings = [item.strip() for item in text.split(",")]
        if any(not item for item in strings):
            raise SweepInputError(f"{what}: empty value in the list {text!r}")
    if len(strings) > MAX_VALUES:
        raise SweepInputError(f"{what}: {len(strings)} values; at most {MAX_VALUES}")
    return [_scalar(item) for item in strings]


def _range(text: str, what: str) -> list[str]:
    pieces = [p.strip() for p in text.split(":")]
    if len(pieces) != 3 or not all(pieces):
        raise SweepInputError(f"{what}: a range is START:STOP:STEP, got {text!r}")
    parts = [_quantity(p, what) for p in pieces]
    unit = _common_unit(parts, pieces, what)
    (start, _), (stop, _), (step, _) = parts
    if step == 0:
        raise SweepInputError(f"{what}: the step of {text!r} must not be 0")
    if (stop - start) * step < 0:
        raise SweepInputError(f"{what}: the step of {text!r} goes away from STOP")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_VALUES:
        raise SweepInputError(f"{what}: {text!r} gives {count} values; at most {MAX_VALUES}")
    return [_number_text(start + i * step, 12) + unit for i in range(count)]


def _spaced(kind: str, inside: str, what: str) -> list[str]:
    pieces = [p.strip() for p in inside.split(",")]
    if len(pieces) != 3:
        raise SweepInputError(f"{what}: expected {kind}(A,B,N), got {kind}({inside})")
    parts = [_quantity(p, what) for p in pieces[:2]]
    unit = _common_unit(parts, pieces[:2], what)
    (a, _), (b, _) = parts
    if not re.fullmatch(r"\d+", pieces[2]) or int(pieces[2]) < 1:
        raise SweepInputError(f"{what}: N of {kind}(A,B,N) must be a whole number >= 1")
    n = int(pieces[2])
    if n > MAX_VALUES:
        raise SweepInputError(f"{what}: {n} values; at most {MAX_VALUES}")
    if kind == "log" and (a <= 0 or b <= 0):
        raise SweepInputError(f"{what}: log(A,B,N) needs A > 0 and B > 0")
    if n == 1:
        values = [a]
    elif kind == "lin":
        values = [a + (b - a) * i / (n - 1) for i in range(n)]
    else:
        la, lb = math.log(a), math.log(b)
        values = [math.exp(la + (lb - la) * i / (n - 1)) for i in range(n)]
        values[0], values[-1] = a, b
    return [_number_text(v, 6) + unit for v in values]


# --- the PATH grammar -----------------------------------------------------------------------

_TOKEN = re.compile(r"""\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")


def parse_path(text: str) -> DocPath:
    """A dotted path into the scenario document, as the loader's errors write it.

    ``network.links.radio-up.capacity``, ``streams[1].rate``,
    ``ambulance.modems[0].cells.spacing``; a key that is not a plain name (letters, digits,
    ``_``, ``-``) goes in quotes in brackets: ``network.links['wan.1'].delay``.

    Returns
    -------
    tuple
        Mapping keys (str) and list indices (int), outermost first.

    Raises
    ------
    SweepInputError
        For text outside that grammar.
    """
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        dotted = match is not None and match.group(0).startswith(".")
        if match is None or (dotted and pos == 0) or (not dotted and match.group(1) and pos):
            raise SweepInputError(
                f"--param {text}: not a field path (expected names separated by dots, "
                "list indices in brackets: streams[0].rate)"
            )
        name, index, single, double = match.groups()
        parts.append(
            int(index)
            if index is not None
            else next(p for p in (name, single, double) if p is not None)
        )
        pos = match.end()
    if not parts or not isinstance(parts[0], str):
        raise SweepInputError(f"--param {text}: not a field path (start with a top-level key)")
    return tuple(parts)


def _resolve(document: dict, path: DocPath, text: str) -> None:
    """Raise unless ``path`` can be written in ``document``.

    Every step but the last must exist; the last may be a key the mapping leaves out (a
    default the user now sets: the loader then checks that the key is known).
    """
    node: Any = document
    for depth, part in enumerate(path):
        where = format_path(path[:depth]) or "the document"
        last = depth == len(path) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                raise SweepInputError(f"--param {text}: no such field: {where} is not a list")
            if part >= len(node):
                raise SweepInputError(
                    f"--param {text}: no such field: {where} has {len(node)} entries"
                )
        else:
            if not isinstance(node, dict):
                raise SweepInputError(f"--param {text}: no such field: {where} is not a mapping")
            if part not in node:
                if last:
                    return
                keys = ", ".join(map(str, node)) or "none"
                raise SweepInputError(
                    f"--param {text}: no such field {part!r} in {where} (it has: {keys})"
                )
        if last and isinstance(node[part], (dict, list)):
            raise SweepInputError(
                f"--param {text}: {format_path(path)} is a "
                f"{'mapping' if isinstance(node[part], dict) else 'list'}; name a field in it"
            )
        node = node[part]


def _substitute(document: dict, assignments: Sequence[tuple[DocPath, Any]]) -> dict:
    out = copy.deepcopy(document)
    for path, value in assignments:
        node: Any = out
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return out


# --- parameters and the grid ----------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One ``--param``: the field's path (as written and parsed) and its values."""

    text: str
    path: DocPath
    values: tuple[Any, ...]


@dataclass
class Combination:
    """One point of the grid: the values, the scenario with them, and its runs."""

    index: int
    params: dict[str, Any]
    text: str
    sha256: str
    name: str
    seeds: list[int]
    duration_s: float
    keys: list[str] = field(default_factory=list)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_param(spec: str) -> Param:
    """``PATH=VALUES`` -> :class:`Param` (see :func:`parse_path`, :func:`parse_values`)."""
    path_text, sep, values_text = spec.partition("=")
    path_text = path_text.strip()
    if not sep or not path_text or not values_text.strip():
        raise SweepInputError(f"--param {spec}: expected PATH=VALUES, such as streams[0].rate=1,2")
    path = parse_path(path_text)
    return Param(path_text, path, tuple(parse_values(values_text, f"--param {path_text}")))


def grid(params: Sequence[Param], sample: int | None = None, seed: int = 0) -> list[tuple]:
    """The combinations of values, first parameter varying slowest (cartesian product).

    With ``sample``, that many distinct points drawn at random (``random.Random(seed)``),
    in grid order; all of them when the grid is no larger.
    """
    sizes = [len(p.values) for p in params]
    total = math.prod(sizes)
    if sample is None or sample >= total:
        return list(itertools.product(*(p.values for p in params)))
    chosen = sorted(random.Random(seed).sample(range(total), sample))
    out = []
    for flat in chosen:
        point = []
        for p, size in zip(reversed(params), reversed(sizes), strict=True):
            flat, i = divmod(flat, size)
            point.append(p.values[i])
        out.append(tuple(reversed(point)))
    return out


# --- one run --------------------------------------------------------------------------------


def run_one(text: str, filename: str, seed: int, duration_s: float | None) -> dict:
    """Load a scenario text, run it with ``seed`` and return the run's figures.

    The worker function of a sweep: top-level, so that local processes and Dask workers can
    call it; it prints nothing and writes nothing. ``filename`` places the files the
    scenario names (traces, routes).

    Returns
    -------
    dict
        ``format``, ``medlink_version``, ``scenario``, ``scenario_sha256``, ``seed``,
        ``duration_s``, ``pass``, ``streams`` (:data:`STREAM_METRICS` per stream),
        ``budgets`` (stream, metric, unit, limit, value, pass, name) and ``workloads`` (the
        workloads' own metrics): strict JSON values, no packets.
    """
    from .engine import run
    from .scenario import load_scenario_text

    scenario = load_scenario_text(text, filename=filename)
    results = run(scenario.plan, seed=seed, duration_s=duration_s)
    workloads = scenario.judge(results)
    streams = {
        name: {
            "latency_p50_ms": s.latency_ms.get("p50"),
            "latency_p95_ms": s.latency_ms.get("p95"),
            "latency_p99_ms": s.latency_ms.get("p99"),
            "loss_rate": s.loss_rate,
            "jitter_ms": s.jitter_ms,
            "throughput_mbps": s.throughput_mbps,
        }
        for name, s in results.streams.items()
    }
    budgets = [{k: v for k, v in b.to_dict().items() if k != "source"} for b in results.budgets]
    return json_safe(
        {
            "format": RUN_FORMAT,
            "medlink_version": __version__,
            "scenario": results.plan.name,
            "scenario_sha256": scenario.sha256,
            "seed": int(seed),
            "duration_s": float(results.plan.duration_s),
            "pass": bool(results.passed),
            "streams": streams,
            "budgets": budgets,
            "workloads": workloads,
        }
    )


def run_key(scenario_sha256: str, seed: int, duration_s: float) -> str:
    """The name of a run's file: hex SHA-256 of what determines the run.

    The substituted document's hash, the seed, the duration, the run file's layout and the
    medlink version (a new version may model differently, so its runs are not reused).
    """
    canonical = json.dumps(
        {
            "scenario_sha256": scenario_sha256,
            "seed": int(seed),
            "duration_s": float(duration_s),
            "format": RUN_FORMAT,
            "medlink_version": __version__,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- aggregate ------------------------------------------------------------------------------


def _interval(values: list[Any]) -> dict[str, Any]:
    from .replications import interval

    return interval([v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)])


def _budget_ids(budgets: Sequence[dict]) -> list[str]:
    """``stream.metric`` per budget, ``#2``... for repeats (a budget's name may vary)."""
    seen: dict[str, int] = {}
    out = []
    for b in budgets:
        base = f"{b['stream']}.{b['metric']}"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield prefix, value


def aggregate(params: dict[str, Any], runs: Sequence[dict]) -> dict:
    """One combination's figures over its replications (sweep.json ``combinations[i]``).

    Every figure becomes ``{"mean", "low", "high", "half_width", "n"}``, a two-sided 95 %
    Student-t interval (bounds None with fewer than two runs). Budgets are matched across
    runs by position (the runs share one scenario).
    """
    first = runs[0]
    budgets = []
    for j, (bid, b) in enumerate(zip(_budget_ids(first["budgets"]), first["budgets"], strict=True)):
        per_run = [r["budgets"][j] for r in runs]
        budgets.append(
            {
                "id": bid,
                "stream": b["stream"],
                "metric": b["metric"],
                "unit": b["unit"],
                "limit": b["limit"],
                "lower_bound": b["metric"] == "throughput",
                "value": _interval([x["value"] for x in per_run]),
                "pass_rate": sum(bool(x["pass"]) for x in per_run) / len(runs),
            }
        )
    streams = {
        name: {m: _interval([r["streams"][name][m] for r in runs]) for m in STREAM_METRICS}
        for name in first["streams"]
    }
    flat = [dict(_flatten(r.get("workloads") or {})) for r in runs]
    workloads = {key: _interval([f.get(key) for f in flat]) for key in flat[0]}
    passed = sum(bool(r["pass"]) for r in runs)
    return {
        "params": params,
        "n": len(runs),
        "seeds": [r["seed"] for r in runs],
        "pass_rate": passed / len(runs),
        "pass": passed == len(runs),
        "budgets": budgets,
        "streams": streams,
        "workloads": workloads,
    }


# --- the command ----------------------------------------------------------------------------


def _fail(err: TextIO, message: object) -> int:
    print(f"medlink: error: {' '.join(str(message).split())}", file=err)
    return EXIT_INPUT


def _check_writable(out_dir: Path) -> None:
    """Fail before running if ``out_dir`` could not be created or written; create nothing."""
    from .files import unwritable_reason

    reason = unwritable_reason(out_dir)
    if reason is not None:
        raise SweepInputError(reason)


def _combinations(
    scenario_path: str,
    params: Sequence[Param],
    *,
    replications: int | None,
    seed: int | None,
    duration: str | None,
    sample: int | None,
) -> tuple[Any, list[Combination]]:
    """Load the scenario, build and validate every combination; raise on the first problem."""
    from .scenario import load_scenario_text

    name, text = read_user_text(scenario_path, "a scenario file")
    base = load_scenario_text(text, filename=name)
    document = base.document
    if duration is not None:
        document = _substitute(document, [(("duration",), duration)])
    for p in params:
        _resolve(document, p.path, p.text)
    sample_seed = base.plan.seed if seed is None else seed
    combinations = []
    for index, values in enumerate(grid(params, sample, sample_seed)):
        assigned = {p.text: v for p, v in zip(params, values, strict=True)}
        doc = _substitute(document, [(p.path, v) for p, v in zip(params, values, strict=True)])
        combo_text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000)
        try:
            loaded = load_scenario_text(combo_text, filename=name)
        except ScenarioError as exc:
            where = " ".join(f"--param {k}={_show(v)}" for k, v in assigned.items())
            at = f"{exc.field}: " if exc.field else ""
            raise SweepInputError(f"{where}: {name}: {at}{exc.message}") from None
        plan = loaded.plan
        n = replications if replications is not None else getattr(plan, "replications", 1)
        first = plan.seed if seed is None else seed
        combinations.append(
            Combination(
                index=index,
                params=assigned,
                text=combo_text,
                sha256=loaded.sha256,
                name=plan.name,
                seeds=[first + r for r in range(n)],
                duration_s=plan.duration_s,
            )
        )
    for combo in combinations:
        combo.keys = [run_key(combo.sha256, s, combo.duration_s) for s in combo.seeds]
    return base, combinations


def _load_run(path: Path, key: str) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key or doc.get("format") != RUN_FORMAT:
        return None
    return doc


@contextmanager
def _executor(workers: int | None, scheduler: str | None, pending: int) -> Iterator[Any]:
    """A ``concurrent.futures`` executor, or None to run in this process (one worker)."""
    if scheduler is not None:
        from dask.distributed import Client  # checked importable by the caller

        client = Client(scheduler)
        try:
            with client.get_executor() as executor:
                yield executor
        finally:
            client.close()
        return
    n = min(workers or os.cpu_count() or 1, max(pending, 1))
    if n <= 1:
        yield None
        return
    executor = concurrent.futures.ProcessPoolExecutor(max_workers=n, initializer=_ignore_sigint)
    try:
        yield executor
    except BaseException:
        # Ctrl-C (or an error): stop now. The workers ignore SIGINT (no tracebacks from
        # them); shutting down alone would wait for their runs, so end them.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _progress(total: int, label: str, stream: TextIO) -> Iterator[Callable[[], None]]:
    """A ``step()`` callback advancing a bar of runs; silent unless ``stream`` is a tty."""
    from .progress import progress_bar

    with progress_bar(
        label, float(total), stream=stream, counting="{task.completed:.0f}/{task.total:.0f} runs"
    ) as update:
        if update is None or total == 0:
            yield lambda: None
            return
        done = [0]

        def step() -> None:
            done[0] += 1
            update(done[0], total)

        yield step


def _execute(
    jobs: list[tuple[Combination, int, str]],
    filename: str,
    runs_dir: Path,
    executor: Any,
    step: Callable[[], None],
) -> dict[str, dict]:
    """Run each (combination, seed, key) job; write each run file as soon as it is done."""
    done: dict[str, dict] = {}

    def keep(combo: Combination, run: dict, key: str) -> None:
        document = {"key": key, "params": combo.params, **run}
        from .files import write_json

        write_json(runs_dir / f"{key}.json", document)
        done[key] = document
        step()

    if executor is None:
        for combo, seed, key in jobs:
            keep(combo, run_one(combo.text, filename, seed, combo.duration_s), key)
        return done
    futures = {
        executor.submit(run_one, combo.text, filename, seed, combo.duration_s): (combo, key)
        for combo, seed, key in jobs
    }
    for future in concurrent.futures.as_completed(futures):
        combo, key = futures[future]
        keep(combo, future.result(), key)
    return done


def sweep_main(
    scenario_path: str | os.PathLike[str],
    params: Sequence[str],
    *,
    replications: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    duration: str | None = None,
    sample: int | None = None,
    plots: bool = True,
    out_stream: TextIO | None = None,
    err_stream: TextIO | None = None,
) -> int:
    """Run a parameter sweep; return the exit code.

    Parameters
    ----------
    scenario_path
        The scenario file.
    params
        ``PATH=VALUES`` strings (:func:`parse_param`); several make a grid.
    replications
        Runs per combination, seeds ``base, base + 1, ...``; default the scenario's
        ``replications`` (1 when it has none).
    workers
        Local worker processes; default ``os.cpu_count()``. One runs in this process.
    scheduler
        Address of a Dask distributed scheduler (``tcp://host:8786``): run there instead.
    out
        Output folder; default ``reports/<scenario name>-sweep``.
    seed
        Base seed; default each combination's scenario ``seed``.
    duration
        Duration for every run, such as ``"10s"``, written into the scenario's ``duration``.
    sample
        Run that many random points of the grid (seeded by ``seed``) instead of all of it.
    plots
        Draw ``OUT/<budget>.png``.
    out_stream, err_stream
        Where the table and the errors go; a progress bar goes to ``err_stream`` when it is a
        terminal.

    Returns
    -------
    int
        0 when every run of every combination passed, 1 when one failed, 2 for invalid input
        (one line on ``err_stream``; nothing run, nothing written), 130 when interrupted (the
        runs finished so far are kept and reused by the next call).
    """
    out_stream = sys.stdout if out_stream is None else out_stream
    err_stream = sys.stderr if err_stream is None else err_stream
    try:
        if not params:
            raise SweepInputError("give at least one --param PATH=VALUES")
        for name, value, low in (
            ("--replications", replications, 1),
            ("--workers", workers, 1),
            ("--sample", sample, 1),
            ("--seed", seed, 0),
        ):
            if value is not None and value < low:
                raise SweepInputError(f"{name}: must be >= {low}, got {value}")
        if duration is not None:
            try:
                duration_s = parse_time(duration)
            except UnitError as exc:
                raise SweepInputError(f"--duration: {exc}") from None
            if not (duration_s > 0 and math.isfinite(duration_s)):
                raise SweepInputError(f"--duration: must be > 0, got {duration!r}")
        parsed = [parse_param(spec) for spec in params]
        seen: set[DocPath] = set()
        for p in parsed:
            if p.path in seen:
                raise SweepInputError(f"--param {p.text}: given twice")
            seen.add(p.path)
        if scheduler is not None:
            try:
                import dask.distributed  # noqa: F401
            except ImportError:
                raise SweepInputError(
                    "--scheduler needs Dask distributed: pip install 'medlink[dask]'"
                ) from None
        base, combinations = _combinations(
            os.fspath(scenario_path),
            parsed,
            replications=replications,
            seed=seed,
            duration=duration,
            sample=sample,
        )
        out_dir = Path(out) if out is not None else Path("reports") / f"{base.plan.name}-sweep"
        _check_writable(out_dir)
    except (ScenarioError, SweepInputError) as exc:
        return _fail(err_stream, exc)

    filename = os.path.abspath(os.fspath(scenario_path))
    runs_dir = out_dir / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(err_stream, f"--out: cannot create {runs_dir}: {exc.strerror or exc}")
    runs: dict[str, dict] = {}
    jobs: list[tuple[Combination, int, str]] = []
    scheduled: set[str] = set()  # two combinations may be the same run ("1,1")
    for combo in combinations:
        for s, key in zip(combo.seeds, combo.keys, strict=True):
            if key in runs or key in scheduled:
                continue
            found = _load_run(runs_dir / f"{key}.json", key)
            if found is not None:
                runs[key] = found
            else:
                jobs.append((combo, s, key))
                scheduled.add(key)
    total = sum(len(c.keys) for c in combinations)
    print(
        f"medlink sweep: {base.plan.name}  {len(combinations)} combinations x "
        f"{_replication_text(combinations)} = {total} runs",
        file=out_stream,
    )
    print(f"reused {len(runs)} of {total} runs from {runs_dir}", file=out_stream, flush=True)
    try:
        with (
            _executor(workers, scheduler, len(jobs)) as executor,
            _progress(len(jobs), base.plan.name, err_stream) as step,
        ):
            runs.update(_execute(jobs, filename, runs_dir, executor, step))
    except KeyboardInterrupt:
        saved = len(list(runs_dir.glob("*.json")))
        print(
            f"medlink: interrupted; {saved} runs saved in {runs_dir}, run again to resume",
            file=err_stream,
        )
        return EXIT_INTERRUPTED

    document = sweep_document(base, parsed, combinations, runs, sample=sample, seed=seed)
    try:
        from .files import atomic_write, write_json

        write_json(out_dir / "sweep.json", document)
        with atomic_write(out_dir / "sweep.csv") as f:
            f.write(sweep_csv(document))
        figures = write_figures(document, out_dir) if plots else []
    except OSError as exc:
        return _fail(err_stream, f"--out: cannot write to {out_dir}: {exc.strerror or exc}")
    print(render_table(document), file=out_stream)
    print(f"wrote {out_dir / 'sweep.json'}, {out_dir / 'sweep.csv'}", file=out_stream)
    for path in figures:
        print(f"wrote {path}", file=out_stream)
    return EXIT_PASS if document["pass"] else EXIT_FAIL


def _replication_text(combinations: Sequence[Combination]) -> str:
    counts = sorted({len(c.seeds) for c in combinations})
    text = "/".join(map(str, counts))
    return f"{text} replication{'s' if counts != [1] else ''}"


def sweep_document(
    base: Any,
    params: Sequence[Param],
    combinations: Sequence[Combination],
    runs: dict[str, dict],
    *,
    sample: int | None = None,
    seed: int | None = None,
) -> dict:
    """The sweep.json document, in grid order; no timestamps, no paths of the output."""
    aggregated = [aggregate(c.params, [runs[k] for k in c.keys]) for c in combinations]
    for c, entry in zip(combinations, aggregated, strict=True):
        entry["runs"] = list(c.keys)
        entry["scenario_sha256"] = c.sha256
    return json_safe(
        {
            "format": SWEEP_FORMAT,
            "medlink_version": __version__,
            "scenario": base.plan.name,
            "scenario_sha256": base.sha256,
            "params": [{"path": p.text, "values": list(p.values)} for p in params],
            "sample": sample,
            "seed": seed,
            "duration_s": combinations[0].duration_s if combinations else None,
            "level": 0.95,
            "runs": sum(e["n"] for e in aggregated),
            "pass": all(e["pass"] for e in aggregated),
            "combinations": aggregated,
        }
    )


# --- views: CSV, table, figures -------------------------------------------------------------


def sweep_csv(document: dict) -> str:
    """sweep.csv: one row per combination.

    Columns: each parameter, ``n``, ``pass_rate``; per budget ``<id>.mean``, ``.low``,
    ``.high``, ``.limit``, ``.pass_rate``; per stream figure ``<stream>.<figure>.mean``,
    ``.low``, ``.high``. Empty cells for a figure a combination does not have.
    """
    columns: dict[str, None] = {p["path"]: None for p in document["params"]}
    columns.update({"n": None, "pass_rate": None})
    rows = []
    for c in document["combinations"]:
        row: dict[str, Any] = {**{k: _show(v) for k, v in c["params"].items()}}
        row.update({"n": c["n"], "pass_rate": c["pass_rate"]})
        for b in c["budgets"]:
            v = b["value"]
            row.update(
                {
                    f"{b['id']}.mean": v["mean"],
                    f"{b['id']}.low": v["low"],
                    f"{b['id']}.high": v["high"],
                    f"{b['id']}.limit": b["limit"],
                    f"{b['id']}.pass_rate": b["pass_rate"],
                }
            )
        for stream, figures in c["streams"].items():
            for figure, v in figures.items():
                for part in ("mean", "low", "high"):
                    row[f"{stream}.{figure}.{part}"] = v[part]
        columns.update(dict.fromkeys(row))
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _margin(budget: dict) -> float:
    """value / limit (limit / value for a minimum); > 1 fails."""
    mean, limit = budget["value"]["mean"], budget["limit"]
    if mean is None:
        return math.inf
    if budget["lower_bound"]:
        return limit / mean if mean > 0 else math.inf
    return mean / limit if limit > 0 else (math.inf if mean > 0 else 0.0)


def _budget_columns(document: dict) -> list[str]:
    """The budgets the table shows: those closest to failing, in scenario order."""
    worst: dict[str, float] = {}
    for c in document["combinations"]:
        for b in c["budgets"]:
            worst[b["id"]] = max(worst.get(b["id"], -math.inf), _margin(b))
    chosen = sorted(worst, key=lambda k: -worst[k])[:MAX_TABLE_BUDGETS]
    return [k for k in worst if k in chosen]


def _mean_ci(value: dict, unit: str) -> str:
    mean, half = value["mean"], value["half_width"]
    if mean is None:
        return "-"
    scale, shown = (100.0, "%") if unit == "ratio" else (1.0, f" {unit}")
    text = f"{mean * scale:.3g}"
    if half is not None:
        text += f" ± {half * scale:.2g}"
    return text + shown


def render_table(document: dict) -> str:
    """The terminal view: one row per combination, unsafe combinations marked.

    Columns: the parameters, runs, pass rate, the mean ± 95 % half-width of the budgets
    closest to failing (at most :data:`MAX_TABLE_BUDGETS`), and ``UNSAFE`` where a run failed.
    """
    from .summary import _table

    names = [p["path"] for p in document["params"]]
    budget_ids = _budget_columns(document)
    header = [*names, "runs", "pass"]
    limits: dict[str, str] = {}
    for c in document["combinations"]:
        for b in c["budgets"]:
            if b["id"] in budget_ids and b["id"] not in limits:
                bound = ">=" if b["lower_bound"] else "<="
                limit = _mean_ci({"mean": b["limit"], "half_width": None}, b["unit"])
                limits[b["id"]] = f"{b['id']} {bound} {limit}"
    header += [limits.get(k, k) for k in budget_ids] + ["verdict"]
    rows = []
    for c in document["combinations"]:
        by_id = {b["id"]: b for b in c["budgets"]}
        cells = [_show(c["params"][k]) for k in names]
        cells += [str(c["n"]), f"{c['pass_rate']:.0%}"]
        for k in budget_ids:
            b = by_id.get(k)
            cells.append("-" if b is None else _mean_ci(b["value"], b["unit"]))
        cells.append("safe" if c["pass"] else "UNSAFE")
        rows.append(cells)
    lines = ["", *_table(header, rows), ""]
    n_budgets = len({b["id"] for c in document["combinations"] for b in c["budgets"]})
    if n_budgets > len(budget_ids):
        lines.append(
            f"({len(budget_ids)} of {n_budgets} budgets shown, those closest to their limits; "
            "all are in sweep.csv)"
        )
    lines += _boundaries(document)
    unsafe = sum(not c["pass"] for c in document["combinations"])
    total = len(document["combinations"])
    verdict = (
        "PASS: every run of every combination passed"
        if not unsafe
        else (f"FAIL: {unsafe} of {total} combinations unsafe (a run failed a budget)")
    )
    lines.append(f"verdict: {verdict}")
    return "\n".join(lines)


def _boundaries(document: dict) -> list[str]:
    """Where the service stops being safe along the first parameter, per other values."""
    if not document["params"]:
        return []
    first = document["params"][0]["path"]
    groups: dict[tuple, list[dict]] = {}
    for c in document["combinations"]:
        rest = tuple((k, _show(v)) for k, v in c["params"].items() if k != first)
        groups.setdefault(rest, []).append(c)
    lines = []
    for rest, combos in groups.items():
        where = f" (with {', '.join(f'{k}={v}' for k, v in rest)})" if rest else ""
        bad = [c for c in combos if not c["pass"]]
        if not bad:
            lines.append(f"safe at every {first} tried{where}")
            continue
        at = bad[0]
        lines.append(
            f"unsafe from {first}={_show(at['params'][first])}{where}: "
            f"pass rate {at['pass_rate']:.0%}"
        )
    return lines


def _numeric(values: Sequence[Any]) -> tuple[list[float], str] | None:
    """Numbers and their common unit when every value is a number with one unit, else None."""
    out, units = [], set()
    for v in values:
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            out.append(float(v))
            continue
        match = _QUANTITY.match(str(v))
        if not match:
            return None
        out.append(float(match.group(1)))
        units.add(match.group(2))
    if len(units) > 1:
        return None
    return out, units.pop() if units else ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "budget"


def write_figures(document: dict, out_dir: Path) -> list[Path]:
    """Draw ``OUT/<budget id>.png`` for every budget; return the paths written."""
    from .plots import save

    ids = list({b["id"]: None for c in document["combinations"] for b in c["budgets"]})
    written = []
    for bid in ids:
        fig = budget_figure(document, bid)
        if fig is not None:
            written.append(save(fig, out_dir / f"{_slug(bid)}.png"))
    return written


def budget_figure(document: dict, budget_id: str) -> Any:
    """One budget's metric against the first parameter, mean and 95 % CI band.

    One line per value of the other parameters; the limit as a horizontal line and the
    failing side hatched. A numeric parameter (every value a number with one unit) gets a
    linear axis, or a log axis when its values span more than 30x; any other is categorical.

    Returns
    -------
    matplotlib.figure.Figure or None
        None when no combination has the budget.
    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullFormatter

    from .plots import _figure, _styled, series_style

    first = document["params"][0]["path"]
    points = []
    for c in document["combinations"]:
        b = next((b for b in c["budgets"] if b["id"] == budget_id), None)
        if b is not None:
            points.append((c, b))
    if not points:
        return None
    numeric = _numeric([p["values"] for p in document["params"]][0])
    values = list(document["params"][0]["values"])
    unit = points[0][1]["unit"]
    scale, shown = (100.0, "%") if unit == "ratio" else (1.0, unit)
    lower_bound = points[0][1]["lower_bound"]

    def x_of(value: Any) -> float:
        if numeric is not None:
            return numeric[0][values.index(value)]
        return float(values.index(value))

    groups: dict[tuple, list[tuple[float, dict, dict]]] = {}
    for c, b in points:
        rest = tuple((k, _show(v)) for k, v in c["params"].items() if k != first)
        groups.setdefault(rest, []).append((x_of(c["params"][first]), c, b))
    with _styled():
        fig = _figure()
        ax = fig.add_subplot()
        for i, (rest, items) in enumerate(groups.items()):
            items.sort(key=lambda item: item[0])
            x = [item[0] for item in items]
            mean = [_scaled(item[2]["value"]["mean"], scale) for item in items]
            low = [_scaled(item[2]["value"]["low"], scale) for item in items]
            high = [_scaled(item[2]["value"]["high"], scale) for item in items]
            style = series_style(i)
            label = ", ".join(f"{k}={v}" for k, v in rest) or "mean"
            ax.plot(x, mean, label=label, zorder=3, **style)
            if all(not math.isnan(v) for v in low + high):
                ax.fill_between(x, low, high, color=style["color"], alpha=0.18, linewidth=0)
        limits = {b["limit"] for _, b in points}
        handles, labels = ax.get_legend_handles_labels()
        if len(limits) == 1:
            limit = limits.pop() * scale
            bottom, top = ax.get_ylim()
            bottom, top = min(bottom, limit), max(top, limit)
            pad = 0.08 * (top - bottom or abs(limit) or 1.0)
            bottom, top = bottom - pad, top + pad
            limit_line = ax.axhline(limit, color="#666666", linewidth=2.2, zorder=2)
            fail = (bottom, limit) if lower_bound else (limit, top)
            ax.axhspan(
                *fail, facecolor="#f4f4f4", edgecolor="#b0b0b0", hatch="//", linewidth=0, zorder=0
            )
            ax.set_ylim(bottom, top)
            bound = "≥" if lower_bound else "≤"
            handles += [
                limit_line,
                Patch(facecolor="#f4f4f4", edgecolor="#b0b0b0", hatch="//", label="fails"),
            ]
            labels += [f"limit {bound} {limit:g} {shown}", "fails the budget"]
        else:
            for xi, _c, b in (item for items in groups.values() for item in items):
                ax.plot([xi], [b["limit"] * scale], marker="_", markersize=14, color="#666666")
        if numeric is not None:
            xs = [x for x in numeric[0] if x > 0]
            if len(xs) == len(numeric[0]) and max(xs) / min(xs) > 30.0:
                ax.set_xscale("log")
            ticks = sorted(set(numeric[0]))
            if len(ticks) <= 12:  # mark the values tried
                ax.set_xticks(ticks, [f"{t:.4g}" for t in ticks])
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(f"{first} ({numeric[1]})" if numeric[1] else first)
        else:
            ax.set_xticks(range(len(values)), [_show(v) for v in values])
            ax.set_xlabel(first)
        ax.set_ylabel(f"{budget_id} ({shown})")
        n = sorted({c["n"] for c, _ in points})
        runs = "/".join(map(str, n))
        ax.set_title(f"{budget_id}: mean and 95 % CI over {runs} runs", loc="left")
        ax.legend(handles, labels, loc="best")
    return fig


def _scaled(value: float | None, scale: float) -> float:
    return math.nan if value is None else value * scale
