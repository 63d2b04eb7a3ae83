"""Simulator cameras and appearance: the wrist camera and tiled frames, the disjoint train / held-out variations."""

import dataclasses

import numpy as np
import pytest

from jepa_sim import scene
from jepa_sim.env import FrankaSimEnv, SimConfig
from jepa_sim.variations import RANGES, SceneAppearance, sample_variation

SIZE = (48, 48)


@pytest.fixture(scope="module")
def two_view_env():
    environment = FrankaSimEnv(SimConfig(render_size=SIZE, views=("exterior", "wrist"), scene_variations="heldout"))
    yield environment
    environment.close()


def test_two_view_frames_tile_exterior_then_wrist(two_view_env):
    obs = two_view_env.reset("grasp", seed=2)
    assert obs.image.shape == (48, 96, 3) and set(obs.views) == {"exterior", "wrist"}
    np.testing.assert_array_equal(obs.image[:, :48], obs.views["exterior"])
    np.testing.assert_array_equal(obs.image[:, 48:], obs.views["wrist"])
    assert two_view_env.goal_image().shape == (48, 96, 3)


def test_the_wrist_camera_sees_the_fingers_close(two_view_env):
    env = two_view_env
    env.reset("grasp", seed=2)
    state = env.episode.subgoals[0].flange_state.copy()  # pregrasp, fingers open, above the cube
    opened, _ = env.render_at_pose(np.concatenate([state[:6], [0.0]]))
    closed, _ = env.render_at_pose(np.concatenate([state[:6], [1.0]]))
    change = np.abs(opened.astype(int) - closed.astype(int)).mean(axis=(0, 2))  # per column
    wrist, exterior = change[48:].mean(), change[:48].mean()
    assert wrist > 4 * exterior  # the wrist view shows the finger opening; the exterior view barely does


def test_wrist_camera_moves_with_the_hand(two_view_env):
    env = two_view_env
    obs = env.reset("reach", seed=0)
    before = env.camera_extrinsics("wrist")
    exterior = env.camera_extrinsics("exterior")
    env.step(obs.ee_state + np.array([0.05, 0.0, -0.05, 0.0, 0.0, 0.0, 0.0]))
    assert np.linalg.norm(env.camera_extrinsics("wrist")[:3] - before[:3]) > 0.03
    np.testing.assert_allclose(env.camera_extrinsics("exterior"), exterior)


def test_variations_are_deterministic_and_none_is_the_unvaried_scene():
    assert sample_variation("none", 3) is None
    assert sample_variation("train", 3) == sample_variation("train", 3)
    assert sample_variation("train", 3) != sample_variation("train", 4)
    with pytest.raises(ValueError, match="heldout"):
        sample_variation("test", 0)


def test_train_and_heldout_sets_are_disjoint():
    train, heldout = RANGES["train"], RANGES["heldout"]
    for lo, hi in train.table_hues:
        assert all(hi <= h_lo or lo >= h_hi for h_lo, h_hi in heldout.table_hues)
    assert not set(train.distractor_shapes) & set(heldout.distractor_shapes)
    assert train.table_material != heldout.table_material
    assert train.camera_shift_m[1] <= heldout.camera_shift_m[0]
    assert train.camera_turn_deg[1] <= heldout.camera_turn_deg[0]
    assert train.light_azimuth_deg[1] <= heldout.light_azimuth_deg[0]
    drawn = [sample_variation("heldout", seed) for seed in range(50)]
    assert all(np.all(np.abs(v.camera_shift) >= heldout.camera_shift_m[0]) for v in drawn)
    assert {v.distractor_shape for v in drawn} == set(heldout.distractor_shapes)


def test_applying_then_clearing_a_variation_restores_the_model_exactly():
    model = scene.build_model(scene.CameraConfig(), SIZE, 0.002)
    fields = ("geom_matid", "geom_rgba", "geom_pos", "mat_rgba", "light_dir", "light_diffuse", "cam_pos", "cam_quat")
    original = {name: getattr(model, name).copy() for name in fields}
    appearance = SceneAppearance(model, scene.CameraConfig())
    appearance.apply(sample_variation("heldout", 5))
    assert not np.array_equal(model.cam_pos, original["cam_pos"])
    appearance.apply(None)
    for name in fields:
        np.testing.assert_array_equal(getattr(model, name), original[name], err_msg=name)


def test_variations_change_the_image_but_not_the_physics():
    plain = FrankaSimEnv(SimConfig(render_size=SIZE))
    varied = FrankaSimEnv(dataclasses.replace(plain.config, scene_variations="train"))
    try:
        first, second = plain.reset("pick_place", seed=1), varied.reset("pick_place", seed=1)
        assert not np.array_equal(first.image, second.image)
        for _ in range(3):
            target = first.ee_state + np.array([0.03, -0.03, -0.04, 0.0, 0.0, 0.0, 1.0])
            first, second = plain.step(target), varied.step(target)
        np.testing.assert_array_equal(first.ee_state, second.ee_state)
        np.testing.assert_array_equal(first.object_positions["cube"], second.object_positions["cube"])
    finally:
        plain.close()
        varied.close()
