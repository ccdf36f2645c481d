"""What the WebRTC layer costs: the same ambulance drive as WebRTC sessions and as packets.

The shipped urban ambulance (5G SA, vitals, 12-lead ECG, a 1080p camera, voice) is run for
``--seconds`` simulated seconds twice per repetition, interleaved in one process:

- ``transport: webrtc`` (the default under policy single): the camera is a WebRTC video
  session (frames, pacer, NACK/RTX, GCC, jitter buffer), voice an Opus session, vitals and
  ECG reliable SCTP data channels. The engine steps in windows no longer than the sessions'
  lookahead (1 ms + the path's base delay up to its last link: docs/webrtc.md, "The loop").
- ``transport: packets``: the same streams as bare packet sources, the baseline.

For each: median wall time of ``netsim.engine.run`` (simulation and statistics), packets sent,
engine windows, and simulated seconds per wall second. Run::

    python benchmarks/bench_webrtc.py --seconds 120 --repeat 3
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

from memory import peak_mib, reset_peak

from netsim import engine, load_scenario_text

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "ambulance-urban-5g-sa.yaml"


def plans(seconds: float):
    """The urban drive as WebRTC and as packets, ``seconds`` long."""
    text = SCENARIO.read_text()
    webrtc = load_scenario_text(text, str(SCENARIO)).plan
    packets_text = text.replace("ambulance:\n", "ambulance:\n  transport: packets\n", 1)
    packets = load_scenario_text(packets_text, str(SCENARIO)).plan
    assert any(s.transport for s in webrtc.streams)
    assert not any(s.transport for s in packets.streams)
    return {
        "webrtc": dataclasses.replace(webrtc, duration_s=seconds),
        "packets": dataclasses.replace(packets, duration_s=seconds),
    }


def windows_of(plan) -> int:
    """How many windows the engine steps for ``plan`` (counted through its progress hook)."""
    count = 0

    def tick(_reached, _end):
        nonlocal count
        count += 1

    engine.simulate(plan, progress=tick)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="simulated seconds")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cases = plans(args.seconds)
    engine.run(cases["packets"], duration_s=5.0)  # warm up imports
    walls: dict[str, list[float]] = {name: [] for name in cases}
    peaks: dict[str, float] = {}
    sent: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, plan in cases.items():
            reset_peak()
            start = time.perf_counter()
            results = engine.run(plan)
            walls[name].append(time.perf_counter() - start)
            peaks[name] = max(peaks.get(name, 0.0), peak_mib() or 0.0)
            sent[name] = len(results.packets)
    print(
        f"urban ambulance, {args.seconds:g} simulated s, medians of {args.repeat} "
        f"(python {sys.version.split()[0]})"
    )
    header = f"{'transport':<10}{'wall s':>9}{'sim s/s':>9}{'packets':>11}{'windows':>9}"
    print(header + f"{'peak MiB':>10}")
    print("-" * (len(header) + 10))
    for name, plan in cases.items():
        wall = statistics.median(walls[name])
        print(
            f"{name:<10}{wall:>9.2f}{args.seconds / wall:>9.1f}{sent[name]:>11,}"
            f"{windows_of(plan):>9,}{peaks[name]:>10.0f}"
        )
    ratio = statistics.median(walls["webrtc"]) / statistics.median(walls["packets"])
    print(f"webrtc / packets wall time: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
