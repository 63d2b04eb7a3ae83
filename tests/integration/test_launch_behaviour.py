"""What the launch files do with their arguments, checked without the launch tools (not in the pip install).

Each launch/*.launch.py is executed against small stand-ins for the `launch` / `launch_ros` classes it uses, which
only record their arguments; the recorded description is then inspected: which entity comes first, what each node
gets as parameters, which launch arguments exist. Issue 13 items 13-17.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCH_DIR = REPO / "launch"


class Recorded:
    """A stand-in for any launch class: keeps its positional and keyword arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(Recorded):
    def perform(self, context) -> str:
        return context.launch_configurations[self.args[0]]


class IfCondition(Recorded):
    def evaluate(self, context) -> bool:
        return self.args[0].perform(context).lower() in ("true", "1")


CLASSES = {
    "launch.actions": ("DeclareLaunchArgument", "ExecuteProcess", "OpaqueFunction"),
    "launch.conditions": ("IfCondition",),
    "launch.launch_description": ("LaunchDescription",),
    "launch.substitutions": ("LaunchConfiguration", "EqualsSubstitution"),
    "launch_ros.actions": ("Node",),
    "launch_ros.parameter_descriptions": ("ParameterValue",),
}
SPECIAL = {"LaunchConfiguration": LaunchConfiguration, "IfCondition": IfCondition}


@pytest.fixture
def load_launch(monkeypatch):
    """Function: launch file name -> the list of entities its generate_launch_description() returns."""
    for package in ("launch", "launch_ros"):
        monkeypatch.setitem(sys.modules, package, types.ModuleType(package))
    for module_name, class_names in CLASSES.items():
        module = types.ModuleType(module_name)
        for name in class_names:
            setattr(module, name, SPECIAL.get(name) or type(name, (Recorded,), {}))
        monkeypatch.setitem(sys.modules, module_name, module)

    def load(name: str) -> list:
        spec = importlib.util.spec_from_file_location(f"launch_file_{name.split('.')[0]}", LAUNCH_DIR / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return list(module.generate_launch_description().args[0])

    return load


def kind(entity) -> str:
    return type(entity).__name__


def arguments(entities) -> dict[str, Recorded]:
    return {e.args[0]: e for e in entities if kind(e) == "DeclareLaunchArgument"}


def nodes(entities) -> dict[str, Recorded]:
    return {e.kwargs["name"]: e for e in entities if kind(e) == "Node"}


def context(**configurations):
    return types.SimpleNamespace(launch_configurations=configurations)


def fake_ament_prefix(tmp_path: Path, packages: dict[str, str]) -> Path:
    """An ament prefix holding `packages` (name -> executable in lib/<name>/), as colcon or apt would install them."""
    index = tmp_path / "prefix" / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    for package, executable in packages.items():
        (index / package).write_text("")
        program = tmp_path / "prefix" / "lib" / package / executable
        program.parent.mkdir(parents=True)
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    return tmp_path / "prefix"


# ---- item 13: rviz:=true without rviz2 must fail before any node starts ---------------------------------------------


@pytest.mark.parametrize("name", ["demo.launch.py", "franka.launch.py"])
def test_missing_rviz2_is_refused_before_any_node_starts(load_launch, monkeypatch, tmp_path, name):
    entities = load_launch(name)
    first_node = next(i for i, e in enumerate(entities) if kind(e) == "Node")
    checks = [e for e in entities[:first_node] if kind(e) == "OpaqueFunction"]
    assert checks, f"{name}: no check runs before the first node"
    check = checks[0].kwargs["function"]
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(fake_ament_prefix(tmp_path, {"jepa_sim": "sim_node"})))
    with pytest.raises(RuntimeError, match=r"rviz:=true.*rviz2.*not installed.*rviz:=false"):
        check(context(rviz="true"))
    assert not check(context(rviz="false"))  # nothing to check, nothing added
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(fake_ament_prefix(tmp_path / "with", {"rviz2": "rviz2"})))
    assert not check(context(rviz="True"))


# ---- item 14: planner.launch.py merges its yaml section (namespace-proof) and passes strings as strings -------------


def test_planner_launch_merges_its_section_and_keeps_strings(load_launch):
    (planner,) = nodes(load_launch("planner.launch.py")).values()
    merged, overrides = planner.kwargs["parameters"]
    assert isinstance(merged, dict), "planner.yaml must be merged here: rcl ignores `planner_node:` in a namespace"
    assert merged["goal_encoder"] == "service" and merged["cem"]["samples"] == 800
    assert set(overrides) == {"predictor_checkpoint", "device", "goal_encoder", "autocast_dtype"}
    for name, value in overrides.items():
        assert kind(value) == "ParameterValue" and value.kwargs.get("value_type") is str, name


# ---- item 15: the "stored config" preset is a word that a command line can carry -----------------------------------


def test_franka_launch_documents_preset_auto(load_launch):
    entities = load_launch("franka.launch.py")
    description = arguments(entities)["preset"].kwargs["description"]
    assert "auto" in description and "''" not in description, description
    by_name = nodes(entities)
    assert kind(by_name["encoder_node"].kwargs["parameters"][1]["preset"]) == "ParameterValue"
    assert kind(by_name["planner_node"].kwargs["parameters"][1]["predictor_preset"]) == "ParameterValue"


# ---- item 16: perception.launch.py takes image_size, by default the checkpoint's own --------------------------------


def test_perception_launch_image_size_defaults_to_the_checkpoint(load_launch):
    entities = load_launch("perception.launch.py")
    argument = arguments(entities)["image_size"]
    assert argument.kwargs["default_value"] == "0" and "checkpoint" in argument.kwargs["description"]
    assert arguments(entities)["preset"].kwargs["default_value"] == "auto"
    (encoder,) = nodes(entities).values()
    image_size = encoder.kwargs["parameters"][1]["image_size"]
    assert kind(image_size) == "ParameterValue" and image_size.kwargs["value_type"] is int


# ---- item 17: model paths of the parameter files work from any working directory -----------------------------------


def test_demo_model_paths_resolve_from_another_directory(load_launch, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    by_name = nodes(load_launch("demo.launch.py"))
    checkpoint = Path(by_name["encoder_node"].kwargs["parameters"][0]["checkpoint"])
    predictor = Path(by_name["planner_node"].kwargs["parameters"][0]["predictor_checkpoint"])
    assert checkpoint.is_absolute() and checkpoint == REPO / "models" / "sim_reach.pt"
    assert predictor == checkpoint
    from jepa_core.frame_encoder import FrameEncoder, FrameEncoderConfig

    assert FrameEncoder(FrameEncoderConfig(checkpoint=str(checkpoint))).grid.height == 4  # loads from tmp_path


def test_record_node_runs_where_the_launch_was_started(load_launch, monkeypatch, tmp_path):
    """recorder:=node with a relative output:= writes under the caller's directory, as `ros2 bag record` does: the
    recorder process is not moved into the repository (which goes on its module path instead)."""
    monkeypatch.chdir(tmp_path)
    (recorder,) = [
        e for e in load_launch("record.launch.py") if kind(e) == "ExecuteProcess" and "-m" in e.kwargs["cmd"]
    ]
    assert recorder.kwargs.get("cwd") in (None, str(tmp_path))
    assert recorder.kwargs["additional_env"]["PYTHONPATH"].split(os.pathsep)[0] == str(LAUNCH_DIR.parent)
