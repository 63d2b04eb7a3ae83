"""What the Franka adapter reports on /diagnostics: lifecycle state, robot state age and last command age, judged OK /
WARN / ERROR against limits from its parameters (ROS-free apart from the report type)."""

from __future__ import annotations

from dataclasses import dataclass

from jepa_ros_common.diagnostics import WARN, Limits, Report, diagnostics_parameters
from jepa_ros_common.parameters import Param


@dataclass(frozen=True)
class DiagnosticLimits(Limits):
    """Where the report turns WARN while active (0 = off); a robot state older than state_timeout is an ERROR."""

    state_age_warn_s: float = 0.1  # the robot state broadcaster publishes at up to 1 kHz
    command_age_warn_s: float = 0.0  # off: an idle planner sends no targets


LIMIT_DESCRIPTIONS = {
    "state_age_warn_s": "/diagnostics turns WARN while active when the measured pose is older than this, s (ERROR "
    "beyond state_timeout, where the adapter stops streaming); 0 = off",
    "command_age_warn_s": "/diagnostics turns WARN while active when the last accepted target_pose is older than "
    "this, s (for a supervisor that expects a steady command stream); 0 = off",
}
DIAGNOSTICS_PARAMETERS: tuple[Param, ...] = diagnostics_parameters(
    DiagnosticLimits, LIMIT_DESCRIPTIONS, "Period of the adapter's status on /diagnostics, s."
)


class AdapterStatus:
    """When the adapter last accepted a target and last sent an equilibrium (time.monotonic(), s)."""

    def __init__(self) -> None:
        self.target_at: float | None = None
        self.equilibrium_at: float | None = None

    def commanded(self, now: float) -> None:
        self.target_at = now

    def equilibrium_sent(self, now: float) -> None:
        self.equilibrium_at = now

    def ages(self, now: float) -> dict[str, float | None]:
        """Seconds since the last accepted target and the last equilibrium, None for never."""
        times = {"last_command": self.target_at, "last_equilibrium": self.equilibrium_at}
        return {name: None if at is None else now - at for name, at in times.items()}


def adapter_report(state: str, last_error: str, state_age: float | None, ages: dict[str, float | None],
                   following: bool, limits: DiagnosticLimits, state_timeout: float) -> Report:  # fmt: skip
    """ERROR after a failed transition or, while active, when the robot state is older than `state_timeout`; WARN
    when not active, when no robot state came yet, or when an age exceeds its limit."""
    report = Report()
    report.lifecycle(state, last_error, "holding, targets are ignored")
    report.values["following_target"] = "yes" if following else "no"
    active = state == "active"
    if state_age is None:
        report.values["robot_state_age_s"] = "never received"
        if active:
            report.flag(WARN, "no robot state received")
    elif active:
        report.threshold("robot_state_age_s", state_age, limits.state_age_warn_s, state_timeout, " s")
    else:
        report.values["robot_state_age_s"] = f"{state_age:.3f}"
    for name, age in ages.items():
        key = f"{name}_age_s"
        if age is None:
            report.values[key] = "none yet"
        elif active and name == "last_command":
            report.threshold(key, age, limits.command_age_warn_s, 0.0, " s")
        else:
            report.values[key] = f"{age:.3f}"
    return report
