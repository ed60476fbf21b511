"""A simulated Entra ID tenant under attack: four sign-in streams plus audit, in every source shape.

``simulate(SimulationConfig(...), out_dir)`` writes the logs and ``truth.json`` (the labelled scenarios); see
docs/simulator.md for the tenant model, the scenario catalogue and the design notes.
"""

from __future__ import annotations

from entrawatch.simulator.engine import DEFAULT_START, SimulationConfig, SimulationResult, simulate
from entrawatch.simulator.scenarios import ATTACK_IDS, BENIGN_IDS, CATALOGUE, SCENARIO_IDS
from entrawatch.simulator.writers import FORMATS

__all__ = [
    "ATTACK_IDS",
    "BENIGN_IDS",
    "CATALOGUE",
    "DEFAULT_START",
    "FORMATS",
    "SCENARIO_IDS",
    "SimulationConfig",
    "SimulationResult",
    "simulate",
]
