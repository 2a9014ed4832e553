"""How it runs: the step protocol in-process and on Ray, config, CLI, metrics."""

from orchestration.config import (
    AgentSpec,
    HedgeConfig,
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
    validate_scenario,
)
from orchestration.engine import LocalRuntime, Pipeline, build_components, run_local, run_protocol
from orchestration.metrics import config_metrics, pnl_sha256
from orchestration.stress_search import (
    OBJECTIVES,
    Bound,
    StressResult,
    compare_configs,
    parse_bounds,
    run_stress,
)

__all__ = [
    "OBJECTIVES",
    "AgentSpec",
    "Bound",
    "HedgeConfig",
    "LocalRuntime",
    "Pipeline",
    "Scenario",
    "ScenarioError",
    "StressResult",
    "apply_overrides",
    "build_components",
    "compare_configs",
    "config_metrics",
    "load_scenario",
    "parse_bounds",
    "pnl_sha256",
    "run_local",
    "run_protocol",
    "run_stress",
    "validate_scenario",
]
