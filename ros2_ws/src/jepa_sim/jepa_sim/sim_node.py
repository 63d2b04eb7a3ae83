"""ROS 2 node around FrankaSimEnv: publishes what a real Franka setup publishes and obeys the same commands.

Publishes one image topic per camera of `views` (camera/image_raw for the exterior camera, wrist_camera/image_raw for
the wrist camera on the hand; rgb8, sensor-data QoS, one stamp per observation), camera/camera_info (exterior),
joint_states, ee_state (flange in panda_link0) and task_status; subscribes to target_pose (PoseStamped, base frame)
and gripper_command (Float64, 0..1); serves reset (jepa_msgs/srv/ResetSim: also the episode's sub-goal images and
step budgets) and render_goal (jepa_msgs/srv/RenderGoal: a pose, or a sub-goal scene by name). Goal images are frames
of all `views` side by side (jepa_core.views), as a multi-view encoder reads them. Every name is a parameter
(launch/config/sim.yaml documents them all).

step_mode:
- "lockstep" (default): each target_pose advances the simulation by exactly one control period and publishes the
  resulting observation, so a planner that sends one target and waits for the next observation runs deterministically
  and as fast as it can plan. The world is paused in between; its (unchanged) observation is re-published every
  `hold_publish_period` s so consumers' freshness checks hold. The target is the trigger: publish gripper_command
  before target_pose.
- "realtime": a timer steps every control period with the latest target and gripper command.
All MuJoCo work runs on one worker thread (the GL context belongs to it), so any executor may be used.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64, Header

from jepa_msgs.msg import EndEffectorState, SubGoal, TaskStatus
from jepa_msgs.srv import RenderGoal, ResetSim
from jepa_ros_common.images import array_to_image_msg
from jepa_ros_common.parameters import Param, declare_table
from jepa_ros_common.poses import pose_from_state, state_from_pose
from jepa_ros_common.process import run_node
from jepa_ros_common.stamps import stamp_from_seconds
from jepa_sim import messages
from jepa_sim.env import FrankaSimEnv, Observation, SimConfig
from jepa_sim.scene import CameraConfig

STEP_MODES = ("lockstep", "realtime")
VIEW_PARAMETERS = {"exterior": ("image_topic", "camera_frame"), "wrist": ("wrist_image_topic", "wrist_camera_frame")}
T = TypeVar("T")


_SIM = SimConfig()
PARAMETERS = (
    Param("task", _SIM.task, "task at start and for resets with an empty task: reach, grasp or pick_place"),
    Param("task_object", _SIM.task_object, "object of grasp/pick_place: cube or cup"),
    Param("seed", 0, "episode seed of the reset done at start"),
    Param("step_mode", "lockstep", "lockstep: one control period per target_pose; realtime: timer at control_period"),
    Param("control_period", _SIM.control_period, "simulated seconds per control step (0.25 planning, 1/15 recording)"),
    Param("physics_rate_hz", _SIM.physics_rate_hz, "physics steps per simulated second"),
    Param("hold_publish_period", 0.5, "lockstep: re-publish the paused world's observation this often, s (0 = off)"),
    Param("gripper_deadband", _SIM.gripper_deadband, "gripper commands closer than this to the last one are ignored"),
    Param("render_size", list(_SIM.render_size), "camera image size [width, height], px"),
    Param("camera_position", list(_SIM.camera.position), "exterior camera position [x, y, z] in the base frame, m"),
    Param("camera_lookat", list(_SIM.camera.lookat), "point [x, y, z] the camera looks at (image centre), m"),
    Param("camera_fovy_deg", _SIM.camera.fovy_deg, "vertical field of view of the camera, degrees"),
    Param("views", list(_SIM.views), "cameras rendered and published, in frame order: exterior, wrist"),
    Param("scene_variations", _SIM.scene_variations, "appearance set drawn per reset seed: none, train or heldout"),
    Param("workspace_min", list(_SIM.workspace_min), "lower corner [x, y, z] of the commanded flange box, m"),
    Param("workspace_max", list(_SIM.workspace_max), "upper corner [x, y, z] of the commanded flange box, m"),
    Param("render_goal_max_error", 0.01, "render_goal fails when the pose is missed by more than this, m"),
    Param("base_frame", "panda_link0", "frame of ee_state, target_pose, task_status and joint-space reference"),
    Param("camera_frame", "exterior_camera_optical_frame", "frame_id of images and camera_info"),
    Param("image_topic", "camera/image_raw", "output: sensor_msgs/Image rgb8"),
    Param("wrist_camera_frame", "wrist_camera_optical_frame", "frame_id of the wrist camera's images"),
    Param("wrist_image_topic", "wrist_camera/image_raw", "output: sensor_msgs/Image rgb8 of the wrist camera"),
    Param("camera_info_topic", "camera/camera_info", "output: sensor_msgs/CameraInfo"),
    Param("joint_states_topic", "joint_states", "output: sensor_msgs/JointState (franka_description names)"),
    Param("ee_state_topic", "ee_state", "output: jepa_msgs/EndEffectorState"),
    Param("task_status_topic", "task_status", "output: jepa_msgs/TaskStatus"),
    Param("target_pose_topic", "target_pose", "input: geometry_msgs/PoseStamped flange target, base frame"),
    Param("gripper_command_topic", "gripper_command", "input: std_msgs/Float64 gripper closure 0 open .. 1 closed"),
    Param("reset_service", "~/reset", "service: jepa_msgs/srv/ResetSim (/<ns>/sim_node/reset)"),
    Param("render_goal_service", "~/render_goal", "service: jepa_msgs/srv/RenderGoal (/<ns>/sim_node/render_goal)"),
)


def sim_config(values: dict[str, Any]) -> SimConfig:
    """SimConfig from the node's parameter values (SimConfig.validate names a bad field)."""
    if values["step_mode"] not in STEP_MODES:
        raise ValueError(f"parameter step_mode: expected one of {STEP_MODES}, got {values['step_mode']!r}")
    if values["seed"] < 0:
        raise ValueError(f"parameter seed must be >= 0, got {values['seed']}")
    for name in ("camera_position", "camera_lookat", "workspace_min", "workspace_max"):
        if len(values[name]) != 3:
            raise ValueError(f"parameter {name}: expected 3 numbers [x, y, z], got {list(values[name])}")
    if len(values["render_size"]) != 2:
        raise ValueError(f"parameter render_size: expected [width, height], got {list(values['render_size'])}")
    camera = CameraConfig(
        tuple(values["camera_position"]), tuple(values["camera_lookat"]), float(values["camera_fovy_deg"])
    )
    return SimConfig(
        task=values["task"],
        task_object=values["task_object"],
        render_size=tuple(values["render_size"]),
        camera=camera,
        views=tuple(values["views"]),
        scene_variations=values["scene_variations"],
        physics_rate_hz=values["physics_rate_hz"],
        control_period=values["control_period"],
        workspace_min=tuple(values["workspace_min"]),
        workspace_max=tuple(values["workspace_max"]),
        gripper_deadband=values["gripper_deadband"],
    )


