"""The short names a scenario may use for gammaray's own rule agents."""

from __future__ import annotations

from agents.base import Agent
from agents.delta import DeltaHedger
from agents.gamma import GammaHedger
from agents.vega import VegaHedger

#: Short names to the built-in rule agents (``{"cls": "delta"}`` in a scenario).
BUILTIN_AGENTS: dict[str, type[Agent]] = {
    "delta": DeltaHedger,
    "gamma": GammaHedger,
    "vega": VegaHedger,
}
