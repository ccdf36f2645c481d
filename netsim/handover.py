"""Handovers: which cell serves a moving endpoint, and how long each handover interrupts it.

:func:`select_serving` turns per-site RSRP series (dBm, one row per site, as computed by a
path-loss model elsewhere) into the serving site at each sample, using the A3 event ("a
neighbour becomes offset better than the serving cell") with hysteresis and time-to-trigger
of 3GPP TS 36.331 §5.5.4.4 (TS 38.331 §5.5.4.4 for NR).

:class:`InterruptionModel` draws the user-plane interruption of each handover (handover
execution plus random access) from quantiles measured by Hassan et al., "Vivisecting mobility
management in 5G cellular networks", ACM SIGCOMM 2022 (artifact of 43,856 handover events):

==================  =====================================================  ======  ======  ======
kind                handover                                               median  p95     p99
==================  =====================================================  ======  ======  ======
``lte``             LTE handover                                           34 ms   62 ms   94 ms
``nsa-anchor``      NSA anchor (LTE PCell) handover                        51 ms   82 ms   99 ms
``nsa-scg-add``     NSA 5G leg added (SCG addition)                        98 ms   223 ms  412 ms
``nsa-scg-change``  NSA 5G leg changed (SCG modification)                  72 ms   149 ms  704 ms
``sa``              SA handover (low band)                                 ~66 ms  ~70 ms  --
==================  =====================================================  ======  ======  ======

How often handovers happen, from the same group's drives (Hassan et al.; the SIGCOMM 2021/2022
measurement campaigns), for documentation and for checking scenarios:

=====================================  ============================================
LTE, mid band                          one handover every ~559 m
NSA, low-band 5G leg changes           one every ~405-428 m
NSA, mmWave 5G leg changes             one every ~118-142 m
City driving                           LTE 3.0-3.8 /min, SA 1.3 /min, NSA 10.1 /min
=====================================  ============================================

See :data:`HANDOVER_SPACING_M`, :data:`HANDOVER_SPACING_RANGE_M` and
:data:`HANDOVERS_PER_MIN_RANGE`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

__all__ = [
    "ServingTrace",
    "select_serving",
    "InterruptionModel",
    "INTERRUPTIONS",
    "fixed",
    "HANDOVER_SPACING_M",
    "HANDOVER_SPACING_RANGE_M",
    "HANDOVERS_PER_MIN_RANGE",
]

#: Distance in metres driven between handovers (midpoint of the cited range).
HANDOVER_SPACING_M: dict[str, float] = {
    "lte": 559.0,
    "nsa-low-band": 416.5,
    "nsa-mmwave": 130.0,
}
#: The cited ranges behind :data:`HANDOVER_SPACING_M`, (low, high) in metres.
HANDOVER_SPACING_RANGE_M: dict[str, tuple[float, float]] = {
    "lte": (559.0, 559.0),
    "nsa-low-band": (405.0, 428.0),
    "nsa-mmwave": (118.0, 142.0),
}
#: Handovers per minute of city driving, (low, high).
HANDOVERS_PER_MIN_RANGE: dict[str, tuple[float, float]] = {
    "lte": (3.0, 3.8),
    "sa": (1.3, 1.3),
    "nsa": (10.1, 10.1),
}

# Sample times closer than this (seconds) to the time-to-trigger count as reaching it, so
# that t = k * 0.01 s sampling meets a 160 ms TTT after exactly 16 steps despite rounding.
_TIME_TOL_S = 1e-9
_SCAN_MIN, _SCAN_MAX = 64, 1 << 16  # samples per vectorised scan chunk
_EXACT_MAX = 1 << 13  # samples per block of the per-neighbour analysis


# --------------------------------------------------------------------------- serving cell


@dataclass(frozen=True, eq=False)
class ServingTrace:
    """The serving site at each sample and the handovers between them.

    Attributes
    ----------
    t_s : ndarray, shape (n_samples,)
        Sample times in seconds.
    serving : ndarray of int, shape (n_samples,)
        Index (row of the RSRP array) of the serving site at each sample. At a handover's
        sample it is already the target site.
    handover_sample : ndarray of int, shape (n_handovers,)
        Sample index at which each handover triggers.
    handover_t_s : ndarray, shape (n_handovers,)
        Time in seconds at which each handover triggers (``t_s[handover_sample]``).
    from_site, to_site : ndarray of int, shape (n_handovers,)
        Source and target site of each handover.
    hysteresis_db, ttt_s, offset_db : float
        The A3 parameters used.
    """

    t_s: NDArray[np.float64]
    serving: NDArray[np.intp]
    handover_sample: NDArray[np.intp]
    handover_t_s: NDArray[np.float64]
    from_site: NDArray[np.intp]
    to_site: NDArray[np.intp]
    hysteresis_db: float
    ttt_s: float
    offset_db: float = 0.0

    @property
    def handover_count(self) -> int:
        """Number of handovers."""
        return int(self.handover_sample.size)


def _top_two(rsrp: NDArray, chunk: int = 1 << 14) -> tuple[NDArray, NDArray, NDArray]:
    """Per sample: strongest RSRP, its site (lowest index on ties) and the second strongest."""
    n_sites, n = rsrp.shape
    top1 = np.empty(n)
    top2 = np.full(n, -np.inf)
    idx1 = np.empty(n, dtype=np.intp)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        block = rsrp[:, a:b]
        i1 = np.argmax(block, axis=0)
        cols = np.arange(b - a)
        idx1[a:b] = i1
        top1[a:b] = block[i1, cols]
        if n_sites > 1:
            masked = block.copy()
            masked[i1, cols] = -np.inf
            top2[a:b] = masked.max(axis=0)
    return top1, idx1, top2


def _first_true(mask: NDArray[np.bool_]) -> int:
    """Index of the first True in a 1-D mask, or -1."""
    i = int(np.argmax(mask))
    return i if mask[i] else -1


def _run_starts(cond: NDArray[np.bool_], a: int, before: NDArray | int) -> NDArray[np.intp]:
    """Sample index where the current run of True began, for each column of ``cond``.

    ``cond`` covers samples ``a, a+1, ...`` along its last axis; ``before`` is the last
    sample before ``a`` at which the condition was false (per row, or one for all). Where
    ``cond`` is False the result is that sample + 1 and meaningless.
    """
    idx = np.arange(a, a + cond.shape[-1])
    last_false = np.maximum.accumulate(np.where(cond, -1, idx), axis=-1)
    before = np.asarray(before)
    np.maximum(last_false, before[..., None] if before.ndim else before, out=last_false)
    return last_false + 1


def _exact_trigger(
    rsrp: NDArray,
    t_ext: NDArray,
    s: int,
    a0: int,
    threshold_db: float,
    ttt_s: float,
) -> tuple[int, int, int]:
    """Per-neighbour A3 timers from sample ``a0``, where no neighbour was in the condition.

    Returns ``(k, target, -1)`` for a handover at sample k, or ``(-1, -1, j)`` when the last
    neighbour leaves the condition at sample j without any timer expiring.
    """
    n_sites, n = rsrp.shape
    before = np.full(n_sites, a0 - 1, dtype=np.intp)
    a, size = a0, 64
    while a < n:
        b = min(a + size, n)
        block = rsrp[:, a:b]
        cond = block > rsrp[s, a:b] + threshold_db
        cond[s] = False
        j = _first_true(~cond.any(axis=0))
        if j == 0:
            return -1, -1, a
        if j > 0:
            cond, block, b = cond[:, :j], block[:, :j], a + j
        start = _run_starts(cond, a, before)
        fired = cond & (t_ext[a:b] - t_ext[start] >= ttt_s - _TIME_TOL_S)
        k = _first_true(fired.any(axis=0))
        if k >= 0:
            target = int(np.argmax(np.where(fired[:, k], block[:, k], -np.inf)))
            return a + k, target, -1
        if j > 0:
            return -1, -1, b
        before = start[:, -1] - 1
        a, size = b, min(2 * size, _EXACT_MAX)
    return -1, -1, n


def select_serving(
    rsrp_dbm: ArrayLike,
    t_s: ArrayLike,
    hysteresis_db: float,
    ttt_s: float,
    offset_db: float = 0.0,
    initial: int | None = None,
) -> ServingTrace:
    """Serving site at each sample under A3 handovers with hysteresis and time-to-trigger.

    Parameters
    ----------
    rsrp_dbm : array_like, shape (n_sites, n_samples)
        RSRP of each site at each sample in dBm. ``-inf`` means the site is not heard; NaN and
        ``+inf`` are rejected.
    t_s : array_like, shape (n_samples,)
        Sample times in seconds, finite and strictly increasing (not necessarily regular).
    hysteresis_db : float
        A3 hysteresis Hys in dB (>= 0).
    ttt_s : float
        Time-to-trigger in seconds (>= 0).
    offset_db : float
        A3 offset Off in dB (may be negative; with ``offset_db + hysteresis_db < 0`` the
        serving cell can change at every sample).
    initial : int, optional
        Serving site at the first sample; default the strongest there.

    Returns
    -------
    ServingTrace

    Notes
    -----
    The rules, evaluated on the samples only:

    1. The initial serving site is ``initial`` or the strongest site at the first sample
       (lowest index on ties).
    2. Neighbour n is *in the A3 condition* at sample k when
       ``rsrp[n, k] > rsrp[serving, k] + offset_db + hysteresis_db`` (strictly; the entering
       condition of TS 36.331 §5.5.4.4 with Ofn = Ocn = Ofp = Ocp = 0). Equal RSRP never
       enters, so ties keep the serving site.
    3. Each neighbour has its own timer. It starts at the first sample ``k_enter`` of a run of
       consecutive samples in the condition and is reset when the neighbour leaves it.
    4. The handover triggers at the first sample k at which some neighbour has been in the
       condition at every sample from ``k_enter`` to k with ``t_s[k] - t_s[k_enter] >=
       ttt_s`` (1 ns tolerance for rounding). With a 10 ms sampling and a 160 ms TTT the
       condition must hold at 17 consecutive samples. If several neighbours fire at the same
       sample the strongest one there is the target (lowest index on ties). A change of the
       best neighbour does not restart the timer of a neighbour that stays in the condition.
    5. The handover takes effect at the trigger sample: ``serving[k]`` is the target. All
       timers are reset and the conditions against the new serving site are evaluated from
       sample k + 1 on, so there is at most one handover per sample.

    With ``hysteresis_db = ttt_s = offset_db = 0`` the serving site is always the strongest
    site, except that a tie keeps the serving site.

    This is simpler than a real UE: RSRP is taken as given at each sample (no layer-3
    filtering, no measurement gaps or reporting delay, no handover preparation time or
    failure, no A3 leaving condition or cell-individual offsets), and the handover executes
    at the instant it triggers; its interruption is drawn separately
    (:class:`InterruptionModel`).

    The cost is one vectorised pass over all sites to find the two strongest per sample, a
    pass over the samples to find stretches where any neighbour is in the condition for at
    least the TTT, and per-neighbour timers only inside those stretches.
    """
    rsrp = np.asarray(rsrp_dbm, dtype=float)
    t = np.asarray(t_s, dtype=float)
    if rsrp.ndim != 2:
        raise ValueError(f"rsrp_dbm must be 2-D (n_sites, n_samples), got shape {rsrp.shape}")
    n_sites, n = rsrp.shape
    if n_sites < 1 or n < 1:
        raise ValueError(f"rsrp_dbm needs at least one site and one sample, got {rsrp.shape}")
    if t.shape != (n,):
        raise ValueError(f"t_s must have shape ({n},) to match rsrp_dbm, got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("t_s must be finite")
    if n > 1 and not np.all(np.diff(t) > 0):
        raise ValueError("t_s must be strictly increasing")
    for name, value in (("hysteresis_db", hysteresis_db), ("ttt_s", ttt_s)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    if not np.isfinite(offset_db):
        raise ValueError(f"offset_db must be finite, got {offset_db}")
    threshold_db = float(offset_db) + float(hysteresis_db)
    ttt_s = float(ttt_s)

    top1, idx1, top2 = _top_two(rsrp)
    if not np.all(top1 < np.inf):  # argmax picks a NaN first, so NaN and +inf both show here
        raise ValueError("rsrp_dbm must not contain NaN or +inf (use -inf for a site not heard)")
    if initial is None:
        s = int(idx1[0])
    else:
        if not 0 <= initial < n_sites:
            raise ValueError(f"initial must be a site index in [0, {n_sites}), got {initial}")
        s = int(initial)
    t_ext = np.append(t, np.inf)  # run starts past the end index n; never used where it matters

    serving = np.empty(n, dtype=np.intp)
    events: list[tuple[int, int, int]] = []
    k = 0  # first sample evaluated against the serving site s
    a, size, before = 0, _SCAN_MIN, -1
    while True:
        if a >= n:
            serving[k:] = s
            break
        # Cheap scan: is any neighbour in the condition, and for how long?
        b = min(a + size, n)
        best_nb = np.where(idx1[a:b] == s, top2[a:b], top1[a:b])
        any_cond = best_nb > rsrp[s, a:b] + threshold_db
        start = _run_starts(any_cond, a, before)
        long_enough = any_cond & (t[a:b] - t_ext[start] >= ttt_s - _TIME_TOL_S)
        c = _first_true(long_enough)
        if c < 0:
            before = int(start[-1]) - 1
            a, size = b, min(2 * size, _SCAN_MAX)
            continue
        # Some neighbour may fire from sample a + c on: run the per-neighbour timers.
        k_ho, target, resume = _exact_trigger(rsrp, t_ext, s, int(start[c]), threshold_db, ttt_s)
        if k_ho < 0:
            a, before = resume, resume - 1
            continue
        serving[k:k_ho] = s
        serving[k_ho] = target
        events.append((k_ho, s, target))
        size = min(max(_SCAN_MIN, 2 * (k_ho - k)), _SCAN_MAX)
        s, k = target, k_ho + 1
        a, before = k, k - 1

    ev = np.array(events, dtype=np.intp).reshape(-1, 3)
    return ServingTrace(
        t_s=t,
        serving=serving,
        handover_sample=ev[:, 0],
        handover_t_s=t[ev[:, 0]],
        from_site=ev[:, 1],
        to_site=ev[:, 2],
        hysteresis_db=float(hysteresis_db),
        ttt_s=ttt_s,
        offset_db=float(offset_db),
    )


# --------------------------------------------------------------------------- interruptions


@dataclass(frozen=True)
class InterruptionModel:
    """Distribution of the user-plane interruption of one kind of handover, from quantiles.

    The quantile function passes exactly through the cited points ``(probabilities[i],
    durations_s[i])``. Between them log(duration) is linear in the standard-normal score
    ``z = Φ⁻¹(p)`` (a lognormal piece per interval); below the first and above the last point
    it continues with the slope of the nearest piece. Draws and quantiles are capped at
    ``cap_factor`` times the largest cited duration (5 × by default), which the open-ended
    lognormal tail would otherwise exceed with a small probability (for ``nsa-scg-change``
    beyond p = 0.9988). With one point the interruption is that constant.

    This is simpler than reality: interruptions are independent of each other, of speed,
    band and load, and the tail beyond the last cited percentile is an extrapolation.

    Parameters
    ----------
    name : str
        Kind of handover, e.g. ``"lte"``.
    probabilities : tuple of float
        Cumulative probabilities of the cited points, strictly increasing in (0, 1).
    durations_s : tuple of float
        Cited durations in seconds, strictly increasing and > 0 (one point: >= 0).
    source : str
        Where the numbers come from.
    description : str
        What kind of handover this is, in words.
    cap_factor : float
        Cap on durations as a multiple of the largest cited duration (>= 1).
    """

    name: str
    probabilities: tuple[float, ...]
    durations_s: tuple[float, ...]
    source: str
    description: str = ""
    cap_factor: float = 5.0
    _z: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        p = tuple(float(x) for x in self.probabilities)
        d = tuple(float(x) for x in self.durations_s)
        if len(p) != len(d) or not p:
            raise ValueError(
                f"{self.name}: need as many probabilities as durations (>= 1), "
                f"got {len(p)} and {len(d)}"
            )
        if not all(0 < x < 1 for x in p) or any(b <= a for a, b in zip(p, p[1:], strict=False)):
            raise ValueError(f"{self.name}: probabilities must increase strictly within (0, 1)")
        if not all(np.isfinite(d)):
            raise ValueError(f"{self.name}: durations_s must be finite")
        if len(d) == 1:
            if d[0] < 0:
                raise ValueError(f"{self.name}: a duration must be >= 0, got {d[0]}")
        elif d[0] <= 0 or any(b <= a for a, b in zip(d, d[1:], strict=False)):
            raise ValueError(f"{self.name}: durations_s must be > 0 and strictly increasing")
        if not (np.isfinite(self.cap_factor) and self.cap_factor >= 1):
            raise ValueError(f"{self.name}: cap_factor must be >= 1, got {self.cap_factor}")
        object.__setattr__(self, "probabilities", p)
        object.__setattr__(self, "durations_s", d)
        object.__setattr__(self, "_z", tuple(float(z) for z in ndtri(np.array(p))))

    @property
    def cap_s(self) -> float:
        """Largest duration drawn, in seconds."""
        return self.cap_factor * self.durations_s[-1]

    def _pieces(self) -> tuple[NDArray, NDArray, NDArray]:
        z = np.array(self._z)
        log_d = np.log(np.array(self.durations_s))
        return z, log_d, np.diff(log_d) / np.diff(z)

    def _from_z(self, z: NDArray) -> NDArray[np.float64]:
        if len(self.durations_s) == 1:
            return np.full(z.shape, self.durations_s[0])
        zk, log_d, slope = self._pieces()
        i = np.clip(np.searchsorted(zk, z, side="right") - 1, 0, len(zk) - 2)
        return np.minimum(np.exp(log_d[i] + slope[i] * (z - zk[i])), self.cap_s)

    def quantile(self, p: ArrayLike) -> NDArray[np.float64] | float:
        """Interruption in seconds not exceeded with probability ``p`` (0 <= p <= 1)."""
        q = np.asarray(p, dtype=float)
        if np.any(~((q >= 0) & (q <= 1))):
            raise ValueError("probabilities must lie in [0, 1]")
        out = self._from_z(ndtri(q))
        # Exactly the cited values at the cited probabilities (no rounding of exp(log)).
        for pk, dk in zip(self.probabilities, self.durations_s, strict=True):
            out = np.where(q == pk, min(dk, self.cap_s), out)
        return float(out) if out.ndim == 0 else out

    def cdf(self, duration_s: ArrayLike) -> NDArray[np.float64] | float:
        """Probability that an interruption lasts at most ``duration_s`` seconds."""
        x = np.asarray(duration_s, dtype=float)
        if len(self.durations_s) == 1:
            out = (x >= self.durations_s[0]).astype(float)
        else:
            zk, log_d, slope = self._pieces()
            with np.errstate(divide="ignore"):
                lx = np.log(np.maximum(x, 0.0))
            i = np.clip(np.searchsorted(log_d, lx, side="right") - 1, 0, len(zk) - 2)
            out = np.where(x >= self.cap_s, 1.0, ndtr(zk[i] + (lx - log_d[i]) / slope[i]))
        return float(out) if out.ndim == 0 else out

    def draw(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """``n`` independent interruptions in seconds, drawn with ``rng``."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self._from_z(rng.standard_normal(n))


