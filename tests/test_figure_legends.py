"""The figures' legends fit inside them, and no two series look alike: a bonded ambulance
has ten streams and two capacity lines in one legend (run here for 20 s)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from netsim.engine import run
from netsim.plots import all_figures
from netsim.plots_style import CAPACITY_LOOKS, MARKERS, series_style
from netsim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_the_first_49_series_all_look_different():
    looks = {tuple(sorted((k, str(v)) for k, v in series_style(i).items())) for i in range(49)}
    assert len(looks) == 49
    # markers alone tell streams from capacity lines
    assert not {look["marker"] for look in CAPACITY_LOOKS} & set(MARKERS)


@pytest.fixture(scope="module")
def bonded_document() -> dict:
    loaded = load_scenario(SCENARIOS / "ambulance-bonded.yaml")
    plan = dataclasses.replace(loaded.plan, duration_s=20.0)
    return run(plan, packets=False).to_dict()


def test_every_legend_fits_its_figure(bonded_document):
    figures = all_figures(bonded_document)
    names = [name for name, _, _ in figures]
    assert "latency-over-time" in names and any(n.startswith("along-route") for n in names)
    checked = 0
    for name, _, fig in figures:
        fig.canvas.draw()
        box = fig.bbox
        for legend in fig.legends:
            extent = legend.get_window_extent()
            assert extent.x0 >= box.x0 - 0.5 and extent.x1 <= box.x1 + 0.5, name
            assert extent.y0 >= box.y0 - 0.5 and extent.y1 <= box.y1 + 0.5, name
            checked += 1
    assert checked >= 3
