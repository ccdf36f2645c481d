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
