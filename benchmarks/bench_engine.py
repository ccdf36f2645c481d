"""medlink's engine against the same model as a per-packet SimPy program, in one process.

    python benchmarks/bench_engine.py [--hours 1] [--baseline-seconds 60] [--repeat 5]
                                      [--json FILE]

Workload (benchmarks/simpy_baseline.py, ``workload_plan``): one link of 50 Mbit/s, delay 10 ms,
exponential jitter with mean 2 ms (FIFO order kept), 1 % i.i.d. loss, carrying 25 Mbit/s of
1200-byte packets with Poisson arrivals.

Measured, each ``--repeat`` times, medians reported:

- the SimPy baseline on ``--baseline-seconds`` simulated seconds. Its cost per packet does not
  depend on the horizon (its event queue holds a few dozen events), so a short horizon gives
  its packets/s, and speed-ups compare packets per second;
- ``netsim.engine.run`` (simulation plus statistics) on ``--hours`` simulated hours, twice:
  right after the baseline, then again back-to-back;
- ``netsim.engine.simulate`` alone, at the default window and at window_s = 1, 10, 60 s.

Before the repeats, one ``run`` is timed on its own as the *cold* figure: the first call in a
process pays one-off costs (importing scipy.signal, first touch of fresh memory). Why three
figures for ``run``: on a VM that hands freed memory back to the hypervisor (as the one the
README's figures come from does, after about 2 s), re-touching it costs kernel time, and a run
of the engine touches about 100 bytes per packet. The ``sys s`` column shows that time.

Peak RSS is reported for the whole process (``resource.getrusage``) and, where Linux allows
resetting the high-water mark (``/proc/self/clear_refs``), for each phase alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import simpy
from memory import peak_mib, reset_peak
from simpy_baseline import simulate_baseline, workload_plan

import netsim
from netsim import engine

WINDOWS = (1.0, 10.0, 60.0)


# -- memory ---------------------------------------------------------------------------------
_PROCESS_PEAK_MIB = [0.0]


def _note_process_peak() -> None:
    """Fold the current ru_maxrss (KiB on Linux, bytes on macOS) into the process's peak."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mib = peak / 2**20 if sys.platform == "darwin" else peak / 1024
    _PROCESS_PEAK_MIB[0] = max(_PROCESS_PEAK_MIB[0], mib)


def _processpeak_mib() -> float:
    """Peak RSS of the whole process so far, across the per-phase resets of the mark."""
    _note_process_peak()
    return _PROCESS_PEAK_MIB[0]


# -- timing ---------------------------------------------------------------------------------
class Phase:
    """Repeated timings of one thing: wall and CPU seconds, packets, peak RSS per call."""

    def __init__(self, label: str, sim_seconds: float) -> None:
        self.label, self.sim_seconds = label, sim_seconds
        self.wall: list[float] = []
        self.user: list[float] = []  # CPU seconds in the process, and in the kernel for it
        self.sys: list[float] = []
        self.packets: list[int] = []
        self.peak_mib: list[float] = []

    def measure(self, call: Callable[[], int]) -> None:
        """Time ``call`` (which returns the packets it simulated); results are dropped after."""
        gc.collect()
        _note_process_peak()  # resetting the mark below also resets ru_maxrss
        can_reset = reset_peak()
        before = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        packets = call()
        wall = time.perf_counter() - wall0
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.wall.append(wall)
        self.user.append(after.ru_utime - before.ru_utime)
        self.sys.append(after.ru_stime - before.ru_stime)
        self.packets.append(packets)
        peak = peak_mib() if can_reset else None
        if peak is not None:
            self.peak_mib.append(peak)
        _note_process_peak()

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def rate(self) -> float:
        """Packets per second of wall time, at the median wall time."""
        return self.packets[0] / self.median_wall

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "simulated_seconds": self.sim_seconds,
            "packets": self.packets[0],
            "wall_s": self.wall,
            "user_cpu_s": self.user,
            "system_cpu_s": self.sys,
            "median_wall_s": self.median_wall,
            "packets_per_s": self.rate,
            "peak_rss_mib": max(self.peak_mib) if self.peak_mib else None,
        }


