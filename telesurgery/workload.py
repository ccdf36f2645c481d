"""The telesurgery workload: a ``telesurgery:`` section compiled into links, streams, budgets.

Topology, one link per direction::

    console-up ─ wan-to-patient [─ edge-to-patient ─ wan-edge-to-patient] ─ patient-down
    patient-up [─ wan-edge-to-console ─ edge-to-console] ─ wan-to-console ─ console-down

The access links come from each site's ``access`` (a profile such as ``5g-sa``, ``5g-urllc``,
``wifi-6`` or ``fiber``, or a link written out); the transport is fibre over ``distance``
times the routing factor; an optional edge node sits ``distance_from_patient`` from the
patient and adds ``processing``. Streams (telesurgery.streams): kinematic commands to the
robot at 1 kHz, haptic feedback and stereo video to the console, two-way audio.

The workload also measures the control loop (telesurgery.loop): motion-to-photon latency,
haptic round trip, command staleness at the robot, stale commands discarded and watchdog
holds; and judges the loops with a graded verdict (telesurgery.budgets): the
motion-to-photon p99 must be at most the ``acceptable`` threshold to pass.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from netsim.budgets import BudgetResult
from netsim.plan import LinkSpec
from netsim.presets import parse_overrides
from netsim.scenario_format import LinkEntry
from netsim.scenario_links import compile_link
from netsim.scenario_transport import video_spec, webrtc_streams
from netsim.stats import percentile
from netsim.workloads import Expansion, WorkloadContext, entry_error_message

from .budgets import (
    DEFAULTS,
    GRADE_TABLES,
    VIDEO_PIPELINE,
    apply_overrides,
    default_budgets,
    grade,
)
from .loop import (
    fresh_commands,
    haptic_round_trip,
    loop_decomposition,
    motion_to_photon,
    rendered_frames,
    staleness_samples,
    staleness_summary,
    watchdog_holds,
)
from .scenario import TelesurgerySection
from .streams import PRESETS, stream_spec

__all__ = ["WORKLOAD", "TelesurgeryWorkload", "loop_metrics"]

FIBER_S_PER_M = 4.9e-9
GRADE_KEYS = {"motion-to-photon": "motion_to_photon", "haptic-rtt": "haptic_round_trip"}


class TelesurgeryWorkload:
    """The ``telesurgery`` workload (entry point ``medlink.workloads``)."""

    name = "telesurgery"
    model = TelesurgerySection

    def expand(self, section: TelesurgerySection, context: WorkloadContext) -> Expansion:
        links: dict[str, LinkSpec] = {}
        for site, spec in (("console", section.console), ("patient", section.patient)):
            for direction in ("up", "down"):
                name = f"{site}-{direction}"
                links[name] = _access(name, spec.access, direction, (site, "access"), context)
        to_patient, to_console = _transport(section, links)
        commands_path = ("console-up", *to_patient, "patient-down")
        back_path = ("patient-up", *to_console, "console-down")
        video = PRESETS[f"video_stereo_{section.video}"]
        video_stream = stream_spec(video, back_path)
        if section.video_bitrate is not None:  # the same packets, fewer of them
            rate_pps = section.video_bitrate / (8.0 * video_stream.size.mean())
            video_stream = dataclasses.replace(video_stream, rate_pps=rate_pps)
        webrtc = section.transport == "webrtc"
        if webrtc:
            # One session for the stereo pair at its combined bit rate, its feedback (RTCP)
            # returning to the robot along the commands' path.
            bitrate = video.payload_bit_rate_bps
            if section.video_bitrate is not None:  # on the wire: the codec's share of it
                bitrate = section.video_bitrate * video.payload_bytes / video.size.mean()
            spec = video_spec(f"{section.video}-h264", bitrate_bps=bitrate, max_bitrate_bps=bitrate)
            video_streams = webrtc_streams(
                video_stream, "rtp-video", video=spec, feedback_path=commands_path
            )
        else:
            video_streams = [video_stream]
        # Commands and haptics are unreliable, unordered data-channel messages: as bare
        # packets they are exactly that channel with maxRetransmits 0, less SCTP's SACKs.
        streams = [
            stream_spec(PRESETS["commands"], commands_path),
            stream_spec(PRESETS["haptics"], back_path),
            *video_streams,
        ]
        if section.audio:
            for preset, path in (("audio_console", commands_path), ("audio_robot", back_path)):
                audio = stream_spec(PRESETS[preset], path)
                streams.extend(webrtc_streams(audio, "rtp-audio") if webrtc else [audio])
        names = [s.name for s in streams if s.kind != "feedback"]
        overrides = _overrides(section, context)
        table = apply_overrides(DEFAULTS, overrides) if overrides else DEFAULTS
        budgets = default_budgets(names, table)
        fps = 60.0 if section.video == "4k60" else 30.0
        pipeline = (
            section.loop.video_pipeline
            if section.loop.video_pipeline is not None
            else VIDEO_PIPELINE.value
        )
        settings = {
            "frames": webrtc,
            "actuation_s": section.loop.actuation,
            "frame_interval_s": 1.0 / fps,
            "video_pipeline_s": pipeline,
            "watchdog_s": section.loop.watchdog,
        }
        cache: dict[int, dict] = {}

        def metrics(results: Any) -> dict:
            key = id(results)
            if key not in cache:
                cache[key] = loop_metrics(results, **settings)
            return cache[key]

        return Expansion(
            links=links,
            streams=streams,
            budgets=budgets,
            metrics=metrics,
            verdicts=lambda results: _verdicts(metrics(results)),
        )


WORKLOAD = TelesurgeryWorkload()


def _access(
    name: str, access: dict, direction: str, where: tuple, context: WorkloadContext
) -> LinkSpec:
    entry = dict(access)
    if "profile" in entry or "radio" in entry:
        entry["direction"] = "uplink" if direction == "up" else "downlink"
    try:
        link = LinkEntry.model_validate(entry)
    except Exception as exc:
        raise context.error(where, entry_error_message(exc)) from None
    return compile_link(name, link, lambda path, message: context.error(where, message), Path("."))


def _fibre(name: str, distance_m: float, factor: float) -> LinkSpec:
    entry = LinkEntry.model_validate(
        {
            "profile": "fiber",
            "direction": "uplink",
            "distance": f"{float(distance_m)!r}m",
            "routing_factor": float(factor),
        }
    )
    return compile_link(name, entry, _never, Path("."))


def _never(path: tuple, message: str):  # pragma: no cover - a fibre entry built here is valid
    raise AssertionError(message)


def _transport(
    section: TelesurgerySection, links: dict[str, LinkSpec]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Add the fibre (and edge) links; return the transport's link names each way."""
    from netsim.profiles import DEFAULT_ROUTING_FACTOR

    factor = section.routing_factor or DEFAULT_ROUTING_FACTOR
    edge = section.edge
    if edge is None or edge.distance_from_patient <= 0 and edge.processing <= 0:
        links["wan-to-patient"] = _fibre("wan-to-patient", section.distance, factor)
        links["wan-to-console"] = _fibre("wan-to-console", section.distance, factor)
        return ("wan-to-patient",), ("wan-to-console",)
    near = min(edge.distance_from_patient, section.distance)
    far = section.distance - near
    links["wan-to-patient"] = _fibre("wan-to-patient", max(far, 1.0), factor)
    links["edge-to-patient"] = LinkSpec("edge-to-patient", delay_s=edge.processing)
    links["wan-edge-to-patient"] = _fibre("wan-edge-to-patient", max(near, 1.0), factor)
    links["wan-edge-to-console"] = _fibre("wan-edge-to-console", max(near, 1.0), factor)
    links["edge-to-console"] = LinkSpec("edge-to-console", delay_s=edge.processing)
    links["wan-to-console"] = _fibre("wan-to-console", max(far, 1.0), factor)
    return (
        ("wan-to-patient", "edge-to-patient", "wan-edge-to-patient"),
        ("wan-edge-to-console", "edge-to-console", "wan-to-console"),
    )


