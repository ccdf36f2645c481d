"""Compiled passes (optional, with numba) for the engine's hottest loops, the numpy results
to the bit.

:meth:`netsim.fifo.FifoQueue._serve_finite` works in stretches: the vectorised Lindley
departures of up to 16,384 packets, cut at the first packet that finds the buffer full, then
a loop that admits or drops packets one at a time. :func:`serve_finite` follows the same
steps in the same order, with the same float operations, one packet at a time: each
departure, drop and carried state is the numpy version's to the bit. So do :func:`wire` (a
link's loss and delay line in one pass, from random numbers numpy draws in the same calls
as before), :func:`schedule_work` / :func:`schedule_time` (a rate schedule's lookups), and
:func:`in_order` / :func:`order_ties` / :func:`split_fates` (the engine's hand-over from one
link to the next); ``tests/test_compiled.py`` and ``tests/test_compiled_wire.py`` compare
each with its numpy version on random inputs and whole runs. Only the cost differs: a few
nanoseconds per packet, against 50-1,400 ns for the numpy drop-tail under overload. The
loop bodies are in :mod:`netsim.kernels`.

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
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from . import kernels
from .kernels import LOOP_MAX, LOOP_MIN, STRETCH  # noqa: F401 (the numpy drop-tail's too)

__all__ = [
    "active",
    "arrival_order_values",
    "admitted_counts",
    "enabled",
    "first_order_filter",
    "in_order",
    "installed",
    "loaded",
    "order_ties",
    "smooth_blocks",
    "delivered_latency",
    "schedule_time",
    "schedule_work",
    "serve_finite",
    "split_fates",
    "switch_after",
    "switch_on",
    "usable",
    "wire",
]


_KERNELS = {
    "serve_finite": kernels.serve_finite,
    "schedule_work": kernels.schedule_work,
    "schedule_time": kernels.schedule_time,
    "first_order_filter": kernels.first_order_filter,
    "smooth_blocks": kernels.smooth_blocks,
    "delivered_latency": kernels.delivered_latency,
    "admitted_counts": kernels.admitted_counts,
    "wire": kernels.wire,
    "in_order": kernels.in_order,
    "split_fates": kernels.split_fates,
    "order_ties": kernels.order_ties,
    "arrival_order_values": kernels.arrival_order_values,
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


def schedule_time(schedule, work: np.ndarray, keep_nan: bool = False) -> np.ndarray:
    """:meth:`netsim.capacity.RateSchedule._base_time` (when the work is done) in one pass,
    to the bit; see :func:`schedule_work`. With ``keep_nan`` a NaN (a packet not served)
    stays NaN."""
    assert _compiled
    return _compiled["schedule_time"](
        schedule.t_s,
        schedule._cum,
        schedule._bytes_per_s,
        np.ascontiguousarray(work, np.float64),
        bool(keep_nan),
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


def admitted_counts(fate: np.ndarray, stream: np.ndarray, streams: int) -> np.ndarray:
    """How many packets of each stream index (``0 .. streams - 1``) have ``fate`` 0: what
    ``np.bincount(stream[fate == 0], minlength=streams)`` gives, in one pass."""
    assert _compiled
    counts = np.zeros(streams, dtype=np.int64)
    _compiled["admitted_counts"](fate, stream, counts)
    return counts


def wire(
    depart: np.ndarray,
    fate: np.ndarray,
    stream: np.ndarray,
    draws: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    loss: tuple[int, float, float, float, float, float],
    state: np.ndarray,
    timed: tuple[np.ndarray, float, np.ndarray, np.ndarray],
    delay: float,
    fifo: bool,
    last: float,
    lost: int,
) -> tuple[np.ndarray, float]:
    """:meth:`netsim.link.LinkRuntime._wire`'s loss and delay line in one pass, to the bit,
    with the random numbers drawn beforehand by numpy in the same calls as the numpy
    version.

    ``draws`` is (``start``, ``jitter``, ``u_state``, ``u_loss``): the draws of every
    stream with packets to carry, one after the other, stream ``s``'s from ``start[s]``,
    one per packet with ``fate`` 0 in row order (``jitter`` empty without per-packet
    jitter). ``loss`` is (kind, p, r, pi_bad, loss_good, loss_bad): kind 0 none;
    1 independent, lost when ``u_loss < loss_good`` (the rate); 2 the per-packet
    Gilbert-Elliott chain of :func:`netsim.link.gilbert_elliott_states`, driven by
    ``u_state``, whose state per stream (-1: not started) ``state`` carries in and out;
    3 the link-wide timed chain, lost when ``u_loss`` is below ``loss_bad`` if the packet
    leaves the queue inside a Bad stretch, else below ``loss_good``. ``timed`` is (slots,
    hold, bad_start, bad_end): a timed jitter's extra delay per ``hold`` seconds (hold 0:
    none) and the Bad stretches ``[bad_start, bad_end)``. A lost packet gets ``fate``
    ``lost``; each passed one arrives at ``depart + delay + jitter``, with ``fifo`` no
    earlier than those before it (and ``last``). Returns the arrivals (NaN unless passed)
    and the new ``last`` (the old one without ``fifo``)."""
    assert _compiled
    start, jitter, u_state, u_loss = draws
    kind, p, r, pi_bad, loss_good, loss_bad = loss
    slots, hold, bad_start, bad_end = timed
    recv, last = _compiled["wire"](
        np.ascontiguousarray(depart, dtype=np.float64),
        fate,
        stream,
        start,
        jitter,
        u_state,
        u_loss,
        int(kind),
        float(p),
        float(r),
        float(pi_bad),
        float(loss_good),
        float(loss_bad),
        state,
        slots,
        float(hold),
        bad_start,
        bad_end,
        float(delay),
        bool(fifo),
        float(last),
        int(lost),
    )
    return recv, float(last)


def in_order(t: np.ndarray, stream: np.ndarray, ids: np.ndarray, seq: np.ndarray) -> bool:
    """Whether a link's arrivals are already in (time, stream, sequence number) order, with
    no two alike: :func:`netsim.engine._arrival_order`'s test for "nothing to sort" in one
    pass, reading ``seq[ids]`` only where times and streams tie."""
    assert _compiled
    return bool(_compiled["in_order"](t, stream, ids, seq))


def order_ties(order: np.ndarray, t: np.ndarray, stream: np.ndarray, ids, seq) -> np.ndarray:
    """``order``, a stable argsort of ``t``, with each run of equal times put in (stream,
    ``seq[ids]``) order, stably, in place: what ``np.lexsort((seq[ids], stream, t))`` gives
    (:func:`netsim.engine._arrival_order`'s sort), gathering sequence numbers only where
    times tie."""
    assert _compiled
    _compiled["order_ties"](order, t, stream, ids, seq)
    return order


def split_fates(ids, fate, recv, stream, col_fate, col_link, link: int):
    """A link's served packets split in one pass: for those with ``fate`` not 0, their fate
    and ``link`` written to the packet log's columns; returns the passed packets' (ids,
    arrival times, streams) and the failed ones' (ids, streams), each in row order: what
    :meth:`netsim.engine._Run.serve` does with boolean masks."""
    assert _compiled
    return _compiled["split_fates"](ids, fate, recv, stream, col_fate, col_link, int(link))


def arrival_order_values(buf: np.ndarray, n: int, values: np.ndarray, chunk: int) -> None:
    """``values`` (in send order) put in arrival order, in place of the receive times
    ``buf[:n]`` (in send order): ``values[np.argsort(buf[:n], kind="stable")]``, the
    permutation a stable sort gives (unique), found as :func:`netsim.stats.disordered_blocks`
    finds it, one stretch between cuts at a time, without a temporary of the whole size
    (the cuts' suffix minima a ``chunk`` at a time). Receive times must not be NaN."""
    assert _compiled
    _compiled["arrival_order_values"](buf, int(n), values, int(chunk))
