"""The demo's outputs from known episode records: GIF frames and sizes, the plot, the summary numbers and table."""

import json

import numpy as np
import pytest
from PIL import Image

from jepa_bringup.demo_report import EpisodeRecord, summarize, write_gif, write_plot, write_summary


def record(index: int, success: bool, distances: list[float], energies: list[float]) -> EpisodeRecord:
    first = next((i for i, d in enumerate(distances) if d < 0.04), None)
    return EpisodeRecord(
        index=index, task="reach", seed=10 + index, tolerance_m=0.04, energies=energies,
        best_energies=list(np.minimum.accumulate(energies)), planning_times_s=[0.5] * len(energies),
        distances_m=distances, success=success, first_success_step=first, steps=len(energies), outcome="CANCELED",
        reason="goal canceled by the client", wall_time_s=3.0,
    )  # fmt: skip


def frames(count: int, size: int = 64) -> list[np.ndarray]:
    return [np.full((size, size, 3), 20 * i, dtype=np.uint8) for i in range(count)]


def test_summary_counts_successes_and_averages():
    records = [record(0, True, [0.2, 0.1, 0.03], [1.0, 0.5]), record(1, False, [0.3, 0.25, 0.2, 0.15], [1, 1, 1])]
    summary = summarize("reach", records, wall_time_s=12.0)
    assert (summary.episodes, summary.successes, summary.success_rate) == (2, 1, 0.5)
    assert summary.mean_steps == pytest.approx(2.5)
    assert summary.mean_final_distance_m == pytest.approx((0.03 + 0.15) / 2)
    assert summary.mean_planning_time_s == pytest.approx(0.5)
    assert summary.line().startswith("demo summary: reach 1/2 episodes succeeded (50%), mean 2.5 steps")


def test_gif_has_one_frame_per_observation_beside_the_goal(tmp_path):
    episode = record(0, True, [0.2, 0.1, 0.03], [1.0, 0.5])
    write_gif(tmp_path / "a.gif", frames(3), np.zeros((128, 128, 3), np.uint8), episode)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 3
        assert gif.height >= 192 and gif.width == 2 * (gif.height - 18)  # small frames enlarged; goal resized beside
    with pytest.raises(ValueError, match="no camera frames"):
        write_gif(tmp_path / "b.gif", [], np.zeros((64, 64, 3), np.uint8), episode)


def test_plot_and_summary_files(tmp_path):
    records = [record(0, True, [0.2, 0.1, 0.03], [1.0, 0.5]), record(1, False, [0.3, 0.2], [0.9])]
    images = frames(2)
    for episode in records:
        write_plot(tmp_path / f"{episode.name}.png", episode, images[0], images[-1], images[0])
        with Image.open(tmp_path / f"{episode.name}.png") as plot:
            assert plot.format == "PNG" and plot.size == (720, 480)
    summary = summarize("reach", records, wall_time_s=5.0)
    write_summary(tmp_path, records, summary, ["task reach, 2 episode(s)"])
    table = (tmp_path / "summary.md").read_text()
    assert "| 0 | reach | 10 | yes | 2 | 2 | 3.0 | 1.0000 | 0.5000 | CANCELED |" in table
    assert "| 1 | reach | 11 | no | - | 1 | 20.0 |" in table
    assert summary.line() in table
    document = json.loads((tmp_path / "summary.json").read_text())
    assert document["summary"]["success_rate"] == 0.5
    assert [e["name"] for e in document["episodes"]] == ["episode_00_reach_seed10", "episode_01_reach_seed11"]
