"""The engine: ``run(plan, seed)`` simulates a NetworkPlan and returns Results. No I/O.

A simpy clock advances in windows. In each window the sources emit their packets as numpy
columns and every link, in topological order of the paths, serves the packets that reached it
before the window's end (``netsim.link``). Control processes (mobility, radio state,
handovers) are open-loop, so each link computes them for the whole run when it starts
(``netsim.dynamics``); their events fill the :class:`EventLog`. Closed-loop control
(congestion control, watchdogs) will run on the same simpy clock between windows.

The window length does not change the results (see docs/model.md, "Windows").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy

from . import compiled
from .dynamics import links_dynamics
from .link import LinkRuntime
from .packetlog import DELIVERED, ColumnBuffer
from .plan import NetworkPlan, StreamSpec
from .results import Results, build_results
from .series import series_edges
from .simulation import EventLog, Simulation
from .streamlog import StreamLogBuilder
from .summaries import MEMORY_MODES, SummaryBuilder
from .timeline import IntervalSet
from .traffic import Source
from .webrtc import FEEDBACK, MEDIA, Session, make_session

__all__ = ["run", "simulate", "link_order", "default_window", "EventLog", "Simulation"]


def link_order(plan: NetworkPlan) -> list[str]:
    """Links in an order where every path visits them forwards (a topological order).

    Raises ValueError if the paths order the links in a cycle; the scenario loader rejects
    such files with a file:line message before they get here.
    """
    after: dict[str, set[str]] = {name: set() for name in plan.links}
    for stream in plan.streams:
        for upstream, downstream in zip(stream.path, stream.path[1:], strict=False):
            after[upstream].add(downstream)
    indegree = {name: 0 for name in plan.links}
    for downstream_set in after.values():
        for downstream in downstream_set:
            indegree[downstream] += 1
    ready = [name for name in plan.links if indegree[name] == 0]
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for downstream in sorted(after[name], key=list(plan.links).index):
            indegree[downstream] -= 1
            if indegree[downstream] == 0:
                ready.append(downstream)
    if len(order) != len(plan.links):
        raise ValueError("the streams' paths order the links in a cycle")
    return order


class _Run:
    """The mutable state of one run; used only inside :func:`simulate`."""

    def __init__(
        self,
        plan: NetworkPlan,
        seed: int,
        window_s: float,
        packets: bool = True,
        sink: Callable[[dict[str, np.ndarray], int], None] | None = None,
        memory: str = "exact",
        taps: dict[str, Any] | None = None,
    ) -> None:
        self.plan, self.seed, self.window_s = plan, seed, window_s
        self.compile_after: int | None = None  # see netsim.compiled.switch_after
        self.progress: Callable[[float, float], None] | None = None
        self.horizon_s = plan.duration_s + plan.drain_s
        self.stream_names = [s.name for s in plan.streams]
        self.link_names = list(plan.links)
        self.order = [self.link_names.index(name) for name in link_order(plan)]
        specs = [plan.links[n] for n in self.link_names]
        self.links = [
            LinkRuntime(spec, seed, self.stream_names, self.horizon_s, dynamics)
            for spec, dynamics in zip(
                specs, links_dynamics(specs, seed, self.horizon_s), strict=True
            )
        ]
        self.sources = [
            Source(s, plan.duration_s if _sends_itself(s) else 0.0, seed) for s in plan.streams
        ]
        self.sessions: list[tuple[Session, int, int]] = []  # (session, media, feedback index)
        for index, stream in enumerate(plan.streams):
            if stream.transport is not None:
                feedback = stream.transport.feedback_stream
                lane = self.stream_names.index(feedback) if stream.transport.feedback_path else -1
                session = make_session(stream, plan, seed, self.horizon_s)
                self.sessions.append((session, index, lane))
        self.session_of = {m: (k, MEDIA) for k, (_, m, _) in enumerate(self.sessions)}
        self.session_of.update({f: (k, FEEDBACK) for k, (_, _, f) in enumerate(self.sessions)})
        self.session_of.pop(-1, None)
        self.is_session = np.zeros(len(plan.streams), dtype=bool)  # by stream index
        self.is_session[sorted(self.session_of)] = True
        self.decided: list[np.ndarray] = []
        self.gates = [self._gate_intervals(s) for s in plan.streams]
        width = max(len(s.path) for s in plan.streams) + 1
        self.path_table = np.full((len(plan.streams), width), -1, dtype=np.int64)
        for i, stream in enumerate(plan.streams):
            self.path_table[i, : len(stream.path)] = [self.link_names.index(n) for n in stream.path]
        # Where a packet goes after each link: a path visits a link at most once (link_order
        # rejects cycles), so the stream and the link say it. ``after[L][stream]`` is the next
        # link's index, or -1 where the path ends at L; ``single[L]`` is the one value every
        # stream crossing L has there (None when they differ): no per-packet lookup then.
        n_links = len(self.link_names)
        self.after = [np.full(len(plan.streams), -1, dtype=np.int64) for _ in range(n_links)]
        nexts: list[set[int]] = [set() for _ in range(n_links)]
        for i, stream in enumerate(plan.streams):
            hops = [self.link_names.index(n) for n in stream.path] + [-1]
            for here, there in zip(hops, hops[1:], strict=False):
                self.after[here][i] = there
                nexts[here].add(there)
        self.single = [next(iter(n)) if len(n) == 1 else None for n in nexts]
        self.pending: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in self.links]
        self.upstream_s = upstream_delays(plan, self.link_names)
        expected = _expected_packets(plan)
        self.lean: StreamLogBuilder | SummaryBuilder | None = None
        self.sink = sink
        if memory == "bounded":
            self.lean = SummaryBuilder(plan, series_edges(plan.duration_s), taps)
            rate = sum(s.rate_pps for s in plan.streams)
            expected = min(expected, int(rate * window_s * 2) + RETIRE_ROWS)
        elif not packets:
            in_group = [s.group is not None for s in plan.streams]
            per_stream = [_expected_packets(plan, s) for s in plan.streams]
            self.lean = StreamLogBuilder(
                tuple(self.stream_names), tuple(self.link_names), per_stream, in_group
            )
            rate = sum(s.rate_pps for s in plan.streams)
            expected = min(expected, int(rate * window_s * 2) + RETIRE_ROWS)
        self.log = ColumnBuffer(expected)
        self.events = EventLog()
        timed = [
            (event.t_s, name, event)
            for name, link in zip(self.link_names, self.links, strict=True)
            for event in link.dynamics.events
            if event.t_s < self.horizon_s
        ]
        for t_s, name, event in sorted(timed, key=lambda item: (item[0], item[1])):
            self.events.add(t_s, event.kind, name, event.duration_s, event.detail)

    def _gate_intervals(self, stream: StreamSpec) -> tuple[IntervalSet, bool] | None:
        """The down stretches of a gated stream's link, and whether it sends in them."""
        gate = stream.gate
        if gate is None:
            return None
        refuse = self.links[self.link_names.index(gate.link)].dynamics.refuse
        start = refuse.start_s + gate.detect_s
        keep = start < refuse.end_s
        return IntervalSet(start[keep], refuse.end_s[keep]), gate.when == "down"

    def clock(self, env: simpy.Environment):
        """The simpy process that steps the packet windows."""
        while True:
            t_end = min(env.now + self.window_s, self.horizon_s)
            self.step(t_end)
            self.t_end = t_end
            if self.lean is not None:
                self.retire()
            if self.progress is not None:
                self.progress(t_end, self.horizon_s)
            yield env.timeout(t_end - env.now)
            idle = (
                all(s.exhausted for s in self.sources)
                and not any(self.pending)
                and all(session.idle for session, _, _ in self.sessions)
            )
            if env.now >= self.horizon_s or idle:
                return

    def step(self, t_end: float) -> None:
        cols = self.log.cols
        for index, source in enumerate(self.sources):
            seq, t_send, size = source.take(t_end)
            gate = self.gates[index]
            if gate is not None and seq.size:
                down, sends_when_down = gate
                keep = down.contains(t_send) == sends_when_down
                seq, t_send, size = seq[keep], t_send[keep], size[keep]
            if seq.size:
                ids = self.log.append(
                    stream=np.full(seq.size, index, dtype=np.int16),
                    seq=seq,
                    size_bytes=size,
                    t_send_s=t_send,
                )
                self.pending[self.path_table[index, 0]].append((ids, t_send))
        for session, media, feedback in self.sessions:
            emitted = session.emit(t_end)
            for index, (seq, t_send, size) in zip((media, feedback), emitted, strict=True):
                if seq.size and index >= 0:
                    ids = self.log.append(
                        stream=np.full(seq.size, index, dtype=np.int16),
                        seq=seq,
                        size_bytes=size,
                        t_send_s=t_send,
                    )
                    self.pending[self.path_table[index, 0]].append((ids, t_send))
        for link in self.order:
            if self.pending[link]:
                self.serve(link, min(t_end + self.upstream_s[link], self.horizon_s), cols)
                if self.compile_after is not None and not compiled.active():
                    self._maybe_compile()
        if self.decided:
            self.tell_sessions(cols)

    def _maybe_compile(self) -> None:
        """Turn the compiled kernels on once the drop-tail queues are in sustained overload,
        or have served a long run's worth of packets (netsim.compiled.switch_after): the same
        results from here on, faster."""
        loop = sum(link.queue.loop_packets for link in self.links)
        finite = sum(link.queue.finite_packets for link in self.links)
        overload = loop >= self.compile_after and loop >= compiled.LOOP_SHARE * finite
        if overload or finite >= compiled.FINITE_SWITCH:
            compiled.switch_on()

    def retire(self, final: bool = False) -> None:
        """Hand the rows whose fates are final to the lean record and drop them from the
        buffer: all rows when ``final``, else those before the oldest packet still queued on
        a link, once there are at least :data:`RETIRE_ROWS` of them."""
        log = self.log
        frontier = log.n
        if not final:
            if frontier < RETIRE_ROWS:
                return
            for batches in self.pending:
                for ids, _ in batches:
                    if ids.size:
                        frontier = min(frontier, int(ids.min()))
            if frontier < RETIRE_ROWS:
                return
        if self.sink is not None:
            self.sink(log.cols, frontier)
        if isinstance(self.lean, SummaryBuilder):
            # Every packet not retired now was sent at or after this (a group's merge waits
            # for it): the oldest still in the buffer, or the end of the window just stepped.
            rest = log.cols["t_send_s"][frontier : log.n]
            settled = (
                math.inf
                if final
                else min(float(rest.min()), self.t_end)
                if rest.size
                else self.t_end
            )
            self.lean.add(log.cols, frontier, settled)
        else:
            self.lean.add(log.cols, frontier)
        log.drop_front(frontier)
        if frontier:
            self.pending = [[(ids - frontier, t) for ids, t in b] for b in self.pending]

    def tell_sessions(self, cols: dict[str, np.ndarray]) -> None:
        """Hand each session the fates decided in this window (arrival time, NaN if lost)."""
        ids = np.concatenate(self.decided)
        self.decided = []
        ids = ids[np.argsort(ids, kind="stable")]
        stream = cols["stream"][ids]
        for index in np.unique(stream).tolist():
            k, lane = self.session_of[index]
            mine = ids[stream == index]
            self.sessions[k][0].served(lane, cols["seq"][mine], cols["t_recv_s"][mine])

    def serve(self, link: int, t_end: float, cols: dict[str, np.ndarray]) -> None:
        batches = self.pending[link]
        ids = batches[0][0] if len(batches) == 1 else np.concatenate([b[0] for b in batches])
        t = batches[0][1] if len(batches) == 1 else np.concatenate([b[1] for b in batches])
        due = t < t_end
        if not due.all():
            self.pending[link] = [(ids[~due], t[~due])]
            ids, t = ids[due], t[due]
        else:
            self.pending[link] = []
        if not ids.size:
            return
        stream = cols["stream"][ids]
        fast = compiled.active()
        if fast:
            if not compiled.in_order(t, stream, ids, cols["seq"]):
                order = np.argsort(t, kind="stable")  # then each tie by (stream, seq)
                compiled.order_ties(order, t, stream, ids, cols["seq"])
                ids, t, stream = ids[order], t[order], stream[order]
        else:
            order = _arrival_order(t, stream, lambda: cols["seq"][ids])
            if order is not None:
                ids, t, stream = ids[order], t[order], stream[order]
        result = self.links[link].serve(t, stream, cols["size_bytes"][ids])
        recv = result.recv_s
        if fast:
            ids, recv, stream, failed_ids, failed_stream = compiled.split_fates(
                ids, result.fate, recv, stream, cols["fate"], cols["link"], link
            )
            if self.session_of and failed_ids.size:
                self._decided(failed_ids, failed_stream)
        else:
            failed = result.fate != 0
            if failed.any():
                cols["fate"][ids[failed]] = result.fate[failed]
                cols["link"][ids[failed]] = link
                if self.session_of:
                    self._decided(ids[failed], stream[failed])
                passed = ~failed
                ids, recv, stream = ids[passed], recv[passed], stream[passed]
        single = self.single[link]
        if single is not None and single >= 0:  # every packet goes on to the same link
            if ids.size:
                self.pending[single].append((ids, recv))
            return
        if single is not None:  # every packet that passed has arrived
            if ids.size and recv.max() <= self.horizon_s:
                cols["t_recv_s"][ids] = recv
                cols["fate"][ids] = DELIVERED
            else:
                in_time = recv <= self.horizon_s
                cols["t_recv_s"][ids[in_time]] = recv[in_time]
                cols["fate"][ids[in_time]] = DELIVERED
            if self.session_of:
                self._decided(ids, stream)
            return
        nxt = self.after[link][stream]
        done = nxt < 0
        if done.any():
            final_ids, final_recv = ids[done], recv[done]
            in_time = final_recv <= self.horizon_s
            cols["t_recv_s"][final_ids[in_time]] = final_recv[in_time]
            cols["fate"][final_ids[in_time]] = DELIVERED
            if self.session_of:
                self._decided(final_ids, stream[done])
        if not done.all():
            onward = ~done
            for downstream in np.unique(nxt[onward]):
                go = nxt == downstream
                self.pending[downstream].append((ids[go], recv[go]))

    def _decided(self, ids: np.ndarray, stream: np.ndarray) -> None:
        """Keep the packets of sessions' streams whose fate this window decided."""
        mine = self.is_session[stream]
        if mine.any():
            self.decided.append(ids[mine])


