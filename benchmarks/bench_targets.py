"""Issue 9's two targets, each measured beside its baseline in one run.

    python benchmarks/bench_targets.py [--repeat 3] [--engine-seconds 600]
                                       [--simpy-seconds 30] [--check-seconds 20]
                                       [--cli-repeat 3] [--skip-report] [--json FILE]

1. "The generic engine does at least 100x the packets per second of the plain per-packet
   SimPy version of the same model": 3 links in series, each with a capacity stepping every
   100 ms (U[0.6, 1.6] x a base rate), a 150 kB drop-tail buffer, per-packet Gilbert-Elliott
   loss and exponential FIFO jitter, carrying 25 Mbit/s of 1200-byte Poisson packets
   (benchmarks/simpy_full.py). Mean utilisation 0.7 (occasional drops) and 1.2 (sustained
   overload). First a packet-for-packet check of the SimPy model against the engine on
   ``--check-seconds``; then, interleaved ``--repeat`` times: the SimPy model on
   ``--simpy-seconds`` (its cost per packet does not depend on the horizon), then
   ``netsim.engine.simulate`` and ``netsim.engine.run`` on ``--engine-seconds``.
2. "A one-hour urban ambulance scenario runs in under 10 seconds on this machine": the shipped
   scenarios/ambulance-bonded.yaml made one hour long at 12 km/h (the urban route then lasts
   the hour) with a 4K camera. ``medlink run FILE --no-report`` as a subprocess (median of
   ``--cli-repeat``; the child's own peak RSS from ``os.wait4``), against ``python -c "import
   netsim.cli"`` (start-up) and ``medlink run FILE`` with the report (the default); then the
   same steps in process, timed one by one (load, simulate, build_results, judge with the
   per-km metrics, results.json, report.html), with each step's peak RSS, and once more under
   tracemalloc for each step's traced peak.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import simpy
from memory import peak_mib, reset_peak
from simpy_full import compare_with_engine, full_plan, simulate_full

import netsim
from netsim import compiled, engine

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SCENARIO = ROOT / "scenarios" / "ambulance-bonded.yaml"
EDITS = (  # (shipped line, line in the one-hour scenario)
    ("name: ambulance-bonded\n", "name: ambulance-bonded-1h\n"),
    ("duration: 18min\n", "duration: 1h\n"),
    ("route: {preset: urban, speed: 40km/h}", "route: {preset: urban, speed: 12km/h}"),
    ("cameras: [1080p30]", "cameras: [4k30]"),
)


# -- measuring ------------------------------------------------------------------------------
class Phase:
    """Repeated timings of one thing: wall, user and system CPU seconds, peak RSS."""

    def __init__(self, label: str, sim_s: float = 0.0) -> None:
        self.label, self.sim_s = label, sim_s
        self.wall: list[float] = []
        self.user: list[float] = []
        self.sys: list[float] = []
        self.peak: list[float] = []
        self.count = 0

    def record(self, wall: float, user: float, sys_s: float, count: int, peak: float | None):
        self.wall.append(wall)
        self.user.append(user)
        self.sys.append(sys_s)
        self.count = count
        if peak is not None:
            self.peak.append(peak)

    def measure(self, call):
        """Time ``call()`` (returning (count, value)); returns the value of the last call."""
        gc.collect()
        can_reset = reset_peak()
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        count, value = call()
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.record(
            wall,
            after.ru_utime - before.ru_utime,
            after.ru_stime - before.ru_stime,
            count,
            peak_mib() if can_reset else None,
        )
        return value

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def rate(self) -> float:
        return self.count / self.median

    def spread(self) -> str:
        return f"{min(self.wall):.2f}-{max(self.wall):.2f}" if len(self.wall) > 1 else "-"

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "simulated_s": self.sim_s,
            "count": self.count,
            "wall_s": self.wall,
            "user_cpu_s": self.user,
            "system_cpu_s": self.sys,
            "median_wall_s": self.median,
            "peak_rss_mib": max(self.peak) if self.peak else None,
        }


# A child forked from this process would inherit its peak RSS in ru_maxrss (Linux keeps the
# high-water mark across exec); a small launcher spawning the command gives the command's own.
_LAUNCHER = """
import json, os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(out, "w") as f:
    json.dump([wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss,
               os.waitstatus_to_exitcode(status)], f)
