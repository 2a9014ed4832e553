"""Reading and validating learned-policy checkpoints (no pickle code runs).

The container: ``torch.save`` of a dict of tensors plus ``"meta"``, a JSON
string, read with ``torch.load(weights_only=True)``. The meta (version 3)::

    version   3
    policy    "mlp" | "gru"
    features  [names from agents._features]
    actions   {"kind": "holdings" | "fraction" | "trade" | "cascade",
               "instruments": [listed names], "rule": "gamma"|"vega"|"delta",
               "rules": [one of those per instrument]}
              (``rule``: fraction only, default "gamma"; ``rules``: cascade only)
    hidden    int (GRU hidden size; the MLP's first hidden width)
    layers    int (MLP: linear layers; GRU: 1)
    family    the scenario family (see Scenario.family)
    mode, instrument, objective, ...   (today's keys, kept)

Tensors: MLP ``w{i} [in, out]``, ``b{i} [out]``; GRU ``gru.weight_ih_l0
[3H, in]``, ``gru.weight_hh_l0 [3H, H]``, ``gru.bias_ih_l0 [3H]``,
``gru.bias_hh_l0 [3H]``, ``head.weight [out, H]``, ``head.bias [out]``
(``out`` = number of action instruments).

Version 2 (and a writer that predates ``policy``/``actions``) reads as an
MLP whose actions follow ``mode``: ``residual`` = a fraction of the gamma
rule's trade in ``instrument``, ``direct`` = a trade of ``100 · f(x)`` units.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents._features import FeatureError, parse
from agents._policy_nets import GRUParams

#: Checkpoint format version (3: policy kind, feature names, action spec).
CHECKPOINT_VERSION = 3
#: Versions read (2: MLP over the three legacy features).
READ_VERSIONS = (2, 3)
#: Largest checkpoint file read, bytes (a policy is kilobytes).
MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024
#: Most layers a policy may have.
MAX_LAYERS = 64
#: Largest weight magnitude of a trained policy.
MAX_WEIGHT = 1e6
#: Policy kinds.
POLICIES = ("mlp", "gru")
#: Action kinds: target holdings, a fraction of a rule's trade, a trade, a
#: fraction of each of a cascade of rules' trades (one per instrument).
ACTION_KINDS = ("holdings", "fraction", "trade", "cascade")
#: Rules a fraction scales.
RULES = ("gamma", "vega", "delta")
#: GRU tensor names in the checkpoint.
GRU_TENSORS = (
    "gru.weight_ih_l0",
    "gru.weight_hh_l0",
    "gru.bias_ih_l0",
    "gru.bias_hh_l0",
    "head.weight",
    "head.bias",
)


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or for another set-up."""


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """What an agent expects of its checkpoint.

    Attributes:
        policy: ``"mlp"`` or ``"gru"``.
        features: Feature names, in input order.
        kind: Action kind (:data:`ACTION_KINDS`).
        instruments: The instruments acted on, one output each.
        rule: The rule a ``fraction`` scales (:data:`RULES`).
        rules: The rule per instrument a ``cascade`` scales, in order.
        mode: The legacy agents' ``"residual"``/``"direct"`` (checked against
            the meta's ``mode`` and ``instrument``); None for others.
        clock: The agent's latency and schedule (:func:`clock_json`), checked
            against the meta's ``latency`` and ``schedule`` (absent there:
            0 s, every step); None: not checked.
    """

    policy: str
    features: tuple[str, ...]
    kind: str
    instruments: tuple[str, ...]
    rule: str = "gamma"
    mode: str | None = None
    rules: tuple[str, ...] = ()
    clock: str | None = None


def clock_json(latency: float, schedule: Mapping[str, Any]) -> str:
    """The canonical text of a latency (seconds) and a schedule (its JSON dump)."""
    return json.dumps({"latency": float(latency), "schedule": dict(schedule)}, sort_keys=True)


def _check_clock(meta: dict[str, Any], name: str, clock: str) -> None:
    """Refuse an agent whose latency or schedule is not the one it was trained with."""
    want = json.loads(clock)
    lat = meta.get("latency", 0.0)
    if isinstance(lat, bool) or not isinstance(lat, int | float) or float(lat) != want["latency"]:
        raise CheckpointError(
            f"checkpoint {name} was trained with a latency of {lat!r:.20} s, this agent has "
            f"{want['latency']:g} s (set its latency to the trained one, or retrain)"
        )
    sch = meta.get("schedule", {"kind": "every_step"})
    if sch != want["schedule"]:
        raise CheckpointError(
            f"checkpoint {name} was trained on schedule {json.dumps(sch)[:60]}, this agent "
            f"runs {json.dumps(want['schedule'])[:60]} (set its schedule, or retrain)"
        )


