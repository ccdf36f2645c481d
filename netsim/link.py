"""One link direction carrying packets, window by window, in vectorised form.

:class:`LinkRuntime` holds what a link carries from one window to the next (when its
serialiser frees up, the packets still in its buffer, the loss chain's state per stream, the
last receive time) and serves a window's arrivals in one call. The exact semantics are in
``docs/model.md``; ``tests/reference.py`` re-computes them one packet at a time, and the tests
hold this module to it packet for packet.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .plan import JitterModel, LinkSpec, LossModel
from .rng import component_rng

__all__ = ["LinkRuntime", "ServeResult", "lindley_departures", "gilbert_elliott_states"]


def lindley_departures(arrival_s: np.ndarray, service_s: np.ndarray, free_s: float) -> np.ndarray:
    """Departure times of a FIFO single server: ``d_n = max(a_n, d_{n-1}) + s_n``.

    Vectorised through the cumulative service ``S``: ``d_n = S_n + max(free, max_k<=n (a_k -
    S_{k-1}))``. ``free_s`` is when the server frees up from earlier work.
    """
    cum_service = np.cumsum(service_s)
    start_slack = arrival_s - (cum_service - service_s)
    np.maximum.accumulate(start_slack, out=start_slack)
    np.maximum(start_slack, free_s, out=start_slack)
    return cum_service + start_slack


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


def draw_jitter(model: JitterModel, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` extra delays in seconds from the link's jitter distribution."""
    if model.distribution == "exponential":
        return rng.exponential(model.mean_s, n)
    if model.distribution == "uniform":
        return rng.uniform(0.0, model.max_s, n)
    if model.distribution == "lognormal":
        return rng.lognormal(math.log(model.median_s), model.sigma, n)
    if model.distribution == "pareto":
        return rng.pareto(model.alpha, n) * model.scale_s
    return np.zeros(n)


@dataclass
class ServeResult:
    """What a link did with one window's arrivals, row-aligned with the sorted input.

    ``recv_s`` is the time each packet leaves the link's delay line (NaN if it did not);
    ``fate`` is 0 passed, 1 lost on the wire, 2 dropped by a full buffer.
    """

    recv_s: np.ndarray
    fate: np.ndarray


