"""One-process bringup: build several ROS nodes from their classes and spin them on one MultiThreadedExecutor.

The pip-only twin of launch/demo.launch.py (no `launch` package or `ros2` CLI needed): the same parameter files
(launch/config/*.yaml, sections keyed by node name), per-node parameter overrides, remappings and a namespace, applied
through rcl's own argument parser on a private context. Node classes are imported lazily, so a composition only loads
what it runs. Run the simulated closed loop's nodes with `python -m jepa_bringup.bringup` from the repository root.
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rclpy
import yaml
from rclpy.executors import MultiThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from jepa_bringup.launch_support import load_node_parameters
from jepa_core.stop_signals import StopSignals, exit_after_stop
from jepa_ros_common.process import favour_latency, serve


@dataclass(frozen=True)
class NodeSpec:
    """One node of a composition: its class, ROS name, and what to apply on top of the parameter files."""

    factory: str  # "package.module:ClassName", an rclpy Node subclass whose __init__ accepts context=...
    name: str  # ROS node name the class gives itself; the key of its section in the parameter files
    parameters: Mapping[str, Any] = field(default_factory=dict)  # overrides, applied after the files
    remappings: Mapping[str, str] = field(default_factory=dict)  # topic/service name -> new name, this node only


# The simulated closed loop, as in launch/demo.launch.py (tests/integration/test_bringup_launch.py keeps them equal).
DEMO_NODES = (
    NodeSpec("jepa_sim.sim_node:SimNode", "sim_node"),
    NodeSpec("jepa_perception.encoder_node:EncoderNode", "encoder_node"),
    NodeSpec("jepa_planner.planner_node:PlannerNode", "planner_node"),
)
DEMO_PARAMS_FILES = (
    "launch/config/sim.yaml",
    "launch/config/perception.yaml",
    "launch/config/planner.yaml",
    "launch/config/demo.yaml",
)


def load_factory(factory: str) -> type[Node]:
    """Import "module:Class" and check that it is an rclpy Node subclass."""
    module_name, _, class_name = factory.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"node factory '{factory}': expected 'package.module:ClassName'")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise ValueError(f"node factory '{factory}': expected an rclpy Node subclass, got {cls!r}")
    return cls


def ros_arguments(specs: Sequence[NodeSpec], params_file: Path | None, namespace: str) -> list[str]:
    """rcl arguments: the merged parameter file, the per-node remappings and the namespace of all nodes."""
    args = ["--ros-args"]
    if params_file is not None:
        args += ["--params-file", str(params_file)]
    for spec in specs:
        for source, target in spec.remappings.items():
            args += ["--remap", f"{spec.name}:{source}:={target}"]
    if namespace:
        args += ["--remap", f"__ns:=/{namespace.strip('/')}"]
    return args


def parameters_document(specs: Sequence[NodeSpec], params_files: Sequence[Path], namespace: str) -> dict[str, Any]:
    """A ROS 2 parameter file document with each node's merged parameters, keyed by its fully qualified name."""
    prefix = f"/{namespace.strip('/')}" if namespace.strip("/") else ""
    document = {}
    for spec in specs:
        parameters = load_node_parameters(params_files, spec.name) | dict(spec.parameters)
        if parameters:
            document[f"{prefix}/{spec.name}"] = {"ros__parameters": parameters}
    return document


