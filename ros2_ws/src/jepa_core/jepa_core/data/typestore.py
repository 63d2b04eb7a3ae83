"""A rosbags typestore that knows ROS 2 Kilted's standard messages plus our jepa_msgs, read from their .msg files."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

INTERFACE_PACKAGE = "jepa_msgs"


def _candidate_msg_dirs() -> list[Path]:
    """Where jepa_msgs' .msg files may live: each AMENT_PREFIX_PATH entry's share/, then the source tree."""
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    dirs = [prefix / "share" / INTERFACE_PACKAGE / "msg" for prefix in prefixes]
    source_tree = Path(__file__).resolve().parents[3] / INTERFACE_PACKAGE / "msg"  # ros2_ws/src/jepa_msgs/msg
    return [*dirs, source_tree]


def find_msg_dir() -> Path:
    """The first folder holding jepa_msgs' .msg files; raises naming every place searched."""
    candidates = _candidate_msg_dirs()
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.msg")):
            return folder
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"{INTERFACE_PACKAGE} .msg files not found; searched: {searched}")


@cache
def stack_typestore(msg_dir: Path | None = None) -> Typestore:
    """ROS 2 Kilted typestore with every jepa_msgs message registered (cached per folder)."""
    folder = msg_dir or find_msg_dir()
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for msg_file in sorted(folder.glob("*.msg")):
        types.update(get_types_from_msg(msg_file.read_text(), f"{INTERFACE_PACKAGE}/msg/{msg_file.stem}"))
    store.register(types)
    return store
