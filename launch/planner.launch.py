"""Planner node alone (perception and the robot or simulator run elsewhere).

    ros2 launch launch/planner.launch.py checkpoint:=/path/vjepa2-ac-vitg.pt device:=cuda [namespace:=...]

Parameters: launch/config/planner.yaml (section planner_node), then the launch arguments.
"""

from pathlib import Path

from launch.actions import DeclareLaunchArgument
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

CONFIG = Path(__file__).resolve().parent / "config" / "planner.yaml"


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and start `planner_node` with planner.yaml plus the argument overrides."""
    arguments = {
        "checkpoint": ("", "AC predictor checkpoint (predictor_checkpoint)."),
        "device": ("cpu", "Torch device of the world model: cpu, cuda, cuda:1."),
        "goal_encoder": ("service", "'service' (perception node's encode_image) or 'local' (own encoder)."),
        "autocast_dtype": ("", "'' (fp32), 'bfloat16' or 'float16'."),
    }
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in arguments.items()
    ]
    overrides = {
        "predictor_checkpoint": LaunchConfiguration("checkpoint"),
        "device": LaunchConfiguration("device"),
        "goal_encoder": LaunchConfiguration("goal_encoder"),
        "autocast_dtype": LaunchConfiguration("autocast_dtype"),
    }
    namespace = DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node.")
    node = Node(
        package="jepa_planner",
        executable="planner_node",
        name="planner_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[str(CONFIG), overrides],
    )
    return LaunchDescription([*declared, namespace, node])
