"""Latest-only slot and counters/latency window of jepa_perception; round trip of the Embedding it publishes."""

import math
import threading
import time

import pytest
import torch
from std_msgs.msg import Header

from jepa_core.frame_encoder import TokenGrid
from jepa_perception.frame_pipeline import LatestSlot, PipelineStats
from jepa_ros_common.embeddings import embedding_msg_to_tokens, tokens_to_embedding_msg


def test_slot_keeps_only_the_latest():
    slot = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True  # 1 was never taken: dropped
    assert slot.put(3) is True
    assert slot.take(timeout=0.0) == 3
    assert slot.take(timeout=0.01) is None


def test_slot_wakes_a_waiting_taker_and_close_releases_it():
    slot = LatestSlot()
    results = []
    taker = threading.Thread(target=lambda: results.append(slot.take(timeout=5.0)))
    taker.start()
    time.sleep(0.05)
    slot.put("frame")
    taker.join(timeout=2.0)
    assert results == ["frame"]
    waiter = threading.Thread(target=lambda: results.append(slot.take(timeout=5.0)))
    waiter.start()
    start = time.monotonic()
    slot.close()
    waiter.join(timeout=2.0)
    assert results == ["frame", None] and time.monotonic() - start < 1.0


def test_stats_counts_and_percentiles():
    stats = PipelineStats(latency_window=100)
    empty = stats.snapshot()
    assert empty.frames_received == 0 and math.isnan(empty.latency_ms_p50)
    for latency in range(1, 201):  # window keeps the last 100: 101..200
        stats.received()
        stats.encoded(float(latency))
    stats.dropped()
    stats.invalid("bad step")
    snapshot = stats.snapshot()
    assert (snapshot.frames_received, snapshot.frames_encoded, snapshot.frames_dropped) == (200, 200, 1)
    assert (snapshot.frames_invalid, snapshot.last_error, snapshot.latency_ms_last) == (1, "bad step", 200.0)
    assert snapshot.latency_ms_p50 == pytest.approx(150.5) and snapshot.latency_ms_p95 == pytest.approx(195.05)


def test_embedding_message_round_trip():
    grid = TokenGrid(frames=2, height=3, width=4, dim=5)
    tokens = torch.randn(grid.tokens, grid.dim)
    header = Header(frame_id="cam")
    header.stamp.sec = 7
    msg = tokens_to_embedding_msg(tokens, grid, header, normalized=True, model="m")
    assert (msg.frames, msg.height, msg.width, msg.dim, msg.normalized, msg.model) == (2, 3, 4, 5, True, "m")
    assert msg.header.stamp.sec == 7 and msg.header.frame_id == "cam"
    torch.testing.assert_close(embedding_msg_to_tokens(msg), tokens, atol=0, rtol=0)
    with pytest.raises(ValueError, match="do not match grid"):
        tokens_to_embedding_msg(tokens[:-1], grid, header, normalized=True, model="m")
    msg.data = msg.data[:-1]
    with pytest.raises(ValueError, match="needs 120 values, got 119"):
        embedding_msg_to_tokens(msg)


def test_input_rate_and_recent_invalid_frames_over_the_rate_window():
    now = [100.0]
    stats = PipelineStats(rate_window_s=5.0, clock=lambda: now[0])
    assert stats.snapshot().input_rate_hz == 0.0
    stats.received()
    assert stats.snapshot().input_rate_hz == 1.0  # one image is not a burst: at least 1 s of window
    for _ in range(20):  # 10 Hz for 2 s
        now[0] += 0.1
        stats.received()
    stats.invalid("bad step")
    assert stats.snapshot().input_rate_hz == pytest.approx(21 / 2.0)  # over the 2 s since the first image
    now[0] += 10.0  # the camera went silent
    snapshot = stats.snapshot()
    assert (snapshot.input_rate_hz, snapshot.invalid_recent, snapshot.frames_invalid) == (0.0, 0, 1)
    stats.restart_rate()
    stats.received()
    assert stats.snapshot().input_rate_hz == 1.0
