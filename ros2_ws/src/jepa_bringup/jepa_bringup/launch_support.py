"""Helpers shared by the launch files and the one-process bringup (no rclpy, no launch package: yaml and the ament
index only).

The parameter files in launch/config/ hold every default. Every launch file gives each node its merged section of
those files, and on top only the launch arguments given on the command line (an argument left out keeps the yaml
value). Merging here instead of handing rcl the files keeps a plain `node_name:` section valid under
`namespace:=...`. Model paths in the files are relative to the folder holding launch/ (the repository) and are made
absolute here, so a launch works from any working directory, from the source tree and from jepa_bringup's share
directory alike.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ament_index_python.packages import PackageNotFoundError, get_package_prefix

# Parameters holding a file path; a relative value in a launch/config file is relative to the repository root.
PATH_PARAMETERS = ("checkpoint", "predictor_checkpoint", "encoder_checkpoint", "onnx_path")
TRUE_WORDS, FALSE_WORDS = ("true", "1"), ("false", "0")  # what launch's IfCondition accepts, case-insensitive
NOT_GIVEN = "from_config"  # default of a parameter argument: the parameter keeps its launch/config value


@dataclass(frozen=True)
class LaunchFolders:
    """Where a launch file finds its parameter files and RViz configs, and the root of relative model paths."""

    config: Path
    rviz: Path
    root: Path


def launch_folders(launch_file: str | os.PathLike) -> LaunchFolders:
    """Folders of a launch file: launch/{config,rviz} in the source tree, share/jepa_bringup/{config,rviz} when
    installed; relative model paths start from the folder that holds launch/ (the repository, or the share dir)."""
    here = Path(launch_file).resolve().parent  # a --symlink-install share entry resolves into the source tree
    base = here if (here / "config").is_dir() else here.parent
    return LaunchFolders(config=base / "config", rviz=base / "rviz", root=here.parent)


def load_node_parameters(
    params_files: Sequence[str | os.PathLike], node_name: str, root: str | os.PathLike | None = None
) -> dict[str, Any]:
    """One node's parameters from ROS 2 parameter files, merged in order (later files win).

    Sections may be keyed `name`, `/name`, `/**/name` or `/**` (all nodes); each holds a `ros__parameters` mapping.
    Merging here (instead of handing the files to rcl) keeps the sections valid when the node runs in a namespace.
    With `root`, non-empty relative values of PATH_PARAMETERS become absolute paths under it.
    """
    merged: dict[str, Any] = {}
    for path in map(Path, params_files):
        if not path.is_file():
            raise FileNotFoundError(f"parameter file {path} not found (cwd {Path.cwd()})")
        document = yaml.safe_load(path.read_text()) or {}
        if not isinstance(document, dict):
            raise ValueError(f"{path}: expected a mapping of node names to sections, got {type(document).__name__}")
        for key in ("/**", node_name, f"/{node_name}", f"/**/{node_name}"):
            if key not in document:
                continue
            parameters = (document[key] or {}).get("ros__parameters") if isinstance(document[key], dict) else None
            if not isinstance(parameters, dict):
                raise ValueError(f"{path}: section '{key}' needs a 'ros__parameters' mapping, got {document[key]!r}")
            merged.update(parameters)
    if root is not None:
        for name in PATH_PARAMETERS:
            value = merged.get(name)
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                merged[name] = str(Path(root) / value)
    return merged


@dataclass(frozen=True)
class ParameterArgument:
    """A launch argument that sets node parameters when it is given; left out, the parameter files' values stand."""

    name: str
    description: str
    targets: Mapping[str, str]  # node name -> the parameter of that node the argument sets
    value_type: type = str  # str, int, float or bool: how the command-line text is read

    @classmethod
    def same_name(cls, name: str, description: str, nodes: Sequence[str], value_type: type = str) -> ParameterArgument:
        """An argument that sets the parameter of its own name on each of `nodes`."""
        return cls(name, description, dict.fromkeys(nodes, name), value_type)


