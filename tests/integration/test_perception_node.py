"""The encoder node on real rclpy: a 30 Hz image stream, invalid frames, encode_image, status, memory; its managed
lifecycle (change_state) and /diagnostics."""

import gc
import threading
import time
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

import torch  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from jepa_core.checkpoints import save_checkpoint  # noqa: E402
from jepa_core.frame_encoder import FrameEncoder  # noqa: E402
from jepa_core.presets import build_encoder  # noqa: E402
from jepa_core.views import tile_views  # noqa: E402
from jepa_msgs.msg import Embedding, PerceptionStatus  # noqa: E402
from jepa_msgs.srv import EncodeImage  # noqa: E402
from jepa_perception.encoder_node import EncoderNode  # noqa: E402
from jepa_ros_common.embeddings import embedding_msg_to_tokens  # noqa: E402
from jepa_ros_common.images import array_to_image_msg, rgb8_to_compressed_msg  # noqa: E402
from jepa_ros_common.lifecycle import ConfigureError  # noqa: E402

pytestmark = pytest.mark.ros

FRAMES, RATE_HZ, EVERY_INVALID = 100, 30.0, 10
MAX_TRACEMALLOC_GROWTH_MB = 2.0
MAX_RSS_GROWTH_MB = 40.0


def node_parameters(**overrides) -> list[Parameter]:
    """A tiny random-weight encoder at 64 px, reliable QoS so every sent frame reaches the callback (exact counts)."""
    values = {
        "preset": "parity_tiny",
        "allow_random_weights": True,
        "image_size": 64,
        "qos_reliability": "reliable",
        "qos_depth": 200,
        "status_period_s": 0.2,
        "stats_log_period_s": 1.0,
        **overrides,
    }
    return [Parameter(name, value=value) for name, value in values.items()]


class Harness:
    """The node under test and a test node (publisher, embedding/status recorder, client) spinning in a thread."""

    def __init__(self, context, compressed: bool = False, **overrides) -> None:
        self.node = EncoderNode(
            context=context, parameter_overrides=node_parameters(compressed=compressed, **overrides)
        )
        self.diagnostics: list[DiagnosticStatus] = []
        self.peer = rclpy.create_node("perception_test_peer", context=context)
        qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
        self.images = self.peer.create_publisher(CompressedImage if compressed else Image, "camera/image_raw", qos)
        self.embeddings: list[Embedding] = []
        self.statuses: list[PerceptionStatus] = []
        self.peer.create_subscription(Embedding, "encoder_node/embedding", self.embeddings.append, 200)
        self.peer.create_subscription(PerceptionStatus, "perception_status", self.statuses.append, 10)
        self.peer.create_subscription(DiagnosticArray, "/diagnostics", lambda m: self.diagnostics.extend(m.status), 10)
        self.client = self.peer.create_client(EncodeImage, "encoder_node/encode_image")
        self.lifecycle = self.peer.create_client(ChangeState, "encoder_node/change_state")
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        if self.node.is_active:
            self.wait_for_subscription()

    def wait_for_subscription(self) -> None:
        wait_for(lambda: self.images.get_subscription_count() > 0, 5.0, "encoder subscription")

    def change_state(self, transition: int) -> bool:
        """Drive the node's lifecycle through its change_state service, as `ros2 lifecycle set` does."""
        assert self.lifecycle.wait_for_service(timeout_sec=5.0)
        future = self.lifecycle.call_async(ChangeState.Request(transition=Transition(id=transition)))
        wait_for(future.done, 30.0, "change_state response")
        return future.result().success

    def latest_diagnostics(self) -> DiagnosticStatus | None:
        """The newest /diagnostics status of the encoder node."""
        mine = [status for status in self.diagnostics if status.name == "/encoder_node"]
        return mine[-1] if mine else None

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=5.0)
        self.thread.join(timeout=5.0)
        self.node.destroy_node()
        self.peer.destroy_node()

    def call(self, image: Image) -> EncodeImage.Response:
        assert self.client.wait_for_service(timeout_sec=5.0)
        future = self.client.call_async(EncodeImage.Request(image=image))
        wait_for(future.done, 10.0, "encode_image response")
        return future.result()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def header(index: int) -> Header:
    msg = Header(frame_id="camera_optical")
    msg.stamp.sec, msg.stamp.nanosec = 1000 + index, index * 1000
    return msg


