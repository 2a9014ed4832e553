"""Model risk: in a Heston world and a jump world, the true-model hedger beats the BSM one."""

from __future__ import annotations

import importlib.util

from orchestration.config import builtin_scenarios


def _module():
    spec = importlib.util.spec_from_file_location("model_risk", builtin_scenarios()["model_risk"])
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_true_model_hedgers_beat_bsm_in_both_worlds_on_identical_paths() -> None:
    rows = _module().compare(paths=400)
    assert [r["world"] for r in rows] == ["heston", "merton"]
    for r in rows:
        print(r)
        assert r["true_std"] < r["bsm_std"], r
