"""jepa_ros_common.poses and .stamps: state <-> Pose round trips, refusals naming the message, stamps <-> seconds."""

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from jepa_msgs.msg import EndEffectorState
from jepa_ros_common.poses import (
    pose_from_state,
    pose_msg,
    position_quaternion,
    state_from_ee_state,
    state_from_pose,
)
from jepa_ros_common.stamps import stamp_from_nanoseconds, stamp_from_seconds, stamp_nanoseconds, stamp_seconds

STATE = np.array([0.45, -0.1, 0.3, math.pi - 0.2, 0.15, -0.4, 0.7])


def test_state_pose_round_trip():
    pose = pose_from_state(STATE)
    assert np.allclose(state_from_pose(pose, STATE[6], "target"), STATE, atol=1e-12)
    assert np.allclose(state_from_ee_state(EndEffectorState(pose=pose, gripper=0.7)), STATE, atol=1e-12)
    position, quaternion = position_quaternion(pose)
    assert position_quaternion(pose_msg(position, quaternion))[1].tolist() == quaternion.tolist()
    assert np.linalg.norm(quaternion) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("change", "gripper", "reason"),
    [
        (lambda pose: setattr(pose.position, "x", math.nan), 0.0, "target: non-finite"),
        (lambda pose: None, math.inf, "target: non-finite"),
        (lambda pose: setattr(pose.orientation, "w", 0.0), 0.0, "target: orientation must be a unit quaternion"),
    ],
)
def test_bad_poses_are_refused_naming_the_message(change, gripper, reason):
    pose = pose_from_state(STATE)
    change(pose)
    with pytest.raises(ValueError, match=reason):
        state_from_pose(pose, gripper, "target")


def test_ee_state_refusal_says_ee_state():
    msg = EndEffectorState(pose=pose_from_state(STATE), gripper=math.nan)
    with pytest.raises(ValueError, match="ee_state: non-finite"):
        state_from_ee_state(msg)


def test_stamps_round_trip_to_the_nanosecond():
    stamp = stamp_from_seconds(12.000000001)
    assert (stamp.sec, stamp.nanosec) == (12, 1)
    assert stamp_from_seconds(0.9999999996) == Time(sec=1, nanosec=0)
    assert stamp_seconds(Time(sec=3, nanosec=250_000_000)) == 3.25
    big = 1_765_000_000_123_456_789  # a wall-clock time in ns: exact, unlike a float of seconds
    assert stamp_nanoseconds(stamp_from_nanoseconds(big)) == big
