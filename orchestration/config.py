"""The Scenario model and how scenarios are loaded, overridden and validated.

A scenario is a pydantic model (frozen, unknown fields refused): the book,
the market, the hedging configurations to compare on identical paths, the
path count, the horizon and the seed. A scenario *script* (``scenarios/*.py``)
builds one and names it ``SCENARIO``; ``gammaray run`` loads the script, or a
built-in scenario by name, applies ``--set FIELD=VALUE`` overrides by dotted
path and validates the result like the file itself. Every failure is a
:class:`ScenarioError` with one line that names the field.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from agents import BUILTIN_AGENTS, Agent, BookFlow, BookPosition, ManagerConfig, RiskManager
from agents._resolve import did_you_mean, resolve_class
from agents.manager_spec import ManagerRef, manager_parts
from market.clock import ClockPoint, Timeline, build_timeline, wake_times
from market.config import MarketConfig
from market.execution import CostModel
from market.validation import StrictModel, non_finite_path
from orchestration._listing import (  # noqa: F401  (re-exported)
    builtin_scenarios,
    builtin_scenarios_root,
    scenario_listing,
)

#: Longest horizon, days (100 years).
MAX_DAYS = 36_525.0
#: Most hedging steps of one run (days * steps_per_day).
MAX_STEPS = 1_000_000


class ScenarioError(ValueError):
    """A scenario cannot be loaded or is invalid (exit status 2)."""


def resolve_agent_class(ref: str | type) -> type[Agent]:
    """The agent class a scenario names.

    Args:
        ref: A class, a built-in short name (``"delta"``, ``"gamma"``, ``"vega"``)
            or a dotted path (``"pkg.module.Class"`` or ``"pkg.module:Class"``).

    Raises:
        ValueError: It names no importable subclass of :class:`~agents.Agent`
            (one line, with the closest name where one is near).
    """
    return resolve_class(ref, Agent, BUILTIN_AGENTS, "agent class")


class AgentSpec(StrictModel):
    """One agent of a hedging configuration.

    Attributes:
        cls: The agent class, a built-in short name or a dotted path.
        name: Unique name in its configuration (default: the short name or
            the class name in lower case).
        config: Fields of the class's ``Config`` model.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    cls: str | type
    name: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> AgentSpec:
        cls = resolve_agent_class(self.cls)
        try:
            cfg = cls.Config.model_validate(self.config)
        except ValidationError as exc:
            raise ValueError(
                f"config of {cls.__name__}: {format_validation_error(exc, named=False)}"
            ) from None
        sch = cfg.schedule
        if sch.kind == "band" and sch.greek is None and cls.greek is None:
            raise ValueError(
                f"config of {cls.__name__}: schedule.greek: a band schedule needs a greek "
                "(the agent hedges none)"
            )
        return self

    @property
    def agent_class(self) -> type[Agent]:
        """The resolved agent class."""
        return resolve_agent_class(self.cls)

    @property
    def agent_name(self) -> str:
        """The agent's name in its configuration."""
        if self.name:
            return self.name
        return (
            self.cls
            if isinstance(self.cls, str) and "." not in self.cls
            else (self.agent_class.__name__.lower())
        )

    def build(self, rng: Any = None) -> Agent:
        """A new agent instance with its validated config and random generator ``rng``."""
        cls = self.agent_class
        return cls(self.agent_name, cls.Config.model_validate(self.config), rng=rng)


class HedgeConfig(StrictModel):
    """A hedging configuration: its agents and its manager.

    Attributes:
        agents: The hedging agents (none = unhedged).
        manager: Budget, allocation policy and limits (a
            :class:`~agents.ManagerConfig`), or a custom manager:
            ``{"cls": <RiskManager subclass or dotted path>, "config": {...}}``
            (:class:`~agents.ManagerSpec`).
    """

    agents: tuple[AgentSpec, ...] = ()
    manager: ManagerRef = ManagerConfig()

    @property
    def manager_class(self) -> type[RiskManager]:
        """The manager class (:class:`~agents.RiskManager` unless a spec names one)."""
        return manager_parts(self.manager)[0]

    @property
    def manager_config(self) -> ManagerConfig:
        """The manager's validated config (an instance of its class's ``Config``)."""
        return manager_parts(self.manager)[1]

    @model_validator(mode="after")
    def _check(self) -> HedgeConfig:
        names = [a.agent_name for a in self.agents]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"agent names must be unique, repeated: {dupes}")
        return self


