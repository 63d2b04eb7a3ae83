"""Shared pytest fixtures: paths to the parity fixtures and an isolated rclpy context for integration tests."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PARITY_DIR = Path(os.environ.get("JEPA_PARITY_DIR", REPO_ROOT.parent / "shared" / "fixtures" / "vjepa2_parity"))

# Each pytest process gets its own DDS domain so concurrent test runs on one machine never see each other's topics.
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))


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
