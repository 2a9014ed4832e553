"""The market's configuration: world model, rates and listed instruments.

Validated at the scenario boundary (pydantic, frozen, unknown fields refused);
the hot path reads plain attributes from it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from market._history_config import (  # noqa: F401 -- re-exported: the validation worlds
    DataName,
    FitSpec,
    FittedConfig,
    FittedWorldParams,
    HistoryWindowsConfig,
    read_world,
)
from market.clock import ClockConfig, ClockPoint, RefineWindow
from market.execution import CostModel
from market.surface import SurfaceConfig
from market.validation import StrictModel, Variance, Vol

#: Longest horizon, tenor or expiry a scenario may give, days (100 years).
MAX_DAYS = 36_525.0


class GapConfig(StrictModel):
    """The announcement and its gap distribution.

    Attributes:
        name: Announcement name.
        day: Release time, days after the start (converted with the scenario's
            days per year).
        distribution: ``"normal"``, ``"student_t"`` (fat tails) or ``"two_sided"``
            (a jump up with probability ``p_up``, else down, of half-normal size).
        size_std: Std of the log gap, decimal (0.03 = 3%).
        mean: Mean of the log gap, decimal.
        df: Degrees of freedom of the Student-t (> 2).
        p_up: Probability of an up move for ``two_sided``.
        premium: Event variance priced in, as a multiple of ``size_std**2``.
        bid: Fractional rise of ATM vol over ``bid_days`` before release.
        bid_days: Days before release over which vol is bid.
        crush: Fractional fall of ATM vol at release, in [0, 1).
        at: Time of day of the release (``"08:30"`` or ``"08:30:15"``); the
            release is then at ``day + at`` (``day`` a whole day). None = at
            ``day`` exactly.
        refine: Finer steps around the release (e.g. 1-minute steps from 30
            minutes before to 2 hours after), or None.
        post_vol: Realised intraday vol right after the release, as a multiple
            of the normal vol (1 = none); the excess decays with
            ``post_vol_half_life_minutes``.
        post_vol_half_life_minutes: Half-life of the post-release vol excess, minutes.
        post_drift: Follow-through after the release as a fraction of the gap
            (> 0 continuation, < 0 reversal), drifting in exponentially.
        post_drift_minutes: Mean time of that drift, minutes.
    """

    name: str = "CPI"
    day: float = Field(10.0, gt=0.0, le=MAX_DAYS)
    distribution: Literal["normal", "student_t", "two_sided"] = "student_t"
    size_std: float = Field(0.03, ge=0.0, le=1.0)
    mean: float = Field(0.0, ge=-1.0, le=1.0)
    df: float = Field(3.0, gt=2.0, le=1e6)
    p_up: float = Field(0.5, ge=0.0, le=1.0)
    premium: float = Field(1.0, ge=0.0, le=100.0)
    bid: float = Field(0.10, ge=0.0, le=5.0)
    bid_days: float = Field(3.0, ge=0.0, le=MAX_DAYS)
    crush: float = Field(0.25, ge=0.0, lt=1.0)
    at: str | None = Field(None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")
    refine: RefineWindow | None = None
    post_vol: float = Field(1.0, ge=0.0, le=50.0, allow_inf_nan=False)
    post_vol_half_life_minutes: float = Field(30.0, gt=0.0, allow_inf_nan=False)
    post_drift: float = Field(0.0, ge=-5.0, le=5.0, allow_inf_nan=False)
    post_drift_minutes: float = Field(30.0, gt=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self) -> GapConfig:
        if self.at is not None and self.day != math.floor(self.day):
            raise ValueError(f"day must be a whole day when at is set, got {self.day}")
        return self

    @property
    def release_day(self) -> float:
        """Release time in days after the start (``day`` plus the time of day ``at``)."""
        if self.at is None:
            return self.day
        parts = [int(x) for x in self.at.split(":")]
        seconds = parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0)
        return self.day + seconds / 86400.0


class InstrumentSpec(StrictModel):
    """A listed hedge instrument.

    Attributes:
        name: Listing name agents order by (``"underlying"`` is reserved for the spot).
        kind: ``"underlying"`` or ``"option"``.
        is_call: Call (True) or put (False), options only.
        tenor_days: Days to expiry at listing (options).
        moneyness: Strike as a multiple of spot at listing (1.0 = ATM).
        relist_days: Days between listings of a new series (options).
        recenter: Re-strike a path's series when the spot has moved more than
            this in log-moneyness from its strike (the exchange lists a new
            strike near the money; the book rolls into it). None = never.
        roll: Close positions in a series when a new one lists (True), or
            hold them to expiry (False: every series traded stays in the
            book, valued and hedged as part of it).
        cost: Trading costs.
    """

    name: str = Field(min_length=1)
    kind: Literal["underlying", "option"] = "option"
    is_call: bool = True
    tenor_days: float = Field(30.0, gt=0.0, le=MAX_DAYS)
    moneyness: float = Field(1.0, gt=0.0, le=100.0)
    relist_days: float = Field(1.0, gt=0.0, le=MAX_DAYS)
    recenter: float | None = Field(None, gt=0.0, le=10.0)
    roll: bool = True
    cost: CostModel = CostModel()

    @model_validator(mode="after")
    def _check(self) -> InstrumentSpec:
        if self.kind == "option" and self.relist_days >= self.tenor_days:
            raise ValueError("relist_days must be shorter than tenor_days")
        if (self.kind == "underlying") != (self.name == "underlying"):
            raise ValueError("the underlying is listed as name 'underlying', kind 'underlying'")
        return self


class ReplayConfig(StrictModel):
    """A table of recorded market data for the ``replay`` world.

    One row per day of the scenario (row ``k`` is the close of day ``k``;
    with ``steps_per_day > 1`` the intraday steps hold the previous close).
    The table comes from a CSV or Parquet file (``path``) or is given inline
    (``table``: column name to values, e.g. built by :mod:`market.stress`);
    the same column mapping applies to both. The data are checked when the
    config is validated (:mod:`market.replay` does the reading), so a bad
    table is a one-line scenario error.

    Attributes:
        path: CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``)
            file, relative to the working directory.
        table: Inline columns (name to values; times as ISO date strings).
        time_column: Timestamps (ISO dates or datetimes, or numbers),
            strictly increasing.
        spot_column: Spot closes, currency (> 0).
        atm_vol_column: ATM implied vol at the 30-day reference tenor (> 0),
            in ``vol_units``.
        skew_column: Optional skew per row, vol per unit log-moneyness
            (decimal); without it the market's ``surface.skew`` applies.
        term_column: Optional term slope per row, vol per year of tenor
            (decimal); without it the market's ``surface.term`` applies.
        vol_units: ``"decimal"`` (0.2 = 20%) or ``"percent"`` (20 = 20%, as
            VIX is quoted); applies to the ATM vol column only.
        start: First date kept (inclusive); needs a date time column.
        end: Last date kept (inclusive); needs a date time column.
        rebase: Scale the spot path so its first row equals the market's
            ``spot`` (returns are kept); False replays the recorded levels.
        iv_source: Where the implied vol comes from (e.g. ``"VIX close"``,
            or ``"derived: GARCH(1,1) ..."`` when it is not a market quote).
    """

    # The table's numbers are checked by market.replay.load_table (finite,
    # plausible, in vol_units), which names the column and row.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=True)

    path: str | None = None
    table: dict[str, tuple[float, ...] | tuple[str, ...]] | None = None
    time_column: str = Field("date", min_length=1)
    spot_column: str = Field("spot", min_length=1)
    atm_vol_column: str = Field("atm_vol", min_length=1)
    skew_column: str | None = None
    term_column: str | None = None
    vol_units: Literal["decimal", "percent"] = "decimal"
    start: dt.date | None = None
    end: dt.date | None = None
    rebase: bool = False
    iv_source: str = ""

    @model_validator(mode="after")
    def _check(self) -> ReplayConfig:
        if (self.path is None) == (self.table is None):
            raise ValueError("give exactly one of path (a CSV or Parquet file) and table")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        from market._tables import load_table  # market.replay imports this module

        load_table(self)
        return self


class RegimeConfig(StrictModel):
    """A two-state Markov world: calm and stressed (``kind = "regime"``).

    Each path is in one regime; at every step it switches with the per-day
    probability of its regime (scaled to the step length). The ATM implied
    vol is the regime's level (the surface's skew and term slopes apply on
    top), the spot diffuses at ``realized_vol_ratio`` times it, and the
    stressed regime may carry its own drift.

    Attributes:
        calm_vol: ATM vol in the calm regime, decimal.
        stressed_vol: ATM vol in the stressed regime, decimal.
        p_calm_to_stressed: Probability per day of leaving the calm regime.
        p_stressed_to_calm: Probability per day of leaving the stressed regime.
        stressed_drift: Spot drift per year while stressed (None = the calm drift).
        start_stressed: Start every path in the stressed regime.
        stressed_jump_rate: Spot jumps per year while stressed (0 = none; then
            the draws are those of a world without jumps).
        stressed_jump_mean: Mean of the log jump size.
        stressed_jump_std: Std of the log jump size (>= 0).
    """

    calm_vol: Vol = 0.15
    stressed_vol: Vol = 0.45
    p_calm_to_stressed: float = Field(0.02, ge=0.0, le=1.0)
    p_stressed_to_calm: float = Field(0.10, ge=0.0, le=1.0)
    stressed_drift: float | None = Field(None, ge=-10.0, le=10.0)
    start_stressed: bool = False
    stressed_jump_rate: float = Field(0.0, ge=0.0, le=1000.0)
    stressed_jump_mean: float = Field(-0.05, ge=-5.0, le=5.0)
    stressed_jump_std: float = Field(0.05, ge=0.0, le=5.0)


class HestonWorld(StrictModel):
    """Heston dynamics of the world (``kind = "heston"``); quotes are Heston prices.

    Attributes:
        v0: Initial instantaneous variance, decimal² (0.04 = 20% vol).
        kappa: Mean-reversion speed of the variance, per year.
        theta_var: Long-run variance, decimal².
        xi: Volatility of variance (vol of vol), per sqrt(year).
        rho: Correlation of spot and variance shocks, in [-1, 1].
    """

    v0: Variance = 0.04
    kappa: float = Field(2.0, gt=0.0, le=1000.0)
    theta_var: Variance = 0.04
    xi: float = Field(0.5, ge=0.0, le=10.0)
    rho: float = Field(-0.7, ge=-1.0, le=1.0)


class MertonWorld(StrictModel):
    """Merton jump-diffusion world (``kind = "merton"``); quotes are Merton prices.

    Attributes:
        vol: Diffusion vol, decimal.
        lam: Jump intensity, jumps per year (>= 0).
        jump_mean: Mean of the log jump size.
        jump_std: Std of the log jump size (>= 0).
    """

    vol: Vol = 0.15
    lam: float = Field(1.0, ge=0.0, le=1000.0)
    jump_mean: float = Field(-0.05, ge=-5.0, le=5.0)
    jump_std: float = Field(0.08, ge=0.0, le=5.0)


class MarketConfig(StrictModel):
    """The world (path model and its parameters), rates and listed instruments.

    Attributes:
        kind: The world's path model: ``"gbm"``, ``"macro_gap"``, ``"regime"``
            (calm/stressed Markov switching), ``"heston"`` (stochastic
            variance), ``"merton"`` (jumps), ``"replay"`` (recorded data),
            ``"fitted"`` (GJR-GARCH fitted to real index data) or
            ``"history_windows"`` (every rolling window of real history, a path each).
        spot: Initial spot, currency (> 0).
        drift: Expected spot return per year, continuous; ``None`` = the
            risk-free rate (risk-neutral paths).
        realized_vol_ratio: Realised vol as a multiple of the base ATM implied vol.
        surface: Initial implied-vol surface and its dynamics.
        gap: The scheduled announcement (used by ``macro_gap``).
        replay: The recorded market data (used by ``replay``, required there).
        regime: The calm/stressed Markov switching (used by ``regime``).
        heston: Heston parameters (used by ``heston``).
        merton: Jump-diffusion parameters (used by ``merton``).
        fitted: The fitted world (used by ``fitted``, required there).
        history: The windows of real history (used by ``history_windows``).
        rate: Risk-free rate, continuous per year.
        div: Dividend yield, continuous per year.
        instruments: Listed hedge instruments; the underlying is always listed.
        clock: The run's calendar (the date and time of ``t = 0``).
    """

    kind: Literal[
        "gbm", "macro_gap", "replay", "regime", "heston", "merton", "fitted", "history_windows"
    ] = "gbm"
    spot: float = Field(100.0, gt=0.0, le=1e9)
    drift: float | None = Field(None, ge=-10.0, le=10.0)
    realized_vol_ratio: float = Field(1.0, ge=0.0, le=10.0)
    surface: SurfaceConfig = SurfaceConfig()
    gap: GapConfig = GapConfig()
    replay: ReplayConfig | None = None
    regime: RegimeConfig = RegimeConfig()
    heston: HestonWorld = HestonWorld()
    merton: MertonWorld = MertonWorld()
    fitted: FittedConfig | None = None
    history: HistoryWindowsConfig = HistoryWindowsConfig()
    rate: float = Field(0.0, ge=-0.2, le=1.0)
    div: float = Field(0.0, ge=-0.2, le=1.0)
    instruments: tuple[InstrumentSpec, ...] = (
        InstrumentSpec(name="underlying", kind="underlying"),
    )
    clock: ClockConfig = ClockConfig()

    @model_validator(mode="after")
    def _check(self) -> MarketConfig:
        names = [i.name for i in self.instruments]
        if len(set(names)) != len(names):
            raise ValueError(f"instrument names must be unique, got {names}")
        if "underlying" not in names:
            raise ValueError("the instruments must include 'underlying'")
        if self.kind == "replay" and self.replay is None:
            raise ValueError("replay: required when kind is 'replay' (the recorded data)")
        if self.kind == "fitted" and self.fitted is None:
            raise ValueError("fitted: required when kind is 'fitted' (path, world or fit)")
        return self

    def clock_points(self, year_days: float) -> list[ClockPoint]:
        """The scheduled events the timeline must hold (the announcement of ``macro_gap``)."""
        if self.kind != "macro_gap":
            return []
        g = self.gap
        return [ClockPoint(g.name, g.release_day / year_days, g.refine)]
