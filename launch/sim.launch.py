"""MuJoCo Franka simulator alone: the topics and services of a real robot setup, for planners, recording or RViz.

    ros2 launch jepa_bringup sim.launch.py [task:=grasp] [seed:=3] [step_mode:=realtime] [control_period:=0.0666667]

Parameters: config/sim.yaml (documented there); a launch argument overrides its parameter only when given.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from jepa_bringup.launch_actions import declare, end_launch_on_exit
from jepa_bringup.launch_support import LaunchConfig, ParameterArgument

SIM = ("sim_node",)
CONFIG = LaunchConfig(
    __file__,
    ("sim.yaml",),
    (
        ParameterArgument.same_name("task", "reach | grasp | pick_place.", SIM),
        ParameterArgument.same_name("task_object", "Object of grasp / pick_place: cube | cup.", SIM),
        ParameterArgument.same_name("seed", "Episode seed of the reset done at start.", SIM, int),
        ParameterArgument.same_name(
            "step_mode", "lockstep (one control period per target_pose) | realtime (timer).", SIM
        ),
        ParameterArgument.same_name(
            "control_period", "Simulated s per control step: 0.25 planning, 0.0666667 recording.", SIM, float
        ),
    ),
)


def sim_node(context) -> list:
    """`sim_node` with its sim.yaml section and the given arguments."""
    return [
        Node(
            package="jepa_sim",
            executable="sim_node",
            name="sim_node",
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            parameters=[CONFIG.parameters("sim_node", context.launch_configurations)],
            on_exit=end_launch_on_exit,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    """The parameter arguments, the namespace, and the node built from them."""
    namespace = DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node and topics.")
    return LaunchDescription([*declare(CONFIG.arguments), namespace, OpaqueFunction(function=sim_node)])