def fixed(duration_s: float, name: str = "fixed") -> InterruptionModel:
    """A constant interruption of ``duration_s`` seconds (>= 0), e.g. a user's override."""
    return InterruptionModel(
        name=name,
        probabilities=(0.5,),
        durations_s=(duration_s,),
        source="user override",
        description=f"constant {duration_s * 1e3:g} ms",
    )


_HASSAN = (
    "Hassan et al., 'Vivisecting mobility management in 5G cellular networks', "
    "ACM SIGCOMM 2022 (artifact, 43,856 handovers); interruption = handover execution "
    "plus random access"
)
_P = (0.50, 0.95, 0.99)

#: Interruption models keyed by kind of handover; see the module docstring for the table.
INTERRUPTIONS: dict[str, InterruptionModel] = {
    m.name: m
    for m in (
        InterruptionModel("lte", _P, (0.034, 0.062, 0.094), _HASSAN, "LTE handover"),
        InterruptionModel(
            "nsa-anchor", _P, (0.051, 0.082, 0.099), _HASSAN, "NSA anchor (LTE PCell) handover"
        ),
        InterruptionModel(
            "nsa-scg-add", _P, (0.098, 0.223, 0.412), _HASSAN, "NSA 5G leg added (SCG addition)"
        ),
        InterruptionModel(
            "nsa-scg-change",
            _P,
            (0.072, 0.149, 0.704),
            _HASSAN,
            "NSA 5G leg changed (SCG modification)",
        ),
        InterruptionModel(
            "sa",
            (0.50, 0.95),
            (0.066, 0.070),
            _HASSAN + "; median and p95 approximate (~66 ms, ~70 ms), no p99 cited",
            "SA handover (low band)",
        ),
    )
}
