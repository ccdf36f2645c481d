"""Malformed scenarios and where their error must point: shared by the loader and CLI tests.

``BAD_SCENARIOS`` is a list of ``(id, yaml_text, expected_line, expected_field)``. Most texts
are :data:`BASE` with one edit; the line numbers below refer to the edited text, whose lines
are:

.. code-block:: text

     1 name: t
     2 duration: 60s
     3 network:
     4   links:
     5     a:
     6       capacity: 10Mbps
     7       delay: 5ms
     8 streams:
     9   - name: s
    10     type: poisson
    11     packet_size: 1250B
    12     rate: 800pps
    13     path: [a]
"""

from __future__ import annotations

BASE = """\
name: t
duration: 60s
network:
  links:
    a:
      capacity: 10Mbps
      delay: 5ms
streams:
  - name: s
    type: poisson
    packet_size: 1250B
    rate: 800pps
    path: [a]
"""

TWO_LINKS = BASE.replace("      delay: 5ms\n", "      delay: 5ms\n    b: {}\n")
"""BASE with a second link ``b`` on line 8; the streams start on line 9."""


def edit(old: str, new: str, base: str = BASE) -> str:
    """``base`` with the one occurrence of ``old`` replaced by ``new``."""
    assert base.count(old) == 1, old
    return base.replace(old, new)


BUDGET = "budgets:\n  - stream: s\n"  # appended to BASE: line 14 'budgets:', line 15 '- stream'

