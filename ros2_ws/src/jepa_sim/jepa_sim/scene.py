"""MuJoCo scene for the simulated Franka: our wrapper MJCF around gymnasium-robotics' Panda, compiled to an MjModel.

The wrapper (generated here, so camera pose and image size come from the config) puts the robot base `panda_link0`
at the world origin on a table whose top is the plane z = 0, adds a cube and a cup with free joints, an exterior
camera, a wrist camera on the hand (as DROID's), cheap lighting (no shadows, reflections or multisampling: ~11 ms per
256x256 frame on CPU) and the hidden, collision-free props of the appearance variations (`jepa_sim.variations`: table
textures, distractor shapes). The robot MJCF is located in the installed `gymnasium_robotics` package at run time;
nothing is copied.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mujoco
import numpy as np

FRANKA_ASSETS_SUBDIR = Path("envs/assets/kitchen_franka/franka_assets")
ARM_JOINTS = tuple(f"robot:panda0_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("robot:panda0_finger_joint1", "robot:panda0_finger_joint2")
ARM_ACTUATORS = tuple(f"panda0_joint{i}" for i in range(1, 8))
FINGER_ACTUATORS = ("r_gripper_finger_joint", "l_gripper_finger_joint")
BASE_BODY = "panda0_link0"
FLANGE_SITE = "flange"
FLANGE_PARENT_BODY = "panda0_link7"
FLANGE_OFFSET = (0.0, 0.0, 0.107)  # link8 sits 0.107 m along link7's z axis (franka_description joint8)
CAMERA_NAME = "exterior"
WRIST_CAMERA_NAME = "wrist"
ViewName = Literal["exterior", "wrist"]
VIEWS: tuple[ViewName, ...] = (CAMERA_NAME, WRIST_CAMERA_NAME)  # the cameras an observation can hold
# Wrist camera in the link7 frame (flange axis = +z; the fingers slide along (1, 1, 0) / sqrt 2 there): 7 cm beside the
# hand, across the finger motion, looking down the gripper just past the fingertips, so the fingers open and close
# across the image and the object between them is seen from above.
WRIST_CAMERA_POSITION = (0.05, -0.05, 0.1)  # m, link7 frame
WRIST_CAMERA_LOOKAT = (0.0, 0.0, 0.27)  # m, link7 frame
WRIST_CAMERA_FOVY_DEG = 75.0
TABLE_MATERIALS = ("table_mat", "table_checker", "table_gradient")  # plain (default) and the variations' textures
DISTRACTOR_SHAPES = ("box", "sphere", "cylinder", "capsule")  # one hidden, collision-free geom each
DISTRACTOR_HIDDEN_Z = -2.0  # m: below the floor, where a distractor not in use waits
FINGER_OPEN_M = 0.04  # each finger slides 0..0.04 m; gripper 1 = both fingers at 0
# The MJCF's joint6/joint7 zeros differ from franka_description by the fixed rotations in its link6/link7 frames.
ARM_JOINT_OFFSETS = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.57, 0.7854])  # q_franka = q_mjcf + offset


@dataclass(frozen=True)
class ObjectSpec:
    """A graspable rigid object (body and free joint share `name`) and how a top-down grasp holds it."""

    name: str
    half_height: float  # m, centre height above the table when resting
    grasp_flange_height: float  # m, flange height above the object centre for a top-down grasp
    held_finger_opening: float  # m, each finger's joint position when the object is held


CUBE = ObjectSpec("cube", half_height=0.025, grasp_flange_height=0.135, held_finger_opening=0.026)
CUP = ObjectSpec("cup", half_height=0.045, grasp_flange_height=0.13, held_finger_opening=0.032)
OBJECTS = {spec.name: spec for spec in (CUBE, CUP)}


@dataclass(frozen=True)
class CameraConfig:
    """Fixed exterior camera looking at the workspace from the robot's left front, like DROID's exterior cameras."""

    position: tuple[float, float, float] = (1.15, 0.65, 0.8)  # m, base frame
    lookat: tuple[float, float, float] = (0.42, 0.0, 0.27)  # m, point at the image centre
    fovy_deg: float = 50.0  # vertical field of view


# Named cameras. "exterior" (the default) frames the whole scene like a DROID exterior camera. "workspace" looks at the
# table from closer with a narrower field of view, so at the 64 px input of the CPU-sized models the 5 cm cube covers
# ~2.5x the image area: the frozen random encoder's energy then registers a missing cube and the finger opening
# ~2.2x more (benchmarks/camera_energy.py), but the arm leaves the view above ~0.5 m (models/README.md: no better).
# "front" faces the robot across the table, so the fingers (closing along the base y axis) open and close across the
# image instead of along the line of sight: at 64 px closing them changes ~2x the pixels the exterior view shows.
CameraName = Literal["exterior", "workspace", "front"]
CAMERAS: dict[CameraName, CameraConfig] = {
    "exterior": CameraConfig(),
    "workspace": CameraConfig(position=(1.0, 0.5, 0.7), lookat=(0.47, 0.0, 0.22), fovy_deg=40.0),
    "front": CameraConfig(position=(1.3, 0.1, 0.65), lookat=(0.47, 0.0, 0.25), fovy_deg=45.0),
}


def franka_assets_dir() -> Path:
    """Folder of gymnasium-robotics' kitchen_franka Panda MJCF, found from the installed package."""
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package 'gymnasium_robotics' is not installed; it provides the Panda MJCF")
    folder = Path(next(iter(spec.submodule_search_locations))) / FRANKA_ASSETS_SUBDIR
    for name in ("assets.xml", "actuator.xml", "chain.xml"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"expected the Panda MJCF file {folder / name} in gymnasium_robotics")
    return folder


