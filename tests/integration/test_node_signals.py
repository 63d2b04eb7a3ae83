"""Every node process stops cleanly on SIGINT and SIGTERM, sent once or twice: exit status 0 and no traceback.

Real processes (the console scripts of the colcon install, as `ros2 run` starts them, and the one-process bringup of
the demo nodes), each in its own process group and namespace; the signals go to the whole group, as `timeout`,
supervisors and Ctrl-C in a terminal send them. The second signal follows the first by 50 ms, so it lands while the
node is cleaning up. A signal as soon as the process handles signals (start-up) must also end it within
EXIT_BUDGET_S; the slow stress test signals each node at random moments, JEPA_SIGNAL_ROUNDS times.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "ros2_ws" / "install"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
CASES = ((signal.SIGINT, 1), (signal.SIGINT, 2), (signal.SIGTERM, 1), (signal.SIGTERM, 2))
START_TIMEOUT_S, STOP_TIMEOUT_S, REPEAT_DELAY_S = 60.0, 20.0, 0.05
# node -> (package, console script, parameters (tiny random-weight models), log text once it is constructed)
NODES = {
    "sim_node": ("jepa_sim", "sim_node", {"render_size": "[64, 48]"}, "sim ready"),
    "encoder_node": (
        "jepa_perception", "encoder_node",
        {"preset": "parity_tiny", "allow_random_weights": "true", "image_size": "64"}, "encoder configured",
    ),
    "planner_node": (
        "jepa_planner", "planner_node", {"predictor_preset": "parity_tiny", "allow_random_weights": "true"},
        "planner configured",
    ),
    "franka_adapter": ("jepa_franka", "franka_adapter", {"gripper_enabled": "false"}, "franka_adapter configured"),
    # sim, encoder and planner in one process, as `python -m jepa_bringup.bringup` (the demo's parameter files)
    "bringup": ("", "jepa_bringup.bringup", {"sim_node.render_size": "[64, 64]"}, "composed"),
}  # fmt: skip


def command(node: str, namespace: str) -> list[str]:
    """Command line of `node` in `namespace`: its installed console script with ROS arguments, or the bringup CLI."""
    package, script, parameters, _ = NODES[node]
    if not package:
        settings = [word for name, value in parameters.items() for word in ("--set", f"{name}={value}")]
        return [sys.executable, "-m", script, "--namespace", namespace, *settings]
    executable = INSTALL / package / "lib" / package / script
    assert executable.is_file(), f"{executable} missing: run bash scripts/setup.sh"
    settings = [word for name, value in parameters.items() for word in ("-p", f"{name}:={value}")]
    return [sys.executable, str(executable), "--ros-args", "-r", f"__ns:=/{namespace}", *settings]


def start(node: str, index: int, log_dir: Path) -> tuple[subprocess.Popen, Path]:
    """`node` in a new session (process group) and its own namespace, from the repository root; output to a log."""
    log = log_dir / f"{node}_{index}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command(node, f"signals_{os.getpid()}_{index}"), cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=os.environ | {"PYTHONFAULTHANDLER": "1"},
        )  # fmt: skip
    return process, log


def wait_until_ready(node: str, process: subprocess.Popen, log: Path) -> None:
    """Wait for the node's constructed-and-spinning log line."""
    marker = NODES[node][3]
    deadline = time.monotonic() + START_TIMEOUT_S
    while marker not in log.read_text():
        if process.poll() is not None:
            raise AssertionError(f"{node} exited with {process.returncode} before it was ready:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{node} not ready after {START_TIMEOUT_S} s:\n{log.read_text()}")
        time.sleep(0.05)
    time.sleep(0.3)  # into the spin loop


def wait_for_exit(process: subprocess.Popen, log: Path) -> int:
    """Exit status of `process` within STOP_TIMEOUT_S; if it hangs, its threads' stacks (faulthandler, on SIGABRT)
    go into the failure message."""
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGABRT)
        process.wait()
        stacks = log.read_text()[-6000:]
        raise AssertionError(f"no exit {STOP_TIMEOUT_S} s after the signal; thread stacks:\n{stacks}") from None


@pytest.mark.parametrize(
    "node", [pytest.param(n, marks=pytest.mark.slow) if n == "bringup" else n for n in sorted(NODES)]
)
def test_node_stops_cleanly_on_sigint_and_sigterm(node, tmp_path):
    runs = [start(node, index, tmp_path) for index in range(len(CASES))]
    try:
        for process, log in runs:
            wait_until_ready(node, process, log)
        for (signum, _), (process, _) in zip(CASES, runs, strict=True):
            os.killpg(process.pid, signum)
        time.sleep(REPEAT_DELAY_S)
        for (signum, count), (process, _) in zip(CASES, runs, strict=True):
            if count == 2 and process.poll() is None:
                os.killpg(process.pid, signum)
        codes = [wait_for_exit(process, log) for process, log in runs]
    finally:
        for process, _ in runs:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    problems = []
    for (signum, count), code, (_, log) in zip(CASES, codes, runs, strict=True):
        text = log.read_text()
        if code != 0 or "Traceback" in text:
            problems.append(f"{signal.Signals(signum).name} x{count}: exit {code}\n{text[-1500:]}")
    assert not problems, f"{node}:\n" + "\n".join(problems)


