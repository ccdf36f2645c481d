"""Real WebRTC through the simulated link: ``medlink emulate``.

Two aiortc peers run in this process: peer A, the ambulance or robot side, and peer B, the
hospital or console side. Between them a :class:`netsim.relay.Relay` applies the scenario's
link model to every datagram in real time. The peers speak WebRTC as always: ICE, DTLS, SRTP
for the media and SCTP over DTLS for the data channels; only the relay sees the datagrams
between them, and it sees them encrypted.

Forcing the media through the relay. The peers gather host candidates on 127.0.0.1 only
(aioice's ``get_host_addresses`` is replaced while they gather) and no STUN server; BUNDLE
puts the media and the data channels on the first m-line's ICE transport (the offer's other
transports close when the answer arrives; see the bundle policy in :func:`run_emulation`).
The offer and the answer are then handed over with their candidates rewritten: the offer
that B receives names the relay's side-b socket as A's only candidate, and the answer that A
receives names the relay's side-a socket as B's. Each peer's connectivity checks and
everything after them therefore go to the relay, which knows the peers' real addresses from
the SDP they produced (the first candidate, the bundle transport's) and forwards between
them. Nothing in aiortc 1.16 needs changing for this: a remote candidate is just an address.

Video at clinical bit rates. aiortc's H.264 encoder caps its target at 3 Mbit/s and cannot
encode 4K in real time in Python, so each video stream is a :class:`EncodedVideoTrack` that
returns ready-made ``av.Packet`` objects: aiortc 1.16's ``RTCRtpSender._next_encoded_frame``
calls ``encoder.pack(packet)`` for anything that is not a ``Frame``, which splits the Annex-B
bitstream into NAL units and packetizes them (FU-A, STAP-A), skipping the encoder. A frame is
an SEI NAL unit carrying the stream id, the frame number and its send time, then one slice
NAL unit of filler bytes: an IDR slice every ``gop_s`` seconds, ``key_ratio`` times the size
of the P slices between, sized so the stream averages its bit rate. The bytes are never
decoded: the receiving side's decoder is replaced by a pass-through that reads the SEI and
notes the time (aiortc's receiver looks its decoder up with ``get_decoder`` in the decoder
thread; that name is replaced for the emulation). SRTP still encrypts every packet on the
wire. Audio streams work the same way, with Opus-sized packets at the stream's packet rate.

Data channels. Each data-channel stream gets its own channel (opened by A, in-band), with
the stream's reliability; its messages leave at the stream's send times and sizes (the
simulator's own traffic source and seed, so both send the same schedule) and start with a
binary header: magic, stream id, sequence number, send time. Their content is synthetic (no
patient data).

Measurement. One clock (``time.monotonic``, which the event loop, the decoder thread and the
relay share), so latency is receive time minus the embedded send time, per message and per
frame; a unit sent in the run and never received by the end of the drain is lost. Frames
are timed when aiortc hands them to the decoder (after its jitter buffer, which releases a
frame when the next one starts to arrive); the arrival of a frame's last packet is kept too
(``frame_complete``). aiortc's getStats per track, the REMB estimates the senders received,
and the relay's counters (malformed datagrams, losses and drops by the model, scheduling
error) go under ``emulation`` in results.json, which otherwise has the format of ``medlink
run``'s (``report``, ``plot`` read it unchanged).

docs/emulate.md has the figures of a run and where emulation and simulation differ. What is
emulated is decided in :mod:`netsim.emulate_plan`; the results are built in
:mod:`netsim.emulate_results`; the media sources, the data-channel messages and the hooks into
aiortc are in :mod:`netsim.emulate_media`; this module has the SDP handling, the run and the
command.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from pathlib import Path

import numpy as np

from .emulate_media import (
    VideoSizes,
    _aiortc_for_emulation,
    _Clock,
    _count_sctp,
    _enlarge_peer_buffers,
    _filler,
    _send_messages,
    _Sink,
    _stats_json,
    _wrap_jitter_buffer,
    _wrap_rtcp,
    make_audio_track,
    make_video_track,
    parse_unit,
    video_spec_of,
)
from .emulate_plan import (
    CONNECT_TIMEOUT_S,
    DRAIN_S,
    EmulatedStream,
    EmulationError,
    EmulationPlan,
    emulation_plan,
    stream_role,
)
from .emulate_results import (
    Outcome,
    compare_with_simulation,
    emulation_results,
    emulation_section,
    freezes,
    render_comparison,
)
from .plan import ChannelSpec
from .relay import RelayError, is_loopback
from .relay_process import RelayProcess
from .udp_sockets import udp_receive_buffer_errors

__all__ = [
    "EmulatedStream",
    "EmulationPlan",
    "EmulationError",
    "Outcome",
    "stream_role",
    "emulation_plan",
    "run_emulation",
    "emulation_results",
    "compare_with_simulation",
    "emulate_main",
    "freezes",
    "parse_unit",
    "rewrite_candidates",
    "sdp_candidate",
]


# ----- SDP --------------------------------------------------------------------------------
_CANDIDATE = re.compile(
    r"^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)(.*)$", re.MULTILINE
)


def sdp_candidate(sdp: str) -> tuple[str, int]:
    """The address of the first UDP, component-1 candidate in ``sdp``."""
    for m in _CANDIDATE.finditer(sdp):
        if m[2] == "1" and m[3].lower() == "udp":
            return m[5], int(m[6])
    raise EmulationError("the peer offered no UDP candidate")


def rewrite_candidates(sdp: str, address: tuple[str, int]) -> str:
    """``sdp`` with every candidate, default address and port replaced by ``address``."""
    host, port = address

    def candidate(m: re.Match) -> str:
        return f"a=candidate:{m[1]} {m[2]} {m[3]} {m[4]} {host} {port} typ host"

    sdp = _CANDIDATE.sub(candidate, sdp)
    sdp = re.sub(r"^c=IN IP4 \S+", f"c=IN IP4 {host}", sdp, flags=re.MULTILINE)
    return re.sub(r"^(m=\S+) \d+ ", rf"\g<1> {port} ", sdp, flags=re.MULTILINE)


# ----- the run ----------------------------------------------------------------------------
async def run_emulation(
    eplan: EmulationPlan,
    seed: int,
    *,
    bind: str = "127.0.0.1",
    allow_remote: bool = False,
    drain_s: float = DRAIN_S,
    say=None,
) -> Outcome:
    """Run the two peers and the relay for ``eplan.plan.duration_s`` seconds, then drain."""
    from aiortc import (
        RTCConfiguration,
        RTCPeerConnection,
        RTCRtpSender,
        RTCSessionDescription,
    )
    from aiortc.rtcconfiguration import RTCBundlePolicy

    say = say or (lambda text: None)
    seconds = eplan.plan.duration_s
    loop = asyncio.get_running_loop()
    clock = _Clock(seconds)
    sink = _Sink(clock)
    horizon_s = seconds + drain_s + 30.0
    relay = RelayProcess(
        eplan.links,
        eplan.routes,
        seed=seed,
        horizon_s=horizon_s,
        bind=bind,
        allow_remote=allow_remote,
    )
    address_a, address_b = await relay.open()
    kernel_drops = udp_receive_buffer_errors()
    biggest = max((int(s.spec.size.mean()) for s in eplan.streams), default=1500)
    video_bytes = max(
        (
            VideoSizes(video_spec_of(s.spec), seed, s.name).p_bytes
            * video_spec_of(s.spec).key_ratio
            * 2.0
            for s in eplan.streams
            if s.kind == "video"
        ),
        default=0.0,
    )
    filler = _filler(int(max(biggest, video_bytes, 4096)), seed)
    # No STUN server (aiortc's default is Google's). Bundle policy "max-compat" (one ICE
    # transport per m-line in the offer, the first kept by BUNDLE): with "max-bundle" the
    # offerer's ICE transport never starts its checks in aiortc 1.16, and with "balanced" a
    # second m-line of a kind after another kind keeps an unbundled transport and never sends.
    config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_COMPAT)
    started_wall = time.monotonic()
    outcome = Outcome(sent={}, arrivals=sink.arrivals)
    with _aiortc_for_emulation(sink):
        pc = {"a": RTCPeerConnection(config), "b": RTCPeerConnection(config)}
        try:
            tracks: dict[str, object] = {}
            transceivers: dict[str, object] = {}
            channels: dict[str, dict[str, object]] = {"a": {}, "b": {}}
            h264 = [
                c
                for c in RTCRtpSender.getCapabilities("video").codecs
                if c.mimeType.lower() in ("video/h264", "video/rtx")
            ]
            for s in eplan.streams:
                if s.kind == "datachannel":
                    ch = s.channel or ChannelSpec()
                    lifetime = ch.max_packet_lifetime_s
                    channels["a"][s.name] = pc["a"].createDataChannel(
                        s.name,
                        ordered=ch.ordered,
                        maxRetransmits=ch.max_retransmits,
                        maxPacketLifeTime=None if lifetime is None else int(lifetime * 1e3),
                    )
                    continue
                track = (
                    make_video_track(s, seed, filler, clock)
                    if s.kind == "video"
                    else make_audio_track(s, filler, clock)
                )
                tracks[s.name] = track
                if s.sender == "a":
                    tr = pc["a"].addTransceiver(track, direction="sendonly")
                else:
                    tr = pc["a"].addTransceiver(track.kind, direction="recvonly")
                if s.kind == "video":
                    tr.setCodecPreferences(h264)
                transceivers[s.name] = tr

            def on_datachannel(channel) -> None:
                channels["b"][channel.label] = channel

            pc["b"].on("datachannel", on_datachannel)
            await pc["a"].setLocalDescription(await pc["a"].createOffer())
            _enlarge_peer_buffers(pc["a"])
            relay.set_peer("a", sdp_candidate(pc["a"].localDescription.sdp))
            offer = rewrite_candidates(pc["a"].localDescription.sdp, address_b)
            await pc["b"].setRemoteDescription(RTCSessionDescription(offer, "offer"))
            mids = {name: tr.mid for name, tr in transceivers.items()}
            by_mid = {tr.mid: tr for tr in pc["b"].getTransceivers()}
            for s in eplan.streams:
                if s.name in tracks and s.sender == "b":
                    tr = by_mid[mids[s.name]]
                    tr.sender.replaceTrack(tracks[s.name])
                    tr.direction = "sendonly"
            await pc["b"].setLocalDescription(await pc["b"].createAnswer())
            _enlarge_peer_buffers(pc["b"])
            relay.set_peer("b", sdp_candidate(pc["b"].localDescription.sdp))
            answer = rewrite_candidates(pc["b"].localDescription.sdp, address_a)
            await pc["a"].setRemoteDescription(RTCSessionDescription(answer, "answer"))
            # Hooks: REMB at each media sender, frame completion at each video receiver.
            by_mid_a = {tr.mid: tr for tr in pc["a"].getTransceivers()}
            by_mid_b = {tr.mid: tr for tr in pc["b"].getTransceivers()}
            for s in eplan.streams:
                if s.name not in tracks:
                    continue
                mid = mids[s.name]
                send_tr = (by_mid_a if s.sender == "a" else by_mid_b)[mid]
                recv_tr = (by_mid_b if s.sender == "a" else by_mid_a)[mid]
                _wrap_rtcp(send_tr.sender, tracks[s.name])
                if s.kind == "video":
                    _wrap_jitter_buffer(recv_tr.receiver, outcome.complete, clock)
            want = {s.name for s in eplan.streams if s.kind == "datachannel"}
            deadline = loop.time() + CONNECT_TIMEOUT_S
            while True:
                states = pc["a"].connectionState, pc["b"].connectionState
                opened = all(
                    name in channels[side] and channels[side][name].readyState == "open"
                    for side in ("a", "b")
                    for name in want
                )
                if states == ("connected", "connected") and opened:
                    break
                if "failed" in states or loop.time() > deadline:
                    raise EmulationError(
                        f"the peers did not connect through the relay within "
                        f"{CONNECT_TIMEOUT_S:g} s (states {states[0]}, {states[1]})"
                    )
                await asyncio.sleep(0.01)
            sctp = {side: _count_sctp(pc[side]) for side in ("a", "b")}
            outcome.connect_s = time.monotonic() - started_wall
            say(f"connected in {outcome.connect_s:.2f} s; running for {seconds:g} s")
            # Receivers of data-channel messages.
            for s in eplan.streams:
                if s.kind != "datachannel":
                    continue
                receiver_side = "b" if s.sender == "a" else "a"

                def on_message(message, sink=sink) -> None:
                    if isinstance(message, bytes):
                        sink.unit(message, clock.now())

                channels[receiver_side][s.name].on("message", on_message)
            t0 = relay.start_clock()
            clock.start(t0)
            run_wall, run_cpu = time.monotonic(), time.process_time()
            senders = [
                asyncio.ensure_future(_send_messages(s, channels[s.sender][s.name], clock, seed))
                for s in eplan.streams
                if s.kind == "datachannel"
            ]
            await asyncio.sleep(max(0.0, seconds + drain_s - clock.now()))
            message_sent = {}
            for task in senders:
                name, sent, lateness = await task
                message_sent[name] = sent
                outcome.sources[name] = _lateness_ms(lateness)
            outcome.wall_s = time.monotonic() - run_wall
            outcome.cpu_s = time.process_time() - run_cpu
            for s in eplan.streams:
                if s.name in tracks:
                    track = tracks[s.name]
                    outcome.sent[s.name] = track.sent
                    outcome.sources[s.name] = _lateness_ms(track.lateness)
                    outcome.sources[s.name]["nacks_received"] = track.nacks
                    outcome.sources[s.name]["plis_received"] = track.plis
                    outcome.remb[s.name] = track.remb
                    mid = mids[s.name]
                    send_pc, recv_pc = (pc["a"], pc["b"]) if s.sender == "a" else (pc["b"], pc["a"])
                    send_tr = {t.mid: t for t in send_pc.getTransceivers()}[mid]
                    recv_tr = {t.mid: t for t in recv_pc.getTransceivers()}[mid]
                    outcome.stats[s.name] = {
                        "sender": _stats_json(await send_tr.sender.getStats()),
                        "receiver": _stats_json(await recv_tr.receiver.getStats()),
                    }
                else:
                    outcome.sent[s.name] = message_sent[s.name]
                    ch = channels[s.sender][s.name]
                    counters = sctp[s.sender]
                    outcome.stats[s.name] = {
                        "label": ch.label,
                        "id": ch.id,
                        "ordered": ch.ordered,
                        "maxRetransmits": ch.maxRetransmits,
                        "maxPacketLifeTime": ch.maxPacketLifeTime,
                        "bufferedAmount": ch.bufferedAmount,
                        "retransmissions": counters["retransmissions"].get(ch.id, 0),
                        "association_t3_expirations": counters["t3_expirations"],
                        "association_rto_s": counters["rto_s"](),
                    }
            for track in tracks.values():
                track.stop()
        finally:
            for side in ("a", "b"):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pc[side].close(), 5.0)
            final = relay.close()
    outcome.relay = final.get("stats", {})
    outcome.transit_ms = final.get("transit", {})
    after = udp_receive_buffer_errors()
    if kernel_drops is not None and after is not None:
        # System-wide: another program's drops in the same seconds would count too.
        outcome.relay["kernel_udp_receive_buffer_errors"] = after - kernel_drops
    outcome.dynamics = _dynamics(eplan, seed, horizon_s)
    outcome.unreadable = sink.unreadable
    return outcome


def _dynamics(eplan: EmulationPlan, seed: int, horizon_s: float) -> dict:
    """The links' timelines as the relay's link models follow them (same seed, same draws)."""
    from .dynamics import link_dynamics

    return {name: link_dynamics(spec, seed, horizon_s) for name, spec in eplan.plan.links.items()}


def _lateness_ms(lateness: list[float]) -> dict:
    late = np.asarray(lateness, dtype=np.float64) * 1e3
    if not late.size:
        return {"units": 0}
    return {
        "units": int(late.size),
        "late_p50_ms": float(np.percentile(late, 50)),
        "late_p99_ms": float(np.percentile(late, 99)),
        "late_max_ms": float(late.max()),
    }


# ----- the command --------------------------------------------------------------------------
def emulate_main(
    scenario: Path,
    *,
    seconds: float = 10.0,
    out: Path | None = None,
    seed: int | None = None,
    compare: bool = False,
    bind: str | None = None,
    report: bool = True,
    echo=None,
) -> int:
    """``medlink emulate``: returns the exit code (0 pass, 1 a budget failed, 2 bad input or
    no session). Writes results.json (and report.html) in ``out``."""
    import typer

    from .errors import ScenarioError
    from .files import results_document, unwritable_reason, write_json
    from .scenario import load_scenario
    from .summary import render_summary

    echo = echo or typer.echo

    def fail(message: str) -> int:
        echo(f"medlink: error: {' '.join(str(message).split())}", err=True)
        return 2

    try:
        if not (math.isfinite(seconds) and seconds > 0):
            raise EmulationError(f"--seconds: must be > 0, got {seconds!r}")
        address = bind or "127.0.0.1"
        import ipaddress

        try:
            version = ipaddress.ip_address(address).version
        except ValueError:
            raise EmulationError(f"--bind: not an IPv4 address: {address!r}") from None
        if version != 4:
            raise EmulationError(f"--bind: the peers use IPv4 loopback; got {address!r}")
        loaded = load_scenario(scenario)
        eplan = emulation_plan(loaded.plan, seconds)
        run_seed = loaded.plan.seed if seed is None else int(seed)
        out_dir = Path(out) if out is not None else Path("reports") / f"{loaded.plan.name}-emulate"
        reason = unwritable_reason(out_dir)
        if reason is not None:
            raise EmulationError(reason)
    except (ScenarioError, EmulationError) as exc:
        return fail(str(exc))
    if not is_loopback(address):
        echo(f"medlink: warning: the relay listens on {address}, not on loopback", err=True)
    try:
        outcome = asyncio.run(
            run_emulation(
                eplan,
                run_seed,
                bind=address,
                allow_remote=bind is not None,
                say=lambda text: echo(f"emulate: {text}", err=True),
            )
        )
    except (EmulationError, RelayError, OSError) as exc:
        return fail(f"emulate: {exc}")
    results = emulation_results(eplan, outcome, run_seed)
    files = ["results.json"] + (["report.html"] if report else [])
    document = results_document(
        results,
        scenario_file=str(scenario),
        scenario_sha256=loaded.sha256,
        scenario_document=loaded.document,
        files=files,
    )
    document["emulation"] = emulation_section(eplan, outcome, seconds)
    comparison = None
    if compare:
        comparison = compare_with_simulation(eplan, document, run_seed)
        document["emulation"]["compare"] = comparison
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "results.json", document)
        if report:
            from .report import write_report

            try:
                write_report(out_dir / "report.html", document)
            except OSError:
                raise
            except Exception as exc:  # a view's bug must not cost the user the results
                echo(f"medlink: warning: report.html not written: {exc}", err=True)
    except OSError as exc:
        return fail(f"--out: cannot write results to {out_dir}: {exc.strerror or exc}")
    echo(render_summary(results, where=str(out_dir / "results.json")))
    if report:
        echo(f"report: {out_dir / 'report.html'}")
    echo(_render_emulation(document["emulation"]))
    if comparison is not None:
        echo(render_comparison(comparison))
    return 0 if results.passed else 1


def _render_emulation(section: dict) -> str:
    relay = section["relay"]
    error = relay["scheduling_error_ms"]
    malformed = sum(relay["malformed"].values())
    lines = [
        f"emulation: aiortc {section['tool']['aiortc']}, connected in "
        f"{section['connect_s']:.2f} s, CPU {section['cpu_load'] or 0:.0%} of one core",
    ]
    for d, c in relay["directions"].items():
        lines.append(
            f"relay {d}: {c['forwarded']} forwarded, {c['lost']} lost and {c['dropped']} "
            f"dropped by the model, {c['unmodelled']} handshake"
        )
    if error.get("datagrams"):
        lines.append(
            f"relay scheduling error: p50 {error['p50']:.2f} ms, p99 {error['p99']:.2f} ms, "
            f"max {error['max']:.2f} ms; {malformed} malformed datagrams dropped"
        )
    return "\n".join(lines)