BAD_SCENARIOS: list[tuple[str, str, int | None, str]] = [
    # --- YAML itself ---
    ("yaml-syntax", edit("duration: 60s\n", "duration: 60s\n  oops: 1\n"), 3, ""),
    ("yaml-unclosed-flow-list", edit("path: [a]", "path: [a\n"), 15, ""),
    ("yaml-tab-indent", edit("    type: poisson", "\ttype: poisson"), 10, ""),
    (
        "duplicate-yaml-key",
        edit("  - name: s\n", "  - name: s\n    name: u\n"),
        10,
        "streams[0].name",
    ),
    ("top-level-list", "- name: t\n- duration: 60s\n", 1, ""),
    ("top-level-scalar", "# a comment\njust text\n", 2, ""),
    ("empty-file", "", 1, ""),
    ("comments-only", "# nothing here\n", 1, ""),
    ("python-tag", edit("name: t", "name: !!python/object:os.system t"), 1, ""),
    # --- unknown keys and wrong types ---
    ("unknown-top-level-key", BASE + "colour: red\n", 14, "colour"),
    ("top-level-key-typo", BASE + "budget: []\n", 14, "budget"),
    ("unknown-link-key", edit("capacity: 10Mbps", "capacty: 10Mbps"), 6, "network.links.a.capacty"),
    ("unknown-stream-key", edit("packet_size:", "packetsize:"), 11, "streams[0].packetsize"),
    (
        "network-not-a-mapping",
        edit("network:\n  links:\n    a:\n", "network: [a]\nx:\n  y:\n"),
        3,
        "network",
    ),
    ("missing-required-in-stream", edit("    rate: 800pps\n", ""), 9, "streams[0].rate"),
    ("missing-duration", edit("duration: 60s\n", ""), 1, "duration"),
    ("missing-streams", BASE.split("streams:")[0], 1, "streams"),
    ("empty-stream-list", BASE.split("streams:")[0] + "streams: []\n", 8, "streams"),
    (
        "no-links",
        edit("    a:\n      capacity: 10Mbps\n      delay: 5ms\n", "", base=BASE).replace(
            "  links:\n", "  links: {}\n"
        ),
        4,
        "network.links",
    ),
    ("bad-run-name", edit("name: t", "name: my run"), 1, "name"),
    ("bad-link-name", edit("    a:\n", "    a b:\n"), 5, "network.links['a b']"),
    ("seed-bool", edit("name: t\n", "name: t\nseed: yes\n"), 2, "seed"),
    ("seed-negative", edit("name: t\n", "name: t\nseed: -1\n"), 2, "seed"),
    # --- units ---
    ("wrong-unit", edit("capacity: 10Mbps", "capacity: 10 Mbit"), 6, "network.links.a.capacity"),
    ("unitless-time", edit("duration: 60s", "duration: 60"), 2, "duration"),
    ("negative-duration", edit("duration: 60s", "duration: -5s"), 2, "duration"),
    ("zero-duration", edit("duration: 60s", "duration: 0s"), 2, "duration"),
    ("negative-delay", edit("delay: 5ms", "delay: -1ms"), 7, "network.links.a.delay"),
    ("time-is-a-list", edit("delay: 5ms", "delay: [5ms]"), 7, "network.links.a.delay"),
    ("capacity-zero", edit("capacity: 10Mbps", "capacity: 0Mbps"), 6, "network.links.a.capacity"),
    ("loss-over-100", edit("delay: 5ms", "loss: 150%"), 7, "network.links.a.loss"),
    ("bad-buffer", edit("delay: 5ms", "buffer: 64"), 7, "network.links.a.buffer"),
    (
        "buffer-fractional-packets",
        edit("delay: 5ms", "buffer: 2.5 packets"),
        7,
        "network.links.a.buffer",
    ),
    ("rate-zero", edit("rate: 800pps", "rate: 0pps"), 12, "streams[0].rate"),
    ("rate-unknown-unit", edit("rate: 800pps", "rate: 10 Mbit"), 12, "streams[0].rate"),
    (
        "packet-size-zero",
        edit("packet_size: 1250B", "packet_size: 0B"),
        11,
        "streams[0].packet_size",
    ),
    # --- jitter, loss and size mappings ---
    (
        "ge-p-out-of-range",
        edit("delay: 5ms", "loss: {model: gilbert-elliott, p: 1.5, r: 0.3}"),
        7,
        "network.links.a.loss.p",
    ),
    (
        "ge-both-forms",
        edit(
            "delay: 5ms",
            "loss:\n        model: gilbert-elliott\n"
            "        rate: 1%\n        burst: 3\n        p: 0.1",
        ),
        11,
        "network.links.a.loss.p",
    ),
    (
        "ge-burst-below-1",
        edit("delay: 5ms", "loss: {model: gilbert-elliott, rate: 1%, burst: 0.5}"),
        7,
        "network.links.a.loss.burst",
    ),
    (
        "loss-unknown-model",
        edit("delay: 5ms", "loss:\n        model: bursty\n        rate: 1%"),
        8,
        "network.links.a.loss.model",
    ),
    (
        "jitter-wrong-parameter",
        edit("delay: 5ms", "jitter:\n        distribution: uniform\n        mean: 5ms"),
        9,
        "network.links.a.jitter.mean",
    ),
    (
        "jitter-missing-distribution",
        edit("delay: 5ms", "jitter: {mean: 5ms}"),
        7,
        "network.links.a.jitter",
    ),
    (
        "jitter-unknown-distribution",
        edit("delay: 5ms", "jitter: {distribution: normal, mean: 1ms}"),
        7,
        "network.links.a.jitter.distribution",
    ),
    (
        "jitter-reorder-not-bool",
        edit(
            "delay: 5ms",
            "jitter:\n        distribution: exponential\n        mean: 1ms\n        reorder: maybe",
        ),
        10,
        "network.links.a.jitter.reorder",
    ),
    (
        "size-uniform-max-below-min",
        edit("packet_size: 1250B", "packet_size: {distribution: uniform, min: 1500B, max: 64B}"),
        11,
        "streams[0].packet_size.max",
    ),
    # --- streams ---
    ("bad-stream-type", edit("type: poisson", "type: tcp"), 10, "streams[0].type"),
    ("path-missing-link", edit("path: [a]", "path: [a, bottlenek]"), 13, "streams[0].path[1]"),
    ("path-empty", edit("path: [a]", "path: []"), 13, "streams[0].path"),
    (
        "path-repeats-link",
        edit("path: [a]", "path:\n      - a\n      - a"),
        15,
        "streams[0].path[1]",
    ),
    (
        "duplicate-stream-name",
        BASE + "  - {name: s, type: cbr, packet_size: 100B, rate: 1pps, path: [a]}\n",
        14,
        "streams[1].name",
    ),
    (
        "link-cycle",
        TWO_LINKS.replace("path: [a]", "path: [a, b]")
        + "  - name: back\n    type: cbr\n    packet_size: 100B\n    rate: 1pps\n"
        "    path: [b, a]\n",
        19,
        "streams[1].path[1]",
    ),
    (
        "stop-before-start",
        edit("path: [a]", "path: [a]\n    start: 10s\n    stop: 5s"),
        15,
        "streams[0].stop",
    ),
    (
        "start-after-duration",
        edit("path: [a]", "path: [a]\n    start: 60s"),
        14,
        "streams[0].start",
    ),
    # --- budgets ---
    (
        "budget-missing-stream",
        BASE + "budgets:\n  - stream: nosuch\n    latency: 5ms\n",
        15,
        "budgets[0].stream",
    ),
    (
        "percentile-over-100",
        BASE + BUDGET + "    latency: 5ms\n    percentile: 101\n",
        17,
        "budgets[0].percentile",
    ),
    (
        "percentile-without-latency",
        BASE + BUDGET + "    max_loss: 1%\n    percentile: 99\n",
        17,
        "budgets[0].percentile",
    ),
    ("budget-no-metric", BASE + BUDGET + "    source: nobody\n", 15, "budgets[0]"),
    (
        "budget-second-entry",
        BASE + BUDGET + "    latency: 5ms\n  - stream: s\n    max_jitter: fast\n",
        18,
        "budgets[1].max_jitter",
    ),
]

