"""Launch entities the launch files share: parameter arguments and what happens when a stack node exits.

Imports the `launch` package, so only launch files (run by `ros2 launch`) import this module; launch_support holds
the parts the pip-only bringup also uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from launch.actions import DeclareLaunchArgument, Shutdown

from jepa_bringup.launch_support import NOT_GIVEN, ParameterArgument


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
