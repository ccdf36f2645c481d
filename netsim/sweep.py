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
import hashlib
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import yaml

from .dynamics import THREADS_VARIABLE
from .errors import ScenarioError, read_user_text
from .results import json_safe
from .sweep_params import (
    Combination,
    Param,
    SweepInputError,
    _resolve,
    _show,
    _substitute,
    grid,
    parse_param,
    parse_path,
    parse_values,
)
from .sweep_views import render_table, sweep_csv, write_figures
from .units import UnitError, parse_time
from .version import __version__
from .yamlsource import DocPath

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
    results = run(
        scenario.plan, seed=seed, duration_s=duration_s, packets=False, taps=scenario.taps()
    )
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
    """Worker initializer: Ctrl-C is the parent's to handle, and each worker builds its
    links one at a time (the workers already share the cores)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault(THREADS_VARIABLE, "1")


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
