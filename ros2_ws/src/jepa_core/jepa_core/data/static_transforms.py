"""A tree of static transforms (as recorded on /tf_static) and the pose of one frame in another, for camera
extrinsics: DROID stores each camera's [x, y, z, extrinsic Euler xyz] in the robot base frame."""

from __future__ import annotations

import numpy as np

from jepa_core import geometry


class StaticTransforms:
    """child frame -> (parent frame, 4x4 transform parent_T_child), from geometry_msgs/TransformStamped values."""

    def __init__(self) -> None:
        self._parents: dict[str, tuple[str, np.ndarray]] = {}

    def add(self, parent: str, child: str, xyz, quat_xyzw) -> None:
        """Record parent_T_child (a later message for the same child replaces the earlier one, as in tf2)."""
        transform = np.eye(4)
        transform[:3, :3] = geometry.quat_to_matrix(np.asarray(quat_xyzw, np.float64))
        transform[:3, 3] = xyz
        self._parents[child.lstrip("/")] = (parent.lstrip("/"), transform)

    def _from_root(self, frame: str) -> tuple[str, np.ndarray]:
        """(root frame, root_T_frame) following parents up the tree."""
        transform, seen = np.eye(4), {frame}
        while frame in self._parents:
            frame, parent_t_child = self._parents[frame]
            transform = parent_t_child @ transform
            if frame in seen:
                raise ValueError(f"static transforms form a cycle through {frame!r}")
            seen.add(frame)
        return frame, transform

    def pose(self, frame: str, base: str) -> np.ndarray | None:
        """[x, y, z, roll, pitch, yaw] (extrinsic Euler xyz) of `frame` in `base`, None when they are not connected."""
        frame, base = frame.lstrip("/"), base.lstrip("/")
        frame_root, root_t_frame = self._from_root(frame)
        base_root, root_t_base = self._from_root(base)
        if frame_root != base_root:
            return None
        base_t_frame = np.linalg.inv(root_t_base) @ root_t_frame  # [4, 4]
        return np.concatenate([base_t_frame[:3, 3], geometry.matrix_to_euler(base_t_frame[:3, :3])])