def _overrides(section, context: WorkloadContext) -> dict:
    return parse_overrides(section.budgets, DEFAULTS, context.error, "stream")


def _summary_ms(values_s: np.ndarray) -> dict[str, float | None]:
    values = values_s[np.isfinite(values_s)]
    if not values.size:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "count": int(values.size),
        "mean": float(values.mean() * 1e3),
        "p50": percentile(values, 50.0) * 1e3,
        "p95": percentile(values, 95.0) * 1e3,
        "p99": percentile(values, 99.0) * 1e3,
        "max": float(values.max() * 1e3),
    }


def loop_metrics(
    results: Any,
    *,
    frames: bool = False,
    actuation_s: float,
    frame_interval_s: float,
    video_pipeline_s: float,
    watchdog_s: float,
) -> dict:
    """The control loop's figures for one run (results.json ``workloads.telesurgery``)."""
    from netsim.columns import stream_columns

    columns = stream_columns(results.plan, results.packets)
    cmd_send, cmd_recv = columns["commands"][0], columns["commands"][1]
    fb_send, fb_recv = columns["haptics"][0], columns["haptics"][1]
    if frames:  # WebRTC: frames as the session rendered them
        report = results.transport["video"]
        video_send, video_recv = rendered_frames(
            report.unit_t_s, report.unit_t_s + report.unit_latency_s
        )
    else:
        video_send, video_recv = columns["video"][0], columns["video"][1]
    applied = fresh_commands(cmd_send, cmd_recv)
    a_send, a_recv = cmd_send[applied], cmd_recv[applied]
    duration = results.plan.duration_s
    mtp = motion_to_photon(
        a_send,
        a_recv,
        video_send,
        video_recv,
        actuation_s=actuation_s,
        frame_interval_s=frame_interval_s,
        video_pipeline_s=video_pipeline_s,
        frames=frames,
    )
    parts = loop_decomposition(
        a_send,
        a_recv,
        video_send,
        video_recv,
        actuation_s=actuation_s,
        frame_interval_s=frame_interval_s,
        video_pipeline_s=video_pipeline_s,
        frames=frames,
    )
    rtt = haptic_round_trip(a_send, a_recv, fb_send, fb_recv)
    holds = watchdog_holds(a_recv, watchdog_s, 0.0, duration)
    stale = staleness_summary(staleness_samples(a_send, a_recv, 1e-3, 0.0, duration))
    delivered = int(np.count_nonzero(np.isfinite(cmd_recv)))
    mtp_summary = _summary_ms(mtp)
    rtt_summary = _summary_ms(rtt)
    mtp_p99 = mtp_summary["p99"]
    rtt_p99 = rtt_summary["p99"]
    return {
        "motion_to_photon_ms": mtp_summary,
        "haptic_round_trip_ms": rtt_summary,
        "staleness_ms": {
            k.replace("_s", ""): (None if v is None or not math.isfinite(v) else v * 1e3)
            for k, v in stale.items()
            if k.endswith("_s")
        },
        "commands_applied": int(applied.sum()),
        "commands_stale_discarded": delivered - int(applied.sum()),
        "watchdog": {
            "threshold_ms": watchdog_s * 1e3,
            "holds": int(holds.count),
            "total_s": float(holds.total_s),
        },
        "grade": {
            "motion_to_photon": grade(math.inf if mtp_p99 is None else mtp_p99 / 1e3),
            "haptic_round_trip": grade(
                math.inf if rtt_p99 is None else rtt_p99 / 1e3, loop="haptic-rtt"
            ),
        },
        # Mean of each part over the commands whose frame arrived: the parts add up to the
        # mean motion-to-photon latency (the report draws them as one bar).
        "motion_to_photon_breakdown_ms": _breakdown_ms(parts),
        "loop_settings": {
            "actuation_ms": actuation_s * 1e3,
            "frame_interval_ms": frame_interval_s * 1e3,
            "video_pipeline_ms": video_pipeline_s * 1e3,
        },
    }


