"""A plain per-packet re-implementation of Mahimahi's trace-driven link, to test medlink against.

Written from the semantics of ``LinkQueue`` in mahimahi (github.com/ravinet/mahimahi, file
``src/frontend/link_queue.cc``; ``src/packet/`` holds only the queue disciplines), not from
medlink's code, and kept obviously correct rather than fast: one opportunity at a time in a
plain Python loop. What the source does, function by function:

- ``LinkQueue::LinkQueue`` reads the schedule: one ``uint64_t`` millisecond per line,
  ``ms < schedule_.back()`` is an error ("timestamps must be monotonically nondecreasing"), an
  empty line is an error, and so is ``schedule_.back() == 0`` ("trace must last for a nonzero
  amount of time"). ``base_timestamp_`` starts at the link's creation time: time 0 here.
- ``next_delivery_time()`` is ``schedule_.at(next_delivery_) + base_timestamp_``.
  ``use_a_delivery_opportunity()`` advances ``next_delivery_`` modulo the schedule's length and,
  on wrapping to 0, adds ``schedule_.back()`` to ``base_timestamp_`` (with ``repeat_``, the
  default of mm-link). So opportunity ``i`` of loop ``k`` is at ``schedule[i] + k * period``
  with ``period = schedule[-1]``; a trace starting at 0 has two opportunities at ``k * period``.
- ``read_packet(contents)``: ``now = timestamp()`` (whole milliseconds); a packet larger than
  ``PACKET_SIZE`` = 1504 throws "packet size is greater than maximum"; then
  ``rationalize(now)``, *then* ``packet_queue_->enqueue(QueuedPacket(contents, now))``.
- ``rationalize(now)``: ``while (next_delivery_time() <= now)``: take
  ``this_delivery_time``, set ``bytes_left_in_this_delivery = PACKET_SIZE``, burn the
  opportunity, then while bytes are left: if no packet is in transit, dequeue the head (or
  ``break`` if the queue is empty: the rest of the opportunity is lost, not banked); send
  ``min(bytes_left_in_this_delivery, packet_in_transit_bytes_left_)``; when the packet in
  transit has no bytes left, ``record_departure(this_delivery_time, ...)`` and push it to the
  output. A packet's remaining bytes carry over to the next opportunity
  (``packet_in_transit_bytes_left_`` survives the loop); several small packets can leave in
  one opportunity; a packet leaves at the time of the opportunity that sends its last byte.
- ``wait_time()`` also calls ``rationalize(timestamp())``; it only decides when the event loop
  wakes up, and what it delivers is what ``rationalize`` would deliver at the next arrival.

Hence a packet arriving at time ``a`` (ms, fractional here) is enqueued after every
opportunity at ``T <= floor(a)`` has been used, i.e. it can use only opportunities with
``T > floor(a)``. Opportunity times are whole milliseconds, so ``T > floor(a)`` is the same as
``T > a``: **a packet arriving exactly at an opportunity's time cannot use it**, nor any
leftover of it. This module floors the arrival as mahimahi does.

One extension: mahimahi rejects packets over 1504 bytes in ``read_packet`` (and asserts
``packet_in_transit_bytes_left_ <= PACKET_SIZE``); here a larger packet simply carries its
remaining bytes over as many opportunities as it needs, as the rationalize loop would. The
queue is unbounded (mm-link's default ``infinite`` queue).
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["PACKET_SIZE", "simulate_mahimahi"]

PACKET_SIZE = 1504
"""Bytes per delivery opportunity (``LinkQueue::PACKET_SIZE``)."""


def simulate_mahimahi(
    opportunity_ms: list[int], arrivals_ms: list[float], sizes: list[int]
) -> list[float]:
    """Departure time of each packet from a Mahimahi link driven by ``opportunity_ms``.

    Parameters
    ----------
    opportunity_ms
        One period of the trace: delivery opportunities in whole ms, non-decreasing, the last
        > 0 (it is the period the trace loops with).
    arrivals_ms
        Arrival time of each packet, in ms from the start of the link (>= 0, non-decreasing:
        the packets are served in this order).
    sizes
        Size of each packet, in bytes (>= 1).

    Returns
    -------
    list of float
        Departure time of each packet, in ms: the time of the opportunity that carried its
        last byte.
    """
    if not opportunity_ms or opportunity_ms[-1] <= 0:
        raise ValueError("the trace needs a last timestamp > 0")
    if any(b < a for a, b in zip(opportunity_ms, opportunity_ms[1:], strict=False)):
        raise ValueError("opportunity times must be non-decreasing")
    if len(arrivals_ms) != len(sizes):
        raise ValueError("one size per arrival")
    if any(b < a for a, b in zip(arrivals_ms, arrivals_ms[1:], strict=False)):
        raise ValueError("arrival times must be non-decreasing")
    if arrivals_ms and arrivals_ms[0] < 0:
        raise ValueError("arrival times must be >= 0")
    if any(size < 1 for size in sizes):
        raise ValueError("packet sizes must be >= 1 byte")

    period = opportunity_ms[-1]
    departures: list[float | None] = [None] * len(sizes)
    queue: deque[int] = deque()  # packets waiting, by index
    in_transit: int | None = None  # packet being sent
    bytes_left_in_transit = 0
    next_arrival = 0  # index of the next packet to read
    next_delivery = 0  # index in opportunity_ms
    base_ms = 0  # start of the current loop of the trace
    departed = 0

    while departed < len(sizes):
        this_delivery_time = opportunity_ms[next_delivery] + base_ms

        # read_packet(now = floor(arrival)) enqueues after rationalize(now) has used every
        # opportunity at <= now: the packet is in the queue for this opportunity iff
        # floor(arrival) < this_delivery_time.
        while (
            next_arrival < len(sizes) and math.floor(arrivals_ms[next_arrival]) < this_delivery_time
        ):
            queue.append(next_arrival)
            next_arrival += 1

        # rationalize: burn this opportunity.
        bytes_left_in_this_delivery = PACKET_SIZE
        next_delivery = (next_delivery + 1) % len(opportunity_ms)
        if next_delivery == 0:
            base_ms += period
        while bytes_left_in_this_delivery > 0:
            if bytes_left_in_transit == 0:
                if not queue:
                    break  # the rest of this opportunity is lost
                in_transit = queue.popleft()
                bytes_left_in_transit = sizes[in_transit]
            amount_to_send = min(bytes_left_in_this_delivery, bytes_left_in_transit)
            bytes_left_in_transit -= amount_to_send
            bytes_left_in_this_delivery -= amount_to_send
            if bytes_left_in_transit == 0:
                assert in_transit is not None
                departures[in_transit] = float(this_delivery_time)
                departed += 1

    result = [d for d in departures if d is not None]
    assert len(result) == len(sizes)
    return result
