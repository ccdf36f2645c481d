"""The HTML report of a run: one self-contained file, drawn from the results.json document.

:func:`render_report` gives one HTML5 page with everything inline (CSS, SVG figures; no
script, no external file, no network), readable printed in black and white: the verdict is
spelled out (PASS or FAIL), not only coloured. In order:

1. the verdict, with scenario name, seed, duration, medlink version and creation time;
2. the budgets: stream, metric, value, limit, margin, verdict and the cited source;
3. per stream: packets sent and delivered, loss, latency percentiles, jitter, throughput;
4. handovers and outages per radio link, when there are any;
5. the figures (:func:`netsim.plots.all_figures`) with captions;
6. the scenario as run: its YAML, seed, file and SHA-256.

Every text that comes from the scenario or the document is escaped. :func:`write_report`
writes the page atomically. Figures need matplotlib; without it the report says so and
keeps the tables.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import yaml

__all__ = ["render_report", "write_report", "budget_margin", "FIGURE_CAPTIONS"]

from .budgets import budget_margin  # noqa: E402  (re-exported: part of this module's API)

FIGURE_CAPTIONS = {
    "loop-breakdown": (
        "Where the control loop's time goes: the mean motion-to-photon latency of the applied "
        "commands, from the command's one-way trip to the robot to the frame showing the "
        "motion on the surgeon's screen."
    ),
    "budget-margins": (
        "How far each budget is from its limit: the measured value divided by the limit "
        "(for a minimum throughput, the limit divided by the value), on a log scale. A bar "
        "left of 1 passes, right of 1 fails; failing bars are hatched and labelled FAIL."
    ),
    "latency-cdf": (
        "Distribution of one-way latency over the delivered packets of each stream. Each "
        "latency budget is a vertical line at its limit, with a cross at its percentile: "
        "the stream meets it when its curve passes above and left of the cross."
    ),
    "latency-ccdf": (
        "The tail: the fraction of delivered packets later than x, on a log scale down to "
        "one packet. A stream meets a latency budget when its curve passes below the cross "
        "(the limit, at one minus the budget's percentile)."
    ),
    "latency-over-time": (
        "Median (p50), p99 and maximum one-way latency of the packets sent in each time "
        "bin, log scale; gaps are bins where nothing was delivered. Below, the capacity of "
        "each link whose capacity varies. Ticks along the top mark handovers; hatched "
        "spans mark outages."
    ),
    "along-route": (
        "The p99 latency of each time bin against the distance the vehicle had travelled, "
        "with the link's capacity below: where along the route the service degrades. "
        "Outages are hatched over the stretch of road they lasted; ticks mark handovers."
    ),
}
"""Caption of each figure, by id (``along-route-<link>`` uses ``along-route``)."""

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  font-size: 15px; line-height: 1.45; color: #111; background: #fff;
  max-width: 62rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0.2rem 0; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid #999;
  padding-bottom: 0.2rem; }
.verdict { border: 3px solid #111; padding: 1rem 1.25rem; margin-bottom: 1.5rem; }
.verdict.fail { border-style: double; border-width: 6px; background: #fff1ec; }
.verdict.pass { background: #eef7ee; }
.verdict-word { font-size: 3rem; font-weight: 800; letter-spacing: 0.06em; margin: 0;
  line-height: 1.1; }
.verdict.fail .verdict-word { color: #a3260b; }
.verdict.pass .verdict-word { color: #1b6b2b; }
.verdict .summary { font-size: 1.1rem; margin: 0.3rem 0 0.6rem; font-weight: 600; }
.description { margin: 0.2rem 0 0.6rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem;
  margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 0.4rem 0 1rem; font-size: 0.9rem; }
caption { text-align: left; font-size: 0.85rem; color: #333; padding-bottom: 0.3rem; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.5rem; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ok, td.bad { font-weight: 700; white-space: nowrap; }
td.bad { color: #a3260b; }
td.ok { color: #1b6b2b; }
.table-wrap { overflow-x: auto; }
cite { font-style: normal; }
.none { color: #555; font-style: italic; }
figure { margin: 1rem 0 2rem; }
figure svg { display: block; width: 100%; height: auto; max-width: 52rem; }
figcaption { font-size: 0.9rem; color: #222; max-width: 52rem; margin-top: 0.3rem; }
pre { background: #f6f6f6; border: 1px solid #ccc; padding: 0.8rem; overflow-x: auto;
  font-size: 0.85rem; line-height: 1.35; white-space: pre-wrap; overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.note { font-size: 0.9rem; color: #333; }
footer { margin-top: 2.5rem; font-size: 0.8rem; color: #444; border-top: 1px solid #ccc;
  padding-top: 0.5rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  .verdict.fail, .verdict.pass, th { background: none; }
  .verdict-word, td.ok, td.bad { color: #000 !important; }
  h2 { break-after: avoid; }
  figure, table, tr, .verdict { break-inside: avoid; }
  pre { white-space: pre-wrap; }
}
"""