def upstream_delays(plan: NetworkPlan, link_names: list[str]) -> list[float]:
    """Per link ``L``, a time ``u[L]`` such that no packet sent before a window's end ``t``
    reaches ``L`` before ``t + u[L]``: 0 where some stream starts, else the least of
    ``u[U] + delay(U)`` over the links ``U`` that feed it (in the links' common order).

    The engine serves each link up to ``t + u[L]`` in the same window (arrivals beyond wait
    for the next): everything arriving before that horizon has left its upstream links by
    their own horizons. This lets a session's feedback loop step in windows as long as its
    path's base delay, not only its shortest link's (docs/webrtc.md, "The loop").
    """
    paths = []
    for stream in plan.streams:
        paths.append(stream.path)
        if stream.transport is not None and stream.transport.feedback_path:
            paths.append(stream.transport.feedback_path)
    upstream = dict.fromkeys(link_names, math.inf)
    feeds: dict[str, set[str]] = {name: set() for name in link_names}
    for path in paths:
        upstream[path[0]] = 0.0
        for before, after in zip(path, path[1:], strict=False):
            feeds[after].add(before)
    for name in link_order(plan):
        for before in feeds[name]:
            upstream[name] = min(upstream[name], upstream[before] + plan.links[before].delay_s)
    return [0.0 if math.isinf(upstream[n]) else upstream[n] for n in link_names]


