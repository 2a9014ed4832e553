"""RiskManager: owns the book, runs the hedging cascade, allocates and enforces the budget.

Per step (see DESIGN.md, the step protocol) the manager

1. rolls the book to the new quote (interest, dividends, expiries), values it
   and publishes the budget (a :class:`~market.events.BudgetUpdate` when the
   allocation policy changes it) -- :meth:`RiskManager.begin_step`;
2. hands each agent, in cascade order, the book as it stands after the orders
   of the agents before it, and takes its orders, rejecting per path any that
   breach a hard limit -- :meth:`RiskManager.submit`;
3. nets the orders per instrument for the market -- :meth:`RiskManager.net_orders`;
4. books the market's fills, hands each agent its share and counts budget
   breaches of the post-trade book -- :meth:`RiskManager.settle`.

Event time (``docs/architecture.md``): an agent with a reaction latency has
its orders queued in flight until the first step at or after ``decision time
+ latency``; there they pass the hard limits against the book of that step,
are netted with that step's other orders and filled at its quotes and costs
(fast-market spreads included). Agents' views include their orders in flight
(working orders are part of the position a desk hedges). Fills of an agent
that is not called at a step (its schedule) wait for its next turn. State
triggers (``spot_move``, ``band``) come with the turn as the paths due.

Everything is per path (arrays ``[n]``); agents are known here only by name.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import TypeAdapter

from agents._manager_budget import BudgetHooks
from agents._manager_models import ModelViews
from agents._manager_orders import OrderFlow
from agents._manager_series import (
    SERIES_BUFFER_ELEMENTS,
    SERIES_MAX_ROWS,
    SERIES_SAMPLE_PATHS,
    SeriesBuffer,
)
from agents.allocation import GREEKS, bands_from_shares, stress_moves
from agents.attribution import PnLAttribution
from agents.base import AgentTurn
from agents.book import BookFlow, BookKeeper, BookPosition
from agents.manager_config import ConfigResult, ManagerConfig
from agents.models import MODEL_GREEKS, BSMModel, PricingModel
from agents.monitor import CLEAR_METRIC, ModelMonitor
from agents.policies import build_policy
from agents.portfolio import Portfolio, QuoteMemo
from market._fills import minutes_since_release
from market._rng import BlockRNG
from market.clock import minutes_to_years
from market.events import (
    Announcement,
    Fill,
    MarketEvent,
    Order,
    RiskSnapshot,
)
from market.execution import CostModel, event_multiplier, fill_order

__all__ = ["SERIES_BUFFER_ELEMENTS", "SERIES_MAX_ROWS", "SERIES_SAMPLE_PATHS", "RiskManager"]

_MODEL: TypeAdapter[PricingModel] = TypeAdapter(PricingModel)


class RiskManager(BudgetHooks, OrderFlow, ModelViews, SeriesBuffer):
    """The manager of one hedging configuration over ``n`` paths.

    Subclass it for a desk's own rules (``docs/custom_managers.md``): set
    ``Config`` to a subclass of :class:`ManagerConfig` and override the hooks
    :meth:`allocate` (the budget's split for the step), :meth:`check_order`
    (the pre-trade limit check) and :meth:`on_alert` (the reaction to a
    model alert); everything else is framework. Name it in a scenario with
    ``HedgeConfig(manager={"cls": <class or dotted path>, "config": {...}})``.

    Args:
        config: Budget, stress grid, policy and limits.
        cascade: Agent names in the order they run.
        book: The options held from the start.
        n_paths: Number of paths.
        year_days: Days per year.
        costs: Cost model per listed instrument (for rolls).
        no_roll: Instruments whose old series are held to expiry, not rolled.
        flow: Client trades arriving in the book, with their random draws
            (``(flow, rng, steps_per_day)``), or None.
        models: Agent name to the pricing model it hedges with (default BSM
            at the quoted vols): its view's greeks come from that model.
        latencies: Agent name to its reaction latency, seconds (absent = 0).
        triggers: Agent name to its state trigger: ``("spot_move", threshold)``
            or ``("band", greek)`` (absent = due on every path).
        slippage_minutes: Length of the window after the first release over
            which the slippage is measured, minutes (None = not measured).
        memo: Per-event quote memo shared with the other configurations of
            the run in this process (their books hold the same contracts);
            a private one when None.
        sample_paths: Record every step's values on this many leading paths
            (:attr:`sampled`, for the report's fans and bands; 0 = none).
    """

    #: The config model of this manager class (a subclass of ManagerConfig).
    Config: ClassVar[type[ManagerConfig]] = ManagerConfig

    def __init__(
        self,
        config: ManagerConfig,
        cascade: list[str],
        book: tuple[BookPosition, ...],
        n_paths: int,
        year_days: float,
        costs: dict[str, CostModel] | None = None,
        no_roll: frozenset[str] = frozenset(),
        flow: tuple[BookFlow, BlockRNG, int] | None = None,
        models: dict[str, PricingModel] | None = None,
        latencies: dict[str, float] | None = None,
        triggers: dict[str, tuple[str, Any]] | None = None,
        slippage_minutes: float | None = None,
        memo: QuoteMemo | None = None,
        sample_paths: int = 0,
    ) -> None:
        self.config = config
        self.sample_paths = max(0, min(int(sample_paths), n_paths))
        self._sample: list[dict[str, np.ndarray]] = []
        self._stamps: list[str] = []
        self.slippage_minutes = slippage_minutes
        self.slippage = np.zeros(n_paths)
        self._pre_mid: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
        self.latencies = {a: float(v) for a, v in (latencies or {}).items() if v > 0.0}
        self.triggers = dict(triggers or {})
        self._inflight: list[tuple[float, Order]] = []
        self._undelivered: dict[str, list[Fill]] = {}
        self._active: list[str] = list(cascade)
        self._last_spot: dict[str, np.ndarray] = {
            a: np.full(n_paths, np.nan) for a, t in self.triggers.items() if t[0] == "spot_move"
        }
        self.costs = dict(costs or {})
        self.cascade = list(cascade)
        self.year_days = year_days
        self.portfolio = Portfolio(n_paths, memo)
        self.models: dict[str, PricingModel] = {
            a: m for a, m in (models or {}).items() if not isinstance(m, BSMModel)
        }
        self._by_model: dict[str, dict[str, np.ndarray]] = {}
        self._hedge_by_model: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        self.keeper = BookKeeper(self.portfolio, book, year_days, self.costs, no_roll, flow)
        self.attribution = PnLAttribution(n_paths)
        self.monitor = ModelMonitor(config.monitor) if config.monitor is not None else None
        self._series: list[dict[str, float]] = []
        self._series_buf: np.ndarray | None = None
        self._series_meta: list[
            tuple[float, float, tuple[float, ...], tuple[float, float, float] | None]
        ] = []
        self._model_keys: dict[Any, str] = {}
        self._wealth = np.zeros(n_paths)
        self.breaches = np.zeros(n_paths, dtype=np.int64)
        self.rejected = np.zeros(n_paths, dtype=np.int64)
        self.scales = dict.fromkeys(GREEKS, 1.0)
        self.pending: list[float] = []
        self.released: list[float] = []
        self._market: MarketEvent | None = None
        self._running: dict[str, np.ndarray] = {}
        self._orders: list[Order] = []
        self._notices: tuple[Any, ...] = ()
        self._fills: dict[str, list[Fill]] = {}
        self._submitted: list[str] = []
        self._turn_fills: dict[str, list[Fill]] = {}
        self._ds = np.zeros(n_paths)
        self._bands: dict[str, np.ndarray] = {}
        self.policy = build_policy(config.policy, n_paths)
        self._static = {g: config.budget * config.weights.get(g, 0.0) for g in GREEKS}  # type: ignore[call-overload]
        self.shares: dict[str, np.ndarray | float] = dict(self._static)
        self._usage = np.zeros(n_paths)
        self._last_cost = np.zeros(n_paths)
        self._checked = type(self).allocate is not BudgetHooks.allocate

    # ------------------------------------------------------------ protocol
    def begin_step(
        self, events: tuple[Any, ...], active: tuple[str, ...] | None = None
    ) -> AgentTurn:
        """Start a step: roll and value the book, update the budget, execute
        the orders in flight that arrive now.

        Args:
            events: The market's events, the :class:`MarketEvent` last.
            active: The agents called at this step (their clock schedules are
                due), in cascade order; None = every agent.

        Returns:
            The turn of the first agent called.
        """
        market = events[-1]
        self._market = market
        for ann in events[:-1]:
            self._on_announcement(ann)
        if not self.keeper.booked:
            self.keeper.open(market)
        self.portfolio.roll_to(market)
        vega_pnl = self.attribution.line_vega_pnl(self.portfolio, market)
        self.keeper.roll_delisted(market)
        self.portfolio.prune()
        self.keeper.client_flow(market)
        g = self.portfolio.greeks(market)
        self._wealth = self.portfolio.wealth(market, g)
        parts = self.attribution.at_quote(self.portfolio, market, self._wealth, vega_pnl)
        alert = None
        if parts is not None and self.monitor is not None:
            alert = self.monitor.update(parts, market.step, market.time)
            if alert is not None and alert.metric == CLEAR_METRIC:
                self.on_alert_clear(alert)
            elif alert is not None:
                self.on_alert(alert)
        self._running = {"delta": g.delta, "gamma": g.gamma, "vega": g.vega, "theta": g.theta}
        self._model_greeks(market)
        cfg = self.config
        self._ds, dv = stress_moves(
            market.spot,
            market.surface.atm,
            cfg.stress_sigmas,
            cfg.stress_horizon_days / self.year_days,
            cfg.stress_vol,
        )
        self._notices = self._update_budget(market, dv) + ((alert,) if alert is not None else ())
        self._bands = bands_from_shares(self.shares, self._ds, dv)
        self._orders = []
        self._submitted = []
        self._active = (
            list(self.cascade) if active is None else [a for a in self.cascade if a in active]
        )
        for agent, fills in self.take_fills().items():
            self._undelivered.setdefault(agent, []).extend(fills)
        self._turn_fills = self._undelivered
        if self._inflight:
            self._execute_arrivals(market)
        return self._turn()

    def submit(self, agent: str, orders: list[Order]) -> AgentTurn:
        """Take one agent's orders, enforcing hard limits, and move the view on.

        Args:
            agent: The agent's name.
            orders: Its orders for this step.

        Returns:
            The turn of the next agent (the book after these orders).
        """
        market = self._market
        assert market is not None
        active = self._active
        expected = active[len(self._submitted)] if len(self._submitted) < len(active) else None
        if agent != expected:
            raise RuntimeError(
                f"step {market.step}: orders from {agent!r} out of turn (expected {expected!r})"
            )
        self._submitted.append(agent)
        self._undelivered.pop(agent, None)
        latency = self.latencies.get(agent)
        last = self._last_spot.get(agent)
        for o in orders:
            if o.step != market.step or o.sender != agent:
                raise RuntimeError(
                    f"step {market.step}: {agent!r} sent an order stamped step {o.step} "
                    f"by {o.sender!r}"
                )
            if last is not None:
                self._last_spot[agent] = last = np.where(o.qty != 0.0, market.spot, last)
            if latency is not None:
                arrival = market.time + minutes_to_years(latency / 60.0, self.year_days)
                self._inflight.append((arrival, Order(o.step, agent, o.instrument, o.qty)))
                continue
            self._book_order(market, agent, o)
        return self._turn()

    def settle(self, last_turn: AgentTurn | None = None) -> None:
        """Fill the netted orders at this step's quotes, book them, split them back.

        Args:
            last_turn: The turn :meth:`submit` returned for the last agent (the
                runtime passes it so that settling depends on the whole cascade);
                unused otherwise.

        The fills come from the market's execution model
        (:func:`market.execution.fill_order`), a pure function of the step's
        quotes and the instrument's costs, called here rather than through a
        round trip to the market component. Each agent's share of a net fill is
        its own quantity at the net price; the net cost is shared in proportion
        to ``|quantity|``. Agents receive their fills with their next turn
        (:meth:`take_fills` after the last step). Finally the post-trade book's
        stressed loss is checked against the budget.
        """
        market = self._market
        assert market is not None
        out: dict[str, list[Fill]] = {name: [] for name in self.cascade}
        since = self._minutes_since_release(market.time)
        for o in self.net_orders():
            quote = market.quote(o.instrument)
            cost = self.costs.get(o.instrument, CostModel())
            f = fill_order(o, quote, cost, "manager", event_multiplier(cost, since))
            if since is not None:
                self._slip(f, quote, since)
            self.portfolio.apply_fill(f, quote)
            mine = [x for x in self._orders if x.instrument == f.instrument]
            total = np.zeros_like(f.qty)
            for x in mine:
                total = total + np.abs(x.qty)
            share_base = np.where(total > 0.0, total, 1.0)
            for x in mine:
                out[x.sender].append(
                    Fill(
                        f.step,
                        "market",
                        x.sender,
                        f.instrument,
                        f.contract,
                        x.qty,
                        f.price,
                        f.mid,
                        f.cost * np.abs(x.qty) / share_base,
                    )
                )
        self._fills = out
        if since is None and self.slippage_minutes is not None:
            self._pre_mid = {q.instrument: (q.contract, q.strike, q.mid) for q in market.quotes}
        loss = self._loss(self._running)
        self.breaches += loss > self.config.budget
        step_cost = np.zeros(market.n_paths)
        for fills in out.values():
            for f in fills:
                step_cost = step_cost + f.cost
        self._usage = loss / self.config.budget
        self._last_cost = step_cost
        self.attribution.trade_cost(step_cost)
        self.attribution.after_trades(
            self.portfolio, market, self._running, self._wealth - step_cost
        )
        self._series_add(market, loss)
        if self.sample_paths:
            self._sample_add(market, loss)

    def take_fills(self) -> dict[str, list[Fill]]:
        """The last step's fills per agent, not yet handed out (then cleared)."""
        fills, self._fills = self._fills, {}
        return fills

    def final_fills(self) -> dict[str, list[Fill]]:
        """Every fill not yet handed out, per agent (after the last step)."""
        out = {a: list(f) for a, f in self._undelivered.items()}
        for agent, fills in self.take_fills().items():
            out.setdefault(agent, []).extend(fills)
        self._undelivered = {}
        return out

    def _minutes_since_release(self, time: float) -> float | None:
        return minutes_since_release(self.released, time, self.year_days)

    def finish(self, events: tuple[Any, ...]) -> ConfigResult:
        """Close the run at the last quote: roll, value, report.

        Args:
            events: The market's last events, the :class:`MarketEvent` last.
        """
        market = events[-1]
        if not self.keeper.booked:
            self.keeper.open(market)
        p = self.portfolio
        p.roll_to(market)
        vega_pnl = self.attribution.line_vega_pnl(p, market)
        g = p.greeks(market)
        pnl = p.wealth(market, g)
        self.attribution.at_quote(p, market, pnl, vega_pnl)
        return ConfigResult(
            pnl=pnl,
            cost=p.cost.copy(),
            turnover=p.turnover.copy(),
            breaches=self.breaches.copy(),
            rejected=self.rejected.copy(),
            attribution={b: v.copy() for b, v in self.attribution.totals.items()},
            series=list(self.series),
            slippage=self.slippage.copy() if self.slippage_minutes is not None else np.zeros(0),
            sampled=self.sampled,
        )

    # ------------------------------------------------------------- helpers
    def _turn(self) -> AgentTurn:
        market = self._market
        assert market is not None
        r, model, hedge = self._running, "bsm", {}
        active = self._active
        nxt = active[len(self._submitted)] if len(self._submitted) < len(active) else None
        if nxt in self.models:
            key = self._model_key(self.models[nxt])
            r, model, hedge = self._by_model[key], self.models[nxt].kind, self._hedge_by_model[key]
        pending = self._inflight_greeks(market, hedge)
        if pending is not None:
            r = {g: r[g] + pending[g] for g in MODEL_GREEKS}
        view = RiskSnapshot(
            step=market.step,
            sender="manager",
            time=market.time,
            delta=r["delta"],
            gamma=r["gamma"],
            vega=r["vega"],
            theta=r["theta"],
            stressed_loss=self._loss(r),
            bands=self._bands,
            positions=self.portfolio.positions(),
            model=model,
            hedge_greeks=hedge,
        )
        return AgentTurn(self._notices, view, self._turn_fills, self._due(nxt, r))

    def _on_announcement(self, ann: Announcement) -> None:
        if ann.released:
            self.pending = [t for t in self.pending if t != ann.event_time]
            self.released.append(ann.event_time)
        else:
            self.pending.append(ann.event_time)

    # ---------------------------------------------------------------- state
    def snapshot(self) -> dict[str, Any]:
        """State to restore later (between steps)."""
        return {
            "portfolio": self.portfolio.snapshot(),
            "breaches": self.breaches.copy(),
            "rejected": self.rejected.copy(),
            "scales": dict(self.scales),
            "pending": list(self.pending),
            "released": list(self.released),
            "keeper": self.keeper.snapshot(),
            "fills": {k: list(v) for k, v in self._fills.items()},
            "attribution": self.attribution.snapshot(),
            "series": list(self.series),
            "monitor": None if self.monitor is None else self.monitor.snapshot(),
            "models": {a: m.model_dump() for a, m in self.models.items()},
            "inflight": [[t, o.step, o.sender, o.instrument, o.qty] for t, o in self._inflight],
            "undelivered": {k: list(v) for k, v in self._undelivered.items()},
            "last_spot": {k: v.copy() for k, v in self._last_spot.items()},
            "slippage": self.slippage.copy(),
            "pre_mid": {k: list(v) for k, v in self._pre_mid.items()},
            "policy": self.policy.snapshot(),
            "shares": dict(self.shares),
            "usage": self._usage.copy(),
            "last_cost": self._last_cost.copy(),
            "sample": [dict(row) for row in self._sample],
            "stamps": list(self._stamps),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`snapshot`."""
        self.portfolio.restore(state["portfolio"])
        self.breaches = state["breaches"].copy()
        self.rejected = state["rejected"].copy()
        self.scales = dict(state["scales"])
        self.pending = list(state["pending"])
        self.released = list(state["released"])
        self.keeper.restore(state["keeper"])
        self._fills = {k: list(v) for k, v in state["fills"].items()}
        self.attribution.restore(state["attribution"])
        self.series = list(state["series"])
        self._sample = [dict(row) for row in state.get("sample", [])]
        self._stamps = list(state.get("stamps", []))
        if self.monitor is not None:
            self.monitor.restore(state["monitor"])
        self.models = {a: _MODEL.validate_python(m) for a, m in state["models"].items()}
        self._inflight = [
            (float(t), Order(int(k), str(a), str(i), q.copy()))
            for t, k, a, i, q in state.get("inflight", [])
        ]
        self._undelivered = {k: list(v) for k, v in state.get("undelivered", {}).items()}
        self._last_spot.update({k: v.copy() for k, v in state.get("last_spot", {}).items()})
        if "slippage" in state:
            self.slippage = state["slippage"].copy()
            self._pre_mid = {
                k: (str(c), k_.copy(), m.copy()) for k, (c, k_, m) in state["pre_mid"].items()
            }
        if "policy" in state:
            self.policy.restore(state["policy"])
            self.shares = dict(state["shares"])
            self._usage = state["usage"].copy()
            self._last_cost = state["last_cost"].copy()
