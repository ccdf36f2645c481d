"""One link direction carrying packets, window by window, in vectorised form.

:class:`LinkRuntime` holds what a link carries from one window to the next (its FIFO queue,
``netsim.fifo``; the loss chain's state per stream; the last receive time) and serves a
window's arrivals in one call: queue, then loss on the wire, then the delay line. The exact
semantics are in ``docs/model.md``; ``tests/reference.py`` re-computes them one packet at a
time, and the tests hold this module to it packet for packet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import compiled
from .dynamics import draw_jitter, link_dynamics
from .fifo import FifoQueue
from .packetlog import LOST
from .plan import LinkSpec, LossModel
from .rng import component_rng
from .timeline import LinkDynamics

__all__ = ["LinkRuntime", "ServeResult", "gilbert_elliott_states"]


def gilbert_elliott_states(u: np.ndarray, model: LossModel, previous: int) -> np.ndarray:
    """States (0 Good, 1 Bad) of a Gilbert-Elliott chain driven by uniforms ``u``.

    Each step maps {Good, Bad} to itself: to Bad when ``r <= u < p``, to Good when
    ``p <= u < r``, a swap when ``u < min(p, r)``, the identity otherwise. A state is the last
    constant map's value flipped by the parity of the swaps since. ``previous`` is the state
    before ``u[0]``, or -1 when the chain starts here, in which case ``u[0]`` draws the state
    from the stationary law (Bad with probability p / (p + r)).
    """
    n = u.size
    to_bad = u < model.p
    to_good = u < model.r
    constant = to_bad != to_good
    swap = to_bad & to_good
    if previous < 0 and n:
        pi_bad = model.p / (model.p + model.r) if model.p + model.r > 0 else 0.0
        constant[0], to_bad[0], swap[0] = True, bool(u[0] < pi_bad), False
    index = np.where(constant, np.arange(n), -1)
    np.maximum.accumulate(index, out=index)
    swaps = np.cumsum(swap)
    has_constant = index >= 0
    safe = np.where(has_constant, index, 0)
    base = np.where(has_constant, to_bad[safe], bool(previous > 0))
    since = swaps - np.where(has_constant, swaps[safe], 0)
    return (base ^ (since & 1).astype(bool)).astype(np.int8)


@dataclass
class ServeResult:
    """What a link did with one window's arrivals, row-aligned with the sorted input.

    ``recv_s`` is the time each packet leaves the link's delay line (NaN if it did not);
    ``fate`` is 0 passed, 1 lost on the wire, 2 dropped by a full buffer.
    """

    recv_s: np.ndarray
    fate: np.ndarray


class LinkRuntime:
    """The state of one link direction during a run.

    While the compiled kernels are on (:mod:`netsim.compiled`), loss and the delay line run
    as one compiled pass (:func:`netsim.compiled.wire`, the same results to the bit), unless
    ``use_compiled`` is False.
    """

    use_compiled = True

    def __init__(
        self,
        spec: LinkSpec,
        seed: int,
        stream_names: list[str],
        horizon_s: float = math.inf,
        dynamics: LinkDynamics | None = None,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self.stream_names = stream_names
        self.dynamics = link_dynamics(spec, seed, horizon_s) if dynamics is None else dynamics
        self.queue = FifoQueue(
            spec.capacity_bps, spec.buffer_limit, spec.buffer_kind, self.dynamics.curve
        )
        self.last_recv_s = -math.inf
        self._rngs: dict[tuple[int, str], np.random.Generator] = {}
        self._ge_state: dict[int, int] = {}

    def rng(self, stream: int, purpose: str) -> np.random.Generator:
        key = (stream, purpose)
        if key not in self._rngs:
            self._rngs[key] = component_rng(
                self.seed, "link", self.spec.name, "stream", self.stream_names[stream], purpose
            )
        return self._rngs[key]

    def serve(
        self, arrival_s: np.ndarray, stream: np.ndarray, size_bytes: np.ndarray
    ) -> ServeResult:
        """Serve arrivals already sorted by (time, stream, seq); see docs/model.md."""
        fate = np.zeros(arrival_s.size, dtype=np.int8)
        refused = self.dynamics.refuse.contains(arrival_s) if len(self.dynamics.refuse) else None
        if refused is not None and refused.any():
            # Packets reaching the link while it refuses them (an outage) are lost there.
            fate[refused] = LOST
            take = ~refused
            depart = np.full(arrival_s.size, np.nan)
            sub_fate = np.zeros(int(take.sum()), dtype=np.int8)
            depart[take] = self.queue.serve(arrival_s[take], size_bytes[take], sub_fate)
            fate[take] = sub_fate
        else:
            depart = self.queue.serve(arrival_s, size_bytes, fate)
        recv = self._wire(depart, stream, fate == 0, fate)
        return ServeResult(recv_s=recv, fate=fate)

    # -- loss and delay line ------------------------------------------------------------------
    def _wire(
        self, depart: np.ndarray, stream: np.ndarray, admitted: np.ndarray, fate: np.ndarray
    ) -> np.ndarray:
        spec = self.spec
        n = depart.size
        if n and self.use_compiled and compiled.active() and self._wires_compiled():
            return self._wire_compiled(depart, stream, fate)
        jitter = np.zeros(n)
        lost = None
        per_packet_jitter = spec.jitter.active and not spec.jitter.timed
        if spec.jitter.timed and admitted.any():
            jitter[admitted] = self.dynamics.jitter_at(depart[admitted])
        if per_packet_jitter or spec.loss.active:
            single = stream[0] == stream[-1] and (stream == stream[0]).all()
            # The streams present, ascending (stream indices are small and >= 0: a count
            # per index is quicker than np.unique's sort or hash).
            present = stream[:1] if single else np.flatnonzero(np.bincount(stream[admitted]))
            everyone = single and bool(admitted.all())
            for s in present:
                if everyone:  # every row: whole arrays instead of an index
                    if per_packet_jitter:
                        jitter = draw_jitter(spec.jitter, self.rng(int(s), "jitter"), n)
                    if spec.loss.active:
                        lost = self._lose(int(s), depart)
                    continue
                rows = np.flatnonzero(admitted if single else admitted & (stream == s))
                if not rows.size:
                    continue
                if per_packet_jitter:
                    jitter[rows] = draw_jitter(spec.jitter, self.rng(int(s), "jitter"), rows.size)
                if spec.loss.active:
                    if lost is None:
                        lost = np.zeros(n, dtype=bool)
                    lost[rows] = self._lose(int(s), depart[rows])
        if lost is not None:
            fate[lost] = LOST
        recv = depart + spec.delay_s + jitter
        failed = fate != 0
        some_failed = bool(failed.any())
        if some_failed:
            recv[failed] = np.nan
        if not spec.jitter.reorder and n:
            # FIFO: each passed packet leaves no earlier than those before it. The running
            # maximum skipping NaN (the failed rows) is that over the passed packets before.
            ordered = np.fmax.accumulate(recv)
            np.maximum(ordered, self.last_recv_s, out=ordered)
            last = float(ordered[-1])
            if last == last:  # some packet passed
                self.last_recv_s = last
                if some_failed:
                    ordered[failed] = np.nan
                recv = ordered
        return recv

    def _wires_compiled(self) -> bool:
        """Whether :func:`netsim.compiled.wire` can carry this link: any whose timed jitter
        (if any) has slots of some length."""
        return not self.spec.jitter.timed or self.dynamics.jitter_hold_s > 0

    def _wire_compiled(self, depart: np.ndarray, stream: np.ndarray, fate: np.ndarray):
        """:meth:`_wire` through :func:`netsim.compiled.wire`, to the bit: each stream's
        random numbers come from the same generators in the same calls (one per purpose,
        as many as it has packets admitted), so only the passes over the packets move."""
        spec, model, dynamics = self.spec, self.spec.loss, self.dynamics
        streams = len(self.stream_names)
        counts = compiled.admitted_counts(fate, stream, streams)
        present = np.flatnonzero(counts).tolist()
        start = np.zeros(streams, dtype=np.int64)
        np.cumsum(counts[:-1], out=start[1:])
        draw_jitters = spec.jitter.active and not spec.jitter.timed
        loss_on = model.active
        timed_loss = loss_on and model.timed and dynamics.bad is not None
        chain = loss_on and model.kind != "iid" and not timed_loss
        jitter, u_state, u_loss = [], [], []
        state = np.full(streams, -1, dtype=np.int64)
        for s in present:
            k = int(counts[s])
            if draw_jitters:
                jitter.append(draw_jitter(spec.jitter, self.rng(s, "jitter"), k))
            if chain:
                u_state.append(self.rng(s, "ge-state").random(k))
                state[s] = self._ge_state.get(s, -1)
            if loss_on:
                u_loss.append(self.rng(s, "loss").random(k))
        if chain:
            pi_bad = model.p / (model.p + model.r) if model.p + model.r > 0 else 0.0
            loss = (2, model.p, model.r, pi_bad, model.loss_good, model.loss_bad)
        elif timed_loss:
            loss = (3, 0.0, 1.0, 0.0, model.loss_good, model.loss_bad)
        else:
            loss = (1 if loss_on else 0, 0.0, 1.0, 0.0, model.rate, 1.0)
        bad = dynamics.bad if timed_loss else None
        timed = (
            dynamics.jitter_slots_s if spec.jitter.timed else _NONE,
            dynamics.jitter_hold_s if spec.jitter.timed else 0.0,
            bad.start_s if bad is not None else _NONE,
            bad.end_s if bad is not None else _NONE,
        )
        draws = (start, _joined(jitter), _joined(u_state), _joined(u_loss))
        recv, last = compiled.wire(
            depart,
            fate,
            stream,
            draws,
            loss,
            state,
            timed,
            spec.delay_s,
            not spec.jitter.reorder,
            self.last_recv_s,
            LOST,
        )
        self.last_recv_s = last
        if chain:
            for s in present:
                self._ge_state[s] = int(state[s])
        return recv

    def _lose(self, stream: int, depart_s: np.ndarray) -> np.ndarray:
        model = self.spec.loss
        n = depart_s.size
        if model.kind == "iid":
            return self.rng(stream, "loss").random(n) < model.rate
        if model.timed and self.dynamics.bad is not None:
            # The link-wide chain: Bad or Good at the moment the packet leaves the queue.
            bad = self.dynamics.bad.contains(depart_s)
            threshold = np.where(bad, model.loss_bad, model.loss_good)
            return self.rng(stream, "loss").random(n) < threshold
        u = self.rng(stream, "ge-state").random(n)
        previous = self._ge_state.get(stream, -1)
        sparse = _gilbert_elliott_bad_rows(u, model, previous)
        if sparse is not None:
            bad_rows, last = sparse
            self._ge_state[stream] = last
            draw = self.rng(stream, "loss").random(n)
            lost = draw < model.loss_good
            lost[bad_rows] = draw[bad_rows] < model.loss_bad
            return lost
        states = gilbert_elliott_states(u, model, previous)
        self._ge_state[stream] = int(states[-1])
        threshold = np.where(states == 1, model.loss_bad, model.loss_good)
        return self.rng(stream, "loss").random(n) < threshold


_NONE = np.empty(0)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else _NONE


def _gilbert_elliott_bad_rows(
    u: np.ndarray, model: LossModel, previous: int, reach: int = 32
) -> tuple[np.ndarray, int] | None:
    """The rows in the Bad state of :func:`gilbert_elliott_states`, ascending, and the last
    state, found from the swaps alone; None when this shortcut does not apply.

    With ``p < r`` every constant map sets Good, so the state is Good except on stretches
    that start at a swap (or at the chain's start, if Bad there) and end at the next
    constant map; a row is Bad when an odd number of those stretches cover it. With rare
    swaps the stretches are few and short: each end is looked for within ``reach`` rows, and
    the shortcut gives up if one is not found there.
    """
    n = u.size
    if n < 4 * reach or not model.p < model.r:
        return None
    low, high = model.p, model.r  # u < p: a swap; p <= u < r: to Good; else no change
    begin = np.flatnonzero(u < low)
    if begin.size > n // (4 * reach):
        return None
    if previous < 0:
        # Row 0 draws the state from the stationary law: a constant map, Bad or Good.
        pi_bad = model.p / (model.p + model.r)
        begin = begin[begin > 0]
        if u[0] < pi_bad:
            begin = np.concatenate([[0], begin])
    elif previous > 0:
        begin = np.concatenate([[-1], begin])  # Bad before row 0: a stretch from row 0
    if not begin.size:
        return np.empty(0, dtype=np.int64), 0
    window = np.minimum(begin[:, None] + np.arange(1, reach + 1), n - 1)
    seen = u[window]
    at_end = (seen >= low) & (seen < high)
    found = at_end.any(axis=1)
    if not (found | (begin + reach >= n - 1)).all():
        return None
    end = np.where(found, window[np.arange(begin.size), at_end.argmax(axis=1)], n)
    begin = np.maximum(begin, 0)
    length = end - begin
    rows = np.repeat(end - length.cumsum(), length) + np.arange(int(length.sum()))
    rows, times = np.unique(rows, return_counts=True)
    bad = rows[(times & 1) == 1]
    return bad, int(bad.size > 0 and bad[-1] == n - 1)
