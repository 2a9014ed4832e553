"""Who decides: hedging agents, the risk manager and the book. No Ray here.

Write your own agent by subclassing :class:`Agent` (see ``docs/custom_agents.md``).
"""

from agents.allocation import EventAwareAllocation, StaticAllocation
from agents.base import (
    STATE_SCHEDULES,
    Agent,
    AgentConfig,
    AgentError,
    AgentTurn,
    BandBreach,
    EveryMinutes,
    EveryStep,
    OnRelease,
    Schedule,
    SpotMove,
)
from agents.book import BookFlow, BookKeeper, BookPosition
from agents.deep import LearnedHedger, LearnedHedgerConfig
from agents.delta import DeltaHedger, DeltaHedgerConfig
from agents.gamma import GammaHedger, GammaHedgerConfig
from agents.hybrid import ChildSpec, HybridConfig, HybridHedger
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
    "STATE_SCHEDULES",
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentTurn",
    "BandBreach",
    "BookFlow",
    "BookGreeks",
    "BookKeeper",
    "BookPosition",
    "ChildSpec",
    "ConfigResult",
    "DeltaHedger",
    "DeltaHedgerConfig",
    "EventAwareAllocation",
    "EveryMinutes",
    "EveryStep",
    "GammaHedger",
    "GammaHedgerConfig",
    "HybridConfig",
    "HybridHedger",
    "LearnedHedger",
    "LearnedHedgerConfig",
    "ManagerConfig",
    "ModelMonitor",
    "MonitorConfig",
    "OnRelease",
    "OptionLine",
    "Portfolio",
    "QuoteMemo",
    "RiskManager",
    "Schedule",
    "SpotMove",
    "StaticAllocation",
    "UnitQuote",
    "VegaHedger",
    "VegaHedgerConfig",
    "cascade_order",
]
