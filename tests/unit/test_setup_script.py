"""scripts/setup.sh fails with one actionable line when the machine lacks a Debian package or Python 3.11, and gives
each ROS 2 distribution (ROS_DISTRO) its own pins, venv and colcon folders, which env.sh then enters."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = [
    "bash",
    "cat",
    "cp",
    "cut",
    "dirname",
    "find",
    "flock",
    "grep",
    "mkdir",
    "rm",
    "sha256sum",
    "sort",
    "tail",
    "xargs",
]
# A python3.11 whose `-m venv DIR` makes a venv of stubs and whose other `-m` calls (pip) are only recorded.
FAKE_PYTHON = """case "$1" in
  -c) echo 3.11 ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"
        echo "export VIRTUAL_ENV=$3" > "$3/bin/activate"
      else echo "python $*" >> "$CALLS"; fi ;;
esac"""
# A colcon that records its arguments and leaves the setup.bash of its --install-base.
FAKE_COLCON = """echo "colcon $*" >> "$CALLS"
while [ $# -gt 0 ]; do
  if [ "$1" = --install-base ]; then mkdir -p "$2"; echo "export FAKE_WS=$2" > "$2/setup.bash"; fi; shift
done"""
HEALTHY = {
    "id": "echo 1000",
    "dpkg-query": 'echo "install ok installed"',
    "python3": FAKE_PYTHON,
    "colcon": FAKE_COLCON,
}


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)


def _run(tmp_path: Path, stubs: dict[str, str], script: str, *args: str, distro: str | None = None):
    """Runs a copy of scripts/<script> in a project of scripts/ and requirements/ only (made on first use), with a PATH
    holding only basic tools and the given stubs; commands the stubs receive are appended to tmp_path/calls."""
    project = tmp_path / "project"
    if not project.exists():
        shutil.copytree(REPO_ROOT / "scripts", project / "scripts")
        shutil.copytree(REPO_ROOT / "requirements", project / "requirements")
        (project / "ros2_ws" / "src").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    shutil.rmtree(bin_dir, ignore_errors=True)
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} not available")
        (bin_dir / tool).symlink_to(found)
    for name, body in stubs.items():
        _stub(bin_dir, name, body)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "CALLS": str(tmp_path / "calls")}
    if distro is not None:
        env["ROS_DISTRO"] = distro
    return subprocess.run(
        ["bash", str(project / "scripts" / script), *args], env=env, capture_output=True, text=True, timeout=60
    )


def _run_setup(tmp_path: Path, stubs: dict[str, str], distro: str | None = None) -> subprocess.CompletedProcess:
    return _run(tmp_path, stubs, "setup.sh", distro=distro)


def _calls(tmp_path: Path) -> list[str]:
    calls = tmp_path / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def _option_values(call: str, option: str) -> list[str]:
    return re.findall(rf"(?:^| ){re.escape(option)} (\S+)", call)


def test_missing_debian_package_as_user_prints_apt_command(tmp_path):
    result = _run_setup(
        tmp_path,
        {
            "id": "echo 1000",
            "dpkg-query": 'if [ "${@: -1}" = libegl1 ]; then exit 1; fi; echo "install ok installed"',
        },
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "setup: error: missing Debian packages; run: sudo apt-get install -y libegl1   (then re-run make setup)"
    ]


def test_unsupported_python_names_the_fix(tmp_path):
    result = _run_setup(
        tmp_path,
        {
            "id": "echo 1000",
            "dpkg-query": 'echo "install ok installed"',
            "python3": 'if [ "$1" = --version ]; then echo "Python 3.9.2"; else echo 3.9; fi',
        },
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("setup: error: Python 3.11 is required (found: Python 3.9.2)")
    assert "pyenv install 3.11" in lines[0]


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("dpkg-query") is None, reason="needs dpkg")
def test_second_run_is_fast():
    """With nothing changed, setup only compares hashes."""
    result = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "setup.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "installing" not in result.stdout and "building" not in result.stdout


@pytest.mark.parametrize(
    ("distro", "requirements", "venv", "suffix"),
    [(None, "kilted", ".venv", ""), ("kilted", "kilted", ".venv", ""), ("jazzy", "jazzy", ".venv-jazzy", "-jazzy")],
)
def test_each_distribution_installs_its_own_pins_into_its_own_folders(tmp_path, distro, requirements, venv, suffix):
    result = _run_setup(tmp_path, HEALTHY, distro)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "project"
    pip_torch, pip_ros, colcon = _calls(tmp_path)
    req = project / "requirements"
    assert pip_torch.startswith("python -m pip install ") and _option_values(pip_torch, "-r") == [f"{req}/torch.txt"]
    assert _option_values(pip_ros, "-r") == [f"{req}/{requirements}/ros.txt", f"{req}/python.txt"]
    assert _option_values(pip_torch, "-c") == _option_values(pip_ros, "-c") == [f"{req}/{requirements}/constraints.txt"]
    assert sorted(p.name for p in project.glob(".venv*")) == [venv]
    ws = project / "ros2_ws"
    assert _option_values(colcon, "--log-base") == [f"{ws}/log{suffix}"]
    assert _option_values(colcon, "--build-base") == [f"{ws}/build{suffix}"]
    assert _option_values(colcon, "--install-base") == [f"{ws}/install{suffix}"]


def test_distributions_coexist_in_one_checkout(tmp_path):
    """Setting up Jazzy leaves the Kilted environment as it was, and each stays set up afterwards."""
    for distro in ("kilted", "jazzy"):
        assert _run_setup(tmp_path, HEALTHY, distro).returncode == 0
    calls = _calls(tmp_path)
    for distro in ("kilted", "jazzy"):
        result = _run_setup(tmp_path, HEALTHY, distro)
        assert result.returncode == 0, result.stderr
        assert "installing" not in result.stdout and "building" not in result.stdout
    assert _calls(tmp_path) == calls
    for distro, venv, install in [(None, ".venv", "install"), ("jazzy", ".venv-jazzy", "install-jazzy")]:
        result = _run(tmp_path, {}, "run.sh", "bash", "-c", 'echo "$ROS_DISTRO $VIRTUAL_ENV $FAKE_WS"', distro=distro)
        assert result.returncode == 0, result.stderr
        project = tmp_path / "project"
        want = f"{distro or 'kilted'} {project / venv} {project / 'ros2_ws' / install}"
        assert result.stdout.strip() == want


def test_unknown_distribution_names_the_supported_ones(tmp_path):
    result = _run_setup(tmp_path, HEALTHY, "humble")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: ROS_DISTRO=humble has no pinned wheel set; use one of: jazzy kilted (unset means kilted)"
    ]
    assert not _calls(tmp_path)


def test_run_without_setup_names_the_setup_command(tmp_path):
    result = _run(tmp_path, {}, "run.sh", "true", distro="jazzy")
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "error: ROS 2 jazzy is not set up in this checkout; run: ROS_DISTRO=jazzy make setup"
    )


def _pins(path: Path) -> dict[str, str]:
    lines = [line.split("==") for line in path.read_text().splitlines() if "==" in line]
    return {name.lower().replace("_", "-"): version for name, version in lines}


# What one distribution's ros.txt lists and the other's does not, and why.
ONLY_IN = {
    "kilted": {"ros-ament-cmake-ros-core"},  # split out of ament_cmake_ros after Jazzy
    "jazzy": {  # Jazzy's ament_cmake_ros needs the test helpers, its rosidl_generator_py needs python_cmake_module
        "ros-ament-cmake-gmock",
        "ros-ament-cmake-gtest",
        "ros-ament-cmake-pytest",
        "ros-python-cmake-module",
    },
}


def test_both_distributions_list_the_same_packages_pinned_as_tested():
    """A package added for one distribution is added for the other, and each ros.txt pin is in its constraints."""
    pins = {distro: _pins(REPO_ROOT / "requirements" / distro / "ros.txt") for distro in ONLY_IN}
    assert set(pins["kilted"]) - set(pins["jazzy"]) == ONLY_IN["kilted"]
    assert set(pins["jazzy"]) - set(pins["kilted"]) == ONLY_IN["jazzy"]
    for distro, wanted in pins.items():
        tested = _pins(REPO_ROOT / "requirements" / distro / "constraints.txt")
        assert {name: tested.get(name) for name in wanted} == wanted, distro
