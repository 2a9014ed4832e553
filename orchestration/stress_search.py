"""The worst case of a hedging configuration, searched over bounded scenario fields.

``gammaray stress`` (:mod:`orchestration.cli_stress`) searches a box of
scenario fields — dotted paths as ``--set`` takes them, e.g.
``market.gap.size_std``, ``market.gap.crush``, ``market.surface.vol_of_vol``
— for the point where one configuration's loss is largest:

* **Bounds** (:func:`parse_bounds`): ``FIELD=LOW:HIGH``; every field must
  exist in the scenario and hold a number, ``LOW <= HIGH`` finite, and the
  scenario must validate at both ends; otherwise one line naming the field.
* **Objective** (:data:`OBJECTIVES`): ``cvar_95`` (mean loss at or beyond
  the 95% VaR), ``mean_loss`` (``-pnl_mean``) or ``pnl_std``; all in
  currency units of the scenario, larger is worse.
* **Search** (:func:`run_stress`): batches proposed by the seeded
  :class:`~orchestration._stress_searcher.TrustRegionSearcher`; each batch is
  evaluated by :func:`orchestration.sweep.run_sweep` (one Ray task per point
  over the cluster, or in-process) and its rows are sorted into proposal
  order before the searcher sees them, so the evaluated points and their
  values are the same on any number of Ray workers and in-process. Each
  evaluation runs the scenario with only the searched configuration (its
  P&L bits are those of the same configuration in the whole scenario: the
  paths do not depend on which configurations run beside it).
* **Comparison** (:func:`compare_configs`): every configuration of the
  scenario at the base point and at the worst point, ranked by the
  objective at the worst point: the first *breaks first*, the last *holds*.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orchestration._stress_searcher import TrustRegionSearcher
from orchestration.config import Scenario, ScenarioError, apply_overrides, validate_scenario
from orchestration.engine import RunFailed
from orchestration.sweep import run_sweep

#: Objectives: name -> (sweep row -> loss, larger is worse), in currency units.
OBJECTIVES: dict[str, Callable[[dict[str, Any]], float]] = {
    "cvar_95": lambda r: float(r["cvar_95"]),
    "mean_loss": lambda r: -float(r["pnl_mean"]),
    "pnl_std": lambda r: float(r["pnl_std"]),
}

#: Columns of the evaluated-points table after the searched fields.
RESULT_COLUMNS = (
    "loss",
    "cvar_95",
    "var_95",
    "mean_loss",
    "pnl_std",
    "transaction_cost",
    "budget_breaches",
    "pnl_sha256",
    "error",
)


@dataclass(frozen=True)
class Bound:
    """One searched field.

    Attributes:
        field: Dotted scenario path (as ``--set`` takes it).
        low: Lower bound, the field's unit.
        high: Upper bound, the field's unit (``>= low``).
        integer: The field holds an integer: points are rounded.
    """

    field: str
    low: float
    high: float
    integer: bool = False

    def value(self, u: float) -> float | int:
        """The field's value at unit coordinate ``u`` in ``[0, 1]``."""
        if u >= 1.0:
            x = self.high  # the bound exactly, not low + 1.0 * (high - low)
        elif u <= 0.0:
            x = self.low
        else:
            x = self.low + u * (self.high - self.low)
        return round(x) if self.integer else float(x)

    def unit(self, x: float) -> float:
        """The unit coordinate of value ``x``."""
        return 0.0 if self.high == self.low else (x - self.low) / (self.high - self.low)


def _lookup(data: Any, field: str) -> tuple[bool, Any]:
    """Whether the dotted path exists in the dumped scenario, and its value."""
    node, parts, i = data, field.split("."), 0
    while i < len(parts):
        if isinstance(node, dict):
            for j in range(len(parts), i, -1):  # keys with dots in them (config names)
                key = ".".join(parts[i:j])
                if key in node:
                    node, i = node[key], j
                    break
            else:
                return False, None
        elif isinstance(node, list | tuple) and parts[i].isdigit() and int(parts[i]) < len(node):
            node, i = node[int(parts[i])], i + 1
        else:
            return False, None
    return True, node


