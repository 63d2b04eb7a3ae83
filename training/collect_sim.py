"""Simulated data collection through the real path: sim node -> recorder node -> MCAP bags -> DROID episodes.

One command runs the simulator node (lockstep, 15 Hz control periods, simulated time on /clock so stamps are
physical), the episode recorder node and a scripted exploration policy in one process, records one bag per episode,
then converts and validates them. `--policy play` (default) is `jepa_sim.scripted.PlayPolicy`, the manipulation mix of
`training.sim_episodes` (grasp attempts, carries, drops, random waypoints, gripper toggles; it knows the objects' start
positions from the reset episode, as an operator sees the table, and tracks where it releases them);
`--policy waypoints` is smooth random flange targets with yaw and random gripper open/close:

    scripts/run.sh python -m training.collect_sim --episodes 20 --seconds 20 --output data/sim
    -> data/sim/bags/<episode>/ (rosbag2 MCAP) and data/sim/droid/<episode>/ (raw DROID)

`--views exterior wrist` also records the wrist camera (wrist_camera/image_raw), converted to DROID's wrist_mp4_path.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Float64
from tqdm import tqdm

from jepa_core import geometry
from jepa_core.data.bag_to_droid import ConversionConfig
from jepa_core.data.droid_format import ROW_HZ
from jepa_core.data.droid_validate import validate_episode
from jepa_core.data.topics import CAMERA_IMAGE, WRIST_CAMERA_IMAGE
from jepa_data.recorder_node import EpisodeRecorder
from jepa_msgs.msg import EndEffectorState
from jepa_msgs.srv import ResetSim
from jepa_ros_common.poses import pose_from_state, state_from_ee_state
from jepa_ros_common.stamps import stamp_from_nanoseconds, stamp_nanoseconds
from jepa_sim.scripted import PlayPolicy
from jepa_sim.sim_node import SimNode
from training.bag_to_droid import DEFAULT_WORKERS, convert_many

BASE_FRAME = "panda_link0"


@dataclass(frozen=True)
class ExplorationConfig:
    """The scripted exploration policy: random waypoints in a box, speed limits, gripper toggles."""

    box_min: tuple[float, float, float] = (0.35, -0.3, 0.2)  # m, waypoints are drawn uniformly in this box
    box_max: tuple[float, float, float] = (0.7, 0.3, 0.55)
    max_speed: float = 0.25  # m/s of the commanded target
    max_yaw_offset: float = 0.5  # rad, random yaw of each waypoint around the start orientation
    max_yaw_rate: float = 0.6  # rad/s
    reach_tolerance: float = 0.01  # m: a waypoint is reached when the target gets this close
    toggle_probability: float = 0.5  # chance to open/close the gripper at each new waypoint


class ExplorationPolicy:
    """Smooth random exploration: the target slews towards random waypoints; the gripper toggles at some of them."""

    def __init__(self, start_state: np.ndarray, period: float, seed: int, config: ExplorationConfig | None = None):
        self.config = config or ExplorationConfig()
        self.period = period
        self.rng = np.random.default_rng(seed)
        self.target = np.asarray(start_state, dtype=np.float64).copy()  # [7]
        self.base_rotation = geometry.euler_to_matrix(self.target[3:6])  # [3, 3]
        self.yaw = 0.0
        self._new_waypoint()

    def _new_waypoint(self) -> None:
        """Draw the next waypoint (position, yaw offset) and maybe toggle the gripper."""
        self.waypoint = self.rng.uniform(self.config.box_min, self.config.box_max)  # [3]
        self.waypoint_yaw = self.rng.uniform(-self.config.max_yaw_offset, self.config.max_yaw_offset)
        if self.rng.random() < self.config.toggle_probability:
            self.target[6] = 1.0 - round(self.target[6])

    def act(self) -> np.ndarray:
        """Next target state [7]: position and yaw moved towards the waypoint within the speed limits."""
        to_go = self.waypoint - self.target[:3]
        distance = float(np.linalg.norm(to_go))
        step = self.config.max_speed * self.period
        self.target[:3] = self.waypoint if distance <= step else self.target[:3] + to_go * (step / distance)
        yaw_step = self.config.max_yaw_rate * self.period
        self.yaw += float(np.clip(self.waypoint_yaw - self.yaw, -yaw_step, yaw_step))
        yaw_rotation = geometry.euler_to_matrix(np.array([0.0, 0.0, self.yaw]))
        self.target[3:6] = geometry.matrix_to_euler(yaw_rotation @ self.base_rotation)
        if distance <= self.config.reach_tolerance:
            self._new_waypoint()
        return self.target.copy()


@dataclass(frozen=True)
class CollectionConfig:
    """What to collect and where."""

    output: Path = Path("data/sim")
    episodes: int = 10
    seconds: float = 20.0  # simulated seconds per episode
    task: str = "reach"  # scene / start distribution of the sim's tasks
    policy: str = "play"  # "play" (manipulation mix, PlayPolicy) or "waypoints" (ExplorationPolicy)
    seed: int = 0
    render_size: int = 256  # side of the square camera images, px
    views: tuple[str, ...] = ("exterior",)  # cameras the sim publishes and the bags record (exterior, wrist)
    workers: int = DEFAULT_WORKERS  # bag -> DROID conversion processes (1 measured fastest on 2 cores)
    exploration: ExplorationConfig = field(default_factory=ExplorationConfig)
    step_timeout_s: float = 10.0  # wall time allowed for one simulated step to come back

    @property
    def period(self) -> float:
        """Control period: one DROID row."""
        return 1.0 / ROW_HZ


class _Driver:
    """Publishes /clock, gripper and target commands, and watches ee_state stamps to pace lockstep steps."""

    def __init__(self, context) -> None:
        self.node = rclpy.create_node("sim_collector", context=context)
        self.clock_pub = self.node.create_publisher(Clock, "/clock", 10)
        self.target_pub = self.node.create_publisher(PoseStamped, "target_pose", 10)
        self.gripper_pub = self.node.create_publisher(Float64, "gripper_command", 10)
        self.reset_client = self.node.create_client(ResetSim, "sim_node/reset")
        self.latest_stamp_ns = -1
        self.latest_state: np.ndarray | None = None
        self.node.create_subscription(EndEffectorState, "ee_state", self._on_ee_state, 10)

    def _on_ee_state(self, msg: EndEffectorState) -> None:
        self.latest_state = state_from_ee_state(msg)
        self.latest_stamp_ns = stamp_nanoseconds(msg.header.stamp)

    def publish_clock(self, t_ns: int) -> None:
        self.clock_pub.publish(Clock(clock=stamp_from_nanoseconds(t_ns)))

    def publish_command(self, target: np.ndarray) -> None:
        """Gripper first, then the target that triggers the lockstep step."""
        self.gripper_pub.publish(Float64(data=float(target[6])))
        msg = PoseStamped()
        msg.header.frame_id = BASE_FRAME
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.pose = pose_from_state(target)
        self.target_pub.publish(msg)


def _wait(predicate, timeout_s: float, what: str) -> None:
    """Poll until predicate() holds; raise a TimeoutError naming what was awaited."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.001)


