"""ROS-free MuJoCo Franka Panda environment: a table, a cube, a cup, an exterior and a wrist camera, driven by flange
poses.

Quick start (planner + env in one process, no ROS)::

    from jepa_sim.env import FrankaSimEnv, SimConfig
    env = FrankaSimEnv(SimConfig(control_period=0.25))     # 4 Hz planning; 1/15 for recording
    env = FrankaSimEnv(SimConfig(views=("exterior", "wrist"), scene_variations="heldout"))  # two views, unseen scenes
    obs = env.reset(task="reach", seed=0)                  # Observation: .image (the frame), .views (per camera)
    goal = env.goal_image()                                # [H, V*W, 3] uint8 frame, arm/objects at the goal
    images = env.subgoal_images()                          # the episode's sub-goal scenes (grasp, carry, place)
    obs = env.step(target_state)                           # target [x, y, z, euler_xyz, gripper] (base frame)
    obs = env.step_action(action)                          # DROID action [dxyz, d_euler_xyz, dgripper]
    status = env.task_status()                             # TaskStatus(success, distance, tolerance, goal_point)
    image, error = env.render_at_pose(state)               # scene with the flange at `state`; sim state untouched
    fx, fy, cx, cy = env.camera_intrinsics(); extrinsics = env.camera_extrinsics("wrist")  # DROID [xyz, euler xyz]
    env.move_object("cube", [0.6, 0.35, 0.025]); env.block_arm(True)   # disturbances (tests of the surprise monitor)
    env.close()

Conventions (DESIGN.md): base frame = `panda_link0` = the MuJoCo world frame; states are
[x, y, z, extrinsic Euler 'xyz' (SciPy, rad), gripper in [0, 1], 1 = closed] of the flange (link8); quaternions are
(x, y, z, w) (`jepa_core.geometry`). `Observation.joint_positions` follow franka_description's joint zeros (the MJCF's
joint6/joint7 offsets are added). Each `step` runs `control_period` of physics at `physics_rate_hz`: a min-jerk
flange reference tracked by differential IK (`jepa_sim.controller`), the finger servos set from the gripper command
as a Franka hand would take it (closing grasps and squeezes, opening moves, small changes are ignored);
the target position is clipped to the workspace box first (`Observation.target_clipped` reports it). Resets with the
same task and seed are bit-identical; `render_at_pose`/`goal_image` use a private MjData and never touch the state.
Images are frames of `SimConfig.views` (`jepa_core.views`: one view is its plain image, several are tiled side by
side); `scene_variations` draws each episode's appearance from a set of `jepa_sim.variations` by the episode's seed.
Set MUJOCO_GL=egl (scripts/env.sh does) for headless rendering; it is the default here when unset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from jepa_core import geometry
from jepa_core.views import frame_of
from jepa_sim import scene
from jepa_sim.controller import CartesianTrajectory, ControllerConfig, DifferentialIK, FlangeKinematics
from jepa_sim.tasks import TASKS, Episode, TaskConfig, sample_episode
from jepa_sim.variations import VARIATION_SETS, SceneAppearance, SceneVariation, VariationSet, sample_variation

# franka_description "ready" posture: flange at (0.307, 0, 0.59), pointing down, fingers closing along the base y axis.
HOME_JOINTS_FRANKA = np.array([0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4])
SETTLE_SECONDS = 0.2  # physics run at reset so objects rest on the table before time 0


@dataclass(frozen=True)
class SimConfig:
    """Everything that configures the simulator; the ROS node maps its parameters onto these fields."""

    task: str = "reach"  # "reach", "grasp" or "pick_place"
    task_object: str = "cube"  # object for grasp/pick_place: "cube" or "cup"
    render_size: tuple[int, int] = (256, 256)  # (width, height) of the camera images, px
    camera: scene.CameraConfig = field(default_factory=scene.CameraConfig)
    views: tuple[scene.ViewName, ...] = (scene.CAMERA_NAME,)  # cameras of each frame, tiled in this order
    scene_variations: VariationSet = "none"  # appearance set each reset draws from by its seed (jepa_sim.variations)
    physics_rate_hz: float = 500.0
    control_period: float = 0.25  # s of simulated time per step (0.25 = 4 Hz planning, 1/15 = DROID recording)
    workspace_min: tuple[float, float, float] = (0.25, -0.4, 0.16)  # m, commanded flange positions are clipped
    workspace_max: tuple[float, float, float] = (0.8, 0.4, 0.7)
    render_observations: bool = True  # False: step/reset return image=None (fast scripted rollouts)
    gripper_deadband: float = 0.1  # gripper commands closer than this to the last applied one are ignored
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    tasks: TaskConfig = field(default_factory=TaskConfig)

    def validate(self) -> None:
        """Raise ValueError naming the field when a value is out of range."""
        checks = {
            "task": (self.task in TASKS, f"one of {TASKS}"),
            "task_object": (self.task_object in scene.OBJECTS, f"one of {tuple(scene.OBJECTS)}"),
            "render_size": (
                len(self.render_size) == 2 and all(16 <= side <= 4096 for side in self.render_size),
                "(width, height), each an int in [16, 4096]",
            ),
            "physics_rate_hz": (50.0 <= self.physics_rate_hz <= 10000.0, "in [50, 10000] Hz"),
            "control_period": (self.control_period * self.physics_rate_hz >= 1.0, ">= one physics step"),
            "gripper_deadband": (0.0 <= self.gripper_deadband < 1.0, "in [0, 1)"),
            "workspace_min": (np.all(np.less(self.workspace_min, self.workspace_max)), "< workspace_max per axis"),
            "camera.fovy_deg": (0.0 < self.camera.fovy_deg < 180.0, "in (0, 180) degrees"),
            "views": (
                0 < len(self.views) == len(set(self.views)) and set(self.views) <= set(scene.VIEWS),
                f"distinct names out of {scene.VIEWS}",
            ),
            "scene_variations": (self.scene_variations in VARIATION_SETS, f"one of {VARIATION_SETS}"),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise ValueError(f"SimConfig.{name} must be {expected}; got {getattr(self, name.split('.')[0])!r}")


@dataclass(frozen=True)
class Observation:
    """What the robot reports after a reset or step."""

    image: np.ndarray | None  # [H, V*W, 3] uint8 RGB frame of the V views (None if render_observations=False)
    views: dict[str, np.ndarray]  # view name -> [H, W, 3] uint8 image of that camera (empty without rendering)
    ee_state: np.ndarray  # [7] flange state: xyz (m), euler xyz (rad), gripper in [0, 1]
    joint_positions: np.ndarray  # [7] arm joints, rad, franka_description zeros
    finger_positions: np.ndarray  # [2] finger joints, m (0 = closed, 0.04 = open)
    object_positions: dict[str, np.ndarray]  # name -> [3] object centre in the base frame, m
    time: float  # simulated seconds since reset
    target_clipped: bool  # the last commanded target position lay outside the workspace box and was clipped


@dataclass(frozen=True)
class TaskStatus:
    """Progress of the current episode."""

    task: str
    seed: int
    success: bool
    distance: float  # m, to the goal point
    tolerance: float  # m
    goal_point: np.ndarray  # [3] flange goal (reach) or object goal


class FrankaSimEnv:
    """The simulated Franka: reset to a seeded task episode, step with flange targets, render, report success."""

    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig()
        self.config.validate()
        dt = 1.0 / self.config.physics_rate_hz
        self.model = scene.build_model(self.config.camera, self.config.render_size, dt)
        self.data = mujoco.MjData(self.model)
        self._render_data = mujoco.MjData(self.model)
        self._renderer: mujoco.Renderer | None = None
        self._ids = _ModelIds(self.model)
        self._appearance = SceneAppearance(self.model, self.config.camera)
        self.variation: SceneVariation | None = None  # appearance of the current episode (None: unvaried)
        self._q_home = HOME_JOINTS_FRANKA - scene.ARM_JOINT_OFFSETS
        self._configure_servos()
        kinematics = FlangeKinematics(self.model, self._ids.arm_qpos, self._ids.arm_dof, self._ids.flange_site)
        self._ik = DifferentialIK(kinematics, self.config.controller, self._q_home)
        position, quat = kinematics.forward(self._q_home)
        self.home_state = np.concatenate([position, _euler_of_wxyz(quat), [0.0]])
        self._q_cmd = self._q_home.copy()
        self._gripper_cmd = 0.0
        self._gripper_grasping = False  # the last applied gripper command closed: fingers squeeze until contact
        self._target_clipped = False
        self._arm_blocked = False
        self._episode: Episode | None = None
        self._subgoal_images: dict[int, tuple[np.ndarray, float]] = {}  # index -> (image, IK error m)

    # ----------------------------------------------------------------------------------------------------- episode
    @property
    def episode(self) -> Episode:
        """The current episode (start, goal scene, success rule); raises before the first reset."""
        if self._episode is None:
            raise RuntimeError("FrankaSimEnv.reset() must be called before using the episode")
        return self._episode

    def reset(self, task: str | None = None, seed: int = 0) -> Observation:
        """Start a new episode of `task` (default: config.task) for `seed`; identical for identical arguments."""
        task = task or self.config.task
        episode = sample_episode(task, seed, self.config.task_object, self.home_state, self.config.tasks)
        self.variation = sample_variation(self.config.scene_variations, seed)
        self._appearance.apply(self.variation)
        mujoco.mj_resetData(self.model, self.data)
        q_start, _ = self._solve_ik(episode.start_state)
        self._set_scene(self.data, q_start, scene.FINGER_OPEN_M, episode.object_positions)
        self._q_cmd = q_start.copy()
        self._gripper_cmd = 0.0
        self._gripper_grasping = False
        self.data.ctrl[self._ids.arm_act] = q_start
        self.data.ctrl[self._ids.finger_act] = scene.FINGER_OPEN_M
        mujoco.mj_forward(self.model, self.data)
        for _ in range(round(SETTLE_SECONDS * self.config.physics_rate_hz)):
            mujoco.mj_step(self.model, self.data)
        self.data.time = 0.0
        self._episode = episode
        self._target_clipped = False
        self._arm_blocked = False
        self._subgoal_images = {}
        return self._observe()

    def goal_image(self) -> np.ndarray:
        """[H, V*W, 3] uint8 frame of the episode's goal scene (arm at the goal pose, objects at their goals)."""
        return self.subgoal_image(len(self.episode.subgoals) - 1)

    def subgoal_image(self, index: int) -> np.ndarray:
        """[H, V*W, 3] uint8 frame of sub-goal `index` of the episode (`episode.subgoals`; the last is the goal)."""
        return self.render_subgoal(index)[0]

    def render_subgoal(self, index: int) -> tuple[np.ndarray, float]:
        """Frame [H, V*W, 3] uint8 of sub-goal `index` and the flange position error (m) of its IK posture, rendered
        once per episode."""
        subgoals = self.episode.subgoals
        if not 0 <= index < len(subgoals):
            raise IndexError(f"subgoal_image: index {index} out of range for {len(subgoals)} sub-goal(s)")
        if index not in self._subgoal_images:
            subgoal = subgoals[index]
            q, error = self._solve_ik(subgoal.flange_state)
            image = self._render_scene(q, subgoal.finger_opening, subgoal.object_positions)
            self._subgoal_images[index] = image, error
        return self._subgoal_images[index]

    def subgoal_images(self) -> list[np.ndarray]:
        """Frames [H, V*W, 3] uint8 of every sub-goal of the episode, in order."""
        return [self.subgoal_image(i) for i in range(len(self.episode.subgoals))]

    def task_status(self) -> TaskStatus:
        """Success and distance of the current state against the episode goal."""
        episode = self.episode
        distance = episode.distance(self._flange_position(), self._object_positions())
        return TaskStatus(
            episode.task, episode.seed, distance < episode.tolerance, distance, episode.tolerance, episode.goal_point
        )

    # ------------------------------------------------------------------------------------------------------ control
    def step(self, target_state: np.ndarray | None = None) -> Observation:
        """Track `target_state` [7] (flange xyz, euler xyz, gripper command) for one control period.

        None (or a blocked arm, `block_arm`) holds the last command. The position is clipped to the workspace box
        (reported in the observation).
        """
        if self._episode is None:
            raise RuntimeError("FrankaSimEnv.reset() must be called before step()")
        if target_state is not None:
            target = np.asarray(target_state, dtype=np.float64)
            if target.shape != (geometry.STATE_DIM,) or not np.all(np.isfinite(target)):
                raise ValueError(f"target_state must be {geometry.STATE_DIM} finite numbers, got {target_state!r}")
            position = np.clip(target[:3], self.config.workspace_min, self.config.workspace_max)
            self._target_clipped = bool(np.any(position != target[:3]))
            self._command_gripper(float(np.clip(target[6], 0.0, 1.0)))
            quat = _wxyz_of_state(target)
        if target_state is None or self._arm_blocked:
            position, quat = self._ik.kinematics.forward(self._q_cmd)
        self._advance(position, quat)
        return self._observe()

    def _command_gripper(self, command: float) -> None:
        """Apply a gripper command as franka_gripper (and jepa_franka's adapter) would: a change smaller than
        `gripper_deadband` is ignored; closing grasps (fingers close until they meet an object, or fully, and keep
        squeezing, like the Grasp action); opening moves the fingers to the commanded width."""
        if abs(command - self._gripper_cmd) < self.config.gripper_deadband:
            return
        self._gripper_grasping = command > self._gripper_cmd
        self._gripper_cmd = command

    def step_action(self, action: np.ndarray) -> Observation:
        """Apply a DROID-style action [dxyz, d_euler_xyz, dgripper] to the current flange state, then step."""
        return self.step(geometry.compute_new_pose(self.ee_state(), np.asarray(action, dtype=np.float64)))

    # ------------------------------------------------------------------------------------------------- disturbances
    def move_object(self, name: str, position: np.ndarray) -> None:
        """Teleport object `name` to `position` [3] (base frame), upright and at rest: e.g. a cube knocked away."""
        if name not in self._ids.object_qpos:
            raise ValueError(f"move_object: unknown object {name!r}; expected one of {tuple(self._ids.object_qpos)}")
        position = np.asarray(position, dtype=np.float64)
        if position.shape != (3,) or not np.all(np.isfinite(position)):
            raise ValueError(f"move_object: position must be 3 finite numbers, got {position!r}")
        adr = self._ids.object_qpos[name]
        self.data.qpos[adr : adr + 7] = np.concatenate([position, [1.0, 0.0, 0.0, 0.0]])
        dof = int(self.model.joint(name).dofadr[0])
        self.data.qvel[dof : dof + 6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def block_arm(self, blocked: bool = True) -> None:
        """While blocked (an obstacle, a collision), steps hold the arm where it is whatever the target; the gripper
        still follows its command. reset() unblocks."""
        self._arm_blocked = bool(blocked)

    def _advance(self, position: np.ndarray, quat: np.ndarray) -> None:
        """Run one control period of physics with the flange reference moving to (position, quat wxyz)."""
        dt = self.model.opt.timestep
        period = self.config.control_period
        end_time = (round(self.data.time / period) + 1) * period  # control ticks stay on the period grid
        substeps = max(1, round((end_time - self.data.time) / dt))
        start_position, start_quat = self._ik.kinematics.forward(self._q_cmd)
        move_time = self.config.controller.move_fraction * period
        trajectory = CartesianTrajectory(start_position, start_quat, position, quat, move_time)
        opening = 0.0 if self._gripper_grasping else scene.FINGER_OPEN_M * (1.0 - self._gripper_cmd)
        self.data.ctrl[self._ids.finger_act] = opening
        for k in range(substeps):
            reference_position, reference_quat = trajectory.at((k + 1) * dt)
            q_next = self._ik.step(self._q_cmd, reference_position, reference_quat, dt)
            velocity = (q_next - self._q_cmd) / dt
            self._q_cmd = q_next
            self.data.ctrl[self._ids.arm_act] = q_next + self._servo_lead * velocity  # velocity feed-forward
            mujoco.mj_step(self.model, self.data)

    # ---------------------------------------------------------------------------------------------------- rendering
    def render(self) -> np.ndarray:
        """[H, V*W, 3] uint8 RGB frame of the current state from the configured views."""
        return frame_of(self.render_views(), self.config.views)

    def render_views(self) -> dict[str, np.ndarray]:
        """View name -> [H, W, 3] uint8 RGB image of the current state, for each configured view."""
        return self._render(self.data)

    def render_at_pose(
        self, state: np.ndarray, object_positions: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, float]:
        """Image of the scene with the flange at `state` [7] (gripper from state[6]) and the flange position error.

        The arm posture is the IK solution from the home posture, so a pose always renders the same way; objects
        stay where they are unless `object_positions` (name -> [3]) moves them. The simulation state
        (qpos, qvel, act, ctrl, time, warm start, ...) is not touched: rendering uses a private MjData.
        """
        state = np.asarray(state, dtype=np.float64)
        q, error = self._solve_ik(state)
        opening = scene.FINGER_OPEN_M * (1.0 - float(np.clip(state[6], 0.0, 1.0)))
        return self._render_scene(q, opening, object_positions or {}), error

    def camera_intrinsics(self, view: scene.ViewName = scene.CAMERA_NAME) -> tuple[float, float, float, float]:
        """Pinhole (fx, fy, cx, cy) in pixels of camera `view`, from its vertical field of view."""
        width, height = self.config.render_size
        fovy = float(self.model.cam_fovy[self.model.camera(view).id])
        fy = 0.5 * height / np.tan(np.deg2rad(fovy) / 2.0)
        return fy, fy, (width - 1) / 2.0, (height - 1) / 2.0

    def camera_extrinsics(self, view: scene.ViewName = scene.CAMERA_NAME) -> np.ndarray:
        """[6] DROID-style pose of camera `view` in the base frame now: position (m) and extrinsic Euler xyz (rad) of
        the optical frame (x right, y down, z forward); MuJoCo cameras look along their -z with y up."""
        camera = self.model.camera(view).id
        optical = self.data.cam_xmat[camera].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
        return np.concatenate([self.data.cam_xpos[camera], geometry.matrix_to_euler(optical)])

    def close(self) -> None:
        """Free the renderer's GL context."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _render_scene(self, q_arm: np.ndarray, finger_opening: float, objects: dict[str, np.ndarray]) -> np.ndarray:
        """The frame of the configured views with the arm, fingers and objects set as given (private MjData)."""
        self._render_data.qpos[:] = self.data.qpos
        self._render_data.time = self.data.time
        self._set_scene(self._render_data, q_arm, finger_opening, objects)
        mujoco.mj_forward(self.model, self._render_data)
        return frame_of(self._render(self._render_data), self.config.views)

    def _render(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        """View name -> image of `data` from each configured camera."""
        if self._renderer is None:
            width, height = self.config.render_size
            self._renderer = mujoco.Renderer(self.model, height, width)
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        views = {}
        for view in self.config.views:
            self._renderer.update_scene(data, camera=view)
            views[view] = self._renderer.render()
        return views

    # ------------------------------------------------------------------------------------------------------- state
    def ee_state(self) -> np.ndarray:
        """[7] current flange state: xyz, euler xyz, gripper (1 - finger opening / 0.04)."""
        matrix = self.data.site_xmat[self._ids.flange_site].reshape(3, 3)
        return np.concatenate([self._flange_position(), geometry.matrix_to_euler(matrix), [self._gripper()]])

    def _observe(self) -> Observation:
        views = self.render_views() if self.config.render_observations else {}
        return Observation(
            image=frame_of(views, self.config.views) if views else None,
            views=views,
            ee_state=self.ee_state(),
            joint_positions=self.data.qpos[self._ids.arm_qpos] + scene.ARM_JOINT_OFFSETS,
            finger_positions=self.data.qpos[self._ids.finger_qpos].copy(),
            object_positions=self._object_positions(),
            time=float(self.data.time),
            target_clipped=self._target_clipped,
        )

    def _flange_position(self) -> np.ndarray:
        return self.data.site_xpos[self._ids.flange_site].copy()

    def _gripper(self) -> float:
        opening = float(np.mean(self.data.qpos[self._ids.finger_qpos]))
        return float(np.clip(1.0 - opening / scene.FINGER_OPEN_M, 0.0, 1.0))

    def _object_positions(self) -> dict[str, np.ndarray]:
        return {name: self.data.qpos[adr : adr + 3].copy() for name, adr in self._ids.object_qpos.items()}

    def _set_scene(self, data: mujoco.MjData, q_arm, finger_opening: float, objects: dict[str, np.ndarray]) -> None:
        """Write arm joints, both finger joints and object positions (upright) into data.qpos."""
        data.qpos[self._ids.arm_qpos] = q_arm
        data.qpos[self._ids.finger_qpos] = finger_opening
        for name, position in objects.items():
            adr = self._ids.object_qpos[name]
            data.qpos[adr : adr + 7] = np.concatenate([position, [1.0, 0.0, 0.0, 0.0]])

    def _solve_ik(self, state: np.ndarray) -> tuple[np.ndarray, float]:
        """Static IK for a flange state from the home posture (the same pose always gives the same joints and image):
        joints [7] and the remaining position error (m)."""
        position = np.asarray(state[:3], dtype=np.float64)
        q = self._ik.solve(self._q_home, position, _wxyz_of_state(state))
        reached, _ = self._ik.kinematics.forward(q)
        return q, float(np.linalg.norm(reached - position))

    def _configure_servos(self) -> None:
        """Stiff, critically damped joint servos with light joint damping (the MJCF's damping of 100 lags ~0.1 s)."""
        ids = self._ids
        stiffness = np.asarray(self.config.controller.servo_stiffness, dtype=np.float64)
        self.model.dof_damping[ids.arm_dof] = 1.0
        self.model.dof_armature[ids.arm_dof] = 0.1
        home = mujoco.MjData(self.model)
        home.qpos[ids.arm_qpos] = self._q_home
        mujoco.mj_forward(self.model, home)
        inertia = np.zeros((self.model.nv, self.model.nv))
        mujoco.mj_fullM(self.model, home, inertia)
        diag = np.diag(inertia)[ids.arm_dof]
        damping = 2.0 * self.config.controller.servo_damping_ratio * np.sqrt(stiffness * diag)
        self.model.actuator_gainprm[ids.arm_act, 0] = stiffness
        self.model.actuator_biasprm[ids.arm_act, 1] = -stiffness
        self.model.actuator_biasprm[ids.arm_act, 2] = -damping
        self._servo_lead = damping / stiffness  # ctrl = q + lead * qdot gives PD with velocity feed-forward


class _ModelIds:
    """Index arrays into qpos/qvel/ctrl for the arm, fingers, flange site and objects."""

    def __init__(self, model: mujoco.MjModel):
        arm_joints = [model.joint(name) for name in scene.ARM_JOINTS]
        finger_joints = [model.joint(name) for name in scene.FINGER_JOINTS]
        self.arm_qpos = np.array([int(j.qposadr[0]) for j in arm_joints])
        self.arm_dof = np.array([int(j.dofadr[0]) for j in arm_joints])
        self.finger_qpos = np.array([int(j.qposadr[0]) for j in finger_joints])
        self.arm_act = np.array([model.actuator(name).id for name in scene.ARM_ACTUATORS])
        self.finger_act = np.array([model.actuator(name).id for name in scene.FINGER_ACTUATORS])
        self.flange_site = model.site(scene.FLANGE_SITE).id
        self.object_qpos = {name: int(model.joint(name).qposadr[0]) for name in scene.OBJECTS}


def _wxyz_of_state(state: np.ndarray) -> np.ndarray:
    """MuJoCo quaternion (w, x, y, z) of a state vector's Euler angles."""
    x, y, z, w = geometry.euler_to_quat(state[3:6])
    return np.array([w, x, y, z])


def _euler_of_wxyz(quat: np.ndarray) -> np.ndarray:
    """Extrinsic Euler 'xyz' (rad) of a MuJoCo quaternion (w, x, y, z)."""
    return geometry.quat_to_euler(quat[[1, 2, 3, 0]])