"""


def measure_child(phase: Phase, argv: list[str], ok=(0,)) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-targets-child-") as scratch:
        result = Path(scratch) / "usage.json"
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(result), *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not result.exists():
            raise RuntimeError(f"launcher failed ({done.returncode}):\n{done.stderr}")
        wall, user, sys_s, maxrss, code = json.loads(result.read_text())
    if code not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited {code}:\n{done.stderr}")
    phase.record(wall, user, sys_s, 1, maxrss / 1024)


def medlink_argv() -> list[str]:
    beside = Path(sys.executable).parent / "medlink"
    exe = str(beside) if beside.is_file() else shutil.which("medlink")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from netsim.cli import main; sys.exit(main())"]


def fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M"
    return f"{rate / 1e3:.1f} k" if rate >= 1e3 else f"{rate:.2f}"


# -- target 1 -------------------------------------------------------------------------------
def target_one(args) -> dict:
    cases = {"rho0.7": 0.7, "rho1.2": 1.2}
    out: dict = {}
    for key, rho in cases.items():
        check = compare_with_engine(full_plan(args.check_seconds, utilisation=rho))
        out[key] = {"check": check}
        c = check
        print(
            f"  check {key}, {args.check_seconds:g} s ({c['packets'][0]:,} packets): fates "
            f"{'equal' if c['fates_equal'] else 'DIFFER'} ({c['fate_mismatches']} mismatches), "
            f"failure links {'equal' if c['failure_links_equal'] else 'DIFFER'}, max |send "
            f"diff| {c['max_send_diff_s']:.1e} s, max |recv diff| {c['max_recv_diff_s']:.1e} s; "
            f"counts (simpy, engine) {c['counts_simpy_engine']}",
            flush=True,
        )
    for key, rho in cases.items():
        simpy_plan = full_plan(args.simpy_seconds, utilisation=rho)
        engine_plan = full_plan(args.engine_seconds, utilisation=rho)
        base = Phase(f"simpy per-packet model, rho {rho:g}", args.simpy_seconds)
        sim = Phase(f"medlink simulate, rho {rho:g}", args.engine_seconds)
        run = Phase(f"medlink run (simulate + stats), rho {rho:g}", args.engine_seconds)
        plain = Phase(f"medlink simulate, numpy only, rho {rho:g}", args.engine_seconds)
        forced = Phase(
            f"medlink simulate, kernels from the start, rho {rho:g}", args.engine_seconds
        )
        fates = events = None
        for _ in range(args.repeat):
            events = base.measure(
                lambda p=simpy_plan: (lambda r: (r.packets, r.events))(simulate_full(p))
            )
            fates = sim.measure(
                lambda p=engine_plan: (
                    lambda s: (len(s.packets), np.bincount(s.packets.fate, minlength=4))
                )(engine.simulate(p))
            )
            run.measure(  # as the CLI runs it: no packet log
                lambda p=engine_plan: (len(engine.run(p, packets=False).packets), None)
            )
            if compiled.installed():  # the same without the compiled kernels, and with them
                for phase, flag in ((plain, "0"), (forced, "1")):  # from the start
                    os.environ["MEDLINK_JIT"] = flag
                    try:
                        phase.measure(lambda p=engine_plan: (len(engine.simulate(p).packets), None))
                    finally:
                        del os.environ["MEDLINK_JIT"]
        assert fates is not None
        out[key].update(
            simpy=base,
            simulate=sim,
            run=run,
            **({"numpy_only": plain, "kernels_from_start": forced} if plain.wall else {}),
            simpy_events_per_packet=events / base.count,
            engine_fates={
                "delivered": int(fates[0]),
                "lost": int(fates[1]),
                "dropped": int(fates[2]),
                "in_flight": int(fates[3]),
            },
        )
        print(f"  {key} done", file=sys.stderr, flush=True)
    return out


def print_target_one(figures: dict, repeat: int) -> None:
    head = (
        f"{'':50} {'sim s':>6} {'packets':>10} {'wall s':>7} {'min-max s':>10} {'user s':>6} "
        f"{'sys s':>6} {'packets/s':>10} {'vs simpy':>9}"
    )
    print(head)
    print("-" * len(head))
    for key in figures:
        base = figures[key]["simpy"]
        phases = [figures[key]["simulate"], figures[key]["run"], base]
        if "numpy_only" in figures[key]:
            phases[2:2] = [figures[key]["numpy_only"], figures[key]["kernels_from_start"]]
        for phase in phases:
            print(
                f"{phase.label:50} {phase.sim_s:>6g} {phase.count:>10,} {phase.median:>7.3f} "
                f"{phase.spread():>10} {statistics.median(phase.user):>6.2f} "
                f"{statistics.median(phase.sys):>6.2f} {fmt_rate(phase.rate):>10} "
                f"{phase.rate / base.rate:>8.1f}x"
            )
        fates = figures[key]["engine_fates"]
        n = sum(fates.values())
        print(
            f"  ({key}: engine fates over {n:,} packets: {fates['lost'] / n:.3%} lost on the wire, "
            f"{fates['dropped'] / n:.3%} dropped by full buffers; "
            f"simpy events per packet {figures[key]['simpy_events_per_packet']:.1f})"
        )
    print(f"(medians of {repeat}; the rows of a case are interleaved in each repetition)")
    print(
        "(compiled kernels: "
        + (
            "numba, netsim.compiled, on under sustained overload; 'numpy only' is MEDLINK_JIT=0, "
            "'from the start' MEDLINK_JIT=1"
            if compiled.installed()
            else "not used: numba is not installed"
        )
        + ")"
    )


# -- target 2 -------------------------------------------------------------------------------
def write_scenario(folder: Path) -> Path:
    text = SOURCE_SCENARIO.read_text()
    for old, new in EDITS:
        if old not in text:
            raise RuntimeError(f"{SOURCE_SCENARIO} no longer contains {old!r}")
        text = text.replace(old, new)
    path = folder / "ambulance-bonded-1h.yaml"
    path.write_text(text)
    return path


def in_process_steps(scenario: Path, out_dir: Path, trace: bool) -> dict:
    """The CLI's steps one by one: (wall s, user s, sys s, peak RSS MiB, traced peak MiB)."""
    from netsim.files import results_document, write_json
    from netsim.report import write_report
    from netsim.results import build_results
    from netsim.scenario import load_scenario

    steps: dict[str, tuple] = {}
    state: dict = {}

    def step(name, call):
        gc.collect()
        can_reset = reset_peak()
        if trace:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        call()
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        traced = None
        if trace:
            current, peak = tracemalloc.get_traced_memory()
            traced = (peak - base) / 2**20, current / 2**20
        steps[name] = (
            wall,
            after.ru_utime - before.ru_utime,
            after.ru_stime - before.ru_stime,
            peak_mib() if can_reset else None,
            traced,
        )

    def load():
        state["loaded"] = load_scenario(scenario)

    def simulate():
        plan = state["loaded"].plan
        state["sim"] = engine.simulate(plan, seed=plan.seed, packets=False)  # as the CLI

    def results():
        state["results"] = build_results(state["sim"])
        del state["sim"]

    def judge():
        state["workloads"] = state["loaded"].judge(state["results"])

    def write():
        loaded = state["loaded"]
        document = results_document(
            state["results"],
            scenario_file=str(scenario),
            scenario_sha256=loaded.sha256,
            scenario_document=loaded.document,
            files=["results.json", "report.html"],
        )
        document["workloads"] = state["workloads"]
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "results.json", document)
        state["document"] = document

    def report():
        write_report(out_dir / "report.html", state["document"])

    if trace:
        tracemalloc.start()
    try:
        for name, call in (
            ("load scenario", load),
            ("simulate", simulate),
            ("build_results (statistics)", results),
            ("judge (workload metrics, per km)", judge),
            ("results.json", write),
            ("report.html", report),
        ):
            step(name, call)
    finally:
        if trace:
            tracemalloc.stop()
    packets = state["results"].packets
    per_stream = {name: len(packets.stream(name)) for name in packets.stream_names}
    return {
        "steps": steps,
        "packets": len(packets),
        "per_stream": per_stream,
        "results_json_bytes": (out_dir / "results.json").stat().st_size,
        "report_bytes": (out_dir / "report.html").stat().st_size,
    }


