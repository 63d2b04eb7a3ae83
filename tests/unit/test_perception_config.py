"""perception.yaml documents exactly the encoder node's parameters with their defaults; the launch file loads."""

from dataclasses import fields, replace
from pathlib import Path

import pytest
import yaml

from jepa_core.frame_encoder import FrameEncoderConfig
from jepa_perception.encoder_node import ENCODER_DESCRIPTIONS, NODE_DESCRIPTIONS, PARAMETERS, NodeSettings
from jepa_perception.status import DIAGNOSTICS_PARAMETERS
from jepa_ros_common.lifecycle import AUTOSTART

LAUNCH_DIR = Path(__file__).resolve().parents[2] / "launch"
DEFAULTS = {f.name: f.default for config in (FrameEncoderConfig, NodeSettings) for f in fields(config)} | {
    p.name: p.default for p in (AUTOSTART, *DIAGNOSTICS_PARAMETERS)
}


def test_yaml_documents_every_parameter_with_its_default():
    documented = yaml.safe_load((LAUNCH_DIR / "config" / "perception.yaml").read_text())["encoder_node"]
    parameters = documented["ros__parameters"]
    assert set(parameters) == set(DEFAULTS)
    for name, default in DEFAULTS.items():
        assert parameters[name] == default and type(parameters[name]) is type(default), name


def test_every_parameter_has_a_description():
    assert set(ENCODER_DESCRIPTIONS) == {f.name for f in fields(FrameEncoderConfig)}
    assert set(NODE_DESCRIPTIONS) == {f.name for f in fields(NodeSettings)}
    assert all(spec.description for spec in PARAMETERS)
    assert {spec.name: spec.default for spec in PARAMETERS} == DEFAULTS


def test_launch_file_builds_the_node():
    pytest.importorskip("launch.launch_description_sources")
    pytest.importorskip("launch_ros.actions")
    from launch.launch_description_sources import get_launch_description_from_python_launch_file

    description = get_launch_description_from_python_launch_file(str(LAUNCH_DIR / "perception.launch.py"))
    arguments = {argument.name for argument in description.get_launch_arguments()}
    assert {"checkpoint", "preset", "device", "backend", "camera_topic", "namespace"} <= arguments
    launch_parameters = set(arguments) - {"camera_topic", "namespace"}
    assert launch_parameters <= set(DEFAULTS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"qos_reliability": "sometimes"}, "parameter qos_reliability must be one of"),
        ({"qos_depth": 0}, "parameter qos_depth must be >= 1, got 0"),
        ({"status_period_s": 0.0}, "parameter status_period_s must be > 0"),
    ],
)
def test_bad_node_settings_name_the_parameter(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(NodeSettings(), **changes).validate()
