"""builtin_interfaces/Time message stamps <-> seconds."""

from __future__ import annotations

from builtin_interfaces.msg import Time

NANOSECONDS = 1_000_000_000


def stamp_seconds(stamp: Time) -> float:
    """A message stamp in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_from_seconds(seconds: float) -> Time:
    """The stamp of a non-negative time in seconds (rounded to the nanosecond)."""
    sec, nanosec = divmod(round(seconds * NANOSECONDS), NANOSECONDS)
    return Time(sec=sec, nanosec=nanosec)