def _default_window(plan) -> float | None:
    """The window ``simulate(plan, window_s=None)`` uses, if this engine says (else None)."""
    if plan.window_s is not None:
        return float(plan.window_s)
    choose = getattr(engine, "default_window", None)
    return float(choose(plan)) if choose else None


def _engine_run(plan) -> Callable[[], int]:
    def call() -> int:
        results = engine.run(plan, seed=plan.seed)
        return len(results.packets)

    return call


def _engine_simulate(plan, window_s: float | None) -> Callable[[], int]:
    def call() -> int:
        return len(engine.simulate(plan, seed=plan.seed, window_s=window_s).packets)

    return call


def _baseline(plan) -> Callable[[], int]:
    def call() -> int:
        return simulate_baseline(plan).packets

    return call


# -- output ---------------------------------------------------------------------------------
def _fmt_rate(rate: float) -> str:
    return f"{rate / 1e6:.2f} M" if rate >= 1e6 else f"{rate / 1e3:.1f} k"


def _fmt_mib(phase: Phase) -> str:
    return f"{max(phase.peak_mib):.0f}" if phase.peak_mib else "-"


def _main_table(phases: list[Phase], baseline: Phase, repeat: int) -> str:
    head = (
        f"{'':44} {'sim s':>6} {'packets':>11} {'wall s':>7} {'min-max s':>11} "
        f"{'user s':>6} {'sys s':>6} {'packets/s':>10} {'vs simpy':>9} {'peak MiB':>8}"
    )
    rows = [head, "-" * len(head)]
    for phase in phases:
        spread = f"{min(phase.wall):.2f}-{max(phase.wall):.2f}" if len(phase.wall) > 1 else "-"
        rows.append(
            f"{phase.label:44} {phase.sim_seconds:>6g} {phase.packets[0]:>11,} "
            f"{phase.median_wall:>7.3f} {spread:>11} {statistics.median(phase.user):>6.2f} "
            f"{statistics.median(phase.sys):>6.2f} "
            f"{_fmt_rate(phase.rate):>10} {phase.rate / baseline.rate:>8.1f}x "
            f"{_fmt_mib(phase):>8}"
        )
    rows.append(
        f"(wall, user, sys: medians of {repeat}; cold: one call, the first in the process; "
        "sys is kernel time, mostly page faults)"
    )
    return "\n".join(rows)


def _window_table(windows: list[tuple[str, Phase]]) -> str:
    head = (
        f"{'window_s':30} {'wall s':>7} {'min-max s':>11} {'user s':>6} {'sys s':>6} "
        f"{'packets/s':>10} {'peak MiB':>8}"
    )
    rows = [head, "-" * len(head)]
    for label, phase in windows:
        spread = f"{min(phase.wall):.2f}-{max(phase.wall):.2f}" if len(phase.wall) > 1 else "-"
        rows.append(
            f"{label:30} {phase.median_wall:>7.3f} {spread:>11} "
            f"{statistics.median(phase.user):>6.2f} {statistics.median(phase.sys):>6.2f} "
            f"{_fmt_rate(phase.rate):>10} "
            f"{_fmt_mib(phase):>8}"
        )
    return "\n".join(rows)


