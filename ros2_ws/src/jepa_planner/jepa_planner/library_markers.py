"""RViz markers of the goal library: a labelled sphere at each goal's captured flange pose, the active goal
highlighted, a sequence numbered, and the running goal's per-step monitor text next to the flange.

One MarkerArray holds the whole picture and starts with DELETEALL, so it can be latched (transient local): a removed
goal disappears and an RViz started later gets the current state. No rclpy needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from jepa_planner.goals import GoalRecord
from jepa_ros_common.poses import pose_from_state

GOALS_NS, LABELS_NS, STEP_NS = "jepa_goal_library", "jepa_goal_labels", "jepa_goal_step"
IDLE = (0.55, 0.6, 0.75, 0.8)  # a stored goal
QUEUED = (1.0, 0.85, 0.2, 0.9)  # in the sequence being clicked or run
ACTIVE = (1.0, 0.35, 0.0, 1.0)  # the sub-goal the planner plans towards now
SPHERE_M, ACTIVE_SPHERE_M, TEXT_M = 0.035, 0.055, 0.025
LABEL_ABOVE_M, STEP_TEXT_ABOVE_M = 0.05, 0.16  # the plan markers' energy text sits 0.08 m above the flange


@dataclass(frozen=True)
class StepText:
    """The running goal's monitor line for one control step, shown above the flange position [3]."""

    position: np.ndarray
    text: str


def step_text(name: str, index: int, count: int, observed_energy: float, surprise: float | None) -> str:
    """Monitor text of one step: the active sub-goal, the observed frame's energy to it and the last surprise."""
    surprise_text = "-" if surprise is None else f"{surprise:.4f}"
    return f"{name} ({index + 1}/{count})\nobserved energy {observed_energy:.4f}\nsurprise {surprise_text}"


def _marker(header: Header, ns: str, marker_id: int, kind: int, rgba: tuple[float, ...], scale: float) -> Marker:
    """A marker of one colour and uniform scale, identity orientation."""
    marker = Marker(header=header, ns=ns, id=marker_id, type=kind, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.scale.x = marker.scale.y = marker.scale.z = scale
    marker.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
    return marker


def goal_pose(record: GoalRecord) -> Pose:
    """The captured flange pose (identity orientation when only a position is stored); the record has a position."""
    if record.state is not None:
        return pose_from_state(record.state)
    pose = Pose()
    pose.position = Point(x=float(record.position[0]), y=float(record.position[1]), z=float(record.position[2]))
    pose.orientation.w = 1.0
    return pose


def label(name: str, sequence: Sequence[str]) -> str:
    """`name`, prefixed with its 1-based places in `sequence` ("1,3: home") when it is in it."""
    places = [str(i + 1) for i, entry in enumerate(sequence) if entry == name]
    return f"{','.join(places)}: {name}" if places else name


def library_markers(
    frame_id: str,
    stamp: Time,
    records: Sequence[GoalRecord],
    sequence: Sequence[str] = (),
    active: str | None = None,
    step: StepText | None = None,
) -> MarkerArray:
    """DELETEALL, then a sphere and a label per goal with a position (numbered by its places in `sequence`, the
    library names of a sequence; the goal named `active` highlighted), then the `step` text when given."""
    header = Header(frame_id=frame_id, stamp=stamp)
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for index, record in enumerate(r for r in records if r.position is not None):
        colour = ACTIVE if record.name == active else QUEUED if record.name in sequence else IDLE
        sphere = _marker(header, GOALS_NS, index, Marker.SPHERE, colour, SPHERE_M)
        sphere.pose = goal_pose(record)
        if record.name == active:
            sphere.scale.x = sphere.scale.y = sphere.scale.z = ACTIVE_SPHERE_M
        text = _marker(header, LABELS_NS, index, Marker.TEXT_VIEW_FACING, colour, TEXT_M)
        text.pose.position = Point(x=sphere.pose.position.x, y=sphere.pose.position.y,
                                   z=sphere.pose.position.z + LABEL_ABOVE_M)  # fmt: skip
        text.text = label(record.name, sequence)
        markers += [sphere, text]
    if step is not None:
        text = _marker(header, STEP_NS, 0, Marker.TEXT_VIEW_FACING, (1.0, 1.0, 1.0, 1.0), TEXT_M)
        x, y, z = (float(v) for v in step.position)
        text.pose.position = Point(x=x, y=y, z=z + STEP_TEXT_ABOVE_M)
        text.text = step.text
        markers.append(text)
    return MarkerArray(markers=markers)