class Scenario(StrictModel):
    """A runnable scenario: book, market, configurations, paths, horizon, seed.

    Attributes:
        name: Stable identifier (letters, digits, ``_``, ``-``).
        version: Scenario version, bumped when its numbers change on purpose.
        description: One line for ``gammaray list``.
        seed: Seed of every random stream (non-negative).
        n_paths: Paths simulated per configuration.
        days: Horizon, days.
        steps_per_day: Hedging steps per day.
        year_days: Days per year (365 = ACT/365; 252 for trading-day setups).
        market: World model, rates and listed instruments.
        book: Options the book holds at the start.
        flow: Client trades arriving in the book every day (None = none).
        configs: Hedging configurations by name, run on identical paths.
        risk_aversion: ``c`` in the objective ``mean(loss) + c * std(loss)``.
        shards: Split the paths into this many independent pipelines (Ray
            runs them in parallel; the numbers do not depend on it).
        placement: On Ray, ``"per-agent"`` (an actor per component) or
            ``"fused"`` (one actor per shard running all its components).
        option_cost: Proportional cost of option trades as a fraction of the
            premium traded (0.01 = 1%); when set it replaces ``fee_pct`` of
            every listed option (e.g. ``--set option_cost=0.02``).
        currency: ISO 4217 code of every money amount (P&L, costs, budget),
            for reports and tables (converts nothing).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    version: int = Field(1, ge=1)
    description: str = ""
    seed: int = Field(0, ge=0)
    n_paths: int = Field(1000, ge=1, le=50_000_000)
    days: float = Field(20.0, gt=0.0, le=MAX_DAYS)
    steps_per_day: int = Field(1, ge=1, le=10_000)
    year_days: float = Field(365.0, ge=1.0, le=366.0)
    market: MarketConfig = MarketConfig()
    book: tuple[BookPosition, ...] = ()
    flow: BookFlow | None = None
    configs: dict[str, HedgeConfig] = Field(min_length=1)
    risk_aversion: float = Field(1.645, ge=0.0, le=100.0)
    shards: int = Field(1, ge=1, le=4096)
    placement: Literal["per-agent", "fused"] = "per-agent"
    option_cost: float | None = Field(None, ge=0.0, le=1.0)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        listed = {i.name for i in self.market.instruments}
        if self.base_steps < 1:
            raise ValueError("days * steps_per_day must be at least 1 step")
        if self.base_steps > MAX_STEPS:
            raise ValueError(
                f"days * steps_per_day is {self.base_steps:,} steps, more than {MAX_STEPS:,}"
            )
        family = self.family
        for cname, hc in self.configs.items():
            if not re.fullmatch(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*", cname):
                raise ValueError(f"configuration name {cname!r}: use letters, digits, _, - and .")
            for i, spec in enumerate(hc.agents):
                where = f"configs.{cname}.agents.{i}.config"
                for field, name in _named_instruments(spec.config):
                    if name not in listed:
                        raise ValueError(
                            f"{where}.{field}: {name!r} is not "
                            f"listed in market.instruments ({', '.join(sorted(listed))})"
                        )
                cls = spec.agent_class
                try:
                    cls.check_scenario(cls.Config.model_validate(spec.config), family)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
                except Exception as exc:  # a user hook: still one line, naming the agent
                    raise ValueError(f"{where}: {type(exc).__name__}: {exc}") from None
        if self.market.kind == "replay":
            from market.replay import check_horizon

            check_horizon(self.market, self.base_steps / self.steps_per_day)
        for p in self.market.clock_points(self.year_days):
            if not 0.0 <= p.time <= self.days / self.year_days + 1e-12:
                raise ValueError(
                    f"market.gap.day: the release of {p.name!r} at day "
                    f"{p.time * self.year_days:g} is outside the horizon (0 to {self.days:g} days)"
                )
        self.timeline  # noqa: B018 -- builds (and checks) the clock now, not mid-run
        return self

    @property
    def base_steps(self) -> int:
        """Steps of the base grid (``days * steps_per_day``)."""
        return round(self.days * self.steps_per_day)

    @property
    def family(self) -> dict[str, Any]:
        """What a learned policy is specific to, as JSON values.

        The scenario's name, its market's kind, the book's positions and its
        client flow: ``gammaray train`` records it in a checkpoint and an
        agent's :meth:`~agents.Agent.check_scenario` compares it.
        """
        return {
            "scenario": self.name,
            "market": self.market.kind,
            "book": [p.model_dump(mode="json") for p in self.book],
            "flow": None if self.flow is None else self.flow.model_dump(mode="json"),
        }

    @property
    def n_steps(self) -> int:
        """Number of hedging steps: the timeline's (:attr:`timeline`)."""
        return self.timeline.n_steps

    @property
    def timeline(self) -> Timeline:
        """The run's steps (:mod:`market.clock`): base grid, scheduled events and
        their refinement windows, agents' wake-ups and their orders' arrival times."""
        points = tuple(self.market.clock_points(self.year_days))
        horizon = self.days / self.year_days
        wake: set[float] = set()
        lat: set[tuple[float, tuple[float, ...] | None]] = set()
        for hc in self.configs.values():
            for spec in hc.agents:
                cfg = spec.agent_class.Config.model_validate(spec.config)
                sch = cfg.schedule
                decisions: tuple[float, ...] | None = None
                if sch.kind == "every":
                    wake.add(sch.minutes)
                    decisions = tuple(wake_times(sch.minutes, horizon, self.year_days))
                elif sch.kind == "on_release":
                    decisions = tuple(
                        p.time for p in points if sch.names is None or p.name in sch.names
                    )
                if cfg.latency > 0.0:
                    lat.add((cfg.latency, decisions))
        return _timeline(
            self.days,
            self.steps_per_day,
            self.year_days,
            points,
            tuple(sorted(wake)),
            tuple(sorted(lat, key=lambda x: (x[0], x[1] is None, x[1] or ()))),
        )

    def instrument_costs(self) -> dict[str, CostModel]:
        """Cost model per listed instrument, ``option_cost`` applied to options."""
        out = {}
        for i in self.market.instruments:
            cost = i.cost
            if i.kind == "option" and self.option_cost is not None:
                cost = cost.model_copy(update={"fee_pct": 100.0 * self.option_cost})
            out[i.name] = cost
        return out

    @property
    def dt(self) -> float:
        """Step length of the base grid, years (each step's own: ``timeline.dt``)."""
        return 1.0 / (self.year_days * self.steps_per_day)


