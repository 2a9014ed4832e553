"""The manager's greeks under each agent's pricing model (the views' ``hedge_greeks``).
Part of :class:`agents.manager.RiskManager`."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.models import MODEL_GREEKS, BSMModel, PricingModel, model_greeks
from agents.portfolio import OptionLine, Portfolio
from market.events import MarketEvent

#: Quantity of a stand-in line (only its terms are used).
_NO_QTY = np.zeros(0)


def _model_fn(model: PricingModel, market: MarketEvent, ln: OptionLine) -> Any:
    """The deferred :func:`model_greeks` call of one contract."""
    return lambda: model_greeks(model, market, ln.strike, ln.expiry, ln.is_call)


class ModelViews:
    """The model-greeks part of :class:`~agents.manager.RiskManager` (a mixin; state set there)."""

    models: dict[str, PricingModel]
    portfolio: Portfolio
    _running: dict[str, np.ndarray]
    _model_keys: dict[Any, str]
    _by_model: dict[str, dict[str, np.ndarray]]
    _hedge_by_model: dict[str, dict[str, dict[str, np.ndarray]]]

    def _model_key(self, model: PricingModel) -> str:
        key = self._model_keys.get(model)
        if key is None:
            key = self._model_keys[model] = model.model_dump_json()
        return key

    def _model_greeks(self, market: MarketEvent) -> None:
        """Book and listed-instrument greeks under each agent model in use.

        BSM (a monitor's ``switch_model``) reuses what is already computed:
        the book's greeks from :meth:`begin_step` and the quotes' own greeks.
        Another model's per-unit greeks come from the shared quote memo, so a
        contract is priced once per step and model, whatever the number of
        configurations holding it.
        """
        self._by_model, self._hedge_by_model = {}, {}
        memo = self.portfolio.memo
        n = market.n_paths
        for model in self.models.values():
            key = self._model_key(model)
            if key in self._by_model:
                continue
            if isinstance(model, BSMModel):
                book = dict(self._running)
                hedge = {
                    q.instrument: {
                        "delta": q.delta,
                        "gamma": q.gamma,
                        "vega": q.vega,
                        "theta": q.theta,
                    }
                    for q in market.quotes
                }
                self._by_model[key], self._hedge_by_model[key] = book, hedge
                continue
            book = {g: np.zeros(n) for g in MODEL_GREEKS}
            book["delta"] = self.portfolio.stock.copy()
            for ln in self.portfolio.lines.values():
                unit = memo.model_units(key, market, ln, _model_fn(model, market, ln))
                for g in MODEL_GREEKS:
                    book[g] = book[g] + ln.qty * unit[g]
            hedge = {}
            for q in market.quotes:
                if q.kind == "underlying":
                    zero = np.zeros(n)
                    hedge[q.instrument] = {
                        "delta": np.ones(n),
                        "gamma": zero,
                        "vega": zero,
                        "theta": zero,
                    }
                else:
                    ln = OptionLine(
                        q.instrument, q.contract, q.is_call, q.expiry, q.strike, _NO_QTY
                    )
                    unit = memo.model_units(key, market, ln, _model_fn(model, market, ln))
                    hedge[q.instrument] = dict(unit)  # the view's own dict
            self._by_model[key], self._hedge_by_model[key] = book, hedge