class Composition:
    """Nodes built on a private rclpy context and spun together on one MultiThreadedExecutor; the process favours
    latency as a node process does (jepa_ros_common.process.favour_latency)."""

    def __init__(
        self,
        specs: Sequence[NodeSpec],
        params_files: Sequence[str | os.PathLike] = (),
        namespace: str = "",
        num_threads: int | None = None,
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"composition: node names must be unique, got {names}")
        document = parameters_document(specs, [Path(path) for path in params_files], namespace)
        factories = [load_factory(spec.factory) for spec in specs]  # fail before anything starts
        favour_latency()
        self.context = rclpy.Context()
        with tempfile.TemporaryDirectory(prefix="jepa_bringup_") as tmp:
            params_file = Path(tmp) / "parameters.yaml" if document else None
            if params_file is not None:
                params_file.write_text(yaml.safe_dump(document))
            # rcl parses the parameter file during init; the temporary file is not needed afterwards.
            rclpy.init(
                args=ros_arguments(specs, params_file, namespace),
                context=self.context,
                signal_handler_options=SignalHandlerOptions.NO,  # stop signals: jepa_ros_common.process
            )
        self.nodes: dict[str, Node] = {}
        try:
            for spec, factory in zip(specs, factories, strict=True):
                node = factory(context=self.context)
                self.nodes[spec.name] = node
                if node.get_name() != spec.name:
                    raise ValueError(
                        f"composition: {spec.factory} named itself '{node.get_name()}', expected '{spec.name}' "
                        "(the parameter file sections and remappings are keyed by that name)"
                    )
            self.executor = MultiThreadedExecutor(num_threads=num_threads, context=self.context)
            for node in self.nodes.values():
                self.executor.add_node(node)
        except BaseException:
            self.close()
            raise

    def add_node(self, node: Node) -> None:
        """Spin an extra node (e.g. a goal client created with context=composition.context) with the others."""
        self.executor.add_node(node)

    def spin_until(self, done: Callable[[], bool], timeout: float | None = None, poll: float = 0.05) -> bool:
        """Spin until done() is true (returns True) or the timeout in seconds passes (returns False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.context.ok():
            if done():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self.executor.spin_once(timeout_sec=poll)
        return done()

    def close(self) -> None:
        """Destroy the nodes and shut the context down (safe to call twice)."""
        if hasattr(self, "executor"):
            self.executor.shutdown()
        for node in self.nodes.values():
            node.destroy_node()
        self.nodes = {}
        if self.context.ok():
            rclpy.shutdown(context=self.context)

    def __enter__(self) -> Composition:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def spin_nodes(
    specs: Sequence[NodeSpec],
    params_files: Sequence[str | os.PathLike] = (),
    namespace: str = "",
    num_threads: int | None = None,
) -> None:
    """Build the nodes of `specs` in this process and spin them together until SIGINT/SIGTERM (once or twice: the
    nodes are destroyed and the process exits 0)."""
    with StopSignals() as stop:
        with stop.interrupting():  # nothing to stop yet: a signal abandons the start-up
            composition = Composition(specs, params_files, namespace, num_threads)
        with composition:
            get_logger("bringup").info(f"composed {', '.join(composition.nodes)}; Ctrl-C to stop")
            serve(composition.executor, list(composition.nodes.values()), stop)
    if stop.requested:
        exit_after_stop()


def parse_overrides(assignments: Sequence[str], specs: Sequence[NodeSpec]) -> list[NodeSpec]:
    """Apply `node.param=value` assignments (value parsed as YAML) to the specs."""
    by_name = {spec.name: dict(spec.parameters) for spec in specs}
    for assignment in assignments:
        key, sep, raw_value = assignment.partition("=")
        node_name, dot, parameter = key.partition(".")
        if not sep or not dot or node_name not in by_name or not parameter:
            raise ValueError(f"--set '{assignment}': expected NODE.PARAMETER=VALUE with NODE in {sorted(by_name)}")
        by_name[node_name][parameter] = yaml.safe_load(raw_value)
    return [NodeSpec(s.factory, s.name, by_name[s.name], s.remappings) for s in specs]


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: compose the demo nodes (sim, encoder, planner) in this process and spin until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--params-file",
        action="append",
        dest="params_files",
        help=f"parameter file, repeatable (default: {' '.join(DEMO_PARAMS_FILES)}, relative to the repository root)",
    )
    parser.add_argument("--set", action="append", default=[], help="override, e.g. --set planner_node.device=cpu")
    parser.add_argument("--namespace", default="", help="namespace of every node and topic")
    parser.add_argument("--threads", type=int, default=None, help="executor threads (default: rclpy's choice)")
    args = parser.parse_args(argv)
    try:
        specs = parse_overrides(args.set, DEMO_NODES)
    except ValueError as error:
        parser.error(str(error))
    spin_nodes(specs, args.params_files or DEMO_PARAMS_FILES, args.namespace, args.threads)


if __name__ == "__main__":
    main()
