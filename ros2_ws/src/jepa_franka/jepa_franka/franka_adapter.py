"""Adapter between our topics and franka_ros2 on an FR3 (Jazzy): ee_state out, target_pose and gripper_command in.

Facts from the franka_ros2 repositories frankaemika/franka_ros2 and frankarobotics/franka_ros2 (read to learn
names, nothing copied):
- franka_robot_state_broadcaster/src/franka_robot_state_broadcaster.cpp: the broadcaster publishes
  franka_msgs/FrankaRobotState on `~/robot_state` and republishes its `o_t_ee` field on `~/current_pose`
  (geometry_msgs/PoseStamped) and `measured_joint_state` on `~/measured_joint_states`, all with SystemDefaultsQoS.
  With the default controller name the pose topic is `franka_robot_state_broadcaster/current_pose` (under the robot
  namespace). We subscribe to that PoseStamped topic, so franka_msgs is not needed for the arm state.
  franka_semantic_components/src/franka_robot_state.cpp stamps o_t_ee with the state's time and sets its frame_id
  to the base link (fr3_link0, or <arm_prefix>_fr3_link0): ee_state keeps that stamp; another frame is refused.
- franka_msgs/msg/FrankaRobotState.msg: `o_t_ee` is the "measured end-effector pose in base frame", i.e. the TCP,
  which includes the flange-to-end-effector transform `f_t_ee` (libfranka default for the Franka Hand: 0.1034 m along
  the flange z axis and -45 deg about z). Our ee_state is the flange (fr3_link8), so we undo that offset
  (parameters tcp_offset_xyz / tcp_offset_rpy; they must match the F_T_EE configured on the robot).
- franka_gripper/src/gripper_action_server.cpp: actions `move` (franka_msgs/action/Move: width m, speed m/s) and
  `grasp` (franka_msgs/action/Grasp: width, epsilon {inner, outer} m, speed, force N), and `joint_states`
  (sensor_msgs/JointState with SensorDataQoS, i.e. best effort) whose two finger positions are each width / 2.
  Current franka_bringup names the node `franka_gripper` (older gripper.launch.py: `<arm_id>_gripper`).
- Cartesian impedance: frankarobotics/franka_ros2 franka_example_controllers/src/fr3/
  cartesian_impedance_example_controller.cpp subscribes geometry_msgs/PoseStamped `~/equilibrium_pose`
  (SystemDefaultsQoS, i.e. reliable; the end-effector = TCP pose in the base frame, its Jacobian is kEndEffector) and
  low-pass filters towards it, but its update() overwrites that target with a scripted demo motion every cycle, so
  it cannot be driven as shipped: run a copy without the scripted motion (or another impedance controller with the
  same interface) and point `equilibrium_pose_topic` at `/<controller name>/equilibrium_pose`. franka_ros (ROS 1)
  used the same `equilibrium_pose` interface.

Lifecycle (jepa_ros_common.lifecycle): configure checks the TCP offset and creates the robot interfaces (state
subscriptions, equilibrium and ee_state publishers, gripper clients); activate follows targets and publishes ee_state;
deactivate holds (one equilibrium at the measured TCP pose, so the arm stays where it is; targets and gripper
commands are ignored, no ee_state goes out, so a running planner goal stops on stale observations), and so does a
stop signal before the node is destroyed; cleanup destroys the interfaces. /diagnostics (jepa_franka.status) reports
the robot state age and the last command age.

Safety: the adapter never forwards a target directly. It streams the equilibrium towards the latest target at
`command_rate`, each message at most `max_linear_step` / `max_angular_step` from the previous one (a new stream
starts from the measured pose; it stops when the equilibrium lags the measured pose by more than
`max_target_distance`), refuses non-finite or foreign-frame targets and targets farther than `max_target_distance`
from the measured flange, and stops streaming (the controller holds the last equilibrium) when the measured pose is
older than `state_timeout`.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, fields

from geometry_msgs.msg import PoseStamped
from rclpy.action import ActionClient
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64

from jepa_franka.franka_conversions import (
    FRANKA_HAND_MAX_WIDTH,
    FRANKA_HAND_TCP_RPY,
    FRANKA_HAND_TCP_XYZ,
    GripperGoal,
    GripperMotion,
    Pose,
    checked_pose,
    flange_from_tcp,
    franka_topic,
    gripper_closure_from_fingers,
    limit_step,
    plan_gripper_goal,
    tcp_from_flange,
    tcp_offset,
    translation_distance,
    within_step,
)
from jepa_franka.status import DIAGNOSTICS_PARAMETERS, AdapterStatus, DiagnosticLimits, adapter_report
from jepa_msgs.msg import EndEffectorState
from jepa_ros_common.diagnostics import DiagnosticsPublisher, Report
from jepa_ros_common.lifecycle import AUTOSTART, ManagedNode, destroy_entities
from jepa_ros_common.parameters import Param, declare_table, finite_positive
from jepa_ros_common.poses import pose_msg, position_quaternion
from jepa_ros_common.process import run_node

FRANKA_MSGS_AVAILABLE = importlib.util.find_spec("franka_msgs") is not None


PARAMETERS: tuple[Param, ...] = (
    Param("base_frame", "fr3_link0", "Frame of ee_state, target_pose and the equilibrium pose."),
    Param("robot_namespace", "", "Namespace of the franka_ros2 nodes; prefixed to the franka topic names."),
    Param(
        "tcp_pose_topic",
        "franka_robot_state_broadcaster/current_pose",
        "Measured TCP pose (FrankaRobotState.o_t_ee as geometry_msgs/PoseStamped), under robot_namespace.",
    ),
    Param("gripper_namespace", "franka_gripper", "franka_gripper node: joint_states, move, grasp live under it."),
    Param(
        "equilibrium_pose_topic",
        "/cartesian_impedance_controller/equilibrium_pose",
        "Cartesian impedance controller's equilibrium (TCP) pose topic, geometry_msgs/PoseStamped.",
    ),
    Param("ee_state_topic", "ee_state", "Output: jepa_msgs/EndEffectorState of the flange."),
    Param("target_pose_topic", "target_pose", "Input: commanded flange pose, base frame."),
    Param("gripper_command_topic", "gripper_command", "Input: std_msgs/Float64 gripper closure, 0 open, 1 closed."),
    Param("tcp_offset_xyz", list(FRANKA_HAND_TCP_XYZ), "Flange-to-TCP translation (F_T_EE), m."),
    Param("tcp_offset_rpy", list(FRANKA_HAND_TCP_RPY), "Flange-to-TCP rotation, extrinsic xyz Euler, rad."),
    # finite_positive: inf would unbound a step or distance limit
    Param(
        "command_rate", 100.0, "Rate of equilibrium messages while moving to a target, Hz.", validate=finite_positive
    ),
    Param("max_linear_step", 0.001, "Largest position change between equilibria, m.", validate=finite_positive),
    Param("max_angular_step", 0.005, "Largest orientation change between equilibria, rad.", validate=finite_positive),
    Param(
        "max_target_distance",
        0.2,
        "Targets farther than this from the measured flange are refused, m.",
        validate=finite_positive,
    ),
    Param(
        "state_timeout", 0.5, "Stop streaming when the measured pose is older than this, s.", validate=finite_positive
    ),
    Param("ee_state_max_rate", 100.0, "Most ee_state messages per second (the robot publishes at 1 kHz); 0 = all."),
    Param("gripper_enabled", True, "Use the Franka Hand (state and commands)."),
    Param(
        "gripper_max_width",
        FRANKA_HAND_MAX_WIDTH,
        "Finger opening at closure 0 (fully open), m.",
        validate=finite_positive,
    ),
    Param("gripper_speed", 0.1, "Finger speed of Move and Grasp goals, m/s.", validate=finite_positive),
    Param("gripper_force", 20.0, "Grasp force, N.", validate=finite_positive),
    Param("gripper_epsilon_inner", 0.005, "Grasp success tolerance below the width, m."),
    Param("gripper_epsilon_outer", 0.08, "Grasp success tolerance above the width (object thicker), m."),
    Param("gripper_deadband", 0.05, "Skip gripper commands closer than this (fraction of max width) to the last."),
    AUTOSTART,
    *DIAGNOSTICS_PARAMETERS,
)


@dataclass(frozen=True)
class FrankaAdapterConfig:
    """Parameters of the adapter (PARAMETERS, declared on the node; documented in launch/config/franka.yaml)."""

    base_frame: str
    robot_namespace: str
    tcp_pose_topic: str
    gripper_namespace: str
    equilibrium_pose_topic: str
    ee_state_topic: str
    target_pose_topic: str
    gripper_command_topic: str
    tcp_offset_xyz: tuple[float, float, float]
    tcp_offset_rpy: tuple[float, float, float]
    command_rate: float
    max_linear_step: float
    max_angular_step: float
    max_target_distance: float
    state_timeout: float
    ee_state_max_rate: float
    gripper_enabled: bool
    gripper_max_width: float
    gripper_speed: float
    gripper_force: float
    gripper_epsilon_inner: float
    gripper_epsilon_outer: float
    gripper_deadband: float


class FrankaAdapterNode(ManagedNode):
    """Managed node translating franka_ros2 state into ee_state and our commands into impedance equilibria and gripper
    goals."""

    def __init__(self, **node_kwargs) -> None:
        """Declare the parameters, create the diagnostics, then autostart (configure, activate)."""
        super().__init__("franka_adapter", **node_kwargs)
        self._values = declare_table(self, PARAMETERS, on_change=self._on_parameters)
        self.limits = DiagnosticLimits.from_values(self._values)
        self.config: FrankaAdapterConfig | None = None
        self._entities: list = []  # what configure created and cleanup destroys
        self._gripper_clients: dict[GripperMotion, tuple[ActionClient, type]] = {}
        self._measured_tcp: Pose | None = None
        self._measured_at = 0.0  # time.monotonic() of the last valid pose
        self._last_ee_state_at = float("-inf")
        self._finger_width: float | None = None  # measured opening, m
        self._gripper_closure = 0.0  # from the measured opening; stays 0 without a gripper
        self._target_tcp: Pose | None = None
        self._equilibrium: Pose | None = None
        self._sent_gripper_width: float | None = None
        self._gripper_busy = False
        self._pending_gripper: GripperGoal | None = None
        self.status = AdapterStatus()
        DiagnosticsPublisher(self, self._diagnose, self._values["diagnostics_period_s"])
        self.autostart()

    # ---- lifecycle and parameters --------------------------------------------------------------------------------

    def configure(self) -> None:
        """Read the parameters into a typed config (a malformed TCP offset raises) and create the robot interfaces."""
        values = self._values
        cfg = self.config = FrankaAdapterConfig(
            **{f.name: values[f.name] for f in fields(FrankaAdapterConfig)}
            | {name: tuple(values[name]) for name in ("tcp_offset_xyz", "tcp_offset_rpy")}
        )
        self._offset = tcp_offset(cfg.tcp_offset_xyz, cfg.tcp_offset_rpy)
        self._ee_state_pub = self.create_lifecycle_publisher(EndEffectorState, cfg.ee_state_topic, 10)
        self._equilibrium_pub = self.create_lifecycle_publisher(
            PoseStamped, cfg.equilibrium_pose_topic, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        )
        # Best effort subscribes to both reliable (robot state broadcaster) and best-effort (gripper) publishers.
        self._entities = [
            self._ee_state_pub,
            self._equilibrium_pub,
            self.create_subscription(PoseStamped, franka_topic(cfg.robot_namespace, cfg.tcp_pose_topic),
                                     self._on_tcp_pose, qos_profile_sensor_data),
            self.create_subscription(PoseStamped, cfg.target_pose_topic, self._on_target_pose, 10),
            self.create_timer(1.0 / cfg.command_rate, self._stream_equilibrium),
        ]  # fmt: skip
        self._gripper_clients = self._create_gripper_io()
        self.get_logger().info(
            f"franka_adapter configured: {franka_topic(cfg.robot_namespace, cfg.tcp_pose_topic)} -> "
            f"{cfg.ee_state_topic}, {cfg.target_pose_topic} -> {cfg.equilibrium_pose_topic} at up to "
            f"{cfg.command_rate:g} Hz, gripper {'on' if cfg.gripper_enabled else 'off'}"
        )

    def activate(self) -> None:
        """Follow targets from now on; the first stream starts from the measured pose."""
        self._target_tcp = self._equilibrium = None

    def deactivate(self) -> None:
        """Hold: stop following the target and set the equilibrium to the fresh measured TCP pose (published while
        the publisher is still active), so the arm stays where it is; queued gripper goals are dropped."""
        self._target_tcp, self._pending_gripper = None, None
        if self._measured_is_fresh():
            self._publish_equilibrium(self._measured_tcp)
        else:
            self.get_logger().warning("deactivated without a fresh measured pose: the controller keeps its last "
                                      "equilibrium")  # fmt: skip
        self._equilibrium = None

    def on_stop_requested(self) -> None:
        """SIGINT/SIGTERM (jepa_ros_common.process): deactivate while the context is still valid, so the arm holds
        where it is instead of finishing the streamed step towards the last target."""
        if self.is_active:
            self.trigger_deactivate()

    def cleanup(self) -> None:
        """Destroy the robot interfaces configure created."""
        destroy_entities(self, self._entities)
        for client, _ in self._gripper_clients.values():
            client.destroy()
        self._entities, self._gripper_clients, self.config = [], {}, None
        self._measured_tcp, self._finger_width = None, None

    def _on_parameters(self, changed: dict) -> None:
        """Live parameters (the diagnostics limits): used from the next report."""
        self._values = self._values | changed
        self.limits = DiagnosticLimits.from_values(self._values)

    def _diagnose(self) -> Report:
        """The /diagnostics report (status.adapter_report)."""
        state_age = None if self._measured_tcp is None else time.monotonic() - self._measured_at
        return adapter_report(self.state_label, self.last_error, state_age, self.status.ages(time.monotonic()),
                              self._target_tcp is not None, self.limits, self._values["state_timeout"])  # fmt: skip

    def _create_gripper_io(self) -> dict[GripperMotion, tuple[ActionClient, type]]:
        """Gripper state and command subscriptions and, when franka_msgs is importable, the Move/Grasp action
        clients (subscriptions go into the entities cleanup destroys)."""
        cfg = self.config
        if not cfg.gripper_enabled:
            return {}
        joint_states = franka_topic(cfg.robot_namespace, f"{cfg.gripper_namespace}/joint_states")
        self._entities += [
            self.create_subscription(JointState, joint_states, self._on_gripper_joint_states, qos_profile_sensor_data),
            self.create_subscription(Float64, cfg.gripper_command_topic, self._on_gripper_command, 10),
        ]
        if not FRANKA_MSGS_AVAILABLE:
            self.get_logger().error(
                "franka_msgs is not importable: gripper commands on "
                f"'{cfg.gripper_command_topic}' will be ignored. Source the franka_ros2 workspace (franka_msgs) "
                "before starting franka_adapter, or set gripper_enabled:=false."
            )
            return {}
        from franka_msgs.action import Grasp, Move

        prefix = franka_topic(cfg.robot_namespace, cfg.gripper_namespace)
        return {
            GripperMotion.MOVE: (ActionClient(self, Move, f"{prefix}/move"), Move.Goal),
            GripperMotion.GRASP: (ActionClient(self, Grasp, f"{prefix}/grasp"), Grasp.Goal),
        }

    # ---- robot state -> ee_state -------------------------------------------------------------------------------

    def _on_tcp_pose(self, msg: PoseStamped) -> None:
        """Store the measured TCP pose and, while active, publish the flange as ee_state (rate-limited)."""
        try:
            if msg.header.frame_id and msg.header.frame_id.lstrip("/") != self.config.base_frame:
                raise ValueError(
                    f"measured TCP pose in frame '{msg.header.frame_id}', expected base_frame "
                    f"'{self.config.base_frame}' (set base_frame to the robot's base link)"
                )
            tcp = checked_pose(*position_quaternion(msg.pose), "measured TCP pose")
        except ValueError as error:
            self.get_logger().error(str(error), throttle_duration_sec=5.0)
            return
        now = time.monotonic()
        self._measured_tcp, self._measured_at = tcp, now
        if not self.is_active:
            return
        if self.config.gripper_enabled and self._finger_width is None:
            self.get_logger().warning("no gripper joint states yet: ee_state withheld", throttle_duration_sec=5.0)
            return
        if self.config.ee_state_max_rate > 0 and now - self._last_ee_state_at < 1.0 / self.config.ee_state_max_rate:
            return
        self._last_ee_state_at = now
        out = EndEffectorState()
        out.header.stamp = msg.header.stamp
        out.header.frame_id = self.config.base_frame
        flange = flange_from_tcp(tcp, self._offset)
        out.pose = pose_msg(flange.position, flange.quaternion)
        out.gripper = self._gripper_closure
        self._ee_state_pub.publish(out)

    def _on_gripper_joint_states(self, msg: JointState) -> None:
        """Store the finger opening (sum of the two finger joint positions) and the closure it means."""
        try:
            self._gripper_closure = gripper_closure_from_fingers(msg.position, self.config.gripper_max_width)
        except ValueError as error:
            self.get_logger().error(str(error), throttle_duration_sec=5.0)
            return
        self._finger_width = float(sum(msg.position))

    # ---- target_pose -> equilibrium pose -----------------------------------------------------------------------

    def _on_target_pose(self, msg: PoseStamped) -> None:
        """Accept a flange target in the base frame, or refuse it and stop streaming (the arm holds); ignored unless
        active."""
        if not self.is_active:
            self.get_logger().warning(f"target_pose ignored: franka_adapter is {self.state_label}, holding",
                                      throttle_duration_sec=5.0)  # fmt: skip
            return
        try:
            flange = self._validated_target(msg)
        except ValueError as error:
            self._target_tcp = None
            self.get_logger().error(f"target_pose refused, holding: {error}", throttle_duration_sec=1.0)
            return
        if self._target_tcp is None:
            self._equilibrium = None  # a new stream starts from the measured pose, not from an old equilibrium
        self._target_tcp = tcp_from_flange(flange, self._offset)
        self.status.commanded(time.monotonic())

    def _validated_target(self, msg: PoseStamped) -> Pose:
        """The target flange pose, or ValueError saying why it must not be executed."""
        cfg = self.config
        if msg.header.frame_id and msg.header.frame_id.lstrip("/") != cfg.base_frame:
            raise ValueError(f"frame_id '{msg.header.frame_id}', expected '{cfg.base_frame}'")
        flange = checked_pose(*position_quaternion(msg.pose), "target_pose")
        if not self._measured_is_fresh():
            raise ValueError(f"no measured pose from the robot within state_timeout={cfg.state_timeout} s")
        distance = translation_distance(flange_from_tcp(self._measured_tcp, self._offset), flange)
        if distance > cfg.max_target_distance:
            raise ValueError(
                f"{distance:.3f} m from the measured flange > max_target_distance={cfg.max_target_distance} m"
            )
        return flange

    def _measured_is_fresh(self) -> bool:
        return self._measured_tcp is not None and time.monotonic() - self._measured_at <= self.config.state_timeout

    def _stream_equilibrium(self) -> None:
        """Publish one bounded step of the equilibrium towards the target; stop when reached or when state is stale."""
        if self._target_tcp is None or not self.is_active:
            return
        if not self._measured_is_fresh():
            self._target_tcp = None
            self.get_logger().error("measured pose is stale: equilibrium streaming stopped, holding")
            return
        cfg = self.config
        start = self._equilibrium if self._equilibrium is not None else self._measured_tcp
        lag = translation_distance(start, self._measured_tcp)
        if lag > cfg.max_target_distance:
            self._target_tcp = None
            self.get_logger().error(
                f"equilibrium is {lag:.3f} m from the measured TCP (arm blocked?): streaming stopped, holding"
            )
            return
        reached = within_step(start, self._target_tcp, cfg.max_linear_step, cfg.max_angular_step)
        step = limit_step(start, self._target_tcp, cfg.max_linear_step, cfg.max_angular_step)
        self._publish_equilibrium(step)
        self._equilibrium = step
        if reached:
            self._target_tcp = None

    def _publish_equilibrium(self, tcp: Pose) -> None:
        """Send the impedance controller the equilibrium (TCP) pose `tcp`."""
        out = PoseStamped()
        out.header.stamp = self.get_clock().now().to_msg()
        out.header.frame_id = self.config.base_frame
        out.pose = pose_msg(tcp.position, tcp.quaternion)
        self._equilibrium_pub.publish(out)
        self.status.equilibrium_sent(time.monotonic())

    # ---- gripper_command -> franka_gripper actions --------------------------------------------------------------

    def _on_gripper_command(self, msg: Float64) -> None:
        """Turn a closure command into a Move/Grasp goal (one in flight at a time, the latest one queued); ignored
        unless active."""
        if not self._gripper_clients or not self.is_active:
            return
        cfg = self.config
        try:
            goal = plan_gripper_goal(
                msg.data, self._finger_width, self._sent_gripper_width, cfg.gripper_max_width, cfg.gripper_deadband
            )
        except ValueError as error:
            self.get_logger().error(str(error), throttle_duration_sec=5.0)
            return
        if goal is None:
            return
        if self._gripper_busy:
            self._pending_gripper = goal
            return
        self._send_gripper_goal(goal)

    def _send_gripper_goal(self, goal: GripperGoal) -> None:
        client, goal_type = self._gripper_clients[goal.motion]
        if not client.server_is_ready():
            self.get_logger().error(
                f"franka_gripper action '{goal.motion.value}' is not available", throttle_duration_sec=5.0
            )
            return
        cfg = self.config
        request = goal_type()
        request.width = goal.width
        request.speed = cfg.gripper_speed
        if goal.motion is GripperMotion.GRASP:
            request.force = cfg.gripper_force
            request.epsilon.inner = cfg.gripper_epsilon_inner
            request.epsilon.outer = cfg.gripper_epsilon_outer
        self._gripper_busy = True
        self._sent_gripper_width = goal.width
        client.send_goal_async(request).add_done_callback(self._on_gripper_goal_response)

    def _on_gripper_goal_response(self, future) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self.get_logger().error("franka_gripper rejected the goal")
            self._gripper_done()
            return
        handle.get_result_async().add_done_callback(lambda _: self._gripper_done())

    def _gripper_done(self) -> None:
        self._gripper_busy = False
        pending, self._pending_gripper = self._pending_gripper, None
        if pending is not None:
            self._send_gripper_goal(pending)


def main(args=None) -> None:
    """Console script `franka_adapter`: spin until SIGINT/SIGTERM (once or twice), then exit 0."""
    run_node(FrankaAdapterNode, args)
