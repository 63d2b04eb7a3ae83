"""jepa_core.planning.loading: one world-model loader for the planner, evaluation, check_bag and the benchmarks."""

import pytest
import torch

from jepa_core.checkpoints import AC_PREFIX, read_checkpoint, save_checkpoint, write_checkpoint
from jepa_core.planning.loading import WorldModelSpec, build_world_model
from jepa_core.planning.pose_prior import PROBE_KEY, PoseProbe
from jepa_core.presets import build_ac_predictor, build_encoder


@pytest.fixture
def checkpoint(tmp_path):
    """A parity_tiny AC checkpoint (encoder, target encoder, predictor) with a pose probe."""
    torch.manual_seed(3)
    encoder, predictor = build_encoder("parity_tiny"), build_ac_predictor("parity_tiny")
    path = save_checkpoint(
        tmp_path / "ac.pt", encoder=encoder, target_encoder=encoder, predictor=predictor, prefix=AC_PREFIX
    )
    ckpt = read_checkpoint(path)
    ckpt[PROBE_KEY] = PoseProbe(predictor.tokens_per_frame, predictor.embed_dim, hidden=8).state_dict()
    return write_checkpoint(ckpt, path)


def test_random_weights_are_refused_unless_asked_for():
    with pytest.raises(ValueError, match="predictor_checkpoint: a checkpoint path is required"):
        build_world_model(WorldModelSpec(predictor_preset="parity_tiny", encoder_preset="parity_tiny"))
    spec = WorldModelSpec(predictor_preset="parity_tiny", with_encoder=False, allow_random_weights=True, random_seed=5)
    first, second = build_world_model(spec), build_world_model(spec)
    assert first.encoder is None and first.goal_prior is None  # no checkpoint, so no probe either
    pairs = zip(first.predictor.parameters(), second.predictor.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)  # random_seed makes random weights reproducible
    with pytest.raises(ValueError, match="encoder_checkpoint: a local encoder needs a checkpoint"):
        build_world_model(WorldModelSpec(predictor_preset="parity_tiny", allow_random_weights=True))


def test_the_encoder_is_loaded_when_asked_for(checkpoint):
    stored = {k.removeprefix("module."): v for k, v in read_checkpoint(checkpoint)["encoder"].items()}
    world_model = build_world_model(WorldModelSpec(predictor_checkpoint=checkpoint, encoder_key="encoder"))
    assert all(torch.equal(value, stored[name]) for name, value in world_model.encoder.state_dict().items())
    assert build_world_model(WorldModelSpec(predictor_checkpoint=checkpoint, with_encoder=False)).encoder is None


def test_the_goal_prior_comes_from_the_encoder_checkpoint_unless_its_weight_is_0(checkpoint, tmp_path):
    prior = build_world_model(WorldModelSpec(predictor_checkpoint=checkpoint, pose_prior_dead_zone=0.03)).goal_prior
    assert prior is not None and (prior.weight, prior.dead_zone) == (WorldModelSpec.pose_prior_weight, 0.03)
    assert build_world_model(WorldModelSpec(predictor_checkpoint=checkpoint, pose_prior_weight=0.0)).goal_prior is None
    no_probe = save_checkpoint(tmp_path / "no_probe.pt", encoder=build_encoder("parity_tiny"))
    other_encoder = WorldModelSpec(predictor_checkpoint=checkpoint, encoder_checkpoint=no_probe, encoder_key="encoder")
    assert build_world_model(other_encoder).goal_prior is None  # the probe reads the tokens of the encoder in use


@pytest.mark.parametrize(
    ("field", "value"), [("nonfinite_weights", "ignore"), ("pose_prior_weight", -1.0), ("pose_prior_dead_zone", -0.1)]
)
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        WorldModelSpec(**{field: value})