def camera_xyaxes(position: np.ndarray, lookat: np.ndarray) -> np.ndarray:
    """MuJoCo camera `xyaxes` (image right, image up) for a camera at `position` looking at `lookat`, z world-up."""
    forward = lookat - position
    if np.linalg.norm(forward) < 1e-6:
        raise ValueError(f"camera position {position} and lookat {lookat} must differ")
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:
        raise ValueError("camera must not look straight up or down (lookat - position is parallel to z)")
    right = right / np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.concatenate([right, up])


def _fmt(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def _cup_geoms(radius: float, half_height: float, walls: int = 10) -> str:
    """A hollow cup: a bottom disc and `walls` thin boxes around the rim (graspable from the side)."""
    thickness = 0.004
    attrs = 'rgba=".15 .4 .85 1" mass="0.01" friction="1.2 0.005 0.0001" condim="4"'
    half_width = radius * np.tan(np.pi / walls) + 0.001
    geoms = [
        f'<geom type="cylinder" size="{radius:.4f} {thickness:.4f}" pos="0 0 {thickness - half_height:.4f}" {attrs}/>'
    ]
    for k in range(walls):
        angle = 2.0 * np.pi * k / walls
        pos = (radius - thickness) * np.array([np.cos(angle), np.sin(angle)])
        geoms.append(
            f'<geom type="box" size="{thickness:.4f} {half_width:.4f} {half_height:.4f}" '
            f'pos="{pos[0]:.4f} {pos[1]:.4f} 0" euler="0 0 {angle:.5f}" {attrs}/>'
        )
    return "\n        ".join(geoms)


def distractor_geom(shape: str) -> str:
    """Name of the distractor geom of `shape` (one of DISTRACTOR_SHAPES)."""
    return f"distractor_{shape}"


def _distractor_geoms() -> str:
    """One visual-only geom per distractor shape (about the cube's size), hidden below the floor and transparent."""
    sizes = {"box": "0.03 0.02 0.035", "sphere": "0.03", "cylinder": "0.025 0.04", "capsule": "0.02 0.03"}
    return "\n    ".join(
        f'<geom name="{distractor_geom(shape)}" type="{shape}" size="{sizes[shape]}" pos="0 0 {DISTRACTOR_HIDDEN_Z}" '
        f'rgba="1 1 1 0" contype="0" conaffinity="0"/>'
        for shape in DISTRACTOR_SHAPES
    )


def wrist_camera_quat() -> np.ndarray:
    """(w, x, y, z) orientation in the link7 frame of the wrist camera looking from its position to its lookat."""
    position, lookat = np.asarray(WRIST_CAMERA_POSITION), np.asarray(WRIST_CAMERA_LOOKAT)
    forward = (lookat - position) / np.linalg.norm(lookat - position)
    right = np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)  # the finger motion: across the image
    right = right - forward * (right @ forward)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    matrix = np.stack([right, up, -forward], axis=1)  # camera axes (x right, y up, looking along -z) as columns
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, matrix.flatten())
    return quat


