"""What a simulation produces before any statistics: the packets, the events, the dynamics.

:class:`Simulation` is the output of :func:`netsim.engine.simulate` and the input of
:func:`netsim.results.build_results`; it lives apart from both so that neither imports the
other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .packetlog import PacketLog
from .plan import NetworkPlan
from .timeline import LinkDynamics
from .webrtc.session import TransportReport

__all__ = ["EventLog", "Simulation"]


@dataclass
class EventLog:
    """Control-plane events (handovers, outages, ...) as columns, in time order.

    ``value`` is the event's duration in seconds (a handover's interruption, an outage's
    length); ``detail`` says more (``"site 2 -> site 3"``).
    """

    t_s: list[float] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    link: list[str] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t_s)

    def add(self, t_s: float, kind: str, link: str, value: float, detail: str = "") -> None:
        self.t_s.append(t_s)
        self.kind.append(kind)
        self.link.append(link)
        self.value.append(value)
        self.detail.append(detail)


@dataclass(frozen=True)
class Simulation:
    """The raw output of :func:`simulate`: the plan as run, its packets and its events.

    ``dynamics`` holds, per link name, the open-loop timeline the link followed (capacity
    curve, refusals, fades), for the views that plot capacity over time. ``transport`` holds,
    per WebRTC stream, what its session measured (frames, freezes, NACKs, messages).
    """

    plan: NetworkPlan
    seed: int
    packets: PacketLog
    events: EventLog
    dynamics: dict[str, LinkDynamics] = field(default_factory=dict)
    transport: dict[str, TransportReport] = field(default_factory=dict)
