"""Simulated closed loop, one process per node: MuJoCo Franka (sim_node), encoder (encoder_node), CEM planner.

    ros2 launch launch/demo.launch.py [device:=cpu] [namespace:=...] [rviz:=true]

Each node gets its section of every file in PARAMS_FILES (launch/config/, later files win), then the launch
arguments. `make demo` runs the same nodes with the same files in one process without the launch tools
(jepa_bringup.bringup; tests/integration/test_bringup_launch.py keeps the two in step).
"""

from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from jepa_bringup.launch_support import node_parameters as merged_section
from jepa_bringup.launch_support import refuse_missing_rviz

LAUNCH_DIR = Path(__file__).resolve().parent
PARAMS_FILES = ("sim.yaml", "perception.yaml", "planner.yaml", "demo.yaml")


def node_parameters(node_name: str) -> dict:
    """The node's merged section of PARAMS_FILES."""
    return merged_section(LAUNCH_DIR / "config", PARAMS_FILES, node_name)


def generate_launch_description() -> LaunchDescription:
    """Sim, encoder and planner nodes (and RViz on request) in the launch namespace."""
    namespace = LaunchConfiguration("namespace")
    device = LaunchConfiguration("device")
    return LaunchDescription(
        [
            DeclareLaunchArgument("namespace", default_value="", description="Namespace of every node and topic."),
            DeclareLaunchArgument(
                "device", default_value="cpu", description="Torch device of the encoder and planner: cpu, cuda, cuda:1."
            ),
            DeclareLaunchArgument(
                "rviz", default_value="false", description="Start RViz with launch/rviz/jepa.rviz (true/false)."
            ),
            OpaqueFunction(function=refuse_missing_rviz),  # before any node: rviz:=true without rviz2 starts nothing
            Node(
                package="jepa_sim",
                executable="sim_node",
                name="sim_node",
                namespace=namespace,
                output="screen",
                parameters=[node_parameters("sim_node")],
            ),
            Node(
                package="jepa_perception",
                executable="encoder_node",
                name="encoder_node",
                namespace=namespace,
                output="screen",
                parameters=[node_parameters("encoder_node"), {"device": device}],
            ),
            Node(
                package="jepa_planner",
                executable="planner_node",
                name="planner_node",
                namespace=namespace,
                output="screen",
                parameters=[node_parameters("planner_node"), {"device": device}],
            ),
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                namespace=namespace,
                arguments=["-d", str(LAUNCH_DIR / "rviz" / "jepa.rviz"), "-f", "panda_link0"],
                # The RViz file names root topics; camera and markers follow the nodes into the launch namespace
                # (the planner's goal_pose_topic is the absolute /goal_pose).
                remappings=[("/camera/image_raw", "camera/image_raw"), ("/markers", "markers")],
                condition=IfCondition(LaunchConfiguration("rviz")),
            ),
        ]
    )
