"""The player console script runs through jepa_ros_common.process: a stop signal during its start-up ends it (exit 0,
no traceback, within the cleanup bound). Under its own rclpy lifecycle a signal before rclpy.init was recorded but
never seen, and a --loop run played on forever."""

import signal
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from rosbags.rosbag2 import StoragePlugin

from tests.conftest import REPO_ROOT, console_script
from tests.integration.test_replay import write_bag

pytestmark = pytest.mark.ros
SIGTERM_BIT = 1 << (signal.SIGTERM - 1)
EXIT_BUDGET_S = 2.0


def handles_sigterm(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    return bool(
        int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16) & SIGTERM_BIT
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_ends_the_player(tmp_path, signum):
    write_bag(tmp_path / "bag", StoragePlugin.MCAP)
    command = [*console_script("jepa_data", "player"), str(tmp_path / "bag"), "--loop", "--no-progress"]
    player = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60.0
        while not handles_sigterm(player.pid):
            assert player.poll() is None and time.monotonic() < deadline, "the player never handled SIGTERM"
        signalled = time.monotonic()
        player.send_signal(signum)
        _, err = player.communicate(timeout=10)
        took = time.monotonic() - signalled
    finally:
        player.kill()
        player.wait()
    assert player.returncode == 0 and "Traceback" not in err and took < EXIT_BUDGET_S, (player.returncode, took, err)