def target_two(args, scratch: Path) -> dict:
    scenario = write_scenario(scratch)
    medlink = medlink_argv()
    start = Phase('python -c "import netsim.cli" (start-up)')
    bare = Phase("medlink run --no-report")
    full = Phase("medlink run (with report.html)")
    for i in range(args.cli_repeat):
        measure_child(start, [sys.executable, "-c", "import netsim.cli"])
        measure_child(
            bare,
            [*medlink, "run", str(scenario), "--no-report", "--out", str(scratch / f"a{i}")],
            ok=(0, 1),
        )
        if not args.skip_report:
            measure_child(
                full, [*medlink, "run", str(scenario), "--out", str(scratch / f"b{i}")], ok=(0, 1)
            )
        print(f"  cli repetition {i + 1}/{args.cli_repeat} done", file=sys.stderr, flush=True)
    timed = in_process_steps(scenario, scratch / "in-process", trace=False)
    print("  in-process steps timed", file=sys.stderr, flush=True)
    traced = in_process_steps(scenario, scratch / "traced", trace=True)
    print("  in-process steps traced", file=sys.stderr, flush=True)
    return {
        "scenario": scenario.read_text(),
        "startup": start,
        "no_report": bare,
        "with_report": full if full.wall else None,
        "timed": timed,
        "traced": traced,
    }


