"""Who decides: hedging agents, the risk manager and the book. No Ray here.

Write your own agent by subclassing :class:`Agent` (see ``docs/custom_agents.md``),
your own manager or allocation policy by subclassing :class:`RiskManager` or
:class:`AllocationPolicy` (see ``docs/custom_managers.md``).
"""

from agents._builtins import BUILTIN_AGENTS
from agents._policy_base import (
    Allocation,
    AllocationPolicy,
    AllocationState,
    PolicyConfig,
    PolicyError,
)
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
from agents.manager_spec import BUILTIN_MANAGERS, ManagerSpec, resolve_manager_class
from agents.monitor import ModelMonitor, MonitorConfig
from agents.policies import (
    BUILTIN_POLICIES,
    CostAwarePolicy,
    EventAwarePolicy,
    StaticPolicy,
    VolScaledPolicy,
    build_policy,
)
from agents.policy_config import (
    CostAwareAllocation,
    EventAwareAllocation,
    PolicySpec,
    StaticAllocation,
    VolScaledAllocation,
)
from agents.portfolio import BookGreeks, OptionLine, Portfolio, QuoteMemo, UnitQuote
from agents.vega import VegaHedger, VegaHedgerConfig

__all__ = [
    "BUILTIN_AGENTS",
    "BUILTIN_MANAGERS",
    "BUILTIN_POLICIES",
    "STATE_SCHEDULES",
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentTurn",
    "Allocation",
    "AllocationPolicy",
    "AllocationState",
    "BandBreach",
    "BookFlow",
    "BookGreeks",
    "BookKeeper",
    "BookPosition",
    "ChildSpec",
    "ConfigResult",
    "CostAwareAllocation",
    "CostAwarePolicy",
    "DeltaHedger",
    "DeltaHedgerConfig",
    "EventAwareAllocation",
    "EventAwarePolicy",
    "EveryMinutes",
    "EveryStep",
    "GammaHedger",
    "GammaHedgerConfig",
    "HybridConfig",
    "HybridHedger",
    "LearnedHedger",
    "LearnedHedgerConfig",
    "ManagerConfig",
    "ManagerSpec",
    "ModelMonitor",
    "MonitorConfig",
    "OnRelease",
    "OptionLine",
    "PolicyConfig",
    "PolicyError",
    "PolicySpec",
    "Portfolio",
    "QuoteMemo",
    "RiskManager",
    "Schedule",
    "SpotMove",
    "StaticAllocation",
    "StaticPolicy",
    "UnitQuote",
    "VegaHedger",
    "VegaHedgerConfig",
    "VolScaledAllocation",
    "VolScaledPolicy",
    "build_policy",
    "cascade_order",
    "resolve_manager_class",
]
