"""What the launch files do with their arguments, checked without the launch tools (not in the pip install).

Each launch/*.launch.py is executed against small stand-ins for the `launch` / `launch_ros` classes it uses, which
only record their arguments; `launched` then plays the launch service: it sets the launch configurations from the
given arguments and the defaults, runs the OpaqueFunctions and collects the processes they start, so a test can read
what each node would get (parameters, namespace, remappings, on_exit).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LAUNCH_DIR = REPO / "launch"
LAUNCH_FILES = sorted(path.name for path in LAUNCH_DIR.glob("*.launch.py"))
PARAMETER_LAUNCH_FILES = [name for name in LAUNCH_FILES if name != "replay.launch.py"]  # the player takes options
STACK_LAUNCH_FILES = ("demo.launch.py", "franka.launch.py", "perception.launch.py", "planner.launch.py")


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
    "launch.actions": ("DeclareLaunchArgument", "ExecuteProcess", "OpaqueFunction", "Shutdown"),
    "launch.conditions": ("IfCondition",),
    "launch.launch_description": ("LaunchDescription",),
    "launch.substitutions": ("LaunchConfiguration", "EqualsSubstitution"),
    "launch_ros.actions": ("Node",),
    "launch_ros.parameter_descriptions": ("ParameterValue",),
}
SPECIAL = {"LaunchConfiguration": LaunchConfiguration, "IfCondition": IfCondition}


@pytest.fixture
def load_launch(monkeypatch):
    """Function: launch file name (in launch/ or `launch_dir`) -> what its generate_launch_description() returns."""
    for package in ("launch", "launch_ros"):
        monkeypatch.setitem(sys.modules, package, types.ModuleType(package))
    for module_name, class_names in CLASSES.items():
        module = types.ModuleType(module_name)
        for name in class_names:
            setattr(module, name, SPECIAL.get(name) or type(name, (Recorded,), {}))
        monkeypatch.setitem(sys.modules, module_name, module)
    monkeypatch.delitem(sys.modules, "jepa_bringup.launch_actions", raising=False)  # re-imported over these stubs

    def load(name: str, launch_dir: Path = LAUNCH_DIR) -> list:
        spec = importlib.util.spec_from_file_location(f"launch_file_{name.split('.')[0]}", launch_dir / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return list(module.generate_launch_description().args[0])

    return load


def kind(entity) -> str:
    return type(entity).__name__


def arguments(entities) -> dict[str, Recorded]:
    return {e.args[0]: e for e in entities if kind(e) == "DeclareLaunchArgument"}


def context(**configurations):
    return types.SimpleNamespace(launch_configurations=configurations)


def typed(text: str, value_type: type | None) -> Any:
    """A substitution's text as launch_ros types it: ParameterValue's value_type, else YAML."""
    if value_type is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"not a bool: {text!r}")
        return text.lower() == "true"
    return yaml.safe_load(text) if value_type is None else value_type(text)


def resolve(value, launch_context) -> Any:
    """A parameter value with its stand-in substitutions performed."""
    if isinstance(value, LaunchConfiguration):
        return typed(value.perform(launch_context), None)
    if kind(value) == "ParameterValue":
        return typed(value.args[0].perform(launch_context), value.kwargs.get("value_type"))
    if isinstance(value, dict):
        return {key: resolve(item, launch_context) for key, item in value.items()}
    return value


@dataclass
class Started:
    """A process the launch would start: its entity, node name (or command word) and evaluated parameters."""

    entity: Recorded
    name: str
    parameters: dict[str, Any]
    launch_context: Any

    def text(self, keyword: str) -> Any:
        """A keyword argument of the entity, stand-in substitutions performed."""
        value = self.entity.kwargs.get(keyword)
        return value.perform(self.launch_context) if isinstance(value, LaunchConfiguration) else value


def launched(entities, given: dict[str, str] | None = None) -> dict[str, Started]:
    """What a launch of `entities` with the arguments `given` starts: node name (or command word) -> Started."""
    given = given or {}
    declared = arguments(entities)
    assert not set(given) - set(declared), f"not launch arguments: {sorted(set(given) - set(declared))}"
    configurations = {}
    for name, argument in declared.items():
        if name not in given and "default_value" not in argument.kwargs:
            raise AssertionError(f"launch argument {name} has no default: a yaml value can never stand in for it")
        configurations[name] = given.get(name, argument.kwargs.get("default_value"))
    launch_context = context(**configurations)
    started: dict[str, Started] = {}

    def visit(items) -> None:
        for entity in items:
            if kind(entity) == "OpaqueFunction":
                visit(entity.kwargs["function"](launch_context) or [])
            elif kind(entity) in ("Node", "ExecuteProcess"):
                condition = entity.kwargs.get("condition")
                if condition is not None and not condition.evaluate(launch_context):
                    continue
                parameters: dict[str, Any] = {}
                for element in entity.kwargs.get("parameters", []):
                    assert isinstance(element, dict), "parameter files are merged by the launch file (namespace-proof)"
                    parameters |= resolve(element, launch_context)
                name = entity.kwargs.get("name") or entity.kwargs.get("executable") or entity.kwargs["cmd"][0]
                started[name] = Started(entity, name, parameters, launch_context)

    visit(entities)
    return started


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


# ---- issue 24 item 1: the yaml holds the defaults, an argument overrides only when given ---------------------------


def argument_targets(load, launch_dir: Path, name: str, argument: str) -> list[tuple[str, str]]:
    """(node, parameter) pairs that the launch argument sets: those that differ between two values of it."""
    for first, second in (("7", "9"), ("true", "false")):
        try:
            one, other = (launched(load(name, launch_dir), {argument: value}) for value in (first, second))
        except (ValueError, RuntimeError):  # not a value of this argument's type
            continue
        return [
            (node, parameter)
            for node, started in one.items()
            for parameter, value in started.parameters.items()
            if other[node].parameters.get(parameter) != value
        ]
    return []


def edited(value: Any, offset: int) -> Any:
    """A value of the same type that differs from `value` (and from the other offsets' values)."""
    if isinstance(value, bool):
        return not value if offset % 2 else value
    if isinstance(value, int | float):
        return value + offset
    return f"/edited/{offset}"  # absolute: model path parameters keep it as it is


def set_in_yaml(config_dir: Path, node: str, parameter: str, value: Any) -> None:
    """Set `node.parameter` in every parameter file of config_dir with a section for the node."""
    for path in config_dir.glob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        if node in document:
            document[node]["ros__parameters"][parameter] = value
            path.write_text(yaml.safe_dump(document))


def command_line(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("name", PARAMETER_LAUNCH_FILES)
def test_yaml_values_reach_the_nodes_unless_the_argument_is_given(load_launch, tmp_path, name):
    """For every launch argument that sets node parameters: a value edited in (a copy of) launch/config reaches the
    node when the argument is left out, and the argument's value wins when it is given."""
    launch_dir = tmp_path / "launch"
    shutil.copytree(LAUNCH_DIR, launch_dir)
    checked = []
    for argument in arguments(load_launch(name, launch_dir)):
        for node, parameter in argument_targets(load_launch, launch_dir, name, argument):
            yaml_value = edited(launched(load_launch(name, launch_dir))[node].parameters[parameter], 1)
            set_in_yaml(launch_dir / "config", node, parameter, yaml_value)
            without = launched(load_launch(name, launch_dir))[node].parameters[parameter]
            assert without == yaml_value, f"{name}: {node}.{parameter} edited in the yaml, left out {argument}:="
            given = edited(yaml_value, 2)
            with_argument = launched(load_launch(name, launch_dir), {argument: command_line(given)})
            assert with_argument[node].parameters[parameter] == given, f"{name}: {argument}:={given} lost"
            checked.append(argument)
    assert checked, f"{name}: no launch argument sets a node parameter"


@pytest.mark.parametrize("name", PARAMETER_LAUNCH_FILES)
def test_every_parameter_a_launch_file_sets_is_declared_by_its_node(load_launch, name):
    from tests.integration.test_bringup_launch import flatten, node_modules, undeclared

    modules = node_modules()
    problems = []
    for started in launched(load_launch(name)).values():
        if started.entity.kwargs.get("package") not in (None, "rviz2"):
            problems += undeclared(started.name, flatten(started.parameters), modules)
    assert not problems, f"{name}: parameters not declared by the node code: {problems}"


def test_a_bad_argument_value_is_refused_with_its_name(load_launch):
    with pytest.raises(ValueError, match="launch argument seed: expected int, got 'three'"):
        launched(load_launch("sim.launch.py"), {"seed": "three"})
    with pytest.raises(ValueError, match="launch argument gripper: expected true or false"):
        launched(load_launch("franka.launch.py"), {"gripper": "maybe"})


def test_string_arguments_stay_strings(load_launch):
    """A path or a word that YAML would read as a number or a bool reaches the node as the string it is."""
    planner = launched(load_launch("planner.launch.py"), {"checkpoint": "123", "autocast_dtype": ""})["planner_node"]
    assert planner.parameters["predictor_checkpoint"] == "123"
    assert planner.parameters["autocast_dtype"] == ""
    assert planner.parameters["goal_encoder"] == "service" and planner.parameters["cem"]["samples"] == 800


def test_franka_defaults_live_in_franka_yaml(load_launch):
    """The deployment's defaults (camera, preset, device) are yaml values; one argument sets both model nodes."""
    nodes = launched(load_launch("franka.launch.py"), {"checkpoint": "/models/vjepa2-ac-vitg.pt"})
    encoder, planner = nodes["encoder_node"].parameters, nodes["planner_node"].parameters
    assert (encoder["checkpoint"], planner["predictor_checkpoint"]) == ("/models/vjepa2-ac-vitg.pt",) * 2
    assert (encoder["preset"], planner["predictor_preset"]) == ("vit_ac_giant",) * 2
    assert (encoder["device"], planner["device"]) == ("cuda",) * 2
    assert encoder["image_topic"] == planner["image_topic"] == "/camera/camera/color/image_raw"
    assert nodes["franka_adapter"].parameters["gripper_enabled"] is True
    description = arguments(load_launch("franka.launch.py"))["preset"].kwargs["description"]
    assert "auto" in description and "''" not in description, description


def test_demo_model_paths_resolve_from_another_directory(load_launch, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    nodes = launched(load_launch("demo.launch.py"))
    checkpoint = Path(nodes["encoder_node"].parameters["checkpoint"])
    assert checkpoint.is_absolute() and checkpoint == REPO / "models" / "sim_manip.pt"
    assert Path(nodes["planner_node"].parameters["predictor_checkpoint"]) == checkpoint
    from jepa_core.frame_encoder import FrameEncoder, FrameEncoderConfig

    assert FrameEncoder(FrameEncoderConfig(checkpoint=str(checkpoint))).grid.height == 4  # loads from tmp_path


# ---- issue 22 item 5: the same launch files work from jepa_bringup's share directory -------------------------------


def test_launch_files_find_their_config_in_the_share_layout(load_launch, tmp_path):
    """Installed as share/jepa_bringup/{launch,config,rviz} (a copy, not symlinks), a launch file reads config/ beside
    launch/ and takes relative model paths from the share directory."""
    share = tmp_path / "share" / "jepa_bringup"
    (share / "launch").mkdir(parents=True)
    for path in LAUNCH_DIR.glob("*.launch.py"):
        shutil.copy(path, share / "launch")
    shutil.copytree(LAUNCH_DIR / "config", share / "config")
    shutil.copytree(LAUNCH_DIR / "rviz", share / "rviz")
    set_in_yaml(share / "config", "sim_node", "task", "pick_place")
    assert launched(load_launch("sim.launch.py", share / "launch"))["sim_node"].parameters["task"] == "pick_place"
    encoder = launched(load_launch("demo.launch.py", share / "launch"))["encoder_node"]
    assert encoder.parameters["checkpoint"] == str(share / "models" / "sim_manip.pt")


# ---- issue 24 item 6: names, namespace, RViz, and the end of a launch ----------------------------------------------


@pytest.mark.parametrize("name", STACK_LAUNCH_FILES)
def test_namespace_moves_every_node(load_launch, monkeypatch, tmp_path, name):
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(fake_ament_prefix(tmp_path, {"rviz2": "rviz2"})))
    given = {"namespace": "robot1"} | ({"rviz": "true"} if "rviz" in arguments(load_launch(name)) else {})
    nodes = launched(load_launch(name), given)
    assert {started.text("namespace") for started in nodes.values()} == {"robot1"}, name


@pytest.mark.parametrize(("name", "camera"), [("demo.launch.py", "camera/image_raw"), ("franka.launch.py", "/cam")])
def test_rviz_follows_the_planner_names(load_launch, monkeypatch, tmp_path, name, camera):
    """RViz's root topics (camera, markers, goal tool) are remapped onto the names the nodes use, relative ones
    resolved in the launch namespace, private ones (~/x) under their node; the fixed frame is the planner's."""
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(fake_ament_prefix(tmp_path / "prefix", {"rviz2": "rviz2"})))
    launch_dir = tmp_path / "launch"
    shutil.copytree(LAUNCH_DIR, launch_dir)
    given = {"rviz": "true"} | ({"camera_topic": "/cam"} if name == "franka.launch.py" else {})
    nodes = launched(load_launch(name, launch_dir), given)
    remappings = dict(nodes["rviz2"].entity.kwargs["remappings"])
    assert remappings == {
        "/camera/image_raw": camera, "/markers": "planner_node/markers", "/goal_markers": "planner_node/goal_markers",
        "/target_pose": "target_pose", "/planner_node/goal_image": "planner_node/goal_image", "/goal_pose": "goal_pose",
        "/clicked_point": "clicked_point",
    }  # fmt: skip
    rviz_arguments = nodes["rviz2"].entity.kwargs["arguments"]
    assert rviz_arguments[rviz_arguments.index("-f") + 1] == nodes["planner_node"].parameters["base_frame"]
    assert Path(rviz_arguments[rviz_arguments.index("-d") + 1]) == launch_dir / "rviz" / "jepa.rviz"


@pytest.mark.parametrize("name", ["demo.launch.py", "franka.launch.py"])
def test_missing_rviz2_is_refused_before_any_node_starts(load_launch, monkeypatch, tmp_path, name):
    """rviz:=true without rviz2 fails in the function that builds the nodes, so none of them starts."""
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(fake_ament_prefix(tmp_path, {"jepa_sim": "sim_node"})))
    with pytest.raises(RuntimeError, match=r"rviz:=true.*rviz2.*not installed.*rviz:=false"):
        launched(load_launch(name), {"rviz": "true"})
    assert "rviz2" not in launched(load_launch(name), {"rviz": "false"})
    with pytest.raises(RuntimeError, match="launch argument rviz: expected true or false"):
        launched(load_launch(name), {"rviz": "yes please"})


