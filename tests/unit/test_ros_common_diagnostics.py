"""jepa_ros_common.diagnostics: the diagnostics parameter table and limits every node builds from it, and the
lifecycle rule every managed node's report starts with."""

import math
from dataclasses import dataclass

import pytest

pytest.importorskip("rclpy")

from jepa_ros_common.diagnostics import ERROR, OK, WARN, Limits, Report, diagnostics_parameters

pytestmark = pytest.mark.ros


@dataclass(frozen=True)
class ExampleLimits(Limits):
    rate_hz: float = 1.0
    latency_ms: float = 0.0


DESCRIPTIONS = {"rate_hz": "WARN below this rate, Hz; 0 = off", "latency_ms": "WARN above this latency, ms; 0 = off"}


def test_the_table_holds_a_read_only_period_and_one_live_parameter_per_limit():
    period, rate, latency = diagnostics_parameters(ExampleLimits, DESCRIPTIONS, "period of the report, s")
    assert (period.name, period.default, period.read_only) == ("diagnostics_period_s", 1.0, True)
    assert period.descriptor.description == "period of the report, s"
    assert [(p.name, p.default, p.read_only) for p in (rate, latency)] == [
        ("diagnostics_rate_hz", 1.0, False),
        ("diagnostics_latency_ms", 0.0, False),
    ]
    assert rate.descriptor.description == "WARN below this rate, Hz; 0 = off (live: from the next report)"
    assert period.refusal(0.0) and period.refusal(math.inf) and period.refusal(0.5) is None
    assert rate.refusal(-1.0) and rate.refusal(math.inf) and rate.refusal(0.0) is None


def test_limits_are_read_from_the_parameter_values():
    values = {"diagnostics_period_s": 1.0, "diagnostics_rate_hz": 2.0, "diagnostics_latency_ms": 30.0, "other": 1}
    assert ExampleLimits.from_values(values) == ExampleLimits(rate_hz=2.0, latency_ms=30.0)


def test_every_node_declares_its_diagnostics_through_the_shared_table():
    """The planner's diagnostics parameters were written by hand, without the validators the other nodes have: a
    negative or infinite period, or an infinite limit, was accepted."""
    from jepa_franka.franka_adapter import PARAMETERS as FRANKA
    from jepa_perception.encoder_node import PARAMETERS as PERCEPTION
    from jepa_planner.settings import PARAMETERS as PLANNER

    for table in (FRANKA, PERCEPTION, PLANNER):
        entries = {p.name: p for p in table if p.name.startswith("diagnostics_")}
        period = entries.pop("diagnostics_period_s")
        assert period.read_only and period.refusal(-1.0) and period.refusal(math.inf)
        assert entries and all(not p.read_only and p.refusal(-1.0) and p.refusal(math.inf) for p in entries.values())


@pytest.mark.parametrize(
    ("state", "last_error", "level", "messages"),
    [
        ("active", "", OK, []),
        ("inactive", "", WARN, ["inactive: goals are refused"]),
        ("unconfigured", "configure failed: no checkpoint", ERROR, ["configure failed: no checkpoint"]),
        ("active", "activate failed once", ERROR, ["activate failed once"]),
    ],
)
def test_the_lifecycle_rule(state, last_error, level, messages):
    report = Report()
    report.lifecycle(state, last_error, "goals are refused")
    assert (report.level, report.messages, report.values) == (level, messages, {"lifecycle_state": state})