def print_target_two(fig: dict, cli_repeat: int) -> None:
    head = (
        f"{'':44} {'wall s':>7} {'min-max s':>10} {'user s':>6} {'sys s':>6} {'peak RSS MiB':>12}"
    )
    print(head)
    print("-" * len(head))
    for phase in (fig["no_report"], fig["with_report"], fig["startup"]):
        if phase is None:
            continue
        print(
            f"{phase.label:44} {phase.median:>7.3f} {phase.spread():>10} "
            f"{statistics.median(phase.user):>6.2f} {statistics.median(phase.sys):>6.2f} "
            f"{max(phase.peak):>12.0f}"
        )
    print(f"(subprocesses, medians of {cli_repeat}; peak RSS: the child's own, from wait4)")
    print()
    timed, traced = fig["timed"], fig["traced"]
    head = (
        f"{'in process, step by step':36} {'wall s':>7} {'user s':>6} {'sys s':>6} "
        f"{'peak RSS MiB':>12} {'traced peak MiB':>15} {'held after MiB':>14}"
    )
    print(head)
    print("-" * len(head))
    total = 0.0
    for name, (wall, user, sys_s, peak, _) in timed["steps"].items():
        tr = traced["steps"][name][4]
        if name != "report.html":
            total += wall
        print(
            f"{name:36} {wall:>7.3f} {user:>6.2f} {sys_s:>6.2f} "
            f"{'-' if peak is None else f'{peak:.0f}':>12} {tr[0]:>15.0f} {tr[1]:>14.0f}"
        )
    print(f"{'sum without report.html':36} {total:>7.3f}")
    print(
        f"packets: {timed['packets']:,} ("
        + ", ".join(
            f"{k} {v:,}" for k, v in sorted(timed["per_stream"].items(), key=lambda kv: -kv[1])
        )
        + f"); results.json {timed['results_json_bytes'] / 1e6:.2f} MB, "
        f"report.html {timed['report_bytes'] / 1e6:.2f} MB"
    )
    print(
        "(traced: the step's own peak of Python and numpy allocations under tracemalloc, above "
        "what was held when it began, from a second, untimed pass; held after: all traced "
        "memory alive when the step ends)"
    )


# -- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine-seconds", type=float, default=600.0)
    parser.add_argument("--simpy-seconds", type=float, default=30.0)
    parser.add_argument("--check-seconds", type=float, default=20.0)
    parser.add_argument("--cli-repeat", type=int, default=3)
    parser.add_argument("--skip-report", action="store_true", help="skip the --report CLI runs")
    parser.add_argument("--skip-one", action="store_true", help="skip target 1")
    parser.add_argument("--skip-two", action="store_true", help="skip target 2")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    load_before = os.getloadavg()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, simpy {simpy.__version__}, "
        f"medlink {netsim.__version__}; {os.cpu_count()} CPUs; load average before "
        f"{load_before[0]:.2f}",
        flush=True,
    )
    one = two = None
    if not args.skip_one:
        print("\ntarget 1: engine >= 100x the per-packet SimPy model (3 hops, curves, GE, buffers)")
        one = target_one(args)
        print()
        print_target_one(one, args.repeat)
        for key in one:
            ratio = one[key]["simulate"].rate / one[key]["simpy"].rate
            ratio_run = one[key]["run"].rate / one[key]["simpy"].rate
            print(
                f"target 1, {key}: simulate {ratio:.1f}x, run {ratio_run:.1f}x the SimPy model: "
                f"{'met' if ratio >= 100 else 'NOT met'} (>= 100x)"
            )
    if not args.skip_two:
        print("\ntarget 2: one-hour urban ambulance (bonded 5G SA + LTE, 4K30) in < 10 s")
        with tempfile.TemporaryDirectory(prefix="bench-targets-") as scratch:
            two = target_two(args, Path(scratch))
        print()
        print_target_two(two, args.cli_repeat)
        wall = two["no_report"].median
        print(
            f"target 2: medlink run --no-report {wall:.2f} s: "
            f"{'met' if wall < 10 else 'NOT met'} (< 10 s)"
        )
    load_after = os.getloadavg()
    print(f"\nload average after {load_after[0]:.2f}; {time.perf_counter() - t0:.0f} s in all")

    if args.json:
        document = {
            "date": started.isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "simpy": simpy.__version__,
            "medlink": netsim.__version__,
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        }
        if one is not None:
            document["target_one"] = {
                key: {k: (v.to_dict() if isinstance(v, Phase) else v) for k, v in case.items()}
                for key, case in one.items()
            }
        if two is not None:
            document["target_two"] = {
                k: (v.to_dict() if isinstance(v, Phase) else v) for k, v in two.items()
            }
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
