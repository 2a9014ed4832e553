"""Stylized facts of daily returns, as pure functions of a panel of returns.

A panel is ``r[n, T]``: ``n`` windows (simulated paths, or consecutive
non-overlapping windows of real history) of ``T`` daily log returns
(decimal). Every statistic pools the windows: moments use all ``n * T``
returns; a lag-``k`` correlation pairs ``r[i, t]`` with ``r[i, t + k]``
inside each window only (never across windows), with the pooled means and
standard deviations. A simulated world and real history cut into windows
of the same length are thus measured the same way, on the same horizon.

* :func:`kurtosis` (excess: 0 for a normal), :func:`skewness`;
* :func:`acf_abs`: autocorrelation of ``|r|`` at lags 1..K (volatility clustering);
* :func:`leverage`: ``corr(r_t, |r_{t+k}|)`` at lags 1..K (falls below 0 when
  losses raise later volatility);
* :func:`vol_of_vol`: std of the change of log realised vol from one 5-day
  block to the next (dimensionless, per 5 days);
* :func:`half_life`: days for a vol shock to halve, from the decay of the
  ``|r|`` autocorrelation (``acf(k) ~ a phi**k``; ``ln 0.5 / ln phi``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Lags of the autocorrelation and leverage statistics, days.
MAX_LAG = 20
#: Days per block of :func:`vol_of_vol`.
VOV_BLOCK = 5


def _panel(r: np.ndarray) -> np.ndarray:
    a = np.asarray(r, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] < 2:
        raise ValueError(f"returns must be [n, T] with T >= 2, got shape {a.shape}")
    return a


def kurtosis(r: np.ndarray) -> float:
    """Excess kurtosis of the pooled returns (0 for a normal)."""
    x = _panel(r).ravel()
    d = x - x.mean()
    return float(np.mean(d**4) / np.mean(d**2) ** 2 - 3.0)


def skewness(r: np.ndarray) -> float:
    """Skewness of the pooled returns."""
    x = _panel(r).ravel()
    d = x - x.mean()
    return float(np.mean(d**3) / np.mean(d**2) ** 1.5)


def _lag_corr(x: np.ndarray, y: np.ndarray, lags: int) -> np.ndarray:
    """``corr(x[:, t], y[:, t + k])`` for k = 1..lags, pooled moments, ``[lags]``."""
    dx = x - x.mean()
    dy = y - y.mean()
    sd = math.sqrt(float(np.mean(dx * dx)) * float(np.mean(dy * dy)))
    out = np.full(lags, np.nan)
    for k in range(1, min(lags, x.shape[1] - 1) + 1):
        out[k - 1] = float(np.mean(dx[:, :-k] * dy[:, k:])) / sd if sd > 0 else np.nan
    return out


def acf_abs(r: np.ndarray, lags: int = MAX_LAG) -> np.ndarray:
    """Autocorrelation of ``|r|`` at lags 1..``lags`` (NaN past the window), ``[lags]``."""
    a = np.abs(_panel(r))
    return _lag_corr(a, a, lags)


def leverage(r: np.ndarray, lags: int = MAX_LAG) -> np.ndarray:
    """``corr(r_t, |r_{t+k}|)`` at lags 1..``lags``, ``[lags]``."""
    x = _panel(r)
    return _lag_corr(x, np.abs(x), lags)


def vol_of_vol(r: np.ndarray, block: int = VOV_BLOCK) -> float:
    """Std of the change in log realised vol between consecutive ``block``-day blocks."""
    x = _panel(r)
    nb = x.shape[1] // block
    if nb < 2:
        return math.nan
    rv = np.sqrt(np.mean(x[:, : nb * block].reshape(x.shape[0], nb, block) ** 2, axis=2))
    rv = np.log(np.maximum(rv, 1e-12))
    return float(np.std(np.diff(rv, axis=1)))


def half_life(acf: np.ndarray) -> float:
    """Half-life of vol shocks, days, from the decay of an ``|r|`` autocorrelation.

    Fits ``log acf(k) = log a + k log phi`` over the lags with ``acf > 0``;
    inf when it does not decay (``phi >= 1``), NaN with fewer than two such lags.
    """
    k = np.arange(1, acf.shape[0] + 1, dtype=np.float64)
    ok = np.isfinite(acf) & (acf > 0)
    if ok.sum() < 2:
        return math.nan
    slope = float(np.polyfit(k[ok], np.log(acf[ok]), 1)[0])
    return math.log(0.5) / slope if slope < -1e-12 else math.inf


@dataclass(frozen=True, slots=True)
class Facts:
    """The stylized facts of one panel of returns.

    Attributes:
        n_windows: Windows pooled.
        horizon: Returns per window, days.
        kurtosis: Excess kurtosis.
        skewness: Skewness.
        acf_abs: ACF of ``|r|`` at lags 1..20, ``[20]`` (NaN past the window).
        leverage: ``corr(r_t, |r_{t+k}|)`` at lags 1..20, ``[20]``.
        vol_of_vol: Std of 5-day changes of log realised vol.
        half_life: Half-life of vol shocks, days.
        ann_vol: Realised vol, annualised with 252 days, decimal.
    """

    n_windows: int
    horizon: int
    kurtosis: float
    skewness: float
    acf_abs: np.ndarray
    leverage: np.ndarray
    vol_of_vol: float
    half_life: float
    ann_vol: float


def stylized_facts(r: np.ndarray) -> Facts:
    """Every statistic of this module for a panel ``r[n, T]`` of daily log returns."""
    x = _panel(r)
    acf = acf_abs(x)
    return Facts(
        n_windows=x.shape[0],
        horizon=x.shape[1],
        kurtosis=kurtosis(x),
        skewness=skewness(x),
        acf_abs=acf,
        leverage=leverage(x),
        vol_of_vol=vol_of_vol(x),
        half_life=half_life(acf),
        ann_vol=float(np.std(x) * math.sqrt(252.0)),
    )


def windows(returns: np.ndarray, horizon: int) -> np.ndarray:
    """Consecutive non-overlapping windows of a return series, ``[len // horizon, horizon]``."""
    n = returns.shape[0] // horizon
    if n < 1:
        raise ValueError(f"{returns.shape[0]} returns hold no window of {horizon} days")
    return np.asarray(returns[: n * horizon], dtype=np.float64).reshape(n, horizon)


#: The aimed-for statistics (name, getter) compared within a tolerance.
AIM_KEYS = ("kurtosis", "acf_abs_1", "acf_abs_5", "acf_abs_20", "leverage_1")


def headline(f: Facts) -> dict[str, float]:
    """The table's numbers of one panel: the moments, lags 1/5/20, vol of vol, half-life."""

    def lag(a: np.ndarray, k: int) -> float:
        return float(a[k - 1]) if a.shape[0] >= k else math.nan

    return {
        "kurtosis": f.kurtosis,
        "skewness": f.skewness,
        "acf_abs_1": lag(f.acf_abs, 1),
        "acf_abs_5": lag(f.acf_abs, 5),
        "acf_abs_20": lag(f.acf_abs, 20),
        "leverage_1": lag(f.leverage, 1),
        "vol_of_vol": f.vol_of_vol,
        "half_life": f.half_life,
        "ann_vol": f.ann_vol,
    }


__all__ = [
    "AIM_KEYS",
    "MAX_LAG",
    "VOV_BLOCK",
    "Facts",
    "acf_abs",
    "half_life",
    "headline",
    "kurtosis",
    "leverage",
    "matched_headline",
    "matched_lags",
    "real_returns",
    "simulate_returns",
    "skewness",
    "stylized_facts",
    "vol_of_vol",
    "windows",
]


def simulate_returns(
    config: object, n_paths: int, days: int, year_days: float, seed: int
) -> np.ndarray:
    """Daily log returns of a world: ``n_paths`` paths of ``days`` one-day steps.

    The market's own generator and random stream (stream 0 of ``seed``), so
    the paths are those a run of the scenario moves its spot along at one
    step a day.

    Args:
        config: A :class:`~market.config.MarketConfig`.
        n_paths: Paths.
        days: Days per path (returns per path).
        year_days: Days per year of the scenario.
        seed: The scenario seed.

    Returns:
        ``r[n_paths, days]``, decimal.
    """
    from market._rng import BlockRNG
    from market.config import MarketConfig
    from market.generators import make_generator
    from market.simulator import MARKET_STREAM

    assert isinstance(config, MarketConfig)
    gen = make_generator(config, BlockRNG(seed, MARKET_STREAM, 0, n_paths), year_days)
    out = np.empty((n_paths, days))
    prev = np.log(gen.spot)
    for k in range(days):
        gen.advance(k / year_days, (k + 1) / year_days)
        cur = np.log(gen.spot)
        out[:, k] = cur - prev
        prev = cur
    return out


def real_returns(data: str, start: object, end: object) -> np.ndarray:
    """Daily log returns of real closes (:mod:`market._history`) between two dates, ``[T]``."""
    import datetime as dt

    from market._history import load_closes

    assert isinstance(start, dt.date) and isinstance(end, dt.date)
    c = load_closes(data).window(start, end)
    return np.diff(np.log(c.close))


def matched_headline(r: np.ndarray, n_real: int) -> dict[str, float]:
    """The headline numbers of a simulated panel, measured like for like with real history.

    A fitted GARCH-t world need not have a finite fourth moment (the fitted
    GJR-t's does not), so its pooled sample kurtosis grows without bound
    with the number of paths, and even the pooled ACF of ``|r|`` (whose
    estimator needs that moment) is dominated by a few explosive paths. A
    sample as long as the real history is what the real history can be
    compared with: the panel is cut into groups of ``n_real`` windows and
    each statistic is the median over the groups (NaN-aware), which is
    stable from one seed to the next. With fewer than two groups it is the
    whole panel's.

    Args:
        r: Simulated returns ``[n, T]``.
        n_real: Windows of the real panel it is compared with.
    """
    x = _panel(r)
    groups = x.shape[0] // max(1, n_real)
    if groups < 2:
        return headline(stylized_facts(x))
    rows = [headline(stylized_facts(x[g * n_real : (g + 1) * n_real])) for g in range(groups)]
    out = {}
    for k in rows[0]:
        vals = np.array([row[k] for row in rows])
        out[k] = float(np.median(vals[np.isfinite(vals)])) if np.isfinite(vals).any() else math.nan
    return out


def matched_lags(r: np.ndarray, n_real: int) -> tuple[np.ndarray, np.ndarray]:
    """ACF of ``|r|`` and leverage by lag, measured as :func:`matched_headline` does.

    Returns:
        ``(acf, leverage)``, each ``[MAX_LAG]``: per lag, the median over
        groups of ``n_real`` windows (the whole panel's with fewer than two groups).
    """
    x = _panel(r)
    groups = x.shape[0] // max(1, n_real)
    if groups < 2:
        return acf_abs(x), leverage(x)
    parts = [x[g * n_real : (g + 1) * n_real] for g in range(groups)]
    return (
        np.median(np.stack([acf_abs(p) for p in parts]), axis=0),
        np.median(np.stack([leverage(p) for p in parts]), axis=0),
    )