def stream_image(index: int, rgb: np.ndarray) -> Image:
    """Valid frames in rotating encodings (padded rows included); every EVERY_INVALID-th frame is broken."""
    kind = (index // EVERY_INVALID) % 3
    if index % EVERY_INVALID == EVERY_INVALID - 1:
        if kind == 0:
            return Image(header=header(index), height=48, width=80, encoding="nv21", step=160, data=bytes(48 * 160))
        if kind == 1:
            broken = array_to_image_msg(rgb, "rgb8", header(index))
            broken.step -= 1
            return broken
        depth = np.ones(rgb.shape[:2], np.float32)
        depth[3, 4] = np.nan
        return array_to_image_msg(depth, "32FC1", header(index))
    if kind == 1:
        return array_to_image_msg(rgb[..., ::-1].copy(), "bgr8", header(index), row_padding=4)
    return array_to_image_msg(rgb, "rgb8", header(index))


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def test_stream_of_100_images_at_30hz(ros_context):
    harness = Harness(ros_context)
    try:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (FRAMES, 48, 80, 3), dtype=np.uint8)
        sent_valid = []
        warmup = 20
        for index in range(FRAMES):
            if index == warmup:
                gc.collect()
                tracemalloc.start()
                rss_start, traced_start = rss_mb(), tracemalloc.get_traced_memory()[0]
            msg = stream_image(index, images[index])
            if index % EVERY_INVALID != EVERY_INVALID - 1:
                sent_valid.append((msg.header.stamp.sec, msg.header.stamp.nanosec))
            harness.images.publish(msg)
            time.sleep(1.0 / RATE_HZ)
        n_invalid = FRAMES - len(sent_valid)

        def settled() -> bool:
            stats = harness.node.stats.snapshot()
            return stats.frames_received == FRAMES and stats.frames_encoded + stats.frames_dropped == len(sent_valid)

        wait_for(settled, 10.0, "every frame encoded or dropped")
        wait_for(lambda: len(harness.embeddings) == harness.node.stats.snapshot().frames_encoded, 5.0, "embeddings")
        gc.collect()
        traced_growth_mb = (tracemalloc.get_traced_memory()[0] - traced_start) / 2**20
        tracemalloc.stop()
        rss_growth_mb = rss_mb() - rss_start

        stats = harness.node.stats.snapshot()
        assert stats.frames_invalid == n_invalid == 10
        assert stats.frames_encoded >= 10, stats
        assert "invalid image" in stats.last_error

        stamps = [(e.header.stamp.sec, e.header.stamp.nanosec) for e in harness.embeddings]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert set(stamps) <= set(sent_valid)
        assert stamps[-1] == sent_valid[-1]  # the newest frame is never lost
        for embedding in harness.embeddings:
            assert (embedding.frames, embedding.height, embedding.width, embedding.dim) == (1, 4, 4, 192)
            assert len(embedding.data) == 16 * 192 and embedding.normalized
            assert embedding.header.frame_id == "camera_optical" and embedding.model == "preset:parity_tiny"

        # The published values are the FrameEncoder's for that very image (bgr8 with padded rows included).
        reference = FrameEncoder(harness.node.encoder_config)
        for embedding in harness.embeddings[-3:]:
            index = embedding.header.stamp.sec - 1000
            expected = reference.encode(images[index][None])[0]
            torch.testing.assert_close(embedding_msg_to_tokens(embedding), expected, atol=1e-5, rtol=0)

        wait_for(lambda: harness.statuses and harness.statuses[-1].frames_received == FRAMES, 3.0, "status")
        status = harness.statuses[-1]
        assert (status.frames_invalid, status.frames_encoded) == (n_invalid, stats.frames_encoded)
        assert status.backend == "torch" and status.device == "cpu"
        assert 0.0 < status.latency_ms_p50 <= status.latency_ms_p95

        assert traced_growth_mb < MAX_TRACEMALLOC_GROWTH_MB, f"python heap grew {traced_growth_mb:.2f} MB"
        assert rss_growth_mb < MAX_RSS_GROWTH_MB, f"RSS grew {rss_growth_mb:.1f} MB"

        good = harness.call(array_to_image_msg(images[5], "rgb8", header(5)))
        assert good.success and good.message == ""
        assert (good.embedding.header.stamp.sec, good.embedding.frames) == (1005, 1)
        torch.testing.assert_close(
            embedding_msg_to_tokens(good.embedding), reference.encode(images[5][None])[0], atol=1e-5, rtol=0
        )
        bad = harness.call(Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(5)))
        assert not bad.success and "data has 5 bytes" in bad.message
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        harness.close()


