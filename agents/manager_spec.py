"""How a scenario names its manager: a :class:`ManagerConfig`, or a
:class:`ManagerSpec` naming a :class:`~agents.RiskManager` subclass and its config."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agents._resolve import check_class_config, resolve_class
from agents.manager import RiskManager
from agents.manager_config import ManagerConfig
from market.validation import StrictModel

#: Short names a scenario may use for a manager class.
BUILTIN_MANAGERS: dict[str, type[RiskManager]] = {"default": RiskManager}


def resolve_manager_class(ref: str | type) -> type[RiskManager]:
    """The manager class ``ref`` names (a class, ``"default"`` or a dotted path).

    Raises:
        ValueError: One line: no importable subclass of RiskManager.
    """
    return resolve_class(ref, RiskManager, BUILTIN_MANAGERS, "manager class")


class ManagerSpec(StrictModel):
    """A manager class (a class or a dotted path) and the fields of its ``Config``.

    Attributes:
        cls: A subclass of :class:`~agents.RiskManager`, ``"default"`` or a
            dotted path (``"pkg.module.Class"`` or ``"pkg.module:Class"``).
        config: Fields of the class's ``Config`` (a :class:`ManagerConfig`
            subclass), or an instance of it.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    cls: str | type = "default"
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _dump(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("config"), ManagerConfig):
            data = {**data, "config": data["config"].model_dump(mode="python")}
        return data

    @field_validator("cls")
    @classmethod
    def _resolve(cls, ref: str | type) -> str | type:
        mgr = resolve_manager_class(ref)
        if not (isinstance(mgr.Config, type) and issubclass(mgr.Config, ManagerConfig)):
            raise ValueError(f"{mgr.__name__}.Config must be a subclass of agents.ManagerConfig")
        return ref

    @field_validator("config")
    @classmethod
    def _validate(cls, config: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        ref = info.data.get("cls")
        if ref is None:  # cls itself failed
            return config
        check_class_config(resolve_manager_class(ref), config)
        return config

    @property
    def manager_class(self) -> type[RiskManager]:
        """The resolved manager class."""
        return resolve_manager_class(self.cls)

    def build_config(self) -> ManagerConfig:
        """The validated config of the manager class."""
        return self.manager_class.Config.model_validate(self.config)


def _manager_tag(value: Any) -> str:
    if isinstance(value, ManagerSpec) or (isinstance(value, dict) and "cls" in value):
        return "manager_spec"
    return "manager_config"


#: What ``HedgeConfig.manager`` holds: a :class:`ManagerConfig` (the default
#: manager) or a :class:`ManagerSpec` (a dict with ``cls``).
ManagerRef = Annotated[
    Annotated[ManagerConfig, Tag("manager_config")] | Annotated[ManagerSpec, Tag("manager_spec")],
    Discriminator(_manager_tag),
]


def manager_parts(ref: ManagerConfig | ManagerSpec) -> tuple[type[RiskManager], ManagerConfig]:
    """The manager class and its validated config."""
    if isinstance(ref, ManagerSpec):
        return ref.manager_class, ref.build_config()
    return RiskManager, ref
