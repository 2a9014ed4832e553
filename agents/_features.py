"""The feature spec of learned hedgers: named features, one formula for numpy and torch.

A learned policy's input is a list of feature *names* (recorded in its
checkpoint). Each name resolves to a :class:`Feature` of this registry: a pure,
elementwise formula over a small *context* of arrays, written against an array
namespace ``xp`` (``numpy`` at inference, ``torch`` in training), so the
trainer and the agent compute the same numbers from the same formula. The
formulas use only arithmetic operators and the helpers below (``xp.log``,
``xp.sqrt``, ``xp.abs``, ``xp.where``; no ``clip``/``clamp``, whose signatures
differ).

Names. A feature about one listed instrument is named ``base:instrument``
(``log_moneyness:gamma_opt``, ``holding:underlying``); a bare instrument
feature (``gamma_gap``) means the agent's own hedge instrument
(:func:`resolve` takes it as ``default_instrument``).

Context. A mapping of key to array (or Python float), every array
broadcastable to one batch shape (``[n]`` paths at inference; ``[n]`` or
``[n, steps]`` in training: the formulas are elementwise). Keys:

=====================  =======================================================
``spot``               Spot, currency, ``[...]`` (fixes the output shape).
``t``                  Years since the start of the run (float or ``[...]``).
``horizon``            The horizon the time features are fractions of, years.
``atm_vol``            ATM implied vol at the reference tenor, decimal, ``[...]``.
``event_time``         Scheduled time of the pending announcement, years;
                       ``inf`` when none is pending (float or ``[...]``).
``book_delta``         Book delta per unit spot, ``[...]``.
``book_gamma``         Book gamma per unit spot², ``[...]``.
``book_vega``          Book vega per 1.00 vol, ``[...]``.
``strike:I``           Strike of instrument I's listed contract, currency.
``expiry:I``           Its expiry, years since the start.
``gamma:I``            Its gamma per unit (under the agent's model).
``vega:I``             Its vega per unit, per 1.00 vol.
``holding:I``          The book's position in it, units (0 if none).
=====================  =======================================================

:func:`context_from_event` builds the context from a market event and the
agent's view (numpy, inference); the trainer builds the same keys as tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

#: Below this absolute size a hedge's gamma or vega is treated as zero (no trade).
TINY = 1e-12
#: The three features of version-2 policies, in their order.
LEGACY_FEATURES = ("gamma_gap", "time_fraction", "vega_gap")
#: Cap of the time-to-expiry features (the underlying never expires).
MAX_TAU = 10.0

Context = Mapping[str, Any]


class FeatureError(ValueError):
    """An unknown feature name, or a context without a key a feature needs."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One named feature.

    Attributes:
        name: Base name (``log_moneyness``); per-instrument features take ``:I``.
        unit: Unit of the value, in words.
        inputs: Context keys read; ``{i}`` stands for the instrument.
        per_instrument: Whether the name takes an instrument.
        formula: ``formula(ctx, xp, instrument) -> array`` (elementwise).
        doc: One line on what it is.
    """

    name: str
    unit: str
    inputs: tuple[str, ...]
    per_instrument: bool
    formula: Callable[[Context, ModuleType, str], Any]
    doc: str


def _where(xp: ModuleType, cond: Any, a: Any, b: Any) -> Any:
    """``where`` for numpy and torch (torch wants tensors for both branches)."""
    if xp is np:
        return np.where(cond, a, b)
    ref = a if hasattr(a, "dtype") else b if hasattr(b, "dtype") else None
    dtype = ref.dtype if ref is not None else xp.float64
    a = a if hasattr(a, "dtype") else xp.full_like(cond, a, dtype=dtype)
    b = b if hasattr(b, "dtype") else xp.full_like(cond, b, dtype=dtype)
    return xp.where(cond, a, b)


def _like(xp: ModuleType, ref: Any, value: Any) -> Any:
    """``value`` broadcast to the shape of ``ref`` (bit-exact: ``value + 0·ref``)."""
    return value + 0.0 * ref


def _safe(xp: ModuleType, x: Any) -> Any:
    """``x`` where ``|x| > TINY``, else ``inf`` (so a division by it gives 0)."""
    return _where(xp, xp.abs(x) > TINY, x, float("inf"))


def _min(xp: ModuleType, a: Any, b: Any) -> Any:
    return _where(xp, a < b, a, b)


def _f_log_moneyness(c: Context, xp: ModuleType, i: str) -> Any:
    k = c[f"strike:{i}"]
    return xp.log(c["spot"] / _where(xp, k > 0.0, k, c["spot"]))


def _f_time_to_expiry(c: Context, xp: ModuleType, i: str) -> Any:
    left = _like(xp, c["spot"], (c[f"expiry:{i}"] - c["t"]) / c["horizon"])
    return _min(xp, _where(xp, left > 0.0, left, 0.0), MAX_TAU)


def _f_sqrt_time_to_expiry(c: Context, xp: ModuleType, i: str) -> Any:
    tau = _like(xp, c["spot"], c[f"expiry:{i}"] - c["t"])
    return xp.sqrt(_min(xp, _where(xp, tau > 0.0, tau, 0.0), MAX_TAU))


def _f_atm_vol(c: Context, xp: ModuleType, i: str) -> Any:
    return _like(xp, c["spot"], c["atm_vol"])


def _f_time_to_event(c: Context, xp: ModuleType, i: str) -> Any:
    left = _like(xp, c["spot"], (c["event_time"] - c["t"]) / c["horizon"])
    return _min(xp, _where(xp, left > 0.0, left, 0.0), 1.0)


def _f_time_fraction(c: Context, xp: ModuleType, i: str) -> Any:
    return _like(xp, c["spot"], c["t"] / c["horizon"])


def _f_book_delta(c: Context, xp: ModuleType, i: str) -> Any:
    return c["book_delta"] / 100.0


def _f_book_gamma(c: Context, xp: ModuleType, i: str) -> Any:
    return c["book_gamma"] * c["spot"] * c["spot"] / 10_000.0


def _f_book_vega(c: Context, xp: ModuleType, i: str) -> Any:
    return c["book_vega"] / 10_000.0


def _f_holding(c: Context, xp: ModuleType, i: str) -> Any:
    return _like(xp, c["spot"], c[f"holding:{i}"] / 100.0)


def _f_gamma_gap(c: Context, xp: ModuleType, i: str) -> Any:
    return -c["book_gamma"] / _safe(xp, c[f"gamma:{i}"]) / 100.0


def _f_vega_gap(c: Context, xp: ModuleType, i: str) -> Any:
    return -c["book_vega"] / _safe(xp, c[f"vega:{i}"]) / 100.0


#: The registry: base name to feature.
FEATURE_REGISTRY: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature(
            "log_moneyness",
            "log(spot/strike)",
            ("spot", "strike:{i}"),
            True,
            _f_log_moneyness,
            "log-moneyness of I's listed contract (0 for the underlying)",
        ),
        Feature(
            "time_to_expiry",
            "fraction of the horizon",
            ("spot", "t", "horizon", "expiry:{i}"),
            True,
            _f_time_to_expiry,
            "time left to I's expiry over the horizon, in [0, MAX_TAU]",
        ),
        Feature(
            "sqrt_time_to_expiry",
            "sqrt(years)",
            ("spot", "t", "expiry:{i}"),
            True,
            _f_sqrt_time_to_expiry,
            "sqrt of the years left to I's expiry, in [0, sqrt(MAX_TAU)]",
        ),
        Feature(
            "atm_vol",
            "decimal vol",
            ("spot", "atm_vol"),
            False,
            _f_atm_vol,
            "ATM implied vol at the reference tenor",
        ),
        Feature(
            "time_to_event",
            "fraction of the horizon, in [0, 1]",
            ("spot", "t", "horizon", "event_time"),
            False,
            _f_time_to_event,
            "time to the pending scheduled announcement over the horizon (1 if none or later)",
        ),
        Feature(
            "time_fraction",
            "fraction of the horizon",
            ("spot", "t", "horizon"),
            False,
            _f_time_fraction,
            "elapsed fraction of the horizon",
        ),
        Feature(
            "book_delta",
            "hundreds of units of spot",
            ("book_delta",),
            False,
            _f_book_delta,
            "the book's delta / 100",
        ),
        Feature(
            "book_gamma",
            "currency per (1% move)^2 / 1",
            ("spot", "book_gamma"),
            False,
            _f_book_gamma,
            "the book's cash gamma: gamma * spot^2 / 10^4",
        ),
        Feature(
            "book_vega",
            "currency per vol point / 100",
            ("book_vega",),
            False,
            _f_book_vega,
            "the book's vega per vol point / 100 (vega / 10^4)",
        ),
        Feature(
            "holding",
            "hundreds of units",
            ("spot", "holding:{i}"),
            True,
            _f_holding,
            "the book's position in instrument I / 100",
        ),
        Feature(
            "gamma_gap",
            "hundreds of units of I",
            ("book_gamma", "gamma:{i}"),
            True,
            _f_gamma_gap,
            "hedge options I that make the book gamma-neutral / 100",
        ),
        Feature(
            "vega_gap",
            "hundreds of units of I",
            ("book_vega", "vega:{i}"),
            True,
            _f_vega_gap,
            "hedge options I that make the book vega-neutral / 100",
        ),
    )
}


def parse(name: str, default_instrument: str | None = None) -> tuple[Feature, str]:
    """The feature and instrument a name means.

    Args:
        name: ``base`` or ``base:instrument``.
        default_instrument: The instrument a bare per-instrument name means.

    Raises:
        FeatureError: Unknown base name, an instrument on a feature that takes
            none, or a bare per-instrument name without a default.
    """
    if not isinstance(name, str):
        raise FeatureError(f"feature {name!r:.40} is not a name")
    base, _, inst = name.partition(":")
    feat = FEATURE_REGISTRY.get(base)
    if feat is None:
        raise FeatureError(
            f"unknown feature {name!r:.60} (known: {', '.join(sorted(FEATURE_REGISTRY))})"
        )
    if not feat.per_instrument:
        if inst:
            raise FeatureError(f"feature {base!r} takes no instrument (got {name!r:.60})")
        return feat, ""
    inst = inst or (default_instrument or "")
    if not inst:
        raise FeatureError(f"feature {name!r:.60} needs an instrument: {base}:INSTRUMENT")
    return feat, inst


def instruments_of(names: Sequence[str], default_instrument: str | None = None) -> set[str]:
    """The listed instruments a feature list reads."""
    return {i for i in (parse(n, default_instrument)[1] for n in names) if i}


def required_keys(names: Sequence[str], default_instrument: str | None = None) -> list[str]:
    """The context keys a feature list reads, in first-use order."""
    keys: dict[str, None] = {}
    for n in names:
        feat, inst = parse(n, default_instrument)
        for k in feat.inputs:
            keys[k.format(i=inst)] = None
    return list(keys)


def compute(
    name: str, ctx: Context, xp: ModuleType = np, default_instrument: str | None = None
) -> Any:
    """One feature's values (elementwise over the context's batch shape).

    Raises:
        FeatureError: Unknown name, or a context key it needs is missing.
    """
    feat, inst = parse(name, default_instrument)
    missing = [k.format(i=inst) for k in feat.inputs if k.format(i=inst) not in ctx]
    if missing:
        raise FeatureError(f"feature {name!r} needs context keys {missing}")
    return feat.formula(ctx, xp, inst)


def stack(
    names: Sequence[str], ctx: Context, xp: ModuleType = np, default_instrument: str | None = None
) -> Any:
    """The features in order, stacked on a new last axis: ``[..., len(names)]``."""
    cols = [compute(n, ctx, xp, default_instrument) for n in names]
    if xp is np:
        return np.stack(cols, axis=-1)
    return xp.stack(cols, dim=-1)


def context_from_event(
    event: Any, view: Any, horizon: float, instruments: Sequence[str]
) -> dict[str, Any]:
    """The numpy context of one step (inference).

    Args:
        event: The step's :class:`~market.events.MarketEvent`.
        view: The agent's :class:`~market.events.RiskSnapshot`.
        horizon: The horizon of the time features, years.
        instruments: Listed instruments the features read.

    Returns:
        The context (see the module docstring); per-instrument greeks are the
        view's ``hedge_greeks`` (the agent's model), falling back to the quote's.
    """
    ctx: dict[str, Any] = {
        "spot": event.spot,
        "t": float(event.time),
        "horizon": float(horizon),
        "atm_vol": event.surface.atm,
        "event_time": float(event.surface.event_time),
        "book_delta": view.delta,
        "book_gamma": view.gamma,
        "book_vega": view.vega,
    }
    zero = np.zeros_like(event.spot)
    for inst in instruments:
        q = event.quote(inst)
        g = view.hedge_greeks.get(inst, {})
        ctx[f"strike:{inst}"] = q.strike
        ctx[f"expiry:{inst}"] = float(q.expiry)
        ctx[f"gamma:{inst}"] = g.get("gamma", q.gamma)
        ctx[f"vega:{inst}"] = g.get("vega", q.vega)
        ctx[f"holding:{inst}"] = view.positions.get(inst, zero)
    return ctx
