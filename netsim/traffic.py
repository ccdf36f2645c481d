"""Traffic sources: the send times and sizes of a stream's packets, window by window.

A :class:`Source` hands out its packets in time order, ``take(t_end)`` returning those sent
before ``t_end``. Random draws come in fixed blocks of :data:`BLOCK` values from the stream's
own generators, so the packets do not depend on how the run is cut into windows.
"""

from __future__ import annotations

import math

import numpy as np

from .plan import SizeModel, StreamSpec
from .rng import component_rng

__all__ = ["BLOCK", "Source", "draw_sizes"]

BLOCK = 65536
"""Random values drawn at a time by a source; part of the model's definition of its samples."""


def draw_sizes(model: SizeModel, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw ``n`` packet sizes in whole bytes (int64, each >= 1)."""
    if model.distribution == "constant":
        return np.full(n, max(1, math.ceil(model.mean_bytes)), dtype=np.int64)
    if model.distribution == "exponential":
        sizes = np.ceil(rng.exponential(model.mean_bytes, n)).astype(np.int64)
        return np.maximum(sizes, 1)
    return rng.integers(model.min_bytes, model.max_bytes, n, endpoint=True, dtype=np.int64)


class Source:
    """The packets of one stream, sent in ``[start_s, min(stop_s, end_s))``.

    Parameters
    ----------
    spec
        The stream.
    end_s
        The run's duration: no packet is sent at or after it.
    seed
        The run's root seed; draws come from ``("stream", name, "arrivals")`` and
        ``("stream", name, "sizes")``, with ``name`` the spec's ``source`` if it has one
        (copies of a stream on several paths send the same packets).
    """

    def __init__(self, spec: StreamSpec, end_s: float, seed: int) -> None:
        self.spec = spec
        self.stop_s = min(spec.stop_s, end_s)
        drawn_as = spec.source or spec.name
        self._arrival_rng = component_rng(seed, "stream", drawn_as, "arrivals")
        self._size_rng = component_rng(seed, "stream", drawn_as, "sizes")
        self._sent = 0  # packets handed out so far (the next sequence number)
        self._times = np.empty(0)  # drawn but not yet handed out (poisson)
        self._last_time = spec.start_s  # poisson: time of the last drawn packet
        self._sizes = np.empty(0, dtype=np.int64)
        self.exhausted = self.stop_s <= spec.start_s or spec.rate_pps <= 0

    def take(self, t_end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Packets sent before ``t_end`` and not yet taken: ``(seq, t_send_s, size_bytes)``."""
        if self.exhausted:
            return _EMPTY_I, _EMPTY_F, _EMPTY_I
        horizon = min(t_end, self.stop_s)
        if self.spec.kind == "cbr":
            times = self._take_cbr(horizon)
        else:
            times = self._take_poisson(horizon)
        n = times.size
        seq = np.arange(self._sent, self._sent + n, dtype=np.int64)
        self._sent += n
        if t_end >= self.stop_s:
            self.exhausted = True
        return seq, times, self._take_sizes(n)

    def _take_cbr(self, horizon: float) -> np.ndarray:
        rate, start = self.spec.rate_pps, self.spec.start_s
        # Packet k goes at start + k / rate; count those strictly before the horizon.
        last = math.ceil((horizon - start) * rate) if horizon > start else 0
        while last > 0 and start + (last - 1) / rate >= horizon:
            last -= 1
        while start + last / rate < horizon:
            last += 1
        return start + np.arange(self._sent, max(last, self._sent), dtype=np.float64) / rate

    def _take_poisson(self, horizon: float) -> np.ndarray:
        while self._last_time < horizon:
            gaps = self._arrival_rng.exponential(1.0 / self.spec.rate_pps, BLOCK)
            block = self._last_time + np.cumsum(gaps)
            self._last_time = float(block[-1])
            self._times = np.concatenate([self._times, block])
        cut = int(np.searchsorted(self._times, horizon, side="left"))
        taken, self._times = self._times[:cut], self._times[cut:]
        return taken

    def _take_sizes(self, n: int) -> np.ndarray:
        while self._sizes.size < n:
            self._sizes = np.concatenate(
                [self._sizes, draw_sizes(self.spec.size, self._size_rng, BLOCK)]
            )
        taken, self._sizes = self._sizes[:n], self._sizes[n:]
        return taken


_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)
