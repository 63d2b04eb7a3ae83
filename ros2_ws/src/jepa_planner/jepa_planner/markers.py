"""RViz markers of a plan: the planned end-effector path, the goal position and the energy as text.

Builds visualization_msgs/MarkerArray from numpy states [x, y, z, roll, pitch, yaw, gripper]; no rclpy needed.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

NAMESPACE = "jepa_plan"
PATH_ID, WAYPOINTS_ID, GOAL_ID, ENERGY_ID = range(4)


def _marker(header: Header, marker_id: int, kind: int, rgba: tuple[float, float, float, float], scale: float) -> Marker:
    """A marker with identity orientation, uniform scale and one colour."""
    marker = Marker(header=header, ns=NAMESPACE, id=marker_id, type=kind, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.scale.x = marker.scale.y = marker.scale.z = scale
    marker.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
    return marker


def plan_markers(
    frame_id: str,
    stamp: Time,
    predicted_states: np.ndarray,
    energy: float,
    goal_position: np.ndarray | None = None,
) -> MarkerArray:
    """Markers for predicted states [H + 1, 7] (current first), the plan energy and an optional goal position [3]."""
    header = Header(frame_id=frame_id, stamp=stamp)
    points = [Point(x=float(s[0]), y=float(s[1]), z=float(s[2])) for s in np.asarray(predicted_states)]
    path = _marker(header, PATH_ID, Marker.LINE_STRIP, (0.1, 0.6, 1.0, 1.0), 0.005)
    path.points = points
    waypoints = _marker(header, WAYPOINTS_ID, Marker.SPHERE_LIST, (0.1, 0.6, 1.0, 0.8), 0.015)
    waypoints.points = points
    text = _marker(header, ENERGY_ID, Marker.TEXT_VIEW_FACING, (1.0, 1.0, 1.0, 1.0), 0.03)
    text.pose.position = Point(x=points[0].x, y=points[0].y, z=points[0].z + 0.08)
    text.text = f"energy {energy:.4f}"
    markers = [path, waypoints, text]
    goal = _marker(header, GOAL_ID, Marker.SPHERE, (0.1, 0.9, 0.2, 0.7), 0.03)
    if goal_position is None:
        goal.action = Marker.DELETE
    else:
        goal.pose.position = Point(x=float(goal_position[0]), y=float(goal_position[1]), z=float(goal_position[2]))
    markers.append(goal)
    return MarkerArray(markers=markers)
