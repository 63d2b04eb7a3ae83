"""Replay a recorded bag into the stack: `ros2 bag play` where ROS 2 has it (apt installs), else training/replay.py.

    ros2 launch launch/replay.launch.py bag:=bags/episode_0001 rate:=1.0 [loop:=true] [clock:=true]
    ros2 launch launch/replay.launch.py bag:=... player:=project       # force the project's player
Both players keep the recorded timing and QoS and take the same options here; the project's player also serves
/replay/pause, /replay/resume and /replay/step (jepa_msgs/srv/ReplayControl).
"""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PLAYERS = ("ros2bag", "project")
TRUE = ("true", "1", "yes")
ROS2_BAG_PLAY = ["ros2", "bag", "play"]
PROJECT_PLAYER = [sys.executable, "-m", "training.replay"]


def ros2_bag_available() -> bool:
    """True when the `ros2` command and its rosbag2 verb (the ros2bag package) are installed."""
    return shutil.which("ros2") is not None and importlib.util.find_spec("ros2bag") is not None


def player_arguments(player: str, bag: str, rate: str, loop: str, clock: str) -> list[str]:
    """Arguments after the player's command for the launch arguments, validated with the argument named (plain
    strings in and out: testable without the launch package)."""
    if not bag:
        raise RuntimeError("replay.launch.py: bag:=<rosbag2 folder> is required")
    if player not in PLAYERS:
        raise RuntimeError(f"replay.launch.py: player must be one of {PLAYERS}, got {player!r}")
    try:
        valid_rate = float(rate) > 0
    except ValueError:
        valid_rate = False
    if not valid_rate:
        raise RuntimeError(f"replay.launch.py: rate must be a number > 0, got {rate!r}")
    arguments = [bag, "--rate", rate]
    arguments += ["--loop"] if loop.lower() in TRUE else []
    arguments += ["--clock"] if clock.lower() in TRUE else []
    return arguments if player == "ros2bag" else [*arguments, "--no-progress"]


def player_process(context) -> list:
    """The chosen player process with the evaluated launch arguments."""
    from launch.actions import ExecuteProcess
    from launch.substitutions import LaunchConfiguration

    values = {name: LaunchConfiguration(name).perform(context) for name in ("player", "bag", "rate", "loop", "clock")}
    arguments = player_arguments(**values)
    if values["player"] == "ros2bag":
        return [ExecuteProcess(cmd=[*ROS2_BAG_PLAY, *arguments], output="screen")]
    # Run where the launch was started, as ros2 bag play does (a relative bag:= means the same to both players).
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    return [
        ExecuteProcess(cmd=[*PROJECT_PLAYER, *arguments], additional_env={"PYTHONPATH": python_path}, output="screen")
    ]


def generate_launch_description():
    """Declare bag/rate/loop/clock/player and start the player (launch imported here: see player_arguments)."""
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.launch_description import LaunchDescription

    arguments = [
        DeclareLaunchArgument("bag", default_value="", description="rosbag2 bag folder to play (MCAP or sqlite3)."),
        DeclareLaunchArgument("rate", default_value="1.0", description="Playback speed factor (> 0)."),
        DeclareLaunchArgument("loop", default_value="false", description="Play again from the start at the end."),
        DeclareLaunchArgument("clock", default_value="false", description="Publish /clock (use_sim_time nodes)."),
        DeclareLaunchArgument(
            "player",
            default_value="ros2bag" if ros2_bag_available() else "project",
            description="'ros2bag' (ros2 bag play) or 'project' (python -m training.replay); default: what exists.",
        ),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=player_process)])
