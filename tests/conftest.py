"""Shared pytest fixtures: paths to the parity fixtures and an isolated rclpy context for integration tests."""

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PARITY_DIR = Path(os.environ.get("JEPA_PARITY_DIR", REPO_ROOT.parent / "shared" / "fixtures" / "vjepa2_parity"))

# Each pytest process gets its own DDS domain so concurrent test runs on one machine never see each other's topics.
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))


def console_script(package: str, script: str) -> list[str]:
    """Command line of a ROS package's console script where `ros2 run` finds it (lib/<package>/ of the built
    workspace, through the ament index), run by this interpreter."""
    from ament_index_python.packages import get_package_prefix

    executable = Path(get_package_prefix(package)) / "lib" / package / script
    assert executable.is_file(), f"{executable} missing: run make setup"
    return [sys.executable, str(executable)]


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    """Folder of the official-output fixtures (../shared/fixtures/vjepa2_parity)."""
    if not PARITY_DIR.is_dir():
        pytest.fail(f"parity fixtures not found at {PARITY_DIR}; set JEPA_PARITY_DIR")
    return PARITY_DIR


@pytest.fixture
def ros_context():
    """A fresh rclpy context, shut down after the test; nodes are created with context=ros_context."""
    rclpy = pytest.importorskip("rclpy")
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    if context.ok():
        rclpy.shutdown(context=context)
