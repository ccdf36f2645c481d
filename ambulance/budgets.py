"""Default clinical budgets for a smart ambulance's streams, each with its published source.

:data:`DEFAULTS` holds, per role (``vitals``, ``ecg``, ``video``, ``voice``), the budgets a
stream of that role is judged against. :func:`default_budgets` turns them into the engine's
:class:`netsim.plan.BudgetSpec` for named streams; :func:`apply_overrides` replaces chosen
limits. Limits are SI: seconds, ratios. Every ``BudgetSpec.source`` names its source and mark
(``[read]``, ``[secondary]``, ``[recalled]``, ``[assumption]``, as in ``netsim.profiles.MARKS``).

Reading the sources
-------------------
- **5QI PDB** (3GPP TS 23.501 Table 5.7.4-1) is a one-way delay between the UE and the UPF.
  For GBR flows it is met by 98 % of packets ([recalled] TS 23.501 §5.7.3.4), so budgets taken
  from a GBR 5QI use the 98th percentile. We apply it to the whole simulated path, which is
  stricter than the 3GPP scope (the hospital-side network is included).
- **5QI PER** bounds non-congestion losses at the link layer ([recalled] TS 23.501 §5.7.3.5).
  The simulated loss counts every packet not delivered (queue drops, radio outages,
  handovers), so a PER used as a loss budget is stricter than its 3GPP meaning.
- **Availability** in 3GPP service requirements (TR 22.826's 99.99999 %) is the share of time
  the service meets its QoS, not a packet loss rate; it is not turned into a loss budget, and a
  run of minutes could not resolve it anyway (1e-7 of ten minutes is 60 µs).
- A loss budget is only meaningful when a run sends many more packets than 1 / limit: for
  1e-3 at the monitor's 1 message/s, that is well over 1000 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netsim.plan import BudgetSpec
from netsim.presets import BudgetDefault, apply_overrides, check_unique

__all__ = [
    "DEFAULTS",
    "ROLES",
    "BudgetDefault",
    "apply_overrides",
    "default_budgets",
]

ROLES: tuple[str, ...] = ("vitals", "ecg", "video", "voice")

_TR22826 = (
    "3GPP TR 22.826 v17.2.0, potential requirements, hospital use case (label not read): "
    "latency < 100 ms, 0.5 Mbit/s, messages <= 1000 B, availability 99.99999 %"
)
_TS23501 = "3GPP TS 23.501 Table 5.7.4-1"
_CISCO = (
    "Cisco QoS design guide, interactive video: loss <= 1 %, one-way <= 150 ms, jitter <= 30 ms"
)
_G114 = "ITU-T G.114, one-way mouth-to-ear delay: > 400 ms unacceptable"


#: Default budgets per role. The choices are argued in each ``note``.
DEFAULTS: dict[str, list[BudgetDefault]] = {
    "vitals": [
        BudgetDefault(
            "latency",
            0.100,
            _TR22826,
            "read",
            percentile=99.0,
            note=(
                "The TR's medical row closest to patient data (small messages, 0.5 Mbit/s). It "
                "gives no percentile; p99 is our choice for a critical stream."
            ),
        ),
        BudgetDefault(
            "loss",
            1e-3,
            f"{_TS23501}, 5QI 7 (non-GBR, voice/live video/interactive): PDB 100 ms, PER 1e-3",
            "read",
            note=(
                "5QI 7 matches the TR's 100 ms; PER 1e-3 is also that of 5QI 2, 3 and 67. The "
                "TR's availability is not a loss rate, and the 1e-6 of mission-critical data "
                "(5QI 70) could not be resolved by a run of minutes."
            ),
        ),
    ],
    "ecg": [
        BudgetDefault(
            "latency",
            0.100,
            _TR22826,
            "read",
            percentile=99.0,
            note="Same family as vitals: small, regular messages (480 B batches < 1000 B).",
        ),
        BudgetDefault(
            "loss",
            1e-3,
            f"{_TS23501}, 5QI 7 (non-GBR, voice/live video/interactive): PDB 100 ms, PER 1e-3",
            "read",
            note="As for vitals. A lost 40 ms batch is a 40 ms gap in all 12 leads.",
        ),
    ],
    "video": [
        BudgetDefault(
            "latency",
            0.150,
            f"{_TS23501}, 5QI 2 (GBR, conversational video, live): PDB 150 ms, PER 1e-3; "
            "PDB met by 98 % of packets for GBR (TS 23.501 §5.7.3.4, recalled)",
            "read",
            percentile=98.0,
            note="GBR PDB -> p98. Cisco's interactive-video one-way 150 ms agrees.",
        ),
        BudgetDefault(
            "loss",
            0.01,
            _CISCO,
            "read",
            note=(
                "End-to-end loss a live video call tolerates; 5QI 2's PER 1e-3 bounds only "
                "link-layer, non-congestion loss. Video is not a critical stream here."
            ),
        ),
        BudgetDefault(
            "jitter",
            0.030,
            _CISCO,
            "read",
            note=(
                "Compared with the mean RFC 3550 interarrival jitter; the guide does not say "
                "which jitter measure it means."
            ),
        ),
    ],
    "voice": [
        BudgetDefault(
            "latency",
            0.100,
            f"{_TS23501}, 5QI 1 (GBR, conversational voice): PDB 100 ms, PER 1e-2; PDB met by "
            "98 % of packets for GBR (TS 23.501 §5.7.3.4, recalled)",
            "read",
            percentile=98.0,
            note=(
                "GBR PDB -> p98. With ~50 ms for 20 ms framing, codec look-ahead and the "
                "jitter buffer it fits ITU-T G.114's 150 ms mouth-to-ear preference "
                "(secondary)."
            ),
        ),
        BudgetDefault(
            "latency",
            0.400,
            _G114,
            "read",
            percentile=99.0,
            note=(
                "Mouth-to-ear above 400 ms is unacceptable, so a network p99 above it fails "
                "whatever the terminals do: a necessary, not a sufficient, condition."
            ),
        ),
        BudgetDefault(
            "loss",
            1e-2,
            f"{_TS23501}, 5QI 1 (GBR, conversational voice): PDB 100 ms, PER 1e-2",
            "read",
            note="Opus packet-loss concealment hides isolated losses at this rate.",
        ),
    ],
}


check_unique(DEFAULTS)


def default_budgets(
    stream_names_by_role: Mapping[str, str | Sequence[str]],
    defaults: Mapping[str, Sequence[BudgetDefault]] | None = None,
) -> list[BudgetSpec]:
    """The budgets for the named streams, role by role.

    Parameters
    ----------
    stream_names_by_role : mapping of str to str or sequence of str
        For each role in :data:`ROLES`, the stream name (or names, e.g. two cameras) it
        applies to. Roles left out get no budgets.
    defaults : mapping of str to sequence of BudgetDefault, optional
        The table to use (default :data:`DEFAULTS`, or the result of
        :func:`apply_overrides`).

    Returns
    -------
    list of netsim.plan.BudgetSpec
        One per (stream, default), in role then stream order; limits in SI units.
    """
    table = DEFAULTS if defaults is None else defaults
    specs: list[BudgetSpec] = []
    for role, names in stream_names_by_role.items():
        if role not in table:
            raise ValueError(f"unknown role {role!r}; roles are {tuple(table)}")
        for stream in (names,) if isinstance(names, str) else tuple(names):
            specs.extend(budget.to_spec(stream, role) for budget in table[role])
    return specs
