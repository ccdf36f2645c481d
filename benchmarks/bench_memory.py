"""Peak memory of a long run with and without the packet log, and how it grows with the run.

The issue's target: "peak memory stays bounded: stream the packet log in windows, or keep only
what the statistics need, unless --packets asks for more". The workload is target 2's
one-hour urban ambulance (``bench_targets.write_scenario``: scenarios/ambulance-bonded.yaml,
one hour at 12 km/h, a 4K camera), cut to 15, 30 and 60 minutes with ``duration``.

Each measurement is a fresh child process (its own ``ru_maxrss``) that loads the scenario,
runs it, computes results.json's figures and the workload's verdict:

- **[baseline] full log**: ``run(plan, packets=True)``, the API default: one row per packet;
- **lean**: ``run(plan, packets=False)``, what ``medlink run`` does: the engine drops each
  packet once its fate is final and keeps only what the statistics read, per stream;
- **CLI --packets**: ``medlink run FILE --packets --no-report``, which writes packets.csv.gz
  (and .parquet) window by window from the lean run.

Also the start-up alone (``import netsim.cli``). The growth per packet is the slope of peak
RSS between the 30- and 60-minute runs. Usage::

    python benchmarks/bench_memory.py [--minutes 15 30 60] [--json FILE]
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
path, minutes, keep = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "full"
loaded = load_scenario(path)
plan = dataclasses.replace(loaded.plan, duration_s=60.0 * minutes)
t0 = time.perf_counter()
results = run(plan, packets=keep)
results.to_dict()
loaded.judge(results)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"packets": len(results.packets), "wall_s": wall, "peak_mib": peak}))
"""


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
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        scenario = write_scenario(Path(scratch))
        start = _Phase()
        measure_child(start, [sys.executable, "-c", "import netsim.cli"])
        print(f"start-up (import netsim.cli): peak {start.rows[0][3]:.0f} MiB")
        print(f"{'minutes':>7} {'mode':>14} {'packets':>11} {'wall s':>7} {'peak MiB':>9}")
        for minutes in args.minutes:
            for mode in ("full", "lean"):
                r = child(scenario, minutes, mode) | {"minutes": minutes, "mode": mode}
                rows.append(r)
                print(
                    f"{minutes:7.0f} {mode:>14} {r['packets']:11,d} {r['wall_s']:7.2f} "
                    f"{r['peak_mib']:9.0f}"
                )
            cli = _Phase()
            out = Path(scratch) / f"cli-{minutes:.0f}"
            measure_child(
                cli,
                [
                    *medlink_argv(),
                    "run",
                    str(scenario),
                    "--duration",
                    f"{minutes:g}min",
                    "--packets",
                    "--no-report",
                    "--out",
                    str(out),
                ],
                ok=(0, 1),
            )
            wall, _, _, peak = cli.rows[0]
            size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
            rows.append({"minutes": minutes, "mode": "cli --packets", "wall_s": wall,
                         "peak_mib": peak, "files_mib": size})  # fmt: skip
            print(f"{minutes:7.0f} {'cli --packets':>14} {'':>11} {wall:7.2f} {peak:9.0f}"
                  f"   (files written: {size:.0f} MiB)")  # fmt: skip
    print()
    by = {(r["minutes"], r["mode"]): r for r in rows}
    lo, hi = sorted(args.minutes)[-2:] if len(args.minutes) > 1 else (None, None)
    if lo is not None:
        for mode in ("full", "lean"):
            a, b = by[(lo, mode)], by[(hi, mode)]
            slope = (b["peak_mib"] - a["peak_mib"]) * 2**20 / (b["packets"] - a["packets"])
            print(f"{mode}: peak grows {slope:.0f} bytes per packet ({lo:g} -> {hi:g} min)")
            by[("slope", mode)] = slope
    document = {
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "startup_peak_mib": start.rows[0][3],
        "rows": rows,
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
