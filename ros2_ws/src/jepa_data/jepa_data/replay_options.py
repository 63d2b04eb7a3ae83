"""What the player plays and how: its options as a typed dataclass, and the command line that fills them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from jepa_core.data.playback import PlaybackError


@dataclass(frozen=True)
class ReplayOptions:
    """What to play and how (the CLI's options)."""

    rate: float = 1.0  # recorded time per wall time; 0 = as fast as possible
    start_offset: float = 0.0  # s of recorded time skipped at the start
    duration: float = 0.0  # s of recorded time played from there; 0 = to the end
    loop: bool = False  # start again at the end until stopped
    topics: tuple[str, ...] = ()  # recorded topics to play; empty = all but the command topics
    remaps: tuple[tuple[str, str], ...] = ()  # (recorded name, published name)
    clock_hz: float = 0.0  # /clock publications per wall second; 0 = no /clock
    subscriber_wait: float = 2.0  # s to wait at most for every played topic to have a subscriber; 0 = no wait
    start_paused: bool = False  # wait for ~/resume or ~/step before the first message
    progress: bool = True  # progress bar on stderr

    def __post_init__(self) -> None:
        """Reject values that cannot work, naming the option."""
        for name in ("start_offset", "duration", "clock_hz", "subscriber_wait"):
            if getattr(self, name) < 0:
                raise PlaybackError(f"--{name.replace('_', '-')}: expected >= 0, got {getattr(self, name)}")
        if self.rate < 0:
            raise PlaybackError(f"--rate: expected a factor > 0 (or 0 = as fast as possible), got {self.rate}")


def absolute(topic: str) -> str:
    """Topic name with a leading slash (bags store absolute names)."""
    return topic if topic.startswith("/") else f"/{topic}"


def parse_remap(text: str) -> tuple[str, str]:
    """'old:=new' -> ('/old', '/new')."""
    old, sep, new = text.partition(":=")
    if not sep or not old or not new:
        raise PlaybackError(f"--remap: expected OLD:=NEW (e.g. /camera/image_raw:=/cam/image), got {text!r}")
    return absolute(old), absolute(new)


def build_parser(description: str = "") -> argparse.ArgumentParser:
    """The player's command line (ROS arguments go after --ros-args and are not parsed here)."""
    parser = argparse.ArgumentParser(
        prog="ros2 run jepa_data player", description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bags", nargs="+", help="rosbag2 bag folders (MCAP or sqlite3); several play merged in time")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor; 0 = as fast as possible")
    parser.add_argument("--start-offset", type=float, default=0.0, help="skip this many recorded seconds first")
    parser.add_argument("--duration", type=float, default=0.0, help="play this many recorded seconds; 0 = to the end")
    parser.add_argument("--loop", action="store_true", help="start again at the end until Ctrl-C")
    parser.add_argument(
        "--topics", nargs="+", default=[], help="recorded topics to play, command topics included (default: all "
        "but the command topics: target_pose, gripper_command, goal_pose, actions, services, ...)",
    )  # fmt: skip
    parser.add_argument("--remap", action="append", default=[], help="OLD:=NEW topic rename (repeatable)")
    parser.add_argument(
        "--clock", type=float, nargs="?", const=40.0, default=0.0, help="publish /clock at this rate, Hz (default 40)"
    )
    parser.add_argument(
        "--subscriber-wait", type=float, default=2.0,
        help="before the first message, wait at most this many seconds until every played topic has a subscriber "
        "(default 2; 0 = play at once)",
    )  # fmt: skip
    parser.add_argument("--start-paused", action="store_true", help="wait for ~/resume or ~/step before playing")
    parser.add_argument("--stats", type=Path, help="write the summary as JSON to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def options_from(parsed: argparse.Namespace) -> ReplayOptions:
    """ReplayOptions from parsed command-line arguments; raises PlaybackError naming a bad option."""
    return ReplayOptions(
        rate=parsed.rate,
        start_offset=parsed.start_offset,
        duration=parsed.duration,
        loop=parsed.loop,
        topics=tuple(parsed.topics),
        remaps=tuple(parse_remap(text) for text in parsed.remap),
        clock_hz=parsed.clock,
        subscriber_wait=parsed.subscriber_wait,
        start_paused=parsed.start_paused,
        progress=not parsed.no_progress,
    )
