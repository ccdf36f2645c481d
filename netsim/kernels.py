"""The bodies of :mod:`netsim.compiled`'s kernels: plain Python loops over numpy arrays,
which :func:`netsim.compiled._load` compiles with numba (``njit``, cached next to this
package). Each follows a numpy version's float operations in the same order, so its results
are that version's to the bit; the wrappers in :mod:`netsim.compiled` document which, and
``tests/test_compiled.py`` holds them to it. Nothing here is called uncompiled by the engine.
"""

from __future__ import annotations

import math

import numpy as np

STRETCH = 16384  # FifoQueue._serve_finite's stretch length: its float results depend on it
LOOP_MAX = 1 << 20  # the largest budget of its per-packet loop
LOOP_MIN = 32  # and the budget it starts from


def serve_finite(
    arrival,
    service,
    size,
    fate,
    depart,
    limit,
    by_bytes,
    held_dep,
    held_size,
    free,
    loop_length,
    dropped,
):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.serve_finite`. Returns (free, loop_length, q0, q1, qd, qs)."""
    n = arrival.size
    h = held_dep.size
    cap = h + n
    qd = np.empty(cap)  # the admitted packets not yet fully serialised, in order
    qs = np.empty(cap, dtype=np.int64)
    qd[:h] = held_dep
    qs[:h] = held_size
    q0 = 0
    q1 = h
    pos = 0
    while pos < n:
        stop = min(n, pos + STRETCH)
        # --- the vectorised stretch: Lindley on cumulative service from ``free``, every packet
        # assumed admitted, cut at the first whose occupancy exceeds the limit. The stretch's
        # departures go after the queue (qd[q1 + i]), as numpy's concatenation puts them.
        cum = 0.0
        slack = -math.inf
        p = q0  # entries of (queue ++ stretch) at or before the current arrival, capped at k
        insys = 0  # bytes (or packets) of entries p .. k-1: the queue's, to begin with
        for j in range(q0, q1):
            insys += qs[j] if by_bytes else 1
        length = stop - pos
        good = length
        for i in range(length):
            j = pos + i
            s = service[j]
            cum = cum + s
            x = arrival[j] - (cum - s)
            if x > slack or i == 0:
                slack = x
            top = slack if slack >= free else free  # np.maximum(slack, free)
            if slack != slack:
                top = slack
            k = q1 + i
            qd[k] = cum + top
            a = arrival[j]
            while p < k and qd[p] <= a:
                insys -= qs[p] if by_bytes else 1
                p += 1
            unit = size[j] if by_bytes else 1
            if insys + unit > limit:
                good = i
                break
            qs[k] = size[j]
            insys += unit
        if good:
            for i in range(good):
                depart[pos + i] = qd[q1 + i]
            q1 += good
            free = qd[q1 - 1]
            last = arrival[pos + good - 1]
            while q0 < q1 and qd[q0] <= last:
                q0 += 1
        pos += good
        if good == length:  # no overflow in the stretch
            loop_length = LOOP_MIN
            continue
        # --- the loop (FifoQueue._serve_loop): packets of one size that fit the buffer run to
        # ``end`` (_serve_equal, the loop's results in closed form); others stop where the
        # system empties (_serve_each).
        end = min(n, pos + loop_length)
        most = 0
        s0 = service[pos]
        if end - pos >= 8 and limit < math.inf and 0.0 < s0 < math.inf:
            one = size[pos]
            same = True
            for j in range(pos, end):
                if size[j] != one:
                    same = False
                    break
            if same:
                for j in range(q0, q1):
                    if qs[j] != one:
                        same = False
                        break
            if same:
                unit = one if by_bytes else 1
                most = int(min(limit // unit, 2.0**40))
                if most < 0:
                    most = 0
                while most < 2**40 and (most + 1) * unit <= limit:
                    most += 1
                while most > 0 and most * unit > limit:
                    most -= 1
        run_to_end = False
        if most:
            if q1 > q0:
                ok = qd[q1 - 1] == free
                for j in range(q0 + 1, q1):
                    if not qd[j] >= qd[j - 1]:
                        ok = False
                        break
                run_to_end = ok
            else:
                run_to_end = not free > arrival[pos]
        held = 0
        for j in range(q0, q1):
            held += qs[j] if by_bytes else 1
        while pos < end:
            a = arrival[pos]
            while q0 < q1 and qd[q0] <= a:
                held -= qs[q0] if by_bytes else 1
                q0 += 1
            one = size[pos] if by_bytes else 1
            if held + one > limit:
                depart[pos] = math.nan
                fate[pos] = dropped
            else:
                free = (free if free > a else a) + service[pos]
                depart[pos] = free
                qd[q1] = free
                qs[q1] = size[pos]
                q1 += 1
                held += one
            pos += 1
            if q0 == q1 and not run_to_end:
                break
        loop_length = min(loop_length * 2, LOOP_MAX) if pos < n else LOOP_MIN
    return free, loop_length, q0, q1, qd, qs


def schedule_work(t_s, cum, bytes_per_s, x):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.schedule_work`."""
    m = t_s.size
    out = np.empty(x.size)
    idx = 0  # entries of t_s <= x (searchsorted "right"), walked from the last value
    for j in range(x.size):
        v = x[j]
        if v != v:
            idx = m  # NaN sorts last
        else:
            while idx < m and t_s[idx] <= v:
                idx += 1
            while idx > 0 and t_s[idx - 1] > v:
                idx -= 1
        i = idx - 1 if idx > 0 else 0
        out[j] = cum[i] + ((v if v >= 0.0 or v != v else 0.0) - t_s[i]) * bytes_per_s[i]
    return out


def schedule_time(t_s, cum, bytes_per_s, work, keep_nan):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.schedule_time`."""
    m = cum.size
    out = np.empty(work.size)
    idx = 0  # entries of cum < work - slack (searchsorted "left")
    for j in range(work.size):
        w = work[j]
        if keep_nan and w != w:
            out[j] = math.nan  # a packet not served
            continue
        y = w - abs(w) * 1e-12
        if y != y:
            idx = m
        else:
            while idx < m and cum[idx] < y:
                idx += 1
            while idx > 0 and cum[idx - 1] >= y:
                idx -= 1
        i = idx - 1 if idx > 0 else 0
        rate = bytes_per_s[i]
        if w <= 0.0:
            out[j] = 0.0
        elif rate > 0:
            out[j] = t_s[i] + (w - cum[i]) / rate
        else:
            out[j] = math.inf
    return out


