"""Copies of a stream over several links: shared sources, first-copy-wins groups, failover gates.

A multi-link ambulance sends critical streams on every modem (duplication) or switches to a
backup when the primary is down (failover). The engine sees copies: streams that share a
``source`` (the same packets), belong to a ``group`` (merged in the results) and may carry a
``gate`` (send only while a link is up, or only while it is down).
"""

from __future__ import annotations

import numpy as np
import pytest

from netsim import run
from netsim.plan import LinkSpec, LossModel, NetworkPlan, SizeModel, StreamGate, StreamSpec

from .test_reference import assert_matches_reference

SIZE = SizeModel("constant", mean_bytes=200.0)


def copies(links: dict[str, LinkSpec], kind="cbr", rate=100.0, gates=None, duration=60.0):
    gates = gates or {}
    streams = tuple(
        StreamSpec(
            f"vitals@{name}", kind, rate, SIZE, (name,), source="vitals", group="vitals",
            gate=gates.get(name),
        )
        for name in links
    )  # fmt: skip
    return NetworkPlan("multi", duration, links, streams, drain_s=2.0)


def test_copies_send_the_same_packets():
    """Two copies with one source: identical send times, sizes and sequence numbers."""
    links = {"a": LinkSpec("a", delay_s=0.02), "b": LinkSpec("b", delay_s=0.05)}
    result = run(copies(links, kind="poisson"), seed=3)
    log = result.packets
    a, b = log.of_stream("vitals@a"), log.of_stream("vitals@b")
    np.testing.assert_array_equal(log.t_send_s[a], log.t_send_s[b])
    np.testing.assert_array_equal(log.seq[a], log.seq[b])


def test_duplication_delivers_when_either_copy_does_at_the_earliest_time():
    """Independent 10 % and 20 % loss: the group loses 2 %; its latency is the faster copy's.

    6000 packets: the binomial standard error of 2 % is 0.18 %; 4.5 of them is 0.8 %.
    """
    links = {
        "a": LinkSpec("a", delay_s=0.02, loss=LossModel.iid(0.1)),
        "b": LinkSpec("b", delay_s=0.05, loss=LossModel.iid(0.2)),
    }
    result = run(copies(links), seed=5)
    group = result.streams["vitals"]
    assert group.packets_sent == result.streams["vitals@a"].packets_sent == 6000
    assert group.loss_rate == pytest.approx(0.02, abs=0.008)
    # Delivered by a: 20 ms; only by b: 50 ms. The p50 is 20 ms, the max 50 ms.
    assert group.latency_ms["p50"] == pytest.approx(20.0)
    assert group.latency_ms["max"] == pytest.approx(50.0)
    # Exactly: lost by the group = lost by both copies.
    log = result.packets
    lost_a = log.fate[log.of_stream("vitals@a")] != 0
    lost_b = log.fate[log.of_stream("vitals@b")] != 0
    assert group.packets_sent - group.packets_delivered == int((lost_a & lost_b).sum())


def test_failover_switches_after_the_detection_time():
    """Primary down in [10 s, 20 s), detected after 0.5 s: the backup carries [10.5 s, 20 s).

    At 100 packets/s, the group loses exactly the 50 packets sent in [10 s, 10.5 s) into the
    outage; the primary copy sends nothing in [10.5, 20), the backup only then.
    """
    links = {
        "primary": LinkSpec("primary", delay_s=0.02, outages=((10.0, 20.0),)),
        "backup": LinkSpec("backup", delay_s=0.08),
    }
    gates = {
        "primary": StreamGate("primary", "up", detect_s=0.5),
        "backup": StreamGate("primary", "down", detect_s=0.5),
    }
    result = run(copies(links, gates=gates), seed=1)
    log = result.packets
    primary = log.t_send_s[log.of_stream("vitals@primary")]
    backup = log.t_send_s[log.of_stream("vitals@backup")]
    assert not ((primary >= 10.5) & (primary < 20.0)).any()
    assert backup.min() >= 10.5 and backup.max() < 20.0 and backup.size == 950
    group = result.streams["vitals"]
    assert group.packets_sent == 6000
    assert group.packets_sent - group.packets_delivered == 50
    assert group.latency_ms["max"] == pytest.approx(80.0)


@pytest.mark.parametrize("seed", range(4))
def test_copies_match_the_reference(seed):
    """Copies with gates, loss and queues: the engine equals the per-packet reference."""
    rng = np.random.default_rng(seed)
    links = {
        "a": LinkSpec(
            "a", capacity_bps=300e3, delay_s=0.01, loss=LossModel.iid(0.05),
            outages=((5.0, 8.0),), buffer_limit=20, buffer_kind="packets",
        ),
        "b": LinkSpec("b", capacity_bps=float(rng.uniform(200e3, 400e3)), delay_s=0.03),
    }  # fmt: skip
    gates = {"a": StreamGate("a", "up", 0.2), "b": StreamGate("a", "down", 0.2)}
    assert_matches_reference(copies(links, kind="poisson", gates=gates, duration=15.0), seed)