def _e(value: object) -> str:
    """Escaped text of any value (None as an em dash)."""
    return "—" if value is None else html.escape(str(value), quote=True)


def _num(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def _percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{100.0 * value:.3g} %" if value else "0 %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds:g} s ({seconds / 60:g} min)"
    return f"{seconds:g} s"


def _budget_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ratio":
        return _percent(value)
    if unit == "Mbps":
        return f"{value:.3g} Mbit/s"
    if unit == "ms":
        return f"{value:,.1f} ms" if value >= 10 else f"{value:.3g} ms"
    return f"{value:g} {unit}".strip()


def _metric_label(metric: str) -> str:
    if metric.startswith("latency_p"):
        digits = metric[len("latency_p") :]
        p = digits if len(digits) <= 2 or digits == "100" else f"{digits[:2]}.{digits[2:]}"
        return f"latency, p{p}"
    return {"loss_rate": "loss rate", "throughput": "throughput (minimum)"}.get(metric, metric)


def _verdict_cell(passed: bool) -> str:
    return '<td class="ok">✓ PASS</td>' if passed else '<td class="bad">✗ FAIL</td>'


def _header(doc: dict) -> str:
    passed = bool(doc.get("pass"))
    replications = doc.get("replications")
    budgets = (replications or {}).get("budgets") or doc.get("budgets") or []
    failed = sum(1 for b in budgets if not b.get("pass"))
    over = f" on the mean of {replications['n']} replications" if replications else ""
    if not budgets:
        summary = "no budgets to judge"
    elif failed:
        summary = f"{failed} of {len(budgets)} budgets failed{over}"
    else:
        summary = f"all {len(budgets)} budgets hold{over}"
    as_run = doc.get("scenario_as_run") or {}
    facts = [
        ("seed", _e(doc.get("seed"))),
        ("duration", _e(_duration(doc.get("duration_s")))),
        ("scenario file", f"<code>{_e(doc.get('scenario_file'))}</code>"),
        ("medlink", _e(doc.get("medlink_version"))),
        ("created", _e(doc.get("created_at"))),
    ]
    description = as_run.get("description") if isinstance(as_run, dict) else None
    word = "PASS" if passed else "FAIL"
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f'<header class="verdict {word.lower()}" id="verdict">\n'
        f'<p class="verdict-word">{word}</p>\n'
        f"<h1>{_e(doc.get('scenario'))}</h1>\n"
        + (f'<p class="description">{_e(description)}</p>\n' if description else "")
        + f'<p class="summary">{_e(summary)}</p>\n'
        f'<dl class="facts">{rows}</dl>\n</header>\n'
    )


def _budget_table(doc: dict) -> str:
    budgets = doc.get("budgets") or []
    out = ['<section id="budgets">\n<h2>Budgets</h2>\n']
    if not budgets:
        out.append('<p class="none">The scenario sets no budgets.</p>\n</section>\n')
        return "".join(out)
    out.append(
        '<div class="table-wrap"><table>\n<caption>Each budget, its measured value and '
        "the source it cites. Margin: value ÷ limit (minimum throughput: limit ÷ value); "
        "below 1 passes.</caption>\n<thead><tr><th>stream</th><th>metric</th>"
        "<th>value</th><th>limit</th><th>margin</th><th>verdict</th><th>source</th>"
        "</tr></thead>\n<tbody>\n"
    )
    for b in budgets:
        unit = str(b.get("unit") or "")
        bound = "≥" if b.get("metric") == "throughput" else "≤"
        margin = budget_margin(b)
        margin_text = f"{margin:.3g}" if math.isfinite(margin) else "—"
        source = b.get("source")
        name = b.get("name")
        cited = f"<cite>{_e(source)}</cite>" if source else '<span class="none">none given</span>'
        metric = _e(_metric_label(str(b.get("metric", ""))))
        if name:
            metric += f" <span class='none'>({_e(name)})</span>"
        out.append(
            f"<tr><td>{_e(b.get('stream'))}</td><td>{metric}</td>"
            f'<td class="num">{_e(_budget_value(b.get("value"), unit))}</td>'
            f'<td class="num">{bound} {_e(_budget_value(b.get("limit"), unit))}</td>'
            f'<td class="num">{_e(margin_text)}</td>'
            f"{_verdict_cell(bool(b.get('pass')))}<td>{cited}</td></tr>\n"
        )
    out.append("</tbody></table></div>\n</section>\n")
    return "".join(out)