def test_compressed_images_in_rolling_clips(ros_context):
    harness = Harness(ros_context, compressed=True, frames_per_clip=4, qos_depth=20)
    try:
        rng = np.random.default_rng(1)
        for index in range(6):
            rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            harness.images.publish(rgb8_to_compressed_msg(rgb, "png", header(index)))
            wait_for(lambda i=index: harness.node.stats.snapshot().frames_received == i + 1, 5.0, "frame receipt")
            time.sleep(0.2)  # slow stream: every frame is encoded, the clip advances by one frame each time
        wait_for(lambda: len(harness.embeddings) == 3, 5.0, "3 clip embeddings (frames 3, 4, 5)")
        assert [e.header.stamp.sec - 1000 for e in harness.embeddings] == [3, 4, 5]
        assert all((e.frames, e.height, e.width, len(e.data)) == (2, 4, 4, 32 * 192) for e in harness.embeddings)
        assert harness.node.stats.snapshot().frames_dropped == 0
        response = harness.call(array_to_image_msg(np.zeros((48, 64, 3), np.uint8), "rgb8", header(9)))
        assert response.success and response.embedding.frames == 2
    finally:
        harness.close()


def test_node_without_checkpoint_refuses_to_start(ros_context):
    with pytest.raises(ConfigureError, match="checkpoint is empty"):  # autostart's configure failed (FrameEncoderError)
        EncoderNode(context=ros_context)
    with pytest.raises(ValueError, match="parameter qos_depth must be >= 1"):
        EncoderNode(context=ros_context, parameter_overrides=node_parameters(qos_depth=0))


def test_decompression_bomb_costs_one_frame_not_the_node(ros_context):
    """Issue 13 item 9: a 70-byte PNG declaring 20000x20000 px is a counted invalid frame; the stream goes on."""
    from tests.unit.test_ros_common_images import png_declaring

    harness = Harness(ros_context, compressed=True)
    try:
        bomb = CompressedImage(header=header(0), format="png")
        bomb.data = png_declaring(20000, 20000)
        harness.images.publish(bomb)
        wait_for(lambda: harness.node.stats.snapshot().frames_invalid == 1, 5.0, "the bomb counted invalid")
        assert "DecompressionBombError" in harness.node.stats.snapshot().last_error
        harness.images.publish(rgb8_to_compressed_msg(np.zeros((48, 64, 3), np.uint8), "png", header(1)))
        wait_for(lambda: len(harness.embeddings) == 1, 5.0, "the next frame's embedding")
        assert harness.thread.is_alive()
    finally:
        harness.close()


def test_worker_never_publishes_after_the_context_is_shut_down(ros_context):
    """Issue 13 item 12: a frame being encoded when a signal shuts the context down is dropped quietly."""
    context = ros_context
    harness = Harness(context)
    try:
        entered, release = threading.Event(), threading.Event()
        encode = harness.node.encoder.encode

        def slow_encode(images):
            entered.set()
            release.wait(5.0)
            return encode(images)

        harness.node.encoder.encode = slow_encode
        harness.images.publish(stream_image(0, np.zeros((48, 80, 3), np.uint8)))
        assert entered.wait(5.0), "the worker never started encoding"
        harness.executor.shutdown(timeout_sec=5.0)  # in a process, spin ends with ExternalShutdownException instead
        with context.handle:  # what rclpy's SIGINT/SIGTERM handler does: rcl_shutdown, the node still alive
            context.handle.shutdown()
        release.set()
        harness.node._worker.join(timeout=5.0)
        stats = harness.node.stats.snapshot()
        assert (stats.frames_encoded, stats.frames_invalid, stats.last_error) == (0, 0, ""), "published after shutdown"
        assert not harness.node._worker.is_alive(), "the worker kept running after shutdown"
    finally:
        harness.thread.join(timeout=5.0)
        harness.node.destroy_node()
        harness.peer.destroy_node()


# ---- issue 24 items 3 and 4: managed lifecycle and /diagnostics -----------------------------------------------------


