"""Planner node alone (perception and the robot or simulator run elsewhere).

    ros2 launch jepa_bringup planner.launch.py checkpoint:=/path/vjepa2-ac-vitg.pt device:=cuda [namespace:=...]

Parameters: config/planner.yaml (section planner_node); a launch argument overrides its parameter only when given.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from jepa_bringup.launch_actions import declare, end_launch_on_exit
from jepa_bringup.launch_support import LaunchConfig, ParameterArgument

PLANNER = ("planner_node",)
CONFIG = LaunchConfig(
    __file__,
    ("planner.yaml",),
    (
        ParameterArgument("checkpoint", "AC predictor checkpoint.", {"planner_node": "predictor_checkpoint"}),
        ParameterArgument.same_name("device", "Torch device of the world model: cpu, cuda, cuda:1.", PLANNER),
        ParameterArgument.same_name(
            "goal_encoder", "'service' (perception node's encode_image) or 'local' (own encoder).", PLANNER
        ),
        ParameterArgument.same_name("autocast_dtype", "'' (fp32), 'bfloat16' or 'float16'.", PLANNER),
    ),
)


def planner_node(context) -> list:
    """`planner_node` with its planner.yaml section and the given arguments."""
    return [
        Node(
            package="jepa_planner",
            executable="planner_node",
            name="planner_node",
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            parameters=[CONFIG.parameters("planner_node", context.launch_configurations)],
            on_exit=end_launch_on_exit,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    """The parameter arguments, the namespace, and the node built from them."""
    namespace = DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node and topics.")
    return LaunchDescription([*declare(CONFIG.arguments), namespace, OpaqueFunction(function=planner_node)])
