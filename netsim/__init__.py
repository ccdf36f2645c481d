"""netsim: medlink's engine. Links, paths, streams, budgets; nothing clinical.

The documented API::

    from netsim import load_scenario, run
    scenario = load_scenario("scenarios/md1-check.yaml")
    results = run(scenario.plan, seed=7)
    results.streams["probe"].latency_ms["p99"]
    results.packets.t_recv_s          # one row per packet, NaN when not delivered
"""

from .engine import run, simulate
from .errors import ScenarioError
from .results import Results
from .scenario import Scenario, load_scenario, load_scenario_text
from .version import __version__

__all__ = [
    "__version__",
    "load_scenario",
    "load_scenario_text",
    "run",
    "simulate",
    "Results",
    "Scenario",
    "ScenarioError",
]
