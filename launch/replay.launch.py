"""Replay a recorded bag into the stack: `ros2 bag play` where ROS 2 has it (apt installs), else the jepa_data player.

    ros2 launch jepa_bringup replay.launch.py bag:=bags/episode_0001 rate:=1.0 [loop:=true] [clock:=true]
    ros2 launch jepa_bringup replay.launch.py bag:=... player:=project       # force the project's player
Both players keep the recorded timing and QoS and take the same options here; the project's player also serves
/replay/pause, /replay/resume and /replay/step (std_srvs/srv/Trigger) and skips the command topics (target_pose,
gripper_command, ...) that ros2 bag play would publish.
"""

from jepa_bringup.launch_support import ros2_bag_available

PLAYERS = ("ros2bag", "project")
TRUE = ("true", "1", "yes")
ROS2_BAG_PLAY = ["ros2", "bag", "play"]


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
    """The chosen player process with the evaluated launch arguments; a player that fails ends the launch with an
    error (the end of the bag ends it cleanly)."""
    from launch.actions import ExecuteProcess
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from jepa_bringup.launch_actions import end_launch_on_exit

    values = {name: LaunchConfiguration(name).perform(context) for name in ("player", "bag", "rate", "loop", "clock")}
    arguments = player_arguments(**values)
    if values["player"] == "ros2bag":
        return [ExecuteProcess(cmd=[*ROS2_BAG_PLAY, *arguments], output="screen", on_exit=end_launch_on_exit)]
    # Runs where the launch was started, as ros2 bag play does (a relative bag:= means the same to both players).
    return [
        Node(
            package="jepa_data",
            executable="player",
            name="replay",
            arguments=arguments,
            output="screen",
            on_exit=end_launch_on_exit,
        )
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
            description="'ros2bag' (ros2 bag play) or 'project' (jepa_data player); default: what exists.",
        ),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=player_process)])
