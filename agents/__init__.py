"""Who decides: hedging agents, the risk manager and the book. No Ray here.

Write your own agent by subclassing :class:`Agent` (see ``docs/custom_agents.md``).
"""

from agents.allocation import EventAwareAllocation, StaticAllocation
from agents.base import Agent, AgentConfig, AgentError, AgentTurn
from agents.book import BookFlow, BookKeeper, BookPosition
from agents.delta import DeltaHedger, DeltaHedgerConfig
from agents.gamma import GammaHedger, GammaHedgerConfig
from agents.manager import RiskManager
from agents.manager_config import ConfigResult, ManagerConfig, cascade_order
from agents.monitor import ModelMonitor, MonitorConfig
from agents.portfolio import BookGreeks, OptionLine, Portfolio, QuoteMemo, UnitQuote
from agents.vega import VegaHedger, VegaHedgerConfig

#: Short names a scenario may use instead of a dotted path.
BUILTIN_AGENTS: dict[str, type[Agent]] = {
    "delta": DeltaHedger,
    "gamma": GammaHedger,
    "vega": VegaHedger,
}

__all__ = [
    "BUILTIN_AGENTS",
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentTurn",
    "BookFlow",
    "BookGreeks",
    "BookKeeper",
    "BookPosition",
    "ConfigResult",
    "DeltaHedger",
    "DeltaHedgerConfig",
    "EventAwareAllocation",
    "GammaHedger",
    "GammaHedgerConfig",
    "ManagerConfig",
    "ModelMonitor",
    "MonitorConfig",
    "OptionLine",
    "Portfolio",
    "QuoteMemo",
    "RiskManager",
    "StaticAllocation",
    "UnitQuote",
    "VegaHedger",
    "VegaHedgerConfig",
    "cascade_order",
]
