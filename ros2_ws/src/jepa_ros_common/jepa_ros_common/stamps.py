"""builtin_interfaces/Time message stamps <-> seconds and nanoseconds."""

from __future__ import annotations

from builtin_interfaces.msg import Time

NANOSECONDS = 1_000_000_000


def stamp_seconds(stamp: Time) -> float:
    """A message stamp in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_nanoseconds(stamp: Time) -> int:
    """A message stamp in integer nanoseconds (exact, as bag and clock times are kept)."""
    return stamp.sec * NANOSECONDS + stamp.nanosec


def stamp_from_nanoseconds(nanoseconds: int) -> Time:
    """The stamp of a non-negative time in integer nanoseconds."""
    sec, nanosec = divmod(nanoseconds, NANOSECONDS)
    return Time(sec=sec, nanosec=nanosec)


def stamp_from_seconds(seconds: float) -> Time:
    """The stamp of a non-negative time in seconds (rounded to the nanosecond)."""
    return stamp_from_nanoseconds(round(seconds * NANOSECONDS))
