"""training.evaluate follows the simulator's sub-goal sequence (or, with --no-subgoals, the final goal only)."""

import csv
import itertools
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from jepa_sim.env import FrankaSimEnv, SimConfig
from training import evaluate

CHECKPOINT = Path(__file__).resolve().parents[2] / "models" / "sim_manip.pt"


def run(tmp_path: Path, *extra: str) -> tuple[dict, list[np.ndarray]]:
    """One pick_place episode of 17 steps (pregrasp 8 + approach 5 + grasp 3 budgets, then carry); its row and GIF
    goal panels."""
    args = ["--checkpoint", str(CHECKPOINT), "--out", str(tmp_path), "--tasks", "pick_place", "--seeds", "3"]
    args += ["--max-steps", "17", "--samples", "8", "--top-k", "2", "--iterations", "1", "--render-size", "64"]
    args += ["--gif-size", "64", "--subgoal-threshold", "0", *extra]  # budgets only unless `extra` sets one
    assert evaluate.main(args) == 0
    with (tmp_path / "episodes.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    with Image.open(tmp_path / "gifs" / "pick_place_003.gif") as gif:
        goals = [np.asarray(frame.convert("RGB"))[:, 64:].astype(int) for frame in ImageSequence.Iterator(gif)]
    return row, goals


def changed(before: np.ndarray, after: np.ndarray) -> bool:
    """The goal panel shows another image (approach and grasp differ only in a few finger pixels)."""
    return int((np.abs(after - before).sum(-1) > 30).sum()) >= 4


def test_pick_place_switches_goal_images_after_the_budgets(tmp_path):
    row, goals = run(tmp_path / "sequence")
    assert row["final_subgoal"] == "carry" and int(row["steps"]) == 17
    assert len(goals) == 18  # start + 17 steps
    assert [i for i in range(1, 18) if changed(goals[i - 1], goals[i])] == [8, 13, 16]  # -> approach, grasp, carry


def test_no_subgoals_plans_to_the_final_goal_only(tmp_path):
    row, goals = run(tmp_path / "single", "--no-subgoals")
    assert row["final_subgoal"] == ""
    assert not any(changed(goals[0], goal) for goal in goals)


def test_each_observation_within_the_threshold_moves_on_and_the_last_one_runs_to_the_end(tmp_path):
    row, goals = run(tmp_path / "threshold", "--subgoal-threshold", "1e9")
    # one switch per observation, except grasp (only the fingers change): its 3-step budget, then carry and place;
    # place, the last, has no threshold here: the simulator judges success, the episode runs its 17 steps
    assert int(row["steps"]) == 17 and row["final_subgoal"] == "place"
    changes = [i for i, (a, b) in enumerate(itertools.pairwise(goals)) if changed(a, b)]
    assert changes == [0, 1, 3, 4]


def test_subgoal_grippers_command_what_each_image_shows_unless_the_cem_plans_them():
    env = FrankaSimEnv(SimConfig(render_size=(64, 64)))
    try:
        env.reset("pick_place", 3)
        commanded = evaluate.episode_subgoals(env, evaluate.EvalConfig())[1]
        planned = evaluate.episode_subgoals(env, evaluate.EvalConfig(subgoal_grippers=False))[1]
    finally:
        env.close()
    assert [s.gripper for s in commanded] == [0.0, 0.0, 1.0, 1.0, 0.0]  # open, open, close, hold, release
    assert [s.gripper for s in planned] == [None] * 5
    assert [s.steps for s in commanded] == [s.steps for s in planned] == [8, 5, 3, 8, 0]
    assert [s.energy_threshold for s in commanded] == [0.05] * 4 + [0.0]  # the last: the simulator judges success


def test_cem_planned_grippers_run_closed_loop(tmp_path):
    row, _ = run(tmp_path / "grippers", "--no-subgoal-grippers")
    assert row["final_subgoal"] == "carry" and int(row["steps"]) == 17
