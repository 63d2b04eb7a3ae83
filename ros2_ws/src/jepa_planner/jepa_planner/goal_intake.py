"""Goal intake of the planner: the goal library (`capture_goal`, `remove_goal`, `list_goals`), goals from RViz
(`rviz_goals`), and goal images or library names turned into goal representations (by the perception node's
`encode_image` or a local encoder).

The node calls `GoalIntake.sequence` for each PlanToGoal goal; a goal from RViz is one that `start_goal` (the node's)
runs directly.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from geometry_msgs.msg import Pose
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from jepa_core.frame_encoder import same_encoder
from jepa_core.planning.subgoals import SubGoal
from jepa_core.planning.world_model import WorldModel
from jepa_msgs.action import PlanToGoal
from jepa_msgs.msg import SubGoal as SubGoalMsg
from jepa_msgs.srv import CaptureGoal, EncodeImage, ListGoals, RemoveGoal
from jepa_planner.control import Stop
from jepa_planner.goals import GoalLibrary, GoalLibraryError, GoalRecord
from jepa_planner.library_markers import goal_pose
from jepa_planner.observations import Observations
from jepa_planner.rviz_goals import LocalGoal, RvizGoals
from jepa_planner.safety import decoded_goal_violation, non_finite_reason
from jepa_planner.settings import PlannerSettings
from jepa_ros_common.embeddings import embedding_to_tensor
from jepa_ros_common.images import ImageConversionError, array_to_image_msg, check_size, image_msg_to_rgb8
from jepa_ros_common.lifecycle import destroy_entities
from jepa_ros_common.stamps import stamp_from_seconds

WAIT_POLL_S = 0.02  # how often a wait for the encode service re-checks cancel and timeouts
# jepa_msgs/SubGoal gripper field -> the gripper a sub-goal commands (None: the CEM plans it)
SUBGOAL_GRIPPERS = {SubGoalMsg.GRIPPER_PLANNED: None, SubGoalMsg.GRIPPER_OPEN: 0.0, SubGoalMsg.GRIPPER_CLOSED: 1.0}
Interrupted = Callable[[], Stop | None]


class GoalError(ValueError):
    """A goal that cannot be turned into a goal representation (reported as OUTCOME_INVALID_GOAL)."""


class GoalInterruptError(Exception):
    """Cancel, preemption or timeout while the goal was still being prepared; carries the Stop to report."""

    def __init__(self, stop: Stop) -> None:
        super().__init__(stop.reason)
        self.stop = stop


@dataclass(frozen=True)
class GoalPlan:
    """A goal ready to plan, one entry per sub-goal: representations [N, D], flange positions [3] (or None), SubGoals,
    goal images and library names ('' for a goal image); and the identity of the encoder that produced the
    representations (observations must come from the same)."""

    representations: list[torch.Tensor]
    positions: list[np.ndarray | None]
    subgoals: list[SubGoal]
    images: list[Image]
    names: list[str]
    model: str


class GoalIntake:
    """Creates the goal interfaces on `node` and prepares the goals it receives."""

    def __init__(
        self,
        node: Node,
        settings: Callable[[], PlannerSettings],
        world_model: WorldModel,
        observations: Observations,
        start_goal: Callable[[LocalGoal], object],
        callback_group,
    ) -> None:
        """`settings()` gives the node's current settings (live parameters); `start_goal` runs a LocalGoal: one the
        node received outside the action server (from RViz)."""
        self.node, self._settings, self.world_model = node, settings, world_model
        self.observations, self.start_goal = observations, start_goal
        values = settings().values
        self.library = GoalLibrary(values["goal_library_dir"])
        self._image: Image | None = None
        self._encode_client = node.create_client(EncodeImage, values["encode_service"], callback_group=callback_group)
        self.rviz = RvizGoals(node, settings, self.library, observations, start_goal, callback_group)
        self._entities = [
            node.create_subscription(Image, values["image_topic"], self._on_image, qos_profile_sensor_data,
                                     callback_group=callback_group),
            node.create_service(CaptureGoal, values["capture_goal_service"], self._capture_goal,
                                callback_group=callback_group),
            node.create_service(RemoveGoal, values["remove_goal_service"], self._remove_goal,
                                callback_group=callback_group),
            node.create_service(ListGoals, values["list_goals_service"], self._list_goals,
                                callback_group=callback_group),
            self._encode_client,
            *self.rviz.entities,
        ]  # fmt: skip

    @property
    def settings(self) -> PlannerSettings:
        return self._settings()

    def destroy(self) -> None:
        """Remove every interface this intake created from the node (lifecycle cleanup)."""
        destroy_entities(self.node, self._entities)

    # ---- library -------------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        """Keep the latest camera image for capture_goal (converted only when captured)."""
        self._image = msg

    def _capture_goal(self, request: CaptureGoal.Request, response: CaptureGoal.Response) -> CaptureGoal.Response:
        """Store the latest camera frame (and the robot state, when known) as a named goal."""
        image = self._image
        name = request.name or f"goal_{int(time.time())}"
        if image is None:
            response.success, response.message = False, f"no image received on {self.settings.values['image_topic']}"
            return response
        state = self.observations.measured_state()
        extra = {} if state is None else {"state": state.tolist()}
        try:
            path = self.library.save(name, image_msg_to_rgb8(image, self._max_pixels), overwrite=request.overwrite,
                                     **extra)  # fmt: skip
        except (GoalLibraryError, ImageConversionError) as error:
            response.success, response.message = False, str(error)
            return response
        response.success, response.name, response.path = True, name, str(path)
        self.rviz.publish_markers()
        return response

    def _remove_goal(self, request: RemoveGoal.Request, response: RemoveGoal.Response) -> RemoveGoal.Response:
        """Delete a goal from the library."""
        try:
            self.library.remove(request.name)
        except GoalLibraryError as error:
            response.success, response.message = False, str(error)
            return response
        response.success = True
        self.rviz.publish_markers()
        return response

    def _list_goals(self, _request: ListGoals.Request, response: ListGoals.Response) -> ListGoals.Response:
        """Names, captured flange poses, grippers and capture times of every goal."""
        records = self.library.records()
        response.frame_id = self.settings.values["base_frame"]
        response.names = [r.name for r in records]
        response.has_pose = [r.position is not None for r in records]
        response.poses = [Pose() if r.position is None else goal_pose(r) for r in records]
        response.grippers = [math.nan if r.state is None else float(r.state[6]) for r in records]
        response.captured = [stamp_from_seconds(r.created) for r in records]
        return response

    # ---- goal representations ------------------------------------------------------------------------------------
    @property
    def _max_pixels(self) -> int:
        return self.settings.values["max_goal_image_pixels"]

    def sequence(self, goal: PlanToGoal.Goal, threshold: float, interrupted: Interrupted) -> GoalPlan:
        """The goal as a sequence. A goal without `subgoals` is one entry (goal_name or goal_image); with them, the
        last one's energy threshold defaults to `threshold` (the goal's, else the node's). Every entry must come from
        one encoder."""
        plan = self._sequence(goal, threshold, interrupted)
        self.rviz.show_goal(plan)
        return plan

    def _sequence(self, goal: PlanToGoal.Goal, threshold: float, interrupted: Interrupted) -> GoalPlan:
        """`sequence`, before RViz is shown the goal."""
        if not goal.subgoals:
            rep, position, model, image = self._representation(goal.goal_name, goal.goal_image, interrupted)
            return GoalPlan([rep], [position], [SubGoal(goal.goal_name or "goal")], [image], [goal.goal_name], model)
        reps, positions, subgoals, images, models = [], [], [], [], []
        for index, entry in enumerate(goal.subgoals):
            name = entry.name or entry.goal_name or f"subgoal_{index}"
            try:
                rep, position, model, image = self._representation(entry.goal_name, entry.image, interrupted)
            except GoalError as error:
                raise GoalError(f"sub-goal {index} ({name}): {error}") from None
            if entry.gripper not in SUBGOAL_GRIPPERS:
                raise GoalError(f"sub-goal {index} ({name}): gripper {entry.gripper} is not one of GRIPPER_PLANNED "
                                "(0), GRIPPER_OPEN (1), GRIPPER_CLOSED (2)")  # fmt: skip
            if models and not same_encoder(model, models[0]):
                raise GoalError(f"sub-goal {index} ({name}) was encoded by {model!r}, sub-goal 0 by {models[0]!r}")
            reps.append(rep)
            positions.append(position)
            images.append(image)
            models.append(model)
            subgoals.append(SubGoal(name, entry.steps, entry.energy_threshold, SUBGOAL_GRIPPERS[entry.gripper]))
        if subgoals[-1].energy_threshold <= 0:
            subgoals[-1] = replace(subgoals[-1], energy_threshold=threshold)
        return GoalPlan(reps, positions, subgoals, images, [e.goal_name for e in goal.subgoals], models[0])

    def _representation(self, goal_name: str, goal_image: Image, interrupted: Interrupted):
        """Goal representation [N, D], the goal flange position [3] when known (the library's, else the
        goal-position prior's decoded one, refused outside the workspace box), the encoder identity and the goal
        image."""
        known = None
        if goal_name:
            try:
                rgb, metadata = self.library.load(goal_name)
            except GoalLibraryError as error:
                raise GoalError(str(error)) from None
            known = GoalRecord.from_metadata(metadata).position
            goal_image = array_to_image_msg(rgb, "rgb8")
            rep, model = self._encode(goal_image, rgb, interrupted)
        elif goal_image.width == 0 or goal_image.height == 0:
            raise GoalError("goal has neither goal_name nor a goal_image")
        else:
            try:  # before anything is decoded or sent to the encode service
                check_size(goal_image.width, goal_image.height, self._max_pixels, "goal image")
            except ImageConversionError as error:
                raise GoalError(f"{error} (max_goal_image_pixels)") from None
            rep, model = self._encode(goal_image, None, interrupted)
        reason = non_finite_reason(goal_embedding=rep.cpu().numpy())  # a broken encoder: no energy can be planned
        if reason:
            raise GoalError(f"{reason} (check the goal image and the encoder)")
        prior = self.world_model.goal_prior
        if prior is not None:
            decoded = prior.goal_position(rep.to(self.world_model.device)).double().cpu().numpy()
            problem = decoded_goal_violation(decoded, self.settings.safety)
            if problem is not None:
                raise GoalError(problem)
            known = decoded if known is None else known
        return rep, known, model, goal_image

    def _encode(self, image: Image, rgb: np.ndarray | None, interrupted: Interrupted) -> tuple[torch.Tensor, str]:
        """Goal representation [N, D] and encoder identity, from encode_image or the local encoder. While waiting for
        the service, a Stop from `interrupted` (cancel, preemption, timeout) raises GoalInterruptError."""
        values = self.settings.values
        if values["goal_encoder"] == "local":
            try:
                rgb = image_msg_to_rgb8(image, self._max_pixels) if rgb is None else rgb
            except ImageConversionError as error:
                raise GoalError(f"goal image: {error}") from None
            return self.world_model.encode_images(rgb[None])[0], self.settings.local_encoder_identity
        timeout, service = values["encode_timeout_s"], values["encode_service"]
        if not _poll(self._encode_client.service_is_ready, timeout, interrupted, "waiting for " + service):
            raise GoalError(f"service {service} not available within {timeout} s")
        done = threading.Event()
        future = self._encode_client.call_async(EncodeImage.Request(image=image))
        future.add_done_callback(lambda _: done.set())
        if not _poll(done.is_set, timeout, interrupted, "encoding the goal image"):
            future.cancel()
            raise GoalError(f"{service} did not answer within {timeout} s")
        response = future.result()
        if not response.success:
            raise GoalError(f"{service} failed: {response.message}")
        try:
            rep = embedding_to_tensor(response.embedding, self.world_model.tokens_per_frame, self.world_model.embed_dim)
        except ValueError as error:
            raise GoalError(str(error)) from None
        return rep, response.embedding.model


def _poll(ready: Callable[[], bool], timeout: float, interrupted: Interrupted, doing: str) -> bool:
    """Wait until `ready()` (True) or `timeout` s (False), checking `interrupted` every WAIT_POLL_S."""
    deadline = time.monotonic() + timeout
    while not ready():
        stop = interrupted()
        if stop is not None:
            raise GoalInterruptError(Stop(stop.outcome, f"{stop.reason} (while {doing})"))
        if time.monotonic() > deadline:
            return False
        time.sleep(WAIT_POLL_S)
    return True
