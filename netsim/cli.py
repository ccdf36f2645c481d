"""The ``medlink`` command line: run, check, sweep, validate, profiles, plot, schema.

Exit codes: 0 every budget holds; 1 a budget failed; 2 invalid input or usage (one line on
stderr naming file, line and field; nothing written).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

try:  # recent typer vendors click as typer._click; older releases use click itself
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import ClickException

from .errors import ScenarioError
from .units import UnitError, parse_time

app = typer.Typer(
    name="medlink",
    help="Will this network carry a smart ambulance or a remote surgery? Simulate and judge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_PASS, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


class InputError(Exception):
    """A bad command-line value, reported like a scenario error."""


def _fail_input(message: str) -> None:
    typer.echo(f"medlink: error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(EXIT_INPUT)


def _check_writable(out_dir: Path) -> None:
    """Fail before simulating if results could not be written to ``out_dir``."""
    from .files import unwritable_reason

    reason = unwritable_reason(out_dir)
    if reason is not None:
        raise InputError(reason)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder [default: reports/<name>/].")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Root seed.")] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Override the duration, e.g. 30s.")
    ] = None,
    packets: Annotated[
        bool,
        typer.Option(
            "--packets",
            help="Also write packets.csv.gz, one row per packet (and packets.parquet when "
            "pyarrow is installed: pip install 'medlink[parquet]').",
        ),
    ] = False,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.html (plots, verdict).")
    ] = True,
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications",
            min=1,
            help="Independent runs (seeds seed, seed+1, ...): 95 % intervals and settled "
            "verdicts [default: the scenario's, else 1].",
        ),
    ] = None,
    memory: Annotated[
        str | None,
        typer.Option(
            "--memory",
            help="exact: keep each packet's figures (exact percentiles, memory grows with the "
            "run); bounded: streaming statistics in memory that does not grow, percentiles "
            "within 0.01 % [default: the scenario's, else exact].",
        ),
    ] = None,
) -> None:
    """Simulate a scenario, print a summary, write results.json and report.html; exit 1 if a
    budget fails."""
    from .engine import run as run_plan
    from .files import packet_files, parquet_available, results_document, write_json
    from .progress import progress_bar
    from .scenario import load_scenario
    from .summary import render_replications, render_summary

    try:
        loaded = load_scenario(scenario)
        plan = loaded.plan
        if duration is not None:
            try:
                duration_s = parse_time(duration)
            except UnitError as exc:
                raise InputError(f"--duration: {exc}") from None
            if duration_s <= 0:
                raise InputError(f"--duration: must be > 0, got {duration!r}")
            plan = dataclasses.replace(plan, duration_s=duration_s)
        if memory is not None:
            if memory not in ("exact", "bounded"):
                raise InputError(f"--memory: expected exact or bounded, got {memory!r}")
            reason = loaded.bounded_reason() if memory == "bounded" else None
            if reason is not None:
                raise InputError(f"--memory bounded: {reason}")
            plan = dataclasses.replace(plan, memory=memory)
        out_dir = out if out is not None else Path("reports") / plan.name
        _check_writable(out_dir)
    except (ScenarioError, InputError) as exc:
        _fail_input(str(exc))
        return

    n_runs = replications if replications is not None else plan.replications
    replicated = None
    # The run never holds its packet log: with --packets, each window's final packets go
    # straight to packets.csv.gz (and .parquet), renamed into place once the run is done.
    parquet = packets and parquet_available()
    try:
        with contextlib.ExitStack() as stack:
            sink = None
            if packets:
                out_dir.mkdir(parents=True, exist_ok=True)
                names = tuple(s.name for s in plan.streams)
                sink = stack.enter_context(packet_files(out_dir, names, tuple(plan.links), parquet))
            if n_runs > 1:
                from .replications import replicate

                with progress_bar(f"{plan.name} x{n_runs}", float(n_runs)) as progress:
                    replicated = replicate(
                        plan,
                        n_runs,
                        seed=seed,
                        judge=loaded.judge,
                        progress=None if progress is None else lambda i, n: progress(i, n),
                        sink=sink,
                        taps=loaded.taps,
                    )
                results = replicated.first
                workloads = loaded.workload_results(results)
            else:
                with progress_bar(plan.name, plan.duration_s + plan.drain_s) as progress:
                    results = run_plan(
                        plan,
                        seed=seed,
                        progress=progress,
                        packets=False,
                        sink=sink,
                        taps=loaded.taps(),
                    )
                workloads = loaded.judge(results)
    except OSError as exc:
        if not packets:
            raise
        _fail_input(f"--out: cannot write packets to {out_dir}: {exc.strerror or exc}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        files = ["results.json"] + (["packets.csv.gz"] if packets else [])
        if parquet:
            files.append("packets.parquet")
        if report:
            files.append("report.html")
        document = results_document(
            results,
            scenario_file=str(scenario),
            scenario_sha256=loaded.sha256,
            scenario_document=loaded.document,
            files=files,
        )
        if workloads:
            document["workloads"] = workloads
        if replicated is not None:
            document["replications"] = replicated.to_dict()
            document["pass"] = replicated.passed
        write_json(out_dir / "results.json", document)
        if report:
            from .report import write_report

            try:
                write_report(out_dir / "report.html", document)
            except OSError:
                raise
            except Exception as exc:  # a view's bug must not cost the user the results
                files.remove("report.html")
                typer.echo(f"medlink: warning: report.html not written: {exc}", err=True)
    except OSError as exc:
        _fail_input(f"--out: cannot write results to {out_dir}: {exc.strerror or exc}")
    where = str(out_dir / "results.json")
    if replicated is not None:
        typer.echo(render_replications(replicated.to_dict(), plan.name, where=where))
        passed = replicated.passed
    else:
        typer.echo(render_summary(results, where=where))
        passed = results.passed
    if report:
        typer.echo(f"report: {out_dir / 'report.html'}")
    raise typer.Exit(EXIT_PASS if passed else EXIT_FAIL)


@app.command()
def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to check.")],
) -> None:
    """Check scenario files without running them; exit 2 on the first invalid one."""
    from .scenario import load_scenario

    bad = 0
    for path in scenarios:
        try:
            loaded = load_scenario(path)
        except ScenarioError as exc:
            typer.echo(f"medlink: error: {exc}", err=True)
            bad += 1
            continue
        plan = loaded.plan
        typer.echo(
            f"ok {path}: {len(plan.links)} links, {len(plan.streams)} streams, "
            f"{len(plan.budgets)} budgets"
        )
    raise typer.Exit(EXIT_INPUT if bad else EXIT_PASS)


@app.command()
def check(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to run.")],
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write a JUnit XML report to FILE.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Root seed.")] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Override every duration, e.g. 30s.")
    ] = None,
) -> None:
    """Run scenarios as a CI gate: exit 1 if a budget fails; JUnit and GitHub Actions output."""
    from .check import check_main

    raise typer.Exit(check_main(scenarios, junit=junit, seed=seed, duration=duration))


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML).")],
    param: Annotated[
        list[str],
        typer.Option(
            "--param",
            help="PATH=VALUES, e.g. telesurgery.distance=150km,1000km or "
            "network.links.up.capacity=log(1Mbps,100Mbps,5); repeat for a grid.",
        ),
    ],
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications", min=1, help="Runs per combination [default: the scenario's, else 1]."
        ),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=1, help="Run N random points of the grid (seeded)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Local processes [default: cores].")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder [default: reports/<name>-sweep/]."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Base seed.")] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Duration of every run, e.g. 30s.")
    ] = None,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Draw one PNG per budget.")
    ] = True,
) -> None:
    """Run a scenario over a grid of parameter values; exit 1 if any run fails a budget."""
    from .sweep import sweep_main

    raise typer.Exit(
        sweep_main(
            scenario,
            param,
            replications=replications,
            workers=workers,
            scheduler=scheduler,
            out=out,
            seed=seed,
            duration=duration,
            sample=sample,
            plots=plots,
        )
    )


@app.command()
def profiles(
    names: Annotated[
        list[str] | None, typer.Argument(help="Profiles to show [default: all].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (SI units).")] = False,
) -> None:
    """List the built-in link profiles with their figures and sources."""
    from .profiles import PROFILES
    from .profiles_view import render_profiles

    chosen = list(names or PROFILES)
    unknown = [name for name in chosen if name not in PROFILES]
    if unknown:
        _fail_input(f"unknown profile {unknown[0]!r}; profiles are: {', '.join(PROFILES)}")
    if as_json:
        document = {name: PROFILES[name].to_dict() for name in chosen}
        typer.echo(json.dumps(document, indent=2, allow_nan=False))
    else:
        typer.echo(render_profiles([PROFILES[name] for name in chosen]))


@app.command()
def plot(
    results_json: Annotated[Path, typer.Argument(help="A results.json written by medlink run.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder [default: the results' folder].")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Figure format: png, svg or pdf.")] = "png",
) -> None:
    """Redraw the figures and report.html from a results.json, without simulating again."""
    try:
        if fmt not in ("png", "svg", "pdf"):
            raise InputError(f"--format: expected png, svg or pdf, got {fmt!r}")
        document = _read_results(results_json)
        out_dir = out if out is not None else results_json.parent
        _check_writable(out_dir)
    except (ScenarioError, InputError) as exc:
        _fail_input(str(exc))
        return
    from .plots import all_figures, save
    from .report import write_report

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for key, _title, figure in all_figures(document):
            written.append(save(figure, out_dir / f"{key}.{fmt}"))
        written.append(write_report(out_dir / "report.html", document))
    except OSError as exc:
        _fail_input(f"--out: cannot write to {out_dir}: {exc.strerror or exc}")
    for path in written:
        typer.echo(f"wrote {path}")


def _read_results(path: Path) -> dict:
    """A results.json document, or an InputError naming the file (and line) in one line."""
    from .errors import read_user_text

    name, text = read_user_text(path, "a results file")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"not JSON: {exc.msg}", name, exc.lineno) from None
    if not isinstance(document, dict) or "series" not in document or "streams" not in document:
        raise ScenarioError(
            "not a medlink results.json with plot data (run it again with this version)", name
        )
    return document


@app.command()
def emulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML).")],
    seconds: Annotated[
        float, typer.Option("--seconds", min=0.5, help="How long to send, in seconds.")
    ] = 10.0,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder [default: reports/<name>-emulate/]."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Root seed.")] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Also simulate it; print the differences.")
    ] = False,
    bind: Annotated[
        str | None,
        typer.Option("--bind", help="Relay address [default: 127.0.0.1; others only if given]."),
    ] = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write report.html.")] = True,
) -> None:
    """Send real WebRTC (two aiortc peers) through a relay that applies the scenario's link
    model in real time; write results.json like run; exit 1 if a budget fails."""
    from .emulate import emulate_main

    raise typer.Exit(
        emulate_main(
            scenario, seconds=seconds, out=out, seed=seed, compare=compare, bind=bind, report=report
        )
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format (committed as scenarios/schema.json)."""
    from .scenario import scenario_json_schema

    typer.echo(json.dumps(scenario_json_schema(), indent=2, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors become one line on stderr and exit code 2."""
    try:
        # Without standalone mode, click returns the code a command exits with.
        code = app(args=argv, prog_name="medlink", standalone_mode=False)
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx else "medlink"
        message = " ".join(exc.format_message().split())
        if message:  # empty after the help that a bare `medlink` prints
            typer.echo(f"{command}: error: {message}", err=True)
        return EXIT_INPUT
    except typer.Abort:
        typer.echo("medlink: aborted", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    return code if isinstance(code, int) else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
