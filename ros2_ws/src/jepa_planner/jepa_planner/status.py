"""What the planner reports on /diagnostics: lifecycle state, the running goal, the last outcome, planning time per
step and the age of its observations, judged against limits from its parameters (ROS-free apart from the report
type)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from jepa_planner.control import Stop
from jepa_ros_common.diagnostics import WARN, Limits, Report, diagnostics_parameters
from jepa_ros_common.parameters import Param

WINDOW = 50  # planning times kept for the percentiles


@dataclass(frozen=True)
class DiagnosticLimits(Limits):
    """Where the report turns WARN (0 = off); observation ages are judged against stale_timeout_s."""

    planning_time_warn_s: float = 5.0


LIMIT_DESCRIPTIONS = {
    "planning_time_warn_s": "/diagnostics turns WARN when the p95 planning time per step exceeds this, s; 0 = off",
}
DIAGNOSTICS_PARAMETERS: tuple[Param, ...] = diagnostics_parameters(
    DiagnosticLimits, LIMIT_DESCRIPTIONS, "period of the planner's status on /diagnostics, s"
)


class PlannerStatus:
    """Thread-safe record of the goals and steps the control loop ran."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active_goal = ""
        self.last_outcome = "none"
        self._planning_times: deque[float] = deque(maxlen=WINDOW)

    def goal_started(self, name: str) -> None:
        with self._lock:
            self.active_goal = name

    def goal_ended(self, stop: Stop) -> None:
        with self._lock:
            self.active_goal, self.last_outcome = "", f"{stop.outcome.name}: {stop.reason}"

    def step_planned(self, planning_time: float) -> None:
        with self._lock:
            self._planning_times.append(planning_time)

    def report(self, state: str, last_error: str, ages: dict[str, float | None], max_age: float,
               limits: DiagnosticLimits) -> Report:  # fmt: skip
        """The diagnostics report: ERROR after a failed transition, WARN when not active, when an observation is
        older than `max_age` s while active, or when planning takes longer than `limits.planning_time_warn_s` s per
        step."""
        report = Report()
        report.lifecycle(state, last_error, "goals are refused")
        with self._lock:
            times = np.asarray(self._planning_times)
            report.values |= {"active_goal": self.active_goal or "none", "last_outcome": self.last_outcome}
        if times.size:
            report.values["planning_time_s_p50"] = f"{np.percentile(times, 50):.3f}"
            p95 = float(np.percentile(times, 95))
            report.threshold("planning_time_s_p95", p95, limits.planning_time_warn_s, 0.0, " s")
        for name, age in ages.items():
            key = f"{name}_age_s"
            if age is None:
                report.values[key] = "never received"
                if state == "active":
                    report.flag(WARN, f"no {name} received")
            elif state == "active":
                report.threshold(key, age, max_age, 0.0, " s")
            else:
                report.values[key] = f"{age:.3f}"
        return report
