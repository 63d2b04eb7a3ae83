"""Draw docs/rviz_goals.png: what RViz shows of the goal library and a running RViz goal, from a real run.

Composes the demo's nodes (MuJoCo sim, encoder, planner with models/sim_manip.pt) robot-shaped: the planner is told
of no render_goal service, so RViz clicks select library goals. Captures goals at three arm poses, clicks two of
them (Publish Point) within the sequence window, lets the sequence run, and draws the latched goal markers, the plan
markers, the goal image and the camera image as received, with matplotlib (RViz is not installable here).
Usage: ROS_DOMAIN_ID=77 scripts/run.sh python scripts/rviz_goals_picture.py [--out docs/rviz_goals.png] (a domain of
its own: other ROS processes on the machine must not answer its clicks)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from jepa_bringup.bringup import DEMO_NODES, DEMO_PARAMS_FILES, Composition, NodeSpec
from jepa_msgs.msg import EndEffectorState
from jepa_msgs.srv import CaptureGoal
from jepa_planner.library_markers import GOALS_NS, LABELS_NS, STEP_NS
from jepa_ros_common.images import image_msg_to_rgb8

FRAME = "panda_link0"
GOALS = {"left": (0.45, -0.15, 0.25), "high": (0.55, 0.0, 0.4), "right": (0.45, 0.15, 0.25)}
CLICKS = ("right", "left")
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
DOWN = (1.0, 0.0, 0.0, 0.0)  # flange pointing down (x, y, z, w)


class Rviz(Node):
    """Stands in for RViz: keeps what its displays would show and publishes what its tools would; `snapshot` is what
    they showed at the first step towards the last clicked goal."""

    def __init__(self, context) -> None:
        super().__init__("rviz_stand_in", context=context)
        self.goal_markers = self.plan_markers = self.goal_image = self.camera = self.ee_state = None
        self.snapshot: dict | None = None
        self.create_subscription(MarkerArray, "planner_node/goal_markers", self._on_goal_markers, LATCHED)
        self.create_subscription(MarkerArray, "planner_node/markers", lambda m: setattr(self, "plan_markers", m), 10)
        self.create_subscription(Image, "planner_node/goal_image", lambda m: setattr(self, "goal_image", m), LATCHED)
        self.create_subscription(Image, "camera/image_raw", lambda m: setattr(self, "camera", m),
                                 qos_profile_sensor_data)  # fmt: skip
        self.create_subscription(EndEffectorState, "ee_state", lambda m: setattr(self, "ee_state", m), 10)
        self.target_pub = self.create_publisher(PoseStamped, "target_pose", 10)
        self.click_pub = self.create_publisher(PointStamped, "clicked_point", 1)
        self.capture = self.create_client(CaptureGoal, "planner_node/capture_goal")

    def _on_goal_markers(self, msg: MarkerArray) -> None:
        self.goal_markers = msg
        last = f"{CLICKS[-1]} ({len(CLICKS)}/{len(CLICKS)})"
        if self.snapshot is None and any(m.ns == STEP_NS and m.text.startswith(last) for m in msg.markers):
            self.snapshot = {"goal_markers": msg, "plan_markers": self.plan_markers, "goal_image": self.goal_image,
                             "camera": self.camera, "flange": self.flange()}  # fmt: skip

    def flange(self) -> np.ndarray | None:
        return None if self.ee_state is None else np.array(xyz(self.ee_state.pose.position))

    def command(self, position) -> None:
        msg = PoseStamped()
        msg.header.frame_id = FRAME
        msg.header.stamp = self.get_clock().now().to_msg()
        p, q = msg.pose.position, msg.pose.orientation
        (p.x, p.y, p.z), (q.x, q.y, q.z, q.w) = position, DOWN
        self.target_pub.publish(msg)

    def click(self, position) -> None:
        msg = PointStamped()
        msg.header.frame_id = FRAME
        msg.point.x, msg.point.y, msg.point.z = position
        self.click_pub.publish(msg)


def xyz(point) -> tuple[float, float, float]:
    return point.x, point.y, point.z


def drive_to(composition: Composition, rviz: Rviz, position, tolerance: float = 0.01) -> None:
    """Step the lockstep simulator towards `position` until the flange is within `tolerance` m."""
    for _ in range(60):
        before = rviz.ee_state
        rviz.command(position)
        composition.spin_until(lambda before=before: rviz.ee_state is not before, timeout=10.0)
        if rviz.flange() is not None and np.linalg.norm(rviz.flange() - position) < tolerance:
            return
    raise RuntimeError(f"the simulated arm did not reach {position}: at {rviz.flange()}")


def record_run(out_dir: Path) -> Rviz:
    """Run the nodes, capture the goals, click the sequence; returns the stand-in with the last messages."""
    planner = {"render_goal_service": "no_render_goal", "goal_library_dir": str(out_dir),
               "rviz_sequence_window_s": 1.0, "rviz_subgoal_steps": 3, "max_steps": 6}  # fmt: skip
    specs = [NodeSpec(s.factory, s.name, planner) if s.name == "planner_node" else s for s in DEMO_NODES]
    composition = Composition(specs, DEMO_PARAMS_FILES)
    rviz = Rviz(composition.context)
    composition.add_node(rviz)
    with composition:
        composition.spin_until(lambda: rviz.ee_state is not None and rviz.capture.service_is_ready(), timeout=120)
        for name, position in GOALS.items():
            drive_to(composition, rviz, position)
            future = rviz.capture.call_async(CaptureGoal.Request(name=name, overwrite=True))
            composition.spin_until(future.done, timeout=30)
            assert future.result().success, future.result().message
        for name in CLICKS:
            rviz.click(GOALS[name])
        composition.spin_until(lambda: rviz.snapshot is not None, timeout=300)
    return rviz


def draw(shown: dict, out: Path) -> None:
    """Markers in 3-D beside the goal image and the camera image."""
    figure = plt.figure(figsize=(12, 6))
    grid = figure.add_gridspec(2, 2, width_ratios=(2.3, 1))
    axes = figure.add_subplot(grid[:, 0], projection="3d")
    for marker in shown["goal_markers"].markers:
        x, y, z = xyz(marker.pose.position)
        colour = (marker.color.r, marker.color.g, marker.color.b)
        if marker.ns == GOALS_NS:
            axes.scatter([x], [y], [z], s=4000 * marker.scale.x, color=colour, depthshade=False)
        elif marker.ns == LABELS_NS:
            axes.text(x, y, z, marker.text, color=colour, fontsize=10, ha="center", fontweight="bold")
        elif marker.ns == STEP_NS:
            axes.text(x, y, z, marker.text, color="black", fontsize=8, ha="left",
                      bbox={"facecolor": "white", "alpha": 0.8})  # fmt: skip
    for marker in shown["plan_markers"].markers:
        points = np.array([xyz(p) for p in marker.points])
        if marker.type == Marker.LINE_STRIP and len(points):
            axes.plot(*points.T, color=(marker.color.r, marker.color.g, marker.color.b), label="planned path")
        elif marker.type == Marker.SPHERE and marker.action == Marker.ADD:
            axes.scatter(*[[v] for v in xyz(marker.pose.position)], marker="x", s=80, color="green",
                         label="active goal (plan markers)")  # fmt: skip
    flange = shown["flange"]
    axes.scatter(*[[v] for v in flange], color="black", marker="^", s=60, label="flange (ee_state)")
    axes.set(xlabel="x [m]", ylabel="y [m]", zlabel="z [m]", title=f"goal_markers + markers in {FRAME}")
    axes.set_xlim(0.3, 0.7), axes.set_ylim(-0.25, 0.25), axes.set_zlim(0.1, 0.6)
    axes.view_init(elev=25, azim=-130)
    axes.legend(loc="lower left", fontsize=8)
    for index, (title, image) in enumerate((("~/goal_image (active sub-goal)", shown["goal_image"]),
                                            ("camera/image_raw", shown["camera"]))):  # fmt: skip
        panel = figure.add_subplot(grid[index, 1])
        panel.imshow(image_msg_to_rgb8(image, 10**8))
        panel.set_title(title, fontsize=9)
        panel.axis("off")
    figure.suptitle(f"RViz goals on a robot-shaped run: clicked {' -> '.join(CLICKS)} (library of {len(GOALS)})")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/rviz_goals.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rviz_goals_") as library:
        rviz = record_run(Path(library))
    draw(rviz.snapshot, args.out)


if __name__ == "__main__":
    main()
