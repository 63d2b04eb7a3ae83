"""Which topics are commands (what a robot or the planner obeys): the set a bag player never republishes unasked."""

import pytest

from jepa_core.data.topics import RECORDED_TOPICS, is_command

COMMANDS = [
    ("/target_pose", "geometry_msgs/msg/PoseStamped"),
    ("/robot2/gripper_command", "std_msgs/msg/Float64"),  # in any namespace
    ("/goal_pose", "geometry_msgs/msg/PoseStamped"),  # RViz's goal: the planner renders it and moves the arm
    ("/robot1/goal_pose", "geometry_msgs/msg/PoseStamped"),  # the same under namespace:=robot1
    ("/cartesian_impedance_controller/equilibrium_pose", "geometry_msgs/msg/PoseStamped"),
    ("/mobile/cmd_vel", "geometry_msgs/msg/Twist"),
    ("/arm/joint_trajectory", "trajectory_msgs/msg/JointTrajectory"),  # by type, whatever the name
    ("/plan_to_goal/_action/status", "action_msgs/msg/GoalStatusArray"),
    ("/plan_to_goal/_action/feedback", "jepa_msgs/action/PlanToGoal_FeedbackMessage"),
    ("/sim_node/render_goal/_service_event", "jepa_msgs/srv/RenderGoal_Event"),
]
OBSERVATIONS = [
    ("/camera/image_raw", "sensor_msgs/msg/Image"),
    ("/ee_state", "jepa_msgs/msg/EndEffectorState"),
    ("/planned_action", "jepa_msgs/msg/PlannedAction"),  # what the planner decided: a record, not an order
    ("/target_pose_marker", "visualization_msgs/msg/Marker"),  # a name that only contains a command name
]


@pytest.mark.parametrize(("name", "msgtype"), COMMANDS)
def test_commands_are_recognised_by_name_or_type(name, msgtype):
    assert is_command(name, msgtype)


@pytest.mark.parametrize(("name", "msgtype"), OBSERVATIONS)
def test_observations_are_not_commands(name, msgtype):
    assert not is_command(name, msgtype)


def test_the_recorded_commands_are_the_planners_outputs():
    commands = {topic.name for topic in RECORDED_TOPICS if is_command(topic.name, topic.msgtype)}
    assert commands == {"target_pose", "gripper_command"}
