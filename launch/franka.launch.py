"""Deploy on a Franka FR3 with franka_ros2 (Jazzy): encoder, CEM planner and the franka_ros2 adapter.

    ros2 launch launch/franka.launch.py checkpoint:=/path/vjepa2-ac-vitg.pt camera_topic:=/camera/camera/color/image_raw

Start franka_ros2 first (franka_bringup with the Franka Hand, franka_robot_state_broadcaster, franka_gripper) and a
Cartesian impedance controller whose equilibrium pose topic is `equilibrium_pose_topic`. Our nodes share `namespace`,
so planner and adapter meet on target_pose / gripper_command / ee_state; the camera topic is remapped into the
encoder and the planner (goal capture). Each node gets its section of PARAMS_FILES (launch/config/, later files win),
then the launch arguments.
"""

from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from jepa_bringup.launch_support import node_parameters as merged_section
from jepa_bringup.launch_support import refuse_missing_rviz

LAUNCH_DIR = Path(__file__).resolve().parent
PARAMS_FILES = ("perception.yaml", "planner.yaml", "franka.yaml")


def node_parameters(node_name: str) -> dict:
    """The node's merged section of PARAMS_FILES."""
    return merged_section(LAUNCH_DIR / "config", PARAMS_FILES, node_name)


def generate_launch_description() -> LaunchDescription:
    """Encoder, planner and adapter (and RViz on request) in the launch namespace."""
    namespace = LaunchConfiguration("namespace")
    camera_topic = LaunchConfiguration("camera_topic")
    # Strings stay strings (a path or "" must not be read as YAML).
    checkpoint = ParameterValue(LaunchConfiguration("checkpoint"), value_type=str)
    preset = ParameterValue(LaunchConfiguration("preset"), value_type=str)
    device = ParameterValue(LaunchConfiguration("device"), value_type=str)
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "checkpoint",
                description="V-JEPA 2-AC checkpoint (.pt with 'encoder' and 'predictor'), e.g. Meta's "
                "vjepa2-ac-vitg.pt.",
            ),
            DeclareLaunchArgument(
                "camera_topic",
                default_value="/camera/camera/color/image_raw",
                description="sensor_msgs/Image topic of the scene camera (realsense2_camera default shown).",
            ),
            DeclareLaunchArgument(
                "preset",
                default_value="vit_ac_giant",
                description="AC preset of the checkpoint for encoder and predictor (jepa_core.presets; Meta's "
                "vjepa2-ac-vitg.pt: vit_ac_giant); auto = the config stored in the checkpoint (ours), else the "
                "preset inferred from its key shapes.",
            ),
            DeclareLaunchArgument(
                "device",
                default_value="cuda",
                description="Torch device of the encoder and planner: cuda, cuda:1, cpu.",
            ),
            DeclareLaunchArgument(
                "namespace", default_value="", description="Namespace of our nodes and topics (not franka_ros2's)."
            ),
            DeclareLaunchArgument(
                "robot_namespace", default_value="", description='Namespace of the franka_ros2 nodes ("" = root).'
            ),
            DeclareLaunchArgument(
                "equilibrium_pose_topic",
                default_value="/cartesian_impedance_controller/equilibrium_pose",
                description="geometry_msgs/PoseStamped equilibrium (TCP) pose topic of the Cartesian impedance "
                "controller.",
            ),
            DeclareLaunchArgument(
                "gripper", default_value="true", description="Use the Franka Hand via franka_gripper (true/false)."
            ),
            DeclareLaunchArgument(
                "rviz", default_value="false", description="Start RViz with launch/rviz/jepa.rviz (true/false)."
            ),
            OpaqueFunction(function=refuse_missing_rviz),  # before any node: rviz:=true without rviz2 starts nothing
            Node(
                package="jepa_perception",
                executable="encoder_node",
                name="encoder_node",
                namespace=namespace,
                output="screen",
                parameters=[
                    node_parameters("encoder_node"),
                    {"checkpoint": checkpoint, "preset": preset, "device": device},
                ],
                remappings=[("camera/image_raw", camera_topic)],
            ),
            Node(
                package="jepa_planner",
                executable="planner_node",
                name="planner_node",
                namespace=namespace,
                output="screen",
                parameters=[
                    node_parameters("planner_node"),
                    {"predictor_checkpoint": checkpoint, "predictor_preset": preset, "device": device},
                ],
                remappings=[("camera/image_raw", camera_topic)],
            ),
            Node(
                package="jepa_franka",
                executable="franka_adapter",
                name="franka_adapter",
                namespace=namespace,
                output="screen",
                parameters=[
                    node_parameters("franka_adapter"),
                    {
                        "robot_namespace": ParameterValue(LaunchConfiguration("robot_namespace"), value_type=str),
                        "equilibrium_pose_topic": ParameterValue(
                            LaunchConfiguration("equilibrium_pose_topic"), value_type=str
                        ),
                        "gripper_enabled": ParameterValue(LaunchConfiguration("gripper"), value_type=bool),
                    },
                ],
            ),
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                namespace=namespace,
                arguments=["-d", str(LAUNCH_DIR / "rviz" / "jepa.rviz"), "-f", "fr3_link0"],
                # The RViz file names root topics: the camera is the real one, markers follow our namespace
                # (the planner's goal_pose_topic is the absolute /goal_pose).
                remappings=[("/camera/image_raw", camera_topic), ("/markers", "markers")],
                condition=IfCondition(LaunchConfiguration("rviz")),
            ),
        ]
    )
