"""docs/custom_agents.md says what the code says: the field reference and the agent contract."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

from agents import Agent

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "custom_agents.md"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "field_reference", ROOT / "docs/field_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_field_reference_is_the_one_generated_from_the_docstrings() -> None:
    gen = _generator()
    written = gen.section(GUIDE.read_text(encoding="utf-8"))
    assert written == gen.render(), "run `python docs/field_reference.py` to regenerate it"


@pytest.mark.parametrize("cls", [c for _, c in _generator().CLASSES], ids=lambda c: c.__name__)
def test_every_field_is_documented_with_its_unit(cls: type) -> None:
    gen = _generator()
    docs = gen.attributes(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    assert set(docs) == set(fields), f"{cls.__name__}: documented {sorted(docs)} vs {fields}"
    text = GUIDE.read_text(encoding="utf-8")
    for f in dataclasses.fields(cls):
        assert docs[f.name], f"{cls.__name__}.{f.name} has no text"
        # the guide carries the docstring's words for the field, in its row
        assert f"| `{f.name}` | " in text and gen.markdown(docs[f.name]) in text
        if str(f.type) in ("Array", "np.ndarray"):  # a per-path array says its shape
            assert "shape" in docs[f.name], f"{cls.__name__}.{f.name}: no shape"
    units = ("currency", "years", "per ", "decimal", "units", "count", "ISO 8601")
    for name in ("spot", "time", "rate", "mid", "strike", "delta", "vega", "stressed_loss", "cost"):
        if name in docs:
            assert any(u in docs[name] for u in units), f"{cls.__name__}.{name}: no unit"


def test_bands_are_explained() -> None:
    from market.events import RiskSnapshot

    text = _generator().attributes(RiskSnapshot)["bands"]
    assert "largest absolute value" in text and "same units as the greek" in text


def test_the_agent_contract_in_the_guide_matches_the_code() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    sig = inspect.signature(Agent.__init__)
    assert list(sig.parameters) == ["self", "name", "config", "rng"]
    assert sig.parameters["rng"].kind is inspect.Parameter.KEYWORD_ONLY
    m = re.search(
        r"`__init__\(self, name: str, config: AgentConfig \| None = None, \*, rng=None\)`", text
    )
    assert m, "the guide shows Agent.__init__'s signature"
    assert "**`[]` is valid**" in text and "dt = event.time - self.last_time" in text
    # what the guide promises: [] and None are both "no orders"
    from agents.testing import check_agent

    class Idle(Agent):
        def on_market(self, event, view):
            return []

    check_agent(Idle)
    assert Agent("x")._check_orders(None, None) == []  # type: ignore[arg-type]


def test_the_generator_flags_an_undocumented_field() -> None:
    gen = _generator()

    @dataclasses.dataclass
    class Thing:
        """A thing.

        Attributes:
            a: Documented, years.
        """

        a: float
        b: np.ndarray

    assert gen.attributes(Thing) == {"a": "Documented, years."}
    gen.CLASSES = (("thing", Thing),)
    assert "| `b` | `np.ndarray` | **undocumented** |" in gen.render().replace(
        "Array", "np.ndarray"
    )
