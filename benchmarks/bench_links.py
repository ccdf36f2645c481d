"""Time-varying links: trace replay, rate schedules, radio sampling and a drive scenario.

    python benchmarks/bench_links.py [--trace FILE] [--minutes 10] [--baseline-seconds 60]
                                     [--repeat 5] [--radio-repeat 3] [--cli-repeat 3]
                                     [--json FILE]

Everything runs in one process (the CLI runs as child processes of it); each figure is the
median of its repeats, and each speed-up compares two figures measured side by side in the
same run. Four sections:

1. **Trace replay.** One link following a Mahimahi trace (``OpportunitySchedule``; the real
   ``TMobile-LTE-short.up`` when ``../shared/data/mahimahi`` (beside the repository) has it,
   else a synthetic trace
   of the same mean rate and period, made here), carrying Poisson 1200-byte packets at 70 % of
   the trace's mean rate for ``--minutes`` simulated minutes. ``netsim.engine.simulate`` on
   it, against two baselines: (a) the same plan on a constant capacity equal to the trace's
   mean rate (the constant-rate fast path), (b) ``tests/mahimahi_reference.simulate_mahimahi``
   (a plain per-packet loop of Mahimahi's ``LinkQueue``) on the same arrivals, cut to the
   first ``--baseline-seconds``: its cost per packet does not depend on the horizon, so its
   packets/s compare. The departures of the two are checked to agree on that slice.
2. **Rate schedules.** The same traffic on a ``RateSchedule`` with one breakpoint every
   10 ms (as a radio link produces): the trace's capacity averaged over each 10 ms, unrolled
   over the run, so the mean rate and the load are those of section 1. Against the constant
   link. Both sections also time the link's FIFO alone (``netsim.fifo.FifoQueue.serve`` on
   all the arrivals at once) to show what the curve costs apart from the engine around it.
3. **Radio.** ``netsim.radiolink.radio_trace`` for a 20 km straight road at 60 km/h with
   sites every 500 m (40 sites), 10 ms steps, 20 minutes; and for 100 sites over 1 hour
   (60 km, sites every 600 m): the memory-heavy case, arrays of n_sites x n_samples. The
   first call of each is also reported alone (*cold*: first touch of fresh memory).
4. **CLI.** ``medlink run scenarios/drive-5g-sa.yaml --out TMP`` as a subprocess, against
   ``python -c "import netsim.cli"`` (the start-up every run pays).

Memory: peak RSS per phase (``/proc/self/clear_refs`` resets the high-water mark; for the
CLI, ``ru_maxrss`` of the child from ``os.wait4``), and the peak of Python and numpy
allocations under ``tracemalloc`` in one extra call of each in-process phase (numpy reports
its buffers to tracemalloc), made after the timed calls so that it does not slow them.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from memory import peak_mib, reset_peak

import netsim
from netsim import engine
from netsim.capacity import OpportunitySchedule, RateSchedule
from netsim.fifo import FifoQueue
from netsim.mobility import sites_along_road
from netsim.plan import LinkSpec, NetworkPlan, RadioSpec, RouteSpec, SizeModel, StreamSpec
from netsim.radiolink import radio_dynamics, radio_trace
from netsim.traces import read_mahimahi

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.mahimahi_reference import simulate_mahimahi  # noqa: E402

# The development traces live beside the repository, never in it (../shared/data).
DEFAULT_TRACE = REPO.parent / "shared" / "data" / "mahimahi" / "TMobile-LTE-short.up"
SCENARIO = REPO / "scenarios" / "drive-5g-sa.yaml"
PACKET_BYTES = 1200
LOAD = 0.7  # offered load as a fraction of the trace's mean rate
SCHEDULE_STEP_S = 0.010
SPEED_MPS = 60 / 3.6


# -- memory ---------------------------------------------------------------------------------
def _rss_mib(maxrss: int) -> float:
    """``ru_maxrss`` in MiB (KiB on Linux, bytes on macOS)."""
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024


# -- timing ---------------------------------------------------------------------------------
class Phase:
    """Repeated timings of one thing: wall and CPU seconds, items done, peak memory."""

    def __init__(self, label: str, sim_seconds: float, unit: str = "packets") -> None:
        self.label, self.sim_seconds, self.unit = label, sim_seconds, unit
        self.wall: list[float] = []
        self.user: list[float] = []
        self.sys: list[float] = []
        self.count = 0
        self.peak_mib: list[float] = []
        self.traced_mib: float | None = None

    def record(self, wall: float, user: float, sys_s: float, count: int, peak: float | None):
        self.wall.append(wall)
        self.user.append(user)
        self.sys.append(sys_s)
        self.count = count
        if peak is not None:
            self.peak_mib.append(peak)

    def measure(self, call: Callable[[], int]) -> None:
        """Time ``call`` (which returns the items it did); its results are dropped after."""
        gc.collect()
        can_reset = reset_peak()
        before = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        count = call()
        wall = time.perf_counter() - wall0
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.record(
            wall,
            after.ru_utime - before.ru_utime,
            after.ru_stime - before.ru_stime,
            count,
            peak_mib() if can_reset else None,
        )

    def trace_memory(self, call: Callable[[], int]) -> None:
        """One more, untimed call under tracemalloc: the peak of Python + numpy allocations."""
        gc.collect()
        tracemalloc.start()
        try:
            call()
            self.traced_mib = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def rate(self) -> float:
        """Items per second of wall time, at the median wall time."""
        return self.count / self.median_wall

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "simulated_seconds": self.sim_seconds,
            "unit": self.unit,
            "count": self.count,
            "wall_s": self.wall,
            "user_cpu_s": self.user,
            "system_cpu_s": self.sys,
            "median_wall_s": self.median_wall,
            "per_s": self.rate,
            "peak_rss_mib": max(self.peak_mib) if self.peak_mib else None,
            "tracemalloc_peak_mib": self.traced_mib,
        }


# -- workloads ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trace:
    """One period of a Mahimahi trace: opportunity times in whole ms, the period in s."""

    name: str
    opportunity_ms: np.ndarray
    period_s: float

    @property
    def mean_rate_bps(self) -> float:
        return self.opportunity_ms.size * 1504 * 8 / self.period_s


def synthetic_trace(mean_bps: float = 13.35e6, period_s: float = 140.0, seed: int = 1) -> Trace:
    """A Mahimahi-like uplink trace: opportunities per ms from a log-normal AR(1) rate that
    changes every 100 ms (correlation 0.95 per step, sigma 0.8), scaled to ``mean_bps``."""
    rng = np.random.default_rng(seed)
    blocks = int(period_s * 10)
    z = np.empty(blocks)
    z[0] = rng.standard_normal()
    for i in range(1, blocks):
        z[i] = 0.95 * z[i - 1] + np.sqrt(1 - 0.95**2) * rng.standard_normal()
    level = np.exp(0.8 * z)
    per_ms = np.repeat(level / level.mean(), 100) * mean_bps / (1504 * 8 * 1000)
    counts = rng.poisson(per_ms)
    ms = np.repeat(np.arange(1, counts.size + 1), counts)
    ms[-1] = int(round(period_s * 1000))  # Mahimahi's period is the last timestamp
    return Trace("synthetic (no real trace found)", ms.astype(np.int64), period_s)


def load_trace(path: Path) -> Trace:
    if path.is_file():
        trace = read_mahimahi(path)
        return Trace(path.name, np.asarray(trace.opportunity_ms), float(trace.period_s))
    return synthetic_trace()


def binned_schedule(trace: Trace, horizon_s: float) -> RateSchedule:
    """The trace's capacity averaged over each 10 ms, unrolled (no loop) over ``horizon_s``,
    then its mean rate for ever."""
    bins_per_period = int(round(trace.period_s / SCHEDULE_STEP_S))
    per_bin = np.bincount(
        np.minimum(trace.opportunity_ms // 10, bins_per_period - 1), minlength=bins_per_period
    )
    rate = per_bin * 1504 * 8 / SCHEDULE_STEP_S
    n = int(np.ceil(horizon_s / SCHEDULE_STEP_S))
    rates = np.append(np.resize(rate, n), trace.mean_rate_bps)
    return RateSchedule(np.arange(n + 1) * SCHEDULE_STEP_S, rates)


def one_link_plan(link: LinkSpec, rate_bps: float, duration_s: float, seed: int) -> NetworkPlan:
    stream = StreamSpec(
        name="flow",
        kind="poisson",
        rate_pps=rate_bps / (8 * PACKET_BYTES),
        size=SizeModel(distribution="constant", mean_bytes=PACKET_BYTES),
        path=(link.name,),
    )
    links = {link.name: link}
    return NetworkPlan("bench-links", duration_s, links, (stream,), seed=seed)


def road_radio(length_m: float, spacing_m: float) -> RadioSpec:
    """An uplink radio (the RadioSpec defaults) along a straight road at 60 km/h."""
    sites = sites_along_road(length_m, spacing_m, offset_m=50.0)
    return RadioSpec(
        route=RouteSpec(((0.0, 0.0), (length_m, 0.0)), speed_mps=SPEED_MPS),
        sites_m=tuple(map(tuple, sites.tolist())),
    )


# -- calls ----------------------------------------------------------------------------------
def _simulate(plan: NetworkPlan) -> Callable[[], int]:
    def call() -> int:
        return len(engine.simulate(plan, seed=plan.seed).packets)

    return call


def _fifo(link: LinkSpec, arrival_s: np.ndarray, size: np.ndarray) -> Callable[[], int]:
    def call() -> int:
        queue = FifoQueue(link.capacity_bps, curve=link.curve)
        depart = queue.serve(arrival_s, size, np.zeros(arrival_s.size, dtype=np.int8))
        return int(depart.size)

    return call


def _mahimahi(opportunity_ms: list[int], arrivals_ms: list[float], sizes: list[int]):
    def call() -> int:
        return len(simulate_mahimahi(opportunity_ms, arrivals_ms, sizes))

    return call


def _radio(spec: RadioSpec, horizon_s: float) -> Callable[[], int]:
    def call() -> int:
        return int(radio_trace(spec, 1, "radio", horizon_s).t_s.size)

    return call


def _radio_dynamics(spec: RadioSpec, horizon_s: float) -> Callable[[], int]:
    def call() -> int:
        radio_dynamics(spec, 1, "radio", horizon_s)
        return int(np.arange(0.0, horizon_s, spec.step_s).size)

    return call


def _medlink_command() -> list[str]:
    """The ``medlink`` console script of this interpreter (not a pyenv-style shim), else
    the first on PATH, else its entry point through this interpreter."""
    beside = Path(sys.executable).parent / "medlink"
    exe = str(beside) if beside.is_file() else shutil.which("medlink")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from netsim.cli import main; sys.exit(main())"]


# The CLI runs under this launcher, not as a direct child: a child forked from this process
# inherits its peak RSS (Linux carries the old mm's high-water mark into ru_maxrss across
# exec), which after section 3 is gigabytes. The launcher's own mark is its few MiB, and
# posix_spawn from it gives the command's own peak in wait4's rusage.
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


def measure_child(phase: Phase, argv: list[str], ok: tuple[int, ...] = (0,)) -> None:
    """Run ``argv`` in a child process: its wall time, CPU times and peak RSS (wait4)."""
    with tempfile.TemporaryDirectory(prefix="bench-links-child-") as scratch:
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
    phase.record(wall, user, sys_s, 1, _rss_mib(maxrss))


# -- output ---------------------------------------------------------------------------------
def _fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f} k"
    return f"{rate:.2f}"


def _table(phases: list[Phase], refs: list[tuple[str, Phase]], per: str = "/s") -> str:
    """One row per phase; a ratio column per reference (its rate / the reference's rate)."""
    ratio_heads = "".join(f" {'vs ' + name:>13}" for name, _ in refs)
    head = (
        f"{'':46} {'sim s':>6} {'count':>11} {'wall s':>7} {'min-max s':>11} {'user s':>6} "
        f"{'sys s':>6} {per:>9}{ratio_heads} {'peak MiB':>8} {'traced':>7}"
    )
    rows = [head, "-" * len(head)]
    for p in phases:
        spread = f"{min(p.wall):.2f}-{max(p.wall):.2f}" if len(p.wall) > 1 else "-"
        ratios = "".join(f" {p.rate / ref.rate:>12.2f}x" for _, ref in refs)
        peak = f"{max(p.peak_mib):.0f}" if p.peak_mib else "-"
        traced = f"{p.traced_mib:.0f}" if p.traced_mib is not None else "-"
        rows.append(
            f"{p.label:46} {p.sim_seconds:>6g} {p.count:>11,} {p.median_wall:>7.3f} "
            f"{spread:>11} {statistics.median(p.user):>6.2f} {statistics.median(p.sys):>6.2f} "
            f"{_fmt_rate(p.rate):>9}{ratios} {peak:>8} {traced:>7}"
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


def _progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


# -- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE, help="Mahimahi trace")
    parser.add_argument("--minutes", type=float, default=10.0, help="sections 1-2 (default 10)")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=60.0,
        help="per-packet Mahimahi baseline horizon, simulated seconds (default 60)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="sections 1-2 (default 5)")
    parser.add_argument("--radio-repeat", type=int, default=3, help="section 3 (default 3)")
    parser.add_argument("--cli-repeat", type=int, default=3, help="section 4 (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if min(args.repeat, args.radio_repeat, args.cli_repeat) < 1:
        parser.error("the repeats must be >= 1")
    if args.minutes <= 0 or not 0 < args.baseline_seconds <= args.minutes * 60:
        parser.error("--minutes must be > 0 and --baseline-seconds in (0, minutes * 60]")

    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    t_all = time.perf_counter()
    duration = args.minutes * 60.0
    trace = load_trace(args.trace)
    mean_bps = trace.mean_rate_bps
    offered = LOAD * mean_bps
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, medlink "
        f"{netsim.__version__}; {os.cpu_count()} CPUs; load average before {load_before[0]:.2f}"
    )
    print(
        f"trace: {trace.name}, {trace.opportunity_ms.size:,} opportunities of 1504 B per "
        f"{trace.period_s:g} s period, mean {mean_bps / 1e6:.2f} Mbit/s; traffic: Poisson "
        f"{PACKET_BYTES} B packets at {LOAD:.0%} of it ({offered / 1e6:.2f} Mbit/s, "
        f"{offered / (8 * PACKET_BYTES):.1f} packets/s), {duration:g} simulated s",
        flush=True,
    )

    # -- sections 1 and 2: curves on one link ---------------------------------------------
    horizon = duration + 10.0  # the plan's default drain
    opportunity = LinkSpec(
        "link", curve=OpportunitySchedule(trace.opportunity_ms / 1000.0, trace.period_s)
    )
    constant = LinkSpec("link", capacity_bps=mean_bps)
    schedule = LinkSpec("link", curve=binned_schedule(trace, horizon))
    plans = {
        name: one_link_plan(link, offered, duration, args.seed)
        for name, link in (("trace", opportunity), ("constant", constant), ("rates", schedule))
    }
    sim = engine.simulate(plans["trace"], seed=args.seed)  # also warms up the engine
    send, size = sim.packets.t_send_s, sim.packets.size_bytes
    cut = send < args.baseline_seconds
    arrivals_ms = (send[cut] * 1000.0).tolist()
    sizes = size[cut].tolist()
    opportunities = trace.opportunity_ms.tolist()
    reference_ms = np.asarray(simulate_mahimahi(opportunities, arrivals_ms, sizes))
    medlink_ms = sim.packets.t_recv_s[cut] * 1000.0
    undelivered = int(np.isnan(medlink_ms).sum())
    disagreement_ms = float(np.max(np.abs(reference_ms - medlink_ms))) if cut.any() else 0.0
    fifo_sizes = size.astype(np.int64)
    del sim

    sim_trace = Phase("simulate, Mahimahi trace (OpportunitySchedule)", duration)
    sim_const = Phase("simulate, constant mean rate [baseline a]", duration)
    mm = Phase("mahimahi per-packet loop [baseline b]", args.baseline_seconds)
    sim_rates = Phase("simulate, RateSchedule, 10 ms breakpoints", duration)
    fifo_trace = Phase("FifoQueue alone, OpportunitySchedule", duration)
    fifo_rates = Phase("FifoQueue alone, RateSchedule 10 ms", duration)
    fifo_const = Phase("FifoQueue alone, constant [baseline]", duration)
    calls = [
        (sim_trace, _simulate(plans["trace"])),
        (sim_const, _simulate(plans["constant"])),
        (mm, _mahimahi(opportunities, arrivals_ms, sizes)),
        (sim_rates, _simulate(plans["rates"])),
        (fifo_trace, _fifo(opportunity, send, fifo_sizes)),
        (fifo_rates, _fifo(schedule, send, fifo_sizes)),
        (fifo_const, _fifo(constant, send, fifo_sizes)),
    ]
    for i in range(args.repeat):
        for phase, call in calls:
            phase.measure(call)
        _progress(f"sections 1-2: repetition {i + 1}/{args.repeat} done")
    for phase, call in calls:
        phase.trace_memory(call)

    # -- section 3: radio -----------------------------------------------------------------
    road = road_radio(20_000.0, 500.0)
    wide = road_radio(60_000.0, 600.0)
    n_road, n_wide = len(road.sites_m), len(wide.sites_m)
    road_s, wide_s = 20 * 60.0, 3600.0
    radio_cold = Phase(f"radio_trace, {n_road} sites, 20 min, cold", road_s, "samples")
    radio_road = Phase(f"radio_trace, {n_road} sites, 20 min", road_s, "samples")
    dyn_road = Phase(f"radio_dynamics, {n_road} sites, 20 min", road_s, "samples")
    wide_cold = Phase(f"radio_trace, {n_wide} sites, 1 h, cold", wide_s, "samples")
    radio_wide = Phase(f"radio_trace, {n_wide} sites, 1 h", wide_s, "samples")
    radio_cold.measure(_radio(road, road_s))
    wide_cold.measure(_radio(wide, wide_s))
    radio_calls = [
        (radio_road, _radio(road, road_s)),
        (dyn_road, _radio_dynamics(road, road_s)),
        (radio_wide, _radio(wide, wide_s)),
    ]
    for i in range(args.radio_repeat):
        for phase, call in radio_calls:
            phase.measure(call)
        _progress(f"section 3: repetition {i + 1}/{args.radio_repeat} done")
    for phase, call in radio_calls:
        phase.trace_memory(call)
    radio_cold.traced_mib, wide_cold.traced_mib = radio_road.traced_mib, radio_wide.traced_mib

    # -- section 4: the CLI ---------------------------------------------------------------
    cli_run = Phase(f"medlink run {SCENARIO.name}", 600.0, "runs")
    cli_import = Phase('python -c "import netsim.cli" [baseline]', 0.0, "runs")
    cli_python = Phase('python -c "pass" (interpreter start-up)', 0.0, "runs")
    with tempfile.TemporaryDirectory(prefix="bench-links-") as out:
        for i in range(args.cli_repeat):
            # Exit code 1 is a failed budget: still a complete run.
            run_argv = [*_medlink_command(), "run", str(SCENARIO), "--out", out]
            measure_child(cli_run, run_argv, ok=(0, 1))
            measure_child(cli_import, [sys.executable, "-c", "import netsim.cli"])
            measure_child(cli_python, [sys.executable, "-c", "pass"])
            _progress(f"section 4: repetition {i + 1}/{args.cli_repeat} done")

    in_process = [p for p in (*[c[0] for c in calls], radio_cold, wide_cold) if p.peak_mib]
    in_process += [p for p, _ in radio_calls if p.peak_mib]
    process_peak = max(
        [_rss_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)]
        + [max(p.peak_mib) for p in in_process]
    )
    load_after = os.getloadavg()
    total_s = time.perf_counter() - t_all

    # -- report ---------------------------------------------------------------------------
    print()
    print(f"1. trace replay (medians of {args.repeat}; 'traced' = tracemalloc peak, MiB)")
    print(_table([sim_trace, sim_const, mm], [("mahimahi", mm), ("constant", sim_const)]))
    print(
        f"   check: on the first {args.baseline_seconds:g} s ({len(sizes):,} packets) medlink's "
        f"departures differ from the per-packet loop's by at most {disagreement_ms:.1e} ms "
        f"({undelivered} undelivered)"
    )
    print()
    print(f"2. rate schedule, {schedule.curve.t_s.size:,} breakpoints (medians of {args.repeat})")
    print(_table([sim_rates, sim_const], [("constant", sim_const)]))
    print()
    print("   the link's FIFO alone (all arrivals in one call)")
    print(_table([fifo_trace, fifo_rates, fifo_const], [("constant", fifo_const)]))
    print()
    road_cells, wide_cells = n_road * radio_road.count, n_wide * radio_wide.count
    print(f"3. radio, 10 ms steps, 60 km/h (medians of {args.radio_repeat}; cold: one call)")
    print(_table([radio_road, dyn_road, radio_cold, radio_wide, wide_cold], []))
    print(
        f"   site-samples: {n_road} x {radio_road.count:,} = {road_cells / 1e6:.1f} M; "
        f"{n_wide} x {radio_wide.count:,} = {wide_cells / 1e6:.1f} M "
        f"({(radio_wide.traced_mib or 0) * 2**20 / wide_cells:.0f} traced bytes per "
        "site-sample at the peak)"
    )
    print()
    print(f"4. CLI, child processes (medians of {args.cli_repeat}; peak = child's max RSS)")
    print(_table([cli_run, cli_import, cli_python], [], per="runs/s"))
    print(f"   run minus start-up: {cli_run.median_wall - cli_import.median_wall:.2f} s")
    print()
    print(
        f"speed-ups: trace replay {sim_trace.rate / mm.rate:.1f}x the per-packet loop, "
        f"{sim_trace.rate / sim_const.rate:.2f}x the constant link; rate schedule "
        f"{sim_rates.rate / sim_const.rate:.2f}x the constant link"
    )
    print(
        f"whole benchmark {total_s:.0f} s; load average after {load_after[0]:.2f}; "
        f"peak RSS of this process {process_peak:.0f} MiB"
    )

    if args.json:
        phases = [*(p for p, _ in calls), radio_road, dyn_road, radio_cold, radio_wide]
        phases += [wide_cold, cli_run, cli_import, cli_python]
        document = {
            "date": started.isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "medlink": netsim.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "trace": trace.name,
            "trace_mean_rate_bps": mean_bps,
            "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "mahimahi_max_disagreement_ms": disagreement_ms,
            "phases": [p.to_dict() for p in phases],
            "process_peak_rss_mib": process_peak,
            "total_s": total_s,
        }
        _write_json_atomically(args.json, document)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
