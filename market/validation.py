"""What every configuration model shares: frozen, no unknown fields, finite numbers.

:class:`StrictModel` is the base of every scenario model (market, agents,
manager, orchestration): frozen, unknown fields refused, and no ``inf`` or
``nan`` in any float field (``allow_inf_nan=False``; pydantic then says
"Input should be a finite number" and names the field). :data:`Vol` and
:data:`Variance` are the float types of implied and model vols: positive and
at most :data:`VOL_CEILING` (500%), so a vol given in percent (20 for 20%) is
refused with the decimal form it should have been.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: Highest vol a scenario may give, decimal (5.0 = 500%).
VOL_CEILING = 5.0
#: Highest variance a scenario may give, decimal² (500% vol squared).
VARIANCE_CEILING = VOL_CEILING**2

#: The model config every scenario model uses (subclasses may add to it).
STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class StrictModel(BaseModel):
    """Base of the configuration models: frozen, unknown fields refused, floats finite."""

    model_config = STRICT


def _decimal_vol(v: float) -> float:
    if v > VOL_CEILING:
        raise ValueError(
            f"{v:g} looks like a percent: vols are decimals (0.2 = 20%) at most "
            f"{VOL_CEILING:g} (500%); write {v / 100:g} for {v:g}%"
        )
    return v


def _decimal_variance(v: float) -> float:
    if v > VARIANCE_CEILING:
        raise ValueError(
            f"{v:g} is above {VARIANCE_CEILING:g} (500% vol squared): variances are decimal² "
            f"(0.04 = 20% vol); write {v / 1e4:g} for a {math.sqrt(v):g}% vol"
        )
    return v


#: An implied or model vol, decimal (0.2 = 20%): positive, at most :data:`VOL_CEILING`.
Vol = Annotated[float, Field(gt=0.0), AfterValidator(_decimal_vol)]
#: A variance, decimal² (0.04 = 20% vol): non-negative, at most :data:`VARIANCE_CEILING`.
Variance = Annotated[float, Field(ge=0.0), AfterValidator(_decimal_variance)]


def non_finite_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first non-finite float inside ``value``, or None.

    Walks dicts, lists and tuples (the shapes ``--set`` values and grid values
    take); a bare non-finite float answers ``path`` itself.
    """
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for k, v in items:
        found = non_finite_path(v, f"{path}.{k}" if path else str(k))
        if found is not None:
            return found
    return None