@functools.lru_cache(maxsize=64)
def _timeline(
    days: float,
    steps_per_day: int,
    year_days: float,
    points: tuple[ClockPoint, ...],
    wake: tuple[float, ...],
    latencies: tuple[tuple[float, tuple[float, ...] | None], ...],
) -> Timeline:
    import numpy as np

    lat = [(s, None if d is None else np.array(d, dtype=np.float64)) for s, d in latencies]
    return build_timeline(days, steps_per_day, year_days, points, wake, lat)


def _named_instruments(config: Any) -> list[tuple[str, Any]]:
    """The instruments an agent config names: ``instrument`` and a learned agent's
    ``actions.instruments``, as ``(field path, name)``."""
    named: list[tuple[str, Any]] = []
    if config.get("instrument") is not None:
        named.append(("instrument", config["instrument"]))
    actions = config.get("actions")
    if isinstance(actions, dict):
        for i, name in enumerate(actions.get("instruments") or ()):
            named.append((f"actions.instruments.{i}", name))
    return named


def format_validation_error(exc: ValidationError, named: bool = True, data: Any = None) -> str:
    """One line naming the first invalid field and what is wrong with it.

    Args:
        exc: The error.
        named: Prefix the model's name when it is not a whole :class:`Scenario`
            (a part a script built on its own: ``SurfaceConfig.atm: ...``).
        data: The input validated, when known: the union tags pydantic puts
            in an error's location (``policy.event_aware.tighten``) are
            dropped, so the location is the dotted path ``--set`` takes.
    """
    err = exc.errors()[0]
    parts = [p for p in err["loc"] if not str(p).startswith("function-")]
    loc = ".".join(str(p) for p in _field_path(parts, data))
    if named and exc.title != "Scenario":
        # A part built on its own (in a scenario script): name the model too.
        loc = f"{exc.title}.{loc}" if loc else exc.title
    msg = " ".join(str(err["msg"]).removeprefix("Value error, ").split())
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if err["type"] == "missing":
        return f"{loc}: missing field{more}"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list | tuple) or got is None else f" (got {got!r:.80})"
    return f"{loc + ': ' if loc else ''}{msg}{shown}{more}"


