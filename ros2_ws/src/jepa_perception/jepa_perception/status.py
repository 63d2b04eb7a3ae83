"""What the encoder node reports on /diagnostics: lifecycle state, model, input rate, encode latency p50/p95, drops and
invalid frames, judged OK / WARN / ERROR against limits from its parameters (ROS-free apart from the report type)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from jepa_perception.frame_pipeline import RATE_WINDOW_S, StatusSnapshot
from jepa_ros_common.diagnostics import WARN, Limits, Report, diagnostics_parameters
from jepa_ros_common.parameters import Param


@dataclass(frozen=True)
class DiagnosticLimits(Limits):
    """Where the report turns WARN or ERROR while the node is active (0 = that check is off)."""

    min_input_rate_hz: float = 1.0  # WARN below this many camera images per second (last RATE_WINDOW_S)
    latency_warn_ms: float = 500.0  # WARN above this p95 latency, image receipt -> embedding publish
    latency_error_ms: float = 2000.0  # ERROR above it


LIMIT_DESCRIPTIONS = {
    "min_input_rate_hz": "/diagnostics turns WARN while active when fewer camera images than this arrive per second "
    f"(last {RATE_WINDOW_S:g} s), Hz; 0 = off",
    "latency_warn_ms": "/diagnostics turns WARN when the p95 latency (image receipt -> embedding publish) exceeds "
    "this, ms; 0 = off",
    "latency_error_ms": "/diagnostics turns ERROR when that p95 latency exceeds this, ms; 0 = off",
}
DIAGNOSTICS_PARAMETERS: tuple[Param, ...] = diagnostics_parameters(
    DiagnosticLimits, LIMIT_DESCRIPTIONS, "period of the node's status on /diagnostics, s"
)


def perception_report(
    state: str, last_error: str, stats: StatusSnapshot, limits: DiagnosticLimits, model: str
) -> Report:
    """ERROR after a failed transition or above the latency error limit; WARN when not active, when the input rate is
    below its limit, above the latency warn limit, or after invalid frames within RATE_WINDOW_S."""
    report = Report()
    report.lifecycle(state, last_error, "no frames are encoded and encode_image is refused")
    report.values |= {
        "model": model, "input_rate_hz": f"{stats.input_rate_hz:.2f}",
        "frames_received": str(stats.frames_received), "frames_encoded": str(stats.frames_encoded),
        "frames_dropped": str(stats.frames_dropped), "frames_invalid": str(stats.frames_invalid),
    }  # fmt: skip
    if not math.isnan(stats.latency_ms_p50):
        report.values["encode_latency_ms_p50"] = f"{stats.latency_ms_p50:.1f}"
        report.threshold("encode_latency_ms_p95", stats.latency_ms_p95, limits.latency_warn_ms,
                         limits.latency_error_ms, " ms")  # fmt: skip
    if state != "active":
        return report
    if stats.input_rate_hz < limits.min_input_rate_hz:
        report.flag(WARN, f"input rate {stats.input_rate_hz:.2f} Hz below {limits.min_input_rate_hz} Hz")
    if stats.invalid_recent:
        report.flag(
            WARN, f"{stats.invalid_recent} invalid frames in the last {RATE_WINDOW_S:g} s, last: {stats.last_error}"
        )
    return report