def typed_value(argument: str, text: str, value_type: type) -> Any:
    """The command-line text of a launch argument as a parameter value of `value_type` (ValueError naming it)."""
    if value_type is bool:
        if text.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise ValueError(f"launch argument {argument}: expected true or false, got {text!r}")
        return text.lower() in TRUE_WORDS
    try:
        return value_type(text)
    except ValueError:
        raise ValueError(f"launch argument {argument}: expected {value_type.__name__}, got {text!r}") from None


@dataclass(frozen=True)
class LaunchConfig:
    """What a launch file configures its nodes from: parameter files (merge order) and parameter arguments."""

    launch_file: str
    files: tuple[str, ...]  # names in the config folder, later files win
    arguments: tuple[ParameterArgument, ...] = ()

    def parameters(self, node_name: str, configurations: Mapping[str, str]) -> dict[str, Any]:
        """The node's merged section of the files, with the parameter arguments given in `configurations` (launch
        configurations: argument name -> text) on top."""
        folders = launch_folders(self.launch_file)
        merged = load_node_parameters([folders.config / name for name in self.files], node_name, root=folders.root)
        for argument in self.arguments:
            text = configurations.get(argument.name, NOT_GIVEN)
            if node_name in argument.targets and text != NOT_GIVEN:
                merged[argument.targets[node_name]] = typed_value(argument.name, text, argument.value_type)
        return merged


def namespace_relative(node_name: str, name: str) -> str:
    """A topic or service name of node `node_name` as another node in the same namespace spells it: a private
    `~/x` becomes `node_name/x`; relative and absolute names stay (used to remap RViz onto the nodes' topics)."""
    return f"{node_name}/{name[2:]}" if name.startswith("~/") else name


def rviz_remappings(camera_node: str, camera_topic: str, planner: Mapping[str, Any]) -> list[tuple[str, str]]:
    """RViz's root topic names (rviz/jepa.rviz) remapped onto the camera node's image topic and the planner's topics,
    as seen from the launch namespace."""
    planner_topics = {"/markers": "markers_topic", "/goal_markers": "goal_markers_topic",
                      "/target_pose": "target_pose_topic", "/planner_node/goal_image": "goal_image_topic",
                      "/goal_pose": "goal_pose_topic", "/clicked_point": "clicked_point_topic"}  # fmt: skip
    return [("/camera/image_raw", namespace_relative(camera_node, camera_topic))] + [
        (rviz_topic, namespace_relative("planner_node", planner[key])) for rviz_topic, key in planner_topics.items()
    ]


def ros2_bag_available() -> bool:
    """True when the `ros2` command and its rosbag2 verb (the ros2bag package) are installed (apt, not pip)."""
    return shutil.which("ros2") is not None and importlib.util.find_spec("ros2bag") is not None


def require_executable(package: str, executable: str, needed_for: str, instead: str) -> None:
    """RuntimeError unless `package` is installed (ament index) with lib/<package>/<executable>, which is what a
    launch_ros Node runs; lets a launch refuse before it starts anything. `instead`: how to do without it."""
    try:
        program = Path(get_package_prefix(package)) / "lib" / package / executable
    except PackageNotFoundError:
        program = None
    if program is None or not os.access(program, os.X_OK):
        raise RuntimeError(
            f"{needed_for} needs {package}/{executable}, which is not installed (no {package} in the ament index, "
            f"AMENT_PREFIX_PATH={os.environ.get('AMENT_PREFIX_PATH', '')!r}): install it (apt: ros-<distro>-"
            f"{package.replace('_', '-')}) or launch with {instead}; no node was started"
        )


def wants_rviz(configurations: Mapping[str, str]) -> bool:
    """The rviz launch argument (true/false); with true, RuntimeError unless rviz2 is installed, raised before any
    node starts (else the launch failed after starting the other nodes and left them running)."""
    value = str(configurations.get("rviz", "false")).lower()
    if value not in TRUE_WORDS + FALSE_WORDS:
        raise RuntimeError(f"launch argument rviz: expected true or false, got {value!r}")
    if value in TRUE_WORDS:
        require_executable("rviz2", "rviz2", "rviz:=true", "rviz:=false")
    return value in TRUE_WORDS
