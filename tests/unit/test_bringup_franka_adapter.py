"""Franka adapter math: flange <-> TCP offsets, bounded equilibrium steps, gripper width <-> closure, topic names."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jepa_franka.franka_conversions import (
    FRANKA_HAND_MAX_WIDTH,
    FRANKA_HAND_TCP_RPY,
    FRANKA_HAND_TCP_XYZ,
    GripperMotion,
    Pose,
    checked_pose,
    flange_from_tcp,
    franka_topic,
    gripper_closure_from_fingers,
    gripper_width_from_closure,
    limit_step,
    plan_gripper_goal,
    rotation_distance,
    tcp_from_flange,
    tcp_offset,
    translation_distance,
    within_step,
)

HAND = tcp_offset(FRANKA_HAND_TCP_XYZ, FRANKA_HAND_TCP_RPY)


def random_pose(rng: np.random.Generator) -> Pose:
    return Pose(rng.uniform(-0.8, 0.8, 3), Rotation.random(random_state=rng).as_quat())


def assert_same_pose(a: Pose, b: Pose, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(a.position, b.position, atol=atol)
    assert rotation_distance(a, b) < 1e-9


def test_franka_hand_offset_matches_libfranka_default_f_t_ee():
    # libfranka's default F_T_EE (column-major 4x4) for the Franka Hand: rotation -45 deg about z, 0.1034 m along z.
    f_t_ee = np.array([0.7071, -0.7071, 0, 0, 0.7071, 0.7071, 0, 0, 0, 0, 1, 0, 0, 0, 0.1034, 1]).reshape(4, 4).T
    np.testing.assert_allclose(HAND.rotation.as_matrix(), f_t_ee[:3, :3], atol=1e-4)
    np.testing.assert_allclose(HAND.position, f_t_ee[:3, 3])


def test_tcp_of_flange_at_identity_is_the_offset_itself():
    identity = Pose(np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]))
    assert_same_pose(tcp_from_flange(identity, HAND), HAND)


def test_tcp_lies_along_the_flange_z_axis():
    # Flange pointing down (x rotated by pi): the TCP is 0.1034 m below the flange in the base frame.
    flange = Pose(np.array([0.5, 0.1, 0.4]), Rotation.from_euler("x", math.pi).as_quat())
    tcp = tcp_from_flange(flange, HAND)
    np.testing.assert_allclose(tcp.position, [0.5, 0.1, 0.4 - 0.1034], atol=1e-12)
    expected = Rotation.from_euler("x", math.pi) * Rotation.from_euler("z", -math.pi / 4)
    assert (tcp.rotation * expected.inv()).magnitude() < 1e-9


def test_flange_tcp_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        flange = random_pose(rng)
        assert_same_pose(flange_from_tcp(tcp_from_flange(flange, HAND), HAND), flange)
        tcp = random_pose(rng)
        assert_same_pose(tcp_from_flange(flange_from_tcp(tcp, HAND), HAND), tcp)


def test_checked_pose_refuses_nan_and_degenerate_quaternions():
    with pytest.raises(ValueError, match="finite"):
        checked_pose([0.0, math.nan, 0.0], [0, 0, 0, 1], "target_pose")
    with pytest.raises(ValueError, match="finite"):
        checked_pose([0.0, 0.0, 0.0], [0, 0, math.inf, 1], "target_pose")
    with pytest.raises(ValueError, match="unit quaternion"):
        checked_pose([0.0, 0.0, 0.0], [0, 0, 0, 0], "target_pose")
    pose = checked_pose([1, 2, 3], [0, 0, 0, 1.02], "target_pose")
    np.testing.assert_allclose(pose.quaternion, [0, 0, 0, 1])


def test_tcp_offset_rejects_malformed_parameters():
    with pytest.raises(ValueError, match="tcp offset"):
        tcp_offset([0.0, 0.1], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="tcp offset"):
        tcp_offset([0.0, 0.0, math.nan], [0.0, 0.0, 0.0])


def test_limit_step_bounds_translation_and_rotation():
    current = Pose(np.array([0.4, 0.0, 0.5]), Rotation.from_euler("x", math.pi).as_quat())
    target = Pose(np.array([0.5, 0.0, 0.5]), (Rotation.from_euler("z", 0.3) * current.rotation).as_quat())
    step = limit_step(current, target, max_translation=0.01, max_rotation=0.05)
    assert translation_distance(current, step) == pytest.approx(0.01)
    assert rotation_distance(current, step) == pytest.approx(0.05)
    np.testing.assert_allclose(step.position, [0.41, 0.0, 0.5])  # along the straight line
    # The partial rotation lies on the geodesic: the rest of the way is the same axis, 0.25 rad.
    remaining = target.rotation * step.rotation.inv()
    np.testing.assert_allclose(remaining.as_rotvec(), [0.0, 0.0, 0.25], atol=1e-9)
    assert not within_step(current, target, 0.01, 0.05)


def test_limit_step_returns_the_target_when_within_reach():
    current = Pose(np.array([0.4, 0.0, 0.5]), np.array([1.0, 0.0, 0.0, 0.0]))
    target = Pose(np.array([0.4005, 0.0, 0.5]), np.array([1.0, 0.0, 0.0, 0.0]))
    assert within_step(current, target, 0.001, 0.005)
    step = limit_step(current, target, 0.001, 0.005)
    np.testing.assert_array_equal(step.position, target.position)


def test_repeated_steps_converge_without_jumps():
    rng = np.random.default_rng(1)
    current = random_pose(rng)
    target = Pose(
        current.position + np.array([0.05, -0.02, 0.03]),
        (Rotation.from_rotvec([0.2, 0.1, -0.3]) * current.rotation).as_quat(),
    )
    for _ in range(200):
        step = limit_step(current, target, 0.001, 0.005)
        assert translation_distance(current, step) <= 0.001 + 1e-12
        assert rotation_distance(current, step) <= 0.005 + 1e-9
        current = step
    assert_same_pose(current, target)


def test_gripper_width_closure_round_trip():
    for closure in (0.0, 0.25, 0.5, 1.0):
        width = gripper_width_from_closure(closure, FRANKA_HAND_MAX_WIDTH)
        assert gripper_closure_from_fingers([width / 2, width / 2], FRANKA_HAND_MAX_WIDTH) == pytest.approx(closure)
    assert gripper_width_from_closure(0.0, 0.08) == pytest.approx(0.08)
    assert gripper_width_from_closure(1.0, 0.08) == 0.0
    assert gripper_width_from_closure(1.7, 0.08) == 0.0  # clipped
    assert gripper_width_from_closure(-0.3, 0.08) == pytest.approx(0.08)


def test_gripper_closure_from_finger_joint_states():
    # franka_gripper publishes width / 2 per finger; its fake publisher uses 0.035 + 0.035 = 0.07 m open.
    assert gripper_closure_from_fingers([0.035, 0.035], 0.08) == pytest.approx(0.125)
    assert gripper_closure_from_fingers([0.041, 0.041], 0.08) == 0.0  # clipped
    with pytest.raises(ValueError, match="2 finite finger positions"):
        gripper_closure_from_fingers([0.01], 0.08)
    with pytest.raises(ValueError, match="finite"):
        gripper_width_from_closure(math.nan, 0.08)


def test_gripper_goal_uses_grasp_to_close_and_move_to_open():
    closing = plan_gripper_goal(1.0, current_width=0.08, last_width=None, max_width=0.08, deadband=0.05)
    assert closing.motion is GripperMotion.GRASP and closing.width == 0.0
    opening = plan_gripper_goal(0.0, current_width=0.02, last_width=0.0, max_width=0.08, deadband=0.05)
    assert opening.motion is GripperMotion.MOVE and opening.width == pytest.approx(0.08)
    assert plan_gripper_goal(0.98, current_width=0.0, last_width=0.0, max_width=0.08, deadband=0.05) is None
    unknown = plan_gripper_goal(0.6, current_width=None, last_width=None, max_width=0.08, deadband=0.05)
    assert unknown.motion is GripperMotion.GRASP


def test_franka_topic_names():
    assert franka_topic("", "franka_gripper/joint_states") == "/franka_gripper/joint_states"
    assert franka_topic("fr3", "franka_gripper") == "/fr3/franka_gripper"
    assert franka_topic("/left/", "x/y") == "/left/x/y"
    assert franka_topic("fr3", "/absolute/topic") == "/absolute/topic"
