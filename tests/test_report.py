"""The figures and the HTML report, drawn from the results.json document alone.

Documents come from small scenarios run through the API: a drive past radio sites with a
coverage hole (handovers, one outage, two streams, failing budgets) and a plain link.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from netsim import load_scenario_text, run
from netsim.files import results_document

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from netsim import plots  # noqa: E402
from netsim.report import budget_margin, render_report, write_report  # noqa: E402

XSS = "<script>alert(1)</script>"

RADIO = f"""\
name: road-report
description: "a road with a {XSS} coverage hole & handovers"
seed: 5
duration: 100s
drain: 2s
network:
  links:
    up:
      direction: uplink
      radio:
        route: {{length: 4km, speed: 144km/h}}
        sites: [[0m, 50m], [400m, 50m], [800m, 50m], [4km, 50m]]
        shadowing: false
        vehicle_penetration: false
streams:
  - {{name: vitals, type: cbr, packet_size: 200B, rate: 50pps, path: [up]}}
  - {{name: video, type: poisson, packet_size: 1200B, rate: 1Mbps, path: [up]}}
budgets:
  - {{stream: vitals, latency: 150ms, percentile: 99, source: "ITU-T G.114 <b>bold</b>"}}
  - {{stream: video, latency: 150ms, percentile: 99, max_loss: 1%}}
"""

PLAIN = """\
name: plain
seed: 3
duration: 10s
network:
  links:
    wire: {capacity: 10Mbps, delay: 5ms, jitter: 1ms}
streams:
  - {name: probe, type: poisson, packet_size: 1000B, rate: 300pps, path: [wire]}
budgets:
  - {stream: probe, latency: 50ms, percentile: 99, max_loss: 1%}
  - {stream: probe, min_throughput: 1Mbps}
"""


def _document(text: str, seed: int | None = None) -> dict:
    scenario = load_scenario_text(text)
    results = run(scenario.plan, seed=seed)
    doc = results_document(
        results,
        scenario_file="scenarios/test.yaml",
        scenario_sha256=scenario.sha256,
        scenario_document=scenario.document,
    )
    return json.loads(json.dumps(doc, allow_nan=False))  # exactly what results.json holds


@pytest.fixture(scope="module")
def radio_doc() -> dict:
    return _document(RADIO, seed=11)


@pytest.fixture(scope="module")
def plain_doc() -> dict:
    return _document(PLAIN)


@pytest.fixture(scope="module")
def radio_html(radio_doc) -> str:
    return render_report(radio_doc)


FIGURES = (
    plots.latency_cdf,
    plots.latency_ccdf,
    plots.latency_over_time,
    plots.along_route,
    plots.budget_margins,
)


def test_radio_document_has_handovers_and_an_outage(radio_doc):
    """The radio fixture exercises what the figures draw: both event kinds, two streams."""
    kinds = {e["kind"] for e in radio_doc["series"]["events"]}
    assert kinds == {"handover", "outage"}
    assert len(radio_doc["streams"]) == 2 and radio_doc["pass"] is False
    assert radio_doc["series"]["links"]["up"]["distance_m"]


@pytest.mark.parametrize("make", FIGURES, ids=lambda f: f.__name__)
def test_every_figure_draws_the_radio_document(make, radio_doc):
    """Each figure function returns a Figure with at least one axes for the radio run."""
    fig = make(radio_doc)
    assert isinstance(fig, Figure) and fig.axes


def test_along_route_needs_a_radio_link(plain_doc):
    """Without a radio link there is no route to plot: None, and all_figures skips it."""
    assert plots.along_route(plain_doc) is None
    ids = [key for key, _, _ in plots.all_figures(plain_doc)]
    assert ids == ["budget-margins", "latency-cdf", "latency-ccdf", "latency-over-time"]


def test_all_figures_in_report_order(radio_doc):
    """all_figures gives (id, title, Figure) in report order, along-route last."""
    figures = plots.all_figures(radio_doc)
    assert [key for key, _, _ in figures] == [
        "budget-margins",
        "latency-cdf",
        "latency-ccdf",
        "latency-over-time",
        "along-route",
    ]
    assert all(isinstance(fig, Figure) and title for _, title, fig in figures)


def test_empty_document_has_nothing_to_plot():
    """A document without series or budgets gives None everywhere, not an error."""
    doc = {"streams": {}, "budgets": [], "series": {}}
    assert all(make(doc) is None for make in FIGURES)
    assert plots.all_figures(doc) == []


def test_svg_is_self_contained_xml(radio_doc):
    """figure_svg parses as XML, has no prolog, no raster image and no remote reference."""
    svg = plots.figure_svg(plots.latency_over_time(radio_doc), id_prefix="f1-")
    assert svg.startswith("<svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "<image" not in svg and 'href="http' not in svg
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert ids and all(i.startswith("f1-") for i in ids)


def test_streams_differ_without_colour(radio_doc):
    """In the CDF the two streams differ in line style or marker, not only in colour."""
    lines = [ln for ln in plots.latency_cdf(radio_doc).axes[0].lines if ln.get_label()[0] != "_"]
    assert len(lines) == 2
    a, b = lines
    assert a.get_linestyle() != b.get_linestyle() or a.get_marker() != b.get_marker()


def test_budget_margin_below_one_passes_for_every_metric(plain_doc):
    """The margin is < 1 exactly for passing budgets, throughput (a lower bound) included."""
    metrics = {b["metric"] for b in plain_doc["budgets"]}
    assert "throughput" in metrics
    for budget in plain_doc["budgets"]:
        assert (budget_margin(budget) < 1) == budget["pass"] or budget_margin(budget) == 1
    assert budget_margin({"metric": "throughput", "value": 2.0, "limit": 1.0}) == 0.5
    assert budget_margin({"metric": "loss_rate", "value": None, "limit": 0.01}) == float("inf")


def test_save_by_extension(tmp_path, plain_doc):
    """save writes PNG, SVG and PDF by extension and refuses others."""
    fig = plots.budget_margins(plain_doc)
    for ext, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
        path = plots.save(fig, tmp_path / f"m.{ext}")
        assert path.read_bytes().startswith(magic)
    with pytest.raises(ValueError):
        plots.save(fig, tmp_path / "m.gif")


class _TagChecker(HTMLParser):
    """Counts unclosed and mismatched tags (void elements and SVG self-closing ignored)."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def test_report_is_balanced_html(radio_html):
    """The report parses as HTML with every tag closed, starting with the HTML5 doctype."""
    assert radio_html.startswith("<!DOCTYPE html>")
    checker = _TagChecker()
    checker.feed(radio_html)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert "svg" in checker.tags and "table" in checker.tags


