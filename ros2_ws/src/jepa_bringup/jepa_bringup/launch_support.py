"""Parameter-file helpers shared by the launch files and the one-process bringup (ROS-free: yaml only).

Every launch file gives each node its merged section of the parameter files instead of the files themselves: rcl
applies a plain `node_name:` section only to a node without a namespace, so merging here keeps the yaml values under
`namespace:=...` too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def load_node_parameters(params_files: Sequence[str | os.PathLike], node_name: str) -> dict[str, Any]:
    """One node's parameters from ROS 2 parameter files, merged in order (later files win).

    Sections may be keyed `name`, `/name`, `/**/name` or `/**` (all nodes); each holds a `ros__parameters` mapping.
    Merging here (instead of handing the files to rcl) keeps the sections valid when the node runs in a namespace.
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
    return merged


def node_parameters(config_dir: str | os.PathLike, file_names: Sequence[str], node_name: str) -> dict[str, Any]:
    """`node_name`'s merged section of the parameter files `file_names` in `config_dir` (later files win)."""
    return load_node_parameters([Path(config_dir) / name for name in file_names], node_name)
