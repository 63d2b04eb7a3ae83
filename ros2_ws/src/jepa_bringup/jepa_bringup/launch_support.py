"""Helpers shared by the launch files and the one-process bringup (no rclpy, no launch package: yaml and the ament
index only).

Every launch file gives each node its merged section of the parameter files instead of the files themselves: rcl
applies a plain `node_name:` section only to a node without a namespace, so merging here keeps the yaml values under
`namespace:=...` too. Model paths in those files are relative to the repository root and are made absolute here, so
a launch works from any working directory. `refuse_missing_rviz` lets a launch fail before it starts any node.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from ament_index_python.packages import PackageNotFoundError, get_package_prefix

# Parameters holding a file path; a relative value in a launch/config file is relative to the repository root.
PATH_PARAMETERS = ("checkpoint", "predictor_checkpoint", "encoder_checkpoint", "onnx_path")
TRUE_WORDS, FALSE_WORDS = ("true", "1"), ("false", "0")  # what launch's IfCondition accepts, case-insensitive


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


def node_parameters(config_dir: str | os.PathLike, file_names: Sequence[str], node_name: str) -> dict[str, Any]:
    """`node_name`'s merged section of the parameter files `file_names` in `config_dir` (later files win); config_dir
    is <repository>/launch/config, and relative model paths in the files are taken from <repository>."""
    config_dir = Path(config_dir).resolve()
    return load_node_parameters([config_dir / name for name in file_names], node_name, root=config_dir.parents[1])


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


def refuse_missing_rviz(context: Any) -> list:
    """launch OpaqueFunction: with rviz:=true, fail before any node starts unless rviz2 is installed (else the launch
    failed after starting the other nodes and left them running)."""
    value = str(context.launch_configurations.get("rviz", "false")).lower()
    if value not in TRUE_WORDS + FALSE_WORDS:
        raise RuntimeError(f"launch argument rviz: expected true or false, got {value!r}")
    if value in TRUE_WORDS:
        require_executable("rviz2", "rviz2", "rviz:=true", "rviz:=false")
    return []
