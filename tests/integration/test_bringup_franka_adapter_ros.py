"""Franka adapter on real rclpy: fake franka_ros2 topics in, ee_state and impedance equilibrium poses out; its managed
lifecycle (the hold on deactivate) and /diagnostics."""

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from rclpy.task import Future  # noqa: E402
from rclpy.time import Time  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402

from jepa_franka.franka_adapter import FrankaAdapterNode  # noqa: E402
from jepa_franka.franka_conversions import GripperMotion  # noqa: E402
from jepa_msgs.msg import EndEffectorState  # noqa: E402

pytestmark = pytest.mark.ros

EQUILIBRIUM_TOPIC = "/test_impedance/equilibrium_pose"
# Flange pointing down at (0.45, 0.05, 0.40); with the Franka Hand the TCP is 0.1034 m lower, yawed by -45 deg.
FLANGE_XYZ = np.array([0.45, 0.05, 0.40])
FLANGE_ROTATION = Rotation.from_euler("x", math.pi)
TCP_ROTATION = FLANGE_ROTATION * Rotation.from_euler("z", -math.pi / 4)
TCP_XYZ = FLANGE_XYZ + np.array([0.0, 0.0, -0.1034])


def pose_stamped(xyz, rotation: Rotation, frame_id: str = "fr3_link0", stamp=None) -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in xyz)
    q = rotation.as_quat()
    msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z, msg.pose.orientation.w = map(float, q)
    return msg


def rotation_of(pose) -> Rotation:
    return Rotation.from_quat([pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w])


def xyz_of(pose) -> np.ndarray:
    return np.array([pose.position.x, pose.position.y, pose.position.z])


