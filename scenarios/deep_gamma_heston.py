"""Model uncertainty after Armstrong & Tatlow (2024), "Deep Gamma Hedging": a Heston world.

J. Armstrong and G. Tatlow, "Deep Gamma Hedging" (arXiv:2409.13567, 2024)
hedge an option with the underlying and a hedging option, and ask what a
network learns when the dynamics are not Black-Scholes while the hedging
option is quoted in the market. Their table compares delta hedging, gamma
hedging (delta + option), a network trading the underlying only and one
trading the underlying and the option; the figures under normal costs are
6.27e-2, 0.97e-2, 5.37e-2 and 0.73e-2. Their exact set-up (model parameters,
tenors, costs, metric) was not available to this project beyond the
abstract; this scenario is a documented stand-in of the same design:

* World: Heston (:data:`HESTON`: v0 = theta = 0.04, i.e. 20% vol, kappa 2,
  vol of variance 0.5, rho -0.7), risk-neutral, no rates, 252 days a year.
  Every option is quoted at its Heston price, i.e. at its Heston implied vol:
  the BSM hedgers meet a skew and a moving ATM vol their model does not have.
* Book: short 100 ATM calls of 30 trading days, hedged once a day for the
  30 days to their expiry.
* Instruments: the underlying (half spread 1 bp) and ``hedge_opt``, a 32-day
  ATM call listed once at the start and held (half spread 1% of its premium:
  the "normal" costs of this stand-in). Expiring two trading days after the
  book, its BSM gamma hedge is nearly a vega hedge too, so gamma hedging
  removes most of the delta hedger's error, as in the paper's table (std
  over premium on 2,000 paths: 0.041 against delta's 0.246; with a 45-day
  option 0.18, a 60-day one 0.32 -- worse than delta, the hedge's excess vega
  left open in a world whose vol moves).
* Rule configurations: ``delta`` (BSM delta at the quoted implied vol, in
  the underlying, every day) and ``gamma`` (BSM gamma neutral in
  ``hedge_opt``, then delta neutral in the underlying, every day).
* Metric (:func:`relative_std`): the std of the terminal hedged P&L over the
  book's initial premium. (What the paper's figures measure is not known
  here; this metric's values are about four times theirs, with a similar
  ratio of delta to gamma hedging: 6 against their 6.5.)

``learned_1`` (target holdings of the underlying) and ``learned_2`` (target
holdings of ``hedge_opt``, then BSM delta neutral in the underlying: the
paper's network with both instruments, its stock leg left to the delta rule)
run :class:`agents.deep.LearnedHedger` policies over log-moneyness, elapsed
time, the square root of the option's time to expiry and the ATM vol
(features that do not depend on the policy's own past trades), trained on
other seeds of this scenario (:data:`LEARNED_1`, :data:`LEARNED_2`;
``benchmarks/bench_deep_gamma.py`` trains them); each is present only when
its checkpoint exists (:data:`CHECKPOINT_1`, :data:`CHECKPOINT_2`, relative
to the working directory).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from agents import BookPosition, ManagerConfig
from market import CostModel, InstrumentSpec, MarketConfig
from market.config import HestonWorld
from market.pricing.heston import heston_price
from orchestration import AgentSpec, HedgeConfig, Scenario

#: The world's dynamics (typical equity index parameters; Feller: 2·2·0.04 < 0.25).
HESTON = HestonWorld(v0=0.04, kappa=2.0, theta_var=0.04, xi=0.5, rho=-0.7)
#: Spot at the start, currency.
SPOT = 100.0
#: Book: short this many ATM calls of ``DAYS`` trading days.
BOOK_QTY = -100.0
#: Days to the book's expiry (and of the run), trading days.
DAYS = 30.0
#: Days per year.
YEAR_DAYS = 252.0
#: Zero bands: every hedger neutralises its greek every day.
MANAGER = ManagerConfig(budget=1e-9, weights={"delta": 0.5, "gamma": 0.5, "vega": 0.0})

#: Where the learned configurations look for their policies.
CHECKPOINT_1 = Path("models/deep_gamma_heston_1.pt")
CHECKPOINT_2 = Path("models/deep_gamma_heston_2.pt")
_FEATURES = [
    "log_moneyness:hedge_opt",
    "time_fraction",
    "sqrt_time_to_expiry:hedge_opt",
    "atm_vol",
]
#: The policy spec of ``learned_1``: target holdings of the underlying.
LEARNED_1: dict[str, Any] = {
    "policy": "mlp",
    "features": _FEATURES,
    "actions": {"kind": "holdings", "instruments": ["underlying"]},
    "horizon_days": DAYS,
    "year_days": YEAR_DAYS,
}
#: The policy spec of ``learned_2``: target holdings of ``hedge_opt`` (then BSM delta
#: in the underlying, see :func:`learned_config`).
LEARNED_2: dict[str, Any] = {
    "policy": "mlp",
    "features": _FEATURES,
    "actions": {"kind": "holdings", "instruments": ["hedge_opt"]},
    "horizon_days": DAYS,
    "year_days": YEAR_DAYS,
}


def premium() -> float:
    """The book's initial premium (Heston value of its calls), currency (positive)."""
    tau = DAYS / YEAR_DAYS
    h = HESTON
    p = heston_price(SPOT, SPOT, tau, h.v0, h.kappa, h.theta_var, h.xi, h.rho)
    return float(abs(BOOK_QTY) * p)


