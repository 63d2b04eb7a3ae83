"""Planner node parameters: names, defaults and descriptions in one table, turned into typed configs (ROS-free).

The node declares every entry of `PARAMETERS` with its description; `launch/config/planner.yaml` documents the same
names. CEM and world-model defaults come from the jepa_core dataclasses, so there is one source for each number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from jepa_core.checkpoints import NONFINITE_POLICIES
from jepa_core.frame_encoder import encoder_identity
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.loading import WorldModelSpec, build_world_model
from jepa_core.planning.mpc import MPCConfig
from jepa_core.planning.pose_prior import GoalPositionPrior
from jepa_core.planning.world_model import WorldModel, WorldModelConfig
from jepa_core.views import check_view_weights
from jepa_planner.control import GoalLimits
from jepa_planner.safety import MotionLimits, SafetyLimits
from jepa_planner.status import DIAGNOSTICS_PARAMETERS, DiagnosticLimits
from jepa_ros_common.images import DEFAULT_MAX_PIXELS
from jepa_ros_common.lifecycle import AUTOSTART
from jepa_ros_common.parameters import Param, finite_positive

_CEM = CEMConfig()
_SAFETY = SafetyLimits()
_MOTION = MotionLimits()
CEM_PREFIX = "cem."
# Success rule default: the observed frame's energy to the goal. Measured with models/sim_manip.pt in the simulator
# (benchmarks/planner_signals.py, reach seeds 0-19 x 25 steps; models/README.md): below 0.05 the flange was within
# 2.5 cm of the goal at every step (none of the 68 steps beyond the sim's 4 cm tolerance) and 17/20 episodes got
# there; the plan energy cannot serve, it floors at the model's prediction error (~0.09).
DEFAULT_ENERGY_THRESHOLD = 0.05
AUTOCAST_DTYPES = {"": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
GOAL_ENCODERS = ("service", "local")

CEM_DESCRIPTIONS = {
    "samples": "candidate action sequences per CEM iteration",
    "top_k": "elite candidates that update the sampling distribution",
    "iterations": "maximum CEM iterations per control step",
    "horizon": "actions per plan (the first one is executed)",
    "max_translation": "per-axis bound on dx, dy, dz per action, m (also the initial std)",
    "max_rotation": "per-axis bound on rotation deltas, rad; 0 keeps orientation fixed (paper)",
    "max_gripper_delta": "bound on the gripper delta per action",
    "initial_gripper_std": "initial std of the gripper delta",
    "gripper_deadband": "planned gripper deltas smaller than this are zeroed",
    "momentum_mean": "weight of the previous mean in the update (arm)",
    "momentum_std": "weight of the previous std in the update (arm)",
    "momentum_mean_gripper": "weight of the previous mean in the update (gripper)",
    "momentum_std_gripper": "weight of the previous std in the update (gripper)",
    "energy_reduction": "'final' (energy of the last predicted frame, paper) or 'sum' over the horizon",
    "std_tolerance": "stop early once every std / its cold-start std is below this; 0 = off",
    "energy_tolerance": "stop early once the elite energy improves by less than this fraction; 0 = off",
    "min_iterations": "iterations before any early-stopping rule applies",
    "time_budget_s": "wall-clock budget per plan, s (the plan so far is used when exceeded); 0 = none",
    "warm_start_std_scale": "initial std, as a fraction of the cold one, when warm starting",
    "evaluate_plan": "evaluate the returned plan's energy (reported in feedback; one extra model call)",
}


PARAMETERS: tuple[Param, ...] = (
    AUTOSTART,
    Param("predictor_checkpoint", "", "AC predictor checkpoint (official or ours); required unless random weights"),
    Param("predictor_preset", "", "AC predictor preset name; '' or 'auto' = stored config or inferred from key shapes"),
    Param("predictor_key", "predictor", "checkpoint key of the AC predictor weights"),
    Param("allow_random_weights", False, "tests/demos only: build predictor_preset/encoder_preset with random weights"),
    Param("random_seed", 0, "seed of random weights (allow_random_weights)"),
    Param("nonfinite_weights", "refuse", "checkpoint holding NaN/inf weights: 'refuse' to start or 'warn' and run"),
    Param(
        "goal_encoder",
        "service",
        "'service': goal images encoded by the perception node's encode_image (one "
        "encoder in GPU memory); 'local': the planner loads its own encoder",
    ),
    Param(
        "encode_service",
        "encoder_node/encode_image",
        "service of the perception node that encodes goal images (the encoder node's private ~/encode_image)",
    ),
    Param(
        "encode_timeout_s",
        30.0,
        "wait for the encode_image service and its answer, s",
        read_only=False,
        takes_effect="from the next goal",
    ),
    Param("encoder_checkpoint", "", "local goal encoder checkpoint; empty = predictor_checkpoint"),
    Param("encoder_preset", "", "local goal encoder preset; '' or 'auto' = stored config or inferred"),
    Param("encoder_key", "encoder", "checkpoint key of the local encoder (official AC checkpoints: 'encoder')"),
    Param("device", "cpu", "torch device of the world model, e.g. cuda:0"),
    Param("autocast_dtype", "", "'' (fp32), 'bfloat16' or 'float16' autocast for the models"),
    Param(
        "candidate_chunk",
        WorldModelConfig().candidate_chunk,
        "candidates per predictor call; -1 = automatic (CPU: ~4096 tokens per call; GPU: 4 GiB of activations), "
        "0 = all",
    ),
    Param(
        "activation_budget_mb",
        WorldModelConfig().activation_budget_mb,
        "GPU automatic chunking: activation memory per predictor call, MiB",
    ),
    Param("compile_mode", "", "torch.compile the predictor: '' (eager), 'default', 'reduce-overhead', 'max-autotune'"),
    Param("context_steps", MPCConfig().context_steps, "observed frames K given to the predictor (1 = paper)"),
    Param("warm_start", MPCConfig().warm_start, "start each CEM from the previous plan shifted by one step"),
    Param("seed", -1, "seed of the CEM draws per goal (reproducible runs); -1 = nondeterministic"),
    Param(
        "pose_prior_weight",
        GoalPositionPrior.weight,
        "energy per m pulling candidates towards the goal image's flange position decoded by the checkpoint's "
        "pose_probe (training.fit_pose_probe); 0 or no probe = the official image energy",
    ),
    Param(
        "pose_prior_dead_zone",
        GoalPositionPrior.dead_zone,
        "no pose-prior pull within this distance of the decoded goal, m",
    ),
    Param(
        "view_energy_weights",
        list(WorldModelConfig.view_weights),
        "energy weight of each camera view of the model's frames, in the checkpoint's view order (e.g. [1.0, 0.25]: "
        "exterior, wrist); one value = every view alike (the official energy)",
    ),
    *(
        Param(
            f"{CEM_PREFIX}{f.name}",
            getattr(_CEM, f.name),
            CEM_DESCRIPTIONS[f.name],
            read_only=False,
            takes_effect="from the next control step",
        )
        for f in fields(CEMConfig)
    ),
    Param(
        "max_steps",
        100,
        "control steps per goal unless the goal sets max_steps",
        read_only=False,
        takes_effect="from the next goal",
    ),
    Param(
        "goal_timeout_s",
        600.0,
        "wall-clock limit per goal unless the goal sets timeout, s",
        read_only=False,
        takes_effect="from the next goal",
    ),
    Param(
        "energy_threshold",
        DEFAULT_ENERGY_THRESHOLD,
        "success once the observed frame's energy to the goal is below this unless the goal sets one; 0 = off "
        "(0.05 measured for models/sim_manip.pt: within 2.5 cm of the goal)",
        read_only=False,
        takes_effect="from the next goal",
    ),
    Param(
        "stale_timeout_s",
        2.0,
        "max age of embedding and ee_state (header stamp vs the node clock) before planning, and of ee_state when "
        "the plan is ready to be commanded, s",
        read_only=False,
        takes_effect="from the next goal",
    ),
    Param(
        "observation_timeout_s",
        GoalLimits.observation_timeout_s,
        "max wait for an embedding and ee_state newer than the last command (the robot's control period plus a "
        "margin), s; longer stops the goal",
        read_only=False,
        takes_effect="from the next goal",
    ),
    Param(
        "future_tolerance_s",
        GoalLimits.future_tolerance_s,
        "max lead of an embedding/ee_state stamp over the node clock, s (clock skew); more ends the goal",
        read_only=False,
        takes_effect="from the next goal",
    ),
    Param(
        "surprise_stop_threshold",
        GoalLimits.surprise_stop_threshold,
        "end the goal (holding the pose) once an action's surprise exceeds this; 0 = publish the surprise only",
        read_only=False,
        takes_effect="from the next goal",
    ),
    Param(
        "workspace_min",
        list(_SAFETY.workspace_min),
        "lower corner [x, y, z] of the allowed flange box, m",
        read_only=False,
        takes_effect="from the next control step",
    ),
    Param(
        "workspace_max",
        list(_SAFETY.workspace_max),
        "upper corner [x, y, z] of the allowed flange box, m",
        read_only=False,
        takes_effect="from the next control step",
    ),
    Param(
        "max_translation_step",
        _SAFETY.max_translation_step,
        "max flange translation per control step, m",
        read_only=False,
        takes_effect="from the next control step",
    ),
    Param(
        "max_rotation_step",
        _SAFETY.max_rotation_step,
        "max flange rotation per control step, rad",
        read_only=False,
        takes_effect="from the next control step",
    ),
    Param(
        "max_ee_speed",
        _MOTION.max_speed,
        "fastest plausible flange speed, m/s: an ee_state that moved more than this times the stamps' dt (plus "
        "max_ee_jump) since the previous one is refused and ends the goal (FR3: 1.7)",
        read_only=False,
        takes_effect="from the next ee_state",
    ),
    Param(
        "max_ee_angular_speed",
        _MOTION.max_angular_speed,
        "the same for rotation, rad/s (FR3: 2.5)",
        read_only=False,
        takes_effect="from the next ee_state",
    ),
    Param(
        "max_ee_jump",
        _MOTION.max_jump,
        "flange motion between two ee_state messages allowed whatever their dt, m (measurement noise; a lockstep "
        "simulator moves a whole control step between messages)",
        read_only=False,
        takes_effect="from the next ee_state",
    ),
    Param(
        "max_ee_angular_jump",
        _MOTION.max_angular_jump,
        "the same for rotation, rad",
        read_only=False,
        takes_effect="from the next ee_state",
    ),
    *DIAGNOSTICS_PARAMETERS,
    Param("base_frame", "fr3_link0", "frame of ee_state (others are refused) and of every command"),
    Param(
        "embedding_topic",
        "encoder_node/embedding",
        "jepa_msgs/Embedding of the current camera frame (the encoder node's private ~/embedding)",
    ),
    Param("ee_state_topic", "ee_state", "jepa_msgs/EndEffectorState"),
    Param("image_topic", "camera/image_raw", "camera images, stored by capture_goal"),
    Param("target_pose_topic", "target_pose", "commanded flange pose (geometry_msgs/PoseStamped)"),
    Param("gripper_command_topic", "gripper_command", "commanded gripper closure 0..1 (std_msgs/Float64)"),
    Param("planned_action_topic", "planned_action", "jepa_msgs/PlannedAction per control step"),
    Param("markers_topic", "~/markers", "visualization_msgs/MarkerArray: planned path, goal, energy"),
    Param("surprise_topic", "~/surprise", "jepa_msgs/Surprise after each executed action (prediction vs observation)"),
    Param(
        "goal_pose_topic",
        "goal_pose",
        "RViz 2D Goal Pose: rendered into a goal image by render_goal when served (simulation), else it selects the "
        "library goal captured nearest to it horizontally",
    ),
    Param("clicked_point_topic", "clicked_point", "RViz Publish Point: selects the library goal captured nearest it"),
    Param(
        "rviz_goal_tolerance",
        0.05,
        "an RViz click selects the nearest library goal only within this distance of its captured flange position, m",
        validate=finite_positive,
    ),
    Param(
        "rviz_sequence_window_s",
        2.0,
        "library goals clicked less than this apart become one sub-goal sequence, started this long after the last "
        "click, s; 0 = each click starts its goal at once",
        validate=lambda v: None if 0.0 <= v < math.inf else f"expected finite >= 0, got {v}",  # inf: never starts
    ),
    Param(
        "rviz_subgoal_steps",
        10,
        "step budget of each clicked sub-goal but the last (which runs until its energy threshold or max_steps)",
        validate=lambda v: None if v >= 1 else f"expected >= 1, got {v}",
    ),
    Param("goal_markers_topic", "~/goal_markers", "visualization_msgs/MarkerArray (latched): goal library, step text"),
    Param("goal_image_topic", "~/goal_image", "sensor_msgs/Image (latched): the active sub-goal's goal image"),
    Param(
        "render_goal_service",
        "sim_node/render_goal",
        "simulator service rendering the image of a pose (the sim node's private ~/render_goal)",
    ),
    Param("capture_goal_service", "~/capture_goal", "service storing the current camera image as a named goal"),
    Param("remove_goal_service", "~/remove_goal", "service deleting a named goal from the library"),
    Param("list_goals_service", "~/list_goals", "service listing the library: names, captured poses, grippers, times"),
    Param("goal_library_dir", "~/.local/share/jepa_ros/goals", "folder of named goal images"),
    Param("rviz_goal_name", "rviz_goal", "library name under which RViz goals are stored"),
    Param(
        "max_goal_image_pixels",
        DEFAULT_MAX_PIXELS,
        "largest goal image (width x height px) accepted, checked before it is decoded or sent to encode_image",
        read_only=False,
        takes_effect="from the next goal",
    ),
)


def _cem_config(values: dict[str, Any]) -> CEMConfig:
    """CEMConfig from the cem.* parameter values."""
    return CEMConfig(**{f.name: values[f"{CEM_PREFIX}{f.name}"] for f in fields(CEMConfig)})


@dataclass(frozen=True)
class PlannerSettings:
    """Everything the node needs, validated: parameter values plus the typed configs built from them."""

    values: dict[str, Any]
    mpc: MPCConfig
    world_model: WorldModelConfig
    safety: SafetyLimits
    motion: MotionLimits
    diagnostics: DiagnosticLimits

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> PlannerSettings:
        """Validate parameter values (a ValueError names the parameter) and build the configs."""
        missing = [p.name for p in PARAMETERS if p.name not in values]
        if missing:
            raise ValueError(f"planner parameters missing: {missing}")
        nonfinite = values["nonfinite_weights"]
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"parameter nonfinite_weights: expected one of {NONFINITE_POLICIES}, got {nonfinite!r}")
        if values["goal_encoder"] not in GOAL_ENCODERS:
            raise ValueError(f"parameter goal_encoder: expected one of {GOAL_ENCODERS}, got {values['goal_encoder']!r}")
        if values["autocast_dtype"] not in AUTOCAST_DTYPES:
            raise ValueError(
                f"parameter autocast_dtype: expected one of {list(AUTOCAST_DTYPES)}, got {values['autocast_dtype']!r}"
            )
        for name in ("pose_prior_weight", "pose_prior_dead_zone"):
            if not values[name] >= 0:
                raise ValueError(f"parameter {name}: expected >= 0, got {values[name]}")
        seed = values["seed"]
        mpc = MPCConfig(
            cem=_cem_config(values),
            context_steps=values["context_steps"],
            warm_start=values["warm_start"],
            seed=None if seed < 0 else seed,
        )
        view_weights = tuple(values["view_energy_weights"])
        try:
            check_view_weights(view_weights)
        except ValueError as error:
            raise ValueError(f"parameter view_energy_weights: {error}") from None
        world_model = WorldModelConfig(
            device=values["device"],
            autocast_dtype=AUTOCAST_DTYPES[values["autocast_dtype"]],
            candidate_chunk=values["candidate_chunk"],
            activation_budget_mb=values["activation_budget_mb"],
            compile_mode=values["compile_mode"],
            view_weights=view_weights,
        )
        safety = SafetyLimits(
            workspace_min=tuple(values["workspace_min"]),
            workspace_max=tuple(values["workspace_max"]),
            max_translation_step=values["max_translation_step"],
            max_rotation_step=values["max_rotation_step"],
        )
        motion = MotionLimits(
            max_speed=values["max_ee_speed"],
            max_angular_speed=values["max_ee_angular_speed"],
            max_jump=values["max_ee_jump"],
            max_angular_jump=values["max_ee_angular_jump"],
        )
        if values["max_goal_image_pixels"] < 1:
            raise ValueError(f"parameter max_goal_image_pixels: expected >= 1, got {values['max_goal_image_pixels']}")
        settings = cls(values=values, mpc=mpc, world_model=world_model, safety=safety, motion=motion,
                       diagnostics=DiagnosticLimits.from_values(values))  # fmt: skip
        settings.goal_limits(0, 0.0, 0.0)  # validates the limit parameters
        return settings

    @property
    def local_encoder_identity(self) -> str:
        """Embedding.model of the local goal encoder's weights (observations must come from the same weights)."""
        v = self.values
        return encoder_identity(v["encoder_checkpoint"] or v["predictor_checkpoint"], v["encoder_key"],
                                v["encoder_preset"])  # fmt: skip

    def goal_limits(self, max_steps: int, timeout_s: float, energy_threshold: float) -> GoalLimits:
        """Limits of one goal: its own values where set (> 0), else the node's parameters."""
        v = self.values
        return GoalLimits(
            max_steps=max_steps if max_steps > 0 else v["max_steps"],
            timeout_s=timeout_s if timeout_s > 0 else v["goal_timeout_s"],
            energy_threshold=energy_threshold if energy_threshold > 0 else v["energy_threshold"],
            stale_timeout_s=v["stale_timeout_s"],
            observation_timeout_s=v["observation_timeout_s"],
            future_tolerance_s=v["future_tolerance_s"],
            surprise_stop_threshold=v["surprise_stop_threshold"],
        )

    def build_world_model(self) -> WorldModel:
        """The world model the checkpoint parameters describe (`jepa_core.planning.loading`), its encoder in local mode:
        the predictor, the encoder checkpoint's goal-position prior, on the configured device."""
        v = self.values
        spec = WorldModelSpec(
            predictor_checkpoint=Path(v["predictor_checkpoint"]) if v["predictor_checkpoint"] else None,
            predictor_preset=v["predictor_preset"],
            predictor_key=v["predictor_key"],
            with_encoder=v["goal_encoder"] == "local",
            encoder_checkpoint=Path(v["encoder_checkpoint"]) if v["encoder_checkpoint"] else None,
            encoder_preset=v["encoder_preset"],
            encoder_key=v["encoder_key"],
            allow_random_weights=v["allow_random_weights"],
            random_seed=v["random_seed"],
            nonfinite_weights=v["nonfinite_weights"],
            pose_prior_weight=v["pose_prior_weight"],
            pose_prior_dead_zone=v["pose_prior_dead_zone"],
            config=self.world_model,
        )
        return build_world_model(spec)