# --- links: profiles, fibre distance, traces, outages, radio -----------------------------------
#
# These cases replace BASE's lines 6-7 (capacity, delay) with the body given to ``link``, whose
# first line is therefore line 6. With ``UPLINK + RADIO`` the lines are:
#
#      6       direction: uplink
#      7       radio:
#      8         route: {length: 5km, speed: 72km/h}
#      9         sites: {spacing: 500m}
#     10         (the next line of the case)

LINK_LINES = "      capacity: 10Mbps\n      delay: 5ms\n"
UPLINK = "      direction: uplink\n"
RADIO = (
    "      radio:\n        route: {length: 5km, speed: 72km/h}\n        sites: {spacing: 500m}\n"
)


def link(body: str) -> str:
    """BASE with link ``a``'s fields (lines 6-7) replaced by ``body``, starting on line 6."""
    return edit(LINK_LINES, body)


def radio_with(route: str, sites: str = "        sites: {spacing: 500m}\n") -> str:
    """An uplink radio link whose ``route`` starts on line 8 (``route`` is indented YAML)."""
    return link(UPLINK + "      radio:\n" + route + sites)


LINK_SCENARIOS: list[tuple[str, str, int | None, str]] = [
    (
        "direction-without-profile-or-radio",
        link("      capacity: 10Mbps\n" + UPLINK),
        7,
        "network.links.a.direction",
    ),
    (
        "radio-share-zero",
        link(UPLINK + RADIO + "        share: 0%\n"),
        10,
        "network.links.a.radio.share",
    ),
    (
        "handover-interruption-5g",
        link(UPLINK + RADIO + "        handover: {interruption: 5g}\n"),
        10,
        "network.links.a.radio.handover.interruption",
    ),
    (
        "profile-unknown",
        link("      profile: 5g-sax\n" + UPLINK),
        6,
        "network.links.a.profile",
    ),
    (
        "profile-without-direction",
        link("      profile: 5g-sa\n      delay: 5ms\n"),
        6,
        "network.links.a.profile",
    ),
    ("radio-without-direction", link(RADIO), 6, "network.links.a.radio"),
    (
        "direction-bad-value",
        link("      profile: 5g-sa\n      direction: up\n"),
        7,
        "network.links.a.direction",
    ),
    (
        "trace-and-capacity",
        link("      capacity: 10Mbps\n      trace: up.down\n"),
        7,
        "network.links.a.trace",
    ),
    (
        "trace-and-radio",
        link(UPLINK + "      trace: up.down\n" + RADIO),
        7,
        "network.links.a.trace",
    ),
    (
        "radio-and-capacity",
        link(UPLINK + "      capacity: 10Mbps\n" + RADIO),
        7,
        "network.links.a.capacity",
    ),
    (
        "routing-factor-without-distance",
        link("      delay: 5ms\n      routing_factor: 1.3\n"),
        7,
        "network.links.a.routing_factor",
    ),
    (
        "routing-factor-below-1",
        link("      distance: 100km\n      routing_factor: 0.9\n"),
        7,
        "network.links.a.routing_factor",
    ),
    ("distance-negative", link("      distance: -5km\n"), 6, "network.links.a.distance"),
    ("distance-zero", link("      distance: 0km\n"), 6, "network.links.a.distance"),
    ("distance-without-unit", link("      distance: 3000\n"), 6, "network.links.a.distance"),
    (
        "trace-file-missing",
        link("      delay: 5ms\n      trace: nosuch.down\n"),
        7,
        "network.links.a.trace",
    ),
    (
        "trace-format-unknown",
        link("      trace:\n        file: up.pcap\n        format: pcap\n"),
        8,
        "network.links.a.trace.format",
    ),
    (
        "outage-zero-duration",
        link("      outages:\n        - start: 1s\n          duration: 0s\n"),
        8,
        "network.links.a.outages[0].duration",
    ),
    (
        "outage-missing-start",
        link("      outages:\n        - duration: 2s\n"),
        7,
        "network.links.a.outages[0].start",
    ),
    (
        "route-length-and-points",
        radio_with("        route: {length: 5km, points: [[0m, 0m], [1km, 0m]], speed: 72km/h}\n"),
        8,
        "network.links.a.radio.route.points",
    ),
    (
        "route-neither-length-nor-points",
        radio_with("        route: {speed: 72km/h}\n"),
        8,
        "network.links.a.radio.route",
    ),
    (
        "route-speed-and-times",
        radio_with(
            "        route:\n          points: [[0m, 0m], [1km, 0m]]\n"
            "          speed: 72km/h\n          times: [0s, 50s]\n"
        ),
        11,
        "network.links.a.radio.route.times",
    ),
    (
        "route-times-count",
        radio_with(
            "        route:\n          points: [[0m, 0m], [1km, 0m]]\n"
            "          times: [0s, 50s, 60s]\n"
        ),
        10,
        "network.links.a.radio.route.times",
    ),
    (
        "route-times-without-points",
        radio_with("        route:\n          length: 5km\n          times: [0s, 50s]\n"),
        10,
        "network.links.a.radio.route.times",
    ),
    (
        "route-times-not-increasing",
        radio_with(
            "        route:\n          points: [[0m, 0m], [1km, 0m], [2km, 0m]]\n"
            "          times: [0s, 50s, 40s]\n"
        ),
        8,
        "network.links.a.radio.route",
    ),
    (
        "route-times-not-from-zero",
        radio_with(
            "        route:\n          points: [[0m, 0m], [1km, 0m]]\n          times: [5s, 50s]\n"
        ),
        8,
        "network.links.a.radio.route",
    ),
    (
        "speed-bad-unit",
        radio_with("        route: {length: 5km, speed: 50kmh/h}\n"),
        8,
        "network.links.a.radio.route.speed",
    ),
    (
        "carrier-bad-unit",
        link(UPLINK + RADIO + "        carrier: 3.5GHZ\n"),
        10,
        "network.links.a.radio.carrier",
    ),
    (
        "tx-power-zero-watts",
        link(UPLINK + RADIO + "        tx_power: 0W\n"),
        10,
        "network.links.a.radio.tx_power",
    ),
    (
        "sites-empty-list",
        radio_with("        route: {length: 5km, speed: 72km/h}\n", "        sites: []\n"),
        9,
        "network.links.a.radio.sites",
    ),
    (
        "sites-not-a-list",
        radio_with("        route: {length: 5km, speed: 72km/h}\n", "        sites: 5\n"),
        9,
        "network.links.a.radio.sites",
    ),
    (
        "sites-spacing-zero",
        radio_with(
            "        route: {length: 5km, speed: 72km/h}\n",
            "        sites:\n          spacing: 0m\n",
        ),
        10,
        "network.links.a.radio.sites.spacing",
    ),
    (
        "handover-interruption-unknown",
        link(UPLINK + RADIO + "        handover:\n          interruption: handoff\n"),
        11,
        "network.links.a.radio.handover.interruption",
    ),
    (
        "handover-during-lose",
        link(UPLINK + RADIO + "        handover: {during: lose}\n"),
        10,
        "network.links.a.radio.handover.during",
    ),
    (
        "efficiency-alpha-above-1",
        link(UPLINK + RADIO + "        efficiency: {alpha: 1.2, min_sinr: -10dB, max: 4.4}\n"),
        10,
        "network.links.a.radio.efficiency.alpha",
    ),
    (
        "radio-unknown-key",
        link(UPLINK + RADIO + "        tx_powr: 23dBm\n"),
        10,
        "network.links.a.radio.tx_powr",
    ),
    (
        "loss-per-p-plus-r-at-least-1",
        link(
            "      loss:\n        model: gilbert-elliott\n        p: 0.6\n        r: 0.5\n"
            "        per: 200ms\n"
        ),
        9,
        "network.links.a.loss.r",
    ),
    (
        "loss-burst-zero-time",
        link("      loss: {model: gilbert-elliott, rate: 1%, burst: 0s}\n"),
        6,
        "network.links.a.loss.burst",
    ),
    (
        "jitter-hold-zero",
        link(
            "      jitter:\n        distribution: exponential\n        mean: 5ms\n"
            "        hold: 0ms\n"
        ),
        9,
        "network.links.a.jitter.hold",
    ),
]

