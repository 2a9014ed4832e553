"""Checkpoints of the learned hedgers: every bad file is one line, nothing runs from one."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.deep import (
    CHECKPOINT_VERSION,
    FEATURES,
    CheckpointError,
    check_family,
    load_checkpoint,
    mlp_forward,
)

FAMILY = {
    "scenario": "cao2023_gbm",
    "market": "gbm",
    "book": [{"is_call": True, "moneyness": 1.0, "expiry_days": 60.0, "qty": -100.0}],
    "flow": None,
}


def policy_blob(hidden: int = 4, **meta: Any) -> dict[str, Any]:
    """A well-formed residual policy (3 -> hidden -> 1) with its meta; ``meta`` overrides."""
    gen = torch.Generator().manual_seed(0)
    blob: dict[str, Any] = {
        "w0": torch.randn(len(FEATURES), hidden, generator=gen, dtype=torch.float64),
        "b0": torch.randn(hidden, generator=gen, dtype=torch.float64),
        "w1": torch.randn(hidden, 1, generator=gen, dtype=torch.float64),
        "b1": torch.randn(1, generator=gen, dtype=torch.float64),
    }
    info = {
        "version": CHECKPOINT_VERSION,
        "features": list(FEATURES),
        "instrument": "hedge_opt",
        "mode": "residual",
        "layers": 2,
        "family": FAMILY,
    } | meta
    blob["meta"] = json.dumps({k: v for k, v in info.items() if v is not None})
    return blob


def save(blob: Any, path: Path) -> Path:
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())
    return path


def test_a_good_checkpoint_loads_in_float64_and_acts_per_row(tmp_path: Path) -> None:
    blob = policy_blob()
    ck = load_checkpoint(save(blob, tmp_path / "p.pt"), "residual", "hedge_opt", FAMILY)
    (w0, b0), (w1, b1) = ck["params"]
    assert w0.dtype == np.float64 and w0.shape == (3, 4) and b1.shape == (1,)
    assert w0.tobytes() == blob["w0"].numpy().tobytes()
    x = np.array([[0.5, 0.1, -0.2], [1.0, 0.0, 0.3]])
    expected = np.tanh(x @ w0 + b0) @ w1 + b1
    assert np.allclose(mlp_forward(ck["params"], x), expected[:, 0], rtol=0, atol=1e-14)
    # a row's action does not depend on the batch it is in
    assert mlp_forward(ck["params"], x[1:])[0] == mlp_forward(ck["params"], x)[1]


class _Payload:
    """A pickle that would write a file when unpickled (weights_only must refuse it)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> Any:
        return (Path.write_text, (self.target, "pwned"))


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = save(policy_blob(), tmp_path / "good.pt").read_bytes()
    cases: dict[str, tuple[Path, str]] = {}

    def put(name: str, data: bytes | None, needle: str) -> None:
        p = tmp_path / f"{name}.pt"
        if data is not None:
            p.write_bytes(data)
        cases[name] = (p, needle)

    put("missing", None, "does not exist")
    (tmp_path / "directory.pt").mkdir()
    cases["directory"] = (tmp_path / "directory.pt", "is not a file")
    put("zero_length", b"", "is empty")
    put("truncated", good[: len(good) // 2], "is corrupt or not a gammaray policy")
    put("random_bytes", np.random.default_rng(0).bytes(4096), "is corrupt or not a gammaray")
    put("pickle_payload", None, "is corrupt or not a gammaray policy")
    save(_Payload(tmp_path / "side_effect.txt"), cases["pickle_payload"][0])
    for name, meta, needle in [
        ("wrong_version", {"version": 1}, "has version 1, not 3"),
        ("unknown_feature", {"features": ["spot"]}, "unknown feature 'spot'"),
        ("wrong_features", {"features": ["time_fraction"]}, "features ['time_fraction'] differ"),
        ("wrong_instrument", {"instrument": "spx_opt"}, "instrument 'spx_opt', not 'hedge_opt'"),
        ("wrong_mode", {"mode": "direct"}, "is a 'direct' policy, not 'residual'"),
        ("no_layers", {"layers": 0}, "has no layers"),
        ("layers_not_int", {"layers": "2"}, "has no layers"),
        ("no_family", {"family": None}, "does not record the scenario"),
    ]:
        put(name, None, needle)
        save(policy_blob(**meta), cases[name][0])
    for name, key, value, needle in [
        ("nan_weights", "w0", float("nan"), "non-finite weights in w0"),
        ("inf_bias", "b1", float("inf"), "non-finite weights in b1"),
        ("huge_weights", "w1", 1e300, "weights above 1e+06 in w1"),
    ]:
        blob = policy_blob()
        blob[key] = blob[key].clone()
        blob[key].view(-1)[0] = value
        put(name, None, needle)
        save(blob, cases[name][0])
    blob = policy_blob()
    del blob["w1"]
    put("missing_tensor", None, "lacks the tensors of layer 1")
    save(blob, cases["missing_tensor"][0])
    blob = policy_blob()
    blob["w0"] = torch.zeros(5, 4, dtype=torch.float64)
    put("wrong_shape", None, "layer 0 has shapes w [5, 4]")
    save(blob, cases["wrong_shape"][0])
    blob = policy_blob()
    blob["meta"] = "{not json"
    put("meta_not_json", None, "corrupt meta")
    save(blob, cases["meta_not_json"][0])
    put("not_a_dict", None, "not a gammaray policy (no meta)")
    save([torch.zeros(3)], cases["not_a_dict"][0])
    return cases


def test_every_bad_checkpoint_is_one_line_that_says_which(tmp_path: Path) -> None:
    cases = _bad_files(tmp_path)
    assert len(cases) == 21
    for name, (path, needle) in cases.items():
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path, "residual", "hedge_opt", FAMILY)
        msg = str(info.value)
        assert needle in msg, (name, msg)
        assert "\n" not in msg and len(msg) < 400, (name, msg)
        assert repr(str(path)) in msg, (name, msg)
    assert not (tmp_path / "side_effect.txt").exists()


def test_a_checkpoint_for_another_scenario_family_is_refused(tmp_path: Path) -> None:
    path = save(policy_blob(), tmp_path / "p.pt")
    load_checkpoint(path, "residual", "hedge_opt", FAMILY)
    load_checkpoint(path, "residual", "hedge_opt")  # no family given: not checked
    other = FAMILY | {"scenario": "macro_gap", "market": "macro_gap"}
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, "residual", "hedge_opt", other)
    msg = str(info.value)
    assert "was trained for scenario 'cao2023_gbm' (gbm world, -100 1.0x 60.0d call)" in msg
    assert "this is scenario 'macro_gap' (macro_gap world" in msg
    assert "differs in market, scenario" in msg and "\n" not in msg
    bigger_book = FAMILY | {"book": [FAMILY["book"][0] | {"qty": -200.0}]}
    with pytest.raises(CheckpointError, match="differs in book"):
        check_family(json.loads(policy_blob()["meta"]), bigger_book, "p")
    with_flow = FAMILY | {"flow": {"rate_per_day": 1.0}}
    with pytest.raises(CheckpointError, match=r"client flow\) \(differs in flow"):
        check_family(json.loads(policy_blob()["meta"]), with_flow, "p")


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    import agents._checkpoint

    path = save(policy_blob(), tmp_path / "p.pt")
    monkeypatch.setattr(agents._checkpoint, "MAX_CHECKPOINT_BYTES", 100)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("read an oversized file"))
    with pytest.raises(CheckpointError, match=r"bytes, more than a policy's 100"):
        load_checkpoint(path, "residual", "hedge_opt")