def scene_xml(assets: Path, camera: CameraConfig, render_size: tuple[int, int], timestep: float) -> str:
    """The wrapper MJCF text: Panda includes, table, objects, camera, light and fast-rendering visual settings."""
    width, height = render_size
    xyaxes = camera_xyaxes(np.asarray(camera.position, float), np.asarray(camera.lookat, float))
    return f"""<mujoco model="jepa_franka_table">
  <include file="{assets / "assets.xml"}"/>
  <compiler angle="radian" meshdir="{assets / "meshes"}" autolimits="true"/>
  <option timestep="{timestep:.6g}" integrator="implicitfast"/>
  <visual>
    <global offwidth="{max(width, 640)}" offheight="{max(height, 480)}"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.5 0.5 0.5" specular="0.1 0.1 0.1"/>
  </visual>
  <asset>
    <texture name="floor_tex" type="2d" builtin="checker" rgb1=".25 .27 .3" rgb2=".2 .22 .25" width="64" height="64"/>
    <material name="floor_mat" texture="floor_tex" texrepeat="8 8" reflectance="0"/>
    <material name="table_mat" rgba=".62 .5 .38 1" reflectance="0"/>
    <texture name="table_checker_tex" type="2d" builtin="checker" rgb1=".9 .9 .9" rgb2=".55 .55 .55" width="64"
             height="64"/>
    <material name="table_checker" texture="table_checker_tex" texrepeat="6 6" reflectance="0"/>
    <texture name="table_gradient_tex" type="2d" builtin="gradient" rgb1="1 1 1" rgb2=".4 .4 .4" width="64"
             height="64"/>
    <material name="table_gradient" texture="table_gradient_tex" texrepeat="3 3" reflectance="0"/>
  </asset>
  <include file="{assets / "actuator.xml"}"/>
  <worldbody>
    <light name="key" directional="true" castshadow="false" pos="0.5 0.5 2" dir="-0.2 -0.2 -1" diffuse=".6 .6 .6"/>
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 -0.75" material="floor_mat"/>
    <geom name="table" type="box" size="0.6 0.75 0.025" pos="0.4 0 -0.025" material="table_mat"
          friction="1 0.005 0.0001"/>
    <camera name="{CAMERA_NAME}" mode="fixed" pos="{_fmt(camera.position)}" xyaxes="{_fmt(xyaxes)}"
            fovy="{camera.fovy_deg:.6g}"/>
    {_distractor_geoms()}
    <include file="{assets / "chain.xml"}"/>
    <body name="cube" pos="0.5 0.15 {CUBE.half_height}">
      <freejoint name="cube"/>
      <geom type="box" size="{CUBE.half_height} {CUBE.half_height} {CUBE.half_height}" rgba=".85 .15 .12 1"
            mass="0.08" friction="1.2 0.005 0.0001" condim="4"/>
    </body>
    <body name="cup" pos="0.5 -0.15 {CUP.half_height}">
      <freejoint name="cup"/>
      {_cup_geoms(0.03, CUP.half_height)}
    </body>
  </worldbody>
</mujoco>
"""


def build_model(camera: CameraConfig, render_size: tuple[int, int], timestep: float) -> mujoco.MjModel:
    """Compile the scene: add the flange site (link8) to link7 and gravity-compensate the arm like the real robot."""
    spec = mujoco.MjSpec.from_string(scene_xml(franka_assets_dir(), camera, render_size, timestep))
    hand = spec.body(FLANGE_PARENT_BODY)
    hand.add_site(name=FLANGE_SITE, pos=list(FLANGE_OFFSET), size=[0.005, 0.0, 0.0])
    hand.add_camera(
        name=WRIST_CAMERA_NAME, pos=list(WRIST_CAMERA_POSITION), quat=list(wrist_camera_quat()),
        fovy=WRIST_CAMERA_FOVY_DEG,
    )  # fmt: skip
    for body in spec.bodies:
        if body.name.startswith("panda0_"):
            body.gravcomp = 1.0
    for site in spec.sites:
        site.group = 5  # sites are markers, not scenery: hidden from the camera (mjvOption shows groups 0-2)
    return spec.compile()
