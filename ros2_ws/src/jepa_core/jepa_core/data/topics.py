"""The stack's recorded topics and their message types (one list shared by the recorder node and the launch file), and
which topics are commands: what a robot or the planner obeys, so a bag player never republishes them unasked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordedTopic:
    """A topic recorded into episode bags: its default (relative) name and ROS 2 message type."""

    name: str  # relative name, resolved in the recorder's namespace (e.g. "camera/image_raw")
    msgtype: str  # "pkg/msg/Type"


CAMERA_IMAGE = RecordedTopic("camera/image_raw", "sensor_msgs/msg/Image")
WRIST_CAMERA_IMAGE = RecordedTopic("wrist_camera/image_raw", "sensor_msgs/msg/Image")  # recorded when published
CAMERA_INFO = RecordedTopic("camera/camera_info", "sensor_msgs/msg/CameraInfo")
EE_STATE = RecordedTopic("ee_state", "jepa_msgs/msg/EndEffectorState")
JOINT_STATES = RecordedTopic("joint_states", "sensor_msgs/msg/JointState")
TARGET_POSE = RecordedTopic("target_pose", "geometry_msgs/msg/PoseStamped")
GRIPPER_COMMAND = RecordedTopic("gripper_command", "std_msgs/msg/Float64")
PLANNED_ACTION = RecordedTopic("planned_action", "jepa_msgs/msg/PlannedAction")
TASK_STATUS = RecordedTopic("task_status", "jepa_msgs/msg/TaskStatus")

RECORDED_TOPICS: tuple[RecordedTopic, ...] = (
    CAMERA_IMAGE,
    WRIST_CAMERA_IMAGE,
    CAMERA_INFO,
    EE_STATE,
    JOINT_STATES,
    TARGET_POSE,
    GRIPPER_COMMAND,
    PLANNED_ACTION,
    TASK_STATUS,
)


def topic_type(name: str) -> str:
    """Message type of a recorded topic given its name (with or without a leading slash)."""
    bare = name.lstrip("/")
    for topic in RECORDED_TOPICS:
        if topic.name == bare:
            return topic.msgtype
    known = ", ".join(topic.name for topic in RECORDED_TOPICS)
    raise KeyError(f"topic {name!r} is not one of the recorded topics ({known})")


# Commands, in any namespace: the stack's own, RViz's goal for the planner, franka_ros2's impedance target, cmd_vel.
COMMAND_TOPIC_NAMES = frozenset({TARGET_POSE.name, GRIPPER_COMMAND.name, "goal_pose", "equilibrium_pose", "cmd_vel"})
COMMAND_TYPES = frozenset(
    {
        "geometry_msgs/msg/Twist",
        "geometry_msgs/msg/TwistStamped",
        "trajectory_msgs/msg/JointTrajectory",
        "trajectory_msgs/msg/MultiDOFJointTrajectory",
    }
)
INTERFACE_KINDS = frozenset({"srv", "action"})  # message types of services and actions: requests, goals, their events


def is_command(name: str, msgtype: str) -> bool:
    """True for a topic a robot or the planner obeys: a command name (last name component, any namespace), a command
    type, or the messages of an action or a service (`.../_action/...`, `pkg/srv/...`, `pkg/action/...`)."""
    parts = name.strip("/").split("/")
    kind = msgtype.split("/")[1] if msgtype.count("/") == 2 else ""
    return parts[-1] in COMMAND_TOPIC_NAMES or "_action" in parts or msgtype in COMMAND_TYPES or kind in INTERFACE_KINDS
