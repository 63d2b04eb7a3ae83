"""Launch entities the launch files share: parameter arguments, the RViz node and what happens when a stack node
exits.

Imports the `launch` and `launch_ros` packages, so only launch files (run by `ros2 launch`) import this module;
launch_support holds the parts the pip-only bringup also uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from launch.actions import DeclareLaunchArgument, Shutdown
from launch_ros.actions import Node

from jepa_bringup.launch_support import NOT_GIVEN, ParameterArgument, launch_folders, rviz_remappings


def declare(arguments: Sequence[ParameterArgument]) -> list[DeclareLaunchArgument]:
    """One launch argument per parameter argument; its default leaves the parameter at its launch/config value."""
    return [
        DeclareLaunchArgument(
            argument.name,
            default_value=NOT_GIVEN,
            description=f"{argument.description} Sets {', '.join(f'{n}.{p}' for n, p in argument.targets.items())}; "
            f"default: the launch/config value.",
        )
        for argument in arguments
    ]


def end_launch_on_exit(event, context) -> list | None:
    """on_exit of every stack node: the stack cannot run without it, so its exit ends the launch. A failure (code
    != 0) raises, which launch logs as an error, answers by stopping the other nodes, and turns into `ros2 launch`'s
    exit code 1; a clean exit shuts the launch down with the reason. Exits during a shutdown are expected."""
    if context.is_shutdown:
        return None
    if event.returncode != 0:
        raise RuntimeError(
            f"{event.process_name} exited with code {event.returncode} (its log above says why); "
            "stopping the other nodes"
        )
    return [Shutdown(reason=f"{event.process_name} exited; the launch ends with it")]


def rviz_node(
    launch_file: str, namespace: Any, camera_node: str, camera_topic: str, planner: Mapping[str, Any]
) -> Node:
    """RViz in `namespace` with the rviz/jepa.rviz beside `launch_file`, fixed in the planner's base_frame, its root
    topics remapped onto `camera_node`'s image topic and the planner's topics (launch_support.rviz_remappings)."""
    return Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        namespace=namespace,
        arguments=["-d", str(launch_folders(launch_file).rviz / "jepa.rviz"), "-f", planner["base_frame"]],
        remappings=rviz_remappings(camera_node, camera_topic, planner),
    )
