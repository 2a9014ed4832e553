"""The trainer's input normaliser on features that depend on the policy's own trades."""

from __future__ import annotations

import torch

import scenarios.deep_gamma_heston as dg
from orchestration import train as tr
from orchestration._train_policies import ActionSpec, LearnedActor, Normalizer, make_net

FEATS = [*dg.LEARNED_1["features"], "holding:underlying", "book_delta"]


def test_fit_floors_the_scale_only_where_asked() -> None:
    norm = Normalizer()
    x = torch.tensor([[0.0, 1e-4], [2.0, -1e-4], [4.0, 3e-4]], dtype=torch.float64)
    norm(x)
    norm.fit(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(norm.mu, torch.tensor([2.0, 1e-4], dtype=torch.float64))
    assert float(norm.sd[0]) == 2.0  # std of 0, 2, 4: unchanged
    assert float(norm.sd[1]) == 1.0  # std 2e-4, floored


def test_the_holding_feature_is_scaled_at_least_by_the_action_scale() -> None:
    # The first rollout's holdings are ~0 (the head starts near holding nothing):
    # its std (~1e-4) would scale the feature by ~10^4; it is floored at
    # ACTION_SCALE units (1.0 in the feature's hundreds of units) for a holdings or
    # trade policy; other features keep their std.
    net = make_net("mlp", len(FEATS), 1, 8, 1)
    actor = LearnedActor(net, FEATS, ActionSpec("holdings", ("underlying",)), "hedge_opt")
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(50, len(FEATS), generator=gen, dtype=torch.float64)
    x[:, 4] *= 1e-4
    actor.norm(x)
    tr._scale_features(actor, starts_flat=True)
    assert float(actor.norm.sd[4]) == tr.HOLDING_SD_FLOOR == 1.0
    want = x.std(0)
    assert torch.equal(actor.norm.sd[[0, 1, 2, 3, 5]], want[[0, 1, 2, 3, 5]])
    # a policy that starts near its rule (fraction, cascade) keeps the first rollout's scale
    actor.norm = Normalizer()
    actor.norm(x)
    tr._scale_features(actor, starts_flat=False)
    assert torch.equal(actor.norm.sd, want)


def test_a_policy_reading_its_own_holdings_trains() -> None:
    # learned_1 of deep_gamma_heston with holding:underlying and book_delta: with
    # the first rollout's scale the objective rose (3,571 -> 3,826 in 12 epochs at 200 paths;
    # at 1,000 paths it went on to ~5,600); floored, it falls (3,570 -> 1,167), and
    # training is deterministic for a seed.
    def run() -> list[float]:
        _, losses = tr.train(
            dg.SCENARIO,
            instruments=("underlying",),
            features=tuple(FEATS),
            action="holdings",
            base="delta",
            paths=200,
            epochs=12,
            seed=100,
            objective="mean_std",
            level=10.0,
        )
        return losses

    losses = run()
    assert losses[-1] < 0.6 * losses[0]
    assert run() == losses


def test_a_floored_policy_in_the_engine_has_the_trainers_pnl(tmp_path) -> None:
    # The floored scale folds into the checkpoint exactly: the engine's P&L of
    # learned_1 with holding:underlying equals the trainer's on the same paths.
    import numpy as np

    from orchestration import Scenario, run_local
    from orchestration.train import save_checkpoint

    spec = {**dg.LEARNED_1, "features": FEATS}
    blob, _ = tr.train(
        dg.SCENARIO,
        instruments=("underlying",),
        features=tuple(FEATS),
        action="holdings",
        base="delta",
        paths=64,
        epochs=3,
        seed=100,
    )
    ckpt = tmp_path / "l1.pt"
    save_checkpoint(blob, ckpt)
    data = dg.SCENARIO.model_dump() | {"n_paths": 32}
    data["configs"] = {"learned": dg.learned_config(spec, ckpt).model_dump()}
    sc = Scenario.model_validate(data)
    engine = run_local(sc)["learned"]
    from test_train_any import _learned_rollout

    pnl, _ = _learned_rollout(sc, blob)
    np.testing.assert_allclose(pnl.numpy(), engine.pnl, rtol=1e-9, atol=1e-9)