@pytest.mark.parametrize(
    ("name", "given"),
    [(name, {}) for name in PARAMETER_LAUNCH_FILES]
    + [("replay.launch.py", {"bag": "bags/ep1", "player": player}) for player in ("ros2bag", "project")],
)
def test_a_node_that_exits_ends_the_launch_with_its_reason(load_launch, name, given):
    """Every stack process (RViz aside) ends the launch when it exits: a failure as an error (ros2 launch exits 1),
    a clean exit as a shutdown with the reason; exits during a shutdown change nothing."""
    for started in launched(load_launch(name), given).values():
        on_exit = started.entity.kwargs.get("on_exit")
        assert callable(on_exit), f"{name}: {started.name} does not end the launch when it exits"
        running, stopping = types.SimpleNamespace(is_shutdown=False), types.SimpleNamespace(is_shutdown=True)
        failed = types.SimpleNamespace(returncode=1, process_name=f"{started.name}-1")
        with pytest.raises(RuntimeError, match=f"{started.name}-1 exited with code 1"):
            on_exit(failed, running)
        (shutdown,) = on_exit(types.SimpleNamespace(returncode=0, process_name=f"{started.name}-1"), running)
        assert kind(shutdown) == "Shutdown" and started.name in shutdown.kwargs["reason"]
        assert on_exit(failed, stopping) is None


