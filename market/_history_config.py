"""Configuration of the validation worlds: a fit to real data, and real history as paths.

Re-exported by :mod:`market.config` (the world union lists ``fitted`` and
``history_windows``); kept apart so that module stays short.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Literal

from pydantic import Field, model_validator

from market.validation import StrictModel

#: Names of the real index data a fit or a history run reads (see :mod:`market._history`).
DataName = Literal["sp500", "sp500_skfolio"]


class FitSpec(StrictModel):
    """A fit to real data, done when a run starts (see :mod:`market.generators.fitted_fit`).

    Attributes:
        data: ``"sp500"`` (``arch.data.sp500``, 1999-2018) or ``"sp500_skfolio"``
            (``skfolio``'s S&P 500 index, 1990-2022).
        start: First close of the fit window (inclusive).
        end: Last close of the fit window (inclusive).
    """

    data: DataName = "sp500"
    start: dt.date = dt.date(2000, 1, 1)
    end: dt.date = dt.date(2018, 12, 31)

    @model_validator(mode="after")
    def _check(self) -> FitSpec:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class FittedWorldParams(StrictModel):
    """A GJR-GARCH(1,1) with Student-t innovations fitted to daily index returns.

    Written by ``gammaray fit`` as JSON (``world.json``). Daily units: the
    log return of day ``t`` is ``mu + eps_t``, ``eps_t = sqrt(h_t) z_t`` with
    ``z_t`` unit-variance; ``h_{t+1} = omega + (alpha + gamma 1[eps_t < 0]) eps_t**2
    + beta h_t``. The ATM implied vol (30-day, decimal) is
    ``exp(iv_c0) * s21**iv_c1``, ``s21`` the model's 21-day average variance
    forecast, annualised with 252 days (a fit of log VIX on log ``s21``).

    Attributes:
        format: Always ``"gammaray.fitted_world"``.
        version: Format version.
        data: The data name fitted (:data:`DataName`).
        data_source: Where the closes come from (package and dataset).
        start: First return's date of the fit (ISO).
        end: Last return's date of the fit (ISO).
        n_obs: Daily returns fitted.
        mu: Mean log return per day, decimal.
        omega: Variance intercept, decimal² per day.
        alpha: ARCH coefficient.
        gamma: Leverage (asymmetry) coefficient.
        beta: GARCH coefficient.
        nu: Student-t degrees of freedom (> 2).
        loglik: Log-likelihood of the fit (percent returns, as ``arch`` reports it).
        last_variance: Forecast variance of the day after ``end``, decimal² per day.
        iv_c0: Intercept of log ATM vol on log ``s21``.
        iv_c1: Slope of log ATM vol on log ``s21``.
        iv_r2: R² of that regression.
        iv_n: Days in that regression.
        iv_window: The VIX days regressed (ISO ``first..last``).
    """

    format: Literal["gammaray.fitted_world"] = "gammaray.fitted_world"
    version: Literal[1] = 1
    data: DataName
    data_source: str
    start: str
    end: str
    n_obs: int = Field(ge=2)
    mu: float = Field(ge=-1.0, le=1.0)
    omega: float = Field(gt=0.0, le=1.0)
    alpha: float = Field(ge=0.0, le=1.0)
    gamma: float = Field(ge=-1.0, le=2.0)
    beta: float = Field(ge=0.0, le=1.0)
    nu: float = Field(gt=2.0, le=1000.0)
    loglik: float
    last_variance: float = Field(gt=0.0, le=1.0)
    iv_c0: float = Field(ge=-20.0, le=20.0)
    iv_c1: float = Field(ge=-10.0, le=10.0)
    iv_r2: float
    iv_n: int = Field(ge=0)
    iv_window: str

    @model_validator(mode="after")
    def _check(self) -> FittedWorldParams:
        if self.alpha + 0.5 * self.gamma < 0.0:
            raise ValueError("alpha + gamma/2 must be >= 0 (a variance cannot fall on a shock)")
        if self.persistence >= 1.0:
            raise ValueError(
                f"alpha + gamma/2 + beta = {self.persistence:.6f}: the fit is not stationary (< 1)"
            )
        return self

    @property
    def persistence(self) -> float:
        """``alpha + gamma / 2 + beta``: how much of a variance shock is left a day later."""
        return self.alpha + 0.5 * self.gamma + self.beta

    @property
    def unconditional_variance(self) -> float:
        """Long-run daily variance, decimal²."""
        return self.omega / (1.0 - self.persistence)


class FittedConfig(StrictModel):
    """The ``fitted`` world: which fit, how to draw shocks, where paths start.

    Give exactly one of ``path`` (a ``world.json`` written by ``gammaray fit``,
    read and checked when the scenario is validated; its parameters are then
    kept inline in ``world`` too, so the run never reads the file again),
    ``world`` (the parameters inline) or ``fit`` (fitted when a run starts, so
    loading the scenario reads no data).

    Attributes:
        path: JSON file written by ``gammaray fit``.
        world: The fitted parameters inline.
        fit: Fit to real data when the run starts.
        init: ``"stationary"`` (each path runs ``burn_in_days`` days before
            ``t = 0``, so its variance is a draw from the model's own
            distribution), ``"unconditional"`` (the long-run variance) or
            ``"last"`` (the forecast after the fit's last day).
        burn_in_days: Days simulated before the start for ``"stationary"``.
    """

    path: str | None = None
    world: FittedWorldParams | None = None
    fit: FitSpec | None = None
    init: Literal["stationary", "unconditional", "last"] = "stationary"
    burn_in_days: int = Field(250, ge=0, le=100_000)

    @model_validator(mode="before")
    @classmethod
    def _read_path(cls, data: object) -> object:
        # The file is read where the scenario is loaded and its parameters
        # travel inline with the config: a machine without the file (a Ray
        # worker) keeps the inline copy; where the file is, it wins (so
        # ``--set market.fitted.path=...`` on a loaded scenario takes the new file).
        if not isinstance(data, dict) or data.get("path") is None:
            return data
        path = str(data["path"])
        if data.get("world") is not None and not os.path.exists(path):
            return data
        return {**data, "world": read_world(path).model_dump()}

    @model_validator(mode="after")
    def _check(self) -> FittedConfig:
        if (self.world is None) == (self.fit is None):
            raise ValueError("give exactly one of path (world.json), world (inline) and fit")
        return self


def read_world(path: str) -> FittedWorldParams:
    """Read and check a ``world.json`` written by ``gammaray fit``.

    Raises:
        ValueError: One line: the file is missing, not JSON, or not a fitted world.
    """
    import json
    from pathlib import Path

    from pydantic import ValidationError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the fitted world {path!r}: {exc.strerror}") from None
    try:
        return FittedWorldParams.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path!r} is not JSON ({exc.msg}, line {exc.lineno})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top)"
        raise ValueError(f"{path!r} is not a fitted world: {where}: {err['msg']}") from None


class HistoryWindowsConfig(StrictModel):
    """Every rolling window of real history as one path each (``kind = "history_windows"``).

    Window ``i`` starts at trading day ``i * stride`` of the closes between
    ``start`` and ``end`` and spans the scenario's ``days`` (one row a
    day: ``days + 1`` closes); path ``i`` is window ``i``, so a run of every
    window has ``n_paths`` equal to the number of windows (a run with fewer
    paths takes the first ones; more is refused when the run starts). The
    ATM vol is the VIX close where ``arch`` ships it (2014-2018) and
    elsewhere the fitted world's implied vol at the filtered conditional
    variance (:class:`FittedWorldParams`); ``market.surface`` gives the skew
    and term slope. The data are read when the run starts.

    Attributes:
        data: The closes (:data:`DataName`).
        window_days: Trading days a window spans (its closes: ``window_days + 1``);
            the scenario's ``days`` may not exceed it.
        start: First close a window may use (inclusive).
        end: Last close a window may use (inclusive).
        stride: Trading days between window starts.
        rebase: Scale each window so its first close is the market's ``spot``.
        vix: Use the VIX close where shipped (False: the fitted vol everywhere).
        fit: The fit whose conditional vol gives the ATM vol off VIX.
    """

    data: DataName = "sp500_skfolio"
    window_days: int = Field(30, ge=1, le=10_000)
    start: dt.date = dt.date(1990, 1, 1)
    end: dt.date = dt.date(2022, 12, 31)
    stride: int = Field(1, ge=1, le=100_000)
    rebase: bool = True
    vix: bool = True
    fit: FitSpec = FitSpec(
        data="sp500_skfolio", start=dt.date(1990, 1, 1), end=dt.date(2022, 12, 31)
    )

    @model_validator(mode="after")
    def _check(self) -> HistoryWindowsConfig:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


__all__ = [
    "DataName",
    "FitSpec",
    "FittedConfig",
    "FittedWorldParams",
    "HistoryWindowsConfig",
    "read_world",
]
