"""Peak memory of long runs: with the packet log, the exact record, and bounded memory.

The issue's target: "peak memory stays bounded: stream the packet log in windows, or keep only
what the statistics need, unless --packets asks for more". Two workloads, each cut to
``--minutes`` (default 15, 30 and 60) with ``duration``:

- **ambulance**: target 2's one-hour urban ambulance (``bench_targets.write_scenario``:
  scenarios/ambulance-bonded.yaml, one hour at 12 km/h, a 4K camera, two operators' radio
  links with 24 and 20 cell sites);
- **plain**: scenarios/uplink-voice-video.yaml with 40 Mbit/s of video on a 100 Mbit/s
  uplink: about as many packets, no radio model.

Each measurement is a fresh child process (its own ``ru_maxrss``) that loads the scenario,
runs it, computes results.json's figures and the workload's metrics:

- **[baseline] full log**: ``run(plan, packets=True)``, the API default: one row per packet;
- **exact**: ``run(plan, packets=False)``, what ``medlink run`` does by default: the engine
  drops each packet once its fate is final and keeps only what the statistics read;
- **bounded**: ``run(plan, packets=False, memory="bounded", taps=...)``, what
  ``medlink run --memory bounded`` does: streaming statistics, no per-packet record;
- **radio model alone** (ambulance): the links' dynamics (``netsim.dynamics.link_dynamics``)
  and nothing else: the radio model computes the whole route's received power per site at
  once, a cost that grows with the duration, not the packets;
- **CLI --packets**: ``medlink run FILE --memory bounded --packets --no-report``, which writes
  packets.csv.gz (and .parquet) window by window and keeps nothing per packet.

Also the start-up alone (``import netsim.cli``). The growth per packet is the slope of peak
RSS between the two longest runs. Usage::

    python benchmarks/bench_memory.py [--minutes 15 30 60] [--skip-cli] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_targets import measure_child, medlink_argv, write_scenario  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from netsim.engine import run
from netsim.scenario import load_scenario
import dataclasses
path, minutes, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
loaded = load_scenario(path)
plan = dataclasses.replace(loaded.plan, duration_s=60.0 * minutes)
t0 = time.perf_counter()
if mode == "radio":
    from netsim.dynamics import link_dynamics
    for spec in plan.links.values():
        link_dynamics(spec, plan.seed, plan.duration_s + plan.drain_s)
    count = 0
else:
    memory = "bounded" if mode == "bounded" else "exact"
    results = run(plan, packets=mode == "full", memory=memory, taps=loaded.taps())
    results.to_dict()
    loaded.judge(results)
    count = len(results.packets)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"packets": count, "wall_s": wall, "peak_mib": peak}))
"""

PLAIN_EDITS = [("capacity: 10Mbps", "capacity: 100Mbps"), ("rate: 4Mbps", "rate: 40Mbps"),
               ("buffer: 150KB", "buffer: 1500KB")]  # fmt: skip


def write_plain(folder: Path) -> Path:
    text = (HERE.parent / "scenarios" / "uplink-voice-video.yaml").read_text()
    for old, new in PLAIN_EDITS:
        if old not in text:
            raise RuntimeError(f"uplink-voice-video.yaml no longer contains {old!r}")
        text = text.replace(old, new)
    path = folder / "uplink-40mbps.yaml"
    path.write_text(text)
    return path


def child(scenario: Path, minutes: float, mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(scenario), str(minutes), mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


class _Phase:  # what bench_targets.measure_child records into
    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def record(self, wall, user, sys_s, count, peak):
        self.rows.append((wall, user, sys_s, peak))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[15.0, 30.0, 60.0])
    parser.add_argument("--skip-cli", action="store_true", help="leave out the --packets rows")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        workloads = {
            "ambulance": write_scenario(Path(scratch)),
            "plain": write_plain(Path(scratch)),
        }
        start = _Phase()
        measure_child(start, [sys.executable, "-c", "import netsim.cli"])
        print(f"start-up (import netsim.cli): peak {start.rows[0][3]:.0f} MiB")
        print(f"{'workload':>9} {'minutes':>7} {'mode':>14} {'packets':>11} {'wall s':>7} "
              f"{'peak MiB':>9}")  # fmt: skip
        for workload, scenario in workloads.items():
            modes = ["full", "exact", "bounded"] + (["radio"] if workload == "ambulance" else [])
            for minutes in args.minutes:
                for mode in modes:
                    r = child(scenario, minutes, mode)
                    r |= {"workload": workload, "minutes": minutes, "mode": mode}
                    rows.append(r)
                    print(
                        f"{workload:>9} {minutes:7.0f} {mode:>14} {r['packets']:11,d} "
                        f"{r['wall_s']:7.2f} {r['peak_mib']:9.0f}"
                    )
                if args.skip_cli or workload != "ambulance":
                    continue
                cli = _Phase()
                out = Path(scratch) / f"cli-{minutes:.0f}"
                argv = [*medlink_argv(), "run", str(scenario), "--duration", f"{minutes:g}min",
                        "--memory", "bounded", "--packets", "--no-report",
                        "--out", str(out)]  # fmt: skip
                measure_child(cli, argv, ok=(0, 1))
                wall, _, _, peak = cli.rows[0]
                size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
                rows.append({"workload": workload, "minutes": minutes, "mode": "cli --packets",
                             "wall_s": wall, "peak_mib": peak, "files_mib": size})  # fmt: skip
                print(f"{workload:>9} {minutes:7.0f} {'cli --packets':>14} {'':>11} {wall:7.2f} "
                      f"{peak:9.0f}   (files written: {size:.0f} MiB)")  # fmt: skip
    print()
    by = {(r["workload"], r["minutes"], r["mode"]): r for r in rows}
    lo, hi = sorted(args.minutes)[-2:] if len(args.minutes) > 1 else (None, None)
    slopes = {}
    if lo is not None:
        for workload in workloads:
            for mode in ("full", "exact", "bounded"):
                a, b = by[(workload, lo, mode)], by[(workload, hi, mode)]
                slope = (b["peak_mib"] - a["peak_mib"]) * 2**20 / (b["packets"] - a["packets"])
                slopes[f"{workload} {mode}"] = slope
                print(f"{workload} {mode}: peak grows {slope:.1f} bytes per packet "
                      f"({lo:g} -> {hi:g} min)")  # fmt: skip
    document = {
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "startup_peak_mib": start.rows[0][3],
        "rows": rows,
        "slopes_bytes_per_packet": slopes,
        "python": sys.version.split()[0],
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2))
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
