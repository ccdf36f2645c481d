"""The surgeon-robot control loop, measured from the packet columns of its three streams.

The console sends kinematic commands to the robot at 1 kHz (stream ``commands``); the robot
returns force feedback at 1 kHz (``haptics``) and stereo video (``video``). Given each stream's
per-packet columns (``t_send_s`` ascending in send order, ``t_recv_s`` NaN when lost), the
functions here compute what the loop experiences:

* :func:`fresh_commands` - which commands the robot applies (a newer one already arrived makes
  an older one stale: unreliable, unordered data-channel semantics);
* :func:`watchdog_holds` - when the robot holds still because no fresh command came in time;
* :func:`staleness_samples`, :func:`staleness_summary` - the age of the command the robot
  acts on at each of its control ticks;
* :func:`haptic_round_trip` - from a command's sending to the first force reflecting it
  arriving back at the console;
* :func:`motion_to_photon`, :func:`loop_decomposition` - from a command's sending to the
  surgeon seeing the motion, and the parts that latency is made of.

All functions are pure numpy and vectorised (sorts, running maxima, ``searchsorted``): an hour
of 1 kHz commands (3.6e6 packets) takes well under a second each. Times are in seconds.

Simplifications: one representative robot (one arm, one control clock); the robot applies a
command the instant it arrives (its processing is in ``actuation_s``); a video frame is the
set of video packets *sent* in one frame interval after its capture (netsim's video source is
constant bit rate, so frames are send-time windows, not encoder output); the camera captures
at exact multiples of the frame interval.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Holds",
    "fresh_commands",
    "watchdog_holds",
    "staleness_samples",
    "staleness_at_robot",
    "staleness_summary",
    "haptic_round_trip",
    "motion_to_photon",
    "loop_decomposition",
    "rendered_frames",
    "FRAME_TOLERANCE",
]

FRAME_TOLERANCE = 1e-9
"""Times within this fraction of a frame interval of a capture instant count as on it.

The capture grid ``k * frame_interval_s`` and the command's ``recv + actuation`` are both
rounded; without a tolerance a command landing exactly on a capture (as hand-made inputs do)
could be put in the next frame by one ulp. 1e-9 of a 60 fps frame is 17 ps.
"""

Floats = NDArray[np.float64]


def _floats(values: ArrayLike, name: str) -> Floats:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _require_sorted(values: Floats, name: str) -> None:
    if values.size > 1 and bool((values[1:] < values[:-1]).any()):
        raise ValueError(f"{name} must be sorted ascending (send order)")


def _pair(send: ArrayLike, recv: ArrayLike, stream: str) -> tuple[Floats, Floats]:
    t_send, t_recv = _floats(send, f"{stream} send times"), _floats(recv, f"{stream} recv times")
    if t_send.shape != t_recv.shape:
        raise ValueError(f"{stream}: send and recv columns differ in length")
    if np.isnan(t_send).any():
        raise ValueError(f"{stream}: send times must not be NaN")
    return t_send, t_recv


def fresh_commands(t_send_s: ArrayLike, t_recv_s: ArrayLike) -> NDArray[np.bool_]:
    """Which commands the robot applies: delivered, and newer than every one before them.

    The commands travel on an unreliable, unordered data channel; the robot applies a command
    only if it is newer than the newest it has already received, and discards it as stale
    otherwise. The robot takes the delivered commands in order of arrival (ties in ``t_recv_s``
    in send order) and command ``i`` is fresh iff ``t_send_s[i]`` is strictly greater than the
    largest send time among the commands taken before it.

    Parameters
    ----------
    t_send_s : array_like of float, shape (n,)
        Send times, ascending (send order).
    t_recv_s : array_like of float, shape (n,)
        Arrival times at the robot; NaN for a lost command.

    Returns
    -------
    ndarray of bool, shape (n,)
        True for the commands the robot applies. Lost commands are False. Of two commands with
        equal send times only the first taken is fresh (strict comparison).

    Notes
    -----
    Vectorised as a stable sort by arrival time and a running maximum of send times; on a
    nearly in-order stream the stable sort (timsort) is close to linear. The applied commands,
    taken in send order, have non-decreasing arrival times.
    """
    t_send, t_recv = _pair(t_send_s, t_recv_s, "commands")
    fresh = np.zeros(t_send.size, dtype=bool)
    delivered = np.flatnonzero(~np.isnan(t_recv))
    if not delivered.size:
        return fresh
    # Stable: equal arrival times keep send order, as the robot processes them.
    order = delivered[np.argsort(t_recv[delivered], kind="stable")]
    sent = t_send[order]
    newest_before = np.empty_like(sent)
    newest_before[0] = -np.inf
    np.maximum.accumulate(sent[:-1], out=newest_before[1:])
    fresh[order] = sent > newest_before
    return fresh


class Holds(NamedTuple):
    """The robot's watchdog holds: ``count, total_s, starts_s, ends_s = watchdog_holds(...)``."""

    count: int
    total_s: float
    starts_s: Floats
    ends_s: Floats


