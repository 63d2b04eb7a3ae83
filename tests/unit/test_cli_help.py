"""Every command a user runs answers --help with usage text and exit status 0, without starting any work."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import console_script

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINING = sorted(path for path in (REPO_ROOT / "training").glob("*.py") if "__main__" in path.read_text())
COMMANDS = [*(f"training.{path.stem}" for path in TRAINING), "jepa_bringup.demo", "jepa_bringup.bringup"]
CONSOLE_SCRIPTS = [("jepa_data", "recorder"), ("jepa_data", "player")]  # nodes whose command line has options

# One interpreter runs every module's __main__ with --help, so the heavy imports are paid once.
PROBE = textwrap.dedent(
    """
    import contextlib, io, runpy, sys
    for module in sys.argv[1:]:
        sys.argv = [module, "--help"]
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = "returned"
        except SystemExit as exit:
            code = exit.code
        print(module, code, "usage:" in out.getvalue(), flush=True)
    """
)


def test_every_command_has_help():
    assert {"training.posttrain", "training.check_bag"} <= set(COMMANDS)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *COMMANDS], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answers = dict((line.split(" ", 1)[0], line.split(" ", 1)[1]) for line in result.stdout.splitlines())
    for module in COMMANDS:
        assert answers.get(module) in ("0 True", "None True"), f"{module} --help: {answers.get(module)}"


@pytest.mark.parametrize(("package", "script"), CONSOLE_SCRIPTS)
def test_node_console_scripts_have_help(package, script):
    result = subprocess.run([*console_script(package, script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"usage: ros2 run {package} {script}" in result.stdout