def first_order_filter(b, r, out):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.first_order_filter`, one row."""
    y = 0.0
    for k in range(b.size):
        y = r * y + b[k]
        out[k] = y


def smooth_blocks(padded, width, ainv, gain_k, decay, a_width, initial):  # pragma: no cover
    """See :func:`netsim.compiled.smooth_blocks`."""
    previous = initial
    for start in range(0, padded.size, width):
        total = 0.0
        for i in range(width):
            total += padded[start + i] * ainv[i]
            padded[start + i] = total * gain_k[i]
        carry = previous
        previous = padded[start + width - 1] + a_width * previous
        for i in range(width):
            padded[start + i] += carry * decay[i]


def delivered_latency(fate, code, t_send, t_recv, size, out):  # pragma: no cover
    """See :func:`netsim.compiled.delivered_latency`."""
    at = 0
    total = 0
    for i in range(fate.size):
        if fate[i] == code:
            out[at] = t_recv[i] - t_send[i]
            total += size[i]
            at += 1
    return at, total


def admitted_counts(fate, stream, counts):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.wire`: the packets with ``fate`` 0, per stream."""
    for i in range(fate.size):
        if fate[i] == 0:
            counts[stream[i]] += 1


def wire(
    depart,
    fate,
    stream,
    start,
    jitter,
    u_state,
    u_loss,
    loss_kind,
    p,
    r,
    pi_bad,
    loss_good,
    loss_bad,
    state,
    slots,
    hold,
    bad_start,
    bad_end,
    delay,
    fifo,
    last,
    lost,
):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.wire`. Returns (recv, last)."""
    n = depart.size
    recv = np.empty(n)
    at = start.copy()  # each stream's next draw
    m = bad_start.size
    w = 0  # Bad stretches starting at or before the departure (searchsorted "right")
    for i in range(n):
        if fate[i] != 0:
            recv[i] = math.nan
            continue
        s = stream[i]
        k = at[s]
        at[s] = k + 1
        if loss_kind == 3:  # the link-wide chain: Bad or Good when the packet leaves
            t = depart[i]
            while w < m and bad_start[w] <= t:
                w += 1
            while w > 0 and bad_start[w - 1] > t:
                w -= 1
            in_bad = w > 0 and t < bad_end[w - 1]
            if u_loss[k] < (loss_bad if in_bad else loss_good):
                fate[i] = lost
                recv[i] = math.nan
                continue
        elif loss_kind == 1:
            if u_loss[k] < loss_good:
                fate[i] = lost
                recv[i] = math.nan
                continue
        elif loss_kind == 2:
            u = u_state[k]
            g = state[s]
            if g < 0:  # the chain starts here: its state from the stationary law
                g = 1 if u < pi_bad else 0
            else:
                to_bad = u < p
                to_good = u < r
                if to_bad and to_good:
                    g = 1 - g
                elif to_bad:
                    g = 1
                elif to_good:
                    g = 0
            state[s] = g
            if u_loss[k] < (loss_bad if g == 1 else loss_good):
                fate[i] = lost
                recv[i] = math.nan
                continue
        if hold > 0.0:  # timed jitter: the slot the packet leaves in (0 past the last)
            q = math.floor(depart[i] / hold)
            extra = slots[int(q)] if q < slots.size else 0.0
        elif jitter.size:
            extra = jitter[k]
        else:
            extra = 0.0
        v = depart[i] + delay + extra
        if not fifo:  # a reordering jitter: no delay line
            recv[i] = v
            continue
        if v > last:
            last = v
        recv[i] = last
    return recv, last


