"""scripts/setup.sh fails with one actionable line when the machine lacks a Debian package or Python 3.11."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = ["bash", "cat", "cut", "dirname", "find", "flock", "grep", "rm", "sha256sum", "sort", "tail", "xargs"]


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)


def _run_setup(tmp_path: Path, stubs: dict[str, str]) -> subprocess.CompletedProcess:
    """Runs a copy of setup.sh in an empty project with a PATH holding only basic tools and the given stubs."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scripts" / "setup.sh", project / "scripts" / "setup.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} not available")
        (bin_dir / tool).symlink_to(found)
    for name, body in stubs.items():
        _stub(bin_dir, name, body)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    return subprocess.run(
        ["bash", str(project / "scripts" / "setup.sh")], env=env, capture_output=True, text=True, timeout=60
    )


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
