"""The one way a node declares its ROS parameters: a table of `Param` entries, declared by `declare_table`.

    TABLE = (
        Param("checkpoint", "", "encoder checkpoint file"),                             # read-only (the default)
        Param("time_budget_s", 0.5, "planning time per step, s", read_only=False,
              takes_effect="from the next control step", validate=finite_positive),
    )
    values = declare_table(node, TABLE, on_change=self._apply)   # {name: value} after overrides (yaml, -p)

Each entry's default fixes the parameter's type (int, float, str, bool or a list of one of them); the descriptor
carries the description, the type and `read_only`, so `ros2 param describe` shows them and `ros2 param set` on a
read-only parameter or with another type is refused by rclpy. Live entries (`read_only=False`) must say when a change
takes effect (`takes_effect`, appended to the description). `validate(value)` returns why a value is refused, or None;
it checks the declared values (a ValueError names the parameter) and every later set. A set of live parameters that
all pass is handed to `on_change({name: new value})` before rclpy stores it; a ValueError raised there refuses the
whole set with its message, so a node rebuilds its settings from the new values or keeps the old ones.
"""

from __future__ import annotations

import array
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

Validator = Callable[[Any], str | None]  # why a value is refused, or None


@dataclass(frozen=True)
class Param:
    """One node parameter: name, default (its type is the parameter's type), description, read-only or live (then
    `takes_effect` says when a change applies, e.g. "from the next goal"), and an optional validator."""

    name: str
    default: Any
    description: str
    read_only: bool = True
    validate: Validator | None = None
    takes_effect: str = ""

    def __post_init__(self) -> None:
        if self.read_only == bool(self.takes_effect):
            raise ValueError(
                f"parameter {self.name}: a live parameter (read_only=False) needs takes_effect, a read-only one "
                "must not have it"
            )

    @property
    def descriptor(self) -> ParameterDescriptor:
        """ROS descriptor: the description (live: plus when a change takes effect), the type and read_only."""
        description = self.description if self.read_only else f"{self.description} (live: {self.takes_effect})"
        return ParameterDescriptor(
            name=self.name,
            type=Parameter.Type.from_parameter_value(self.default).value,
            description=description,
            read_only=self.read_only,
        )

    def refusal(self, value: Any) -> str | None:
        """Why `value` is refused for this parameter (naming it), or None when it is accepted."""
        reason = self.validate(value) if self.validate is not None else None
        return None if reason is None else f"parameter {self.name}: {reason}"


def declare_table(
    node: Node, table: Sequence[Param], on_change: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Declare every entry of `table` on `node` and return {name: value}; ValueError names a refused value.

    A table with live entries needs `on_change`, which receives the changed live values of each accepted set (a
    parameter accepted and then ignored is what this prevents); it is installed as one on-set callback.
    """
    entries = {param.name: param for param in table}
    if len(entries) != len(table):
        raise ValueError(f"parameter table lists a name twice: {[p.name for p in table]}")
    live = any(not param.read_only for param in table)
    if live and on_change is None:
        raise ValueError(f"live parameters {[p.name for p in table if not p.read_only]} need an on_change hook")
    declared = node.declare_parameters("", [(p.name, p.default, p.descriptor) for p in table])
    values = {parameter.name: _plain(parameter.value) for parameter in declared}
    for name, value in values.items():
        reason = entries[name].refusal(value)
        if reason:
            raise ValueError(reason)
    if live:
        node.add_on_set_parameters_callback(lambda parameters: _on_set(entries, parameters, on_change))
    return values


def _on_set(
    entries: dict[str, Param], parameters: list[Parameter], on_change: Callable[[dict[str, Any]], None]
) -> SetParametersResult:
    """Validate a set of parameters (others than the table's pass through) and hand the accepted ones to on_change."""
    changed = {p.name: _plain(p.value) for p in parameters if p.name in entries}
    for name, value in changed.items():
        reason = entries[name].refusal(value)
        if reason:
            return SetParametersResult(successful=False, reason=reason)
    if changed:
        try:
            on_change(changed)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
    return SetParametersResult(successful=True)


def _plain(value: Any) -> Any:
    """A parameter value as plain Python: arrays (array.array from a set request) become lists."""
    return list(value) if isinstance(value, (array.array, tuple)) else value


def finite_positive(value: float) -> str | None:
    """Validator: a finite number > 0 (inf would unbound a limit)."""
    return None if 0.0 < value < math.inf else f"expected finite > 0, got {value}"


def finite_non_negative(value: float) -> str | None:
    """Validator: a finite number >= 0 (thresholds where 0 means off)."""
    return None if 0.0 <= value < math.inf else f"expected finite >= 0, got {value}"