def legacy_spec(mode: str, instrument: str) -> PolicySpec:
    """The spec of :class:`~agents.deep.ResidualHedger` / ``DeepHedger``."""
    from agents._features import LEGACY_FEATURES

    kind = "fraction" if mode == "residual" else "trade"
    return PolicySpec("mlp", LEGACY_FEATURES, kind, (instrument,), "gamma", mode)


def load_checkpoint(
    path: str | Path,
    mode: str | PolicySpec,
    instrument: str | None = None,
    family: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read and validate a policy checkpoint.

    Args:
        path: The ``.pt`` file written by ``gammaray train``.
        mode: The agent's :class:`PolicySpec`, or a legacy agent's mode
            (``"residual"`` or ``"direct"``) with ``instrument``.
        instrument: The legacy agent's hedge instrument.
        family: The scenario family it is used with (see
            :meth:`Agent.check_scenario`); None skips that check.

    Returns:
        ``{"params": [(W, b), ...] | GRUParams, "meta": {...}, "spec": PolicySpec}``
        in float64 numpy.

    Raises:
        CheckpointError: Missing, not a file, too large, corrupt, without
            layers, with ill-shaped or non-finite tensors, or for another
            version, feature list, policy kind, action spec, instrument, mode
            or scenario family (one line that says which).
    """
    spec = mode if isinstance(mode, PolicySpec) else legacy_spec(mode, instrument or "")
    p = Path(path)
    name = repr(str(p))
    try:
        if not p.exists():
            raise CheckpointError(
                f"checkpoint {name} does not exist (train one: gammaray train SCENARIO --out FILE)"
            )
        if not p.is_file():
            raise CheckpointError(f"checkpoint {name} is not a file")
        size = p.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"checkpoint {name}: {exc.strerror or exc}") from None
    if size == 0:
        raise CheckpointError(f"checkpoint {name} is empty (0 bytes)")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"checkpoint {name} is {size:,} bytes, more than a policy's {MAX_CHECKPOINT_BYTES:,}"
        )
    blob, meta = _read(p, name)
    _check_meta(meta, name, spec)
    n_in, n_out = len(spec.features), len(spec.instruments)
    params: Any
    if spec.policy == "gru":
        params = _read_gru(blob, meta, name, n_in, n_out)
    else:
        params = _read_mlp(blob, int(meta["layers"]), name, n_in, n_out)
    if family is not None:
        check_family(meta, family, name)
    return {"params": params, "meta": meta, "spec": spec}


def _one_line(exc: BaseException) -> str:
    """The exception's first sentence, printable, on one line (at most 100 characters)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    text = text.split(". ")[0]
    return text if len(text) <= 100 else text[:97] + "..."


def _read(p: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tensors and the meta of a checkpoint file (no pickle code runs)."""
    import torch

    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch raises pickle.UnpicklingError for anything but tensors and plain data.
        why = (
            "it is not tensors and JSON only; nothing in it was run"
            if type(exc).__name__ == "UnpicklingError"
            else f"{type(exc).__name__}: {_one_line(exc)}"
        )
        raise CheckpointError(
            f"checkpoint {name} is corrupt or not a gammaray policy ({why})"
        ) from None
    if not isinstance(blob, dict) or not isinstance(blob.get("meta"), str):
        raise CheckpointError(f"checkpoint {name} is not a gammaray policy (no meta)")
    try:
        meta = json.loads(blob["meta"])
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {name} has a corrupt meta (not a JSON object)")
    return blob, meta


def _meta_actions(meta: dict[str, Any]) -> Any:
    """The meta's action spec; derived from ``mode``/``instrument`` when it predates it."""
    if "actions" in meta:
        return meta["actions"]
    kind = {"residual": "fraction", "direct": "trade"}.get(str(meta.get("mode")))
    if kind is None or not isinstance(meta.get("instrument"), str):
        return None
    return {"kind": kind, "instruments": [meta["instrument"]]}


def _check_meta(meta: dict[str, Any], name: str, spec: PolicySpec) -> None:
    version = meta.get("version")
    if version not in READ_VERSIONS or isinstance(version, bool):
        raise CheckpointError(
            f"checkpoint {name} has version {version!r:.20}, not {CHECKPOINT_VERSION} "
            "(retrain it: gammaray train SCENARIO --out FILE)"
        )
    actions = _meta_actions(meta)
    if spec.mode is not None:
        inst = meta.get("instrument")
        if inst is None and isinstance(actions, dict):
            inst = (actions.get("instruments") or [None])[0]
        if inst != spec.instruments[0]:
            raise CheckpointError(
                f"checkpoint {name} was trained for instrument {inst!r:.40}, "
                f"not {spec.instruments[0]!r}"
            )
        mode = meta.get("mode")
        if mode is None and isinstance(actions, dict):
            mode = {"fraction": "residual", "trade": "direct"}.get(str(actions.get("kind")))
        if mode != spec.mode:
            raise CheckpointError(f"checkpoint {name} is a {mode!r:.40} policy, not {spec.mode!r}")
    features = meta.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise CheckpointError(
            f"checkpoint {name} has no feature list (features = {features!r:.60})"
        )
    if tuple(features) != spec.features:
        default = spec.instruments[0] if spec.instruments else None
        unknown = [f for f in features if not _known(f, default)]
        why = f" (unknown feature {unknown[0]!r:.40})" if unknown else ""
        raise CheckpointError(
            f"checkpoint {name} features {features!r:.80} differ from this agent's "
            f"{list(spec.features)!r:.80}{why}"
        )
    policy = meta.get("policy", "mlp")
    if policy not in POLICIES:
        raise CheckpointError(f"checkpoint {name} has policy {policy!r:.40}, not mlp or gru")
    if policy != spec.policy:
        raise CheckpointError(
            f"checkpoint {name} is a {policy} policy, this agent runs a {spec.policy} policy"
        )
    _check_actions(actions, name, spec)
    if spec.clock is not None:
        _check_clock(meta, name, spec.clock)
    layers = meta.get("layers")
    if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
        raise CheckpointError(f"checkpoint {name} has no layers (layers = {layers!r:.40})")
    if layers > MAX_LAYERS:
        raise CheckpointError(f"checkpoint {name} has {layers} layers, more than {MAX_LAYERS}")
    if policy == "gru" and layers != 1:
        raise CheckpointError(f"checkpoint {name} has {layers} GRU layers; one is read")
    if not isinstance(meta.get("family"), dict):
        raise CheckpointError(f"checkpoint {name} does not record the scenario it was trained for")


def _known(feature: str, default: str | None) -> bool:
    try:
        parse(feature, default)
    except FeatureError:
        return False
    return True


def _check_actions(actions: Any, name: str, spec: PolicySpec) -> None:
    if not isinstance(actions, dict):
        raise CheckpointError(f"checkpoint {name} has no action spec (actions = {actions!r:.60})")
    kind, insts = actions.get("kind"), actions.get("instruments")
    if kind not in ACTION_KINDS:
        raise CheckpointError(
            f"checkpoint {name} has action kind {kind!r:.40}, not one of {list(ACTION_KINDS)}"
        )
    if not isinstance(insts, list) or not insts or not all(isinstance(i, str) for i in insts):
        raise CheckpointError(f"checkpoint {name} names no action instruments ({insts!r:.60})")
    if kind != spec.kind:
        raise CheckpointError(f"checkpoint {name} acts by {kind!r}, this agent by {spec.kind!r}")
    if tuple(insts) != spec.instruments:
        raise CheckpointError(
            f"checkpoint {name} acts on instruments {insts!r:.80}, this agent on "
            f"{list(spec.instruments)!r:.80}"
        )
    rule = actions.get("rule", "gamma") if kind == "fraction" else spec.rule
    if rule != spec.rule:
        raise CheckpointError(
            f"checkpoint {name} scales the {rule!r:.20} rule's trade, this agent the {spec.rule!r}"
        )
    rules = actions.get("rules") if kind == "cascade" else list(spec.rules)
    if rules != list(spec.rules):
        raise CheckpointError(
            f"checkpoint {name} scales the rules {rules!r:.60}, this agent {list(spec.rules)!r:.60}"
        )


def _tensor(blob: dict[str, Any], key: str, name: str) -> np.ndarray:
    """One tensor as float64 numpy: present, floating point, dense, finite, bounded."""
    import torch

    t = blob.get(key)
    if not isinstance(t, torch.Tensor):
        raise CheckpointError(f"checkpoint {name} lacks the tensor {key}")
    if not t.is_floating_point():
        raise CheckpointError(f"checkpoint {name} tensor {key} is not floating point")
    try:
        arr = t.double().numpy().copy()
    except Exception as exc:  # sparse, quantized or meta tensors
        raise CheckpointError(
            f"checkpoint {name} tensor {key} is not a dense tensor ({_one_line(exc)})"
        ) from None
    _check_values(arr, key, name)
    return arr


def _check_values(arr: np.ndarray, label: str, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise CheckpointError(f"checkpoint {name} has non-finite weights in {label}")
    if arr.size and np.abs(arr).max() > MAX_WEIGHT:
        raise CheckpointError(
            f"checkpoint {name} has weights above {MAX_WEIGHT:g} in {label}: not a trained policy"
        )


def _read_gru(
    blob: dict[str, Any], meta: dict[str, Any], name: str, n_in: int, n_out: int
) -> GRUParams:
    """The GRU's tensors, checked against ``hidden``, the feature and the action counts."""
    hidden = meta.get("hidden")
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise CheckpointError(f"checkpoint {name} has no GRU hidden size (hidden = {hidden!r:.40})")
    H = hidden
    want = {
        "gru.weight_ih_l0": (3 * H, n_in),
        "gru.weight_hh_l0": (3 * H, H),
        "gru.bias_ih_l0": (3 * H,),
        "gru.bias_hh_l0": (3 * H,),
        "head.weight": (n_out, H),
        "head.bias": (n_out,),
    }
    arrays = {}
    for key in GRU_TENSORS:
        arr = _tensor(blob, key, name)
        if arr.shape != want[key]:
            raise CheckpointError(
                f"checkpoint {name} tensor {key} has shape {list(arr.shape)}, expected "
                f"{list(want[key])} (hidden {H}, {n_in} features, {n_out} actions)"
            )
        arrays[key] = arr
    return GRUParams(*(arrays[k] for k in GRU_TENSORS))


def _read_mlp(
    blob: dict[str, Any], layers: int, name: str, n_in: int, n_out: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The layers' ``(W [in, out], b [out])`` in float64, checked for shape and finiteness."""
    import torch

    params = []
    width = n_in
    for i in range(layers):
        w, b = blob.get(f"w{i}"), blob.get(f"b{i}")
        if not isinstance(w, torch.Tensor) or not isinstance(b, torch.Tensor):
            raise CheckpointError(f"checkpoint {name} lacks the tensors of layer {i} (w{i}, b{i})")
        if not (w.is_floating_point() and b.is_floating_point()):
            raise CheckpointError(f"checkpoint {name} layer {i} is not floating point")
        last = i == layers - 1
        out = w.shape[1] if w.dim() == 2 else 0
        if (
            w.dim() != 2
            or w.shape[0] != width
            or out < 1
            or (last and out != n_out)
            or tuple(b.shape) != (out,)
        ):
            want = str(n_out) if last else "n"
            raise CheckpointError(
                f"checkpoint {name} layer {i} has shapes w {list(w.shape)}, b {list(b.shape)}; "
                f"expected w [{width}, {want}], b [{want}]"
            )
        wn, bn = _tensor(blob, f"w{i}", name), _tensor(blob, f"b{i}", name)
        params.append((wn, bn))
        width = out
    return params


def check_family(meta: Mapping[str, Any], family: Mapping[str, Any], name: str = "") -> None:
    """Refuse a checkpoint trained for another scenario family.

    Args:
        meta: The checkpoint's meta (its ``family`` as recorded by ``gammaray train``).
        family: The family of the scenario it is used with.
        name: The checkpoint's name in the message.

    Raises:
        CheckpointError: The families differ (the message says both).
    """
    trained = meta.get("family")
    if trained == dict(family):
        return
    if not isinstance(trained, Mapping):
        raise CheckpointError(f"checkpoint {name} does not record the scenario it was trained for")
    diff = [k for k in sorted(set(trained) | set(family)) if trained.get(k) != family.get(k)]
    raise CheckpointError(
        f"checkpoint {name} was trained for {describe_family(trained)}; this is "
        f"{describe_family(family)} (differs in {', '.join(diff)}; retrain: gammaray train)"
    )


def describe_family(family: Mapping[str, Any]) -> str:
    """A scenario family in words: name, world and book (one line)."""

    def opt(p: Any) -> str:
        if not isinstance(p, Mapping):
            return "?"
        kind = "call" if p.get("is_call", True) else "put"
        qty = f"{p['qty']:+g} " if isinstance(p.get("qty"), int | float) else ""
        return f"{qty}{p.get('moneyness', '?')}x {p.get('expiry_days', '?')}d {kind}"

    book = family.get("book")
    positions = ", ".join(opt(p) for p in book) if isinstance(book, list) and book else "no book"
    flow = family.get("flow")
    text = (
        f"scenario {str(family.get('scenario'))!r:.60} ({family.get('market')!s:.20} world, "
        f"{positions:.120}"
    )
    return text + (", client flow)" if flow else ")")
