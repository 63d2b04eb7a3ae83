"""End to end through real nodes: synthetic publisher -> recorder node -> MCAP bag -> DROID episode -> clip dataset."""

import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402

from jepa_core import geometry  # noqa: E402
from jepa_core.data.bag_to_droid import convert_bag  # noqa: E402
from jepa_core.data.droid_dataset import ClipConfig, DroidClipDataset  # noqa: E402
from jepa_core.data.droid_validate import validate_episode  # noqa: E402
from jepa_core.data.synthetic import CODE_BLOCK, frame_code, synthetic_frame, synthetic_state  # noqa: E402
from jepa_data.recorder_node import EpisodeRecorder  # noqa: E402
from jepa_msgs.msg import EndEffectorState  # noqa: E402
from tests.ros_spin import spinning  # noqa: E402

CAMERA_HZ, SECONDS, SIZE = 30, 2.5, 64


def _wait(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def _set_pose(pose, state):
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in state[:3])
    q = geometry.euler_to_quat(state[3:6])
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = (float(v) for v in q)


def test_recorded_episode_becomes_a_valid_droid_episode_and_clips(ros_context, tmp_path):
    recorder = EpisodeRecorder(context=ros_context, parameter_overrides=[Parameter("output_dir", value=str(tmp_path))])
    node = rclpy.create_node("synthetic_robot", context=ros_context)
    image_pub = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)  # as the sim publishes
    ee_pub = node.create_publisher(EndEffectorState, "ee_state", 10)
    joint_pub = node.create_publisher(JointState, "joint_states", 10)
    target_pub = node.create_publisher(PoseStamped, "target_pose", 10)
    gripper_pub = node.create_publisher(Float64, "gripper_command", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(recorder)
    executor.add_node(node)
    try:
        with spinning(executor):
            expected = {"/camera/image_raw", "/ee_state", "/joint_states", "/target_pose", "/gripper_command"}
            _wait(lambda: expected <= recorder.subscribed_topics, 10, "recorder subscriptions")
            _wait(lambda: image_pub.get_subscription_count() == 1, 10, "image subscription match")
            recorder.start_episode("synthetic")
            start_ns = node.get_clock().now().nanoseconds
            n_frames = int(SECONDS * CAMERA_HZ)
            for k in range(n_frames):
                stamp_ns = start_ns + round(k * 1e9 / CAMERA_HZ)
                stamp = rclpy.time.Time(nanoseconds=stamp_ns).to_msg()
                state = synthetic_state(k / CAMERA_HZ)
                image = Image(height=SIZE, width=SIZE, encoding="rgb8", step=SIZE * 3)
                image.header.stamp, image.header.frame_id = stamp, "cam_front"
                image.data = synthetic_frame(k, SIZE, SIZE).tobytes()
                ee = EndEffectorState(gripper=float(state[6]))
                ee.header.stamp = stamp
                _set_pose(ee.pose, state)
                joint_names = [f"fr3_joint{i}" for i in range(1, 8)]
                joints = JointState(name=joint_names, position=list(np.sin(k + np.arange(7))))
                joints.header.stamp = stamp
                for pub, msg in ((image_pub, image), (ee_pub, ee), (joint_pub, joints)):
                    pub.publish(msg)
                if k % 6 == 0:
                    target = PoseStamped()
                    target.header.stamp = stamp
                    _set_pose(target.pose, synthetic_state(k / CAMERA_HZ + 0.2))
                    target_pub.publish(target)
                    gripper_pub.publish(Float64(data=0.5))
                # lockstep instead of a 30 Hz sleep: rows follow the header stamps, so the next frame goes out once
                # the recorder holds this one (no frame overruns the sensor-data queue on a loaded machine)
                _wait(lambda k=k: recorder.received["/camera/image_raw"] == k + 1, 5, f"image {k}")
                _wait(lambda k=k: recorder.received["/ee_state"] == k + 1, 5, f"state {k}")
            summary = recorder.stop_episode()
    finally:
        recorder.destroy_node()
        node.destroy_node()

    episode = convert_bag(summary.path, tmp_path / "droid")
    assert validate_episode(episode, decode=True) == []
    dataset = DroidClipDataset(episode, ClipConfig(frames_per_clip=8, target_fps=4.0, random_start=False))
    assert len(dataset) == 1  # 37 rows, span 8 * ceil(15 / 4) = 32
    clip = dataset[0]
    np.testing.assert_array_equal(clip["rows"].numpy(), np.arange(0, 32, 4))
    assert clip["frames"].shape == (8, SIZE, SIZE, 3) and clip["actions"].shape == (7, 7)
    codes = clip["frames"][:, 2 : CODE_BLOCK - 2, 2 : CODE_BLOCK - 2].float().mean(dim=(1, 2, 3)).numpy()
    camera_frames = 2 * clip["rows"].numpy()  # 30 Hz camera, 15 Hz rows starting at the first frame
    np.testing.assert_allclose(codes, [frame_code(int(k)) for k in camera_frames], atol=3)
    expected_states = synthetic_state(camera_frames / CAMERA_HZ)
    np.testing.assert_allclose(clip["states"][:, :3].numpy(), expected_states[:, :3], atol=1e-6)
    expected_actions = geometry.poses_to_diffs(expected_states)
    np.testing.assert_allclose(clip["actions"].numpy(), expected_actions, atol=2e-6)
