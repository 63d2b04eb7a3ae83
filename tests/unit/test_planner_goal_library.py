"""Goal library records, nearest-goal selection, the library markers, the sub-goals of RViz clicks (no rclpy nodes)
and the RViz config's goal displays."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from visualization_msgs.msg import Marker

from jepa_msgs.msg import SubGoal
from jepa_planner.goals import GoalLibrary, GoalLibraryError, GoalRecord, nearest_goal
from jepa_planner.library_markers import ACTIVE, GOALS_NS, IDLE, LABELS_NS, QUEUED, STEP_NS, StepText, library_markers
from jepa_planner.library_markers import step_text as monitor_text
from jepa_planner.rviz_goals import HORIZONTAL, SPATIAL, clicked_subgoal

IMAGE = np.zeros((4, 4, 3), np.uint8)


def record(name: str, position=None, gripper: float = 0.0) -> GoalRecord:
    state = None if position is None else np.array([*position, math.pi, 0.0, 0.0, gripper])
    return GoalRecord(name, 0.0, state, None if state is None else state[:3])


def test_records_keep_the_captured_state_or_position_and_remove_deletes(tmp_path):
    library = GoalLibrary(tmp_path)
    library.save("captured", IMAGE, state=[0.5, 0.1, 0.3, math.pi, 0.0, 0.0, 1.0])
    library.save("rendered", IMAGE, position=[0.4, 0.0, 0.2], source="rviz")
    library.save("bare", IMAGE)
    bare, captured, rendered = library.records()
    assert (bare.name, bare.state, bare.position) == ("bare", None, None)
    assert captured.position.tolist() == [0.5, 0.1, 0.3] and captured.state[6] == 1.0
    assert rendered.state is None and rendered.position.tolist() == [0.4, 0.0, 0.2] and rendered.created > 0
    library.remove("bare")
    assert library.names() == ["captured", "rendered"]
    with pytest.raises(GoalLibraryError, match="unknown goal 'bare'"):
        library.remove("bare")


def test_metadata_without_name_or_time_is_refused_naming_the_file(tmp_path):
    library = GoalLibrary(tmp_path)
    library.save("goal", IMAGE)
    (tmp_path / "goal.json").write_text("[1, 2]")
    with pytest.raises(GoalLibraryError, match=r"goal\.json: expected an object with 'name' and 'created'"):
        library.records()


def test_nearest_goal_horizontally_or_in_space():
    records = [record("low", (0.5, 0.0, 0.1)), record("high", (0.5, 0.05, 0.6)), record("unknown")]
    click = np.array([0.5, 0.06, 0.0])  # 2D Goal Pose: on the ground plane
    best, distance = nearest_goal(records, click, HORIZONTAL)
    assert best.name == "high" and distance == pytest.approx(0.01)
    best, distance = nearest_goal(records, click, SPATIAL)
    assert best.name == "low" and distance == pytest.approx(math.hypot(0.06, 0.1))
    assert nearest_goal([record("unknown")], click, SPATIAL) is None


def test_library_markers_label_number_and_highlight():
    records = [record("a", (0.4, 0.0, 0.3)), record("b", (0.5, 0.1, 0.3)), record("c", (0.6, 0.0, 0.3)),
               record("no_pose")]  # fmt: skip
    step = StepText(np.array([0.45, 0.0, 0.3]), monitor_text("b", 1, 3, 0.1234, None))
    markers = library_markers("fr3_link0", Time(sec=5), records, ["a", "b", "a"], "b", step).markers
    assert markers[0].action == Marker.DELETEALL  # a removed goal disappears from a latched array
    labels = [m for m in markers if m.ns == LABELS_NS]
    spheres = [m for m in markers if m.ns == GOALS_NS]
    assert [m.text for m in labels] == ["1,3: a", "2: b", "c"]
    colours = [(m.color.r, m.color.g, m.color.b, m.color.a) for m in spheres]
    assert colours == [pytest.approx(c) for c in (QUEUED, ACTIVE, IDLE)]
    assert spheres[1].scale.x > spheres[0].scale.x
    assert (spheres[2].pose.position.x, spheres[2].pose.orientation.x) == (pytest.approx(0.6), pytest.approx(1.0))
    assert labels[0].pose.position.z > spheres[0].pose.position.z
    (text,) = [m for m in markers if m.ns == STEP_NS]
    assert text.text == "b (2/3)\nobserved energy 0.1234\nsurprise -" and text.pose.position.z > 0.3
    assert all(m.header.frame_id == "fr3_link0" and m.header.stamp.sec == 5 for m in markers)


def test_clicked_subgoals_keep_the_captured_gripper():
    assert clicked_subgoal(record("open", (0.5, 0.0, 0.3), 0.1), 10).gripper == SubGoal.GRIPPER_OPEN
    closed = clicked_subgoal(record("closed", (0.5, 0.0, 0.3), 0.9), 0)
    assert (closed.gripper, closed.goal_name, closed.steps) == (SubGoal.GRIPPER_CLOSED, "closed", 0)
    rendered = GoalRecord("rendered", 0.0, None, np.array([0.5, 0.0, 0.3]))
    assert clicked_subgoal(rendered, 10).gripper == SubGoal.GRIPPER_PLANNED


def test_rviz_config_shows_the_goal_library_goal_image_and_target_and_publishes_clicked_points():
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "launch" / "rviz" / "jepa.rviz").read_text())
    manager = config["Visualization Manager"]
    displays = {d["Name"]: d for d in manager["Displays"]}
    for name, topic, durability in (("Goal library", "/goal_markers", "Transient Local"),
                                    ("Goal image", "/planner_node/goal_image", "Transient Local"),
                                    ("Planned target", "/target_pose", "Volatile")):  # fmt: skip
        assert (displays[name]["Topic"]["Value"], displays[name]["Topic"]["Durability Policy"]) == (topic, durability)
    tools = {t["Class"]: t for t in manager["Tools"]}
    assert tools["rviz_default_plugins/PublishPoint"]["Topic"]["Value"] == "/clicked_point"