def _number(text: str, where: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ScenarioError(f"--search {where}: {text!r} is not a number") from None
    if not math.isfinite(x):
        raise ScenarioError(f"--search {where}: {text!r} is not a finite number")
    return x


def parse_bounds(scenario: Scenario, specs: list[str]) -> list[Bound]:
    """Parse and check ``FIELD=LOW:HIGH`` specs against a scenario.

    Args:
        scenario: The scenario searched (its user overrides applied).
        specs: The ``--search`` values.

    Raises:
        ScenarioError: One line naming the field: no spec, a malformed or
            repeated one, a non-numeric or non-finite bound, ``LOW > HIGH``,
            an unknown field, a field that holds no number, or a bound at
            which the scenario is invalid.
    """
    if not specs:
        raise ScenarioError("give at least one --search FIELD=LOW:HIGH")
    data = scenario.model_dump(mode="python")  # "json" refuses user classes (AgentSpec.cls)
    bounds: list[Bound] = []
    for spec in specs:
        name, eq, rng = spec.partition("=")
        name = name.strip()
        lo_text, colon, hi_text = rng.partition(":")
        if not name:
            raise ScenarioError(f"--search {spec!r}: expected FIELD=LOW:HIGH")
        if not eq or not colon or not lo_text.strip() or not hi_text.strip():
            raise ScenarioError(f"--search {name}: expected {name}=LOW:HIGH, got {spec!r}")
        if any(b.field == name for b in bounds):
            raise ScenarioError(f"--search {name}: the field is given twice")
        low, high = _number(lo_text, f"{name} low"), _number(hi_text, f"{name} high")
        if low > high:
            raise ScenarioError(f"--search {name}: low {low:g} is above high {high:g}")
        found, current = _lookup(data, name)
        if not found:
            raise ScenarioError(f"--search {name}: unknown field (use a dotted path as --set)")
        if isinstance(current, bool) or not (current is None or isinstance(current, int | float)):
            shown = json.dumps(current, default=repr)[:40]
            raise ScenarioError(f"--search {name}: the field holds {shown}, not a number")
        integer = isinstance(current, int)
        if integer and (low != round(low) or high != round(high)):
            raise ScenarioError(f"--search {name}: an integer field needs integer bounds")
        bound = Bound(name, low, high, integer)
        for end in (bound.value(0.0), bound.value(1.0)):
            try:
                apply_overrides(scenario, [f"{name}={json.dumps(end)}"])
            except ScenarioError as exc:
                raise ScenarioError(f"--search {name}={end:g}: {exc}") from None
        bounds.append(bound)
    return bounds


def only_config(scenario: Scenario, config: str) -> Scenario:
    """The scenario with one of its configurations only.

    Raises:
        ScenarioError: It has no configuration of that name.
    """
    if config not in scenario.configs:
        known = ", ".join(scenario.configs)
        raise ScenarioError(
            f"--config {config!r}: the scenario has no such configuration ({known})"
        )
    data = scenario.model_dump(mode="python")
    data["configs"] = {config: data["configs"][config]}
    return validate_scenario(data)


@dataclass
class StressResult:
    """What a search found.

    Attributes:
        bounds: The searched fields.
        config: The configuration searched.
        objective: The objective's name.
        rows: One per evaluation, in proposal order: ``eval``, ``batch``,
            each field's value and :data:`RESULT_COLUMNS`.
        worst: The row of the largest loss (the earliest of equal ones).
    """

    bounds: list[Bound]
    config: str
    objective: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def worst(self) -> dict[str, Any]:
        """The row of the largest finite loss (the earliest of equals)."""
        ok = [r for r in self.rows if r["error"] is None and math.isfinite(r["loss"])]
        if not ok:
            first = next((r["error"] for r in self.rows if r["error"]), "no evaluation")
            raise RunFailed(f"every evaluation of {self.config!r} failed; the first: {first}")
        return max(ok, key=lambda r: (r["loss"], -r["eval"]))

    def point(self, row: dict[str, Any] | None = None) -> dict[str, float | int]:
        """Field values of a row (default: the worst)."""
        row = self.worst if row is None else row
        return {b.field: row[b.field] for b in self.bounds}


def default_batch(budget: int) -> int:
    """Points per batch: between 2 and 8, a quarter of the budget."""
    return max(2, min(8, budget // 4))


def run_stress(
    scenario: Scenario,
    config: str,
    bounds: list[Bound],
    objective: str = "cvar_95",
    budget: int = 32,
    seed: int = 0,
    runtime: str = "local",
    batch: int | None = None,
    max_in_flight: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> StressResult:
    """Search the box for the configuration's largest loss.

    Args:
        scenario: The base scenario (user overrides and path count applied).
        config: The configuration whose loss is maximised.
        bounds: From :func:`parse_bounds`.
        objective: A key of :data:`OBJECTIVES`.
        budget: Evaluations in all (>= 1).
        seed: The searcher's seed (the scenario's own seed stays as it is).
        runtime: ``"ray"`` (each evaluation one task over the cluster, a batch
            at a time) or ``"local"``.
        batch: Points per batch (default :func:`default_batch`); part of
            what the result depends on, unlike ``max_in_flight``.
        max_in_flight: Ray tasks submitted at once (default: twice the CPUs).
        on_done: Called with the number of evaluations done.

    Returns:
        The evaluations and the worst point.
    """
    if objective not in OBJECTIVES:
        raise ScenarioError(f"--objective {objective!r}: use one of {', '.join(OBJECTIVES)}")
    if budget < 1:
        raise ScenarioError(f"--budget {budget}: give at least 1 evaluation")
    one = only_config(scenario, config)
    q = batch or default_batch(budget)
    d = len(bounds)

    def snap(u: np.ndarray) -> np.ndarray:
        out = u.copy()
        for j, b in enumerate(bounds):
            if b.integer:
                out[:, j] = [b.unit(b.value(float(x))) for x in u[:, j]]
        return out

    n_init = min(max(q, d + 1), max(1, budget // 2))
    searcher = TrustRegionSearcher(d, seed, n_init=n_init, batch=q, snap=snap)
    result = StressResult(bounds, config, objective)
    loss_of = OBJECTIVES[objective]
    n_batch = 0
    while len(result.rows) < budget:
        want = min(budget - len(result.rows), searcher.n_init if n_batch == 0 else q)
        units = searcher.propose(want)
        if not len(units):
            break  # the box holds no point not yet evaluated
        runs: list[dict[str, Any]] = []
        for u in units:
            point = {b.field: b.value(float(x)) for b, x in zip(bounds, u, strict=True)}
            runs.append({"run": len(result.rows) + len(runs), "seed": None, "overrides": point})
        rows = run_sweep(one, runs, runtime, max_in_flight, _offset(on_done, len(result.rows)))
        values = []
        for spec, row in zip(runs, rows, strict=True):
            bad = row["error"] is not None
            loss = math.nan if bad else loss_of(row)
            result.rows.append(
                {
                    "eval": spec["run"],
                    "batch": n_batch,
                    **spec["overrides"],
                    "loss": loss,
                    "cvar_95": row.get("cvar_95"),
                    "var_95": row.get("var_95"),
                    "mean_loss": None if bad else -row["pnl_mean"],
                    "pnl_std": row.get("pnl_std"),
                    "transaction_cost": row.get("transaction_cost"),
                    "budget_breaches": row.get("budget_breaches"),
                    "pnl_sha256": row.get("pnl_sha256"),
                    "error": row["error"],
                }
            )
            values.append(loss)
        searcher.tell(units, np.asarray(values, dtype=float))
        n_batch += 1
    return result


def _offset(on_done: Callable[[int], None] | None, start: int) -> Callable[[int], None] | None:
    """``on_done`` counting from ``start`` (a batch's runs after the earlier batches')."""
    if on_done is None:
        return None
    return lambda k: on_done(start + k)


def compare_configs(
    scenario: Scenario,
    result: StressResult,
    runtime: str = "local",
    max_in_flight: int | None = None,
) -> list[dict[str, Any]]:
    """Every configuration at the base point and at the worst point, worst first.

    Returns:
        One dict per configuration: ``config``, ``base_loss``, ``worst_loss``,
        ``change`` (worst minus base), ``pnl_sha256`` at the worst point,
        ``error``, and ``rank`` (1 = the largest loss at the worst point:
        breaks first); sorted by rank.
    """
    runs: list[dict[str, Any]] = [
        {"run": 0, "seed": None, "overrides": {}},
        {"run": 1, "seed": None, "overrides": result.point()},
    ]
    rows = run_sweep(scenario, runs, runtime, max_in_flight)
    loss_of = OBJECTIVES[result.objective]
    base = {r["config"]: r for r in rows if r["run"] == 0}
    worst = {r["config"]: r for r in rows if r["run"] == 1}
    out: list[dict[str, Any]] = []
    for name in scenario.configs:
        b, w = base.get(name), worst.get(name)
        failed = {r["run"]: r["error"] for r in rows if r["config"] is None}
        errors = [failed.get(run) if r is None else r["error"] for run, r in ((0, b), (1, w))]
        err = next((e for e in errors if e), None)
        bl = math.nan if b is None or b["error"] else loss_of(b)
        wl = math.nan if w is None or w["error"] else loss_of(w)
        out.append(
            {
                "config": name,
                "base_loss": bl,
                "worst_loss": wl,
                "change": wl - bl,
                "pnl_sha256": None if w is None else w.get("pnl_sha256"),
                "error": err,
            }
        )
    out.sort(key=lambda r: -r["worst_loss"] if math.isfinite(r["worst_loss"]) else math.inf)
    for i, r in enumerate(out):
        r["rank"] = i + 1
    return out
