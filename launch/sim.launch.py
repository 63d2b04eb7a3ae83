"""MuJoCo Franka simulator alone: the topics and services of a real robot setup, for planners, recording or RViz.

    ros2 launch launch/sim.launch.py [task:=grasp] [seed:=3] [step_mode:=realtime] [control_period:=0.0666667]

Parameters come from launch/config/sim.yaml (documented there), then the launch arguments below.
"""

from pathlib import Path

from launch.actions import DeclareLaunchArgument
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from jepa_bringup.launch_support import node_parameters

CONFIG_DIR = Path(__file__).resolve().parent / "config"
# launch argument -> (type, description); the default is the value in sim.yaml
ARGUMENTS = {
    "task": (str, "reach | grasp | pick_place"),
    "task_object": (str, "object of grasp / pick_place: cube | cup"),
    "seed": (int, "episode seed of the reset done at start"),
    "step_mode": (str, "lockstep (one control period per target_pose) | realtime (timer)"),
    "control_period": (float, "simulated seconds per control step: 0.25 planning, 0.0666667 recording"),
}


def generate_launch_description() -> LaunchDescription:
    """The sim node in the launch namespace, with its sim.yaml section and the launch arguments on top."""
    parameters = node_parameters(CONFIG_DIR, ["sim.yaml"], "sim_node")
    declared = [DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node and topics.")]
    overrides = {}
    for name, (value_type, description) in ARGUMENTS.items():
        declared.append(DeclareLaunchArgument(name, default_value=str(parameters[name]), description=description))
        overrides[name] = ParameterValue(LaunchConfiguration(name), value_type=value_type)
    sim = Node(
        package="jepa_sim",
        executable="sim_node",
        name="sim_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[parameters, overrides],
    )
    return LaunchDescription([*declared, sim])
