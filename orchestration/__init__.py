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

__all__ = [
    "AgentSpec",
    "HedgeConfig",
    "LocalRuntime",
    "Pipeline",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "build_components",
    "config_metrics",
    "load_scenario",
    "pnl_sha256",
    "run_local",
    "run_protocol",
    "validate_scenario",
]