def _sends_itself(stream: StreamSpec) -> bool:
    """Whether a stream's packets come from its own source (not from a session)."""
    return stream.transport is None and stream.kind != "feedback"


PACKETS_PER_WINDOW = 1 << 18
RETIRE_ROWS = 1 << 16
"""Without a packet log, final rows leave the engine's buffer in stretches of at least this."""


def default_window(plan: NetworkPlan) -> float:
    """A window holding about :data:`PACKETS_PER_WINDOW` packets, between 50 ms and 60 s.

    Long enough that per-window overhead is small next to the per-packet work, short enough to
    bound the memory a window's arrays take.
    """
    rate = sum(s.rate_pps for s in plan.streams)
    return float(min(60.0, max(0.05, PACKETS_PER_WINDOW / rate))) if rate > 0 else 60.0


def _expected_packets(plan: NetworkPlan, stream: StreamSpec | None = None) -> int:
    """About how many packets the sources (or one stream) will send, to size the log once."""
    total = 0.0
    for s in plan.streams if stream is None else [stream]:
        active = max(0.0, min(s.stop_s, plan.duration_s) - s.start_s)
        total += s.rate_pps * active
    return int(min(total * 1.02 + 1024, 2**31))


def _expected_finite(plan: NetworkPlan) -> int:
    """About how many packets the run's finite buffers will serve: each stream's expected
    packets times the links with a finite buffer on its path (netsim.compiled.switch_after).
    """
    total = 0
    for stream in plan.streams:
        finite = sum(1 for name in stream.path if plan.links[name].buffer_kind != "unlimited")
        if finite:
            total += _expected_packets(plan, stream) * finite
    return total