def nothing_within(condition, timeout: float) -> bool:
    """True when `condition` stays false for `timeout` s (what must not happen, e.g. an embedding while inactive)."""
    try:
        wait_for(condition, timeout, "")
    except AssertionError:
        return True
    return False


def test_a_supervisor_drives_the_lifecycle(ros_context):
    """configure loads the model, activate encodes and answers, deactivate refuses work, cleanup frees the model."""
    harness = Harness(ros_context, autostart=False)
    try:
        node, image = harness.node, array_to_image_msg(np.zeros((48, 64, 3), np.uint8), "rgb8", header(1))
        assert node.state_label == "unconfigured" and node.encoder is None  # nothing loaded yet
        refused = harness.call(image)
        assert not refused.success and "unconfigured, not active" in refused.message
        assert harness.change_state(Transition.TRANSITION_CONFIGURE) and node.state_label == "inactive"
        harness.wait_for_subscription()
        assert "inactive, not active" in harness.call(image).message
        harness.images.publish(image)
        assert nothing_within(lambda: harness.embeddings or node.stats.snapshot().frames_received, 0.5)

        assert harness.change_state(Transition.TRANSITION_ACTIVATE)
        assert harness.call(image).success
        harness.images.publish(image)
        wait_for(lambda: len(harness.embeddings) == 1, 5.0, "an embedding once active")

        assert harness.change_state(Transition.TRANSITION_DEACTIVATE)
        assert "inactive, not active" in harness.call(image).message
        harness.images.publish(image)
        assert nothing_within(lambda: len(harness.embeddings) > 1, 0.5)
        assert node.stats.snapshot().frames_received == 1  # frames are ignored, not queued, while inactive

        model = weakref.ref(node.encoder)
        assert harness.change_state(Transition.TRANSITION_CLEANUP) and node.encoder is None
        assert model() is None, "cleanup left the encoder alive"
        assert harness.change_state(Transition.TRANSITION_CONFIGURE)
        assert harness.change_state(Transition.TRANSITION_ACTIVATE)
        harness.images.publish(image)
        wait_for(lambda: len(harness.embeddings) == 2, 5.0, "an embedding after reconfiguring")
    finally:
        harness.close()


def test_a_failed_configure_keeps_the_node_unconfigured_with_the_reason(ros_context):
    harness = Harness(ros_context, allow_random_weights=False, autostart=False)
    try:
        assert not harness.change_state(Transition.TRANSITION_CONFIGURE)
        assert harness.node.state_label == "unconfigured" and "checkpoint is empty" in harness.node.last_error
        wait_for(lambda: (s := harness.latest_diagnostics()) is not None and s.level == DiagnosticStatus.ERROR, 5.0,
                 "an ERROR status naming the failed configure")  # fmt: skip
        assert "checkpoint is empty" in harness.latest_diagnostics().message
    finally:
        harness.close()


def test_an_embedding_is_counted_before_it_is_published(ros_context):
    """A diagnostics report never lags an embedding a subscriber already has (the count came after the publish, so a
    loaded CI run read frames_encoded 0 after its embedding)."""
    harness = Harness(ros_context)
    counts_at_publish = []
    publish = harness.node._embedding_pub.publish

    def counting_publish(msg):
        counts_at_publish.append(harness.node.stats.snapshot().frames_encoded)
        publish(msg)

    harness.node._embedding_pub.publish = counting_publish
    try:
        harness.images.publish(array_to_image_msg(np.zeros((48, 64, 3), np.uint8), "rgb8", header(1)))
        wait_for(lambda: harness.embeddings, 5.0, "an embedding")
        assert counts_at_publish == [1]
    finally:
        harness.close()


