"""Appearance variations of the simulated scene: table colour and texture, light, exterior camera pose, a distractor.

Two disjoint sets, so a model can be trained on one and judged on scenes it never saw: `train` (play data may
randomise from it) and `heldout` (evaluation only). Every range of one set is disjoint from the other's: table hues,
texture (train: plain or checker; held out: plain or gradient), key-light azimuth and intensity, the camera's offsets
(train: up to 2 cm and 1.5 degrees per axis; held out: 2-4 cm and 1.5-3 degrees) and the distractor's shape and hue.
`none` is the unvaried scene of the released models. A variation is a pure function of (set, seed) and is applied to
the compiled model's fields (no recompilation); physics is untouched (the distractor has no collisions).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Literal

import mujoco
import numpy as np

from jepa_sim import scene

VariationSet = Literal["none", "train", "heldout"]
VARIATION_SETS: tuple[VariationSet, ...] = ("none", "train", "heldout")
SEED_SALT = 2026  # variation draws use their own stream, independent of the episode's start and goal sampling


@dataclass(frozen=True)
class VariationRanges:
    """The ranges one set draws from (hue intervals are unions of [lo, hi) pieces)."""

    table_hues: tuple[tuple[float, float], ...]
    table_material: str  # the textured alternative to the plain table
    light_azimuth_deg: tuple[float, float]
    light_intensity: tuple[tuple[float, float], ...]
    camera_shift_m: tuple[float, float]  # |offset| per axis
    camera_turn_deg: tuple[float, float]  # |yaw| and |pitch|
    distractor_shapes: tuple[str, ...]
    distractor_hues: tuple[tuple[float, float], ...]


RANGES: dict[str, VariationRanges] = {
    "train": VariationRanges(
        table_hues=((0.0, 0.15), (0.45, 0.65)),
        table_material="table_checker",
        light_azimuth_deg=(0.0, 180.0),
        light_intensity=((0.45, 0.75),),
        camera_shift_m=(0.0, 0.02),
        camera_turn_deg=(0.0, 1.5),
        distractor_shapes=("box", "sphere"),
        distractor_hues=((0.15, 0.45),),
    ),
    "heldout": VariationRanges(
        table_hues=((0.25, 0.38), (0.65, 0.78)),
        table_material="table_gradient",
        light_azimuth_deg=(180.0, 360.0),
        light_intensity=((0.3, 0.45), (0.75, 0.9)),
        camera_shift_m=(0.02, 0.04),
        camera_turn_deg=(1.5, 3.0),
        distractor_shapes=("cylinder", "capsule"),
        distractor_hues=((0.82, 0.92),),
    ),
}
DISTRACTOR_AREAS = (((0.3, 0.75), (0.3, 0.45)), ((0.3, 0.75), (-0.45, -0.3)))  # x, y boxes beside the object area


@dataclass(frozen=True)
class SceneVariation:
    """One drawn appearance of the scene."""

    table_rgba: tuple[float, float, float, float]
    table_material: str  # one of scene.TABLE_MATERIALS
    light_dir: tuple[float, float, float]  # direction of the key light (pointing down)
    light_intensity: float  # diffuse of the key light (the unvaried scene: 0.6)
    camera_shift: tuple[float, float, float]  # m, added to the exterior camera position
    camera_turn_deg: tuple[float, float]  # (yaw about z, pitch about the camera's right axis) of the view direction
    distractor_shape: str  # one of scene.DISTRACTOR_SHAPES
    distractor_rgba: tuple[float, float, float, float]
    distractor_position: tuple[float, float, float]  # m, resting on the table


def _uniform_in(rng: np.random.Generator, pieces: tuple[tuple[float, float], ...]) -> float:
    """A uniform draw from the union of [lo, hi) pieces (weighted by their lengths)."""
    lengths = np.array([hi - lo for lo, hi in pieces])
    lo, hi = pieces[int(rng.choice(len(pieces), p=lengths / lengths.sum()))]
    return float(rng.uniform(lo, hi))


def _rgba_of_hue(hue: float, saturation: float, value: float) -> tuple[float, float, float, float]:
    return (*colorsys.hsv_to_rgb(hue, saturation, value), 1.0)


def _signed(rng: np.random.Generator, magnitude: tuple[float, float], count: int) -> np.ndarray:
    """`count` values with |v| uniform in magnitude and a random sign."""
    return rng.uniform(*magnitude, count) * rng.choice([-1.0, 1.0], count)


def sample_variation(variation_set: VariationSet, seed: int) -> SceneVariation | None:
    """The variation of episode `seed` drawn from `variation_set`; None for "none" (the unvaried scene)."""
    if variation_set not in VARIATION_SETS:
        raise ValueError(f"scene variations: expected one of {VARIATION_SETS}, got {variation_set!r}")
    if variation_set == "none":
        return None
    ranges = RANGES[variation_set]
    rng = np.random.default_rng([SEED_SALT, VARIATION_SETS.index(variation_set), seed])
    azimuth = np.deg2rad(rng.uniform(*ranges.light_azimuth_deg))
    elevation = np.deg2rad(rng.uniform(50.0, 80.0))
    light_dir = (
        -np.cos(elevation) * np.cos(azimuth),
        -np.cos(elevation) * np.sin(azimuth),
        -np.sin(elevation),
    )
    shape = str(rng.choice(ranges.distractor_shapes))
    (x_range, y_range) = DISTRACTOR_AREAS[int(rng.integers(len(DISTRACTOR_AREAS)))]
    geom_half_height = {"box": 0.035, "sphere": 0.03, "cylinder": 0.04, "capsule": 0.05}[shape]
    return SceneVariation(
        table_rgba=_rgba_of_hue(_uniform_in(rng, ranges.table_hues), rng.uniform(0.2, 0.5), rng.uniform(0.45, 0.75)),
        table_material=str(rng.choice(["table_mat", ranges.table_material])),
        light_dir=tuple(float(v) for v in light_dir),
        light_intensity=_uniform_in(rng, ranges.light_intensity),
        camera_shift=tuple(float(v) for v in _signed(rng, ranges.camera_shift_m, 3)),
        camera_turn_deg=tuple(float(v) for v in _signed(rng, ranges.camera_turn_deg, 2)),
        distractor_shape=shape,
        distractor_rgba=_rgba_of_hue(_uniform_in(rng, ranges.distractor_hues), 0.8, 0.85),
        distractor_position=(float(rng.uniform(*x_range)), float(rng.uniform(*y_range)), geom_half_height),
    )


class SceneAppearance:
    """Applies variations to a compiled scene model and restores its unvaried appearance (variation None)."""

    def __init__(self, model: mujoco.MjModel, camera: scene.CameraConfig):
        self.model = model
        self.camera = camera
        self._table = model.geom("table").id
        self._light = model.light("key").id
        self._exterior = model.camera(scene.CAMERA_NAME).id
        self._distractors = {shape: model.geom(scene.distractor_geom(shape)).id for shape in scene.DISTRACTOR_SHAPES}
        self._materials = {name: model.material(name).id for name in scene.TABLE_MATERIALS}
        self._defaults = {
            "table_matid": int(model.geom_matid[self._table]),
            "table_rgba": model.geom_rgba[self._table].copy(),
            "table_mat_rgba": {i: model.mat_rgba[i].copy() for i in self._materials.values()},
            "light_dir": model.light_dir[self._light].copy(),
            "light_diffuse": model.light_diffuse[self._light].copy(),
            "cam_pos": model.cam_pos[self._exterior].copy(),
            "cam_quat": model.cam_quat[self._exterior].copy(),
            "distractor_pos": {i: model.geom_pos[i].copy() for i in self._distractors.values()},
            "distractor_rgba": {i: model.geom_rgba[i].copy() for i in self._distractors.values()},
        }

    def apply(self, variation: SceneVariation | None) -> None:
        """Set the model's appearance fields to `variation` (None: the unvaried scene)."""
        self._restore()
        if variation is None:
            return
        model = self.model
        material = self._materials[variation.table_material]
        model.geom_matid[self._table] = material
        model.mat_rgba[material] = variation.table_rgba
        model.light_dir[self._light] = variation.light_dir
        model.light_diffuse[self._light] = variation.light_intensity
        position, quat = self._camera_pose(variation)
        model.cam_pos[self._exterior] = position
        model.cam_quat[self._exterior] = quat
        distractor = self._distractors[variation.distractor_shape]
        model.geom_pos[distractor] = variation.distractor_position
        model.geom_rgba[distractor] = variation.distractor_rgba

    def _restore(self) -> None:
        model, defaults = self.model, self._defaults
        model.geom_matid[self._table] = defaults["table_matid"]
        model.geom_rgba[self._table] = defaults["table_rgba"]
        for index, rgba in defaults["table_mat_rgba"].items():
            model.mat_rgba[index] = rgba
        model.light_dir[self._light] = defaults["light_dir"]
        model.light_diffuse[self._light] = defaults["light_diffuse"]
        model.cam_pos[self._exterior] = defaults["cam_pos"]
        model.cam_quat[self._exterior] = defaults["cam_quat"]
        for index, position in defaults["distractor_pos"].items():
            model.geom_pos[index] = position
        for index, rgba in defaults["distractor_rgba"].items():
            model.geom_rgba[index] = rgba

    def _camera_pose(self, variation: SceneVariation) -> tuple[np.ndarray, np.ndarray]:
        """Exterior camera position and (w, x, y, z) orientation: shifted, its view direction turned."""
        position = np.asarray(self.camera.position, float) + variation.camera_shift
        forward = np.asarray(self.camera.lookat, float) - np.asarray(self.camera.position, float)
        yaw, pitch = np.deg2rad(variation.camera_turn_deg)
        forward = _rotation(np.array([0.0, 0.0, 1.0]), yaw) @ forward
        right = np.cross(forward, [0.0, 0.0, 1.0])
        forward = _rotation(right / np.linalg.norm(right), pitch) @ forward
        right, up = scene.camera_xyaxes(position, position + forward).reshape(2, 3)
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, np.stack([right, up, np.cross(right, up)], axis=1).flatten())
        return position, quat


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """[3, 3] rotation by `angle` (rad) about the unit `axis` (Rodrigues)."""
    x, y, z = axis
    skew = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * skew + (1.0 - np.cos(angle)) * skew @ skew