def watchdog_holds(
    applied_recv_s: ArrayLike, threshold_s: float, start_s: float, end_s: float
) -> Holds:
    """Intervals in which the robot holds because no fresh command arrived within the threshold.

    The watchdog is armed at ``start_s`` and re-armed by every applied command's arrival. After
    an arming at ``t``, a hold starts at ``t + threshold_s`` if the next arrival comes strictly
    later than that (the watchdog fires exactly when the gap exceeds its threshold: a gap equal
    to ``threshold_s`` does not hold), and ends at that next arrival, or at ``end_s`` when no
    further command arrives (a hold still running at the end of the window is cut there).

    Parameters
    ----------
    applied_recv_s : array_like of float
        Arrival times of the applied commands (see :func:`fresh_commands`), in any order; no
        NaN. Arrivals outside ``[start_s, end_s]`` are ignored.
    threshold_s : float
        Watchdog timeout, > 0.
    start_s, end_s : float
        The observed window, ``start_s <= end_s``.

    Returns
    -------
    Holds
        ``count`` holds, their ``total_s`` duration, and their ``starts_s`` and ``ends_s``.

    Notes
    -----
    The comparison is ``next_arrival > arrival + threshold_s`` in floating point, so "equal"
    is exact only for exactly representable times (tests use dyadic ones). Arrivals before
    ``start_s`` do not re-arm the watchdog: the window is analysed as if the loop began at
    ``start_s``.
    """
    if not threshold_s > 0:
        raise ValueError(f"threshold_s must be > 0, got {threshold_s}")
    if not end_s >= start_s:
        raise ValueError(f"end_s ({end_s}) must not be before start_s ({start_s})")
    arrivals = _floats(applied_recv_s, "applied_recv_s")
    if np.isnan(arrivals).any():
        raise ValueError("applied_recv_s must not contain NaN (pass applied commands only)")
    arrivals = arrivals[(arrivals >= start_s) & (arrivals <= end_s)]
    if arrivals.size > 1 and bool((arrivals[1:] < arrivals[:-1]).any()):
        arrivals = np.sort(arrivals)
    armed = np.concatenate(([float(start_s)], arrivals))
    following = np.concatenate((arrivals, [float(end_s)]))
    fires = armed + threshold_s
    holding = following > fires
    starts, ends = fires[holding], following[holding]
    return Holds(int(starts.size), float((ends - starts).sum()), starts, ends)


def _tick_count(span_s: float, tick_s: float) -> int:
    """Ticks ``start + k * tick`` in ``[start, start + span)``; a near-integer ratio is exact."""
    ratio = span_s / tick_s
    nearest = round(ratio)
    if abs(ratio - nearest) <= 1e-9 * max(1.0, ratio):
        return int(nearest)
    return int(np.ceil(ratio))


def staleness_samples(
    applied_send_s: ArrayLike,
    applied_recv_s: ArrayLike,
    tick_s: float,
    start_s: float,
    end_s: float,
) -> Floats:
    """Age of the command the robot acts on, at each of its control ticks.

    At tick ``t_k = start_s + k * tick_s`` (``k = 0, 1, ...`` while ``t_k < end_s``) the robot
    acts on the freshest applied command received at or before ``t_k`` (the largest send time
    among those with ``recv <= t_k``); the sample is ``t_k - `` its send time, or NaN before
    the first command arrives.

    Parameters
    ----------
    applied_send_s, applied_recv_s : array_like of float, shape (n,)
        Send and arrival times of the applied commands (see :func:`fresh_commands`); any
        order, no NaN. Commands received before ``start_s`` count (the robot already has them).
    tick_s : float
        Control period of the robot, > 0 (1 ms for a 1 kHz controller).
    start_s, end_s : float
        The ticks cover ``[start_s, end_s)``; a span within 1e-9 (relative) of a whole number
        of ticks counts as that whole number, so ``[0, 3600)`` at 1 ms is 3.6e6 ticks.

    Returns
    -------
    ndarray of float
        One staleness per tick, in seconds; NaN for ticks before the first arrival.
    """
    if not tick_s > 0:
        raise ValueError(f"tick_s must be > 0, got {tick_s}")
    if not end_s >= start_s:
        raise ValueError(f"end_s ({end_s}) must not be before start_s ({start_s})")
    sent, recv = _pair(applied_send_s, applied_recv_s, "applied commands")
    if np.isnan(recv).any():
        raise ValueError("applied_recv_s must not contain NaN (pass applied commands only)")
    ticks = start_s + tick_s * np.arange(_tick_count(end_s - start_s, tick_s), dtype=np.float64)
    if not sent.size:
        return np.full(ticks.size, np.nan)
    if recv.size > 1 and bool((recv[1:] < recv[:-1]).any()):
        order = np.argsort(recv, kind="stable")
        sent, recv = sent[order], recv[order]
    newest = np.maximum.accumulate(sent)
    latest = np.searchsorted(recv, ticks, side="right") - 1
    staleness = ticks - newest[np.maximum(latest, 0)]
    staleness[latest < 0] = np.nan
    return staleness


