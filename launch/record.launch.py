"""Record the stack's topics to rosbag2 bags: `ros2 bag record` where ROS 2 has it (apt installs), else the project's
episode recorder (jepa_data recorder, one bag per episode, started and stopped by its services).

    ros2 launch jepa_bringup record.launch.py [output:=bags/run1] [storage:=mcap] [namespace:=...]
    ros2 launch jepa_bringup record.launch.py recorder:=project     # force the project's recorder
Both record the topics of config/record.yaml (section episode_recorder) into its output_dir with its storage; a
launch argument overrides those only when given.
"""

from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from jepa_bringup.launch_actions import declare, end_launch_on_exit
from jepa_bringup.launch_support import LaunchConfig, ParameterArgument, ros2_bag_available

RECORDERS = ("ros2bag", "project")
CONFIG = LaunchConfig(
    __file__,
    ("record.yaml",),
    (
        ParameterArgument(
            "output",
            "Bag folder (ros2bag: one bag, must not exist) or bag root (project: one bag per episode).",
            {"episode_recorder": "output_dir"},
        ),
        ParameterArgument.same_name("storage", "rosbag2 storage plugin: mcap or sqlite3.", ("episode_recorder",)),
    ),
)


def qualified(namespace: str, topic: str) -> str:
    """A relative topic name of record.yaml resolved in `namespace`, as the recorder node would resolve it."""
    return topic if topic.startswith("/") else "/" + "/".join(part for part in (namespace.strip("/"), topic) if part)


def recorder_process(context) -> list:
    """The chosen recorder with record.yaml's section and the given arguments."""
    configurations = context.launch_configurations
    choice = configurations["recorder"]
    if choice not in RECORDERS:
        raise RuntimeError(f"record.launch.py: recorder must be one of {RECORDERS}, got {choice!r}")
    parameters = CONFIG.parameters("episode_recorder", configurations)
    if choice == "ros2bag":
        topics = [qualified(configurations["namespace"], topic) for topic in parameters["topics"]]
        command = ["ros2", "bag", "record", "-s", parameters["storage"], "-o", parameters["output_dir"], *topics]
        return [ExecuteProcess(cmd=command, output="screen", on_exit=end_launch_on_exit)]
    return [
        Node(
            package="jepa_data",
            executable="recorder",
            name="episode_recorder",
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            parameters=[parameters],
            on_exit=end_launch_on_exit,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    """The launch arguments and the recorder built from them."""
    return LaunchDescription(
        [
            *declare(CONFIG.arguments),
            DeclareLaunchArgument(
                "recorder",
                default_value="ros2bag" if ros2_bag_available() else "project",
                description="'ros2bag' (ros2 bag record) or 'project' (jepa_data recorder); default: what exists.",
            ),
            DeclareLaunchArgument("namespace", default_value="", description="Namespace of the recorded topics."),
            OpaqueFunction(function=recorder_process),
        ]
    )
