"""Training sets: the engine's own market events of a scenario, as arrays per step.

The market does not depend on the agents' trades (no impact on the path), so
a training set is what the :class:`~market.simulator.MarketSimulator` (or any
market source with ``start()`` / ``step()``: a recorded log's replay) emits
for the scenario, taken once. :func:`build_trainset` walks those events with
the engine's own components -- a :class:`~agents.manager.RiskManager` with no
agents holds the book (initial options, client flow, carry, expiries) and its
quote memo prices every hedge contract the way the engine's portfolio values
it -- and keeps, per step ``k = 0 .. T`` (``[T + 1, n]`` arrays):

* the spot, the ATM vol, the rate and dividend, the step times;
* each listed instrument's quote: mid, delta, gamma, vega, its contract, and
  the fast-market spread multiplier of its fills (the engine's
  :func:`~market.execution.event_multiplier` after each release);
* the position *slots* a hedge ends up in: one per rolled option instrument
  (what was held since the last step is valued at the held contract's terms,
  closed on the paths where the series was relisted or re-struck, at that
  value plus the instrument's costs) and one per contract of an instrument
  held to expiry (``roll = false``: its greeks while alive, its value at the
  end, settled at intrinsic at expiry);
* the book's greeks before any hedge (client flow included), the manager's
  risk bands, and the unhedged book's terminal P&L.

:mod:`orchestration._train_pnl` turns any trades into the engine's terminal
P&L from these, in torch, with the shared formulas of :mod:`market._fills`
and :mod:`agents._ledger`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents._ledger import intrinsic
from agents.book import BookFlow
from agents.manager import RiskManager
from agents.manager_config import ManagerConfig
from agents.portfolio import EXPIRY_EPS, OptionLine
from market._fills import minutes_since_release
from market._rng import BlockRNG
from market.events import Announcement, MarketEvent
from market.execution import CostModel, event_multiplier
from market.simulator import MarketSimulator
from orchestration.config import Scenario, ScenarioError

#: The client flow's random stream (the engine's).
FLOW_STREAM = 1
#: Quantity of a line used for its terms only.
NO_QTY = np.zeros(0)


@dataclass
class Slot:
    """Where the trades of one hedge instrument accumulate.

    A rolled instrument has one slot (the series currently held); an
    instrument held to expiry has one slot per contract.

    Attributes:
        instrument: Listing name.
        contract: Contract identity (held-to-expiry slots), or None (rolled).
        is_call: Call or put.
        first: First step a trade can enter the slot.
        expire: Step at which the slot settles at intrinsic, or None.
        payoff: Intrinsic value per unit at ``expire``, ``[n]`` (zeros if None).
        value: Value per unit at step ``k`` of what was held since ``k - 1``,
            ``[T + 1, n]`` (rolled slots; the terminal value for both kinds
            is ``value[T]``).
        vega: Its vega per unit, ``[T + 1, n]`` (rolled slots: roll costs).
        close: Paths on which it is closed (rolled) at step ``k``,
            ``[T + 1, n]`` bool (rolled slots).
        greeks: ``delta``, ``gamma``, ``vega`` per unit at step ``k`` while
            held (after the step's roll), ``[T + 1, n]`` each.
    """

    instrument: str
    contract: str | None
    is_call: bool
    first: int
    expire: int | None = None
    payoff: np.ndarray | None = None
    value: np.ndarray | None = None
    vega: np.ndarray | None = None
    close: np.ndarray | None = None
    greeks: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class TrainSet:
    """One scenario's market events over ``n`` paths and ``T`` steps, per step.

    Attributes:
        instruments: Listed instrument names, in listing order.
        kinds: ``"underlying"`` or ``"option"`` per instrument.
        costs: Cost model per instrument.
        times: Step times, years, ``[T + 1]``.
        rate: Rate per step, ``[T + 1]``.
        div: Dividend yield per step, ``[T + 1]``.
        spot: ``[T + 1, n]``.
        atm: ATM implied vol, ``[T + 1, n]``.
        quotes: Instrument to ``mid``, ``delta``, ``gamma``, ``vega``, ``[T + 1, n]`` each.
        contracts: Instrument to its listed contract per step (``T + 1`` names).
        spread_mult: Instrument to its fill's half-spread multiplier per step, ``[T + 1]``.
        slots: The position slots.
        trade_slot: Instrument to the slot index its trades at step ``k`` enter
            (``-1`` for the underlying), ``[T + 1]``.
        book: Book greeks before hedges, ``delta``/``gamma``/``vega``/``theta``, ``[T + 1, n]``.
        bands: The manager's bands per greek, ``[T + 1, n]``.
        book_pnl: The unhedged book's terminal P&L, ``[n]``.
        event_time: The surface's pending release time per step, years (``inf``: none), ``[T + 1]``.
        strike: Instrument to its listed contract's strike, ``[T + 1, n]``.
        expiry: Instrument to its listed contract's expiry per step, years, ``[T + 1]``.
        events: Scheduled announcements: ``(name, release time in years)``.
        year_days: Days per year.
        horizon: Run length, years.
        max_order: The manager's per-order limits (units) per instrument.
        stress_ds: The manager's stress-grid spot move per step, currency, ``[T + 1, n]``.
        stress_dv: The stress grid's vol move, decimal.
        hard_limit: The manager's hard limit on the stressed loss, as a multiple
            of ``budget`` (None: none).
        budget: The manager's risk budget, currency.
        timeline: The scenario's :class:`~market.clock.Timeline` (its decision grid,
            wake-ups and releases: the agents' clock schedules), or None.
    """

    instruments: list[str]
    kinds: list[str]
    costs: dict[str, CostModel]
    times: np.ndarray
    rate: np.ndarray
    div: np.ndarray
    spot: np.ndarray
    atm: np.ndarray
    quotes: dict[str, dict[str, np.ndarray]]
    contracts: dict[str, list[str]]
    spread_mult: dict[str, np.ndarray]
    slots: list[Slot]
    trade_slot: dict[str, np.ndarray]
    book: dict[str, np.ndarray]
    bands: dict[str, np.ndarray]
    book_pnl: np.ndarray
    event_time: np.ndarray
    strike: dict[str, np.ndarray]
    expiry: dict[str, np.ndarray]
    events: list[tuple[str, float]]
    year_days: float
    horizon: float
    max_order: dict[str, float]
    stress_ds: np.ndarray
    stress_dv: float
    hard_limit: float | None
    budget: float
    timeline: Any = None

    @property
    def n_steps(self) -> int:
        """Trading steps ``T`` (the last quote, step ``T``, only closes the run)."""
        return int(self.times.shape[0]) - 1

    @property
    def n_paths(self) -> int:
        """Paths."""
        return int(self.spot.shape[1])


def check_trainable(scenario: Scenario) -> None:
    """Refuse a scenario whose hedges the trainer cannot account for.

    Raises:
        ScenarioError: An option held to expiry (``roll = false``) that the
            exchange re-strikes (``recenter``): the engine adds new trades to
            the old strike's line, which no slot models.
    """
    for i in scenario.market.instruments:
        if i.kind == "option" and not i.roll and i.recenter is not None:
            raise ScenarioError(
                f"train: instrument {i.name!r} is held to expiry (roll = false) and re-struck "
                "(recenter): set one of them"
            )


def _flow(scenario: Scenario, seed: int, n: int) -> tuple[BookFlow, BlockRNG, int] | None:
    if scenario.flow is None:
        return None
    return scenario.flow, BlockRNG(seed, FLOW_STREAM, 0, n), scenario.steps_per_day


def build_trainset(
    scenario: Scenario,
    n_paths: int | None = None,
    seed: int | None = None,
    manager: ManagerConfig | None = None,
    market: Any = None,
) -> TrainSet:
    """Simulate the scenario's market once and keep what hedging it needs, per step.

    Args:
        scenario: A validated scenario (any world, clock and book).
        n_paths: Paths (default the scenario's).
        seed: The seed of the market and flow streams (default the scenario's).
        manager: The manager config whose bands and limits apply (default
            the first configuration's; its model monitor is not used).
        market: A market source to use instead of the simulator (a
            :class:`~market.replay.LogReplayMarket`), covering the paths and steps.

    Returns:
        The training set.
    """
    check_trainable(scenario)
    n = scenario.n_paths if n_paths is None else n_paths
    seed = scenario.seed if seed is None else seed
    cfg = manager if manager is not None else next(iter(scenario.configs.values())).manager_config
    cfg = cfg.model_copy(update={"monitor": None})
    timeline = scenario.timeline
    T = timeline.n_steps
    if market is None:
        market = MarketSimulator(
            scenario.market, T, scenario.dt, scenario.year_days, seed, 0, n, timeline
        )
    costs = scenario.instrument_costs()
    specs = {i.name: i for i in scenario.market.instruments}
    no_roll = frozenset(k for k, s in specs.items() if not s.roll)
    mgr = RiskManager(
        cfg, [], scenario.book, n, scenario.year_days, costs, no_roll, _flow(scenario, seed, n)
    )
    memo = mgr.portfolio.memo
    names = [i.name for i in scenario.market.instruments]
    options = [k for k in names if specs[k].kind == "option"]
    shape = (T + 1, n)
    spot, atm = np.zeros(shape), np.zeros(shape)
    times, rate, div = np.zeros(T + 1), np.zeros(T + 1), np.zeros(T + 1)
    quotes = {k: {g: np.zeros(shape) for g in ("mid", "delta", "gamma", "vega")} for k in names}
    contracts: dict[str, list[str]] = {k: [] for k in names}
    event_time = np.zeros(T + 1)
    strike = {k: np.zeros(shape) for k in names}
    expiry = {k: np.zeros(T + 1) for k in names}
    spread = {k: np.ones(T + 1) for k in names}
    book = {g: np.zeros(shape) for g in ("delta", "gamma", "vega", "theta")}
    bands = {g: np.zeros(shape) for g in ("delta", "gamma", "vega")}
    stress_ds = np.zeros(shape)
    trade_slot = {k: np.full(T + 1, -1, dtype=np.int64) for k in names}
    slots: list[Slot] = []
    rolled: dict[str, int] = {}  # instrument -> its slot (rolled instruments)
    kept: dict[str, int] = {}  # contract -> its slot (held to expiry)
    held: dict[str, OptionLine] = {}  # rolled instrument -> terms held since the last step
    lines: dict[int, OptionLine] = {}  # held-to-expiry slot -> its contract's terms
    for k in options:
        if specs[k].roll:
            rolled[k] = len(slots)
            slots.append(
                Slot(
                    k,
                    None,
                    specs[k].is_call,
                    0,
                    value=np.zeros(shape),
                    vega=np.zeros(shape),
                    close=np.zeros(shape, dtype=bool),
                )
            )
    released: list[float] = []
    events: list[tuple[str, float]] = []
    for step in range(T + 1):
        evs = market.start() if step == 0 else market.step()
        ev: MarketEvent = evs[-1]
        for a in evs[:-1]:
            if isinstance(a, Announcement):
                if a.released:
                    released.append(a.event_time)
                else:
                    events.append((a.name, a.event_time))
        times[step], rate[step], div[step] = ev.time, ev.rate, ev.div
        spot[step], atm[step] = ev.spot, ev.surface.atm
        event_time[step] = ev.surface.event_time
        since = minutes_since_release(released, ev.time, scenario.year_days)
        listed = {q.instrument: q for q in ev.quotes}
        # What was held since the last step, valued now (before this step's roll).
        for inst, ln in held.items():
            s = slots[rolled[inst]]
            u = memo.unit(ev, ln)
            assert s.value is not None and s.vega is not None and s.close is not None
            s.value[step], s.vega[step] = u.price, u.vega
            if ln.expiry <= ev.time + EXPIRY_EPS:
                raise ScenarioError(
                    f"train: {inst!r} expires before its next listing (tenor_days must exceed "
                    "relist_days)"
                )
            q = listed[inst]
            s.close[step] = (
                np.ones(n, dtype=bool) if q.contract != ln.contract else ln.strike != q.strike
            )
        for idx, ln in lines.items():
            s = slots[idx]
            if s.expire is not None:
                continue
            if ln.expiry <= ev.time + EXPIRY_EPS:
                s.expire, s.payoff = step, intrinsic(ev.spot, ln.strike, ln.is_call)
                continue
            u = memo.unit(ev, ln)
            for g in ("delta", "gamma", "vega"):
                s.greeks[g][step] = getattr(u, g)
            assert s.value is not None
            s.value[step] = u.price
        for q in ev.quotes:
            inst = q.instrument
            for g in ("mid", "delta", "gamma", "vega"):
                quotes[inst][g][step] = getattr(q, g)
            contracts[inst].append(q.contract)
            strike[inst][step], expiry[inst][step] = q.strike, q.expiry
            if since is not None:
                spread[inst][step] = event_multiplier(costs[inst], since)
            if q.kind != "option":
                continue
            if inst in rolled:
                trade_slot[inst][step] = rolled[inst]
                held[inst] = OptionLine(inst, q.contract, q.is_call, q.expiry, q.strike, NO_QTY)
                continue
            found = kept.get(q.contract)
            idx = found if found is not None else len(slots)
            if found is None:
                kept[q.contract] = idx
                slots.append(
                    Slot(
                        inst,
                        q.contract,
                        q.is_call,
                        step,
                        value=np.zeros(shape),
                        greeks={g: np.zeros(shape) for g in ("delta", "gamma", "vega")},
                    )
                )
                lines[idx] = OptionLine(inst, q.contract, q.is_call, q.expiry, q.strike, NO_QTY)
                s = slots[idx]
                assert s.value is not None
                s.value[step] = q.mid
                for g in ("delta", "gamma", "vega"):
                    s.greeks[g][step] = getattr(q, g)
            trade_slot[inst][step] = idx
        if step < T:
            mgr.begin_step(evs)
            for g in book:
                book[g][step] = mgr._running[g]
            for g in bands:
                bands[g][step] = mgr._bands[g]
            stress_ds[step] = mgr._ds
            mgr.settle()
        else:
            book_pnl = mgr.finish(evs).pnl
    for s in slots:
        if s.expire is None:
            s.payoff = np.zeros(n)
    return TrainSet(
        instruments=names,
        kinds=[specs[k].kind for k in names],
        costs=costs,
        times=times,
        rate=rate,
        div=div,
        spot=spot,
        atm=atm,
        quotes=quotes,
        contracts=contracts,
        spread_mult=spread,
        slots=slots,
        trade_slot=trade_slot,
        book=book,
        bands=bands,
        book_pnl=book_pnl,
        event_time=event_time,
        strike=strike,
        expiry=expiry,
        events=events,
        year_days=scenario.year_days,
        horizon=scenario.days / scenario.year_days,
        max_order=dict(cfg.max_order),
        stress_ds=stress_ds,
        stress_dv=float(cfg.stress_vol),
        hard_limit=cfg.hard_limit,
        budget=float(cfg.budget),
        timeline=timeline,
    )


def engine_trades(
    scenario: Scenario, market: Any = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run the scenario in the engine and keep every configuration's filled trades.

    Args:
        scenario: A validated scenario.
        market: A market source instead of the simulator (a log replay).

    Returns:
        ``(results, trades)``: the engine's :class:`~agents.manager_config.ConfigResult`
        per configuration, and its net filled units per step, instrument and
        path, ``[T, I, n]`` (after the manager's limits: what the market filled).
    """
    from orchestration.engine import LocalRuntime, ShardProtocol, build_components, make_pipelines

    c = build_components(scenario)
    pipelines = make_pipelines(scenario, c.managers, c.agents)
    T = scenario.n_steps
    names = [i.name for i in scenario.market.instruments]
    trades = {k: np.zeros((T, len(names), scenario.n_paths)) for k in c.managers}
    proto = ShardProtocol(LocalRuntime(), c.market if market is None else market, pipelines, T)
    for step in range(T):
        proto.submit_step()
        for cname, mgr in c.managers.items():
            for o in mgr.net_orders():
                trades[cname][step, names.index(o.instrument)] = o.qty
    return proto.finish(), trades
