"""The catalogue of built-in profiles: each one built at import time from its cited figures.

One function per profile; netsim.profiles assembles them (``PROFILES``). The figures, their
sources and marks are documented in docs/profiles.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .plan import JitterModel, LossModel
from .profile_model import (
    C_M_PER_S,
    DEFAULT_ROUTING_FACTOR,
    FIBER_S_PER_M,
    GEO_ALTITUDE_M,
    JITTER_HOLD_S,
    SHORTEST_CONDUIT_ROUTING_FACTOR,
    DirectionProfile,
    Figure,
    HandoverKind,
    Profile,
    fit_lognormal,
    fit_lognormal_two,
    fit_shifted_lognormal,
    shifted_lognormal_is_exact,
    timed_gilbert,
)

# --------------------------------------------------------------------------------------------
# Sources (full citations). Marks on figures taken from the project's reference list are carried
# over as recorded there; marks on figures found for this module are this module's.

SRC_RACA = (
    "D. Raca, D. Leahy, C. J. Sreenan, J. J. Quinlan, 'Beyond Throughput, The Next Generation: "
    "a 5G Dataset with Channel and Context Metrics', ACM MMSys 2020 (public dataset, Cork, "
    "Ireland; LTE driving traces, mean speed 31.5 km/h; title recalled)"
)
SRC_CHAIN_2022 = (
    "Two-state Gilbert fit to pings every 200 ms while driving, US operators 2022, as recorded in "
    "the project's measurement notes without a named source; its loss range (0.16-2.3 %) is that "
    "of the 2022 cross-country drive of M. Ghoshal et al., 'Performance of Cellular Networks on "
    "the Wheels', ACM IMC 2023 (title recalled), its likely origin"
)
SRC_CONEXT = (
    "5G standalone vs non-standalone driving study, ACM CoNEXT 2025, public data (T-Mobile US, "
    "2025); authors and title not recorded in the project's notes and not found"
)
SRC_CHAIN_2025 = (
    "Two-state Gilbert fit to pings every 200 ms while driving, T-Mobile NSA/SA 2025 (data of the "
    "ACM CoNEXT 2025 5G SA driving study)"
)
SRC_5GOPHERS = (
    "A. Narayanan et al., 'A First Look at Commercial 5G Performance on Smartphones', "
    "The Web Conference (WWW) 2020, 5Gophers public data"
)
SRC_SIGCOMM21 = (
    "A. Narayanan et al., 'A Variegated Look at 5G in the Wild: Performance, Power, and QoE "
    "Implications', ACM SIGCOMM 2021, artifact data"
)
SRC_HASSAN = (
    "A. Hassan et al., 'Vivisecting Mobility Management in 5G Cellular Networks', ACM SIGCOMM "
    "2022, artifact data (43,856 handover events)"
)
SRC_OPENSIGNAL_UL = (
    "OpenSignal, 'Explaining the huge gap between fastest and slowest 4G upload speeds in the "
    "US', 20 June 2018, opensignal.com (crowdsourced averages, March-May 2018)"
)
SRC_TR37910 = (
    "3GPP TR 37.910, 'Study on self evaluation towards IMT-2020 submission' (URLLC user-plane "
    "latency with mini-slots and configured grant)"
)
SRC_TR38913 = (
    "3GPP TR 38.913, 'Study on scenarios and requirements for next generation access "
    "technologies', §7.9 (reliability); ITU-R M.2410-0 (2017), 'Minimum requirements related to "
    "technical performance for IMT-2020 radio interface(s)'"
)
SRC_SUI = (
    "K. Sui et al., 'Characterizing and Improving WiFi Latency in Large-Scale Operational "
    "Networks' (WiFiSeer), ACM MobiSys 2016"
)
SRC_WIFI6 = (
    "'Experimental Evaluation of IEEE 802.11ax Low Latency and High Reliability with Wi-Fi 6' "
    "(measurement study, Wi-Fi 6 vs Wi-Fi 5 with interfering networks); abstract read on "
    "discovery.researcher.life; authors and venue not recorded"
)
SRC_BOZKURT = (
    "I. N. Bozkurt et al., 'Dissecting Latency in the Internet's Fiber Infrastructure', "
    "arXiv:1811.10737, 2018 (abstract)"
)
SRC_HUSTON = (
    "G. Huston, 'Testing LEO and GEO satellite services in Australia', APNIC blog, 2 May 2022"
)
SRC_OOKLA_GEO = (
    "Ookla Speedtest Intelligence, US satellite results Q2 2021 (Viasat, HughesNet), as reported "
    "in RCR Wireless News, 4 Aug 2021, 'Nice link if you can get it: Starlink outpaces other "
    "satellite providers'"
)
SRC_MICHEL = (
    "F. Michel, M. Trevisan, D. Giordano, O. Bonaventure, 'A First Look at Starlink Performance', "
    "ACM IMC 2022; figures from the authors' summary 'Fact checking Starlink's performance "
    "figures', APNIC blog, 28 Nov 2022 (Belgium, RIPE Atlas anchors, early 2022)"
)
SRC_OOKLA_STARLINK = (
    "Ookla, 'Above Maine, Starlink Twinkles', 18 Dec 2024 (Speedtest Intelligence, Starlink "
    "users in Maine, 1 Oct-15 Dec 2024)"
)
SRC_KASSEM = (
    "M. M. Kassem et al., 'A Browser-side View of Starlink Connectivity', ACM IMC 2022 (abstract: "
    "losses of up to 50 % of packets, correlated with satellite handovers)"
)
SRC_ASSUMPTION = "assumption of this module: no published figure found (see docs/profiles.md)"
SRC_PHYSICS = "physics: SI speed of light; this module's arithmetic"

MBIT = 1e6
MS = 1e-3

_HANDOVER_FIGURES: dict[str, Figure] = {
    "lte": Figure(
        "LTE handover interruption, median / p95 / p99 = 34 / 62 / 94 ms",
        0.034,
        SRC_HASSAN,
        "read",
        "s",
        "handover",
    ),
    "nsa-scg-change": Figure(
        "NSA 5G leg (SCG) change interruption, median / p95 / p99 = 72 / 149 / 704 ms",
        0.072,
        SRC_HASSAN,
        "read",
        "s",
        "handover",
    ),
    "sa": Figure(
        "SA handover interruption (low band), median ~66 ms, p95 ~70 ms",
        0.066,
        SRC_HASSAN,
        "read",
        "s",
        "handover",
    ),
}


def _lognormal(median_s: float, sigma: float) -> JitterModel:
    return JitterModel(
        "lognormal", median_s=median_s, sigma=sigma, hold_s=JITTER_HOLD_S, reorder=True
    )


def _symmetric(
    up_bps: float, down_bps: float, shift_s: float, jitter: JitterModel
) -> tuple[DirectionProfile, DirectionProfile]:
    return (
        DirectionProfile(up_bps, shift_s, jitter),
        DirectionProfile(down_bps, shift_s, jitter),
    )


def _mid(lo: float, hi: float) -> float:
    return (lo + hi) / 2.0


# --------------------------------------------------------------------------------------------
# Profiles


def _lte() -> Profile:
    rtt50 = Figure(
        "RTT median, LTE driving, to a distant server",
        0.084,
        SRC_RACA,
        "read",
        "s",
        "delay",
        "includes the Internet path to the server, not only the radio hop",
    )
    rtt95 = Figure(
        "RTT p95, LTE driving, to a distant server",
        0.106,
        SRC_RACA,
        "read",
        "s",
        "delay",
        "no p99 reported; the tail beyond p95 is the lognormal's",
    )
    down = Figure(
        "downlink throughput median, LTE driving",
        6.8 * MBIT,
        SRC_RACA,
        "read",
        "bit/s",
        "capacity_down",
        "p25 2.5, p95 32.7 Mbit/s",
    )
    up_lo = Figure(
        "4G upload average, slowest US operator (Sprint)",
        2.5 * MBIT,
        SRC_OPENSIGNAL_UL,
        "read",
        "bit/s",
        "capacity_up",
    )
    up_hi = Figure(
        "4G upload average, fastest US operator (T-Mobile)",
        7.5 * MBIT,
        SRC_OPENSIGNAL_UL,
        "read",
        "bit/s",
        "capacity_up",
    )
    up = Figure(
        "uplink capacity: midpoint of the operator range",
        _mid(up_lo.value, up_hi.value),
        SRC_OPENSIGNAL_UL,
        "derived",
        "bit/s",
        "capacity_up",
        "crowdsourced averages (mostly static users), not driving medians",
    )
    loss_rate = Figure("packet loss, LTE driving", 0.0116, SRC_RACA, "read", "ratio", "loss")
    r = Figure(
        "Gilbert r (Bad->Good per 200 ms ping), Verizon 2022",
        0.208,
        SRC_CHAIN_2022,
        "read",
        "1/step",
        "loss",
        "p = 0.00165 (loss 0.78 %) in the fit; p rescaled here",
    )

    median, sigma = fit_lognormal(rtt50.value / 2, rtt95.value / 2, 0.95)
    uplink, downlink = _symmetric(up.value, down.value, 0.0, _lognormal(median, sigma))
    loss = timed_gilbert(loss_rate.value, r.value)
    p = Figure(
        "Gilbert p (Good->Bad per 200 ms), rescaled to 1.16 % loss keeping r",
        loss.p,
        SRC_CHAIN_2022,
        "derived",
        "1/step",
        "loss",
    )
    return Profile(
        "4g-lte",
        "4G LTE, driving",
        "LTE from a moving vehicle (Cork, 31.5 km/h mean), end to end to a distant server.",
        uplink,
        downlink,
        loss,
        "lte",
        (rtt50, rtt95, down, up_lo, up_hi, up, loss_rate, r, p, _HANDOVER_FIGURES["lte"]),
        "Delay: shift 0 (no minimum reported) + lognormal through half the RTT median and p95. "
        "Loss: the Verizon 2022 timed chain rescaled to the 1.16 % of the Cork drive, keeping "
        "its mean burst (0.2 s / r).",
    )


def _cellular_5g(
    name: str,
    title: str,
    summary: str,
    rtt: tuple[tuple[float, float], tuple[float, float], tuple[float, float]],
    loss_range: tuple[float, float],
    down_range: tuple[float, float],
    up_range: tuple[float, float],
    handover: HandoverKind,
    label: str,
) -> Profile:
    figs: list[Figure] = []
    rtt_mid = []
    for (lo, hi), pct in zip(rtt, ("median", "p95", "p99"), strict=True):
        f = Figure(
            f"RTT {pct}, {label} driving (range {lo:g}-{hi:g} ms, midpoint)",
            _mid(lo, hi) * MS,
            SRC_CONEXT,
            "read",
            "s",
            "delay",
            "midpoint of the range over the study's drives",
        )
        figs.append(f)
        rtt_mid.append(f.value)
    q50, q95, q99 = (v / 2 for v in rtt_mid)
    shift, median, sigma = fit_shifted_lognormal(q50, q95, q99)
    exact = shifted_lognormal_is_exact(q50, q95, q99)
    down = Figure(
        f"downlink throughput median, {label} driving (range {down_range[0]:g}-"
        f"{down_range[1]:g} Mbit/s, midpoint)",
        _mid(*down_range) * MBIT,
        SRC_CONEXT,
        "read",
        "bit/s",
        "capacity_down",
    )
    up = Figure(
        f"uplink throughput median, {label} driving (range {up_range[0]:g}-"
        f"{up_range[1]:g} Mbit/s, midpoint)",
        _mid(*up_range) * MBIT,
        SRC_CONEXT,
        "read",
        "bit/s",
        "capacity_up",
    )
    loss_rate = Figure(
        f"packet loss, {label} driving (range {loss_range[0] * 100:g}-"
        f"{loss_range[1] * 100:g} %, midpoint)",
        _mid(*loss_range),
        SRC_CONEXT,
        "read",
        "ratio",
        "loss",
    )
    r = Figure(
        "Gilbert r per 200 ms ping, T-Mobile NSA/SA 2025 (range 0.15-1.0, midpoint)",
        _mid(0.15, 1.0),
        SRC_CHAIN_2025,
        "read",
        "1/step",
        "loss",
        "p range 0.0007-0.002 in the fit; p derived here from the loss rate",
    )
    loss = timed_gilbert(loss_rate.value, r.value)
    p = Figure(
        "Gilbert p per 200 ms, from the loss midpoint and r",
        loss.p,
        SRC_CHAIN_2025,
        "derived",
        "1/step",
        "loss",
    )
    figs += [down, up, loss_rate, r, p, _HANDOVER_FIGURES[handover]]
    uplink, downlink = _symmetric(up.value, down.value, shift, _lognormal(median, sigma))
    how = (
        "exact three-point fit"
        if exact
        else "least-squares fallback with shift 0 (tail lighter than lognormal): not exact"
    )
    return Profile(
        name,
        title,
        summary,
        uplink,
        downlink,
        loss,
        handover,
        tuple(figs),
        f"Delay: shift + lognormal through half the RTT median/p95/p99 midpoints ({how}).",
    )


def _nsa() -> Profile:
    prof = _cellular_5g(
        "5g-nsa",
        "5G NSA (sub-6 GHz), driving",
        "5G non-standalone (LTE anchor + NR leg) from a moving vehicle, 2025.",
        ((44, 52), (78, 87), (158, 204)),
        (0.002, 0.0047),
        (108, 145),
        (32, 53),
        "nsa-scg-change",
        "5G NSA",
    )
    note = (
        " Handover 'nsa-scg-change': the most frequent NSA mobility event that stops user data "
        "on the NR bearer is the change of the 5G leg (secondary cell group); the LTE anchor "
        "may keep carrying some traffic, but a split bearer's NR share waits."
    )
    return replace(prof, notes=prof.notes + note)


def _sa() -> Profile:
    return _cellular_5g(
        "5g-sa",
        "5G SA (sub-6 GHz), driving",
        "5G standalone from a moving vehicle, 2025.",
        ((48, 51), (75, 78), (118, 210)),
        (0.0021, 0.0031),
        (210, 217),
        (32, 63),
        "sa",
        "5G SA",
    )


def _mmwave(nsa_loss: LossModel, nsa_loss_figures: tuple[Figure, ...]) -> Profile:
    rtt50 = Figure(
        "RTT to first hop median, mmWave static",
        0.0258,
        SRC_5GOPHERS,
        "read",
        "s",
        "delay",
        "first hop only: add the path beyond the operator's network",
    )
    rtt95 = Figure(
        "RTT to first hop p95, mmWave static", 0.0373, SRC_5GOPHERS, "read", "s", "delay"
    )
    down = Figure(
        "downlink throughput median, mmWave static, 8 TCP flows",
        1146 * MBIT,
        SRC_5GOPHERS,
        "read",
        "bit/s",
        "capacity_down",
        "p10 357, p90 1728 Mbit/s",
    )
    up = Figure(
        "uplink throughput, mmWave (range 98-220 Mbit/s, midpoint)",
        _mid(98, 220) * MBIT,
        SRC_SIGCOMM21,
        "read",
        "bit/s",
        "capacity_up",
    )
    borrowed = tuple(
        Figure(
            f.what + " (borrowed from 5g-nsa: no mmWave loss figure)",
            f.value,
            f.source,
            f.mark,
            f.unit,
            f.field,
            f.note,
        )
        for f in nsa_loss_figures
    )
    median, sigma = fit_lognormal(rtt50.value / 2, rtt95.value / 2, 0.95)
    uplink, downlink = _symmetric(up.value, down.value, 0.0, _lognormal(median, sigma))
    return Profile(
        "5g-mmwave",
        "5G mmWave (NSA), static",
        "mmWave 5G with line of sight, stationary; driving is far worse (see notes).",
        uplink,
        downlink,
        nsa_loss,
        "nsa-scg-change",
        (rtt50, rtt95, down, up, *borrowed, _HANDOVER_FIGURES["nsa-scg-change"]),
        "Static, line-of-sight figures: while driving, per-second median throughput was "
        "66-115 Mbit/s with 4-72 % of seconds under 10 Mbit/s (5Gophers car traces), and body "
        "blockage can fall back to 4G. Loss borrowed from 5g-nsa. Delay: shift 0 + lognormal "
        "through half the first-hop RTT median and p95.",
    )


def _urllc() -> Profile:
    air = Figure(
        "one-way air-interface latency, mini-slot + configured grant (0.4-0.6 ms)",
        _mid(0.4, 0.6) * MS,
        SRC_TR37910,
        "recalled",
        "s",
        "delay",
        "midpoint used as the median; the low end 0.4 ms as the shift",
    )
    low = Figure(
        "lowest one-way air-interface latency in the same evaluation",
        0.4 * MS,
        SRC_TR37910,
        "recalled",
        "s",
        "delay",
    )
    bound = Figure(
        "user-plane latency bound met with reliability 1 - 1e-5 (32 B)",
        1.0 * MS,
        SRC_TR38913,
        "recalled",
        "s",
        "delay",
        "used as the 99.999th percentile",
    )
    reliability = Figure(
        "URLLC residual loss: 1 - reliability", 1e-5, SRC_TR38913, "recalled", "ratio", "loss"
    )
    cap = Figure(
        "URLLC slice capacity per direction",
        20 * MBIT,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_up",
        "a reserved configured-grant slice for small packets",
    )
    cap_down = Figure(
        cap.what, cap.value, cap.source, cap.mark, cap.unit, "capacity_down", cap.note
    )
    median, sigma = fit_lognormal(air.value - low.value, bound.value - low.value, 1 - 1e-5)
    uplink, downlink = _symmetric(cap.value, cap_down.value, low.value, _lognormal(median, sigma))
    return Profile(
        "5g-urllc",
        "5G URLLC slice (air interface only)",
        "Configured-grant mini-slot URLLC radio hop, as specified, not as measured in the field.",
        uplink,
        downlink,
        LossModel.iid(reliability.value),
        "sa",
        (air, low, bound, reliability, cap, cap_down, _HANDOVER_FIGURES["sa"]),
        "Requirements and self-evaluation, not field measurements; the radio hop only (add core "
        "and transport). One-way figures: no RTT halving. Handover interruption is the SA "
        "figure; URLLC deployments may use make-before-break or dual connectivity to avoid it.",
    )


def _wifi5() -> Profile:
    low = Figure(
        "Wi-Fi hop latency, lowest ('as low as')",
        3 * MS,
        SRC_SUI,
        "read",
        "s",
        "delay",
        "used as the shift; treated as one-way (conservative if it is a round trip)",
    )
    q90 = Figure("Wi-Fi hop latency p90, campus", 20 * MS, SRC_SUI, "read", "s", "delay")
    q99 = Figure("Wi-Fi hop latency p99, campus", 250 * MS, SRC_SUI, "read", "s", "delay")
    down = Figure(
        "802.11ac downlink capacity",
        400 * MBIT,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_down",
        "about half the 866.7 Mbit/s PHY rate of 2x2 80 MHz MCS9 "
        "(rate recalled); the medium is shared by both directions and all stations",
    )
    up = Figure(
        "802.11ac uplink capacity",
        200 * MBIT,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_up",
        "half the downlink: client radios and contention",
    )
    loss_rate = Figure(
        "residual loss after 802.11 retries", 1e-3, SRC_ASSUMPTION, "assumption", "ratio", "loss"
    )
    median, sigma = fit_lognormal_two(q90.value - low.value, 0.90, q99.value - low.value, 0.99)
    uplink, downlink = _symmetric(up.value, down.value, low.value, _lognormal(median, sigma))
    return Profile(
        "wifi-5",
        "Wi-Fi 5 (802.11ac), busy campus",
        "One Wi-Fi hop in a large operational campus network (heavy tail from contention).",
        uplink,
        downlink,
        LossModel.iid(loss_rate.value),
        None,
        (low, q90, q99, down, up, loss_rate),
        "Delay: shift 3 ms + lognormal through p90 and p99 (the source gives no median; the "
        "fitted median is an outcome, about 3.6 ms). Capacity and loss are assumptions.",
    )


def _wifi6() -> Profile:
    q99 = Figure(
        "Wi-Fi 6 latency p99, 80 MHz, with interfering network",
        10 * MS,
        SRC_WIFI6,
        "read",
        "s",
        "delay",
        "reported as 'below 10 ms': the bound is used as p99 (conservative); one-way assumed",
    )
    low = Figure(
        "Wi-Fi 6 minimum latency (shift)", 0.5 * MS, SRC_ASSUMPTION, "assumption", "s", "delay"
    )
    q50 = Figure("Wi-Fi 6 median latency", 2 * MS, SRC_ASSUMPTION, "assumption", "s", "delay")
    down = Figure(
        "802.11ax downlink capacity",
        600 * MBIT,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_down",
        "about half the 1201 Mbit/s PHY rate of 2x2 80 MHz MCS11 (rate recalled); shared medium",
    )
    up = Figure(
        "802.11ax uplink capacity", 300 * MBIT, SRC_ASSUMPTION, "assumption", "bit/s", "capacity_up"
    )
    loss_rate = Figure(
        "residual loss after 802.11 retries", 1e-3, SRC_ASSUMPTION, "assumption", "ratio", "loss"
    )
    median, sigma = fit_lognormal(q50.value - low.value, q99.value - low.value, 0.99)
    uplink, downlink = _symmetric(up.value, down.value, low.value, _lognormal(median, sigma))
    return Profile(
        "wifi-6",
        "Wi-Fi 6 (802.11ax), 80 MHz, with interference",
        "One Wi-Fi 6 hop in a managed network with a neighbouring interferer.",
        uplink,
        downlink,
        LossModel.iid(loss_rate.value),
        None,
        (q99, low, q50, down, up, loss_rate),
        "Only the p99 bound is published here; shift, median, capacity and loss are assumptions.",
    )


def _fiber() -> Profile:
    index = Figure(
        "group index of silica fibre",
        1.47,
        "physics (standard single-mode fibre)",
        "recalled",
        "1",
        "delay",
    )
    per_m = Figure(
        "propagation delay per metre of fibre, 1.47 / c",
        FIBER_S_PER_M,
        SRC_PHYSICS,
        "derived",
        "s/m",
        "delay",
        f"1.47 / c = {index.value / C_M_PER_S:.4g} s/m",
    )
    route = Figure(
        "latency inflation over great-circle distance, Internet paths",
        DEFAULT_ROUTING_FACTOR,
        SRC_BOZKURT,
        "read",
        "1",
        "delay",
        "rule of thumb from earlier measurement campaigns, quoted by the source; "
        "the scenario's distance is multiplied by it (fiber_delay_s)",
    )
    conduit = Figure(
        "median inflation of the shortest conduit paths (US long haul)",
        SHORTEST_CONDUIT_ROUTING_FACTOR,
        SRC_BOZKURT,
        "read",
        "1",
        "delay",
        "a floor for a dedicated, latency-optimised route",
    )
    cap = Figure(
        "access capacity per direction",
        1e9,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_up",
        "a typical hospital / ISP gigabit access",
    )
    cap_down = Figure(
        cap.what, cap.value, cap.source, cap.mark, cap.unit, "capacity_down", cap.note
    )
    loss_rate = Figure(
        "loss on a fibre path",
        0.0,
        SRC_ASSUMPTION,
        "assumption",
        "ratio",
        "loss",
        "congestion loss comes from the queues the scenario models",
    )
    none = JitterModel()
    return Profile(
        "fiber",
        "Fibre (wired)",
        "A wired fibre path; its delay is the scenario's distance x routing factor x 4.9 us/km.",
        DirectionProfile(cap.value, 0.0, none),
        DirectionProfile(cap_down.value, 0.0, none),
        LossModel.iid(loss_rate.value),
        None,
        (index, per_m, route, conduit, cap, cap_down, loss_rate),
        "delay_s is 0 here: the caller adds fiber_delay_s(distance, routing_factor). No jitter "
        "and no loss: router queueing and congestion are for the scenario to model.",
    )


def _geo() -> Profile:
    alt = Figure("geostationary altitude", GEO_ALTITUDE_M, SRC_HUSTON, "read", "m", "delay")
    nadir = Figure(
        "one-way ground-satellite-ground propagation at nadir, 2h / c",
        2 * alt.value / C_M_PER_S,
        SRC_PHYSICS,
        "derived",
        "s",
        "delay",
        "source: 'a minimum of 239 ms'; 284 ms at the horizon (42,640 km slant)",
    )
    viasat = Figure(
        "latency median, Viasat (Speedtest)", 0.630, SRC_OOKLA_GEO, "secondary", "s", "delay"
    )
    hughes = Figure(
        "latency median, HughesNet (Speedtest)", 0.724, SRC_OOKLA_GEO, "secondary", "s", "delay"
    )
    rtt50 = Figure(
        "GEO RTT median: midpoint of the two services",
        _mid(0.630, 0.724),
        SRC_OOKLA_GEO,
        "derived",
        "s",
        "delay",
    )
    sigma_f = Figure(
        "lognormal sigma of the GEO delay above propagation",
        0.5,
        SRC_ASSUMPTION,
        "assumption",
        "1",
        "delay",
        "no percentile beyond the median was found",
    )
    down = Figure(
        "downlink median, Viasat 18.13 / HughesNet 19.73 Mbit/s, midpoint",
        _mid(18.13, 19.73) * MBIT,
        SRC_OOKLA_GEO,
        "secondary",
        "bit/s",
        "capacity_down",
    )
    up = Figure(
        "uplink median, both services 'less than 3.5 Mbit/s'",
        3.5 * MBIT,
        SRC_OOKLA_GEO,
        "secondary",
        "bit/s",
        "capacity_up",
        "an upper bound used as the value: optimistic",
    )
    loss_rate = Figure(
        "GEO packet loss",
        1e-3,
        SRC_ASSUMPTION,
        "assumption",
        "ratio",
        "loss",
        "rain fade makes real loss bursty",
    )
    shift = nadir.value
    jitter = _lognormal(rtt50.value / 2 - shift, sigma_f.value)
    uplink, downlink = _symmetric(up.value, down.value, shift, jitter)
    return Profile(
        "satellite-geo",
        "GEO satellite broadband",
        "Consumer geostationary broadband (Viasat / HughesNet class), fixed dish.",
        uplink,
        downlink,
        LossModel.iid(loss_rate.value),
        None,
        (alt, nadir, viasat, hughes, rtt50, sigma_f, down, up, loss_rate),
        "Delay: shift = nadir propagation (238.7 ms) + lognormal whose median puts the one-way "
        "median at half the measured RTT median; sigma is an assumption.",
    )


def _leo() -> Profile:
    rtt_min = Figure(
        "Starlink RTT minimum to European anchors",
        0.020,
        SRC_MICHEL,
        "read",
        "s",
        "delay",
        "used (halved) as the shift",
    )
    rtt50 = Figure(
        "Starlink RTT median to European anchors",
        0.050,
        SRC_MICHEL,
        "read",
        "s",
        "delay",
        "'around 50 ms'",
    )
    rtt75 = Figure(
        "Starlink RTT p75 to European anchors",
        0.060,
        SRC_MICHEL,
        "read",
        "s",
        "delay",
        "p25 40 ms (not fitted: the fit gives 42.5 ms)",
    )
    down = Figure(
        "Starlink downlink median (Speedtest, Maine)",
        116.77 * MBIT,
        SRC_OOKLA_STARLINK,
        "read",
        "bit/s",
        "capacity_down",
        "p10 22.81, p90 250.96 Mbit/s",
    )
    up = Figure(
        "Starlink uplink median (Speedtest, Maine)",
        18.17 * MBIT,
        SRC_OOKLA_STARLINK,
        "read",
        "bit/s",
        "capacity_up",
        "p10 6.79, p90 27.17 Mbit/s",
    )
    loss_rate = Figure(
        "Starlink packet loss",
        0.01,
        SRC_ASSUMPTION,
        "assumption",
        "ratio",
        "loss",
        "real loss comes in bursts at satellite handovers (Kassem et al.)",
    )
    burst = Figure(
        "Starlink loss bursts, up to 50 % at satellite handovers",
        0.5,
        SRC_KASSEM,
        "read",
        "ratio",
        "loss",
        "qualitative: not used in the iid model",
    )
    shift = rtt_min.value / 2
    median, sigma = fit_lognormal(rtt50.value / 2 - shift, rtt75.value / 2 - shift, 0.75)
    uplink, downlink = _symmetric(up.value, down.value, shift, _lognormal(median, sigma))
    return Profile(
        "satellite-leo",
        "LEO satellite (Starlink), fixed dish",
        "Starlink residential service, stationary dish, Europe / US measurements 2022-2024.",
        uplink,
        downlink,
        LossModel.iid(loss_rate.value),
        None,
        (rtt_min, rtt50, rtt75, down, up, loss_rate, burst),
        "Delay: shift = half the minimum RTT + lognormal through half the RTT median and p75; "
        "the tail beyond p75 is extrapolated and ignores the 15 s reconfiguration spikes. "
        "In-motion (vehicle) Starlink is markedly worse than these stationary figures.",
    )


def build_profiles() -> dict[str, Profile]:
    nsa = _nsa()
    nsa_loss_figures = nsa.figures_for("loss")
    builders: list[Callable[[], Profile]] = [
        _lte,
        lambda: nsa,
        _sa,
        lambda: _mmwave(nsa.loss, nsa_loss_figures),
        _urllc,
        _wifi5,
        _wifi6,
        _fiber,
        _geo,
        _leo,
    ]
    profiles = [b() for b in builders]
    return {p.name: p for p in profiles}


#: The built-in profiles, by name, in the documented order.
