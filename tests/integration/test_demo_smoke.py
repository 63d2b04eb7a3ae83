"""`python -m jepa_bringup.demo` end to end with tiny random-weight models: two short episodes, every output.

Runs the demo as `make demo` does (a subprocess from the repository root, the real composition of sim, encoder and
planner nodes) but with parity_tiny presets, 64 px images and a 16x2 CEM, so it takes seconds.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("rclpy")

from jepa_bringup import demo
from jepa_bringup.demo_report import CAPTION_HEIGHT
from jepa_sim.env import FrankaSimEnv, SimConfig

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--encoder", "parity_tiny", "--predictor", "parity_tiny", "--samples", "16", "--iterations", "2",
    "--set", "sim_node.render_size=[64, 64]",
]  # fmt: skip


def run_demo(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
    """The demo CLI in a subprocess from the repository root; stdout and stderr captured."""
    command = [sys.executable, "-m", "jepa_bringup.demo", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


SEEDS = (7, 8)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Path, str]:
    """One demo run of two episodes (3 steps at most) shared by the tests below: (output folder, stdout)."""
    output = tmp_path_factory.mktemp("demo")
    done = run_demo(*TINY, "--episodes", "2", "--max-steps", "3", "--seed", str(SEEDS[0]), "--output", str(output))
    assert done.returncode == 0, done.stderr[-3000:]
    return output, done.stdout


def test_demo_prints_each_episode_and_the_summary(demo_run):
    output, stdout = demo_run
    assert "RANDOM weights" in stdout and "WARNING: RANDOM-WEIGHT MODELS" in stdout  # announced, never silent
    for index, seed in enumerate(SEEDS):
        verdict = r"(SUCCESS \(within 4 cm at step \d+\)|failure)"
        line = rf"episode {index + 1}/2 reach seed {seed}: {verdict} after \d+ steps, final distance \d+\.\d cm"
        assert re.search(line, stdout), stdout
    summary_line = re.search(r"demo summary: reach (\d)/2 episodes succeeded \((\d+)%\)", stdout)
    assert summary_line, stdout
    document = json.loads((output / "summary.json").read_text())
    assert document["summary"]["episodes"] == 2
    assert document["summary"]["successes"] == int(summary_line.group(1))


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_demo_writes_the_episode_outputs(demo_run, index):
    output, _ = demo_run
    episode = json.loads((output / "summary.json").read_text())["episodes"][index]
    assert episode["seed"] == SEEDS[index] and episode["task"] == "reach"
    assert 1 <= episode["steps"] <= 3
    assert len(episode["energies"]) == episode["steps"]  # one feedback per executed step
    assert all(energy > 0 for energy in episode["energies"])
    assert len(episode["distances_m"]) >= episode["steps"] + 1  # the start and every step were observed
    assert episode["tolerance_m"] == pytest.approx(0.04)  # reach: within 4 cm
    reached = [i for i, distance in enumerate(episode["distances_m"]) if distance < episode["tolerance_m"]]
    assert episode["success"] == bool(reached)  # the simulator's verdict, seen in task_status
    assert episode["first_success_step"] == (reached[0] if reached else None)

    name = episode["name"]
    with Image.open(output / f"{name}.gif") as gif:
        assert gif.n_frames >= episode["steps"] + 1  # start frame plus a frame per step
        assert gif.width > gif.height  # camera and goal side by side
    with Image.open(output / f"{name}.png") as plot:
        assert plot.format == "PNG" and plot.width >= 400
    table = (output / "summary.md").read_text()
    reached_at = "-" if episode["first_success_step"] is None else episode["first_success_step"]
    row = f"| {index} | reach | {SEEDS[index]} | {'yes' if episode['success'] else 'no'} | {reached_at} | "
    assert row + f"{episode['steps']} |" in table
    assert f"({name}.gif)" in table and "demo summary:" in table


def gif_start_camera(path: Path, scale: int) -> np.ndarray:
    """The camera half of a demo GIF's first frame at the sim's resolution (the demo enlarges small frames)."""
    with Image.open(path) as gif:
        frame = np.asarray(gif.convert("RGB"))
    side = (frame.shape[0] - CAPTION_HEIGHT) // scale
    return frame[CAPTION_HEIGHT:, : side * scale][::scale, ::scale].astype(np.int16)


def test_each_episode_starts_from_its_own_reset_scene(demo_run):
    """The first GIF frame is the reset scene of that episode's seed, never the previous episode's last frame."""
    output, _ = demo_run
    env = FrankaSimEnv(SimConfig(render_size=(64, 64)))
    try:
        expected = [env.reset("reach", seed).image.astype(np.int16) for seed in SEEDS]
    finally:
        env.close()
    for index, seed in enumerate(SEEDS):
        start = gif_start_camera(output / f"episode_{index:02d}_reach_seed{seed}.gif", scale=3)
        own, other = np.abs(start - expected[index]).mean(), np.abs(start - expected[1 - index]).mean()
        assert own < 0.3 * other, f"seed {seed}: start frame off its reset scene by {own:.1f} (other: {other:.1f})"


def test_demo_names_a_missing_model_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # in this process: the check comes before any node starts
    assert (
        demo.main(["--encoder", "models/does_not_exist.pt", "--predictor", "parity_tiny", "--output", str(tmp_path)])
        == 1
    )
    error = capsys.readouterr().err
    assert "--encoder models/does_not_exist.pt: no such checkpoint file" in error
    assert "models/README.md" in error  # tells where the bundled models come from


def test_demo_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        demo.parse_args(["--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    for option in ("--task", "--episodes", "--seed", "--max-steps", "--output", "--encoder", "--predictor",
                   "--samples", "--iterations"):  # fmt: skip
        assert option in printed


def two_view_checkpoint(path: Path) -> Path:
    """A tiny random-weight model of exterior + wrist frames (each view encoded alone), 32 px per view."""
    import torch

    from jepa_core.checkpoints import save_checkpoint
    from jepa_core.presets import build_ac_predictor, build_encoder

    torch.manual_seed(0)
    encoder = build_encoder("vit_tiny_128", img_size=(32, 64), num_frames=2, depth=1, separate_views=2)
    predictor = build_ac_predictor("vit_tiny_128", img_size=(32, 64), depth=1)
    views = ["exterior", "wrist"]
    return save_checkpoint(path, encoder=encoder, target_encoder=encoder, predictor=predictor, camera_views=views)


def test_a_two_camera_model_gets_both_cameras_and_its_gifs_show_them(tmp_path):
    """Issue 26: the demo renders, pairs and records the cameras the checkpoint names; the GIFs show every view."""
    model = two_view_checkpoint(tmp_path / "two_views.pt")
    output = tmp_path / "out"
    args = ["--encoder", str(model), "--samples", "16", "--iterations", "2", "--set", "sim_node.render_size=[64, 64]"]
    done = run_demo(*args, "--episodes", "1", "--max-steps", "2", "--seed", "3", "--output", str(output))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cameras exterior, wrist" in done.stdout
    env = FrankaSimEnv(SimConfig(render_size=(64, 64), views=("exterior", "wrist")))
    try:
        expected = env.reset("reach", 3).image.astype(np.int16)  # [64, 128, 3]: exterior | wrist
    finally:
        env.close()
    with Image.open(output / "episode_00_reach_seed3.gif") as gif:
        frame = np.asarray(gif.convert("RGB"))
    scale = (frame.shape[0] - CAPTION_HEIGHT) // 64
    start = frame[CAPTION_HEIGHT:, : 128 * scale][::scale, ::scale].astype(np.int16)  # the camera part, both views
    assert start.shape == expected.shape
    assert np.abs(start - expected).mean() < 3.0, "the GIF's camera frame is not the tiled exterior | wrist scene"