def in_order(t, stream, ids, seq):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.in_order`."""
    for i in range(1, t.size):
        if t[i] > t[i - 1]:
            continue
        if t[i] == t[i - 1]:
            if stream[i] > stream[i - 1]:
                continue
            if stream[i] == stream[i - 1] and seq[ids[i]] > seq[ids[i - 1]]:
                continue
        return False
    return True


def order_ties(order, t, stream, ids, seq):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.order_ties`."""
    n = order.size
    i = 0
    while i < n:
        ti = t[order[i]]
        j = i + 1
        while j < n:
            tj = t[order[j]]
            if tj == ti or (tj != tj and ti != ti):
                j += 1
            else:
                break
        if j - i > 1:
            # Row x comes after row y when (stream, seq) is greater (no helper function:
            # the kernels are compiled one by one).
            ordered = True
            for a in range(i + 1, j):
                x, y = order[a - 1], order[a]
                if stream[x] > stream[y] or (stream[x] == stream[y] and seq[ids[x]] > seq[ids[y]]):
                    ordered = False
                    break
            if not ordered and j - i <= 32:  # insertion sort: stable
                for a in range(i + 1, j):
                    x = order[a]
                    b = a - 1
                    while b >= i and (
                        stream[order[b]] > stream[x]
                        or (stream[order[b]] == stream[x] and seq[ids[order[b]]] > seq[ids[x]])
                    ):
                        order[b + 1] = order[b]
                        b -= 1
                    order[b + 1] = x
            elif not ordered:  # stable sorts by the sequence number, then by the stream
                group = order[i:j].copy()
                q = np.empty(j - i, dtype=np.int64)
                for a in range(j - i):
                    q[a] = seq[ids[group[a]]]
                group = group[np.argsort(q, kind="mergesort")]
                st = np.empty(j - i, dtype=np.int64)
                for a in range(j - i):
                    st[a] = stream[group[a]]
                order[i:j] = group[np.argsort(st, kind="mergesort")]
        i = j


def split_fates(ids, fate, recv, stream, col_fate, col_link, link):  # pragma: no cover
    """See :func:`netsim.compiled.split_fates`."""
    n = ids.size
    passed_ids = np.empty(n, ids.dtype)
    passed_recv = np.empty(n)
    passed_stream = np.empty(n, stream.dtype)
    failed_ids = np.empty(n, ids.dtype)
    failed_stream = np.empty(n, stream.dtype)
    a = 0
    b = 0
    for i in range(n):
        row = ids[i]
        if fate[i] != 0:
            col_fate[row] = fate[i]
            col_link[row] = link
            failed_ids[b] = row
            failed_stream[b] = stream[i]
            b += 1
        else:
            passed_ids[a] = row
            passed_recv[a] = recv[i]
            passed_stream[a] = stream[i]
            a += 1
    return passed_ids[:a], passed_recv[:a], passed_stream[:a], failed_ids[:b], failed_stream[:b]


def arrival_order_values(buf, n, values, chunk):  # pragma: no cover (compiled)
    """See :func:`netsim.compiled.arrival_order_values`."""
    chunks = (n + chunk - 1) // chunk
    tail = np.empty(chunks + 1)  # min(buf[c * chunk:]), from each chunk on
    tail[chunks] = math.inf
    for c in range(chunks - 1, -1, -1):
        m = tail[c + 1]
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            if buf[i] < m:
                m = buf[i]
        tail[c] = m
    after = np.empty(min(chunk, n))  # min(buf[i + 1:]) for each i of the chunk
    running = -math.inf  # max(buf[start:i + 1]), and every value before start is below it
    previous = -math.inf
    start = 0  # the first position not yet written
    disordered = False
    for c in range(chunks):
        lo, hi = c * chunk, min(n, (c + 1) * chunk)
        m = tail[c + 1]
        for i in range(hi - 1, lo - 1, -1):
            after[i - lo] = m
            if buf[i] < m:
                m = buf[i]
        for i in range(lo, hi):
            v = buf[i]
            if v < previous:
                disordered = True
            previous = v
            if v > running:
                running = v
            if running <= after[i - lo]:  # no value from i + 1 on sorts before one up to i
                if disordered:
                    order = np.argsort(buf[start : i + 1], kind="mergesort")
                    for k in range(i + 1 - start):
                        buf[start + k] = values[start + order[k]]
                else:
                    for k in range(start, i + 1):
                        buf[k] = values[k]
                start = i + 1
                disordered = False