def _breakdown_ms(parts: dict) -> dict[str, float | None]:
    arrays = {k: np.broadcast_to(np.asarray(v, dtype=float), np.shape(parts["video_one_way_s"]))
              for k, v in parts.items()}  # fmt: skip
    ok = np.ones(np.shape(arrays["video_one_way_s"]), dtype=bool)
    for values in arrays.values():
        ok &= np.isfinite(values)
    out: dict[str, float | None] = {}
    for key, values in arrays.items():
        name = key.removesuffix("_s")
        out[name] = float(values[ok].mean() * 1e3) if ok.any() else None
    return out


def _verdicts(metrics: dict) -> list[BudgetResult]:
    """The loops' budgets: p99 within the graded verdict's ``acceptable`` threshold."""
    out = []
    for loop, key, metric in (
        ("motion-to-photon", "motion_to_photon_ms", "motion_to_photon_p99"),
        ("haptic-rtt", "haptic_round_trip_ms", "haptic_round_trip_p99"),
    ):
        acceptable = next(g for g in GRADE_TABLES[loop] if g.label == "acceptable")
        value = metrics[key]["p99"]
        sources = "; ".join(f"{f.source} [{f.mark}]" for f in acceptable.figures)
        out.append(
            BudgetResult(
                stream="loop",
                metric=metric,
                limit=acceptable.upper_s * 1e3,
                value=math.nan if value is None else value,
                passed=value is not None and value <= acceptable.upper_s * 1e3 + 1e-6,
                unit="ms",
                source=f"graded verdict 'acceptable' (docs/telesurgery.md): {sources}",
                name=f"{loop} grade: {metrics['grade'][GRADE_KEYS[loop]]}",
            )
        )
    return out
