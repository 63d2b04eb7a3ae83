"""`make demo`: the simulated closed loop end to end, in one process, with a success line, GIFs and plots.

    scripts/run.sh python -m jepa_bringup.demo [--task reach|grasp|pick_place] [--episodes 3] [--seed 0] ...

The sim, perception and planner nodes are composed on one rclpy executor by jepa_bringup.bringup with the demo's
parameter files (launch/config/{sim,perception,planner,demo}.yaml). For each episode the demo resets the simulator
(task, seed), sends the goal it returns to `plan_to_goal` (grasp and pick_place: the episode's sub-goal images with
their step budgets, as the V-JEPA 2 paper does pick-and-place; `--no-subgoals`: the final goal image only), and follows
the loop (planner -> target_pose -> sim step -> camera -> encoder -> embedding -> planner ...) until the planner stops
or the simulator's task_status reports success. Outputs go to runs/demo-<UTC time>/ (jepa_bringup.demo_report). Run it
from the repository root.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
import rclpy.logging
from rclpy.action import ActionClient
from rclpy.qos import qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import Image
from tqdm import tqdm

from jepa_bringup.bringup import (
    DEMO_NODES,
    DEMO_PARAMS_FILES,
    Composition,
    NodeSpec,
    parse_overrides,
)
from jepa_bringup.demo_report import EpisodeRecord, summarize, write_gif, write_plot, write_summary
from jepa_bringup.launch_support import load_node_parameters
from jepa_core.checkpoints import CheckpointError, load_camera_views
from jepa_core.data.topics import CAMERA_IMAGE, WRIST_CAMERA_IMAGE
from jepa_core.planning.cem import CEMConfig
from jepa_core.planning.pose_prior import describe_prior
from jepa_core.presets import AC_ENCODER_OF, AC_PREDICTOR_PRESETS, ENCODER_PRESETS
from jepa_core.views import DEFAULT_VIEWS, tile_views
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import SubGoal, TaskStatus
from jepa_msgs.srv import ResetSim
from jepa_ros_common.images import array_to_image_msg, image_msg_to_rgb8
from jepa_sim.tasks import EPISODE_STEPS

TASKS = ("reach", "grasp", "pick_place")
# Bundled models (models/README.md, trained in the simulator): the one-camera model reaches, the exterior + wrist
# camera model grasps and places.
DEFAULT_ENCODER = "models/sim_manip.pt"
MANIPULATION_MODEL = "models/sim_views.pt"  # default encoder and predictor of --task grasp / pick_place
# CEM samples MANIPULATION_MODEL is measured with (models/README.md): 100 succeed no more often and plan 1.8x slower.
MANIPULATION_SAMPLES = 60
OUTCOME_NAMES = {
    getattr(PlanToGoal.Result, name): name.removeprefix("OUTCOME_") for name in dir(PlanToGoal.Result)
    if name.startswith("OUTCOME_")
}  # fmt: skip
VIEW_TOPICS = {"exterior": CAMERA_IMAGE.name, "wrist": WRIST_CAMERA_IMAGE.name}  # the sim's image topic per camera
BROKEN_OUTCOMES = ("INVALID_GOAL", "INTERNAL_ERROR")  # the demo itself is broken, not the episode: exit code 1
SERVICE_TIMEOUT_S = 60.0  # nodes ready, reset answered, goal accepted
SETTLE_QUIET_S = 0.6  # after the result: the last commanded step (and the planner's hold) are observed within this
SETTLE_MAX_S = 3.0


class DemoError(RuntimeError):
    """The demo cannot run (missing model file, a node that does not answer, ...): printed, exit code 1."""


# ---- models ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSource:
    """A model given on the command line: a checkpoint file, or a preset name with random weights."""

    checkpoint: str  # checkpoint path; "" for a random-weight preset
    preset: str  # preset name for random weights; "" for a checkpoint

    @property
    def random(self) -> bool:
        """True when the model has random weights (plans are then meaningless)."""
        return not self.checkpoint

    def describe(self) -> str:
        """For the banner and the summary."""
        return f"preset {self.preset} with RANDOM weights" if self.random else f"checkpoint {self.checkpoint}"

    @cached_property
    def views(self) -> tuple[str, ...]:
        """The cameras whose tiled frames the encoder reads (random presets: the exterior camera alone), read from
        the checkpoint once."""
        if self.random:
            return DEFAULT_VIEWS
        try:
            views = load_camera_views(self.checkpoint)
        except CheckpointError as error:
            raise DemoError(str(error)) from None
        unknown = [view for view in views if view not in VIEW_TOPICS]
        if unknown or views[0] != "exterior":
            raise DemoError(f"{self.checkpoint}: views {list(views)}; the demo's sim publishes {list(VIEW_TOPICS)}, "
                            "the exterior first")  # fmt: skip
        return views


def resolve_model(spec: str, presets: Sequence[str], flag: str) -> ModelSource:
    """A preset name -> random weights; anything else must be an existing checkpoint file."""
    if spec in presets:
        return ModelSource("", spec)
    path = Path(spec)
    if not path.is_file():
        raise DemoError(
            f"{flag} {spec}: no such checkpoint file (cwd {Path.cwd()}). The bundled models live in models/ (see "
            f"models/README.md; training/ makes them). To try the pipeline with random weights instead: "
            f'make demo DEMO_ARGS="--encoder vit_tiny_128 --predictor vit_tiny_128" (presets: '
            f"{', '.join(sorted(set(presets)))})"
        )
    return ModelSource(str(path), "")


# ---- options -----------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line (see --help)."""
    parser = argparse.ArgumentParser(
        prog="demo",
        description="Simulated closed loop: MuJoCo Franka + V-JEPA 2 encoder + CEM planner, one process. "
        "Prints per-episode success and a summary; writes GIFs, plots and summary.md under --output.",
    )
    parser.add_argument("--task", choices=TASKS, default="reach", help="simulated task (default: reach)")
    parser.add_argument("--episodes", type=int, default=5, help="number of episodes (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed+i")
    parser.add_argument(
        "--max-steps", type=int, default=None,
        help="control steps per episode (default: reach 20, grasp 30, pick_place 40: the sub-goal budgets plus room)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600.0, help="wall-clock limit per episode, s")
    parser.add_argument("--output", type=Path, default=None, help="output folder (default: runs/demo-<UTC time>)")
    parser.add_argument(
        "--encoder", default=None, help=f"encoder checkpoint file, or a preset name for random weights "
        f"(presets: {', '.join(sorted(ENCODER_PRESETS))}; default: {DEFAULT_ENCODER} for reach, "
        f"{MANIPULATION_MODEL} for grasp and pick_place)",
    )  # fmt: skip
    parser.add_argument(
        "--predictor", default=None, help=f"AC predictor checkpoint file, or a preset name for random "
        f"weights (presets: {', '.join(sorted(AC_PREDICTOR_PRESETS))}; default: as --encoder)",
    )  # fmt: skip
    parser.add_argument(
        "--subgoals", action=argparse.BooleanOptionalAction, default=True,
        help="grasp/pick_place: send the episode's sub-goal images with the simulator's step budgets (pregrasp, "
        "approach, grasp, [carry,] lift/place); --no-subgoals sends the final goal image only",
    )  # fmt: skip
    parser.add_argument(
        "--subgoal-grippers", action=argparse.BooleanOptionalAction, default=True,
        help="each sub-goal commands the gripper its image shows (open/closed); --no-subgoal-grippers lets the CEM "
        "plan it, as the V-JEPA 2 paper (with the wrist camera of the default model it grasps about half as often, "
        "models/README.md)",
    )  # fmt: skip
    parser.add_argument(
        "--subgoal-threshold", type=float, default=0.05,
        help="leave a sub-goal once the observed energy to it is below this (0 = step budgets only; default: the "
        "planner's energy_threshold measured for the bundled models)",
    )  # fmt: skip
    parser.add_argument(
        "--samples", type=int, default=None,
        help=f"CEM samples per iteration (default: demo.yaml; {MANIPULATION_SAMPLES} with {MANIPULATION_MODEL})",
    )  # fmt: skip
    parser.add_argument("--iterations", type=int, default=None, help="CEM iterations per step (default: demo.yaml)")
    parser.add_argument("--top-k", type=int, default=None, help="CEM elites (default: demo.yaml, capped at samples)")
    parser.add_argument("--device", default="cpu", help="torch device of encoder and planner: cpu, cuda, cuda:1")
    parser.add_argument(
        "--stop-on-success", action=argparse.BooleanOptionalAction, default=True,
        help="end an episode once the simulator reports success (the planner is canceled and holds its pose)",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
        help="any node parameter, applied last, e.g. --set sim_node.render_size=[128,128] (repeatable)",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="show the nodes' info logs")
    args = parser.parse_args(argv)
    for name in ("episodes", "max_steps", "samples", "iterations", "top_k"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be > 0, got {args.timeout}")
    if args.subgoal_threshold < 0:
        parser.error(f"--subgoal-threshold must be >= 0, got {args.subgoal_threshold}")
    args.max_steps = args.max_steps or EPISODE_STEPS[args.task]
    default = DEFAULT_ENCODER if args.task == "reach" else MANIPULATION_MODEL
    args.encoder = args.encoder or default
    args.predictor = args.predictor or (args.encoder if args.encoder.endswith(".pt") else default)
    if args.predictor == MANIPULATION_MODEL and args.samples is None:  # the CEM plans with the predictor
        args.samples = MANIPULATION_SAMPLES
    return args


def node_specs(args: argparse.Namespace, encoder: ModelSource, predictor: ModelSource) -> list[NodeSpec]:
    """DEMO_NODES with the demo's parameters: models, device, the encoder's cameras (the sim renders them, the encoder
    node pairs them), CEM overrides, then the user's --set (the encoder node reads its input size from the model)."""
    views = encoder.views
    encoder_params = {
        "checkpoint": encoder.checkpoint, "preset": encoder.preset, "allow_random_weights": encoder.random,
        "device": args.device, "wrist_image_topic": VIEW_TOPICS["wrist"] if "wrist" in views else "",
    }  # fmt: skip
    planner_params: dict[str, Any] = {
        "predictor_checkpoint": predictor.checkpoint, "predictor_preset": predictor.preset,
        "allow_random_weights": predictor.random, "device": args.device, "seed": args.seed,
    }  # fmt: skip
    requested = {"samples": args.samples, "iterations": args.iterations, "top_k": args.top_k}
    if any(value is not None for value in requested.values()):
        # a `cem` mapping replaces the files' one as a whole, so it carries every setting
        cem = effective_cem({}) | {key: value for key, value in requested.items() if value is not None}
        cem["top_k"] = cem["top_k"] if args.top_k is not None else min(cem["top_k"], cem["samples"])
        planner_params["cem"] = cem
    sim_params = {"task": args.task, "views": list(views)}
    per_node = {"sim_node": sim_params, "encoder_node": encoder_params, "planner_node": planner_params}
    specs = [NodeSpec(s.factory, s.name, {**s.parameters, **per_node[s.name]}, s.remappings) for s in DEMO_NODES]
    try:
        specs = parse_overrides(args.set, specs)
    except ValueError as error:
        raise DemoError(str(error)) from None
    return specs


def effective_cem(planner_params: Mapping[str, Any]) -> dict[str, Any]:
    """CEM settings the planner will run with: its defaults, the parameter files' `cem` mapping, then the overrides'
    `cem` mapping and flat `cem.<name>` keys (as --set gives them)."""
    files = load_node_parameters(DEMO_PARAMS_FILES, "planner_node").get("cem", {})
    flat = {key.removeprefix("cem."): value for key, value in planner_params.items() if key.startswith("cem.")}
    return asdict(CEMConfig()) | files | dict(planner_params.get("cem", {})) | flat


# ---- the ROS side ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EpisodeGoals:
    """What a sim reset says the episode's goal is: its sub-goal scenes in order (the last is the goal image)."""

    names: list[str]
    images: list[np.ndarray]  # [H, W, 3] uint8 each
    steps: list[int]  # control steps per sub-goal before the next; 0 for the last
    grippers: list[int]  # gripper each scene shows: SubGoal.GRIPPER_OPEN or GRIPPER_CLOSED

    def plan_goal(self, args: argparse.Namespace) -> tuple[PlanToGoal.Goal, list[str], list[np.ndarray]]:
        """The PlanToGoal goal the demo sends, the sub-goal names it carries ([] for one goal image) and the goal
        images to show: the sub-goal sequence when there is one and --subgoals, else the final goal image."""
        goal = PlanToGoal.Goal(max_steps=args.max_steps, timeout=args.timeout)
        if not args.subgoals or len(self.names) < 2:
            goal.goal_image = array_to_image_msg(self.images[-1], "rgb8")
            return goal, [], self.images[-1:]
        grippers = self.grippers if args.subgoal_grippers else [SubGoal.GRIPPER_PLANNED] * len(self.names)
        goal.subgoals = [
            SubGoal(name=name, image=array_to_image_msg(image, "rgb8"), steps=steps,
                    energy_threshold=args.subgoal_threshold, gripper=gripper)
            for name, image, steps, gripper in zip(self.names, self.images, self.steps, grippers, strict=True)
        ]  # fmt: skip
        return goal, list(self.names), list(self.images)


@dataclass(frozen=True)
class StatusSample:
    """A task_status of the current episode."""

    sim_time_ns: int
    distance: float
    tolerance: float
    success: bool


class DemoClient:
    """A node beside the composed ones: resets the sim, sends goals, and records frames (every camera's image of an
    observation tiled, as the encoder reads them), statuses and feedback."""

    def __init__(self, composition: Composition, views: Sequence[str] = DEFAULT_VIEWS) -> None:
        """Create the client node on the composition's context and spin it with the others."""
        self.composition = composition
        self.node = rclpy.create_node("demo_client", context=composition.context)
        composition.add_node(self.node)
        self._lock = threading.Lock()
        self._episode: tuple[str, int] | None = None  # (task, seed) whose messages are recorded
        self._since_ns = 0  # images published before the reset request belong to the previous episode
        self._views = tuple(views)
        self._pending: dict[int, dict[str, np.ndarray]] = {}  # stamp -> the views of that observation received so far
        self.frames: list[np.ndarray] = []  # distinct tiled camera frames [H, V*W, 3] uint8 of the episode
        self.statuses: list[StatusSample] = []  # one per observation (distinct simulated time)
        self.feedback: list[PlanToGoal.Feedback] = []
        for view in self._views:
            self.node.create_subscription(
                Image, VIEW_TOPICS[view], lambda msg, view=view: self._on_image(view, msg), qos_profile_sensor_data
            )
        self.node.create_subscription(TaskStatus, "task_status", self._on_status, 10)
        self.reset_client = self.node.create_client(ResetSim, "sim_node/reset")
        self.plan_client = ActionClient(self.node, PlanToGoal, "plan_to_goal")

    def wait_ready(self) -> None:
        """Wait for the reset service and the plan_to_goal action server."""
        ready = self.composition.spin_until(
            lambda: self.reset_client.service_is_ready() and self.plan_client.server_is_ready(), SERVICE_TIMEOUT_S
        )
        if not ready:
            raise DemoError(
                f"the sim's reset service or the planner's plan_to_goal did not appear in {SERVICE_TIMEOUT_S} s"
            )

    def _on_image(self, view: str, msg: Image) -> None:
        """Keep each new camera frame of the current episode once every view of its observation (one stamp) arrived
        (lockstep re-publishes identical frames while idle)."""
        stamp = Time.from_msg(msg.header.stamp).nanoseconds
        with self._lock:
            if self._episode is None or stamp < self._since_ns:
                return
        rgb = image_msg_to_rgb8(msg)
        with self._lock:
            views = self._pending.setdefault(stamp, {})
            views[view] = rgb
            if len(views) < len(self._views):
                return
            self._pending = {pending: v for pending, v in self._pending.items() if pending > stamp}
            frame = tile_views([views[name] for name in self._views])
            if not self.frames or not np.array_equal(self.frames[-1], frame):
                self.frames.append(frame)

    def _on_status(self, msg: TaskStatus) -> None:
        """Keep the task status of each new observation of the current episode."""
        sample = StatusSample(Time.from_msg(msg.header.stamp).nanoseconds, msg.distance, msg.tolerance, msg.success)
        with self._lock:
            if self._episode != (msg.task, msg.seed):
                return
            if not self.statuses or self.statuses[-1].sim_time_ns != sample.sim_time_ns:
                self.statuses.append(sample)

    def wait(self, future, timeout: float, what: str):
        """Spin until the future is done; its result, or DemoError naming what did not answer."""
        if not self.composition.spin_until(future.done, timeout):
            raise DemoError(f"{what}: no answer within {timeout:.0f} s")
        return future.result()

    def reset(self, task: str, seed: int) -> EpisodeGoals:
        """Reset the simulator and start recording the new episode; returns its goal images and sub-goal budgets.

        The sim may re-publish the previous episode's frame while the reset request waits, so frames count only when
        stamped after the reset's answer (its goal image stamp); the first is the sim's idle re-publication of the
        reset scene (lockstep, every hold_publish_period)."""
        with self._lock:
            self._episode = None
        response = self.wait(self.reset_client.call_async(ResetSim.Request(task=task, seed=seed)), SERVICE_TIMEOUT_S,
                             "sim reset")  # fmt: skip
        if not response.success:
            raise DemoError(f"sim reset to {task} seed {seed} failed: {response.message}")
        with self._lock:
            self._episode = (task, seed)
            self._since_ns = Time.from_msg(response.goal_image.header.stamp).nanoseconds + 1
            self.frames, self.statuses, self.feedback, self._pending = [], [], [], {}
        if not self.composition.spin_until(lambda: self.frames and self.statuses, SERVICE_TIMEOUT_S):
            raise DemoError(
                f"no camera image / task_status of the new episode within {SERVICE_TIMEOUT_S} s after the reset "
                "(in lockstep the sim's hold_publish_period must be > 0)"
            )
        if not response.subgoal_images:
            raise DemoError(
                "the sim's reset returned no sub-goal images (an older jepa_msgs? run bash scripts/setup.sh)"
            )
        images = [image_msg_to_rgb8(image) for image in response.subgoal_images]
        steps = [int(steps) for steps in response.subgoal_steps]
        return EpisodeGoals(list(response.subgoal_names), images, steps, list(response.subgoal_grippers))

    def send_goal(self, goal: PlanToGoal.Goal):
        """Send a goal to plan_to_goal; the accepted goal handle."""
        handle = self.wait(self.plan_client.send_goal_async(goal, feedback_callback=self._on_feedback),
                           SERVICE_TIMEOUT_S, "plan_to_goal goal")  # fmt: skip
        if not handle.accepted:
            raise DemoError("plan_to_goal rejected the goal")
        return handle

    def _on_feedback(self, message) -> None:
        with self._lock:
            self.feedback.append(message.feedback)

    def settle(self, steps: int) -> None:
        """After a result of `steps` executed steps: wait for the observation of each step (start + steps), then until
        no new observation arrived for SETTLE_QUIET_S (the hold step)."""
        deadline = time.monotonic() + SETTLE_MAX_S
        self.composition.spin_until(lambda: len(self.statuses) >= steps + 1, SETTLE_MAX_S)
        while time.monotonic() < deadline:
            count = len(self.statuses)
            self.composition.spin_until(lambda: len(self.statuses) > count, SETTLE_QUIET_S)  # noqa: B023
            if len(self.statuses) == count:
                return


class EpisodeProgress:
    """A tqdm bar per episode: steps done, latest energy and distance."""

    def __init__(self, record: EpisodeRecord, episodes: int, max_steps: int) -> None:
        desc = f"episode {record.index + 1}/{episodes} {record.task} seed {record.seed}"
        self.bar = tqdm(total=max_steps, desc=desc, unit="step", leave=False, dynamic_ncols=True)

    def update(self, steps: int, energy: float, distance: float) -> None:
        """Advance to `steps` and show the latest numbers."""
        self.bar.set_postfix_str(f"energy {energy:.4f}, distance {100 * distance:.1f} cm", refresh=False)
        self.bar.update(steps - self.bar.n)

    def close(self) -> None:
        """Remove the bar (the episode's result line replaces it)."""
        self.bar.close()


def run_episode(client: DemoClient, record: EpisodeRecord, args: argparse.Namespace) -> tuple[list, list]:
    """One episode: reset, goal (or sub-goal sequence), closed loop until the planner stops (or the task succeeds);
    fills `record`; returns the camera frames and the goal images shown beside them."""
    start = time.monotonic()
    goal, record.subgoal_names, goal_images = client.reset(record.task, record.seed).plan_goal(args)
    handle = client.send_goal(goal)
    result_future = handle.get_result_async()
    progress = EpisodeProgress(record, args.episodes, args.max_steps)
    cancel_sent = False
    deadline = start + args.timeout + SERVICE_TIMEOUT_S
    try:
        while not client.composition.spin_until(result_future.done, timeout=0.2):
            status = client.statuses[-1]
            if client.feedback:
                progress.update(len(client.feedback), client.feedback[-1].energy, status.distance)
            if args.stop_on_success and status.success and not cancel_sent:
                handle.cancel_goal_async()
                cancel_sent = True
            if time.monotonic() > deadline:
                raise DemoError(f"plan_to_goal gave no result within {args.timeout + SERVICE_TIMEOUT_S:.0f} s")
        result = result_future.result().result
        client.settle(result.steps)
    finally:
        progress.close()
    fill_record(record, client, result, time.monotonic() - start)
    return list(client.frames), goal_images


def fill_record(record: EpisodeRecord, client: DemoClient, result, wall_time_s: float) -> None:
    """Copy the episode's series and outcome into the record (success: the simulator's task_status said so at some
    observation, as in training.evaluate, which also ends an episode on success)."""
    statuses, feedback = list(client.statuses), list(client.feedback)
    record.energies = [f.energy for f in feedback]
    record.best_energies = [f.best_energy for f in feedback]
    record.planning_times_s = [f.planning_time for f in feedback]
    record.subgoal_indices = [f.subgoal_index for f in feedback] if record.subgoal_names else []
    record.distances_m = [s.distance for s in statuses]
    record.tolerance_m = statuses[-1].tolerance
    record.first_success_step = next((i for i, s in enumerate(statuses) if s.success), None)
    record.success = record.first_success_step is not None
    record.steps = result.steps
    record.outcome = OUTCOME_NAMES.get(result.outcome, str(result.outcome))
    record.reason = result.reason
    record.wall_time_s = wall_time_s


# ---- main ----------------------------------------------------------------------------------------------------------
def quiet_node_logs(verbose: bool) -> None:
    """Without --verbose only node warnings show (the planner's outcome warnings are in the demo's own lines)."""
    if verbose:
        return
    for name in ("sim_node", "encoder_node"):
        rclpy.logging.set_logger_level(name, rclpy.logging.LoggingSeverity.WARN)
    rclpy.logging.set_logger_level("planner_node", rclpy.logging.LoggingSeverity.ERROR)


def banner(args, encoder: ModelSource, predictor: ModelSource, specs: list[NodeSpec], output: Path) -> list[str]:
    """Setup lines printed at the start and written above the summary table."""
    planner = next(spec for spec in specs if spec.name == "planner_node").parameters
    cem = effective_cem(planner)
    lines = [
        f"task {args.task}, {args.episodes} episode(s), seeds {args.seed}..{args.seed + args.episodes - 1}, "
        f"at most {args.max_steps} steps each, device {args.device}",
        f"planner: CEM {cem['samples']} samples x {cem['iterations']} iterations, top-k {cem['top_k']}, "
        f"horizon {cem['horizon']}",
        "goals: "
        + (
            "the final goal image"
            if args.task == "reach" or not args.subgoals
            else "the episode's sub-goal images, each for its step budget"
            + (f" or until the energy is below {args.subgoal_threshold}" if args.subgoal_threshold else "")
        ),
        f"encoder: {encoder.describe()}, cameras {', '.join(encoder.views)}",
        f"predictor: {predictor.describe()}",
        f"output: {output}",
    ]
    if encoder.random or predictor.random:
        lines.append(
            "WARNING: RANDOM-WEIGHT MODELS: every message flows and the arm moves, but the plans are meaningless "
            "(expect about 0% success). Pass trained checkpoints with --encoder/--predictor for a real demo."
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """The whole demo; the exit code (0 ran, 1 the planner reported a broken goal)."""
    missing = [name for name in DEMO_PARAMS_FILES if not Path(name).is_file()]
    if missing:
        raise DemoError(
            f"parameter files {missing} not found: run the demo from the repository root (cwd {Path.cwd()})"
        )
    encoder = resolve_model(args.encoder, [*ENCODER_PRESETS, *AC_ENCODER_OF], "--encoder")
    predictor = resolve_model(args.predictor, list(AC_PREDICTOR_PRESETS), "--predictor")
    specs = node_specs(args, encoder, predictor)
    output = args.output or Path("runs") / f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    output.mkdir(parents=True, exist_ok=True)
    header = banner(args, encoder, predictor, specs, output)
    print("JEPA demo: " + "\n  ".join(header), flush=True)
    quiet_node_logs(args.verbose)
    started = time.monotonic()
    print("starting the sim, encoder and planner nodes ...", flush=True)
    try:
        composition = Composition(specs, DEMO_PARAMS_FILES)
    except Exception as error:
        raise DemoError(f"cannot start the demo nodes: {type(error).__name__}: {error}") from error
    planner = composition.nodes["planner_node"]
    prior = describe_prior(planner.world_model.goal_prior, planner.settings.values["pose_prior_weight"])
    header.append(f"goal-position prior: {prior}")
    print(f"  {header[-1]}", flush=True)
    records: list[EpisodeRecord] = []
    try:
        with composition:
            client = DemoClient(composition, encoder.views)
            client.wait_ready()
            for index in range(args.episodes):
                record = EpisodeRecord(index=index, task=args.task, seed=args.seed + index)
                frames, goals = run_episode(client, record, args)
                write_gif(output / f"{record.name}.gif", frames, goals, record)
                write_plot(output / f"{record.name}.png", record, frames[0], frames[-1], goals[-1])
                records.append(record)
                print(episode_line(record, args.episodes), flush=True)
            client.node.destroy_node()
    finally:  # an error or Ctrl-C still leaves the table of the finished episodes
        summary = summarize(args.task, records, time.monotonic() - started)
        write_summary(output, records, summary, header)
        print(summary.line())
        print(f"outputs: {output}/summary.md, {len(records)} GIF(s) and plot(s)")
    broken = [r for r in records if r.outcome in BROKEN_OUTCOMES]
    for record in broken:
        print(f"error: episode {record.index}: planner {record.outcome}: {record.reason}", file=sys.stderr)
    return 1 if broken else 0


def episode_line(record: EpisodeRecord, episodes: int) -> str:
    """The result line of one episode."""
    tolerance = f"{100 * record.tolerance_m:.0f} cm"
    verdict = f"SUCCESS (within {tolerance} at step {record.first_success_step})" if record.success else "failure"
    return (
        f"episode {record.index + 1}/{episodes} {record.task} seed {record.seed}: {verdict} after {record.steps} "
        f"steps, final distance {100 * record.final_distance_m:.1f} cm (tolerance {tolerance}), "
        f"{record.wall_time_s:.1f} s"
        + (f", last sub-goal {record.final_subgoal}" if record.final_subgoal else "")
        + ("" if record.success else f"; planner {record.outcome}: {record.reason}")
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `demo`; exit code 0 when the demo ran (whatever its success rate), 1 on errors."""
    args = parse_args(argv)
    try:
        return run(args)
    except DemoError as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