@pytest.fixture
def rig(ros_context):
    """Adapter + a fake robot node on one executor; yields (fake, adapter, spin_until)."""
    adapter = FrankaAdapterNode(
        context=ros_context,
        parameter_overrides=[
            Parameter("equilibrium_pose_topic", value=EQUILIBRIUM_TOPIC),
            Parameter("max_linear_step", value=0.01),
            Parameter("max_angular_step", value=0.1),
            Parameter("command_rate", value=200.0),
            Parameter("ee_state_max_rate", value=0.0),
            Parameter("diagnostics_period_s", value=0.1),
        ],
    )
    fake = rclpy.create_node("fake_franka", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(adapter)
    executor.add_node(fake)

    def spin_until(condition, timeout=5.0, step=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if step is not None:
                step()
            executor.spin_once(timeout_sec=0.02)
            if condition():
                return True
        return False

    yield fake, adapter, spin_until
    executor.shutdown()
    adapter.destroy_node()
    fake.destroy_node()


def publish_robot_state(fake, tcp_xyz=None, frame_id="fr3_link0"):
    """A function that publishes the fake robot's TCP pose (tcp_xyz[0], default TCP_XYZ; stamped now, as the state
    broadcaster does) and finger joint states."""
    tcp_pub = fake.create_publisher(PoseStamped, "/franka_robot_state_broadcaster/current_pose", 10)
    fingers_pub = fake.create_publisher(JointState, "/franka_gripper/joint_states", qos_profile_sensor_data)
    tcp_xyz = tcp_xyz if tcp_xyz is not None else [TCP_XYZ]

    def publish():
        fingers = JointState()
        fingers.name = ["fr3_finger_joint1", "fr3_finger_joint2"]
        fingers.position = [0.01, 0.01]  # 0.02 m open of 0.08 -> closure 0.75
        fingers_pub.publish(fingers)
        tcp_pub.publish(pose_stamped(tcp_xyz[0], TCP_ROTATION, frame_id, fake.get_clock().now().to_msg()))

    return publish


def streaming_io(fake):
    """The fake robot's side of a streaming test: (the measured TCP position, [TCP_XYZ] to edit; the function that
    publishes the robot state; the equilibria received; the target_pose publisher)."""
    measured = [TCP_XYZ]
    equilibria: list[PoseStamped] = []
    fake.create_subscription(PoseStamped, EQUILIBRIUM_TOPIC, equilibria.append, 10)
    target_pub = fake.create_publisher(PoseStamped, "/target_pose", 10)
    return measured, publish_robot_state(fake, measured), equilibria, target_pub


def test_tcp_pose_and_finger_states_become_flange_ee_state(rig):
    fake, _, spin_until = rig
    received: list[EndEffectorState] = []
    fake.create_subscription(EndEffectorState, "/ee_state", received.append, 10)
    assert spin_until(lambda: received, step=publish_robot_state(fake)), "no ee_state published"
    state = received[-1]
    assert state.header.frame_id == "fr3_link0"
    np.testing.assert_allclose(xyz_of(state.pose), FLANGE_XYZ, atol=1e-9)
    assert (rotation_of(state.pose) * FLANGE_ROTATION.inv()).magnitude() < 1e-6
    assert state.gripper == pytest.approx(0.75)


def test_measured_pose_in_another_frame_gives_no_ee_state(rig):
    fake, _, spin_until = rig
    received: list[EndEffectorState] = []
    fake.create_subscription(EndEffectorState, "/ee_state", received.append, 10)
    assert not spin_until(lambda: received, timeout=0.5, step=publish_robot_state(fake, frame_id="left_fr3_link0"))


def test_target_pose_becomes_bounded_equilibrium_stream(rig):
    fake, _, spin_until = rig
    publish_state = publish_robot_state(fake)
    equilibria: list[PoseStamped] = []
    fake.create_subscription(PoseStamped, EQUILIBRIUM_TOPIC, equilibria.append, 10)
    target_pub = fake.create_publisher(PoseStamped, "/target_pose", 10)
    ee_states: list[EndEffectorState] = []
    fake.create_subscription(EndEffectorState, "/ee_state", ee_states.append, 10)
    assert spin_until(lambda: ee_states, step=publish_state)

    # 3 cm along +x: 3 steps of at most 1 cm, ending exactly at the TCP of the target flange pose.
    target_flange_xyz = FLANGE_XYZ + np.array([0.03, 0.0, 0.0])
    target_pub.publish(pose_stamped(target_flange_xyz, FLANGE_ROTATION))

    def reached():
        return equilibria and np.allclose(xyz_of(equilibria[-1].pose), TCP_XYZ + np.array([0.03, 0.0, 0.0]), atol=1e-9)

    assert spin_until(reached, step=publish_state), f"equilibria: {[xyz_of(e.pose) for e in equilibria]}"
    assert len(equilibria) == 3
    previous = TCP_XYZ
    for msg in equilibria:
        assert msg.header.frame_id == "fr3_link0"
        assert np.linalg.norm(xyz_of(msg.pose) - previous) <= 0.01 + 1e-9
        assert (rotation_of(msg.pose) * TCP_ROTATION.inv()).magnitude() < 1e-6  # TCP orientation, not the flange's
        previous = xyz_of(msg.pose)


@pytest.mark.parametrize(
    "target",
    [
        pose_stamped(FLANGE_XYZ + np.array([0.5, 0.0, 0.0]), FLANGE_ROTATION),  # beyond max_target_distance
        pose_stamped([math.nan, 0.0, 0.4], FLANGE_ROTATION),  # NaN
        pose_stamped(FLANGE_XYZ, FLANGE_ROTATION, frame_id="camera"),  # wrong frame
    ],
    ids=["too_far", "nan", "wrong_frame"],
)
def test_unsafe_targets_are_refused(rig, target):
    fake, _, spin_until = rig
    publish_state = publish_robot_state(fake)
    equilibria: list[PoseStamped] = []
    fake.create_subscription(PoseStamped, EQUILIBRIUM_TOPIC, equilibria.append, 10)
    target_pub = fake.create_publisher(PoseStamped, "/target_pose", 10)
    ee_states: list[EndEffectorState] = []
    fake.create_subscription(EndEffectorState, "/ee_state", ee_states.append, 10)
    assert spin_until(lambda: ee_states, step=publish_state)
    target_pub.publish(target)
    assert not spin_until(lambda: equilibria, timeout=0.5, step=publish_state)


def test_a_new_stream_starts_from_the_measured_pose_not_the_old_equilibrium(rig):
    # The arm was moved (e.g. by hand) after the last stream: the next equilibrium must start where the arm is.
    fake, _, spin_until = rig
    measured, publish_state, equilibria, target_pub = streaming_io(fake)
    ee_states: list[EndEffectorState] = []
    fake.create_subscription(EndEffectorState, "/ee_state", ee_states.append, 10)
    assert spin_until(lambda: ee_states, step=publish_state)
    target_pub.publish(pose_stamped(FLANGE_XYZ + np.array([0.005, 0.0, 0.0]), FLANGE_ROTATION))
    assert spin_until(lambda: equilibria, step=publish_state)

    measured[0] = TCP_XYZ + np.array([0.0, 0.1, 0.0])  # 10 cm away from the last equilibrium
    ee_states.clear()
    assert spin_until(lambda: ee_states and ee_states[-1].pose.position.y > 0.1, step=publish_state)
    count = len(equilibria)
    target_pub.publish(pose_stamped(FLANGE_XYZ + np.array([0.0, 0.1, 0.005]), FLANGE_ROTATION))
    assert spin_until(lambda: len(equilibria) > count, step=publish_state)
    first = xyz_of(equilibria[count].pose)
    assert np.linalg.norm(first - measured[0]) <= 0.01 + 1e-9, first


class FakeGripperClient:
    """Stands in for a franka_gripper ActionClient (franka_msgs is not installed here): records goals, finishes on
    demand."""

    def __init__(self) -> None:
        self.goals: list = []
        self.results: list[Future] = []

    def server_is_ready(self) -> bool:
        return True

    def send_goal_async(self, goal) -> Future:
        self.goals.append(goal)
        response = Future()
        result = Future()
        self.results.append(result)
        handle = SimpleNamespace(accepted=True, get_result_async=lambda: result)
        response.set_result(handle)
        return response


def goal_type():
    return SimpleNamespace(width=-1.0, speed=-1.0, force=-1.0, epsilon=SimpleNamespace(inner=-1.0, outer=-1.0))


def test_gripper_commands_become_grasp_and_move_goals_one_at_a_time(rig):
    _, adapter, _ = rig
    move, grasp = FakeGripperClient(), FakeGripperClient()
    adapter._gripper_clients = {GripperMotion.MOVE: (move, goal_type), GripperMotion.GRASP: (grasp, goal_type)}
    adapter._on_gripper_joint_states(JointState(position=[0.04, 0.04]))  # fully open

    adapter._on_gripper_command(Float64(data=1.0))  # close -> Grasp to width 0 with force and wide outer epsilon
    assert len(grasp.goals) == 1 and not move.goals
    sent = grasp.goals[0]
    assert (sent.width, sent.speed, sent.force) == (0.0, 0.1, 20.0)
    assert (sent.epsilon.inner, sent.epsilon.outer) == (0.005, 0.08)

    adapter._on_gripper_command(Float64(data=0.0))  # open while the grasp runs: queued, not sent
    adapter._on_gripper_command(Float64(data=math.nan))  # refused
    assert not move.goals
    adapter._on_gripper_joint_states(JointState(position=[0.01, 0.01]))  # stopped on an object 2 cm wide
    grasp.results[0].set_result(SimpleNamespace(result=SimpleNamespace(success=True)))
    assert len(move.goals) == 1 and move.goals[0].width == pytest.approx(0.08)  # the queued open goes out

    move.results[0].set_result(SimpleNamespace(result=SimpleNamespace(success=True)))
    adapter._on_gripper_command(Float64(data=0.02))  # within the deadband of the last goal: skipped
    assert len(move.goals) == 1 and len(grasp.goals) == 1


@pytest.mark.parametrize("name", ["max_linear_step", "max_target_distance"])
@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_non_finite_limits_are_refused(ros_context, name, value):
    """max_linear_step: inf passed the '> 0' check and let the equilibrium jump to the target in one message."""
    with pytest.raises(ValueError, match=f"parameter {name}: expected finite > 0"):
        FrankaAdapterNode(context=ros_context, parameter_overrides=[Parameter(name, value=value)])


def test_parameters_are_read_only(ros_context):
    """The adapter reads its parameters once: `ros2 param set max_linear_step` answered success and changed nothing."""
    adapter = FrankaAdapterNode(context=ros_context, parameter_overrides=[Parameter("gripper_enabled", value=False)])
    try:
        (result,) = adapter.set_parameters([Parameter("max_linear_step", value=0.5)])
        assert not result.successful and "read-only" in result.reason
        assert adapter.get_parameter("max_linear_step").value == adapter.config.max_linear_step == 0.001
    finally:
        adapter.destroy_node()


# ---- issue 24 items 3 and 4: managed lifecycle and /diagnostics -----------------------------------------------------


def change_state(fake, spin_until, transition: int) -> bool:
    """Drive the adapter's lifecycle through its change_state service, as `ros2 lifecycle set` does."""
    client = fake.create_client(ChangeState, "franka_adapter/change_state")
    assert spin_until(client.service_is_ready)
    future = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
    assert spin_until(future.done)
    return future.result().success


def test_deactivate_holds_where_the_arm_is_and_activate_follows_again(rig):
    fake, adapter, spin_until = rig
    measured, publish_state, equilibria, target_pub = streaming_io(fake)
    ee_states: list[EndEffectorState] = []
    fake.create_subscription(EndEffectorState, "/ee_state", ee_states.append, 10)
    assert spin_until(lambda: ee_states, step=publish_state)
    target = TCP_XYZ + np.array([0.03, 0.0, 0.0])
    target_pub.publish(pose_stamped(FLANGE_XYZ + np.array([0.03, 0.0, 0.0]), FLANGE_ROTATION))
    assert spin_until(lambda: equilibria and np.allclose(xyz_of(equilibria[-1].pose), target), step=publish_state)

    measured[0] = TCP_XYZ + np.array([0.004, 0.0, 0.0])  # the arm lags its equilibrium (a contact, a slow arm)
    assert spin_until(lambda: ee_states[-1].pose.position.x > FLANGE_XYZ[0] + 0.003, step=publish_state)
    assert change_state(fake, spin_until, Transition.TRANSITION_DEACTIVATE)
    assert spin_until(lambda: np.allclose(xyz_of(equilibria[-1].pose), measured[0], atol=1e-9))  # the hold
    assert (rotation_of(equilibria[-1].pose) * TCP_ROTATION.inv()).magnitude() < 1e-6
    held, inactive_since = len(equilibria), fake.get_clock().now()
    # ee_state of robot states measured while active may still be queued here: only later ones count
    measured_since = lambda: [s for s in ee_states if Time.from_msg(s.header.stamp) >= inactive_since]  # noqa: E731
    target_pub.publish(pose_stamped(FLANGE_XYZ + np.array([0.0, 0.03, 0.0]), FLANGE_ROTATION))
    assert not spin_until(lambda: len(equilibria) > held or measured_since(), timeout=0.5, step=publish_state)

    assert change_state(fake, spin_until, Transition.TRANSITION_ACTIVATE)
    target_pub.publish(pose_stamped(FLANGE_XYZ + np.array([0.0, 0.005, 0.0]), FLANGE_ROTATION))
    assert spin_until(lambda: len(equilibria) > held, step=publish_state)
    assert np.linalg.norm(xyz_of(equilibria[held].pose) - measured[0]) <= 0.01 + 1e-9  # from the measured pose
    assert change_state(fake, spin_until, Transition.TRANSITION_DEACTIVATE)
    assert change_state(fake, spin_until, Transition.TRANSITION_CLEANUP) and adapter.config is None
    assert change_state(fake, spin_until, Transition.TRANSITION_CONFIGURE) and adapter.config is not None


def test_a_stop_signal_holds_where_the_arm_is(rig):
    """SIGINT/SIGTERM (jepa_ros_common.process.serve calls on_stop_requested): the adapter used to be destroyed
    while active, leaving the controller on the last streamed equilibrium; now it deactivates, which holds."""
    fake, adapter, spin_until = rig
    measured, publish_state, equilibria, target_pub = streaming_io(fake)
    target_pub.publish(pose_stamped(FLANGE_XYZ + np.array([0.05, 0.0, 0.0]), FLANGE_ROTATION))
    assert spin_until(lambda: len(equilibria) >= 2, step=publish_state)  # streaming towards the target
    measured[0] = TCP_XYZ + np.array([0.002, 0.0, 0.0])
    assert spin_until(lambda: np.allclose(adapter._measured_tcp.position, measured[0]), step=publish_state)
    adapter.on_stop_requested()
    assert adapter.state_label == "inactive"
    assert spin_until(lambda: np.allclose(xyz_of(equilibria[-1].pose), measured[0], atol=1e-9))  # the hold
    held = len(equilibria)
    assert not spin_until(lambda: len(equilibria) > held, timeout=0.3, step=publish_state)  # and nothing after it


def test_autostart_false_waits_unconfigured_and_commands_nothing(ros_context):
    adapter = FrankaAdapterNode(context=ros_context, parameter_overrides=[Parameter("autostart", value=False)])
    try:
        assert adapter.state_label == "unconfigured" and adapter.config is None
        assert adapter.count_publishers("/ee_state") == 0  # no robot interfaces before configure
    finally:
        adapter.destroy_node()


def test_diagnostics_report_robot_state_and_command_ages(rig):
    fake, adapter, spin_until = rig
    reports: list[DiagnosticStatus] = []
    fake.create_subscription(
        DiagnosticArray,
        "/diagnostics",
        lambda m: reports.extend(s for s in m.status if s.name == "/franka_adapter"),
        10,
    )

    def level_is(level: int, text: str, step=None) -> bool:
        return spin_until(lambda: reports and reports[-1].level == level and text in reports[-1].message, step=step)

    assert level_is(DiagnosticStatus.WARN, "no robot state received")
    publish_state = publish_robot_state(fake)
    assert level_is(DiagnosticStatus.OK, "ok", step=publish_state)
    values = values_of(reports[-1])
    assert values["lifecycle_state"] == "active" and values["last_command_age_s"] == "none yet"
    assert float(values["robot_state_age_s"].split()[0]) < 0.1
    fake.create_publisher(PoseStamped, "/target_pose", 10).publish(pose_stamped(FLANGE_XYZ, FLANGE_ROTATION))
    assert spin_until(lambda: values_of(reports[-1])["last_command_age_s"] != "none yet", step=publish_state)
    assert adapter.set_parameters([Parameter("diagnostics_command_age_warn_s", value=0.05)])[0].successful
    assert level_is(DiagnosticStatus.WARN, "last_command_age_s", step=publish_state)  # no further targets
    adapter.set_parameters([Parameter("diagnostics_command_age_warn_s", value=0.0)])
    assert level_is(DiagnosticStatus.WARN, "robot_state_age_s")  # the robot went silent: above 0.1 s
    assert level_is(DiagnosticStatus.ERROR, "above 0.5 s")  # beyond state_timeout: streaming stops
    assert change_state(fake, spin_until, Transition.TRANSITION_DEACTIVATE)
    assert level_is(DiagnosticStatus.WARN, "inactive: holding")


def values_of(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}
