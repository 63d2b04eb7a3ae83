"""The demo's sub-goal sequences: `--task pick_place` sends the episode's sub-goal images with their budgets, the GIF
shows the sub-goal each step planned towards, the table names the last one; `--no-subgoals` sends one goal image."""

import argparse
import json

import numpy as np
import pytest
from PIL import Image, ImageSequence

pytest.importorskip("rclpy")

from jepa_bringup import demo
from jepa_bringup.demo import EpisodeGoals
from jepa_bringup.demo_report import CAPTION_HEIGHT, EpisodeRecord, write_gif
from jepa_msgs.msg import SubGoal
from jepa_sim.tasks import TaskConfig
from tests.integration.test_demo_smoke import TINY, run_demo

pytestmark = pytest.mark.ros


def goal_panels(path) -> list[np.ndarray]:
    """The goal half of every GIF frame (below the caption strip)."""
    with Image.open(path) as gif:
        frames = [np.asarray(frame.convert("RGB")).astype(np.int16) for frame in ImageSequence.Iterator(gif)]
    return [frame[CAPTION_HEIGHT:, frame.shape[1] // 2 :] for frame in frames]


def test_gif_shows_the_subgoal_each_step_planned_towards(tmp_path):
    goals = [np.full((64, 64, 3), value, np.uint8) for value in (0, 120, 240)]
    record = EpisodeRecord(index=0, task="pick_place", seed=1, subgoal_names=["a", "b", "c"],
                           subgoal_indices=[0, 0, 1, 2], steps=4)  # fmt: skip
    frames = [np.zeros((64, 64, 3), np.uint8)] * 6  # start, 4 steps, one more (the hold)
    write_gif(tmp_path / "seq.gif", frames, goals, record)
    shades = [int(np.median(panel)) for panel in goal_panels(tmp_path / "seq.gif")]
    assert [round(shade / 120) for shade in shades] == [0, 0, 0, 1, 2, 2]
    assert record.final_subgoal == "c"
    with pytest.raises(ValueError, match=r"2 goal image\(s\) for the sub-goals \['a', 'b', 'c'\]"):
        write_gif(tmp_path / "bad.gif", frames, goals[:2], record)


def test_plan_goal_is_the_subgoal_sequence_or_the_final_goal_image():
    images = [np.full((8, 8, 3), value, np.uint8) for value in (10, 20, 30)]
    grippers = [SubGoal.GRIPPER_OPEN, SubGoal.GRIPPER_CLOSED, SubGoal.GRIPPER_CLOSED]
    goals = EpisodeGoals(["approach", "grasp", "lift"], images, [6, 2, 0], grippers)
    args = argparse.Namespace(max_steps=20, timeout=60.0, subgoals=True, subgoal_threshold=0.3, subgoal_grippers=False)
    goal, names, shown = goals.plan_goal(args)
    assert names == ["approach", "grasp", "lift"] and len(shown) == 3 and goal.goal_image.width == 0
    assert [(s.name, s.steps, s.energy_threshold, s.image.data[0], s.gripper) for s in goal.subgoals] == [
        ("approach", 6, 0.3, 10, 0),
        ("grasp", 2, 0.3, 20, 0),
        ("lift", 0, 0.3, 30, 0),
    ]  # fmt: skip  (GRIPPER_PLANNED = 0)
    commanded = goals.plan_goal(argparse.Namespace(**{**vars(args), "subgoal_grippers": True}))[0]
    assert [s.gripper for s in commanded.subgoals] == grippers
    assert (goal.max_steps, goal.timeout) == (20, 60.0)
    single, names, shown = goals.plan_goal(argparse.Namespace(**{**vars(args), "subgoals": False}))
    assert names == [] and not single.subgoals and single.goal_image.data[0] == 30 and len(shown) == 1
    reach = EpisodeGoals(["reach"], images[:1], [0], grippers[:1]).plan_goal(args)[0]
    assert not reach.subgoals and reach.goal_image.data[0] == 10


def test_pick_place_demo_sends_the_subgoal_sequence(tmp_path):
    pregrasp, approach, grasp, _ = TaskConfig().pick_place_subgoal_steps
    steps = pregrasp + approach + grasp + 1  # into carry
    args = [*TINY, "--task", "pick_place", "--episodes", "1", "--max-steps", str(steps), "--no-stop-on-success"]
    done = run_demo(*args, "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "goals: the episode's sub-goal images, each for its step budget" in done.stdout
    assert "goal-position prior: off (the checkpoint has no pose_probe)" in done.stdout  # random weights
    assert "last sub-goal carry" in done.stdout
    episode = json.loads((tmp_path / "summary.json").read_text())["episodes"][0]
    assert episode["subgoal_names"] == ["pregrasp", "approach", "grasp", "carry", "place"]
    assert episode["subgoal_indices"] == [0] * pregrasp + [1] * approach + [2] * grasp + [3]
    assert episode["steps"] == steps
    panels = goal_panels(tmp_path / f"{episode['name']}.gif")
    assert np.abs(panels[0] - panels[steps]).mean() > 1.0  # pregrasp vs carry
    assert "| carry |" in (tmp_path / "summary.md").read_text()


def test_manipulation_tasks_default_to_the_two_camera_model_at_its_measured_cem_samples():
    reach, pick = demo.parse_args([]), demo.parse_args(["--task", "pick_place"])
    assert (reach.encoder, reach.predictor, reach.samples) == (demo.DEFAULT_ENCODER, demo.DEFAULT_ENCODER, None)
    assert (pick.encoder, pick.predictor) == (demo.MANIPULATION_MODEL,) * 2
    assert pick.samples == demo.MANIPULATION_SAMPLES
    assert demo.parse_args(["--task", "grasp", "--samples", "100"]).samples == 100  # the user's choice wins
    other = demo.parse_args(["--task", "grasp", "--encoder", demo.DEFAULT_ENCODER])
    assert (other.predictor, other.samples) == (demo.DEFAULT_ENCODER, None)  # demo.yaml's CEM
    own_predictor = demo.parse_args(["--task", "grasp", "--predictor", demo.DEFAULT_ENCODER])
    assert own_predictor.samples is None  # the samples belong to the predictor the CEM plans with
