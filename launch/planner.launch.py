"""Planner node alone (perception and the robot or simulator run elsewhere).

    ros2 launch launch/planner.launch.py checkpoint:=/path/vjepa2-ac-vitg.pt device:=cuda [namespace:=...]

Parameters: launch/config/planner.yaml (section planner_node), then the launch arguments.
"""

from pathlib import Path

from launch.actions import DeclareLaunchArgument
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from jepa_bringup.launch_support import node_parameters

CONFIG_DIR = Path(__file__).resolve().parent / "config"


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
    parameter_of = {"checkpoint": "predictor_checkpoint"}  # launch argument -> node parameter, where they differ
    overrides = {  # strings stay strings (a path or "" must not be read as YAML)
        parameter_of.get(name, name): ParameterValue(LaunchConfiguration(name), value_type=str) for name in arguments
    }
    namespace = DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node.")
    node = Node(
        package="jepa_planner",
        executable="planner_node",
        name="planner_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        # The yaml section is merged, not passed as a file: rcl ignores a plain `planner_node:` section in a namespace.
        parameters=[node_parameters(CONFIG_DIR, ["planner.yaml"], "planner_node"), overrides],
    )
    return LaunchDescription([*declared, namespace, node])
