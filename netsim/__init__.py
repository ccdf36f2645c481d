"""netsim: medlink's engine. Links, paths, streams, budgets; nothing clinical.

The documented API::

    from netsim import load_scenario, run
    scenario = load_scenario("scenarios/md1-check.yaml")
    results = run(scenario.plan, seed=7)
    results.streams["probe"].latency_ms["p99"]
    results.packets.t_recv_s          # one row per packet, NaN when not delivered
"""

__version__ = "0.1.0"

from .engine import run, simulate  # noqa: E402
from .errors import ScenarioError  # noqa: E402
from .results import Results  # noqa: E402
from .scenario import Scenario, load_scenario, load_scenario_text  # noqa: E402

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
