"""The converter's worker processes: a worker that dies costs only its bag, and killing the main process leaves no
worker behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jepa_core.data.bag_to_droid import convert_bag, temporary_name
from jepa_core.data.synthetic import SyntheticEpisode, write_synthetic_bag
from training.bag_to_droid import convert_many

REPO = Path(__file__).resolve().parents[2]


def convert_or_die(bag, output_root, config, force=False):
    """Converter for the test: the worker converting a bag named 'poison' is SIGKILLed half-way."""
    if Path(bag).name == "poison":
        (Path(output_root) / temporary_name("poison")).mkdir(parents=True)  # its half-written episode
        os.kill(os.getpid(), signal.SIGKILL)
    return convert_bag(bag, output_root, config, force=force)


def convert_or_interrupt(bag, output_root, config, force=False):
    """Converter for the test: converting a bag named 'stop' presses Ctrl-C in the parent and then hangs."""
    if Path(bag).name == "stop":
        (Path(output_root) / temporary_name("stop")).mkdir(parents=True)
        os.kill(os.getppid(), signal.SIGINT)
        time.sleep(60)
    return convert_bag(bag, output_root, config, force=force)


def test_a_killed_worker_costs_only_its_bag(tmp_path):
    for name in ("a", "poison", "z"):
        write_synthetic_bag(tmp_path / "bags" / name, SyntheticEpisode(seconds=1.5))
    bags = sorted((tmp_path / "bags").iterdir())
    outcomes = convert_many(bags, tmp_path / "out", workers=1, convert=convert_or_die)
    assert [(o.bag.name, o.episode is not None) for o in outcomes] == [("a", True), ("poison", False), ("z", True)]
    assert "poison: worker process killed by SIGKILL" in outcomes[1].error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a", "z"]  # its temporary folder is gone too


@pytest.fixture
def ctrl_c_raises():
    """Python's own SIGINT handler (KeyboardInterrupt) during the test: pytest started in the background by a
    non-interactive shell (`make test &`, some CI runners) inherits SIGINT ignored, and Ctrl-C would never arrive."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_the_workers_and_lists_what_is_left(tmp_path, ctrl_c_raises):
    for name in ("a", "stop", "z"):
        write_synthetic_bag(tmp_path / "bags" / name, SyntheticEpisode(seconds=1.5))
    bags = sorted((tmp_path / "bags").iterdir())
    start = time.monotonic()
    outcomes = convert_many(bags, tmp_path / "out", workers=1, convert=convert_or_interrupt)
    assert time.monotonic() - start < 50  # the hanging worker was killed, not waited for
    assert [(o.bag.name, o.episode is not None) for o in outcomes] == [("a", True), ("stop", False), ("z", False)]
    assert "interrupted (Ctrl-C) while converting" in outcomes[1].error and "not converted" in outcomes[2].error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a"]


def _children(pid: int) -> set[int]:
    """Direct children of a process (Linux /proc)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()  # a zombie is dead (its parent is gone)


def test_killing_the_main_process_leaves_no_worker(tmp_path):
    for name in ("a", "b", "c", "d"):
        write_synthetic_bag(tmp_path / "bags" / name, SyntheticEpisode(seconds=4.0))
    command = [sys.executable, "-m", "training.bag_to_droid", str(tmp_path / "bags"), "-o", str(tmp_path / "out")]
    main = subprocess.Popen([*command, "--workers", "2"], cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and main.poll() is None:
        workers = {pid for pid in _children(main.pid) if b"spawn_main" in _cmdline(pid) and _alive(pid)}
        time.sleep(0.1)
    assert len(workers) >= 2, "the converter did not start its workers"
    time.sleep(1.0)  # mid-conversion
    main.kill()
    main.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers)), f"orphaned workers {[p for p in workers if _alive(p)]}"