@pytest.mark.parametrize(("available", "expected"), [(True, "ros2bag"), (False, "project")])
def test_record_picks_the_recorder_that_exists(load_launch, monkeypatch, available, expected):
    import jepa_bringup.launch_support as support

    monkeypatch.setattr(support, "ros2_bag_available", lambda: available)
    assert arguments(load_launch("record.launch.py"))["recorder"].kwargs["default_value"] == expected


def test_both_recorders_take_the_yaml_topics_output_and_storage(load_launch, monkeypatch, tmp_path):
    """ros2 bag record gets record.yaml's topics in the launch namespace, its output_dir and storage (or the
    arguments); the project's recorder is the jepa_data node with that section, run where the launch was started."""
    monkeypatch.chdir(tmp_path)
    section = yaml.safe_load((LAUNCH_DIR / "config" / "record.yaml").read_text())["episode_recorder"]
    parameters = section["ros__parameters"]
    (bag,) = launched(load_launch("record.launch.py"), {"recorder": "ros2bag", "namespace": "robot1"}).values()
    command = bag.entity.kwargs["cmd"]
    assert command[:7] == ["ros2", "bag", "record", "-s", parameters["storage"], "-o", parameters["output_dir"]]
    assert command[7:] == [f"/robot1/{topic}" for topic in parameters["topics"]]
    given = {"recorder": "ros2bag", "output": "bags/run1", "storage": "sqlite3"}
    (bag,) = launched(load_launch("record.launch.py"), given).values()
    assert bag.entity.kwargs["cmd"][3:7] == ["-s", "sqlite3", "-o", "bags/run1"]
    recorder = launched(load_launch("record.launch.py"), {"recorder": "project"})["episode_recorder"]
    assert (recorder.entity.kwargs["package"], recorder.entity.kwargs["executable"]) == ("jepa_data", "recorder")
    assert recorder.parameters == parameters and recorder.entity.kwargs.get("cwd") is None
    with pytest.raises(RuntimeError, match="recorder must be one of"):
        launched(load_launch("record.launch.py"), {"recorder": "node"})