def relative_std(pnl: np.ndarray) -> float:
    """The table's metric: std of the terminal hedged P&L over the initial premium."""
    return float(np.std(np.asarray(pnl, dtype=np.float64)) / premium())


def learned_config(spec: dict[str, Any], checkpoint: str | Path) -> HedgeConfig:
    """A configuration running one trained policy (then BSM delta for what it leaves).

    Args:
        spec: :data:`LEARNED_1` or :data:`LEARNED_2` (or a variant trained with it).
        checkpoint: The policy, trained on this scenario with ``spec``.
    """
    cfg = {"checkpoint": str(checkpoint), **spec}
    agents = [AgentSpec(cls="agents.deep.LearnedHedger", name="learned", config=cfg)]
    if "underlying" not in spec["actions"]["instruments"]:
        agents.append(AgentSpec(cls="delta"))
    return HedgeConfig(agents=tuple(agents), manager=MANAGER)


def _learned() -> dict[str, HedgeConfig]:
    out = {}
    for name, spec, path in (
        ("learned_1", LEARNED_1, CHECKPOINT_1),
        ("learned_2", LEARNED_2, CHECKPOINT_2),
    ):
        if path.is_file():
            out[name] = learned_config(spec, path)
    return out


SCENARIO = Scenario(
    name="deep_gamma_heston",
    version=1,
    description="Armstrong & Tatlow (2024) deep gamma hedging: BSM hedgers in a Heston world",
    seed=11,
    n_paths=10_000,
    days=DAYS,
    steps_per_day=1,
    year_days=YEAR_DAYS,
    risk_aversion=1.645,
    market=MarketConfig(
        kind="heston",
        spot=SPOT,
        heston=HESTON,
        instruments=(
            InstrumentSpec(
                name="underlying", kind="underlying", cost=CostModel(half_spread_bps=1.0)
            ),
            InstrumentSpec(
                name="hedge_opt",
                tenor_days=32.0,
                relist_days=31.0,
                roll=False,
                cost=CostModel(half_spread_pct=1.0),
            ),
        ),
    ),
    book=(BookPosition(is_call=True, moneyness=1.0, expiry_days=DAYS, qty=BOOK_QTY),),
    configs={
        "delta": HedgeConfig(agents=(AgentSpec(cls="delta"),), manager=MANAGER),
        "gamma": HedgeConfig(
            agents=(
                AgentSpec(cls="gamma", config={"instrument": "hedge_opt"}),
                AgentSpec(cls="delta"),
            ),
            manager=MANAGER,
        ),
        **_learned(),
    },
)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