staleness_at_robot = staleness_samples
"""Alias of :func:`staleness_samples`."""


def staleness_summary(samples_s: ArrayLike) -> dict[str, float]:
    """Median, 99th percentile and maximum of :func:`staleness_samples`, over defined ticks.

    Parameters
    ----------
    samples_s : array_like of float
        Staleness per tick; NaN ticks (before the first command) are left out.

    Returns
    -------
    dict
        ``p50_s``, ``p99_s`` (linear interpolation, numpy's default, as in ``netsim.stats``),
        ``max_s`` (NaN when no tick is defined), ``ticks`` (all ticks) and ``undefined_ticks``.
    """
    samples = _floats(samples_s, "samples_s")
    defined = samples[~np.isnan(samples)]
    summary: dict[str, float] = {
        "ticks": samples.size,
        "undefined_ticks": samples.size - defined.size,
    }
    if defined.size:
        p50, p99 = np.percentile(defined, [50.0, 99.0])
        summary.update(p50_s=float(p50), p99_s=float(p99), max_s=float(defined.max()))
    else:
        summary.update(p50_s=np.nan, p99_s=np.nan, max_s=np.nan)
    return summary


def haptic_round_trip(
    applied_send_s: ArrayLike,
    applied_recv_s: ArrayLike,
    feedback_send_s: ArrayLike,
    feedback_recv_s: ArrayLike,
) -> Floats:
    """From a command's sending to the first force feedback reflecting it reaching the console.

    A feedback packet reflects command ``i`` if the robot sends it at or after the command's
    arrival ``r_i``. The console feels the first of those to arrive: the round trip is the
    earliest ``feedback_recv_s[j]`` over the feedback packets with ``feedback_send_s[j] >=
    r_i``, minus ``applied_send_s[i]``. Lost feedback packets are skipped (the next delivered
    one is taken); on an in-order feedback link this is the next delivered packet in send
    order. That earliest packet is always fresh at the console (every packet arriving before it
    was sent before ``r_i``).

    Parameters
    ----------
    applied_send_s, applied_recv_s : array_like of float, shape (n,)
        The applied commands (see :func:`fresh_commands`). A NaN arrival gives NaN.
    feedback_send_s : array_like of float, shape (m,)
        Send times of the feedback packets at the robot, ascending.
    feedback_recv_s : array_like of float, shape (m,)
        Their arrival times at the console; NaN for lost packets.

    Returns
    -------
    ndarray of float, shape (n,)
        Round trip per command, in seconds; NaN when the command has no arrival time or no
        feedback packet sent at or after it arrives.

    Notes
    -----
    ``feedback_send_s >= r_i`` is compared exactly in floating point. Force sensing and the
    robot's processing are taken as instantaneous (a packet sent at ``r_i`` already reflects
    the command).
    """
    sent, recv = _pair(applied_send_s, applied_recv_s, "applied commands")
    fb_send, fb_recv = _pair(feedback_send_s, feedback_recv_s, "feedback")
    _require_sorted(fb_send, "feedback_send_s")
    # earliest[j]: the first arrival among feedback packets j, j+1, ...; inf past the end.
    earliest = np.full(fb_send.size + 1, np.inf)
    earliest[:-1] = np.where(np.isnan(fb_recv), np.inf, fb_recv)
    earliest = np.minimum.accumulate(earliest[::-1])[::-1]
    round_trip = np.full(sent.size, np.nan)
    arrived = ~np.isnan(recv)
    first = np.searchsorted(fb_send, recv[arrived], side="left")
    back = earliest[first]
    round_trip[arrived] = np.where(np.isinf(back), np.nan, back - sent[arrived])
    return round_trip


class _Frames(NamedTuple):
    """Completed video frames: index, completion time, send time of the completing packet."""

    index: NDArray[np.int64]
    complete_s: Floats
    last_send_s: Floats


