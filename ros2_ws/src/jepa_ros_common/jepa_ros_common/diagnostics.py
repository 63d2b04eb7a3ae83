"""`/diagnostics` for every node: a DiagnosticArray at a fixed rate with the node's own status, where robot
dashboards and rqt_robot_monitor look (diagnostic_updater is not on the package index; this is its small core)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from jepa_ros_common.parameters import Param, finite_non_negative, finite_positive

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR"}
DIAGNOSTICS_TOPIC = "/diagnostics"
PARAMETER_PREFIX = "diagnostics_"


@dataclass(frozen=True)
class Limits:
    """Base of a node's report limits: each field (a float, 0 = that check is off) is the live parameter
    `diagnostics_<field>` of `diagnostics_parameters`, its default the field's."""

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Self:
        """The limits from the node's `diagnostics_*` parameter values."""
        return cls(**{f.name: values[PARAMETER_PREFIX + f.name] for f in fields(cls)})


def diagnostics_parameters(
    limits: type[Limits], descriptions: Mapping[str, str], period_description: str
) -> tuple[Param, ...]:
    """A node's diagnostics parameter table: the read-only `diagnostics_period_s` (1 s) and one live, finite >= 0
    `diagnostics_<field>` per field of `limits`, described by `descriptions[field]`."""
    return (
        Param(f"{PARAMETER_PREFIX}period_s", 1.0, period_description, validate=finite_positive),
        *(
            Param(PARAMETER_PREFIX + f.name, f.default, descriptions[f.name], read_only=False,
                  takes_effect="from the next report", validate=finite_non_negative)
            for f in fields(limits)
        ),
    )  # fmt: skip


@dataclass
class Report:
    """A node's status: the worst level seen, the messages that explain it, and key/value details."""

    level: bytes = OK
    messages: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    def flag(self, level: bytes, message: str) -> None:
        """Raise the level to at least `level`, explaining why."""
        self.level = max(self.level, level)
        self.messages.append(message)

    def threshold(self, name: str, value: float, warn: float, error: float, unit: str = "") -> None:
        """Record `name` and flag WARN above `warn` and ERROR above `error` (a limit <= 0 is off)."""
        self.values[name] = f"{value:.3f}{unit}"
        if error > 0 and value > error:
            self.flag(ERROR, f"{name} {value:.3f}{unit} above {error}{unit}")
        elif warn > 0 and value > warn:
            self.flag(WARN, f"{name} {value:.3f}{unit} above {warn}{unit}")

    def lifecycle(self, state: str, last_error: str, inactive_means: str) -> None:
        """Record the lifecycle `state`; flag ERROR with `last_error` after a failed transition, else WARN
        "<state>: <inactive_means>" when the node is not active."""
        self.values["lifecycle_state"] = state
        if last_error:
            self.flag(ERROR, last_error)
        elif state != "active":
            self.flag(WARN, f"{state}: {inactive_means}")


class DiagnosticsPublisher:
    """Publishes `report()` of `node` on /diagnostics every `period` s (status name: the node's full name)."""

    def __init__(self, node: Node, report: Callable[[], Report], period: float = 1.0, hardware_id: str = "") -> None:
        self._node, self._report, self._hardware_id = node, report, hardware_id
        self._publisher = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._timer = node.create_timer(period, self.publish)

    def status(self) -> DiagnosticStatus:
        """The node's DiagnosticStatus now; a report that fails is itself an ERROR status naming the exception."""
        try:
            report = self._report()
        except Exception as error:  # diagnostics must not take the node down; the failure is what they report
            report = Report(ERROR, [f"diagnostics failed: {type(error).__name__}: {error}"])
        return DiagnosticStatus(
            level=report.level,
            name=self._node.get_fully_qualified_name(),
            message="; ".join(report.messages) or "ok",
            hardware_id=self._hardware_id,
            values=[KeyValue(key=key, value=value) for key, value in report.values.items()],
        )

    def publish(self) -> None:
        """Publish one DiagnosticArray with this node's status."""
        msg = DiagnosticArray(status=[self.status()])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(msg)
