"""The demo's nodes (sim, encoder, planner) composed in one process by jepa_bringup.bringup drive a goal end to end.

Uses launch/config/{sim,perception,planner,demo}.yaml as `make demo` does, with the planner shrunk so a goal of one
control step takes seconds on CPU: reset the simulator, send its goal image to plan_to_goal, get a result.
"""

import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.action import ActionClient  # noqa: E402

from jepa_bringup.bringup import DEMO_NODES, DEMO_PARAMS_FILES, Composition, parse_overrides  # noqa: E402
from jepa_msgs.action import PlanToGoal  # noqa: E402
from jepa_msgs.msg import Embedding, EndEffectorState  # noqa: E402
from jepa_msgs.srv import ResetSim  # noqa: E402

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
SMALL_PLANNER = [
    "planner_node.cem.samples=16",
    "planner_node.cem.top_k=4",
    "planner_node.cem.iterations=2",
    "sim_node.render_size=[128, 128]",
]


def wait_future(composition: Composition, future, timeout: float):
    assert composition.spin_until(future.done, timeout=timeout), f"no answer within {timeout} s"
    return future.result()


def test_demo_nodes_run_a_goal_in_one_process():
    specs = parse_overrides(SMALL_PLANNER, DEMO_NODES)
    with Composition(specs, [REPO / name for name in DEMO_PARAMS_FILES]) as composition:
        client = rclpy.create_node("demo_client", context=composition.context)
        composition.add_node(client)
        embeddings, states = [], []
        client.create_subscription(Embedding, "encoder_node/embedding", embeddings.append, 10)
        client.create_subscription(EndEffectorState, "ee_state", states.append, 10)
        reset = client.create_client(ResetSim, "sim_node/reset")
        plan = ActionClient(client, PlanToGoal, "plan_to_goal")
        assert composition.spin_until(lambda: reset.service_is_ready() and plan.server_is_ready(), timeout=30.0)

        episode = wait_future(composition, reset.call_async(ResetSim.Request(task="reach", seed=1)), 30.0)
        assert episode.success, episode.message
        assert composition.spin_until(lambda: embeddings and states, timeout=30.0), "no embedding / ee_state"
        assert states[-1].header.frame_id == "panda_link0"

        start = time.monotonic()
        goal = PlanToGoal.Goal(goal_image=episode.goal_image, max_steps=1, timeout=60.0)
        handle = wait_future(composition, plan.send_goal_async(goal), 30.0)
        assert handle.accepted
        result = wait_future(composition, handle.get_result_async(), 90.0).result
        assert result.outcome in (PlanToGoal.Result.OUTCOME_MAX_STEPS, PlanToGoal.Result.OUTCOME_SUCCEEDED), result
        assert result.steps >= 1
        print(f"goal of {result.steps} steps in {time.monotonic() - start:.1f} s: {result.reason}")
        client.destroy_node()


# The stack's names outside any namespace: /diagnostics (where dashboards look) and rclpy's own.
ROOT_NAMES = {"/diagnostics", "/rosout", "/parameter_events"}


def test_namespace_moves_every_name_and_services_are_private():
    """Issue 24 item 6: under namespace robot1 every topic and service of the demo nodes is under /robot1 (no bare
    /reset, /render_goal, /encode_image, /capture_goal, /embedding, /markers, /surprise, /goal_pose); a node's own
    services are under its name."""
    specs = parse_overrides(SMALL_PLANNER, DEMO_NODES)
    with Composition(specs, [REPO / name for name in DEMO_PARAMS_FILES], namespace="robot1") as composition:
        nodes = composition.nodes
        names = {
            name
            for node in nodes.values()
            for name in (
                *(node.resolve_service_name(service.srv_name) for service in node.services),
                *(node.resolve_topic_name(publisher.topic_name) for publisher in node.publishers),
                *(node.resolve_topic_name(subscription.topic_name) for subscription in node.subscriptions),
            )
        }
        assert {name for name in names if not name.startswith("/robot1/")} <= ROOT_NAMES
        assert {"/robot1/sim_node/reset", "/robot1/sim_node/render_goal", "/robot1/encoder_node/encode_image",
                "/robot1/planner_node/capture_goal", "/robot1/planner_node/list_goals",
                "/robot1/planner_node/remove_goal"} <= names  # fmt: skip
        assert {"/robot1/encoder_node/embedding", "/robot1/planner_node/markers", "/robot1/planner_node/surprise",
                "/robot1/goal_pose"} <= names  # fmt: skip
        planner = nodes["planner_node"]
        clients = {planner.resolve_service_name(client.srv_name) for client in planner.clients}
        assert {"/robot1/encoder_node/encode_image", "/robot1/sim_node/render_goal"} <= clients
