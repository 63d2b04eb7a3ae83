"""One-process composition (jepa_bringup.bringup) on real rclpy: parameter files, overrides, remappings, namespace."""

import sys

import pytest

rclpy = pytest.importorskip("rclpy")

import yaml  # noqa: E402
from rcl_interfaces.msg import ParameterDescriptor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from jepa_bringup.bringup import (  # noqa: E402
    Composition,
    NodeSpec,
    load_node_parameters,
    parse_overrides,
    ros_arguments,
)
from jepa_ros_common.process import GIL_SWITCH_INTERVAL_S  # noqa: E402

pytestmark = pytest.mark.ros

MODULE = __name__


class TalkerNode(Node):
    """Publishes its `greeting` parameter on `chatter` every 20 ms."""

    def __init__(self, **kwargs) -> None:
        super().__init__("talker", **kwargs)
        self.greeting = self.declare_parameter("greeting", "default", ParameterDescriptor(description="text")).value
        self.repeat = self.declare_parameter("repeat", 1).value
        publisher = self.create_publisher(String, "chatter", 10)
        self.create_timer(0.02, lambda: publisher.publish(String(data=self.greeting * self.repeat)))


class ListenerNode(Node):
    """Records what arrives on `heard`."""

    def __init__(self, **kwargs) -> None:
        super().__init__("listener", **kwargs)
        self.heard: list[str] = []
        self.create_subscription(String, "heard", lambda msg: self.heard.append(msg.data), 10)


def write_params(tmp_path, document) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.mark.parametrize("namespace", ["", "robot_a"])
def test_nodes_talk_with_files_overrides_remaps_and_namespace(tmp_path, namespace):
    params = write_params(tmp_path, {"talker": {"ros__parameters": {"greeting": "from-file", "repeat": 3}}})
    specs = [
        NodeSpec(f"{MODULE}:TalkerNode", "talker", parameters={"repeat": 2}),
        NodeSpec(f"{MODULE}:ListenerNode", "listener", remappings={"heard": "chatter"}),
    ]
    with Composition(specs, [params], namespace=namespace) as composition:
        talker, listener = composition.nodes["talker"], composition.nodes["listener"]
        assert talker.greeting == "from-file"  # the file applies
        assert talker.repeat == 2  # the override wins over the file
        assert talker.get_namespace() == ("/" + namespace if namespace else "/")
        assert composition.spin_until(lambda: listener.heard, timeout=5.0)
        assert listener.heard[0] == "from-filefrom-file"


def test_spin_until_times_out_and_close_shuts_the_context_down(tmp_path):
    composition = Composition([NodeSpec(f"{MODULE}:ListenerNode", "listener")])
    assert composition.spin_until(lambda: False, timeout=0.2) is False
    composition.close()
    assert not composition.context.ok()
    composition.close()  # idempotent


def test_a_composition_favours_latency(default_switch_interval):
    """Its threads hand each observation on: Python's 5 ms GIL switch interval cost the control period 20-180 ms at
    p95 (benchmarks/control_period.py)."""
    with Composition([]):
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)


def test_bad_inputs_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        Composition([NodeSpec(f"{MODULE}:TalkerNode", "talker")], [tmp_path / "missing.yaml"])
    with pytest.raises(ValueError, match="expected an rclpy Node subclass"):
        Composition([NodeSpec(f"{MODULE}:write_params", "talker")])
    with pytest.raises(ValueError, match="named itself 'talker', expected 'speaker'"):
        Composition([NodeSpec(f"{MODULE}:TalkerNode", "speaker")])
    with pytest.raises(ValueError, match="unique"):
        Composition([NodeSpec(f"{MODULE}:TalkerNode", "talker")] * 2)


def test_cli_overrides_and_arguments():
    specs = parse_overrides(["talker.repeat=4", "talker.greeting=hi"], [NodeSpec(f"{MODULE}:TalkerNode", "talker")])
    assert specs[0].parameters == {"repeat": 4, "greeting": "hi"}
    with pytest.raises(ValueError, match=r"NODE\.PARAMETER=VALUE"):
        parse_overrides(["nobody.x=1"], specs)
    args = ros_arguments([NodeSpec("m:C", "listener", remappings={"heard": "chatter"})], None, namespace="/ns/")
    assert args == ["--ros-args", "--remap", "listener:heard:=chatter", "--remap", "__ns:=/ns"]


def test_load_node_parameters_merges_files_in_order_with_wildcards(tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text(
        yaml.safe_dump(
            {
                "/**": {"ros__parameters": {"use_sim_time": True, "device": "cpu"}},
                "talker": {"ros__parameters": {"greeting": "one", "nested": {"a": 1}}},
                "other": {"ros__parameters": {"greeting": "not mine"}},
            }
        )
    )
    second = tmp_path / "second.yaml"
    second.write_text(yaml.safe_dump({"/talker": {"ros__parameters": {"greeting": "two", "device": "cuda"}}}))
    assert load_node_parameters([first, second], "talker") == {
        "use_sim_time": True,
        "device": "cuda",
        "greeting": "two",
        "nested": {"a": 1},
    }
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"talker": {"parameters": {"greeting": "x"}}}))
    with pytest.raises(ValueError, match=r"broken\.yaml: section 'talker' needs a 'ros__parameters' mapping"):
        load_node_parameters([broken], "talker")
