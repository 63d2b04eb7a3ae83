"""The episode recorder node loses no message: N images published at 30 Hz are exactly N in the bag."""

import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rosbags.rosbag2 import Reader  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402

from jepa_core.data.typestore import stack_typestore  # noqa: E402
from jepa_data.recorder_node import EpisodeRecorder  # noqa: E402
from jepa_msgs.srv import StartRecording, StopRecording  # noqa: E402
from tests.ros_spin import spinning  # noqa: E402


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


def _call(client, request, timeout_s: float = 10.0):
    future = client.call_async(request)
    _wait(future.done, timeout_s, f"service {client.srv_name}")
    return future.result()


@pytest.fixture
def running(ros_context, tmp_path):
    """Recorder plus a publisher node, spun by one executor in a background thread."""
    recorder = EpisodeRecorder(
        context=ros_context,
        parameter_overrides=[
            rclpy.parameter.Parameter("output_dir", value=str(tmp_path)),
            rclpy.parameter.Parameter("topics", value=["camera/image_raw", "gripper_command"]),
        ],
    )
    publisher_node = rclpy.create_node("test_publisher", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(recorder)
    executor.add_node(publisher_node)
    with spinning(executor):
        yield recorder, publisher_node
    recorder.destroy_node()
    publisher_node.destroy_node()


def test_every_image_published_at_30hz_is_in_the_bag(running, tmp_path):
    recorder, node = running
    image_pub = node.create_publisher(Image, "camera/image_raw", 10)
    gripper_pub = node.create_publisher(Float64, "gripper_command", 10)
    _wait(lambda: recorder.subscribed_topics == {"/camera/image_raw", "/gripper_command"}, 10, "subscriptions")
    _wait(lambda: image_pub.get_subscription_count() == 1, 10, "image subscription match")
    start = _call(node.create_client(StartRecording, "start_recording"), StartRecording.Request(episode="ep0"))
    assert start.success, start.message

    n_images, height, width = 45, 64, 80
    for i in range(n_images):
        msg = Image(height=height, width=width, encoding="rgb8", step=width * 3)
        msg.header.stamp.sec, msg.header.stamp.nanosec = 100 + i // 30, (i % 30) * 33_333_333
        msg.data = np.full(height * width * 3, i % 256, dtype=np.uint8).tobytes()
        image_pub.publish(msg)
        gripper_pub.publish(Float64(data=i / n_images))
        time.sleep(1 / 30)
    _wait(lambda: recorder.received["/camera/image_raw"] == n_images, 5, "all images delivered")

    stop = _call(node.create_client(StopRecording, "stop_recording"), StopRecording.Request())
    assert stop.success, stop.message
    assert stop.bag_path == str(tmp_path / "ep0")
    assert stop.message_count == 2 * n_images
    assert not (tmp_path / ".partial" / "ep0").exists()

    typestore = stack_typestore()
    with Reader(tmp_path / "ep0") as reader:
        assert next((tmp_path / "ep0").glob("*.mcap")).stat().st_size > n_images * height * width * 3
        images = [
            typestore.deserialize_cdr(raw, conn.msgtype)
            for conn, _, raw in reader.messages()
            if conn.topic == "/camera/image_raw"
        ]
    assert len(images) == n_images
    assert [int(img.data[0]) for img in images] == list(range(n_images))  # in order, none duplicated
    assert images[-1].header.stamp.sec == 101


def test_stop_without_start_and_double_start_fail_cleanly(running):
    _, node = running
    stop = _call(node.create_client(StopRecording, "stop_recording"), StopRecording.Request())
    assert not stop.success and "not recording" in stop.message
    start_client = node.create_client(StartRecording, "start_recording")
    assert _call(start_client, StartRecording.Request(episode="a")).success
    second = _call(start_client, StartRecording.Request(episode="b"))
    assert not second.success and "already recording" in second.message
    discard = _call(node.create_client(StopRecording, "stop_recording"), StopRecording.Request(discard=True))
    assert discard.success and discard.bag_path == ""