class LinkRuntime:
    """The state of one link direction during a run."""

    def __init__(self, spec: LinkSpec, seed: int, stream_names: list[str]) -> None:
        self.spec = spec
        self.seed = seed
        self.stream_names = stream_names
        self.free_s = 0.0
        self.last_recv_s = -math.inf
        self._rngs: dict[tuple[int, str], np.random.Generator] = {}
        self._ge_state: dict[int, int] = {}
        # Admitted packets not yet fully serialised (only tracked with a finite buffer).
        self._sys_depart = np.empty(0)
        self._sys_size = np.empty(0, dtype=np.int64)
        self._loop_length = 32

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
        n = arrival_s.size
        service_s = size_bytes * (8.0 / self.spec.capacity_bps)
        fate = np.zeros(n, dtype=np.int8)
        if self.spec.buffer_kind == "unlimited":
            depart = lindley_departures(arrival_s, service_s, self.free_s)
        else:
            depart = self._serve_finite(arrival_s, service_s, size_bytes, fate)
        admitted = fate == 0
        if n and admitted.any():
            self.free_s = float(depart[admitted][-1])
        recv = self._wire(depart, stream, admitted, fate)
        return ServeResult(recv_s=recv, fate=fate)

    # -- loss and delay line ------------------------------------------------------------------
    def _wire(
        self, depart: np.ndarray, stream: np.ndarray, admitted: np.ndarray, fate: np.ndarray
    ) -> np.ndarray:
        spec = self.spec
        n = depart.size
        jitter = np.zeros(n)
        lost = np.zeros(n, dtype=bool)
        if spec.jitter.active or spec.loss.active:
            single = stream[0] == stream[-1] and (stream == stream[0]).all()
            for s in stream[:1] if single else np.unique(stream[admitted]):
                rows = np.flatnonzero(admitted if single else admitted & (stream == s))
                if not rows.size:
                    continue
                if spec.jitter.active:
                    jitter[rows] = draw_jitter(spec.jitter, self.rng(int(s), "jitter"), rows.size)
                if spec.loss.active:
                    lost[rows] = self._lose(int(s), rows.size)
        fate[lost] = 1
        recv = depart + spec.delay_s + jitter
        recv[fate != 0] = np.nan
        if not spec.jitter.reorder:
            passed = np.flatnonzero(fate == 0)
            if passed.size:
                ordered = np.maximum.accumulate(recv[passed])
                np.maximum(ordered, self.last_recv_s, out=ordered)
                recv[passed] = ordered
                self.last_recv_s = float(ordered[-1])
        return recv

    def _lose(self, stream: int, n: int) -> np.ndarray:
        model = self.spec.loss
        if model.kind == "iid":
            return self.rng(stream, "loss").random(n) < model.rate
        states = gilbert_elliott_states(
            self.rng(stream, "ge-state").random(n), model, self._ge_state.get(stream, -1)
        )
        self._ge_state[stream] = int(states[-1])
        threshold = np.where(states == 1, model.loss_bad, model.loss_good)
        return self.rng(stream, "loss").random(n) < threshold

    # -- finite buffers -----------------------------------------------------------------------
    def _serve_finite(
        self,
        arrival_s: np.ndarray,
        service_s: np.ndarray,
        size_bytes: np.ndarray,
        fate: np.ndarray,
    ) -> np.ndarray:
        """Drop-tail: vectorised stretches while nothing overflows, per packet while it does.

        The vectorised step assumes every packet is admitted, finds the first that would
        overflow, and keeps everything before it (exact up to there). From that packet a
        plain loop admits or drops one packet at a time until the buffer has emptied or a
        budget of packets is spent (the budget doubles while overflows keep coming), then the
        vectorised step resumes.
        """
        n = arrival_s.size
        depart = np.full(n, np.nan)
        limit, by_bytes = self.spec.buffer_limit, self.spec.buffer_kind == "bytes"
        pos = 0
        while pos < n:
            stop = min(n, pos + 16384)
            d = lindley_departures(arrival_s[pos:stop], service_s[pos:stop], self.free_s)
            all_depart = np.concatenate([self._sys_depart, d])
            all_size = np.concatenate([self._sys_size, size_bytes[pos:stop]])
            k = np.arange(self._sys_depart.size, all_depart.size)
            # Packets ahead of packet k still in the system; with zero service time packet k
            # itself has departed at its arrival, so never look past it.
            first_in_system = np.minimum(
                np.searchsorted(all_depart, arrival_s[pos:stop], side="right"), k
            )
            if by_bytes:
                cum = np.concatenate([[0], np.cumsum(all_size)])
                occupancy = cum[k] - cum[first_in_system] + size_bytes[pos:stop]
            else:
                occupancy = k - first_in_system + 1
            over = np.flatnonzero(occupancy > limit)
            good = over[0] if over.size else stop - pos
            if good:
                depart[pos : pos + good] = d[:good]
                self.free_s = float(d[good - 1])
                keep = all_depart[: self._sys_depart.size + good]
                keep_size = all_size[: self._sys_depart.size + good]
                alive = keep > arrival_s[pos + good - 1]
                self._sys_depart, self._sys_size = keep[alive], keep_size[alive]
            pos += good
            if over.size:
                pos = self._serve_loop(pos, arrival_s, service_s, size_bytes, fate, depart)
                self._loop_length = min(self._loop_length * 2, 1 << 20) if pos < n else 32
            else:
                self._loop_length = 32
        return depart

    def _serve_loop(self, pos, arrival_s, service_s, size_bytes, fate, depart) -> int:
        limit, by_bytes = self.spec.buffer_limit, self.spec.buffer_kind == "bytes"
        queue = deque(zip(self._sys_depart.tolist(), self._sys_size.tolist(), strict=True))
        held = sum(size for _, size in queue) if by_bytes else len(queue)
        free = self.free_s
        end = min(arrival_s.size, pos + self._loop_length)
        while pos < end:
            a = float(arrival_s[pos])
            while queue and queue[0][0] <= a:
                _, size = queue.popleft()
                held -= size if by_bytes else 1
            size = int(size_bytes[pos])
            if held + (size if by_bytes else 1) > limit:
                fate[pos] = 2
            else:
                free = max(a, free) + float(service_s[pos])
                depart[pos] = free
                queue.append((free, size))
                held += size if by_bytes else 1
            pos += 1
            if not queue:
                break
        self.free_s = free
        self._sys_depart = np.array([d for d, _ in queue], dtype=np.float64)
        self._sys_size = np.array([s for _, s in queue], dtype=np.int64)
        return pos