# ---- stop signals during start-up and at random moments ----------------------------------------------------------
STRESS_NODES = ("encoder_node", "franka_adapter", "planner_node", "sim_node")
EXIT_BUDGET_S = 2.0  # from the first signal to the exit
SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def handles_sigterm(pid: int) -> bool:
    """True once the process catches SIGTERM: its main() installed the stop handlers (before that, in the imports,
    SIGTERM's default action ends it and SIGINT is Python's KeyboardInterrupt)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & SIGTERM_BIT)


def wait_for(condition, process: subprocess.Popen, timeout: float) -> bool:
    """Wait until condition() holds (True), or the process exits or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.01)
            return False
    return True


def signal_and_judge(process, log, signum, repeat_after: float | None, moment: str) -> str | None:
    """Signal the group of `process` (again after `repeat_after` s unless None); None if it then exited 0, without a
    traceback, within EXIT_BUDGET_S of the first signal, else the problem."""
    signalled = time.monotonic()
    os.killpg(process.pid, signum)
    if repeat_after is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=repeat_after)
        if process.poll() is None:
            os.killpg(process.pid, signum)
    try:
        code = wait_for_exit(process, log)
    except AssertionError as error:
        return f"{signal.Signals(signum).name} while {moment}: {error}"
    took, text = time.monotonic() - signalled, log.read_text()
    if code != 0 or "Traceback" in text or took > EXIT_BUDGET_S:
        what = f"{signal.Signals(signum).name} x{1 + (repeat_after is not None)} while {moment}"
        return f"{what}: exit {code} after {took:.2f} s\n{text[-1500:]}"
    return None


def killed(runs) -> None:
    """SIGKILL whatever of `runs` still runs (after a failed wait)."""
    for process, _ in runs:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.parametrize(
    "node", [pytest.param(n, marks=pytest.mark.slow) if n == "bringup" else n for n in sorted(NODES)]
)
def test_node_stops_when_signalled_as_soon_as_it_handles_signals(node, tmp_path):
    """The start-up window: before the fix a signal here was recorded but rclpy's handler, not installed yet, never
    shut the context down, and the node span forever once built (4 of 5 franka_adapter starts)."""
    runs = [start(node, index, tmp_path) for index in range(len(STOP_SIGNALS))]
    try:
        problems = []
        for signum, (process, log) in zip(STOP_SIGNALS, runs, strict=True):
            assert wait_for(lambda p=process: handles_sigterm(p.pid), process, START_TIMEOUT_S), log.read_text()
            problems.append(signal_and_judge(process, log, signum, None, "starting"))
    finally:
        killed(runs)
    problems = [p for p in problems if p is not None]
    assert not problems, f"{node}:\n" + "\n".join(problems)


def signal_at_random_moment(node: str, index: int, log_dir: Path, rng: random.Random) -> str | None:
    """Start `node`, signal its group once or twice (SIGINT or SIGTERM) at a random moment of its start-up or of its
    spin; None if it stopped cleanly in time (signal_and_judge), else the problem."""
    run = process, log = start(node, index, log_dir)
    try:
        if not wait_for(lambda: handles_sigterm(process.pid), process, START_TIMEOUT_S):
            return f"never handled SIGTERM (exit {process.poll()}):\n{log.read_text()[-1500:]}"
        if rng.random() < 0.5:  # serving: from the ready log line on
            wait_for(lambda: NODES[node][3] in log.read_text(), process, START_TIMEOUT_S)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=rng.uniform(0.0, 1.0))  # the random moment (an early exit ends the wait)
        moment = "ready" if NODES[node][3] in log.read_text() else "starting"
        signum, repeat_after = rng.choice(STOP_SIGNALS), rng.choice((None, rng.uniform(0.0, 0.2)))
        return signal_and_judge(process, log, signum, repeat_after, moment)
    finally:
        killed([run])


@pytest.mark.slow
@pytest.mark.parametrize("node", STRESS_NODES)
def test_node_stops_at_random_moments(node, tmp_path):
    """JEPA_SIGNAL_ROUNDS starts (default 50), each signalled at a random moment; the seed (JEPA_SIGNAL_SEED to
    rerun one) is in the failure message."""
    rounds, seed = int(os.environ.get("JEPA_SIGNAL_ROUNDS", "50")), int(os.environ.get("JEPA_SIGNAL_SEED", "0"))
    seed = seed or random.randrange(1, 1 << 30)
    rng = random.Random(seed)
    problems = [p for i in range(rounds) if (p := signal_at_random_moment(node, i, tmp_path, rng)) is not None]
    assert not problems, f"{node}, seed {seed}: {len(problems)} of {rounds} rounds failed:\n" + "\n".join(problems)
