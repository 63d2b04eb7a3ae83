"""Surprise as a live monitor in the MuJoCo simulator with the bundled model (models/sim_manip.pt).

The planner's own controller (MPCController, the code the planner node runs) plans reach steps; after each executed
action the next frame is scored against the prediction for that action (`MPCController.surprise`). Undisturbed steps
stay below the stop threshold; blocking the arm or knocking the cube away in the middle of a move raises the surprise
of that step above it. Seed 0, 3 steps per episode: the measured margins are ~0.02 on both sides (normal steps
0.132 and 0.127, cube knocked 0.176, arm blocked 0.235; seeds 0-9 separate with margins from -0.03 to +0.04, and
models/README.md has the distribution over 20 episodes of the earlier sim_reach.pt).
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from jepa_core.checkpoints import load_ac_predictor, load_encoder
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.mpc import MPCConfig, MPCController
from jepa_core.planning.world_model import WorldModel
from jepa_sim.env import FrankaSimEnv, SimConfig

MODEL = Path(__file__).resolve().parents[2] / "models" / "sim_manip.pt"
SEED, DISTURBED_STEP = 0, 1
STEPS = DISTURBED_STEP + 2  # the disturbed action's next frame is scored at the last step
THRESHOLD = 0.155  # surprise_stop_threshold that separates this episode's normal and disturbed steps


@pytest.fixture(scope="module")
def world_model() -> WorldModel:
    return WorldModel(load_ac_predictor(MODEL), load_encoder(MODEL))


@pytest.fixture(scope="module")
def env():
    sim = FrankaSimEnv(SimConfig())
    yield sim
    sim.close()


def surprises(env: FrankaSimEnv, world_model: WorldModel, disturb=None) -> list[float]:
    """Surprise after each executed action of a reach episode; `disturb(env)` runs after step DISTURBED_STEP's plan."""
    obs = env.reset("reach", SEED)
    controller = MPCController(world_model, MPCConfig(cem=CEMConfig(samples=100, top_k=10, iterations=5), seed=SEED))
    controller.set_goal(world_model.encode_images(env.goal_image()[None])[0])
    values = []
    for step in range(STEPS):
        representation = world_model.encode_images(obs.image[None])[0]  # [N, D]
        surprise = controller.surprise(representation)
        if surprise is not None:
            values.append(surprise)
        decision = controller.step(representation, torch.from_numpy(obs.ee_state))
        if step == DISTURBED_STEP and disturb is not None:
            disturb(env)
        obs = env.step(decision.target_state.numpy())
        env.block_arm(False)
    return values  # values[k]: the action of step k vs the frame after it


def test_normal_steps_stay_below_and_disturbances_rise_above_the_threshold(env, world_model):
    normal = surprises(env, world_model)
    assert len(normal) == STEPS - 1 and max(normal) < THRESHOLD, normal
    blocked = surprises(env, world_model, lambda sim: sim.block_arm(True))
    knocked = surprises(env, world_model, lambda sim: sim.move_object("cube", [0.3, 0.3, 0.025]))
    for disturbed in (blocked, knocked):
        assert disturbed[:DISTURBED_STEP] == pytest.approx(normal[:DISTURBED_STEP])  # identical until the event
        assert disturbed[DISTURBED_STEP] > THRESHOLD > normal[DISTURBED_STEP], (disturbed, normal)


def test_disturbance_hooks(env):
    obs = env.reset("reach", SEED)
    env.move_object("cube", [0.3, 0.3, 0.025])
    assert np.allclose(env.step().object_positions["cube"], [0.3, 0.3, 0.025], atol=2e-3)  # at rest where put
    env.block_arm(True)
    target = obs.ee_state + np.array([0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert np.allclose(env.step(target).ee_state[:3], obs.ee_state[:3], atol=2e-3)  # the arm stays
    env.reset("reach", SEED)  # unblocks
    moved = env.step(env.ee_state() + np.array([0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
    assert moved.ee_state[0] > obs.ee_state[0] + 0.03
    with pytest.raises(ValueError, match="unknown object 'ball'"):
        env.move_object("ball", [0.3, 0.3, 0.025])
    with pytest.raises(ValueError, match="3 finite numbers"):
        env.move_object("cube", [0.3, np.nan, 0.025])