def _field_path(parts: list[Any], data: Any) -> list[Any]:
    """``parts`` without the union tags that are not keys of ``data`` (see above)."""
    if data is None:
        return parts
    out, node = [], data
    for i, part in enumerate(parts):
        if isinstance(node, dict):
            if part in node:
                node = node[part]
            elif i + 1 < len(parts) and parts[i + 1] in node:
                continue  # a union tag: the next part is the field
            else:
                node = None
        elif isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
        out.append(part)
    return out


def validate_scenario(data: Any) -> Scenario:
    """Validate a scenario object or dict.

    Raises:
        ScenarioError: With one line naming the field.
    """
    if isinstance(data, Scenario):
        data = data.model_dump(mode="python")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        msg = format_validation_error(exc, data=data)
        raise ScenarioError(f"invalid scenario: {msg}") from None


#: Prefix of the private module names scenario scripts are imported under.
SCRIPT_MODULE_PREFIX = "_gammaray_scenario_"


@contextlib.contextmanager
def script_dirs_on_path(dirs: list[Path]) -> Iterator[None]:
    """Put folders first on ``sys.path`` for the duration (as ``python script.py`` does).

    Only the entries added here are removed afterwards; modules imported
    meanwhile stay imported.

    Args:
        dirs: Folders holding user scripts and the modules beside them.
    """
    added = [str(d) for d in dirs if str(d) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for entry in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


def user_code_dirs() -> list[Path]:
    """Folders of the scenario scripts loaded in this process (not the built-ins).

    These folders, and the modules beside the scripts, are what
    ``--runtime ray`` ships to the workers.
    """
    builtin = Path(builtin_scenarios_root()).resolve()
    out: list[Path] = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not name.startswith(SCRIPT_MODULE_PREFIX) or not file:
            continue
        folder = Path(file).resolve().parent
        if folder != builtin and folder.is_dir() and folder not in out:
            out.append(folder)
    return out


def load_script(path: Path) -> Any:
    """Import a scenario script as a module (registered under a private name).

    The script's folder is first on ``sys.path`` while it runs, so it imports
    the modules beside it as ``python script.py`` would.

    Raises:
        ScenarioError: The file is missing or fails to import.
    """
    if not path.is_file():
        near = did_you_mean(path.name, (p.name for p in path.parent.glob("*.py")))
        raise ScenarioError(f"scenario file {str(path)!r} does not exist{near}")
    resolved = path.resolve()
    mod_name = f"{SCRIPT_MODULE_PREFIX}{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(mod_name, resolved)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"cannot load {str(path)!r} as a Python scenario script")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        with script_dirs_on_path([resolved.parent]):
            spec.loader.exec_module(module)
    except ScenarioError:
        raise
    except ValidationError as exc:
        raise ScenarioError(f"invalid scenario: {format_validation_error(exc)}") from None
    except Exception as exc:
        raise ScenarioError(f"{path}: {type(exc).__name__}: {exc}") from None
    return module


def load_scenario(ref: str, overrides: list[str] | None = None) -> Scenario:
    """Load a scenario by script path or built-in name, then apply overrides.

    Args:
        ref: Path to a scenario script, or a built-in scenario name.
        overrides: ``FIELD=VALUE`` strings; ``FIELD`` is a dotted path
            (``market.gap.size_std``); ``VALUE`` is parsed as JSON when it can
            be, else taken as a string.

    Raises:
        ScenarioError: One line saying what to fix.
    """
    path = Path(ref)
    if not path.suffix and ref in builtin_scenarios():
        path = builtin_scenarios()[ref]
    elif path.suffix != ".py":
        names = ", ".join(builtin_scenarios())
        if not path.exists():
            near = did_you_mean(ref, builtin_scenarios())
            raise ScenarioError(
                f"scenario {ref!r} is neither a file nor a built-in{near} ({names})"
            )
        raise ScenarioError(f"scenario {ref!r} must be a Python script (.py)")
    module = load_script(path)
    scenario = getattr(module, "SCENARIO", None)
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"{path} must define SCENARIO = Scenario(...)")
    return apply_overrides(scenario, overrides or [])


