"""What is true about the world: pricing, surfaces, paths, execution, events.

Nothing here knows about agents or Ray.
"""

from market.clock import ClockConfig, ClockPoint, RefineWindow, Timeline, build_timeline
from market.config import (
    FitSpec,
    FittedConfig,
    FittedWorldParams,
    GapConfig,
    HestonWorld,
    HistoryWindowsConfig,
    InstrumentSpec,
    MarketConfig,
    MertonWorld,
    RegimeConfig,
    ReplayConfig,
)
from market.events import (
    Announcement,
    BudgetUpdate,
    EndOfRun,
    Fill,
    InstrumentQuote,
    MarketEvent,
    ModelAlert,
    Order,
    RiskSnapshot,
    decode,
    encode,
)
from market.execution import CostModel
from market.simulator import MarketSimulator
from market.surface import SurfaceConfig, SurfaceState
from market.validation import VOL_CEILING, StrictModel, Variance, Vol

__all__ = [
    "VOL_CEILING",
    "Announcement",
    "BudgetUpdate",
    "ClockConfig",
    "ClockPoint",
    "CostModel",
    "EndOfRun",
    "Fill",
    "FitSpec",
    "FittedConfig",
    "FittedWorldParams",
    "GapConfig",
    "HestonWorld",
    "HistoryWindowsConfig",
    "InstrumentQuote",
    "InstrumentSpec",
    "MarketConfig",
    "MarketEvent",
    "MarketSimulator",
    "MertonWorld",
    "ModelAlert",
    "Order",
    "RefineWindow",
    "RegimeConfig",
    "ReplayConfig",
    "RiskSnapshot",
    "StrictModel",
    "SurfaceConfig",
    "SurfaceState",
    "Timeline",
    "Variance",
    "Vol",
    "build_timeline",
    "decode",
    "encode",
]
