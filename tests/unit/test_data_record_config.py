"""record.yaml, the recorder node's parameters and the launch file all use the one topic list of topics.py."""

import importlib.util
from pathlib import Path

import pytest
import yaml

from jepa_core.data.topics import RECORDED_TOPICS, topic_type

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "launch" / "config" / "record.yaml"


def test_yaml_topics_are_the_recorded_topics():
    params = yaml.safe_load(CONFIG.read_text())["episode_recorder"]["ros__parameters"]
    assert params["topics"] == [topic.name for topic in RECORDED_TOPICS]
    assert topic_type("/ee_state") == "jepa_msgs/msg/EndEffectorState"
    with pytest.raises(KeyError, match="not one of the recorded topics"):
        topic_type("cmd_vel")


@pytest.mark.ros
def test_yaml_matches_the_node_parameters(ros_context, tmp_path):
    from rclpy.parameter import Parameter

    from jepa_data.recorder_node import EpisodeRecorder

    params = yaml.safe_load(CONFIG.read_text())["episode_recorder"]["ros__parameters"]
    overrides = [Parameter(name, value=value) for name, value in params.items()]
    overrides.append(Parameter("output_dir", value=str(tmp_path)))
    node = EpisodeRecorder(context=ros_context, parameter_overrides=overrides)
    try:
        builtin = {"use_sim_time", "start_type_description_service"}
        declared = {name for name in node._parameters if name not in builtin}
        assert declared == set(params)
    finally:
        node.destroy_node()


def test_launch_file_lists_the_recorded_topics():
    pytest.importorskip("launch")
    pytest.importorskip("launch_ros")
    spec = importlib.util.spec_from_file_location("record_launch", REPO / "launch" / "record.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert len(description.entities) == 5