class SimNode(Node):
    """Thin ROS wrapper: parameters -> SimConfig, messages <-> env calls, timing of steps and publications."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("sim_node", **node_kwargs)
        self.values = declare_table(self, PARAMETERS)
        config = sim_config(self.values)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mujoco")  # owns the GL context
        self.env: FrankaSimEnv = self._on_worker(lambda: FrankaSimEnv(config))
        self._intrinsics = self.env.camera_intrinsics()
        self._target: np.ndarray | None = None
        self._gripper = 0.0
        self._last_obs: Observation | None = None
        self._last_publish_time = self.get_clock().now()
        values = self.values
        self._image_pubs = {  # view -> (publisher, frame_id)
            view: (self.create_publisher(Image, values[topic], qos_profile_sensor_data), values[frame])
            for view, (topic, frame) in VIEW_PARAMETERS.items()
            if view in config.views
        }
        self._info_pub = self.create_publisher(CameraInfo, values["camera_info_topic"], qos_profile_sensor_data)
        self._joints_pub = self.create_publisher(JointState, values["joint_states_topic"], 10)
        self._ee_pub = self.create_publisher(EndEffectorState, values["ee_state_topic"], 10)
        self._status_pub = self.create_publisher(TaskStatus, values["task_status_topic"], 10)
        # gripper first: in lockstep a gripper command and target arriving together apply in the same step
        self.create_subscription(Float64, values["gripper_command_topic"], self._on_gripper_command, 10)
        self.create_subscription(PoseStamped, values["target_pose_topic"], self._on_target_pose, 10)
        self.create_service(ResetSim, values["reset_service"], self._on_reset)
        self.create_service(RenderGoal, values["render_goal_service"], self._on_render_goal)
        if values["step_mode"] == "realtime":
            self.create_timer(config.control_period, self._step_and_publish)
        elif values["hold_publish_period"] > 0:
            self.create_timer(values["hold_publish_period"], self._republish_if_idle)
        obs = self._on_worker(lambda: self.env.reset(config.task, values["seed"]))
        self._publish(obs)
        self.get_logger().info(
            f"sim ready: task {config.task} seed {values['seed']}, {values['step_mode']} steps of "
            f"{config.control_period:.4f} s, {config.render_size[0]}x{config.render_size[1]} images"
        )

    def _on_worker(self, work: Callable[[], T]) -> T:
        """Run env work on the MuJoCo thread and wait for its result."""
        return self._worker.submit(work).result()

    # ------------------------------------------------------------------------------------------------ callbacks
    def _on_gripper_command(self, msg: Float64) -> None:
        if not np.isfinite(msg.data):
            self.get_logger().error(f"gripper_command {msg.data} ignored: not finite")
            return
        self._gripper = float(np.clip(msg.data, 0.0, 1.0))

    def _on_target_pose(self, msg: PoseStamped) -> None:
        frame = msg.header.frame_id
        if frame not in ("", self.values["base_frame"]):
            self.get_logger().error(f"target_pose ignored: frame '{frame}', expected '{self.values['base_frame']}'")
            return
        try:
            self._target = state_from_pose(msg.pose, self._gripper, "target_pose")
        except ValueError as error:
            self.get_logger().error(f"target_pose ignored: {error}")
            return
        if self.values["step_mode"] == "lockstep":
            self._step_and_publish()

    def _step_and_publish(self) -> None:
        """Advance one control period towards the latest target (or hold) and publish the observation."""
        target = None if self._target is None else np.concatenate([self._target[:6], [self._gripper]])
        obs = self._on_worker(lambda: self.env.step(target))
        if obs.target_clipped:
            self.get_logger().warning("target_pose outside the workspace box: clipped", throttle_duration_sec=2.0)
        self._publish(obs)

    def _republish_if_idle(self) -> None:
        """Lockstep: the paused world is still current; re-publish it so consumers see a fresh observation."""
        idle = (self.get_clock().now() - self._last_publish_time).nanoseconds * 1e-9
        if self._last_obs is not None and idle >= 0.9 * self.values["hold_publish_period"]:
            self._publish(self._last_obs)

    def _on_reset(self, request: ResetSim.Request, response: ResetSim.Response) -> ResetSim.Response:
        if request.seed < 0:
            response.success, response.message = False, f"reset: seed must be >= 0, got {request.seed}"
            return response
        try:
            obs, subgoal_images = self._on_worker(lambda: self._reset(request.task, request.seed))
            goal_image = subgoal_images[-1]
        except ValueError as error:
            response.success, response.message = False, str(error)
            return response
        self._target = None
        self._gripper = 0.0
        self._publish(obs)
        episode = self.env.episode
        response.success = True
        header = self._header(self.values["camera_frame"])
        response.goal_image = array_to_image_msg(goal_image, "rgb8", header)
        response.goal_pose = pose_from_state(episode.goal_state)
        response.object_goal = messages.point_msg(episode.object_goal)
        response.subgoal_names = [subgoal.name for subgoal in episode.subgoals]
        response.subgoal_images = [array_to_image_msg(image, "rgb8", header) for image in subgoal_images]
        response.subgoal_steps = [subgoal.steps for subgoal in episode.subgoals]
        response.subgoal_grippers = [
            SubGoal.GRIPPER_CLOSED if subgoal.gripper_command else SubGoal.GRIPPER_OPEN for subgoal in episode.subgoals
        ]
        self.get_logger().info(f"reset: task {episode.task} seed {episode.seed}")
        return response

    def _reset(self, task: str, seed: int) -> tuple[Observation, list[np.ndarray]]:
        """Reset and render the episode's sub-goal images (the last one is the goal image)."""
        obs = self.env.reset(task or None, seed)
        return obs, self.env.subgoal_images()

    def _on_render_goal(self, request: RenderGoal.Request, response: RenderGoal.Response) -> RenderGoal.Response:
        try:
            if request.subgoal:
                image, error = self._on_worker(lambda: self._render_subgoal(request.subgoal))
            else:
                if not 0.0 <= request.gripper <= 1.0:  # also refuses NaN
                    raise ValueError(f"render_goal: gripper must be a finite closure in [0, 1], got {request.gripper}")
                state = state_from_pose(request.pose, float(request.gripper), "render_goal")
                image, error = self._on_worker(lambda: self.env.render_at_pose(state))
        except ValueError as error:
            response.success, response.message = False, str(error)
            return response
        response.image = array_to_image_msg(image, "rgb8", self._header(self.values["camera_frame"]))
        response.position_error = error
        response.success = error <= self.values["render_goal_max_error"]
        if not response.success:
            response.message = f"pose unreachable: flange misses it by {error:.3f} m"
        return response

    def _render_subgoal(self, name: str) -> tuple[np.ndarray, float]:
        """Image of the current episode's sub-goal `name` and the flange position error of its IK posture."""
        names = [subgoal.name for subgoal in self.env.episode.subgoals]
        if name not in names:
            raise ValueError(
                f"render_goal: unknown sub-goal {name!r}; this {self.env.episode.task} episode has {names}"
            )
        return self.env.render_subgoal(names.index(name))

    # ---------------------------------------------------------------------------------------------- publishing
    def _header(self, frame_id: str) -> Header:
        return Header(stamp=self.get_clock().now().to_msg(), frame_id=frame_id)

    def _publish(self, obs: Observation) -> None:
        """Publish one observation; every message of it carries the same stamp (task_status: simulated time)."""
        now = self.get_clock().now()
        camera = Header(stamp=now.to_msg(), frame_id=self.values["camera_frame"])
        base = Header(stamp=now.to_msg(), frame_id=self.values["base_frame"])
        config = self.env.config
        for view, (publisher, frame_id) in self._image_pubs.items():
            publisher.publish(
                array_to_image_msg(obs.views[view], "rgb8", Header(stamp=camera.stamp, frame_id=frame_id))
            )
        self._info_pub.publish(messages.camera_info_msg(*config.render_size, self._intrinsics, camera))
        self._joints_pub.publish(messages.joint_state_msg(obs, base))
        self._ee_pub.publish(messages.ee_state_msg(obs, base))
        status = self._on_worker(self.env.task_status)
        sim_header = Header(stamp=stamp_from_seconds(obs.time), frame_id=self.values["base_frame"])
        self._status_pub.publish(messages.task_status_msg(status, sim_header))
        self._last_obs = obs
        self._last_publish_time = now

    def destroy_node(self) -> None:
        """Free the renderer on its thread, stop the worker, then destroy the node."""
        self._on_worker(self.env.close)
        self._worker.shutdown()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console script `sim_node`: spin the simulator until SIGINT/SIGTERM (once or twice), then exit 0."""
    run_node(SimNode, args)
