"""Every training command on tiny data: sim episodes, pretrain and posttrain (with resume), export, evaluate."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from jepa_core.checkpoints import load_ac_predictor, load_encoder, load_pose_probe, read_checkpoint
from jepa_core.data.video import VideoEncoding, write_mp4
from jepa_core.models.representations import encode_clip_frames
from jepa_core.planning.world_model import WorldModel
from training import evaluate, export, fit_pose_probe, posttrain, pretrain, sim_episodes

TINY_LOOP = [
    "--batch-size",
    "2",
    "--log-every",
    "1",
    "--warmup-steps",
    "1",
    "--cooldown-steps",
    "1",
    "--no-tensorboard",
]


@pytest.fixture(scope="module")
def droid_root(tmp_path_factory) -> Path:
    """Two 6-step exploration episodes at 64 px in the DROID layout."""
    root = tmp_path_factory.mktemp("droid")
    sim_episodes.main(["--out", str(root), "--episodes", "2", "--steps", "6", "--render-size", "64"])
    return root


@pytest.fixture(scope="module")
def posttrained(droid_root, tmp_path_factory) -> Path:
    """A posttrain run of 3 steps resumed to 4 steps (random-init encoder, one-block predictor)."""
    run = tmp_path_factory.mktemp("posttrain")
    args = ["--data", str(droid_root), "--run-dir", str(run), "--encoder-preset", "parity_tiny"]
    args += ["--predictor-preset", "parity_tiny", "--predictor-depth", "1", "--frames-per-clip", "4", *TINY_LOOP]
    assert posttrain.main([*args, "--steps", "3", "--checkpoint-every", "2"]) == 0
    assert read_checkpoint(run / "final.pt")["step"] == 3
    assert posttrain.main([*args, "--steps", "4", "--checkpoint-every", "2"]) == 0
    return run


def _metric_steps(run: Path) -> list[int]:
    with (run / "metrics.csv").open() as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def test_sim_episodes_are_valid_droid(droid_root):
    from jepa_core.data.droid_validate import validate_episode

    episodes = sorted(p for p in droid_root.iterdir() if p.is_dir())
    assert len(episodes) == 2
    for episode in episodes:
        assert not validate_episode(episode, decode=True)


def test_posttrain_resumes_and_writes_loadable_checkpoints(posttrained):
    ckpt = read_checkpoint(posttrained / "final.pt")
    assert ckpt["step"] == 4
    assert _metric_steps(posttrained) == [1, 2, 3, 4]  # resumed from step 3: no duplicate rows
    assert all(key.startswith("module.") for key in ckpt["predictor"])
    assert (posttrained / "loss.png").stat().st_size > 0
    encoder = load_encoder(posttrained / "final.pt")
    predictor = load_ac_predictor(posttrained / "final.pt")
    assert predictor.embed_dim == encoder.embed_dim and encoder.img_size == (64, 64)
    tokens = torch.randn(1, 2 * predictor.tokens_per_frame, predictor.embed_dim)
    assert predictor(tokens, torch.zeros(1, 2, 7), torch.zeros(1, 2, 7)).shape == tokens.shape


def test_pretrain_on_droid_and_mp4_with_resume(droid_root, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    frames = [np.full((48, 64, 3), 20 * t, np.uint8) for t in range(10)]
    write_mp4(videos / "clip.mp4", frames, VideoEncoding(fps=8))
    run = tmp_path / "pretrain"
    args = ["--data", str(droid_root), str(videos), "--run-dir", str(run), "--encoder-preset", "parity_tiny",
            "--image-size", "64", "--frames-per-clip", "4", "--checkpoint-every", "1", *TINY_LOOP]  # fmt: skip
    assert pretrain.main([*args, "--steps", "2"]) == 0
    first = load_encoder(run / "final.pt")
    assert pretrain.main([*args, "--steps", "3", "--precision", "bf16"]) == 0
    ckpt = read_checkpoint(run / "final.pt")
    assert ckpt["step"] == 3 and all(key.startswith("module.backbone.") for key in ckpt["encoder"])
    assert _metric_steps(run) == [1, 2, 3]
    second = load_encoder(run / "final.pt")  # target (EMA) encoder moved on
    assert not torch.equal(first.patch_embed.proj.weight, second.patch_embed.proj.weight)


def test_release_and_export_match_torch(posttrained, tmp_path):
    release = tmp_path / "release.pt"
    config = export.ExportConfig(checkpoint=posttrained / "final.pt", out=tmp_path, release=release)
    results = export.run_export(config)
    assert [r.name for r in results] == ["encoder", "ac_predictor"]
    assert all(r.path.is_file() and r.max_abs_diff < 1e-4 for r in results)
    released = read_checkpoint(release)
    assert released["opt"] is None and released["step"] == 4
    assert release.stat().st_size < (posttrained / "final.pt").stat().st_size
    trained = load_ac_predictor(posttrained / "final.pt").state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in load_ac_predictor(release).state_dict().items())
    assert load_encoder(release, key="encoder").embed_dim == load_encoder(release).embed_dim


def test_evaluate_writes_table_plot_and_gifs(posttrained, tmp_path):
    args = ["--checkpoint", str(posttrained / "final.pt"), "--out", str(tmp_path), "--episodes", "2"]
    args += ["--max-steps", "2", "--samples", "8", "--top-k", "2", "--iterations", "1", "--render-size", "64"]
    assert evaluate.main(args) == 0
    with (tmp_path / "episodes.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["seed"]) for r in rows] == [0, 1]
    assert all(1 <= int(r["steps"]) <= 2 for r in rows)
    assert "| reach | 2 |" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "eval.png").stat().st_size > 0
    assert len(list((tmp_path / "gifs").glob("reach_*.gif"))) == 2


def test_fit_pose_probe_adds_the_goal_prior_that_evaluate_uses(posttrained, droid_root, tmp_path, capsys):
    out = tmp_path / "with_probe.pt"
    args = ["--checkpoint", str(posttrained / "final.pt"), "--data", str(droid_root), "--holdout", "0.5"]
    assert fit_pose_probe.main([*args, "--out", str(out), "--hidden", "16", "--steps", "20", "--batch-size", "8"]) == 0
    printed = capsys.readouterr().out
    assert "pose probe: 2 episodes" in printed and "held out (1 episodes)" in printed
    ckpt = read_checkpoint(out)
    assert set(read_checkpoint(posttrained / "final.pt")) | {"pose_probe", "pose_probe_info"} == set(ckpt)
    assert ckpt["pose_probe_info"]["frames"] == 14 and ckpt["pose_probe_info"]["holdout_rmse_x_m"] >= 0
    assert ckpt["pose_probe"]["net.0.weight"].shape[0] == 16
    predictor = load_ac_predictor(out)
    assert load_pose_probe(out, predictor.tokens_per_frame, predictor.embed_dim) is not None
    release = tmp_path / "release.pt"
    export.release_checkpoint(out, out, "target_encoder", release)  # a re-release keeps the probe
    assert torch.equal(read_checkpoint(release)["pose_probe"]["net.0.weight"], ckpt["pose_probe"]["net.0.weight"])
    args = ["--checkpoint", str(out), "--out", str(tmp_path / "eval"), "--episodes", "1", "--no-gifs"]
    args += ["--max-steps", "1", "--samples", "8", "--top-k", "2", "--iterations", "1", "--render-size", "64"]
    assert evaluate.main([*args, "--pose-prior-dead-zone", "0.05"]) == 0
    assert "goal-position prior: on (weight 2 per m outside 5 cm" in capsys.readouterr().out
    assert evaluate.main([*args, "--pose-prior-weight", "0"]) == 0
    assert "goal-position prior: off (weight 0)" in capsys.readouterr().out
    assert evaluate.main([*args[:1], str(posttrained / "final.pt"), *args[2:]]) == 0
    assert "goal-position prior: off (the checkpoint has no pose_probe)" in capsys.readouterr().out


def test_posttrain_streaming_clips_without_feature_cache(droid_root, tmp_path):
    args = ["--data", str(droid_root), "--run-dir", str(tmp_path), "--encoder-preset", "parity_tiny", "--steps", "2"]
    args += ["--predictor-preset", "parity_tiny", "--predictor-depth", "1", "--frames-per-clip", "3"]
    assert posttrain.main([*args, "--no-feature-cache", *TINY_LOOP]) == 0
    assert read_checkpoint(tmp_path / "final.pt")["train_config"]["feature_cache"] is False
    assert _metric_steps(tmp_path) == [1, 2]


def test_posttrain_end_to_end_trains_the_encoder_and_resumes(droid_root, tmp_path):
    args = ["--data", str(droid_root), "--run-dir", str(tmp_path), "--encoder-preset", "parity_tiny", "--recipe"]
    args += ["end_to_end", "--predictor-preset", "parity_tiny", "--predictor-depth", "1", "--frames-per-clip", "3"]
    args += ["--sigreg-directions", "16", "--projector-hidden", "32", "--projector-dim", "16", *TINY_LOOP]
    assert posttrain.main([*args, "--steps", "2", "--checkpoint-every", "1"]) == 0
    first = read_checkpoint(tmp_path / "final.pt")
    assert "projector" in first and first["train_config"]["recipe"] == "end_to_end"
    assert posttrain.main([*args, "--steps", "3", "--checkpoint-every", "1"]) == 0
    assert _metric_steps(tmp_path) == [1, 2, 3]
    with (tmp_path / "metrics.csv").open() as handle:
        assert all(float(row["sigreg"]) > 0 for row in csv.DictReader(handle))
    initial = posttrain.build_encoder_for(
        posttrain.PosttrainConfig(encoder_preset="parity_tiny", image_size=64)
    )  # seeded
    trained = load_encoder(tmp_path / "final.pt")
    assert not torch.equal(initial.patch_embed.proj.weight, trained.patch_embed.proj.weight)  # the encoder learned
    assert torch.equal(
        trained.patch_embed.proj.weight, load_encoder(tmp_path / "final.pt", key="encoder").patch_embed.proj.weight
    )
    frames = torch.randn(3, 3, 64, 64)  # the planner's tokens are the trained ones: same function, no train/eval gap
    world_model = WorldModel(load_ac_predictor(tmp_path / "final.pt"), trained)
    planned = world_model.encode(frames)  # [3, N, D]
    training = encode_clip_frames(trained.train(), frames[None].transpose(1, 2))  # [1, 3*N, D], train mode
    torch.testing.assert_close(training.view_as(planned), planned)
    release = tmp_path / "release.pt"
    export.release_checkpoint(tmp_path / "final.pt", tmp_path / "final.pt", "target_encoder", release)
    assert "projector" not in read_checkpoint(release)  # training-only


def test_posttrain_end_to_end_with_a_state_probe_logs_it_and_keeps_it_out_of_the_release(droid_root, tmp_path):
    args = ["--data", str(droid_root), "--run-dir", str(tmp_path), "--encoder-preset", "parity_tiny", "--recipe"]
    args += ["end_to_end", "--state-probe-weight", "2.0", "--predictor-preset", "parity_tiny", "--predictor-depth"]
    args += ["1", "--frames-per-clip", "3", "--sigreg-directions", "16", "--projector-hidden", "32"]
    args += ["--projector-dim", "16", *TINY_LOOP]
    assert posttrain.main([*args, "--steps", "2", "--checkpoint-every", "1"]) == 0
    assert posttrain.main([*args, "--steps", "3", "--checkpoint-every", "1"]) == 0  # resumes the probe too
    ckpt = read_checkpoint(tmp_path / "final.pt")
    assert ckpt["train_config"]["state_probe_weight"] == 2.0
    assert ckpt["state_probe"]["linear.weight"].shape == (4, 16 * 192)  # 4 probed dims from 16 tokens x width 192
    with (tmp_path / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in rows] == [1, 2, 3]
    for row in rows:  # the total includes the weighted probe term
        parts = float(row["jloss"]) + float(row["sloss"]) + 0.1 * float(row["sigreg"]) + 2.0 * float(row["probe"])
        assert float(row["loss"]) == pytest.approx(parts, rel=1e-4)
    release = tmp_path / "release.pt"
    export.release_checkpoint(tmp_path / "final.pt", tmp_path / "final.pt", "target_encoder", release)
    assert "state_probe" not in read_checkpoint(release)


def test_posttrain_end_to_end_without_projector_regularises_the_planner_tokens(droid_root, tmp_path):
    args = ["--data", str(droid_root), "--run-dir", str(tmp_path), "--encoder-preset", "parity_tiny", "--recipe"]
    args += ["end_to_end", "--no-projector", "--predictor-preset", "parity_tiny", "--predictor-depth", "1"]
    args += ["--frames-per-clip", "3", "--sigreg-directions", "16", "--steps", "1", *TINY_LOOP]
    assert posttrain.main(args) == 0
    ckpt = read_checkpoint(tmp_path / "final.pt")
    assert ckpt["projector"] == {} and ckpt["train_config"]["projector"] is False
