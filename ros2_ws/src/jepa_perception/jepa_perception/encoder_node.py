"""Perception node: camera images -> V-JEPA 2 embeddings (jepa_msgs/Embedding), latest frame only, never a backlog.

A managed node (jepa_ros_common.lifecycle): configure loads the encoder (checks the checkpoint) and creates the image
subscription and the embedding publisher; activate starts encoding the stream and answering `~/encode_image`;
deactivate stops both (frames are ignored, encode_image answers with the reason); cleanup frees the model.
The subscription callback validates and converts each image and stores it in a one-item slot (a frame overwritten
before it was encoded counts as dropped); a worker thread encodes the newest frame and publishes its embedding with
the image's header. `perception_status` reports counts and latency (image receipt -> embedding publish) about once a
second, /diagnostics the same judged against limits (jepa_perception.status); problems are logged at a throttled
rate. Everything model-related lives in jepa_core.frame_encoder.FrameEncoder.
With `wrist_image_topic` set, the node also subscribes to the wrist camera: the newest exterior and wrist images whose
stamps lie within `pair_tolerance_s` of each other are tiled into one frame (exterior | wrist, jepa_core.views) for an
encoder built for two views, and the embedding (header of the exterior image) names its `views`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from rclpy.exceptions import InvalidHandle
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from jepa_core.frame_encoder import FrameEncoder, FrameEncoderConfig, FrameEncoderError, RollingClip
from jepa_core.views import tile_views
from jepa_msgs.msg import Embedding, PerceptionStatus
from jepa_msgs.srv import EncodeImage
from jepa_perception.frame_pipeline import LatestSlot, PipelineStats
from jepa_perception.status import DIAGNOSTICS_PARAMETERS, DiagnosticLimits, perception_report
from jepa_perception.view_pairing import ViewPairer
from jepa_ros_common.diagnostics import DiagnosticsPublisher, Report
from jepa_ros_common.embeddings import tokens_to_embedding_msg
from jepa_ros_common.images import DEFAULT_MAX_PIXELS, ImageConversionError, compressed_msg_to_rgb8, image_msg_to_rgb8
from jepa_ros_common.lifecycle import AUTOSTART, ManagedNode, destroy_entities
from jepa_ros_common.parameters import Param, declare_table
from jepa_ros_common.process import run_node
from jepa_ros_common.stamps import stamp_nanoseconds

NODE_NAME = "encoder_node"
RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}

ENCODER_DESCRIPTIONS = {
    "checkpoint": "encoder checkpoint file (official or ours); empty needs allow_random_weights",
    "preset": "encoder preset or AC predictor preset (jepa_core.presets); with a checkpoint it pins the architecture, "
    "'' or 'auto' = the checkpoint's stored config, else inferred from its key shapes",
    "checkpoint_key": "checkpoint entry with the encoder weights: 'encoder' (AC checkpoints) or 'target_encoder'",
    "backend": "'torch' or 'onnxruntime'",
    "onnx_path": "ONNX encoder file for backend onnxruntime; exported from the torch encoder when missing",
    "device": "torch device ('cpu', 'cuda', 'cuda:1'); onnxruntime uses its CUDA provider for cuda devices",
    "dtype": "'float32' or 'bfloat16' (torch autocast; onnxruntime: float32 only)",
    "image_size": "model input side in pixels (square centre crop, bilinear resize); 0 = the encoder's own size",
    "frames_per_clip": "1 = each frame duplicated into one tubelet (AC stack); >1 = rolling clip of this many frames",
    "normalize": "apply the AC stack's parameter-free layer_norm (eps 1e-5) to the tokens",
    "allow_random_weights": "tests/benchmarks only: build `preset` with random weights when checkpoint is empty",
    "seed": "seed of the random weights (allow_random_weights)",
    "num_threads": "CPU threads for torch and onnxruntime (0 = library default)",
    "nonfinite_weights": "checkpoint holding NaN/inf weights: 'refuse' to start or 'warn' and run anyway",
}


@dataclass(frozen=True)
class NodeSettings:
    """The node's topics, QoS and reporting, besides the encoder's FrameEncoderConfig."""

    image_topic: str = "camera/image_raw"  # sensor_msgs/Image (or CompressedImage when `compressed`)
    wrist_image_topic: str = ""  # the wrist camera's images, paired with image_topic's by stamp; "" = one camera
    pair_tolerance_s: float = 0.02  # exterior and wrist images pair when their stamps differ by at most this, s
    compressed: bool = False  # subscribe to sensor_msgs/CompressedImage (jpeg/png) on image_topic
    embedding_topic: str = "~/embedding"  # jepa_msgs/Embedding out
    status_topic: str = "perception_status"  # jepa_msgs/PerceptionStatus out
    encode_service: str = "~/encode_image"  # jepa_msgs/srv/EncodeImage
    qos_reliability: str = "best_effort"  # image subscription reliability: best_effort (sensor data) or reliable
    qos_depth: int = 1  # image subscription queue depth (only the newest frame is ever encoded)
    max_image_pixels: int = DEFAULT_MAX_PIXELS  # larger images (width x height) are refused before decoding
    status_period_s: float = 1.0  # perception_status period, s
    log_throttle_s: float = 5.0  # at most one warning about rejected frames in this period, s
    stats_log_period_s: float = 30.0  # period of an info line with counts and latency, s; 0 = never

    def validate(self) -> None:
        """Raise ValueError naming the parameter whose value cannot work."""
        if self.qos_reliability not in RELIABILITY:
            raise ValueError(
                f"parameter qos_reliability must be one of {sorted(RELIABILITY)}, got {self.qos_reliability!r}"
            )
        if self.qos_depth < 1:
            raise ValueError(f"parameter qos_depth must be >= 1, got {self.qos_depth}")
        if self.max_image_pixels < 1:
            raise ValueError(f"parameter max_image_pixels must be >= 1, got {self.max_image_pixels}")
        if self.status_period_s <= 0:
            raise ValueError(f"parameter status_period_s must be > 0, got {self.status_period_s}")
        if not self.pair_tolerance_s >= 0:
            raise ValueError(f"parameter pair_tolerance_s must be >= 0, got {self.pair_tolerance_s}")

    @property
    def views(self) -> tuple[str, ...]:
        """The camera views of each frame, in tile order."""
        return ("exterior", "wrist") if self.wrist_image_topic else ("exterior",)


NODE_DESCRIPTIONS = {
    "image_topic": "camera image topic (sensor_msgs/Image, or CompressedImage when compressed)",
    "wrist_image_topic": "wrist camera image topic, tiled right of image_topic's frames (two-view encoders); '' = none",
    "pair_tolerance_s": "largest stamp difference of an exterior and a wrist image encoded together, s",
    "compressed": "subscribe to sensor_msgs/CompressedImage (jpeg/png) instead of raw images",
    "embedding_topic": "jepa_msgs/Embedding output, header copied from the image",
    "status_topic": "jepa_msgs/PerceptionStatus output",
    "encode_service": "jepa_msgs/srv/EncodeImage service name",
    "qos_reliability": "image subscription reliability: 'best_effort' (sensor data) or 'reliable'",
    "qos_depth": "image subscription queue depth (only the newest frame is encoded)",
    "max_image_pixels": "largest accepted image, width x height px; larger ones are refused before decoding",
    "status_period_s": "period of perception_status, s",
    "log_throttle_s": "minimum time between two warnings about rejected frames, s",
    "stats_log_period_s": "period of an info log line with frame counts and latency, s; 0 = never",
}


@dataclass(frozen=True)
class PendingFrame:
    """A converted camera frame waiting for the encoder."""

    rgb: np.ndarray  # [H, V*W, 3] uint8: the views side by side
    header: Header
    received: float  # time.monotonic() at receipt


PARAMETERS: tuple[Param, ...] = (
    *(
        Param(field.name, field.default, descriptions[field.name])
        for config_type, descriptions in ((FrameEncoderConfig, ENCODER_DESCRIPTIONS), (NodeSettings, NODE_DESCRIPTIONS))
        for field in fields(config_type)
    ),
    AUTOSTART,
    *DIAGNOSTICS_PARAMETERS,
)


class EncoderNode(ManagedNode):
    """Managed node that subscribes to camera images, publishes embeddings and status, serves encode_image."""

    def __init__(self, **node_kwargs: Any) -> None:
        """Declare and check the parameters, create the status, service and diagnostics, then autostart."""
        super().__init__(NODE_NAME, **node_kwargs)
        self._slot: LatestSlot[PendingFrame] = LatestSlot()
        self._slot.close()  # no worker until configure
        self._worker: threading.Thread | None = None
        self._entities: list = []  # what configure created and cleanup destroys
        self.encoder: FrameEncoder | None = None
        self._clip: RollingClip | None = None
        self._pairer: ViewPairer[PendingFrame] | None = None  # the views of one frame, made by configure
        self._embedding_pub = None
        self._values = values = declare_table(self, PARAMETERS, on_change=self._on_parameters)
        self.encoder_config = FrameEncoderConfig(**{f.name: values[f.name] for f in fields(FrameEncoderConfig)})
        self.settings = NodeSettings(**{f.name: values[f.name] for f in fields(NodeSettings)})
        self.settings.validate()
        self.limits = DiagnosticLimits.from_values(values)
        self.stats = PipelineStats()
        self._image_type = CompressedImage if self.settings.compressed else Image
        self._to_rgb = compressed_msg_to_rgb8 if self.settings.compressed else image_msg_to_rgb8  # (msg, max_pixels)
        self._status_pub = self.create_publisher(PerceptionStatus, self.settings.status_topic, 10)
        self.create_service(EncodeImage, self.settings.encode_service, self._on_encode_image)
        self.create_timer(self.settings.status_period_s, self._publish_status)
        if self.settings.stats_log_period_s > 0:
            self.create_timer(self.settings.stats_log_period_s, self._log_stats)
        DiagnosticsPublisher(self, self._diagnose, values["diagnostics_period_s"])
        self.autostart()

    # ---- lifecycle and parameters --------------------------------------------------------------------------------
    def configure(self) -> None:
        """Load the encoder (FrameEncoderError names a bad checkpoint), create the image subscription and the
        embedding publisher, start the worker."""
        if self.encoder_config.num_threads > 0:
            torch.set_num_threads(self.encoder_config.num_threads)
        self.encoder = FrameEncoder(self.encoder_config)
        views = self.settings.views
        if self.encoder.views != len(views):
            raise FrameEncoderError(
                f"{self.encoder_config.model_name} reads {self.encoder.views} camera view(s), the node has {views}: "
                f"set wrist_image_topic for a two-view encoder, '' for a one-view encoder"
            )
        self._pairer = ViewPairer(views, round(self.settings.pair_tolerance_s * 1e9))
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self.settings.qos_depth,
            reliability=RELIABILITY[self.settings.qos_reliability],
            durability=DurabilityPolicy.VOLATILE,
        )
        self._embedding_pub = self.create_lifecycle_publisher(Embedding, self.settings.embedding_topic, 10)
        topics = (self.settings.image_topic, self.settings.wrist_image_topic)
        self._entities = [
            *(
                self.create_subscription(self._image_type, topic, lambda msg, view=view: self._on_image(msg, view), qos)
                for view, topic in zip(views, topics, strict=False)
            ),
            self._embedding_pub,
        ]
        self._slot = LatestSlot()
        self._worker = threading.Thread(target=self._encode_loop, args=(self._slot,), name="encoder_worker",
                                        daemon=True)  # fmt: skip
        self._worker.start()
        self.get_logger().info(
            f"encoder configured: {' | '.join(topics[: len(views)])} -> {self.settings.embedding_topic} with "
            f"{self.encoder_config.model_name} "
            f"({self.encoder_config.backend}, {self.encoder_config.device}, {self.encoder_config.dtype}, "
            f"grid {self.encoder.grid})"
        )

    def activate(self) -> None:
        """Start encoding: a fresh rolling clip and input-rate window (frames were ignored while inactive)."""
        self._clip = RollingClip(self.encoder.clip_frames) if self.encoder_config.frames_per_clip > 1 else None
        self.stats.restart_rate()

    def deactivate(self) -> None:
        """Stop encoding: the frame waiting for the worker is discarded (not counted as dropped)."""
        self._slot.take(timeout=0.0)

    def cleanup(self) -> None:
        """Stop the worker, destroy what configure created and drop the model (memory back to the device)."""
        self._stop_worker()
        destroy_entities(self, self._entities)
        self._entities, self._embedding_pub, self.encoder, self._clip, self._pairer = [], None, None, None, None

    def _on_parameters(self, changed: dict) -> None:
        """Live parameters (the diagnostics limits): used from the next report."""
        self._values = self._values | changed
        self.limits = DiagnosticLimits.from_values(self._values)

    def _diagnose(self) -> Report:
        """The /diagnostics report (status.perception_report)."""
        return perception_report(self.state_label, self.last_error, self.stats.snapshot(), self.limits,
                                 self.encoder_config.model_name)  # fmt: skip

    # ---- the stream ----------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image | CompressedImage, view: str) -> None:
        """Validate and convert; pair the views by stamp; keep only the newest frame (an unencoded or unpaired one it
        replaces counts as dropped). Ignored unless active."""
        if not self.is_active:
            return
        received = time.monotonic()
        self.stats.received()
        try:
            rgb = self._to_rgb(msg, self.settings.max_image_pixels)
        except ImageConversionError as error:
            self._reject(f"invalid image: {error}")
            return
        except Exception as error:  # whatever a decoder raises costs one frame, never the process
            self._reject(f"invalid image: {type(error).__name__}: {error}")
            return
        pending = PendingFrame(rgb, msg.header, received)
        views, unpaired = self._pairer.add(view, stamp_nanoseconds(msg.header.stamp), pending)
        if unpaired:
            self.stats.dropped()
        if views is None:
            return
        try:
            frame = PendingFrame(tile_views([v.rgb for v in views]), views[0].header, min(v.received for v in views))
        except ValueError as error:  # views of different sizes
            self._reject(f"invalid view pair: {error}")
            return
        if self._slot.put(frame):
            self.stats.dropped()

    def _reject(self, reason: str) -> None:
        """Count a rejected frame and log it at a throttled rate; nothing is published for it."""
        self.stats.invalid(reason)
        self.get_logger().warning(reason, throttle_duration_sec=self.settings.log_throttle_s)

    def _encode_loop(self, slot: LatestSlot[PendingFrame]) -> None:
        """Worker thread: encode the newest frame of `slot` whenever there is one, until the slot is closed (cleanup,
        destroy) or the context shut down (a signal): from then on nothing is published and nothing counts as a
        failure."""
        while not slot.closed and self._context_up():
            frame = slot.take(timeout=0.5)
            if frame is None:
                continue
            try:
                self._encode_and_publish(frame)
            except Exception as error:  # a failing frame must not stop the stream; it is counted and logged
                if not self._context_up():  # the context went away during this frame: stopping, not failing
                    return
                self._reject(f"encoding failed: {type(error).__name__}: {error}")

    def _encode_and_publish(self, frame: PendingFrame) -> None:
        """Encode one frame (or the rolling clip ending with it) and publish its embedding."""
        if self._clip is None:
            tokens = self.encoder.encode(frame.rgb[None])  # [1, N, D]
        else:
            video = self._clip.push(self.encoder.preprocess(frame.rgb[None])[0])  # [1, 3, T, S, S] or None
            if video is None:
                return
            tokens = self.encoder.encode_video(video)
        msg = self._embedding_msg(tokens[0], frame.header)
        if not self._context_up() or not self.is_active:  # shut down or deactivated while encoding
            return
        self.stats.encoded((time.monotonic() - frame.received) * 1000.0)  # counted first: no report lags an embedding
        self._embedding_pub.publish(msg)

    def _context_up(self) -> bool:
        """Whether the rcl context is still valid (a signal invalidates it before the node is destroyed). Asked of the
        rcl context itself: Context.ok() waits for the lock that rclpy.shutdown holds while it destroys this node,
        which joins this worker."""
        context = self.context.handle
        try:
            with context:
                return context.ok()
        except InvalidHandle:
            return False

    def _embedding_msg(self, tokens: torch.Tensor, header: Header) -> Embedding:
        """Embedding message for tokens [N, D] of this node's encoder."""
        config = self.encoder_config
        views = self.settings.views if len(self.settings.views) > 1 else ()
        return tokens_to_embedding_msg(tokens, self.encoder.grid, header, config.normalize, config.model_name, views)

    def _on_encode_image(self, request: EncodeImage.Request, response: EncodeImage.Response) -> EncodeImage.Response:
        """Encode one image with the stream's preprocessing (frames_per_clip > 1: a static clip of that image); refused
        with the reason unless active."""
        encoder = self.encoder  # cleanup may drop it meanwhile (multi-threaded executors)
        if not self.is_active or encoder is None:
            response.success = False
            response.message = f"{NODE_NAME} is {self.state_label}, not active: refused until it is activated"
            self.get_logger().warning(f"encode_image: {response.message}", throttle_duration_sec=5.0)
            return response
        try:
            rgb = image_msg_to_rgb8(request.image, self.settings.max_image_pixels)
            response.embedding = self._embedding_msg(encoder.encode(rgb[None])[0], request.image.header)
        except ImageConversionError as error:
            response.success, response.message = False, f"invalid image: {error}"
        except Exception as error:  # the caller gets the reason; the node keeps serving
            response.success, response.message = False, f"encoding failed: {type(error).__name__}: {error}"
        else:
            response.success, response.message = True, ""
        if not response.success:
            self.get_logger().warning(f"encode_image: {response.message}")
        return response

    def _publish_status(self) -> None:
        """PerceptionStatus with the counters and the latency of the recent window."""
        snapshot = self.stats.snapshot()
        msg = PerceptionStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.backend, msg.device, msg.model = (
            self.encoder_config.backend,
            self.encoder_config.device,
            self.encoder_config.model_name,
        )
        msg.frames_received, msg.frames_encoded = snapshot.frames_received, snapshot.frames_encoded
        msg.frames_dropped, msg.frames_invalid = snapshot.frames_dropped, snapshot.frames_invalid
        msg.latency_ms_last, msg.latency_ms_p50 = snapshot.latency_ms_last, snapshot.latency_ms_p50
        msg.latency_ms_p95, msg.last_error = snapshot.latency_ms_p95, snapshot.last_error
        self._status_pub.publish(msg)

    def _log_stats(self) -> None:
        """One info line with the counters and latency (the low-rate human-readable twin of perception_status)."""
        s = self.stats.snapshot()
        self.get_logger().info(
            f"frames received {s.frames_received}, encoded {s.frames_encoded}, dropped {s.frames_dropped}, "
            f"invalid {s.frames_invalid}; latency ms last {s.latency_ms_last:.1f} p50 {s.latency_ms_p50:.1f} "
            f"p95 {s.latency_ms_p95:.1f}" + (f"; last error: {s.last_error}" if s.last_error else "")
        )

    def _stop_worker(self) -> None:
        """Close the worker's slot and wait for the worker to finish its frame."""
        self._slot.close()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None

    def destroy_node(self) -> None:
        """Stop the worker thread, then destroy the node."""
        self._stop_worker()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console script `encoder_node`: spin until SIGINT/SIGTERM (once or twice), then stop the worker and exit 0."""
    run_node(EncoderNode, args)
