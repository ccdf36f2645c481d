"""Compiled passes (optional, with numba) for the engine's hottest loops, the numpy results
to the bit.

:meth:`netsim.fifo.FifoQueue._serve_finite` works in stretches: the vectorised Lindley
departures of up to 16,384 packets, cut at the first packet that finds the buffer full, then
a loop that admits or drops packets one at a time. :func:`serve_finite` follows the same
steps in the same order, with the same float operations, one packet at a time: each
departure, drop and carried state is the numpy version's to the bit. So do
:func:`delay_line` (a link's FIFO delay line) and :func:`schedule_work` /
:func:`schedule_time` (a rate schedule's lookups); ``tests/test_compiled.py`` compares each
with its numpy version on random inputs and whole runs. Only the cost differs: a few
nanoseconds per packet, against 50-1,400 ns for the numpy drop-tail under overload.

The kernels run inside :func:`enabled`. When numba is installed (``pip install
'medlink[fast]'``), :func:`netsim.engine.simulate` turns them on once its drop-tail queues
have served 100,000 packets through their overflow loop, a fifth of their packets or more
(sustained overload, where they gain most); ``MEDLINK_JIT=1`` turns them on from the start
of every run, ``MEDLINK_JIT=0`` off (:func:`switch_after`). Results do not depend on when,
or whether, they are on. The first use compiles them (about 5 s here) into numba's cache
next to this file; later processes load them from there.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

__all__ = [
    "active",
    "delay_line",
    "enabled",
    "first_order_filter",
    "installed",
    "loaded",
    "smooth_blocks",
    "delivered_latency",
    "schedule_time",
    "schedule_work",
    "serve_finite",
    "switch_after",
    "switch_on",
    "usable",
]

STRETCH = 16384  # FifoQueue._serve_finite's stretch length: its float results depend on it
LOOP_MAX = 1 << 20  # the largest budget of its per-packet loop
LOOP_MIN = 32  # and the budget it starts from


def _serve_finite(
    arrival,
    service,
    size,
    fate,
    depart,
    limit,
    by_bytes,
    held_dep,
    held_size,
    free,
    loop_length,
    dropped,
):  # pragma: no cover (compiled)
    """The compiled body; see :func:`serve_finite`. Returns (free, loop_length, q0, q1, qd, qs)."""
    n = arrival.size
    h = held_dep.size
    cap = h + n
    qd = np.empty(cap)  # the admitted packets not yet fully serialised, in order
    qs = np.empty(cap, dtype=np.int64)
    qd[:h] = held_dep
    qs[:h] = held_size
    q0 = 0
    q1 = h
    pos = 0
    while pos < n:
        stop = min(n, pos + STRETCH)
        # --- the vectorised stretch: Lindley on cumulative service from ``free``, every packet
        # assumed admitted, cut at the first whose occupancy exceeds the limit. The stretch's
        # departures go after the queue (qd[q1 + i]), as numpy's concatenation puts them.
        cum = 0.0
        slack = -math.inf
        p = q0  # entries of (queue ++ stretch) at or before the current arrival, capped at k
        insys = 0  # bytes (or packets) of entries p .. k-1: the queue's, to begin with
        for j in range(q0, q1):
            insys += qs[j] if by_bytes else 1
        length = stop - pos
        good = length
        for i in range(length):
            j = pos + i
            s = service[j]
            cum = cum + s
            x = arrival[j] - (cum - s)
            if x > slack or i == 0:
                slack = x
            top = slack if slack >= free else free  # np.maximum(slack, free)
            if slack != slack:
                top = slack
            k = q1 + i
            qd[k] = cum + top
            a = arrival[j]
            while p < k and qd[p] <= a:
                insys -= qs[p] if by_bytes else 1
                p += 1
            unit = size[j] if by_bytes else 1
            if insys + unit > limit:
                good = i
                break
            qs[k] = size[j]
            insys += unit
        if good:
            for i in range(good):
                depart[pos + i] = qd[q1 + i]
            q1 += good
            free = qd[q1 - 1]
            last = arrival[pos + good - 1]
            while q0 < q1 and qd[q0] <= last:
                q0 += 1
        pos += good
        if good == length:  # no overflow in the stretch
            loop_length = LOOP_MIN
            continue
        # --- the loop (FifoQueue._serve_loop): packets of one size that fit the buffer run to
        # ``end`` (_serve_equal, the loop's results in closed form); others stop where the
        # system empties (_serve_each).
        end = min(n, pos + loop_length)
        most = 0
        s0 = service[pos]
        if end - pos >= 8 and limit < math.inf and 0.0 < s0 < math.inf:
            one = size[pos]
            same = True
            for j in range(pos, end):
                if size[j] != one:
                    same = False
                    break
            if same:
                for j in range(q0, q1):
                    if qs[j] != one:
                        same = False
                        break
            if same:
                unit = one if by_bytes else 1
                most = int(min(limit // unit, 2.0**40))
                if most < 0:
                    most = 0
                while most < 2**40 and (most + 1) * unit <= limit:
                    most += 1
                while most > 0 and most * unit > limit:
                    most -= 1
        run_to_end = False
        if most:
            if q1 > q0:
                ok = qd[q1 - 1] == free
                for j in range(q0 + 1, q1):
                    if not qd[j] >= qd[j - 1]:
                        ok = False
                        break
                run_to_end = ok
            else:
                run_to_end = not free > arrival[pos]
        held = 0
        for j in range(q0, q1):
            held += qs[j] if by_bytes else 1
        while pos < end:
            a = arrival[pos]
            while q0 < q1 and qd[q0] <= a:
                held -= qs[q0] if by_bytes else 1
                q0 += 1
            one = size[pos] if by_bytes else 1
            if held + one > limit:
                depart[pos] = math.nan
                fate[pos] = dropped
            else:
                free = (free if free > a else a) + service[pos]
                depart[pos] = free
                qd[q1] = free
                qs[q1] = size[pos]
                q1 += 1
                held += one
            pos += 1
            if q0 == q1 and not run_to_end:
                break
        loop_length = min(loop_length * 2, LOOP_MAX) if pos < n else LOOP_MIN
    return free, loop_length, q0, q1, qd, qs


def _delay_line(depart, jitter, delay, fate, last):  # pragma: no cover (compiled)
    """The compiled body of :func:`delay_line`. Returns (recv, last)."""
    n = depart.size
    recv = np.empty(n)
    for i in range(n):
        if fate[i] != 0:
            recv[i] = math.nan
        else:
            v = depart[i] + delay + jitter[i]
            if v > last:
                last = v
            recv[i] = last
    return recv, last


def _schedule_work(t_s, cum, bytes_per_s, x):  # pragma: no cover (compiled)
    """The compiled body of :func:`schedule_work`."""
    m = t_s.size
    out = np.empty(x.size)
    idx = 0  # entries of t_s <= x (searchsorted "right"), walked from the last value
    for j in range(x.size):
        v = x[j]
        if v != v:
            idx = m  # NaN sorts last
        else:
            while idx < m and t_s[idx] <= v:
                idx += 1
            while idx > 0 and t_s[idx - 1] > v:
                idx -= 1
        i = idx - 1 if idx > 0 else 0
        out[j] = cum[i] + ((v if v >= 0.0 or v != v else 0.0) - t_s[i]) * bytes_per_s[i]
    return out


def _schedule_time(t_s, cum, bytes_per_s, work):  # pragma: no cover (compiled)
    """The compiled body of :func:`schedule_time`."""
    m = cum.size
    out = np.empty(work.size)
    idx = 0  # entries of cum < work - slack (searchsorted "left")
    for j in range(work.size):
        w = work[j]
        y = w - abs(w) * 1e-12
        if y != y:
            idx = m
        else:
            while idx < m and cum[idx] < y:
                idx += 1
            while idx > 0 and cum[idx - 1] >= y:
                idx -= 1
        i = idx - 1 if idx > 0 else 0
        rate = bytes_per_s[i]
        if w <= 0.0:
            out[j] = 0.0
        elif rate > 0:
            out[j] = t_s[i] + (w - cum[i]) / rate
        else:
            out[j] = math.inf
    return out


def _first_order_filter(b, r, out):  # pragma: no cover (compiled)
    """The compiled body of :func:`first_order_filter`, one row."""
    y = 0.0
    for k in range(b.size):
        y = r * y + b[k]
        out[k] = y


def _smooth_blocks(padded, width, ainv, gain_k, decay, a_width, initial):  # pragma: no cover
    """The compiled body of :func:`smooth_blocks`."""
    previous = initial
    for start in range(0, padded.size, width):
        total = 0.0
        for i in range(width):
            total += padded[start + i] * ainv[i]
            padded[start + i] = total * gain_k[i]
        carry = previous
        previous = padded[start + width - 1] + a_width * previous
        for i in range(width):
            padded[start + i] += carry * decay[i]


def _delivered_latency(fate, code, t_send, t_recv, size, out):  # pragma: no cover
    """The compiled body of :func:`delivered_latency`."""
    at = 0
    total = 0
    for i in range(fate.size):
        if fate[i] == code:
            out[at] = t_recv[i] - t_send[i]
            total += size[i]
            at += 1
    return at, total


_KERNELS = {
    "serve_finite": _serve_finite,
    "delay_line": _delay_line,
    "schedule_work": _schedule_work,
    "schedule_time": _schedule_time,
    "first_order_filter": _first_order_filter,
    "smooth_blocks": _smooth_blocks,
    "delivered_latency": _delivered_latency,
}
_compiled: dict | None = None
_enabled: ContextVar[bool] = ContextVar("medlink_compiled", default=False)
_loading = threading.Lock()  # radio links' dynamics are built in threads
LOOP_SWITCH = 100_000  # packets through the overflow loop before a run turns them on,
LOOP_SHARE = 0.2  # if they are this share of the packets its finite buffers served
FINITE_SWITCH = 1_000_000  # or packets its finite buffers served: a long run


def _load() -> bool:
    """Import numba and wrap the kernels (each compiles on its first call, or loads from
    numba's cache next to this file); False without numba."""
    global _compiled
    with _loading:
        if _compiled is None:
            try:
                import numba
            except ImportError:
                _compiled = {}
            else:
                jit = numba.njit(cache=True, nogil=True, error_model="numpy")
                _compiled = {name: jit(f) for name, f in _KERNELS.items()}
    return bool(_compiled)


def switch_after(expected_finite: int = 0) -> int | None:
    """When a run turns the kernels on: ``0``, from the start (``MEDLINK_JIT=1``, or a run
    expected to serve :data:`FINITE_SWITCH` packets or more through finite buffers,
    ``expected_finite``: it would turn them on part way anyway, so it pays the same cost
    and gains from the first packet); ``None``, never (``MEDLINK_JIT=0``, or numba not
    installed); else once the numpy drop-tail's overflow loop, its costly case, has served
    :data:`LOOP_SWITCH` packets and at least :data:`LOOP_SHARE` of those its finite buffers
    served (sustained overload, where the kernels run 2-3 times as fast), or once its
    finite buffers have served :data:`FINITE_SWITCH` packets (a long run the plan did not
    foresee: 1.4 times as fast without overload, on the benchmarks' three-hop model).
    Importing numba and loading the kernels costs about 0.5 s and 115 MiB once per
    process, which a short run does not earn back, and the real-time relay must never wait
    for it."""
    flag = os.environ.get("MEDLINK_JIT", "")
    if flag == "0" or importlib.util.find_spec("numba") is None:
        return None
    return 0 if flag == "1" or expected_finite >= FINITE_SWITCH else LOOP_SWITCH


def switch_on() -> bool:
    """Use the kernels from now on in this context (inside :func:`enabled`, until it ends)."""
    _enabled.set(_load())
    return _enabled.get()


@contextmanager
def enabled(on: bool = True) -> Iterator[bool]:
    """Use the kernels (if numba is installed and ``on``) in this context; yields whether
    they are in use. The results are the same either way: only the speed changes."""
    token = _enabled.set(bool(on) and _load())
    try:
        yield _enabled.get()
    finally:
        _enabled.reset(token)


def installed() -> bool:
    """Whether the kernels can run here (numba importable); imports it."""
    return _load()


def usable() -> bool:
    """Whether code outside the engine's windows may use the kernels: numba installed and
    ``MEDLINK_JIT`` not 0 (imports numba)."""
    return switch_after() is not None and _load()


def loaded() -> bool:
    """Whether this process has loaded the kernels already (a long run, or a radio link,
    did) and ``MEDLINK_JIT`` is not 0: the statistics then use them, at no import cost."""
    return bool(_compiled) and os.environ.get("MEDLINK_JIT", "") != "0"


def active() -> bool:
    """Whether the kernels are in use here (see :func:`enabled`)."""
    return _enabled.get()


def delay_line(depart, jitter, delay: float, fate, last: float) -> tuple[np.ndarray, float]:
    """A FIFO delay line: each packet with ``fate`` 0 arrives at ``depart + delay + jitter``
    but no earlier than the packets before it (and ``last``, the latest arrival so far); the
    others get NaN. Returns the arrivals and the new ``last``.

    :meth:`netsim.link.LinkRuntime._wire`'s numpy version to the bit: the sum is evaluated
    in the same order, and a running maximum has no rounding."""
    assert _compiled
    recv, last = _compiled["delay_line"](
        np.ascontiguousarray(depart, dtype=np.float64),
        np.ascontiguousarray(jitter, dtype=np.float64),
        float(delay),
        np.ascontiguousarray(fate),
        float(last),
    )
    return recv, float(last)


def first_order_filter(b: np.ndarray, r: float) -> np.ndarray:
    """``y_k = r y_{k-1} + b_k`` from ``y_{-1} = 0`` along the last axis: what
    ``scipy.signal.lfilter([1.0], [1.0, -r], b, axis=-1)`` computes, to the bit (its direct
    form II transposed takes the same two roundings per value, ``r y`` then ``+ b``), without
    importing scipy.signal (0.6 s, with scipy.stats). The radio model's shadowing uses it
    for evenly spaced samples."""
    assert _compiled
    b = np.ascontiguousarray(b, dtype=np.float64)
    out = np.empty_like(b)
    kernel = _compiled["first_order_filter"]
    rows, rows_out = b.reshape(-1, b.shape[-1]), out.reshape(-1, b.shape[-1])
    for i in range(rows.shape[0]):
        kernel(rows[i], float(r), rows_out[i])
    return out


def smooth_blocks(
    padded: np.ndarray, width: int, ainv, gain_k, decay, a_width: float, initial: float
) -> None:
    """:func:`netsim.stats._smooth_padded`'s blocked recursion in place, in one pass: per
    block of ``width`` values, the running sum of ``x_i a^-i`` times ``gain a^i``, then the
    value carried in from the block before times ``a^(i+1)``; the same float operations in
    the same order as numpy's passes (``cumsum`` adds left to right), so the same bits."""
    assert _compiled
    _compiled["smooth_blocks"](padded, int(width), ainv, gain_k, decay, float(a_width), initial)


def delivered_latency(fate, code: int, t_send, t_recv, size, out) -> tuple[int, int]:
    """Latencies (``t_recv - t_send``) of the packets whose ``fate`` is ``code``, into
    ``out`` in order, and their bytes: what boolean masks and a sum give, in one pass.
    Returns (how many, total bytes)."""
    assert _compiled
    at, total = _compiled["delivered_latency"](fate, int(code), t_send, t_recv, size, out)
    return int(at), int(total)


def schedule_work(schedule, t: np.ndarray) -> np.ndarray:
    """:meth:`netsim.capacity.RateSchedule._base_work` (cumulative work at ``t``, one period)
    in one pass; the numpy version's results to the bit (the same operations per value, and
    the same segment as ``searchsorted``, found by walking from the previous value's)."""
    assert _compiled
    return _compiled["schedule_work"](
        schedule.t_s, schedule._cum, schedule._bytes_per_s, np.ascontiguousarray(t, np.float64)
    )


def schedule_time(schedule, work: np.ndarray) -> np.ndarray:
    """:meth:`netsim.capacity.RateSchedule._base_time` (when the work is done) in one pass,
    to the bit; see :func:`schedule_work`."""
    assert _compiled
    return _compiled["schedule_time"](
        schedule.t_s, schedule._cum, schedule._bytes_per_s, np.ascontiguousarray(work, np.float64)
    )


def serve_finite(queue, arrival, service, size, fate, dropped: int) -> np.ndarray:
    """:meth:`FifoQueue._serve_finite` for ``queue`` in one compiled pass: the departures,
    ``fate`` set to ``dropped`` where refused, and the queue's carried state updated."""
    assert _compiled
    n = arrival.size
    depart = np.full(n, np.nan)
    out_fate = fate if fate.flags.c_contiguous else np.ascontiguousarray(fate)
    free, loop_length, q0, q1, qd, qs = _compiled["serve_finite"](
        np.ascontiguousarray(arrival, dtype=np.float64),
        np.ascontiguousarray(service, dtype=np.float64),
        np.ascontiguousarray(size, dtype=np.int64),
        out_fate,
        depart,
        float(queue.limit),
        bool(queue.by_bytes),
        np.ascontiguousarray(queue._sys_depart, dtype=np.float64),
        np.ascontiguousarray(queue._sys_size, dtype=np.int64),
        float(queue.free_s),
        int(queue._loop_length),
        int(dropped),
    )
    if out_fate is not fate:
        fate[...] = out_fate
    queue.free_s = float(free)
    queue._loop_length = int(loop_length)
    queue._sys_depart = qd[q0:q1].copy()
    queue._sys_size = qs[q0:q1].copy()
    return depart
