"""Simulated closed loop, one process per node: MuJoCo Franka (sim_node), encoder (encoder_node), CEM planner.

    ros2 launch jepa_bringup demo.launch.py [device:=cuda] [namespace:=...] [rviz:=true]

Each node gets its section of every file in PARAMS_FILES (config/, later files win); a launch argument overrides
its parameters only when given. `make demo` runs the same nodes with the same files in one process without the
launch tools (jepa_bringup.bringup; tests/integration/test_bringup_launch.py keeps the two in step).
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from jepa_bringup.launch_actions import declare, end_launch_on_exit, rviz_node
from jepa_bringup.launch_support import LaunchConfig, ParameterArgument, wants_rviz

PARAMS_FILES = ("sim.yaml", "perception.yaml", "planner.yaml", "demo.yaml")
CONFIG = LaunchConfig(
    __file__,
    PARAMS_FILES,
    (
        ParameterArgument.same_name(
            "device", "Torch device of the encoder and planner: cpu, cuda, cuda:1.", ("encoder_node", "planner_node")
        ),
    ),
)


def stack_nodes(context) -> list:
    """Sim, encoder and planner with their merged sections and the given arguments, and RViz on request (refused
    before any node starts when rviz2 is missing)."""
    configurations = context.launch_configurations
    rviz = wants_rviz(configurations)
    namespace = LaunchConfiguration("namespace")
    sim, planner = CONFIG.parameters("sim_node", configurations), CONFIG.parameters("planner_node", configurations)
    nodes = [
        Node(
            package="jepa_sim",
            executable="sim_node",
            name="sim_node",
            namespace=namespace,
            output="screen",
            parameters=[sim],
            on_exit=end_launch_on_exit,
        ),
        Node(
            package="jepa_perception",
            executable="encoder_node",
            name="encoder_node",
            namespace=namespace,
            output="screen",
            parameters=[CONFIG.parameters("encoder_node", configurations)],
            on_exit=end_launch_on_exit,
        ),
        Node(
            package="jepa_planner",
            executable="planner_node",
            name="planner_node",
            namespace=namespace,
            output="screen",
            parameters=[planner],
            on_exit=end_launch_on_exit,
        ),
    ]
    if rviz:
        nodes.append(rviz_node(__file__, namespace, "sim_node", sim["image_topic"], planner))
    return nodes


def generate_launch_description() -> LaunchDescription:
    """The launch arguments and the nodes built from them."""
    return LaunchDescription(
        [
            DeclareLaunchArgument("namespace", default_value="", description="Namespace of every node and topic."),
            DeclareLaunchArgument(
                "rviz", default_value="false", description="Start RViz with rviz/jepa.rviz (true/false)."
            ),
            *declare(CONFIG.arguments),
            OpaqueFunction(function=stack_nodes),
        ]
    )