def _stream_table(doc: dict) -> str:
    streams = doc.get("streams") or {}
    if not streams:
        return ""
    head = (
        "stream",
        "sent",
        "delivered",
        "loss",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "jitter ms",
        "Mbit/s",
    )
    out = [
        '<section id="streams">\n<h2>Streams</h2>\n<div class="table-wrap"><table>\n'
        "<caption>One-way latency over delivered packets; loss counts packets lost and "
        "dropped; jitter as RFC 3550 (mean); throughput delivered.</caption>\n<thead><tr>",
        "".join(f"<th>{h}</th>" for h in head),
        "</tr></thead>\n<tbody>\n",
    ]
    for name, s in streams.items():
        lat = s.get("latency_ms") or {}
        cells = [
            _num(s.get("packets_sent"), 0),
            _num(s.get("packets_delivered"), 0),
            _percent(s.get("loss_rate")),
            *(_num(lat.get(k), 2) for k in ("p50", "p95", "p99", "p999", "max")),
            _num(s.get("jitter_ms"), 2),
            _num(s.get("throughput_mbps"), 3),
        ]
        out.append(_row(name, cells))
    out.append("</tbody></table></div>\n</section>\n")
    return "".join(out)


_WEBRTC_STATS = {
    "webrtc-video": (
        ("framesRendered", "rendered"),
        ("framesDropped", "dropped"),
        ("freezeCount", "freezes"),
        ("totalFreezesDuration", "frozen s"),
        ("nackCount", "NACKs"),
        ("retransmittedPacketsSent", "RTX"),
        ("pliCount", "PLIs"),
    ),
    "webrtc-audio": (
        ("concealedSamples", "concealed samples"),
        ("concealmentEvents", "concealment events"),
        ("packetsDiscarded", "late discards"),
    ),
    "datachannel": (
        ("retransmissions", "retransmissions"),
        ("abandonedMessages", "abandoned"),
        ("headOfLineBlockedMessages", "held behind a loss"),
    ),
}


def _webrtc_table(doc: dict) -> str:
    """What each WebRTC stream delivered: its units' latency and its W3C counters."""
    streams = {
        name: s["webrtc"] for name, s in (doc.get("streams") or {}).items() if s.get("webrtc")
    }
    if not streams:
        return ""
    head = ("stream", "unit", "sent", "arrived", "p50 ms", "p99 ms", "max ms", "counters")
    out = [
        '<section id="webrtc">\n<h2>WebRTC: what the clinician receives</h2>\n'
        '<div class="table-wrap"><table>\n'
        "<caption>Video frames from capture to render, audio frames from capture to "
        "playout, data-channel messages from send to delivery (docs/webrtc.md); counters "
        "under their W3C webrtc-stats names.</caption>\n<thead><tr>",
        "".join(f"<th>{h}</th>" for h in head),
        "</tr></thead>\n<tbody>\n",
    ]
    for name, w in streams.items():
        lat = w.get("latency_ms") or {}
        stats = w.get("stats") or {}
        counters = ", ".join(
            f"{label} {_num(stats.get(key), 2 if isinstance(stats.get(key), float) else 0)}"
            for key, label in _WEBRTC_STATS.get(w.get("kind"), ())
            if key in stats
        )
        mode = (w.get("detail") or {}).get("mode")
        cells = [
            w.get("unit"),
            _num(w.get("units"), 0),
            _num(w.get("units_arrived"), 0),
            *(_num(lat.get(k), 2) for k in ("p50", "p99", "max")),
        ]
        numbers = "".join(f'<td class="num">{_e(c)}</td>' for c in cells)
        text = counters + (f" ({mode})" if mode else "")
        out.append(f"<tr><td>{_e(name)}</td>{numbers}<td>{_e(text)}</td></tr>\n")
    out.append("</tbody></table></div>\n</section>\n")
    return "".join(out)


def _row(name: object, cells: list) -> str:
    """A table row: the name, then numeric cells (escaped)."""
    numbers = "".join(f'<td class="num">{_e(c)}</td>' for c in cells)
    return f"<tr><td>{_e(name)}</td>{numbers}</tr>\n"


