"""How it runs: the step protocol in-process and on Ray, config, CLI, metrics.

The public names are imported on first use (PEP 562), so importing one
light submodule (``gammaray list``'s :mod:`orchestration._listing`) does not
load the engine, Ray glue or pricing code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestration.config import (
        AgentSpec,
        HedgeConfig,
        Scenario,
        ScenarioError,
        apply_overrides,
        load_scenario,
        validate_scenario,
    )
    from orchestration.engine import (
        LocalRuntime,
        Pipeline,
        build_components,
        run_local,
        run_protocol,
    )
    from orchestration.metrics import config_metrics, pnl_sha256
    from orchestration.stress_search import (
        OBJECTIVES,
        Bound,
        StressResult,
        compare_configs,
        parse_bounds,
        run_stress,
    )

#: Public name -> the module that defines it.
_EXPORTS = {
    **dict.fromkeys(
        (
            "AgentSpec",
            "HedgeConfig",
            "Scenario",
            "ScenarioError",
            "apply_overrides",
            "load_scenario",
            "validate_scenario",
        ),
        "orchestration.config",
    ),
    **dict.fromkeys(
        ("LocalRuntime", "Pipeline", "build_components", "run_local", "run_protocol"),
        "orchestration.engine",
    ),
    **dict.fromkeys(("config_metrics", "pnl_sha256"), "orchestration.metrics"),
    **dict.fromkeys(
        ("OBJECTIVES", "Bound", "StressResult", "compare_configs", "parse_bounds", "run_stress"),
        "orchestration.stress_search",
    ),
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orchestration' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
