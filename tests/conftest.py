"""Shared pytest fixtures: paths to the parity fixtures, an isolated rclpy context for integration tests, and the
process's stderr (rcutils' console log lines) read while nodes log."""

import os
import sys
from pathlib import Path

import pytest

from tests.dds_domains import context_domains, worker_domain

REPO_ROOT = Path(__file__).resolve().parents[1]
PARITY_DIR = Path(os.environ.get("JEPA_PARITY_DIR", REPO_ROOT.parent / "shared" / "fixtures" / "vjepa2_parity"))

# `make test` runs the suite on pytest-xdist workers (gw0, gw1, ...); a plain pytest run is worker 0 of 1.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
os.environ.setdefault("JEPA_TEST_DOMAIN", os.environ.get("ROS_DOMAIN_ID", str(1 + os.getpid() % 100)))  # the run's
os.environ["ROS_DOMAIN_ID"] = str(worker_domain(int(os.environ["JEPA_TEST_DOMAIN"]), _WORKER))
_CONTEXT_DOMAINS = context_domains(_WORKER, _WORKERS, os.getpid())


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
def ros_context(monkeypatch):
    """A fresh rclpy context on a DDS domain of its own (node processes the test starts inherit it); nodes are
    created with context=ros_context. Shut down and destroyed (its DDS participant deleted) after the test.

    Why a domain per test: on Jazzy a server in the test's own context became undiscoverable (a lifecycle service
    mid-test, an action server for 2 min), once in each of two whole-suite runs and never since. The suspected cause:
    Fast DDS gives a new participant the smallest free participant id, so within one process GUIDs repeat from test
    to test, and a participant still alive on the same domain (a context not yet collected, a node process still
    exiting) can take the new one's endpoints for the old one's."""
    rclpy = pytest.importorskip("rclpy")
    monkeypatch.setenv("ROS_DOMAIN_ID", str(next(_CONTEXT_DOMAINS)))
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    if context.ok():
        rclpy.shutdown(context=context)
    context.destroy()


@pytest.fixture
def default_switch_interval():
    """Python's default 5 ms GIL switch interval for the test (to see what sets another), the previous one after."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield
    sys.setswitchinterval(previous)


class StderrLog:
    """This process's fd 2 (where rcutils writes node logs) appended to a file that is read while nodes keep logging.
    Polling capfd cannot do that: each read truncates the file the logging threads share an offset with, so a line
    written between its read and its truncate is lost. Call start() in the test body
    (pytest re-points fd 2 between a test's phases)."""

    def __init__(self, path: Path) -> None:
        self.path, self._saved = path, None

    def start(self) -> None:
        sink = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        sys.stderr.flush()
        self._saved = os.dup(2)
        os.dup2(sink, 2)
        os.close(sink)

    def lines(self) -> list[str]:
        """The complete lines written since start() (a line being written is left for the next call)."""
        text = self.path.read_text(errors="replace") if self.path.exists() else ""
        return text[: text.rfind("\n") + 1].splitlines()

    def stop(self) -> None:
        """fd 2 back where it was, and what was written to it (into pytest's capture: shown with a failing test)."""
        if self._saved is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._saved = None
        sys.stderr.write(self.path.read_text(errors="replace"))


@pytest.fixture
def stderr_log(tmp_path):
    """A StderrLog, stopped after the test."""
    log = StderrLog(tmp_path / "stderr.log")
    yield log
    log.stop()