def rendered_frames(capture_s: ArrayLike, render_s: ArrayLike) -> tuple[Floats, Floats]:
    """Video given as frames (a WebRTC session's report), for the ``video_*_s`` arguments.

    ``capture_s`` are the frames' capture instants and ``render_s`` their render times (NaN
    when never rendered). Pass the result as ``video_send_s, video_recv_s`` with
    ``frames=True``: each frame then completes at its render time, so the part
    ``frame_serialisation_s`` is 0 and ``video_one_way_s`` is the frame's glass-to-glass
    latency (pacing, network, jitter buffer, render delay).
    """
    return _pair(capture_s, render_s, "video frames")


def _frames(
    video_send_s: ArrayLike,
    video_recv_s: ArrayLike,
    frame_interval_s: float,
    origin_s: float,
    frames: bool = False,
) -> _Frames:
    if frames:
        capture, render = _pair(video_send_s, video_recv_s, "video frames")
        index = np.floor((capture - origin_s) / frame_interval_s + FRAME_TOLERANCE)
        keep = index >= 0
        return _Frames(index[keep].astype(np.int64), render[keep], capture[keep])
    send, recv = _pair(video_send_s, video_recv_s, "video")
    _require_sorted(send, "video_send_s")
    position = (send - origin_s) / frame_interval_s
    frame = np.floor(position + FRAME_TOLERANCE).astype(np.int64)
    keep = frame >= 0
    send, recv, frame = send[keep], recv[keep], frame[keep]
    if not frame.size:
        empty = np.empty(0)
        return _Frames(np.empty(0, dtype=np.int64), empty, empty)
    firsts = np.concatenate(([0], np.flatnonzero(np.diff(frame)) + 1))
    # np.maximum propagates NaN: a frame with a lost packet completes at NaN (it is lost).
    complete = np.maximum.reduceat(recv, firsts)
    # The completing packet: the last of each frame once sorted by arrival within frames.
    by_arrival = np.lexsort((recv, frame))
    lasts = np.concatenate((firsts[1:], [frame.size])) - 1
    last_send = send[by_arrival[lasts]]
    last_send[np.isnan(complete)] = np.nan
    return _Frames(frame[firsts], complete, last_send)


class _Loop(NamedTuple):
    """Per command: send ``s``, arrival ``r``, capture ``c``, completing packet's send ``p``,
    frame completion ``v`` (NaN where undefined); see :func:`loop_decomposition`.
    """

    sent: Floats
    recv: Floats
    capture: Floats
    last_send: Floats
    complete: Floats


def _loop(
    applied_send_s: ArrayLike,
    applied_recv_s: ArrayLike,
    video_send_s: ArrayLike,
    video_recv_s: ArrayLike,
    actuation_s: float,
    frame_interval_s: float,
    frame_origin_s: float,
    frames: bool = False,
) -> _Loop:
    """The loop's instants for each applied command (the work behind the two public calls)."""
    if not frame_interval_s > 0:
        raise ValueError(f"frame_interval_s must be > 0, got {frame_interval_s}")
    sent, recv = _pair(applied_send_s, applied_recv_s, "applied commands")
    frames = _frames(video_send_s, video_recv_s, frame_interval_s, frame_origin_s, frames)
    moved = recv + actuation_s
    capture_index = np.full(sent.size, -1, dtype=np.int64)
    arrived = ~np.isnan(recv)
    position = (moved[arrived] - frame_origin_s) / frame_interval_s
    capture_index[arrived] = np.ceil(position - FRAME_TOLERANCE).astype(np.int64)
    capture = np.where(arrived, frame_origin_s + capture_index * frame_interval_s, np.nan)
    slot = np.searchsorted(frames.index, capture_index)
    slot_ok = slot < frames.index.size
    found = arrived & slot_ok
    found[slot_ok] &= frames.index[slot[slot_ok]] == capture_index[slot_ok]
    complete = np.full(sent.size, np.nan)
    last_send = np.full(sent.size, np.nan)
    complete[found] = frames.complete_s[slot[found]]
    last_send[found] = frames.last_send_s[slot[found]]
    return _Loop(sent, recv, capture, last_send, complete)


