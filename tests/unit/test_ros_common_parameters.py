"""jepa_ros_common.parameters on a real rclpy node: descriptors, read-only refusals, validation, the on_change hook."""

import pytest

rclpy = pytest.importorskip("rclpy")

from rcl_interfaces.msg import ParameterType  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from jepa_ros_common.parameters import Param, declare_table, finite_positive  # noqa: E402

pytestmark = pytest.mark.ros


def even(value: int) -> str | None:
    return None if value % 2 == 0 else f"expected an even number, got {value}"


TABLE = (
    Param("checkpoint", "", "model file"),
    Param("samples", 100, "CEM candidates", read_only=False, takes_effect="from the next goal", validate=even),
    Param(
        "budget_s",
        0.5,
        "time per step, s",
        read_only=False,
        takes_effect="from the next step",
        validate=finite_positive,
    ),
    Param("workspace_min", [0.1, -0.4, 0.2], "box corner, m", read_only=False, takes_effect="from the next step"),
)


class Changes:
    """on_change hook that records what it was handed and can refuse like a node rebuilding its settings."""

    def __init__(self):
        self.seen: list[dict] = []
        self.refuse_with = ""

    def __call__(self, changed: dict) -> None:
        if self.refuse_with:
            raise ValueError(self.refuse_with)
        self.seen.append(changed)


@pytest.fixture
def node(ros_context):
    node = rclpy.create_node("parameter_table_test", context=ros_context)
    yield node
    node.destroy_node()


@pytest.fixture
def declared(node):
    changes = Changes()
    return node, declare_table(node, TABLE, on_change=changes), changes


def test_declares_the_table_with_typed_descriptors(declared):
    node, values, _ = declared
    assert values == {"checkpoint": "", "samples": 100, "budget_s": 0.5, "workspace_min": [0.1, -0.4, 0.2]}
    checkpoint, samples, workspace = node.describe_parameters(["checkpoint", "samples", "workspace_min"])
    expected = (ParameterType.PARAMETER_STRING, True, "model file")
    assert (checkpoint.type, checkpoint.read_only, checkpoint.description) == expected
    assert (samples.type, samples.read_only) == (ParameterType.PARAMETER_INTEGER, False)
    assert samples.description == "CEM candidates (live: from the next goal)"
    assert workspace.type == ParameterType.PARAMETER_DOUBLE_ARRAY


def test_overrides_are_the_declared_values(ros_context):
    overrides = [Parameter("samples", value=40), Parameter("checkpoint", value="a.pt")]
    node = rclpy.create_node("parameter_overrides_test", context=ros_context, parameter_overrides=overrides)
    try:
        values = declare_table(node, TABLE, on_change=Changes())
        assert (values["samples"], values["checkpoint"]) == (40, "a.pt")
    finally:
        node.destroy_node()


def test_a_refused_start_value_names_the_parameter(ros_context):
    overrides = [Parameter("budget_s", value=float("inf"))]
    node = rclpy.create_node("parameter_start_test", context=ros_context, parameter_overrides=overrides)
    try:
        with pytest.raises(ValueError, match=r"parameter budget_s: expected finite > 0, got inf"):
            declare_table(node, TABLE, on_change=Changes())
    finally:
        node.destroy_node()


def test_read_only_set_is_refused_with_a_reason(declared):
    node, _, changes = declared
    (result,) = node.set_parameters([Parameter("checkpoint", value="other.pt")])
    assert not result.successful and "read-only" in result.reason and "checkpoint" in result.reason
    assert node.get_parameter("checkpoint").value == "" and changes.seen == []


def test_bad_value_is_refused_with_the_validators_reason(declared):
    node, _, changes = declared
    (result,) = node.set_parameters([Parameter("samples", value=7)])
    assert not result.successful
    assert result.reason == "parameter samples: expected an even number, got 7"
    assert node.get_parameter("samples").value == 100 and changes.seen == []


def test_another_type_is_refused(declared):
    node, _, changes = declared
    (result,) = node.set_parameters([Parameter("budget_s", value="fast")])
    assert not result.successful and "type" in result.reason
    assert node.get_parameter("budget_s").value == 0.5 and changes.seen == []


def test_good_value_is_accepted_and_seen_by_on_change(declared):
    node, _, changes = declared
    (result,) = node.set_parameters([Parameter("samples", value=50)])
    assert result.successful
    assert node.get_parameter("samples").value == 50 and changes.seen == [{"samples": 50}]
    changed = [Parameter("budget_s", value=0.25), Parameter("workspace_min", value=[0.2, -0.3, 0.1])]
    result = node.set_parameters_atomically(changed)
    assert result.successful
    assert changes.seen[-1] == {"budget_s": 0.25, "workspace_min": [0.2, -0.3, 0.1]}


def test_on_change_refusing_keeps_the_old_value(declared):
    node, _, changes = declared
    changes.refuse_with = "samples 60 does not fit the GPU"
    (result,) = node.set_parameters([Parameter("samples", value=60)])
    assert not result.successful and result.reason == "samples 60 does not fit the GPU"
    assert node.get_parameter("samples").value == 100


def test_parameters_outside_the_table_pass_through(declared):
    node, _, changes = declared
    (result,) = node.set_parameters([Parameter("use_sim_time", value=True)])
    assert result.successful and changes.seen == []


def test_live_parameters_need_an_on_change_hook(node):
    with pytest.raises(ValueError, match="need an on_change hook"):
        declare_table(node, TABLE)


def test_a_live_parameter_must_say_when_a_change_takes_effect():
    with pytest.raises(ValueError, match="needs takes_effect"):
        Param("samples", 100, "CEM candidates", read_only=False)
    with pytest.raises(ValueError, match="needs takes_effect"):
        Param("checkpoint", "", "model file", takes_effect="never")