def _arrival_order(t: np.ndarray, stream: np.ndarray, seq) -> np.ndarray | None:
    """The order (time, stream, seq) of a link's arrivals, or None if they are in it already.

    ``seq`` is a callable giving the sequence numbers, gathered only when times tie.
    """
    if t.size < 2:
        return None
    if (t[1:] > t[:-1]).all():
        return None
    if (t[1:] >= t[:-1]).all():
        # Sorted with ties (a FIFO link hands the next hop equal times): already in order if
        # (stream, seq) rises across every tie, which is what the lexsort below would keep.
        tie = np.flatnonzero(t[1:] == t[:-1])
        s0, s1 = stream[tie], stream[tie + 1]
        if (s1 > s0).all():
            return None
        if (s1 >= s0).all():
            q = seq()
            same = s1 == s0
            if (q[tie + 1][same] > q[tie][same]).all():
                return None
    order = np.argsort(t, kind="stable")
    ts = t[order]
    if (ts[1:] > ts[:-1]).all():
        return order
    return np.lexsort((seq(), stream, t))


def simulate(
    plan: NetworkPlan,
    seed: int | None = None,
    window_s: float | None = None,
    progress: Callable[[float, float], None] | None = None,
    packets: bool = True,
    sink: Callable[[dict[str, np.ndarray], int], None] | None = None,
    memory: str | None = None,
    taps: dict[str, Any] | None = None,
) -> Simulation:
    """Simulate ``plan`` and return its packets and events (no statistics, no I/O).

    Parameters
    ----------
    plan
        The network plan.
    seed
        Root seed; defaults to ``plan.seed``.
    window_s
        Length of a packet window in seconds; defaults to ``plan.window_s``, or else to
        :func:`default_window`. It changes speed and memory, not results.
    progress
        Called after each window with (simulated time reached, end of the run), in seconds;
        for progress bars. It must not change anything the run uses.
    packets
        Keep the per-packet log (``Simulation.packets`` is a :class:`PacketLog`, one row per
        packet). False keeps only what the statistics read, per stream, and drops each packet
        from the engine's buffer once its fate is final (``Simulation.packets`` is then a
        :class:`netsim.streamlog.StreamLog`): about a third of the memory, the same statistics.
    sink
        With ``packets=False``: called as ``sink(columns, count)`` each time rows ``[0,
        count)`` of the engine's columns (the names of :class:`PacketLog`'s) become final,
        before they are dropped; the calls together see every packet once, in the log's
        order. :func:`netsim.files.packet_files` writes them to packets.csv.gz and .parquet.
    memory
        With ``packets=False`` (default: the plan's ``memory``): ``"exact"`` keeps, per
        stream, the columns the statistics read (about 21 bytes a packet); ``"bounded"``
        keeps no per-packet record, only streaming estimators fed as the packets become
        final, so memory does not grow with the run (``Simulation.packets`` is then a
        :class:`netsim.summaries.RunSummaries`; percentiles within 0.01 %, the rest exact:
        see :mod:`netsim.summaries`).
    taps
        Used with ``memory="bounded"`` (ignored otherwise): objects that see each stream's
        final packets as they go (a workload's own figures;
        :class:`netsim.summaries.SummaryBuilder`), their results in
        ``Simulation.packets.taps``.
    """
    seed = plan.seed if seed is None else int(seed)
    if window_s is None:
        window_s = plan.window_s if plan.window_s is not None else default_window(plan)
    if window_s <= 0:
        raise ValueError("window_s must be > 0")
    if packets and sink is not None:
        raise ValueError("a sink takes the packets of a run without a packet log (packets=False)")
    if memory is None:
        memory = "exact" if packets else plan.memory
    if memory not in MEMORY_MODES:
        raise ValueError(f"memory must be one of {', '.join(MEMORY_MODES)}, got {memory!r}")
    if packets and memory != "exact":
        raise ValueError("memory='bounded' keeps no packet log: pass packets=False")
    if memory != "bounded":
        taps = None
    state = _Run(plan, seed, window_s, packets=packets, sink=sink, memory=memory, taps=taps)
    if state.sessions:
        upstream = dict(zip(state.link_names, state.upstream_s, strict=True))
        state.window_s = min(window_s, *(s.lookahead_s(upstream) for s, _, _ in state.sessions))
    state.progress = progress
    env = simpy.Environment()
    env.process(state.clock(env))
    state.compile_after = compiled.switch_after(_expected_finite(plan))
    with compiled.enabled(state.compile_after == 0):
        env.run()
    if state.lean is not None:
        state.retire(final=True)
        log = state.lean.freeze()
    else:
        log = state.log.freeze(tuple(state.stream_names), tuple(state.link_names))
    dynamics = {
        name: link.dynamics for name, link in zip(state.link_names, state.links, strict=True)
    }
    return Simulation(
        plan=dataclasses.replace(plan, seed=seed),
        seed=seed,
        packets=log,
        events=state.events,
        dynamics=dynamics,
        transport={plan.streams[m].name: s.report() for s, m, _ in state.sessions},
    )


def run(
    plan: NetworkPlan,
    seed: int | None = None,
    duration_s: float | None = None,
    window_s: float | None = None,
    progress: Callable[[float, float], None] | None = None,
    packets: bool = True,
    sink: Callable[[dict[str, np.ndarray], int], None] | None = None,
    memory: str | None = None,
    taps: dict[str, Any] | None = None,
) -> Results:
    """Simulate ``plan`` and evaluate it: statistics per stream and budget verdicts.

    Returns a :class:`netsim.results.Results`; ``results.packets`` holds the per-packet columns
    (with ``packets=False``, only the per-stream columns the statistics read; see
    :func:`simulate`; with ``memory="bounded"``, no per-packet record at all).
    """
    if duration_s is not None:
        plan = dataclasses.replace(plan, duration_s=float(duration_s))
    sim = simulate(
        plan, seed, window_s, progress, packets=packets, sink=sink, memory=memory, taps=taps
    )
    return build_results(sim)
