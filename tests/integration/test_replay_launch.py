"""launch/replay.launch.py runs `ros2 bag play` or the project's player with the same options: the argument logic
always, the expansion with the real launch API where it is installed."""

import importlib.util
import types
from pathlib import Path

import pytest

from tests.integration.test_launch_behaviour import load_launch  # noqa: F401 (a fixture: launch API stand-ins)

LAUNCH_FILE = Path(__file__).resolve().parents[2] / "launch" / "replay.launch.py"


@pytest.fixture(scope="module")
def replay_launch():
    """The launch file as a module (it imports the launch package only inside its launch functions)."""
    spec = importlib.util.spec_from_file_location("replay_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_players_get_bag_rate_loop_clock(replay_launch):
    ours = replay_launch.player_arguments("project", "bags/ep1", "2.5", "true", "True")
    assert ours == ["bags/ep1", "--rate", "2.5", "--loop", "--clock", "--no-progress"]
    assert replay_launch.player_arguments("ros2bag", "bags/ep1", "0.5", "false", "false") == [
        "bags/ep1", "--rate", "0.5",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (("project", "", "1.0", "false", "false"), "bag:="),
        (("rosbag", "b", "1.0", "false", "false"), "player"),
        (("project", "b", "0", "false", "false"), "rate"),
        (("project", "b", "fast", "false", "false"), "rate"),
    ],
)
def test_bad_arguments_are_named(replay_launch, arguments, error):
    with pytest.raises(RuntimeError, match=error):
        replay_launch.player_arguments(*arguments)


def test_the_project_player_parses_what_the_launch_file_passes(replay_launch, tmp_path):
    from jepa_data.replay_options import build_parser

    parsed = build_parser().parse_args(replay_launch.player_arguments("project", str(tmp_path), "2", "1", "yes"))
    assert (parsed.bags, parsed.rate, parsed.loop, parsed.clock, parsed.no_progress) == (
        [str(tmp_path)], 2.0, True, 40.0, True,
    )  # fmt: skip


def test_the_project_player_runs_where_the_launch_was_started(load_launch, monkeypatch, tmp_path):  # noqa: F811
    """bag:= relative to the caller's directory reaches the player unchanged: the player (the jepa_data console
    script, as `ros2 run` finds it) must run there, as `ros2 bag play` does, not in the repository."""
    monkeypatch.chdir(tmp_path)
    (opaque,) = [e for e in load_launch("replay.launch.py") if type(e).__name__ == "OpaqueFunction"]
    values = {"player": "project", "bag": "bags/ep1", "rate": "1.0", "loop": "false", "clock": "false"}
    (process,) = opaque.kwargs["function"](types.SimpleNamespace(launch_configurations=values))
    assert type(process).__name__ == "Node"
    assert (process.kwargs["package"], process.kwargs["executable"]) == ("jepa_data", "player")
    assert process.kwargs["arguments"][0] == "bags/ep1"
    assert process.kwargs.get("cwd") in (None, str(tmp_path)) and "additional_env" not in process.kwargs


def test_expansion_with_the_real_launch_api(replay_launch):
    sources = pytest.importorskip("launch.launch_description_sources")
    launch_context = pytest.importorskip("launch.launch_context")
    utilities = pytest.importorskip("launch.utilities")
    actions = pytest.importorskip("launch.actions")
    description = sources.get_launch_description_from_python_launch_file(str(LAUNCH_FILE))
    context = launch_context.LaunchContext()
    values = {"bag": "bags/ep1", "rate": "3", "player": "project"}
    for argument in description.get_launch_arguments():
        default = utilities.perform_substitutions(context, argument.default_value)
        context.launch_configurations[argument.name] = values.get(argument.name, default)
    (opaque,) = [e for e in description.entities if isinstance(e, actions.OpaqueFunction)]
    (node,) = opaque.execute(context)
    assert (node.node_package, node.node_executable) == ("jepa_data", "player")