def _events_table(doc: dict) -> str:
    events = doc.get("events") or {}
    if not events:
        return ""
    head = (
        "link",
        "handovers",
        "per min",
        "interruption p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "interrupted s",
        "outages",
        "outage s",
        "longest s",
    )
    out = [
        '<section id="events">\n<h2>Handovers and outages</h2>\n<div class="table-wrap">'
        "<table>\n<caption>Control events per radio link during the run (not the drain): "
        "handovers with their interruption times, and outages (radio link failures)."
        "</caption>\n<thead><tr>",
        "".join(f"<th>{h}</th>" for h in head),
        "</tr></thead>\n<tbody>\n",
    ]
    for name, e in events.items():
        inter = e.get("interruption_ms") or {}
        cells = [
            _num(e.get("handovers"), 0),
            _num(e.get("handovers_per_min"), 2),
            *(_num(inter.get(k), 1) for k in ("p50", "p95", "p99", "max")),
            _num(e.get("interruption_total_s"), 2),
            _num(e.get("outages"), 0),
            _num(e.get("outage_total_s"), 2),
            _num(e.get("longest_outage_s"), 2),
        ]
        out.append(_row(name, cells))
    out.append("</tbody></table></div>\n</section>\n")
    return "".join(out)


def _figures(doc: dict) -> str:
    out = ['<section id="figures">\n<h2>Figures</h2>\n']
    try:
        from . import plots
    except ImportError as exc:  # matplotlib is optional for the tables
        out.append(f'<p class="none">Figures unavailable: {_e(exc)}.</p>\n</section>\n')
        return "".join(out)
    figures = plots.all_figures(doc)
    if not figures:
        out.append('<p class="none">Nothing to plot.</p>\n')
    for n, (key, title, fig) in enumerate(figures, start=1):
        base = "along-route" if key.startswith("along-route") else key
        caption = FIGURE_CAPTIONS.get(base, "")
        svg = plots.figure_svg(fig, id_prefix=f"f{n}-")
        svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_e(title)}" ', 1)
        out.append(
            f'<figure id="fig-{_e(key)}">\n{svg}<figcaption><strong>Figure {n}. '
            f"{_e(title)}.</strong> {_e(caption)}</figcaption>\n</figure>\n"
        )
    out.append("</section>\n")
    return "".join(out)


def _overrides(doc: dict, as_run: dict) -> list[str]:
    """Notes where the run differs from the scenario text (command-line overrides)."""
    notes = []
    seed = as_run.get("seed")
    if seed is not None and doc.get("seed") is not None and seed != doc.get("seed"):
        notes.append(f"seed {doc.get('seed')} (the scenario says {seed})")
    duration = as_run.get("duration")
    if duration is not None and doc.get("duration_s") is not None:
        try:
            from .units import parse_time

            written = parse_time(str(duration)) if isinstance(duration, str) else float(duration)
        except Exception:  # noqa: BLE001 - a note only; never fail the report on it
            written = None
        if written is not None and not math.isclose(written, float(doc["duration_s"])):
            notes.append(f"duration {doc['duration_s']:g} s (the scenario says {duration})")
    return notes


