"""Record the stack's topics to MCAP rosbag2 bags, with `ros2 bag record` or our per-episode recorder node.

    ros2 launch launch/record.launch.py output:=bags/run1                 # ros2 bag record -s mcap, one bag per run
    ros2 launch launch/record.launch.py recorder:=node output:=bags       # training/record.py: one bag per episode,
                                                                          # started/stopped by its services
The topic list is jepa_core.data.topics.RECORDED_TOPICS for both; node parameters: launch/config/record.yaml.
"""

import os
import sys
from pathlib import Path

from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition
from launch.launch_description import LaunchDescription
from launch.substitutions import EqualsSubstitution, LaunchConfiguration

from jepa_core.data.topics import RECORDED_TOPICS

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = REPO_ROOT / "launch" / "config" / "record.yaml"


def generate_launch_description() -> LaunchDescription:
    """Declare output/recorder/storage and start the chosen recorder."""
    output = LaunchConfiguration("output")
    storage = LaunchConfiguration("storage")
    recorder = LaunchConfiguration("recorder")
    arguments = [
        DeclareLaunchArgument("output", default_value="bags", description="Bag folder (ros2bag) or bag root (node)."),
        DeclareLaunchArgument("storage", default_value="mcap", description="rosbag2 storage plugin: mcap or sqlite3."),
        DeclareLaunchArgument("recorder", default_value="ros2bag", description="'ros2bag' or 'node' (per episode)."),
    ]
    topics = [topic.name for topic in RECORDED_TOPICS]
    ros2_bag = ExecuteProcess(
        cmd=["ros2", "bag", "record", "-s", storage, "-o", output, *topics],
        output="screen",
        condition=IfCondition(EqualsSubstitution(recorder, "ros2bag")),
    )
    node_command = [sys.executable, "-m", "training.record", "--ros-args", "--params-file", str(CONFIG)]
    node = ExecuteProcess(
        cmd=[*node_command, "-p", ["output_dir:=", output], "-p", ["storage:=", storage]],
        # runs where the launch was started (a relative output:= means what it means for ros2 bag record), with the
        # repository on the module path for `-m training.record`
        additional_env={"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))},
        output="screen",
        condition=IfCondition(EqualsSubstitution(recorder, "node")),
    )
    return LaunchDescription([*arguments, ros2_bag, node])
