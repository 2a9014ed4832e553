"""Configs of the built-in allocation policies, and how a scenario names a policy.

``ManagerConfig.policy`` is a :data:`PolicyRef`: a built-in policy's config
(chosen by ``kind``: ``static``, ``event_aware``, ``vol_scaled``,
``cost_aware``) or a :class:`PolicySpec` naming a user's
:class:`~agents.AllocationPolicy` subclass by class or dotted path, with its
config (``{"cls": "my_desk.policies.Capped", "config": {"cap": 0.5}}``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agents._policy_base import AllocationPolicy, PolicyConfig
from agents._resolve import check_class_config, resolve_class

Greek = Literal["delta", "gamma", "vega"]


class StaticAllocation(PolicyConfig):
    """Fixed shares: ``budget * weight`` per greek (the scales stay at one)."""

    kind: Literal["static"] = "static"


class EventAwareAllocation(PolicyConfig):
    """Tighten some greeks around scheduled announcements, on top of a base policy.

    Attributes:
        tighten: Greek name to its scale while tightened (0.2 = a fifth of the band).
        before_days: Days before a scheduled release to tighten.
        after_days: Days after the release to restore.
        base: The policy whose shares are tightened (default ``static``).
    """

    kind: Literal["event_aware"] = "event_aware"
    # pydantic copies a mutable default per instance (the models are frozen anyway)
    tighten: dict[Greek, Annotated[float, Field(gt=0.0, le=1.0)]] = {  # noqa: RUF012
        "gamma": 0.2,
        "vega": 0.2,
    }
    before_days: float = Field(2.0, ge=0.0, le=36_525.0)
    after_days: float = Field(0.5, ge=0.0, le=36_525.0)
    base: PolicyRef | None = None


class VolScaledAllocation(PolicyConfig):
    """Scale the bands by implied over realised vol (tighter when the market is wilder).

    The realised variance is an exponentially weighted mean of the squared
    log-returns of spot per path, annualised by each step's length; it starts
    at the implied ATM variance. Each chosen greek's share is multiplied by
    ``clip((atm / realised) ** power, min_scale, max_scale)``.

    Attributes:
        greeks: The greeks scaled.
        halflife_days: Half-life of the realised-variance estimate, days.
        power: Exponent on the vol ratio.
        min_scale: Smallest scale.
        max_scale: Largest scale (at most 1: the budget is never exceeded).
        base: The policy whose shares are scaled (default ``static``).
    """

    kind: Literal["vol_scaled"] = "vol_scaled"
    greeks: tuple[Greek, ...] = ("delta", "gamma", "vega")
    halflife_days: float = Field(1.0, gt=0.0, le=36_525.0)
    power: float = Field(1.0, gt=0.0, le=10.0)
    min_scale: float = Field(0.1, gt=0.0, le=1.0)
    max_scale: float = Field(1.0, gt=0.0, le=1.0)
    base: PolicyRef | None = None

    @model_validator(mode="after")
    def _check(self) -> VolScaledAllocation:
        if self.min_scale > self.max_scale:
            raise ValueError(f"min_scale {self.min_scale} is above max_scale {self.max_scale}")
        return self


class CostAwareAllocation(PolicyConfig):
    """Split the budget so that the expected cost of keeping each greek in its band is least.

    Per path, a greek ``i`` whose exposure diffuses trades, to stay inside
    the band ``b_i = s_i / c_i`` (``s_i`` its currency share, ``c_i`` its
    stressed loss per unit), about ``k_i c_i v_i² / (2 s_i)`` per unit time at
    a proportional cost ``k_i`` per unit greek (``v_i``: the greek's
    stress-volatility). Minimising ``sum_i k_i c_i v_i² / s_i`` subject to
    ``sum_i s_i = S`` (the stressed-loss budget of the weights) is convex, with
    the closed form ``s_i ∝ v_i sqrt(k_i / c_i)``. The weights stand in for
    ``v_i`` (the desk's prior of where the stress comes from), so

        ``s_i = S * (floor * w_i / W + (1 - floor) * w_i r_i^p / sum_j w_j r_j^p)``

    with ``r_i = k_i / c_i`` the quoted cost of removing one unit of stressed
    loss through greek ``i`` (:meth:`AllocationState.unit_costs`), ``p =
    power`` (0.5 = the closed form) and ``W = sum w``. Equal ``r`` on every
    greek gives the static shares.

    Attributes:
        power: Exponent on the cost ratio (0.5 = the closed form).
        floor: Part of the budget split by the static weights regardless of
            cost (keeps a cheap greek's band from collapsing).
    """

    kind: Literal["cost_aware"] = "cost_aware"
    power: float = Field(0.5, ge=0.0, le=4.0)
    floor: float = Field(0.1, ge=0.0, le=1.0)


class PolicySpec(PolicyConfig):
    """A user's policy class (a class, or a dotted path) and its config.

    Attributes:
        cls: A subclass of :class:`~agents.AllocationPolicy`, or its dotted
            path (``"pkg.module.Class"`` or ``"pkg.module:Class"``).
        config: Fields of the class's ``Config``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    cls: str | type
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cls")
    @classmethod
    def _resolve(cls, ref: str | type) -> str | type:
        resolve_class(ref, AllocationPolicy, {}, "policy class")
        return ref

    @field_validator("config")
    @classmethod
    def _validate(cls, config: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        ref = info.data.get("cls")
        if ref is None:  # cls itself failed
            return config
        check_class_config(resolve_class(ref, AllocationPolicy, {}, "policy class"), config)
        return config

    @property
    def policy_class(self) -> type[AllocationPolicy]:
        """The resolved policy class."""
        return resolve_class(self.cls, AllocationPolicy, {}, "policy class")


def _policy_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return "policy_spec" if "cls" in value else str(value.get("kind", "static"))
    if isinstance(value, PolicySpec):
        return "policy_spec"
    return getattr(value, "kind", None)


#: What ``ManagerConfig.policy`` holds: a built-in policy's config (by
#: ``kind``) or a :class:`PolicySpec` (a dict with ``cls``).
PolicyRef = Annotated[
    Annotated[StaticAllocation, Tag("static")]
    | Annotated[EventAwareAllocation, Tag("event_aware")]
    | Annotated[VolScaledAllocation, Tag("vol_scaled")]
    | Annotated[CostAwareAllocation, Tag("cost_aware")]
    | Annotated[PolicySpec, Tag("policy_spec")],
    Discriminator(
        _policy_tag,
        custom_error_type="policy",
        custom_error_message=(
            "unknown policy: give kind static, event_aware, vol_scaled or cost_aware, "
            "or cls (a dotted path) and config"
        ),
    ),
]

EventAwareAllocation.model_rebuild()
VolScaledAllocation.model_rebuild()
