"""The scenario a replay runs: the recorded one, or its market with the user's agents.

Nothing a log names is ever imported (:func:`replay_scenario`): recorded
configurations run only with gammaray's own agent classes
(:func:`builtin_agent_refs`), or with the classes of the user's own
``--agents`` file (:func:`load_agents`), bound by class name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents import BUILTIN_AGENTS, Agent
from orchestration.config import Scenario, ScenarioError, load_scenario, validate_scenario

#: Scenario fields a replay with ``--agents`` takes from the named scenario.
AGENT_FIELDS = ("configs", "book", "risk_aversion")


def builtin_agent_refs() -> dict[str, type[Agent]]:
    """Every name a log may use for one of gammaray's own agent classes, to the class.

    The short names (``"delta"``, ``"gamma"``, ``"vega"``) and the dotted
    paths (``"agents.delta.DeltaHedger"``, ``"agents.delta:DeltaHedger"``,
    ``"agents.DeltaHedger"``) of the public agent classes defined in
    :mod:`agents.delta`, :mod:`agents.gamma`, :mod:`agents.vega` and
    :mod:`agents.deep`. These modules are imported by this module's own
    import statements, never by a name read from a file.
    """
    import agents
    from agents import deep, delta, gamma, vega

    refs: dict[str, type[Agent]] = dict(BUILTIN_AGENTS)
    for module in (delta, gamma, vega, deep):
        for name, obj in vars(module).items():
            if name.startswith("_") or not isinstance(obj, type) or not issubclass(obj, Agent):
                continue
            cls: type[Agent] = obj
            if cls.__module__ != module.__name__:
                continue
            paths = [
                f"{module.__name__}.{cls.__qualname__}",
                f"{module.__name__}:{cls.__qualname__}",
            ]
            if getattr(agents, name, None) is cls:
                paths += [f"agents.{name}", f"agents:{name}"]
            refs.update(dict.fromkeys(paths, cls))
    return refs


def _shown(names: list[str], most: int = 4, width: int = 80) -> str:
    """Names read from a file, quoted and cut short for a one-line message."""
    quoted = [repr(n if len(n) <= width else n[: width - 3] + "...") for n in names[:most]]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(quoted) + more


def _bind_builtin_agents(node: Any, refs: dict[str, type[Agent]], unknown: list[str]) -> Any:
    """A copy of recorded data with every agent ``cls`` bound to its built-in class.

    Walks iteratively (any depth, any shape): each ``"cls"`` entry of a map
    that is a built-in dotted path becomes the class itself, so validating
    the copy imports nothing; a built-in short name (``"delta"``) stays as
    it is (it is looked up in :data:`agents.BUILTIN_AGENTS`, and it names
    the agent); any other text under ``"cls"`` is added to ``unknown`` (and
    left as it is: the caller refuses the data).
    """
    root: list[Any] = [node]
    work: list[tuple[Any, Any, Any]] = [(root, 0, node)]
    while work:
        parent, key, value = work.pop()
        if isinstance(value, dict):
            copy: Any = dict(value)
            parent[key] = copy
            for k, v in copy.items():
                if k == "cls" and isinstance(v, str):
                    if v in BUILTIN_AGENTS:
                        pass  # a short name: resolved from a table, never imported
                    elif v in refs:
                        copy[k] = refs[v]
                    elif v not in unknown:
                        unknown.append(v)
                else:
                    work.append((copy, k, v))
        elif isinstance(value, list | tuple):
            copy = list(value)
            parent[key] = copy
            work.extend((copy, i, v) for i, v in enumerate(copy))
    return root[0]


def _last_name(ref: str) -> str:
    """The class name at the end of a recorded dotted path (``pkg.mod.Cls``, ``pkg.mod:Cls``)."""
    return ref.replace(":", ".").rpartition(".")[2]


def load_agents(ref: str) -> tuple[Scenario | None, dict[str, type[Agent]], dict[str, Any]]:
    """What ``--agents`` names: a scenario script, or a module of agent classes.

    Args:
        ref: A scenario script or built-in name (defines ``SCENARIO``), or a
            Python file of agent classes (``my_agents.py``: no ``SCENARIO``),
            optionally with ``CONFIGS = {name: HedgeConfig(...)}``.

    Returns:
        ``(scenario, classes, configs)``: the scenario (None for a module of
        agents); the module's agent classes by class name (gammaray's own
        left out); its ``CONFIGS`` dumped for validation.

    Raises:
        ScenarioError: The file is missing, does not import, or defines none
            of ``SCENARIO``, an agent class, ``CONFIGS``.
    """
    from orchestration.config import HedgeConfig, builtin_scenarios, load_script

    path = builtin_scenarios().get(ref, Path(ref))
    if path.suffix != ".py":
        return load_scenario(ref), {}, {}  # the one-line error of an unknown name
    module = load_script(path)
    scenario = getattr(module, "SCENARIO", None)
    if isinstance(scenario, Scenario):
        return scenario, {}, {}
    classes = {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, Agent)
        and obj is not Agent
        and not obj.__module__.startswith("agents")
    }
    raw = getattr(module, "CONFIGS", None)
    configs: dict[str, Any] = {}
    if raw is not None:
        if not isinstance(raw, dict) or not all(isinstance(v, HedgeConfig) for v in raw.values()):
            raise ScenarioError(f"--agents {ref}: CONFIGS must be a dict of HedgeConfig(...)")
        configs = {str(k): v.model_dump(mode="python") for k, v in raw.items()}
    if not classes and not configs:
        raise ScenarioError(
            f"--agents {ref}: defines no SCENARIO = Scenario(...), no agent class (a "
            "subclass of agents.Agent) and no CONFIGS; give your scenario script or the "
            "module of your agent classes"
        )
    return None, classes, configs


def replay_scenario(
    header: dict[str, Any], agents: str | None, shards: int = 1, placement: str = "per-agent"
) -> Scenario:
    """The scenario a replay runs: the recorded one, or its market with other agents.

    Nothing the header names is imported. Without ``agents`` the recorded
    configurations run if every agent class in them is built in
    (:func:`builtin_agent_refs`). With ``agents`` naming a scenario script
    (it defines ``SCENARIO``) the recorded ``configs``, ``book`` and
    ``risk_aversion`` are dropped unread and the named scenario's run
    instead: its script is the user's own code, loaded as ``gammaray run``
    loads it. With ``agents`` naming a module of agent classes (no
    ``SCENARIO``: ``my_agents.py``) the recorded configurations run, each
    recorded class that is not built in bound to the module's class of the
    same name (``_gammaray_scenario_x.MyHedger`` or ``my_agents.MyHedger`` to
    the file's ``MyHedger``); the module's ``CONFIGS``, if any, run beside
    them (replacing recorded ones of the same name).

    Args:
        header: The log's header.
        agents: A scenario script or built-in name, or a module of agent
            classes; None for the recorded configurations alone.
        shards: Pipelines the paths are split into (each reads the whole log
            and keeps its own paths; the numbers do not depend on it).
        placement: On Ray, ``"per-agent"`` or ``"fused"``.

    Raises:
        ScenarioError: The log has no scenario, it names agent classes that
            are neither built in nor in ``agents``, it is invalid, or the
            agents do not fit the recorded market.
    """
    data = header.get("scenario")
    if not isinstance(data, dict):
        raise ScenarioError("the log records no scenario; it cannot be replayed")
    theirs: dict[str, Any] | None = None
    classes: dict[str, type[Agent]] = {}
    extra: dict[str, Any] = {}
    if agents is not None:
        scenario, classes, extra = load_agents(agents)
        if scenario is not None:
            theirs = scenario.model_dump(mode="python")
            data = {k: v for k, v in data.items() if k not in AGENT_FIELDS}
    refs = builtin_agent_refs()
    unknown: list[str] = []
    _bind_builtin_agents(data, refs, unknown)
    refs.update({u: classes[_last_name(u)] for u in unknown if _last_name(u) in classes})
    unknown = []
    data = _bind_builtin_agents(data, refs, unknown)
    if unknown:
        if agents is None:
            hint = "pass --agents SCENARIO, your scenario script that defines the configurations"
            hint += " to run (or --agents FILE, the module of your agent classes)"
        else:
            defined = ", ".join(sorted(classes)) or "none"
            hint = f"--agents {agents} defines no class of that name (it defines: {defined})"
        raise ScenarioError(
            f"the log's configurations use agent classes that are not built in "
            f"({_shown(unknown)}) and a replay never imports what a log names: {hint}"
        )
    # The layout is the replay's own, never the recorded run's.
    data.update(shards=shards, placement=placement)
    if theirs is not None:
        data.update({key: theirs[key] for key in AGENT_FIELDS})
    if extra:
        data["configs"] = {**data.get("configs", {}), **extra}
    try:
        return validate_scenario(data)
    except ScenarioError as exc:
        if agents is None:
            raise ScenarioError(f"the recorded scenario cannot be loaded here: {exc}") from None
        raise ScenarioError(f"--agents {agents}: {exc} (against the recorded market)") from None
