"""Fit a GJR-GARCH(1,1)-t to real index returns, and tie implied vol to its variance.

:func:`fit_world` fits ``arch``'s GJR-GARCH(1,1) with a constant mean and
Student-t innovations to the daily log returns (in percent, as ``arch``
expects) of a window of real closes (:mod:`market._history`), then:

* filters the whole data set with the fitted parameters (:func:`filter_variance`)
  to get the one-day-ahead variance at every close;
* turns it into the model's 21-day average variance forecast, annualised
  (:func:`forecast_vol_21`), and regresses the log of the real VIX close
  (``arch.data.vix``, 2014-2019, as a decimal vol) on its log over the days
  both exist: ``log(VIX) = c0 + c1 log(s21)``. ``exp(c0) s21**c1`` is then the
  world's ATM implied vol; it sits above ``s21`` by the variance risk premium
  the real market priced.

The fit is deterministic (``arch``'s SLSQP from its fixed starting values; no
random element), so the same window gives the same JSON to the last bit.
:func:`write_world` writes it atomically (JSON, no pickle).

Units: returns decimal per day; variances decimal² per day; vols
annualised decimals (252 trading days).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import warnings
from pathlib import Path

import numpy as np

from market._atomic import atomic_write_text
from market._history import DATA_SOURCES, HistoryDataError, iso, load_closes, load_vix
from market.config import FitSpec, FittedWorldParams

#: Fewest daily returns a fit accepts (about two years).
MIN_FIT_RETURNS = 500
#: Trading days per year (annualises daily variance).
TRADING_DAYS = 252
#: Horizon of the implied vol's variance forecast, trading days (VIX's 30 days).
IV_HORIZON = 21


def filter_variance(
    returns: np.ndarray, w: FittedWorldParams, h0: float | None = None
) -> np.ndarray:
    """One-day-ahead variance after every return, by the GJR recursion.

    Args:
        returns: Daily log returns, decimal, ``[T]``.
        w: The fitted parameters.
        h0: Variance of the first return, decimal² (default: the long-run variance).

    Returns:
        ``h[t]``: the variance of return ``t + 1`` given returns up to ``t``, ``[T]``.
    """
    h = w.unconditional_variance if h0 is None else h0
    out = np.empty(returns.shape[0])
    eps = returns - w.mu
    for t in range(returns.shape[0]):
        e = eps[t]
        h = w.omega + (w.alpha + (w.gamma if e < 0.0 else 0.0)) * e * e + w.beta * h
        out[t] = h
    return out


def forecast_vol_21(h_next: np.ndarray, w: FittedWorldParams) -> np.ndarray:
    """The model's average variance over the next 21 days, as an annualised vol.

    ``E[h_{t+k}] = hbar + phi**(k-1) (h_{t+1} - hbar)`` with ``phi`` the
    persistence (``alpha + gamma/2 + beta``, symmetric innovations).

    Args:
        h_next: Next-day variance, decimal², any shape.
        w: The fitted parameters.

    Returns:
        Vol, annualised decimal, the shape of ``h_next``.
    """
    phi = w.persistence
    hbar = w.unconditional_variance
    k = (1.0 - phi**IV_HORIZON) / (IV_HORIZON * (1.0 - phi))
    return np.sqrt(TRADING_DAYS * (hbar + (h_next - hbar) * k))


def implied_atm(h_next: np.ndarray, w: FittedWorldParams) -> np.ndarray:
    """ATM implied vol (30-day, decimal) at next-day variance ``h_next``: ``exp(c0) s21**c1``."""
    return np.exp(w.iv_c0) * forecast_vol_21(h_next, w) ** w.iv_c1


def _returns(spec: FitSpec) -> tuple[np.ndarray, np.ndarray]:
    if spec.end < spec.start:
        raise HistoryDataError(f"--start {spec.start} is after --end {spec.end}")
    closes = load_closes(spec.data).window(spec.start, spec.end)
    first, last = DATA_SOURCES[spec.data][1].rsplit(", ", 1)[-1].split("-")
    if closes.close.shape[0] < 2:
        raise HistoryDataError(
            f"no {spec.data} closes between {spec.start} and {spec.end} (it ships {first}-{last})"
        )
    r = np.diff(np.log(closes.close))
    if r.shape[0] < MIN_FIT_RETURNS:
        raise HistoryDataError(
            f"{spec.start}..{spec.end} holds {r.shape[0]} daily returns of {spec.data}: a fit "
            f"needs at least {MIN_FIT_RETURNS} (about two years)"
        )
    return closes.dates[1:], r


@functools.lru_cache(maxsize=8)
def fit_world(spec: FitSpec) -> FittedWorldParams:
    """Fit the world to a window of real closes (cached per process: the fit is pure).

    Args:
        spec: The data name and window.

    Returns:
        The fitted parameters, the implied-vol relation and the residuals.

    Raises:
        HistoryDataError: Unknown data, no or too few returns in the window, or
            the optimiser did not converge.
    """
    from arch import arch_model

    dates, r = _returns(spec)
    model = arch_model(100.0 * r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp="off", show_warning=False)
    if res.convergence_flag != 0:
        raise HistoryDataError(f"the GJR-GARCH fit of {spec.data} did not converge")
    p = res.params
    h_last = float(res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]) / 1e4
    base = {
        "data": spec.data,
        "data_source": DATA_SOURCES[spec.data][1],
        "start": iso(dates[0]),
        "end": iso(dates[-1]),
        "n_obs": int(r.shape[0]),
        "mu": float(p["mu"]) / 100.0,
        "omega": float(p["omega"]) / 1e4,
        "alpha": float(p["alpha[1]"]),
        "gamma": float(p["gamma[1]"]),
        "beta": float(p["beta[1]"]),
        "nu": float(p["nu"]),
        "loglik": float(res.loglikelihood),
        "last_variance": h_last,
        "iv_c0": 0.0,
        "iv_c1": 1.0,
        "iv_r2": 0.0,
        "iv_n": 0,
        "iv_window": "",
    }
    world = FittedWorldParams.model_validate(base)
    return world.model_copy(update=_iv_relation(spec.data, world))


def _iv_relation(data: str, w: FittedWorldParams) -> dict[str, object]:
    """Regress log VIX on the log model vol over the days both exist."""
    full = load_closes(data)
    h = filter_variance(np.diff(np.log(full.close)), w)
    days = full.dates[1:]
    vdates, vix = load_vix()
    common, i_h, i_v = np.intersect1d(days, vdates, return_indices=True)
    if common.shape[0] < 20:
        raise HistoryDataError(f"{data}: too few days with a VIX close to fit the implied vol")
    x = np.log(forecast_vol_21(h[i_h], w))
    y = np.log(vix[i_v])
    c1, c0 = np.polyfit(x, y, 1)
    fitted = c0 + c1 * x
    r2 = 1.0 - float(np.sum((y - fitted) ** 2)) / float(np.sum((y - y.mean()) ** 2))
    return {
        "iv_c0": float(c0),
        "iv_c1": float(c1),
        "iv_r2": r2,
        "iv_n": int(common.shape[0]),
        "iv_window": f"{iso(common[0])}..{iso(common[-1])}",
    }


def world_json(world: FittedWorldParams) -> str:
    """The fitted world as JSON text (floats written exactly: they read back bit for bit)."""
    return json.dumps(world.model_dump(mode="json"), indent=1) + "\n"


def write_world(world: FittedWorldParams, path: str | os.PathLike[str]) -> Path:
    """Write ``world.json`` atomically (a temporary file, fsync, rename).

    Args:
        world: The fit.
        path: Destination file; its folder must exist.
    """
    dest = Path(path)
    atomic_write_text(dest, world_json(world))
    return dest


def resolve_world(fitted: object) -> FittedWorldParams:
    """The parameters a :class:`~market.config.FittedConfig` names (file, inline or fit)."""
    from market.config import FittedConfig, read_world

    assert isinstance(fitted, FittedConfig)
    if fitted.world is not None:
        return fitted.world
    if fitted.path is not None:  # not reached from a validated config (it reads the file)
        return read_world(fitted.path)
    assert fitted.fit is not None
    return fit_world(fitted.fit)


def fit_spec(data: str, start: dt.date, end: dt.date) -> FitSpec:
    """A :class:`~market.config.FitSpec`, with one-line errors for a bad name or window."""
    from market._history import check_data_name

    check_data_name(data)
    if end < start:
        raise HistoryDataError(f"--start {start} is after --end {end}")
    return FitSpec.model_validate({"data": data, "start": start, "end": end})


__all__ = [
    "IV_HORIZON",
    "MIN_FIT_RETURNS",
    "TRADING_DAYS",
    "filter_variance",
    "fit_spec",
    "fit_world",
    "forecast_vol_21",
    "implied_atm",
    "resolve_world",
    "world_json",
    "write_world",
]
