"""Managed (lifecycle) nodes as nav2 and ros2_control users expect, written once for every node.

configure loads (models, checkpoints), activate starts processing and commanding, deactivate stops commanding (a
node that commands a robot holds it first), cleanup frees what configure loaded. With the `autostart` parameter
(default true) a node walks itself to active at start-up, and a configure that fails raises, so the process exits
with the reason; with `autostart:=false` a lifecycle manager or `ros2 lifecycle set` drives it.

    class MyNode(ManagedNode):
        def __init__(self):
            super().__init__("my_node")
            values = declare_table(self, (*MY_TABLE, AUTOSTART))
            ...                        # interfaces that exist in every state (diagnostics, the action server)
            self.autostart()
        def configure(self): ...       # raise ValueError/OSError/RuntimeError with the reason to fail
        def activate(self): ...
        def deactivate(self): ...
        def cleanup(self): ...
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable

from rclpy.client import Client
from rclpy.lifecycle import LifecycleNode, LifecyclePublisher, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.service import Service
from rclpy.subscription import Subscription
from rclpy.timer import Timer

from jepa_ros_common.parameters import Param

AUTOSTART = Param(
    "autostart",
    True,
    "walk to active (configure, activate) at start-up; false: a lifecycle manager or `ros2 lifecycle set` drives the "
    "node (configure loads, activate processes and commands, deactivate holds, cleanup frees)",
)
CONFIGURE_ERRORS = (ValueError, OSError, RuntimeError, KeyError)  # a bad checkpoint or setting, reported by name


class ConfigureError(RuntimeError):
    """autostart's configure failed; the message is the reason (the node stays unconfigured)."""


class ManagedNode(LifecycleNode):
    """A lifecycle node whose transitions call `configure`, `activate`, `deactivate` and `cleanup` (no-ops here), log
    what failed, and keep `last_error` for diagnostics."""

    last_error = ""

    @property
    def state_label(self) -> str:
        """The current lifecycle state: 'unconfigured', 'inactive', 'active', 'finalized' or a transition."""
        return self._state_machine.current_state[1]

    @property
    def is_active(self) -> bool:
        return self.state_label == "active"

    def autostart(self) -> None:
        """Configure and activate when the `autostart` parameter is true; ConfigureError with the reason otherwise."""
        if not self.get_parameter("autostart").value:
            self.get_logger().info("autostart false: unconfigured until a lifecycle manager configures it")
            return
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            raise ConfigureError(self.last_error or "configure failed")
        if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            raise ConfigureError(self.last_error or "activate failed")

    def configure(self) -> None:
        """Load what the node needs; raise one of CONFIGURE_ERRORS naming what is wrong."""

    def activate(self) -> None:
        """Start processing and commanding."""

    def deactivate(self) -> None:
        """Stop commanding (hold first) and processing."""

    def cleanup(self) -> None:
        """Free what configure loaded."""

    def _transition(self, name: str, step, state: LifecycleState, chained) -> TransitionCallbackReturn:
        """Run `step` for transition `name`: FAILURE (logged, in last_error) when it raises a CONFIGURE_ERROR."""
        try:
            step()
        except CONFIGURE_ERRORS as error:
            self.last_error = f"{name} failed: {error}"
            self.get_logger().error(self.last_error)
            return TransitionCallbackReturn.FAILURE
        self.last_error = ""
        return chained(state)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("configure", self.configure, state, super().on_configure)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("activate", self.activate, state, super().on_activate)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("deactivate", self.deactivate, state, super().on_deactivate)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = self._transition("cleanup", self.cleanup, state, super().on_cleanup)
        free_memory()
        return result

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """From any primary state: deactivate when active, then clean up."""
        if state.label == "active":
            self._transition("deactivate", self.deactivate, state, super().on_deactivate)
        if state.label in ("active", "inactive"):
            self._transition("cleanup", self.cleanup, state, super().on_cleanup)
        free_memory()
        return TransitionCallbackReturn.SUCCESS


def free_memory() -> None:
    """Give freed model memory back: Python's cycles, then the CUDA caching allocator's blocks (a process that never
    imported torch, e.g. the Franka adapter, has none and does not load it here)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def destroy_entities(node: Node, entities: Iterable[object]) -> None:
    """Remove subscriptions, publishers, services, clients and timers from `node` (what configure created)."""
    destroyers = (
        (LifecyclePublisher, getattr(node, "destroy_lifecycle_publisher", node.destroy_publisher)),
        (Publisher, node.destroy_publisher),
        (Subscription, node.destroy_subscription),
        (Service, node.destroy_service),
        (Client, node.destroy_client),
        (Timer, node.destroy_timer),
    )
    for entity in entities:
        destroy = next((destroy for kind, destroy in destroyers if isinstance(entity, kind)), None)
        if destroy is None:
            raise TypeError(f"destroy_entities: cannot destroy a {type(entity).__name__}")
        destroy(entity)