def test_report_is_self_contained(radio_html):
    """No script, no remote source or link, no external stylesheet."""
    lowered = radio_html.lower()
    for needle in ("<script", 'src="http', 'href="http', "<link", "@import", "url(http"):
        assert needle not in lowered


def test_report_order_verdict_budgets_figures(radio_html):
    """FAIL comes before the budget table, and the budget table before the first figure."""
    fail = radio_html.index("FAIL")
    budgets = radio_html.index('id="budgets"')
    first_svg = radio_html.index("<svg")
    scenario = radio_html.index('id="scenario"')
    assert fail < budgets < first_svg < scenario


def test_report_escapes_user_text(radio_doc, radio_html):
    """Scenario text is escaped: the description's script tag and the source's tags."""
    assert XSS not in radio_html and "<b>bold</b>" not in radio_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in radio_html
    assert "ITU-T G.114 &lt;b&gt;bold&lt;/b&gt;" in radio_html


def test_report_cites_the_run(radio_doc, radio_html):
    """The seed, the SHA-256, the version and the scenario's YAML are in the report."""
    assert radio_doc["scenario_sha256"] in radio_html
    assert "<dt>seed</dt><dd>11</dd>" in radio_html
    assert "the scenario says 5" in radio_html  # seed given on the command line
    assert "route:" in radio_html and "name: road-report" in radio_html


def test_passing_report_says_pass(plain_doc):
    """A passing run says PASS in the verdict and no FAIL anywhere in the tables."""
    text = render_report(plain_doc)
    assert '<p class="verdict-word">PASS</p>' in text and "FAIL" not in text.split("<svg")[0]


def test_write_report_is_atomic(tmp_path, plain_doc):
    """write_report leaves only the report, UTF-8, and replaces an older one."""
    path = tmp_path / "report.html"
    path.write_text("old")
    write_report(path, plain_doc)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_report_opens_in_headless_chromium(tmp_path, radio_doc):
    """Chromium renders the report offline without console errors or failed loads."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("MEDLINK_REQUIRE_CHROMIUM") == "1":
            pytest.fail("MEDLINK_REQUIRE_CHROMIUM=1 but chromium is not installed")
        pytest.skip("chromium is not installed")
    report = write_report(tmp_path / "report.html", radio_doc)
    shot = tmp_path / "shot.png"
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        Path(report).resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000
    bad = [
        line
        for line in done.stderr.splitlines()
        if any(s in line for s in ("ERROR:CONSOLE", "Uncaught", "Failed to load resource"))
    ]
    assert bad == []