LINK_MESSAGES: dict[str, str] = {
    "direction-without-profile-or-radio": "direction applies to a profile or a radio",
    "radio-share-zero": "expected a share > 0",
    "handover-interruption-5g": "expected one of lte, nsa-anchor, nsa-scg-add, nsa-scg-change",
    "profile-unknown": "unknown profile '5g-sax'; did you mean '5g-sa' or '5g-nsa'? (profiles: ",
    "profile-without-direction": "profile 5g-sa needs direction: uplink or downlink",
    "radio-without-direction": "a radio link needs direction: uplink or downlink",
    "direction-bad-value": "expected 'uplink' or 'downlink', got 'up'",
    "trace-and-capacity": "give either trace or capacity, not both",
    "trace-and-radio": "give either trace or radio, not both",
    "radio-and-capacity": "a radio link's capacity comes from its radio; remove capacity",
    "routing-factor-without-distance": "routing_factor applies to a distance; add one",
    "routing-factor-below-1": "expected a number >= 1, got 0.9",
    "distance-negative": "expected a length > 0 such as '500m', got '-5km'",
    "distance-zero": "expected a length > 0 such as '500m', got '0km'",
    "distance-without-unit": "a length 3000 needs a unit, such as '500m'",
    "trace-file-missing": "nosuch.down': no such file",
    "trace-format-unknown": "expected 'mahimahi' or 'csv', got 'pcap'",
    "outage-zero-duration": "expected a time > 0, got '0s'",
    "outage-missing-start": "required field is missing",
    "route-length-and-points": "give either length (a straight road) or points, not both",
    "route-neither-length-nor-points": "a route needs length (a straight road) or points",
    "route-speed-and-times": "give either speed or times, not both",
    "route-times-count": "expected one time per point (2), got 3",
    "route-times-without-points": "times go with points, one per point",
    "route-times-not-increasing": "times must be strictly increasing",
    "route-times-not-from-zero": "times must start at 0, got 5.0",
    "speed-bad-unit": "unknown unit 'kmh/h' in '50kmh/h': a speed takes m/s, km/h, kmh",
    "carrier-bad-unit": "unknown unit 'GHZ' in '3.5GHZ': a frequency takes Hz, kHz, MHz, GHz",
    "tx-power-zero-watts": "a power in W must be > 0, got '0W'",
    "sites-empty-list": "expected at least one site",
    "sites-not-a-list": "expected a list of [x, y] sites or a mapping with spacing, got 5",
    "sites-spacing-zero": "expected a length > 0 such as '500m', got '0m'",
    "handover-interruption-unknown": (
        "expected one of lte, nsa-anchor, nsa-scg-add, nsa-scg-change, sa or a time such as "
        "'50ms', got 'handoff'"
    ),
    "handover-during-lose": "expected 'buffer' or 'drop', got 'lose'",
    "efficiency-alpha-above-1": "expected a value <= 1.0, got 1.2",
    "radio-unknown-key": "unknown key 'tx_powr'; did you mean 'tx_power'?",
    "loss-per-p-plus-r-at-least-1": "a chain in time needs p + r < 1 (got 1.1)",
    "loss-burst-zero-time": "expected a burst time > 0, got '0s'",
    "jitter-hold-zero": "expected a time > 0, got '0ms'",
}
"""What each link case's message must contain (test_scenario_links checks them)."""

