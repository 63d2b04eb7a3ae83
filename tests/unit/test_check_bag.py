"""training.check_bag on the simulator's recordings: the bundled model passes, random weights of the same preset fail;
a bag is read through the bag -> DROID conversion and checks exactly like its converted episode."""

import csv

import pytest
import torch

from jepa_core.checkpoints import AC_PREFIX, read_checkpoint, save_checkpoint
from jepa_core.data.bag_to_droid import convert_bag
from jepa_core.data.synthetic import SyntheticEpisode, write_synthetic_bag
from jepa_core.models.ac_predictor import VisionTransformerPredictorAC
from jepa_core.models.encoder import VisionTransformer
from jepa_sim.env import FrankaSimEnv, SimConfig
from tests.conftest import REPO_ROOT
from training.check_bag import find_recordings, main, unique_names
from training.sim_episodes import ExplorationConfig, record_episode, write_episode

BUNDLED = REPO_ROOT / "models" / "sim_manip.pt"  # has a pose_probe: the planner plans with its goal prior
FAST = ["--samples", "40", "--iterations", "3", "--top-k", "5"]


@pytest.fixture(scope="module")
def sim_episodes(tmp_path_factory):
    """Three 8-step exploration episodes (256 px) in the DROID format of sim_episodes."""
    root = tmp_path_factory.mktemp("sim_droid")
    config = ExplorationConfig(steps=8, policy="waypoints")  # the bundled model's training data
    sim = SimConfig(render_size=(config.render_size,) * 2, control_period=config.control_period)
    env = FrankaSimEnv(sim)
    try:
        for seed in (200, 201, 202):
            write_episode(root / f"waypoints_{seed}", record_episode(env, config, seed), config, seed)
    finally:
        env.close()
    return root


def write_random_checkpoint(path):
    """Random weights with the bundled model's architecture (encoder and predictor), saved at `path`."""
    config = read_checkpoint(BUNDLED)["jepa_config"]
    torch.manual_seed(1)
    encoder = VisionTransformer(**config["encoder"])
    predictor = VisionTransformerPredictorAC(**config["predictor"])
    return save_checkpoint(path, encoder=encoder, target_encoder=encoder, predictor=predictor, prefix=AC_PREFIX)


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory):
    return write_random_checkpoint(tmp_path_factory.mktemp("random") / "random.pt")


def _rows(path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _verdict(capsys) -> str:
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("VERDICT"))


def test_bundled_model_passes_and_random_weights_fail(sim_episodes, random_checkpoint, tmp_path, capsys):
    trained_out, random_out = tmp_path / "trained", tmp_path / "random"
    assert main(["--checkpoint", str(BUNDLED), str(sim_episodes), "--out", str(trained_out), *FAST]) == 0
    trained = _verdict(capsys)
    assert main(["--checkpoint", str(random_checkpoint), str(sim_episodes), "--out", str(random_out), *FAST]) == 1
    random = _verdict(capsys)
    assert trained.startswith("VERDICT PASS"), trained
    assert random.startswith("VERDICT FAIL") and "surprise/no-change" in random and "action gain" in random, random
    for out in (trained_out, random_out):
        names = sorted(p.name for p in out.iterdir())
        assert names == sorted(
            ["summary.md", *(f"waypoints_{s}{suffix}" for s in (200, 201, 202) for suffix in (".png", "_steps.csv"))]
        )
        summary = (out / "summary.md").read_text()
        assert "| all | 24 |" in summary and summary.rstrip().splitlines()[-1].startswith("VERDICT")
    rows = _rows(trained_out / "waypoints_200_steps.csv")
    assert [int(r["step"]) for r in rows] == list(range(8)) and [int(r["row"]) for r in rows] == list(range(8))
    assert all(float(r["surprise_recorded"]) < float(r["surprise_shuffled"]) + 0.05 for r in rows)