def _scenario(doc: dict) -> str:
    as_run = doc.get("scenario_as_run")
    facts = [
        ("seed", _e(doc.get("seed"))),
        ("scenario file", f"<code>{_e(doc.get('scenario_file'))}</code>"),
        ("SHA-256", f"<code>{_e(doc.get('scenario_sha256'))}</code>"),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    out = [
        '<section id="scenario">\n<h2>The scenario as run</h2>\n',
        f'<dl class="facts">{rows}</dl>\n',
    ]
    if isinstance(as_run, dict):
        notes = _overrides(doc, as_run)
        if notes:
            out.append(
                f'<p class="note">Overridden on the command line: {_e("; ".join(notes))}.</p>\n'
            )
        text = yaml.safe_dump(as_run, sort_keys=False, allow_unicode=True, width=90)
        out.append(f'<pre><code class="language-yaml">{_e(text)}</code></pre>\n')
    else:
        out.append('<p class="none">The scenario text is not in this document.</p>\n')
    out.append("</section>\n")
    return "".join(out)


def _replications_table(doc: dict) -> str:
    """Budgets over independent replications: mean, 95 % interval, runs passed, settled."""
    rep = doc.get("replications")
    if not rep:
        return ""
    head = ["stream", "metric", "mean", "95 % interval", "limit", "runs passed", "verdict"]
    out = [
        '<section id="replications">\n<h2>Over '
        f"{_e(rep['n'])} replications (seeds {_e(rep['seeds'][0])}..{_e(rep['seeds'][-1])})"
        '</h2>\n<div class="table-wrap"><table>\n<caption>Each budget judged on the mean '
        "of its metric over independent runs; a verdict is settled when the whole 95 % "
        "interval lies on one side of the limit. The other tables and the figures show the "
        "first replication.</caption>\n<thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead>\n<tbody>\n"
    ]
    for b in rep.get("budgets") or []:
        value = b["value"]
        scale = 100.0 if b["unit"] == "ratio" else 1.0
        unit = "%" if b["unit"] == "ratio" else b["unit"]

        def shown(x, scale=scale, unit=unit):
            return "—" if x is None else f"{x * scale:.4g} {unit}"

        low, high = value.get("low"), value.get("high")
        span = "—" if low is None else f"{shown(low)} to {shown(high)}"
        verdict = ("PASS" if b["pass"] else "FAIL") + ("" if b["settled"] else " (not settled)")
        cells = [
            b["metric"],
            shown(value.get("mean")),
            span,
            shown(b["limit"]),
            f"{b['runs_passed']} of {rep['n']}",
            verdict,
        ]
        out.append(_row(b["stream"], cells))
    out.append("</tbody></table></div>\n</section>\n")
    return "".join(out)


def _per_km_table(doc: dict) -> str:
    """Where on the road the service breaks: a workload's per-km figures, when it has them."""
    out = []
    for workload, metrics in (doc.get("workloads") or {}).items():
        per_km = (metrics or {}).get("per_km")
        if not per_km:
            continue
        streams = per_km.get("streams") or {}
        limits = {}
        for b in doc.get("budgets") or []:
            if str(b.get("metric", "")).startswith("latency_p"):
                limits[b["stream"]] = min(limits.get(b["stream"], float("inf")), b["limit"])
        links = sorted(set(per_km.get("outage_s") or {}) | set(per_km.get("handovers") or {}))
        head = ["km"]
        for name in streams:
            head += [f"{name} p99 ms", f"{name} loss"]
        for link in links:
            head += [f"{link} outage s", f"{link} handovers"]
        out.append(
            f'<section id="per-km-{_e(workload)}">\n<h2>Along the route, per km ({_e(workload)})'
            '</h2>\n<div class="table-wrap"><table>\n<caption>Per km of the route, by where the '
            "vehicle was when a packet was sent: the p99 one-way latency and loss of each "
            "stream (a ✗ marks a p99 above the stream's tightest latency limit), and the outage "
            "time and handovers of each radio link.</caption>\n<thead><tr>"
            + "".join(f"<th>{_e(h)}</th>" for h in head)
            + "</tr></thead>\n<tbody>\n"
        )
        for k, km in enumerate(per_km.get("km") or []):
            cells = [str(km)]
            for name, values in streams.items():
                p99 = (values.get("latency_p99_ms") or [None])[k]
                mark = " ✗" if p99 is not None and p99 > limits.get(name, float("inf")) else ""
                cells.append(_num(p99, 1) + mark)
                cells.append(_percent((values.get("loss") or [None])[k]))
            for link in links:
                outage = (per_km.get("outage_s") or {}).get(link)
                handovers = (per_km.get("handovers") or {}).get(link)
                cells.append(_num(outage[k] if outage else 0.0, 1))
                cells.append(_num(handovers[k] if handovers else 0, 0))
            out.append("<tr>" + "".join(f'<td class="num">{_e(c)}</td>' for c in cells) + "</tr>\n")
        out.append("</tbody></table></div>\n</section>\n")
    return "".join(out)


def render_report(doc: dict) -> str:
    """The report of one run as a self-contained HTML5 page (see the module docstring).

    Parameters
    ----------
    doc
        The results.json document (:func:`netsim.files.results_document`).

    Returns
    -------
    str
        The HTML text: inline CSS and SVG, no script, no external resource.
    """
    word = "PASS" if doc.get("pass") else "FAIL"
    title = f"medlink {word}: {doc.get('scenario')}"
    parts = [
        "<!DOCTYPE html>\n",
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="generator" content="medlink">\n',
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n",
        _header(doc),
        _budget_table(doc),
        _stream_table(doc),
        _webrtc_table(doc),
        _replications_table(doc),
        _events_table(doc),
        _per_km_table(doc),
        _figures(doc),
        _scenario(doc),
        "</main>\n<footer>Generated by medlink "
        f"{_e(doc.get('medlink_version'))} from results.json (format "
        f"{_e(doc.get('format'))}). Simulated figures: one run, one seed.</footer>\n",
        "</body>\n</html>\n",
    ]
    return "".join(parts)


def write_report(path: str | Path, doc: dict) -> Path:
    """Write :func:`render_report` of ``doc`` to ``path`` atomically (UTF-8); return the path."""
    from .files import atomic_write

    path = Path(path)
    text = render_report(doc)
    with atomic_write(path) as f:
        f.write(text)
    return path
