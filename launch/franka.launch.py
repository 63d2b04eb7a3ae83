"""Deploy on a Franka FR3 with franka_ros2 (Jazzy): encoder, CEM planner and the franka_ros2 adapter.

    ros2 launch jepa_bringup franka.launch.py checkpoint:=/path/vjepa2-ac-vitg.pt \
        camera_topic:=/camera/camera/color/image_raw

Start franka_ros2 first (franka_bringup with the Franka Hand, franka_robot_state_broadcaster, franka_gripper) and a
Cartesian impedance controller whose equilibrium pose topic is `equilibrium_pose_topic`. Our nodes share `namespace`,
so planner and adapter meet on target_pose / gripper_command / ee_state; the camera topic is the image topic of the
encoder and of the planner (goal capture). Each node gets its section of PARAMS_FILES (config/, later files win:
franka.yaml holds this deployment's defaults); a launch argument overrides its parameters only when given.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from jepa_bringup.launch_actions import declare, end_launch_on_exit, rviz_node
from jepa_bringup.launch_support import LaunchConfig, ParameterArgument, wants_rviz

PARAMS_FILES = ("perception.yaml", "planner.yaml", "franka.yaml")
MODEL_NODES = ("encoder_node", "planner_node")
ADAPTER = ("franka_adapter",)
CONFIG = LaunchConfig(
    __file__,
    PARAMS_FILES,
    (
        ParameterArgument(
            "checkpoint",
            "V-JEPA 2-AC checkpoint (.pt with 'encoder' and 'predictor'), e.g. Meta's vjepa2-ac-vitg.pt.",
            {"encoder_node": "checkpoint", "planner_node": "predictor_checkpoint"},
        ),
        ParameterArgument(
            "camera_topic",
            "sensor_msgs/Image topic of the scene camera.",
            dict.fromkeys(MODEL_NODES, "image_topic"),
        ),
        ParameterArgument(
            "preset",
            "AC preset of the checkpoint for encoder and predictor (jepa_core.presets; Meta's vjepa2-ac-vitg.pt: "
            "vit_ac_giant); auto = the config stored in the checkpoint (ours), else inferred from its key shapes.",
            {"encoder_node": "preset", "planner_node": "predictor_preset"},
        ),
        ParameterArgument.same_name(
            "device", "Torch device of the encoder and planner: cuda, cuda:1, cpu.", MODEL_NODES
        ),
        ParameterArgument.same_name("robot_namespace", 'Namespace of the franka_ros2 nodes ("" = root).', ADAPTER),
        ParameterArgument.same_name(
            "equilibrium_pose_topic",
            "geometry_msgs/PoseStamped equilibrium (TCP) pose topic of the Cartesian impedance controller.",
            ADAPTER,
        ),
        ParameterArgument(
            "gripper",
            "Use the Franka Hand via franka_gripper (true/false).",
            {"franka_adapter": "gripper_enabled"},
            bool,
        ),
    ),
)


def stack_nodes(context) -> list:
    """Encoder, planner and adapter with their merged sections and the given arguments, and RViz on request
    (refused before any node starts when rviz2 is missing)."""
    configurations = context.launch_configurations
    rviz = wants_rviz(configurations)
    namespace = LaunchConfiguration("namespace")
    encoder, planner = (CONFIG.parameters(name, configurations) for name in MODEL_NODES)
    nodes = [
        Node(
            package="jepa_perception",
            executable="encoder_node",
            name="encoder_node",
            namespace=namespace,
            output="screen",
            parameters=[encoder],
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
        Node(
            package="jepa_franka",
            executable="franka_adapter",
            name="franka_adapter",
            namespace=namespace,
            output="screen",
            parameters=[CONFIG.parameters("franka_adapter", configurations)],
            on_exit=end_launch_on_exit,
        ),
    ]
    if rviz:
        nodes.append(rviz_node(__file__, namespace, "encoder_node", encoder["image_topic"], planner))
    return nodes


def generate_launch_description() -> LaunchDescription:
    """The launch arguments and the nodes built from them."""
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "namespace", default_value="", description="Namespace of our nodes and topics (not franka_ros2's)."
            ),
            DeclareLaunchArgument(
                "rviz", default_value="false", description="Start RViz with rviz/jepa.rviz (true/false)."
            ),
            *declare(CONFIG.arguments),
            OpaqueFunction(function=stack_nodes),
        ]
    )