def test_plans_with_the_checkpoints_goal_prior_unless_its_weight_is_0(sim_episodes, tmp_path, capsys):
    """Issue 22: check_bag plans with the planner's energy, sim_manip.pt's goal-position prior included (it was left
    out); --pose-prior-weight 0 is the image energy alone."""
    common = ["--checkpoint", str(BUNDLED), str(sim_episodes / "waypoints_200"), *FAST, "--plan-every", "4"]
    energies, logs = {}, {}
    for name, extra in (("prior", []), ("image", ["--pose-prior-weight", "0"])):
        main([*common, "--out", str(tmp_path / name), *extra])
        energies[name] = [float(r["plan_energy"]) for r in _rows(tmp_path / name / "waypoints_200_steps.csv")]
        logs[name] = capsys.readouterr().out
    assert "goal-position prior on (weight" in logs["prior"]
    assert "goal-position prior off (weight 0)" in logs["image"]
    assert energies["prior"][0] != energies["image"][0]  # step 0 is planned, far from the final pose


def test_a_bag_checks_like_its_converted_episode(tmp_path):
    bag = tmp_path / "episode_bag"
    write_synthetic_bag(bag, SyntheticEpisode(seconds=2.5), storage="mcap")
    episode = convert_bag(bag, tmp_path / "droid")
    common = ["--checkpoint", str(BUNDLED), *FAST, "--plan-every", "3"]
    main([*common, str(bag), "--out", str(tmp_path / "from_bag")])
    main([*common, str(episode), "--out", str(tmp_path / "from_episode")])
    from_bag = _rows(tmp_path / "from_bag" / "episode_bag_steps.csv")
    from_episode = _rows(tmp_path / "from_episode" / "episode_bag_steps.csv")
    # 38 rows at 15 Hz, every ceil(15 / 4) = 4th row at 4 fps -> 10 frames, 9 steps; planned at steps 0, 3, 6
    assert [int(r["row"]) for r in from_bag] == list(range(0, 36, 4))
    assert [r["planned_dx"] != "nan" for r in from_bag] == [t % 3 == 0 for t in range(9)]
    exact = ["step", "row", "taken_dx", "taken_dy", "taken_dz", "taken_dgripper", "final_distance_m"]
    assert [[r[k] for k in exact] for r in from_bag] == [[r[k] for k in exact] for r in from_episode]
    # Frames differ only by the H.264 encoding of each conversion (x264 is not bit-reproducible across runs).
    for a, b in zip(from_bag, from_episode, strict=True):
        assert float(a["surprise_recorded"]) == pytest.approx(float(b["surprise_recorded"]), rel=0.05)
        assert float(a["no_change"]) == pytest.approx(float(b["no_change"]), rel=0.05, abs=0.01)


def test_unreadable_recording_is_named(tmp_path, capsys):
    broken = tmp_path / "broken_bag"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("not: a bag\n")
    assert main(["--checkpoint", str(BUNDLED), str(broken), "--out", str(tmp_path / "out")]) == 2
    assert f"cannot read {broken}" in capsys.readouterr().err
    assert main(["--checkpoint", str(BUNDLED), str(tmp_path / "missing")]) == 2
    assert "expected a bag folder, a DROID episode folder or a folder of them" in capsys.readouterr().err
    assert main(["--checkpoint", str(BUNDLED), str(tmp_path / "out")]) == 2
    assert "no bag (metadata.yaml) or DROID episode" in capsys.readouterr().err


def test_recordings_are_looked_for_before_the_model_is_loaded(tmp_path, capsys):
    """A mistyped recording path is reported at once (exit 2), not after loading a (possibly multi-GB) checkpoint."""
    assert main(["--checkpoint", str(tmp_path / "not_there.pt"), str(tmp_path / "missing")]) == 2
    assert "missing: expected a bag folder" in capsys.readouterr().err


def test_recordings_are_found_in_folders_and_named_apart(tmp_path, capsys):
    for folder in ("a/ep", "b/ep", "mixed/bag1", "mixed/droid/bag1"):
        (tmp_path / folder).mkdir(parents=True)
    for folder in ("a/ep", "b/ep", "mixed/droid/bag1"):
        (tmp_path / folder / "trajectory.h5").touch()
    (tmp_path / "mixed/bag1/metadata.yaml").touch()
    found = find_recordings([tmp_path / "a", tmp_path / "b/ep", tmp_path / "mixed"])
    assert found == [tmp_path / "a/ep", tmp_path / "b/ep", tmp_path / "mixed/droid/bag1"]
    assert "checking its 1 DROID episodes; its 1 bags are left out" in capsys.readouterr().out
    assert unique_names(found) == ["a_ep", "b_ep", "bag1"]
    assert find_recordings([tmp_path / "mixed/bag1"]) == [tmp_path / "mixed/bag1"]