def loop_decomposition(
    applied_send_s: ArrayLike,
    applied_recv_s: ArrayLike,
    video_send_s: ArrayLike,
    video_recv_s: ArrayLike,
    *,
    actuation_s: float,
    frame_interval_s: float,
    video_pipeline_s: float,
    frame_origin_s: float = 0.0,
    frames: bool = False,
) -> dict[str, Floats]:
    """The parts of each applied command's motion-to-photon latency, in the loop's order.

    For a command sent at ``s`` and arriving at ``r``: the robot moves at ``r + actuation_s``;
    the camera captures the next frame at ``c``, the first ``frame_origin_s + k *
    frame_interval_s`` at or after ``r + actuation_s`` (within :data:`FRAME_TOLERANCE` of a
    frame interval); the frame is the video packets sent in ``[c, c + frame_interval_s)`` and
    is complete when the last of them arrives, at ``v``, that packet having been sent at ``p``;
    encoding, decoding and display take ``video_pipeline_s``. The parts are:

    ========================= ===================================
    ``command_one_way_s``     ``r - s``
    ``actuation_s``           ``actuation_s``
    ``frame_wait_s``          ``c - (r + actuation_s)``
    ``frame_serialisation_s`` ``p - c``
    ``video_one_way_s``       ``v - p``
    ``video_pipeline_s``      ``video_pipeline_s``
    ========================= ===================================

    They telescope: their sum is ``v + video_pipeline_s - s``, the :func:`motion_to_photon`
    latency, up to rounding (a few ulps of the times). On deterministic links (constant
    delays) each part is the corresponding constant, so the loop latency decomposes exactly
    into command delay, actuation, frame wait, frame serialisation, video delay and pipeline.

    Parameters
    ----------
    applied_send_s, applied_recv_s : array_like of float, shape (n,)
        The applied commands (see :func:`fresh_commands`).
    video_send_s : array_like of float, shape (m,)
        Send times of the video packets, ascending.
    video_recv_s : array_like of float, shape (m,)
        Their arrival times at the console; NaN for lost packets.
    actuation_s : float
        From a command's arrival to the robot's motion.
    frame_interval_s : float
        ``1 / fps``, > 0.
    video_pipeline_s : float
        Encode + decode + display; a literature value chosen by the caller.
    frame_origin_s : float, optional
        Capture instant of frame 0 (default 0); video packets sent before it belong to no
        frame.
    frames : bool, optional
        The video arguments are frames, not packets: capture instants and render times
        (:func:`rendered_frames`, from a WebRTC session). A frame completes when rendered.

    Returns
    -------
    dict of str to ndarray, each shape (n,)
        The six parts above. For a command whose frame is lost (a packet of it is lost), has
        no packets, or that has no arrival time, the video parts (and, without an arrival, all
        parts that need ``r``) are NaN.
    """
    loop = _loop(
        applied_send_s,
        applied_recv_s,
        video_send_s,
        video_recv_s,
        actuation_s,
        frame_interval_s,
        frame_origin_s,
        frames,
    )
    n = loop.sent.size
    return {
        "command_one_way_s": loop.recv - loop.sent,
        "actuation_s": np.full(n, float(actuation_s)),
        "frame_wait_s": loop.capture - (loop.recv + actuation_s),
        "frame_serialisation_s": loop.last_send - loop.capture,
        "video_one_way_s": loop.complete - loop.last_send,
        "video_pipeline_s": np.full(n, float(video_pipeline_s)),
    }


def motion_to_photon(
    applied_send_s: ArrayLike,
    applied_recv_s: ArrayLike,
    video_send_s: ArrayLike,
    video_recv_s: ArrayLike,
    *,
    actuation_s: float,
    frame_interval_s: float,
    video_pipeline_s: float,
    frame_origin_s: float = 0.0,
    frames: bool = False,
) -> Floats:
    """From a command's sending to the surgeon seeing the motion it caused.

    ``MTP = v + video_pipeline_s - s``: ``s`` the command's send time, ``v`` the arrival of the
    last packet of the first frame captured at or after the robot moved (arrival ``r`` plus
    ``actuation_s``); frames are captured at ``frame_origin_s + k * frame_interval_s`` and a
    frame is the video packets sent in ``[capture, capture + frame_interval_s)``. See
    :func:`loop_decomposition` for the exact rules and the parts.

    Parameters
    ----------
    applied_send_s, applied_recv_s, video_send_s, video_recv_s, actuation_s, frame_interval_s,
    video_pipeline_s, frame_origin_s
        As for :func:`loop_decomposition`.

    Returns
    -------
    ndarray of float, shape (n,)
        Motion-to-photon latency per applied command, in seconds; NaN when its frame is lost
        (any packet of it lost: the frame is not shown), has no packets, or the command has no
        arrival time.
    """
    loop = _loop(
        applied_send_s,
        applied_recv_s,
        video_send_s,
        video_recv_s,
        actuation_s,
        frame_interval_s,
        frame_origin_s,
        frames,
    )
    return loop.complete + video_pipeline_s - loop.sent