def apply_overrides(scenario: Scenario, overrides: list[str]) -> Scenario:
    """Set fields by dotted path and re-validate.

    Raises:
        ScenarioError: A malformed override, an unknown field or an invalid value.
    """
    if not overrides:
        return scenario
    data = _thaw(scenario.model_dump(mode="python"))
    new_leaves: list[str] = []  # what a new leaf key may have meant, for the error
    for item in overrides:
        field, eq, raw = item.partition("=")
        if not eq or not field:
            raise ScenarioError(f"--set {item!r}: expected FIELD=VALUE")
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            value = raw
        bad = non_finite_path(value)
        if bad is not None:
            where = f"{field}.{bad}" if bad else field
            raise ScenarioError(f"--set {where}: {raw!r} is not a finite number")
        parts = field.split(".")
        node: Any = data
        i = 0
        while i < len(parts):
            part = parts[i]
            # A key with dots in it (a configuration named ``latency_0.1s``):
            # the longest run of parts that names an existing key.
            if isinstance(node, dict) and part not in node:
                for j in range(len(parts), i + 1, -1):
                    if ".".join(parts[i:j]) in node:
                        part, parts = (
                            ".".join(parts[i:j]),
                            [*parts[:i], ".".join(parts[i:j]), *parts[j:]],
                        )
                        break
            where = ".".join(parts[: i + 1])
            last = i == len(parts) - 1
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                key: Any = int(part)
            elif isinstance(node, dict) and (part in node or last):
                # A new key may be set only at the leaf; validation then
                # refuses it unless the model knows the field.
                key = part
            else:
                near = ""
                if isinstance(node, dict):
                    close = difflib.get_close_matches(part, [str(k) for k in node], n=1)
                    if close:
                        meant = ".".join([*parts[:i], close[0], *parts[i + 1 :]])
                        near = f" (did you mean {meant!r}?)"
                raise ScenarioError(f"--set {field}: unknown field {where!r}{near}")
            if last:
                if isinstance(node, dict) and key not in node:
                    close = difflib.get_close_matches(key, [str(k) for k in node], n=1)
                    if close:
                        new_leaves.append(".".join([*parts[:i], close[0]]))
                node[key] = value
            else:
                node = node[key]
            i += 1
    try:
        return validate_scenario(data)
    except ScenarioError as exc:
        if not new_leaves:
            raise
        raise ScenarioError(f"{exc} (did you mean {new_leaves[0]!r}?)") from None


def _thaw(obj: Any) -> Any:
    """Dicts and lists all the way down (tuples become lists), for editing."""
    if isinstance(obj, dict):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_thaw(v) for v in obj]
    return obj