class SimCollector:
    """Runs sim, recorder and driver nodes in one process and records episodes into bags."""

    def __init__(self, config: CollectionConfig) -> None:
        self.config = config
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.sim = SimNode(
            context=self.context,
            parameter_overrides=[
                Parameter("use_sim_time", value=True),
                Parameter("step_mode", value="lockstep"),
                Parameter("control_period", value=config.period),
                Parameter("hold_publish_period", value=0.0),
                Parameter("task", value=config.task),
                Parameter("render_size", value=[config.render_size] * 2),
                Parameter("views", value=list(config.views)),
            ],
        )
        self.recorder = EpisodeRecorder(
            context=self.context, parameter_overrides=[Parameter("output_dir", value=str(self.bag_dir))]
        )
        self.driver = _Driver(self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        for node in (self.sim, self.recorder, self.driver.node):
            self.executor.add_node(node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()
        self.sim_time_ns = time.time_ns()  # simulated clock, continuous across episodes

    @property
    def bag_dir(self) -> Path:
        return self.config.output / "bags"

    def _advance_clock(self) -> None:
        """Move simulated time one period forward and wait until the sim node sees it."""
        self.sim_time_ns += round(self.config.period * 1e9)
        self.driver.publish_clock(self.sim_time_ns)
        _wait(lambda: self.sim.get_clock().now().nanoseconds == self.sim_time_ns, 5.0, "the sim node's /clock")

    def _wait_for_topics(self) -> None:
        """Let the recorder subscribe to everything the sim and the driver publish."""
        expected = {"/camera/image_raw", "/ee_state", "/joint_states", "/target_pose", "/gripper_command"}
        expected |= {f"/{WRIST_CAMERA_IMAGE.name}"} if "wrist" in self.config.views else set()
        _wait(lambda: expected <= self.recorder.subscribed_topics, 20.0, f"recorder subscriptions {expected}")
        _wait(lambda: self.driver.reset_client.service_is_ready(), 20.0, "the sim's reset service")

    def record_episode(self, index: int, progress: tqdm) -> Path:
        """Reset the sim, record `seconds` of exploration into one bag, return the bag folder (kept if it exists)."""
        seed = self.config.seed + index
        name = f"sim_{self.config.task}_seed{seed:05d}"
        steps = round(self.config.seconds / self.config.period)
        if (self.bag_dir / name).exists():
            progress.update(steps)
            return self.bag_dir / name
        self._wait_for_topics()
        self.recorder.start_episode(name)
        self._advance_clock()
        future = self.driver.reset_client.call_async(ResetSim.Request(task=self.config.task, seed=seed))
        _wait(future.done, 30.0, "the sim's reset")
        if not future.result().success:
            raise RuntimeError(f"sim reset failed: {future.result().message}")
        _wait(lambda: self.driver.latest_stamp_ns == self.sim_time_ns, 5.0, "the reset observation")
        act = self._make_policy(seed)
        for _ in range(steps):
            self._advance_clock()
            self.driver.publish_command(act())
            _wait(lambda: self.driver.latest_stamp_ns == self.sim_time_ns, self.config.step_timeout_s, "a sim step")
            progress.update()
        try:  # images are best effort (sensor-data QoS): give the last ones a moment, then report any loss
            _wait(lambda: self.recorder.received["/camera/image_raw"] >= steps + 1, 2.0, "the last images")
        except TimeoutError:
            lost = steps + 1 - self.recorder.received["/camera/image_raw"]
            progress.write(f"{name}: {lost} of {steps + 1} images did not reach the recorder")
        return self.recorder.stop_episode().path

    def _make_policy(self, seed: int):
        """Callable returning the next target state [7] of the configured exploration policy."""
        start = self.driver.latest_state
        if self.config.policy == "play":
            objects = self.sim.env.episode.object_positions  # the reset scene, as an operator sees the table
            play = PlayPolicy(start, objects, self.config.period, np.random.default_rng(seed))
            return lambda: play.act(self.driver.latest_state)
        if self.config.policy == "waypoints":
            return ExplorationPolicy(start, self.config.period, seed, self.config.exploration).act
        raise ValueError(f"CollectionConfig.policy: expected 'play' or 'waypoints', got {self.config.policy!r}")

    def close(self) -> None:
        """Stop spinning and shut the nodes and the context down."""
        self.executor.shutdown()
        for node in (self.sim, self.recorder, self.driver.node):
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def collect(config: CollectionConfig) -> list[Path]:
    """Record, convert and validate `config.episodes` episodes; returns the DROID episode folders."""
    collector = SimCollector(config)
    steps = round(config.seconds / config.period)
    bags = []
    try:
        with tqdm(total=config.episodes * steps, desc="simulating", unit="step") as progress:
            for index in range(config.episodes):
                bags.append(collector.record_episode(index, progress))
    finally:
        collector.close()
    wrist = f"/{WRIST_CAMERA_IMAGE.name}" if "wrist" in config.views else ""
    conversion = ConversionConfig(
        image_topics=(f"/{CAMERA_IMAGE.name}", *([wrist] if wrist else [])), wrist_topic=wrist
    )
    outcomes = convert_many(bags, config.output / "droid", conversion, force=True, workers=config.workers)
    failures = [o.error for o in outcomes if o.error]
    if failures:
        raise RuntimeError("conversion failed:\n" + "\n".join(failures))
    episodes = [o.episode for o in outcomes]
    violations = [v for episode in episodes for v in validate_episode(episode)]
    if violations:
        raise RuntimeError("invalid DROID episodes:\n" + "\n".join(violations))
    return episodes


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, collect, print where the data went."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = CollectionConfig()
    parser.add_argument("--output", type=Path, default=defaults.output, help="bags/ and droid/ are created here")
    parser.add_argument("--episodes", type=int, default=defaults.episodes)
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="simulated seconds per episode")
    parser.add_argument("--task", default=defaults.task, help="sim task whose scene and start states are used")
    parser.add_argument(
        "--policy", choices=("play", "waypoints"), default=defaults.policy, help="exploration policy (default: play)"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--render-size", type=int, default=defaults.render_size, help="square camera image side, px")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="parallel bag -> DROID conversions")
    parser.add_argument("--views", nargs="+", default=defaults.views, help="cameras recorded: exterior [wrist]")
    args = parser.parse_args(argv)
    config = CollectionConfig(
        output=args.output,
        episodes=args.episodes,
        seconds=args.seconds,
        task=args.task,
        policy=args.policy,
        seed=args.seed,
        render_size=args.render_size,
        views=tuple(args.views),
        workers=args.workers,
    )
    episodes = collect(config)
    print(f"{len(episodes)} DROID episodes in {config.output / 'droid'} (bags in {config.output / 'bags'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
