"""The market's configuration refuses non-finite numbers and vols given in percent."""

from __future__ import annotations

import copy
import math
from types import UnionType
from typing import Any, Union, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from market import MarketConfig
from market.validation import VOL_CEILING, StrictModel, non_finite_path

#: Every vol field of the market (type market.validation.Vol).
VOL_FIELDS = (
    "surface.atm",
    "surface.long_run_atm",
    "regime.calm_vol",
    "regime.stressed_vol",
    "merton.vol",
)
NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])


def float_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every float field of a model, nested models and tuples of them included."""
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        options = get_args(ann) if get_origin(ann) in (Union, UnionType) else (ann,)
        for a in options:
            if a is float:
                out.append(prefix + name)
            elif isinstance(a, type) and issubclass(a, BaseModel):
                out += float_fields(a, f"{prefix}{name}.")
            elif get_origin(a) is tuple and issubclass(get_args(a)[0], BaseModel):
                out += float_fields(get_args(a)[0], f"{prefix}{name}.0.")
    return out


def put(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the dotted ``path`` set to ``value``."""
    data = copy.deepcopy(data)
    node: Any = data
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[int(leaf) if isinstance(node, list) else leaf] = value
    return data


BASE = MarketConfig(
    kind="gbm",
    instruments=(
        {"name": "underlying", "kind": "underlying"},
        {"name": "opt", "tenor_days": 30.0, "recenter": 0.1},
    ),
    gap={"refine": {"before_minutes": 30.0, "after_minutes": 120.0, "step_minutes": 1.0}},
    fitted={  # an inline fitted world, so its float fields are there to poison
        "world": {
            **{"data": "sp500", "data_source": "test", "start": "2000-01-04"},
            **{"end": "2018-12-31", "n_obs": 4778, "mu": 3e-4, "omega": 1.4e-6},
            **{"alpha": 0.0, "gamma": 0.19, "beta": 0.89, "nu": 7.3, "loglik": -6352.0},
            **{"last_variance": 3e-4, "iv_c0": -0.54, "iv_c1": 0.68, "iv_r2": 0.79},
            **{"iv_n": 1257, "iv_window": "2014-01-03..2018-12-31"},
        }
    },
).model_dump(mode="python")
BASE["instruments"] = list(BASE["instruments"])
MARKET_FLOATS = float_fields(MarketConfig)


def test_the_market_float_fields_are_all_found() -> None:
    assert len(MARKET_FLOATS) >= 40
    for path in ("spot", "drift", "surface.atm", "gap.mean", "instruments.0.cost.fee_pct"):
        assert path in MARKET_FLOATS
    assert "replay.table" not in MARKET_FLOATS  # the table is market.replay's to check


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(MARKET_FLOATS), value=NON_FINITE)
def test_any_non_finite_float_in_any_market_field_is_refused_naming_it(path, value) -> None:
    with pytest.raises(ValidationError) as info:
        MarketConfig.model_validate(put(BASE, path, value))
    err = info.value.errors()[0]
    assert ".".join(str(p) for p in err["loc"]) == path
    assert err["type"] == "finite_number"


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from(MARKET_FLOATS), value=st.sampled_from(["inf", "-inf", "nan", "NaN"]))
def test_non_finite_strings_are_refused_too(path, value) -> None:
    with pytest.raises(ValidationError, match="finite number"):
        MarketConfig.model_validate(put(BASE, path, value))


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(VOL_FIELDS),
    vol=st.floats(VOL_CEILING, 1e6, exclude_min=True, allow_nan=False),
)
def test_a_vol_above_the_ceiling_is_refused_with_its_decimal_form(path, vol) -> None:
    with pytest.raises(ValidationError) as info:
        MarketConfig.model_validate(put(BASE, path, vol))
    err = info.value.errors()[0]
    assert ".".join(str(p) for p in err["loc"]) == path
    assert f"{vol:g} looks like a percent" in err["msg"]
    assert f"write {vol / 100:g} for {vol:g}%" in err["msg"]


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from(VOL_FIELDS), vol=st.floats(1e-6, VOL_CEILING))
def test_a_decimal_vol_up_to_the_ceiling_is_accepted(path, vol) -> None:
    m = MarketConfig.model_validate(put(BASE, path, vol))
    node: Any = m
    for part in path.split("."):
        node = getattr(node, part)
    assert node == vol


def test_variances_have_the_squared_ceiling() -> None:
    MarketConfig.model_validate(put(BASE, "heston.v0", 25.0))
    with pytest.raises(ValidationError, match=r"400 is above 25 .*write 0.04 for a 20% vol"):
        MarketConfig.model_validate(put(BASE, "heston.theta_var", 400.0))


def test_every_market_model_is_strict() -> None:
    import market

    models = [m for m in vars(market).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    assert len(models) >= 12  # every exported config model, the clock's included
    for model in models:
        assert issubclass(model, StrictModel), model
        conf = model.model_config
        assert conf.get("frozen") and conf.get("extra") == "forbid", model
        assert conf.get("allow_inf_nan") is (model is market.ReplayConfig), model


@given(
    st.recursive(
        st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=3),
        lambda kids: (
            st.lists(kids, max_size=3)
            | st.dictionaries(st.text(alphabet="ab", min_size=1, max_size=2), kids)
        ),
        max_leaves=8,
    )
)
def test_non_finite_path_finds_a_non_finite_float_wherever_it_is(value) -> None:
    def flat(v: Any) -> list[float]:
        if isinstance(v, dict):
            return [x for w in v.values() for x in flat(w)]
        if isinstance(v, list):
            return [x for w in v for x in flat(w)]
        return [v] if isinstance(v, float) else []

    found = non_finite_path(value)
    assert (found is None) == all(math.isfinite(x) for x in flat(value))
    if found is not None:
        node: Any = value
        for p in found.split(".") if found else []:
            node = node[int(p)] if isinstance(node, list) else node[p]
        assert isinstance(node, float) and not math.isfinite(node)