def test_diagnostics_levels_follow_the_limits(ros_context):
    """WARN without camera images, OK once images are encoded within the limits, WARN / ERROR above the latency
    limits (set live), WARN after an invalid frame and while inactive."""
    harness = Harness(ros_context, diagnostics_period_s=0.1)
    node = harness.node
    latest = harness.latest_diagnostics

    def reaches(level: int, text: str, **values: str) -> None:
        """Wait for a report of `level` whose message has `text` and whose values include `values` (a report taken
        before the last event can still be the latest one for a while on a loaded machine)."""

        def matches(s) -> bool:
            reported = {kv.key: kv.value for kv in s.values}
            return s.level == level and text in s.message and all(reported.get(k) == v for k, v in values.items())

        wait_for(lambda: (s := latest()) is not None and matches(s), 5.0, f"level {level} with {text!r}, {values}")

    try:
        reaches(DiagnosticStatus.WARN, "input rate 0.00 Hz below 1.0 Hz")
        harness.images.publish(array_to_image_msg(np.zeros((48, 64, 3), np.uint8), "rgb8", header(1)))
        wait_for(lambda: harness.embeddings, 5.0, "an embedding")
        assert all(r.successful for r in node.set_parameters([Parameter("diagnostics_min_input_rate_hz", value=0.0)]))
        reaches(DiagnosticStatus.OK, "ok", frames_encoded="1")
        values = {kv.key: kv.value for kv in latest().values}
        assert values["model"] == "preset:parity_tiny"
        assert {"input_rate_hz", "encode_latency_ms_p50", "encode_latency_ms_p95", "frames_dropped"} <= set(values)

        assert node.set_parameters([Parameter("diagnostics_latency_warn_ms", value=0.001)])[0].successful
        reaches(DiagnosticStatus.WARN, "encode_latency_ms_p95")
        assert node.set_parameters([Parameter("diagnostics_latency_error_ms", value=0.002)])[0].successful
        reaches(DiagnosticStatus.ERROR, "encode_latency_ms_p95")
        bad = node.set_parameters([Parameter("diagnostics_latency_error_ms", value=-1.0)])[0]
        assert not bad.successful and "finite >= 0" in bad.reason
        node.set_parameters([Parameter("diagnostics_latency_warn_ms", value=0.0),
                             Parameter("diagnostics_latency_error_ms", value=0.0)])  # fmt: skip
        harness.images.publish(Image(header=header(2), height=2, width=2, encoding="rgb8", step=6, data=bytes(5)))
        reaches(DiagnosticStatus.WARN, "1 invalid frames")
        assert harness.change_state(Transition.TRANSITION_DEACTIVATE)
        reaches(DiagnosticStatus.WARN, "inactive")
    finally:
        harness.close()


def test_two_cameras_paired_by_stamp_give_one_embedding_naming_both_views(ros_context, tmp_path):
    torch.manual_seed(0)
    built = build_encoder("vit_tiny_128", img_size=(32, 64), num_frames=2, depth=1)
    checkpoint = save_checkpoint(tmp_path / "views.pt", encoder=built, target_encoder=built)
    two_views = {"checkpoint": str(checkpoint), "preset": "", "allow_random_weights": False, "image_size": 0}
    with pytest.raises(ConfigureError, match="set wrist_image_topic"):  # a two-view encoder fed one camera
        EncoderNode(context=ros_context, parameter_overrides=node_parameters(**two_views))
    harness = Harness(ros_context, **two_views, wrist_image_topic="wrist_camera/image_raw", pair_tolerance_s=0.02)
    try:
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        wrist = harness.peer.create_publisher(Image, "wrist_camera/image_raw", qos)
        wait_for(lambda: wrist.get_subscription_count() > 0, 5.0, "wrist subscription")
        rng = np.random.default_rng(0)
        exterior_rgb, wrist_rgb = (rng.integers(0, 256, (48, 48, 3), dtype=np.uint8) for _ in range(2))
        harness.images.publish(array_to_image_msg(exterior_rgb, "rgb8", header(1)))
        wrist.publish(array_to_image_msg(wrist_rgb, "rgb8", header(5)))  # 4 s apart: not a pair
        wrist.publish(array_to_image_msg(wrist_rgb, "rgb8", header(1)))  # same stamp: the pair
        wait_for(lambda: harness.embeddings, 10.0, "the paired embedding")
        (embedding,) = harness.embeddings
        assert list(embedding.views) == ["exterior", "wrist"] and (embedding.height, embedding.width) == (2, 4)
        expected = harness.node.encoder.encode(tile_views([exterior_rgb, wrist_rgb])[None])[0]
        torch.testing.assert_close(embedding_msg_to_tokens(embedding), expected, atol=1e-5, rtol=0)
        wait_for(lambda: harness.node.stats.snapshot().frames_dropped == 1, 5.0, "the unpaired wrist image dropped")
    finally:
        harness.close()