BAD_SCENARIOS.extend(LINK_SCENARIOS)

# --- WebRTC transports (netsim/scenario_transport.py); BASE's stream is lines 9-13 ---
TRANSPORT_SCENARIOS: list[tuple[str, str, int | None, str]] = [
    ("transport-unknown", edit("    path: [a]", "    path: [a]\n    transport: webrtc"), 14,
     "streams[0].transport"),
    ("video-with-type", edit("    path: [a]", "    path: [a]\n    transport: webrtc-video"), 10,
     "streams[0].type"),
    ("datachannel-without-rate", edit("    rate: 800pps\n", "    transport: datachannel\n"), 9,
     "streams[0].rate"),
    ("video-section-on-packets", edit("    path: [a]", "    path: [a]\n    video: {}"), 14,
     "streams[0].video"),
    ("video-unknown-preset", edit(
        "    type: poisson\n    packet_size: 1250B\n    rate: 800pps\n",
        "    transport: webrtc-video\n    video: {preset: 8k120-av1}\n"), 11,
     "streams[0].video.preset"),
    ("video-unknown-key", edit(
        "    type: poisson\n    packet_size: 1250B\n    rate: 800pps\n",
        "    transport: webrtc-video\n    video: {bitrat: 4Mbps}\n"), 11,
     "streams[0].video.bitrat"),
    ("channel-both-limits", edit(
        "    path: [a]",
        "    path: [a]\n    transport: datachannel\n"
        "    channel: {max_retransmits: 1, max_packet_lifetime: 100ms}"), 15,
     "streams[0].channel.max_packet_lifetime"),
    ("channel-negative-retransmits", edit(
        "    path: [a]",
        "    path: [a]\n    transport: datachannel\n    channel: {max_retransmits: -1}"), 15,
     "streams[0].channel.max_retransmits"),
    ("feedback-unknown-link", edit(
        "    path: [a]", "    path: [a]\n    transport: datachannel\n    feedback: [z]"), 15,
     "streams[0].feedback[0]"),
    ("feedback-on-packets", edit("    path: [a]", "    path: [a]\n    feedback: [a]"), 14,
     "streams[0].feedback"),
    ("frame-latency-on-packets", BASE + BUDGET + "    frame_latency: 100ms\n", 16,
     "budgets[0].frame_latency"),
    ("message-loss-on-packets", BASE + BUDGET + "    max_message_loss: 1%\n", 16,
     "budgets[0].max_message_loss"),
]  # fmt: skip

TRANSPORT_MESSAGES = {
    "transport-unknown": "webrtc-video",
    "video-with-type": "takes its packets from the codec model; remove 'type'",
    "datachannel-without-rate": "required field is missing",
    "video-section-on-packets": "'video' applies to transport webrtc-video",
    "video-unknown-preset": "unknown preset '8k120-av1'; presets are: 1080p30-h264",
    "video-unknown-key": "unknown key 'bitrat'; did you mean 'bitrate'",
    "channel-both-limits": "give max_retransmits or max_packet_lifetime, not both",
    "channel-negative-retransmits": "expected a whole number >= 0, got -1",
    "feedback-unknown-link": "no link named 'z'; links are: a",
    "feedback-on-packets": "feedback applies to a WebRTC transport",
    "frame-latency-on-packets": "frame_latency needs a stream with transport webrtc-video",
    "message-loss-on-packets": "max_message_loss needs a stream with transport datachannel",
}
"""What each transport case's message must contain (test_bad_input checks them)."""

BAD_SCENARIOS.extend(TRANSPORT_SCENARIOS)
