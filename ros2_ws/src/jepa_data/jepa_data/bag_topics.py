"""What a recorded topic becomes in ROS: the Python class of its message type and the QoS it was recorded with."""

from __future__ import annotations

import importlib

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import QosDurability, QosHistory, QosReliability

from jepa_core.data.playback import TopicInfo

DEFAULT_DEPTH = 10  # keep-last depth when the recording has none (rosbag2's default)


def message_class(msgtype: str) -> type:
    """Python class of a ROS 2 message type given as 'pkg/msg/Type'."""
    package, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def qos_for(info: TopicInfo) -> QoSProfile:
    """Publisher QoS from the profiles the topic was recorded with: best effort if any publisher offered it,
    transient-local only if all did, keep-all if any did, else keep-last with the largest recorded depth."""
    profiles = info.qos
    if not profiles:
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=DEFAULT_DEPTH)
    best_effort = any(p.reliability == QosReliability.BEST_EFFORT for p in profiles)
    transient = all(p.durability == QosDurability.TRANSIENT_LOCAL for p in profiles)
    keep_all = any(p.history == QosHistory.KEEP_ALL for p in profiles)
    return QoSProfile(
        history=HistoryPolicy.KEEP_ALL if keep_all else HistoryPolicy.KEEP_LAST,
        depth=max([DEFAULT_DEPTH if keep_all else 1, *(p.depth for p in profiles)]),
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE,
    )