def _write_json_atomically(path: Path, document: dict) -> None:
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# -- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=1.0, help="engine horizon (default 1)")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=60.0,
        help="SimPy baseline horizon in simulated seconds (default 60)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.hours <= 0 or args.baseline_seconds <= 0:
        parser.error("--repeat, --hours and --baseline-seconds must be positive")

    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    plan = workload_plan(args.hours * 3600.0, seed=args.seed)
    baseline_plan = workload_plan(args.baseline_seconds, seed=args.seed)
    hours = plan.duration_s

    print(
        "workload: one link, 50 Mbit/s, delay 10 ms + exponential jitter (mean 2 ms, FIFO), "
        f"1 % i.i.d. loss; 25 Mbit/s of 1200-byte Poisson packets "
        f"({plan.streams[0].rate_pps:.1f} packets/s)"
    )
    print(
        f"medlink over {hours:g} simulated s; simpy baseline over {args.baseline_seconds:g} "
        "simulated s (its cost per packet does not depend on the horizon, so packets/s compare)"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, simpy {simpy.__version__}, "
        f"medlink {netsim.__version__}; {os.cpu_count()} CPUs; load average before "
        f"{load_before[0]:.2f}",
        flush=True,
    )

    default_window = _default_window(plan)
    default_label = "?" if default_window is None else f"{default_window:g} s"
    cold = Phase("medlink run, cold (first call in the process)", hours)
    idle = Phase("medlink run, after the baseline (~2 s idle)", hours)
    hot = Phase("medlink run, back-to-back", hours)
    sim_phase = Phase(f"medlink simulate, back-to-back (window {default_label})", hours)
    base_phase = Phase("simpy per-packet baseline", args.baseline_seconds)
    window_phases = {w: Phase(f"medlink simulate window_s={w:g}", hours) for w in WINDOWS}

    cold.measure(_engine_run(plan))
    for i in range(args.repeat):
        base_phase.measure(_baseline(baseline_plan))
        idle.measure(_engine_run(plan))
        hot.measure(_engine_run(plan))
        sim_phase.measure(_engine_simulate(plan, None))
        for window, phase in window_phases.items():
            phase.measure(_engine_simulate(plan, window))
        print(f"  repetition {i + 1}/{args.repeat} done", file=sys.stderr, flush=True)

    load_after = os.getloadavg()
    print()
    print(_main_table([hot, idle, cold, sim_phase, base_phase], base_phase, args.repeat))
    print()
    print("engine speed by window length (simulate alone, back-to-back):")
    windows = [(f"{w:g}", p) for w, p in window_phases.items()]
    windows.append((f"None (the default: {default_label})", sim_phase))
    print(_window_table(windows))
    best = min(window_phases.items(), key=lambda item: item[1].median_wall)
    fastest = best[1].median_wall
    close = [f"{w:g}" for w, p in window_phases.items() if p.median_wall <= 1.1 * fastest]
    print(f"fastest median: window_s={best[0]:g}; within 10 % of it: {', '.join(close)}")
    print()
    targets = {
        label: {
            "packets_per_s": phase.rate,
            "speedup": phase.rate / base_phase.rate,
            "5M_packets_per_s": phase.rate >= 5e6,
            "50x_simpy": phase.rate / base_phase.rate >= 50,
        }
        for label, phase in (
            ("run_back_to_back", hot),
            ("run_after_idle", idle),
            ("run_cold", cold),
            ("simulate_back_to_back", sim_phase),
        )
    }
    print("targets: >= 5 M packets/s and >= 50x the simpy baseline")
    for label, figures in targets.items():
        print(
            f"  {label:22} {_fmt_rate(figures['packets_per_s']):>9} packets/s "
            f"{'met' if figures['5M_packets_per_s'] else 'NOT met':>7}   "
            f"{figures['speedup']:6.1f}x {'met' if figures['50x_simpy'] else 'NOT met':>7}"
        )
    print(
        f"peak RSS of the whole process: {_processpeak_mib():.0f} MiB; load average after "
        f"{load_after[0]:.2f}"
    )

    if args.json:
        document = {
            "date": started.isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "simpy": simpy.__version__,
            "medlink": netsim.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "arguments": {
                "hours": args.hours,
                "baseline_seconds": args.baseline_seconds,
                "repeat": args.repeat,
                "seed": args.seed,
            },
            "medlink_run_back_to_back": hot.to_dict(),
            "medlink_run_after_idle": idle.to_dict(),
            "medlink_run_cold": cold.to_dict(),
            "medlink_simulate_back_to_back": sim_phase.to_dict(),
            "simpy_baseline": base_phase.to_dict(),
            "windows": {f"{w:g}": p.to_dict() for w, p in window_phases.items()}
            | {"None": sim_phase.to_dict()},
            "fastest_window_s": best[0],
            "default_window_s": default_window,
            "targets": targets,
            "process_peak_rss_mib": _processpeak_mib(),
        }
        _write_json_atomically(args.json, document)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
