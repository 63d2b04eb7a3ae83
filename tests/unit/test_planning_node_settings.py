"""Planner node settings: planner.yaml documents exactly the declared parameters, configs and model building."""

from pathlib import Path

import pytest
import torch
import yaml

from jepa_planner.settings import PARAMETERS, PlannerSettings

CONFIG = Path(__file__).resolve().parents[2] / "launch" / "config" / "planner.yaml"
DEFAULTS = {p.name: p.default for p in PARAMETERS}


def flatten(section: dict, prefix: str = "") -> dict:
    """Nested YAML parameters -> dotted ROS parameter names."""
    flat = {}
    for key, value in section.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_planner_yaml_documents_every_parameter_with_its_default():
    documented = flatten(yaml.safe_load(CONFIG.read_text())["planner_node"]["ros__parameters"])
    assert set(documented) == set(DEFAULTS)
    for name, default in DEFAULTS.items():
        assert documented[name] == default, name
        assert type(documented[name]) is type(default), name


def test_defaults_build_the_paper_planner():
    settings = PlannerSettings.from_values(dict(DEFAULTS))
    assert (settings.mpc.cem.samples, settings.mpc.cem.top_k, settings.mpc.cem.iterations) == (800, 10, 10)
    assert settings.mpc.seed is None and settings.world_model.autocast_dtype is None
    limits = settings.goal_limits(max_steps=0, timeout_s=0.0, energy_threshold=0.0)
    assert (limits.max_steps, limits.timeout_s, limits.energy_threshold) == (100, 600.0, 0.05)
    assert (limits.observation_timeout_s, limits.future_tolerance_s, limits.surprise_stop_threshold) == (1.0, 0.5, 0.0)
    assert settings.goal_limits(5, 3.0, 0.2).max_steps == 5
    gpu = PlannerSettings.from_values(DEFAULTS | {"activation_budget_mb": 8192, "compile_mode": "reduce-overhead"})
    assert (gpu.world_model.activation_budget_mb, gpu.world_model.compile_mode) == (8192, "reduce-overhead")


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("goal_encoder", "gpu", "goal_encoder"),
        ("autocast_dtype", "fp8", "autocast_dtype"),
        ("cem.top_k", 1, "top_k"),
        ("observation_timeout_s", 0.0, "observation_timeout_s"),
        ("future_tolerance_s", -1.0, "future_tolerance_s"),
        ("compile_mode", "fastest", "compile_mode"),
        ("activation_budget_mb", 0, "activation_budget_mb"),
        ("pose_prior_weight", -1.0, "pose_prior_weight"),
        ("pose_prior_dead_zone", -0.01, "pose_prior_dead_zone"),
        ("view_energy_weights", [1.0, -0.5], "view_energy_weights"),
        ("view_energy_weights", [0.0, 0.0], "view_energy_weights"),
    ],
)
def test_bad_values_name_the_parameter(name, value, match):
    with pytest.raises(ValueError, match=match):
        PlannerSettings.from_values(DEFAULTS | {name: value})


def test_world_model_needs_a_checkpoint_unless_random_weights_are_allowed():
    with pytest.raises(ValueError, match="predictor_checkpoint"):
        PlannerSettings.from_values(dict(DEFAULTS)).build_world_model()
    random = DEFAULTS | {"allow_random_weights": True, "predictor_preset": "parity_tiny", "autocast_dtype": "bfloat16"}
    world_model = PlannerSettings.from_values(random).build_world_model()
    assert world_model.encoder is None and world_model.tokens_per_frame == 16
    assert world_model.config.autocast_dtype is torch.bfloat16
    local = random | {"goal_encoder": "local", "encoder_preset": "parity_tiny"}
    assert PlannerSettings.from_values(local).build_world_model().encoder is not None


def test_world_model_loads_the_parity_checkpoint(parity_dir):
    values = DEFAULTS | {
        "predictor_checkpoint": str(parity_dir / "ac_checkpoint.pt"),
        "predictor_preset": "parity_tiny",
        "encoder_preset": "parity_tiny",
        "goal_encoder": "local",
    }
    world_model = PlannerSettings.from_values(values).build_world_model()
    assert world_model.embed_dim == 192 and world_model.encoder is not None


def test_preset_auto_and_nonfinite_weights(tmp_path):
    """Issue 13 items 11 and 15: preset 'auto' (what franka.launch.py passes) and NaN checkpoints refused or warned."""
    from jepa_core.checkpoints import AC_PREFIX, CheckpointError, CheckpointWarning, save_checkpoint
    from jepa_core.presets import build_ac_predictor, build_encoder

    encoder, predictor = build_encoder("parity_tiny"), build_ac_predictor("parity_tiny")
    path = save_checkpoint(tmp_path / "ac.pt", encoder=encoder, predictor=predictor, prefix=AC_PREFIX)
    values = DEFAULTS | {"predictor_checkpoint": str(path), "predictor_preset": "auto", "goal_encoder": "local",
                         "encoder_preset": "auto"}  # fmt: skip
    world_model = PlannerSettings.from_values(values).build_world_model()
    assert world_model.embed_dim == 192 and world_model.encoder is not None
    with torch.no_grad():
        predictor.predictor_proj.weight.fill_(float("nan"))
    save_checkpoint(path, encoder=encoder, predictor=predictor, prefix=AC_PREFIX)
    with pytest.raises(CheckpointError, match=r"\[predictor\]: 1 tensor\(s\) hold NaN/inf values"):
        PlannerSettings.from_values(values).build_world_model()
    with pytest.warns(CheckpointWarning):
        PlannerSettings.from_values(values | {"nonfinite_weights": "warn"}).build_world_model()
    with pytest.raises(ValueError, match="parameter nonfinite_weights"):
        PlannerSettings.from_values(values | {"nonfinite_weights": "maybe"})


def test_goal_position_prior_comes_from_the_encoder_checkpoint(tmp_path):
    """A checkpoint with a pose_probe (training.fit_pose_probe) plans with the prior; weight 0, or none, does not."""
    from jepa_core.checkpoints import AC_PREFIX, read_checkpoint, save_checkpoint, write_checkpoint
    from jepa_core.planning.pose_prior import PROBE_KEY, PoseProbe
    from jepa_core.presets import build_ac_predictor, build_encoder

    predictor = build_ac_predictor("parity_tiny")
    path = save_checkpoint(tmp_path / "ac.pt", encoder=build_encoder("parity_tiny"), predictor=predictor,
                           prefix=AC_PREFIX)  # fmt: skip
    values = DEFAULTS | {"predictor_checkpoint": str(path), "predictor_preset": "auto"}
    assert PlannerSettings.from_values(values).build_world_model().goal_prior is None
    ckpt = read_checkpoint(path)
    ckpt[PROBE_KEY] = PoseProbe(predictor.tokens_per_frame, predictor.embed_dim, hidden=8).state_dict()
    write_checkpoint(ckpt, path)
    prior = PlannerSettings.from_values(values | {"pose_prior_dead_zone": 0.03}).build_world_model().goal_prior
    assert (prior.weight, prior.dead_zone) == (DEFAULTS["pose_prior_weight"], 0.03)
    assert PlannerSettings.from_values(values | {"pose_prior_weight": 0.0}).build_world_model().goal_prior is None


def test_view_energy_weights_reach_the_world_model():
    values = DEFAULTS | {"allow_random_weights": True, "predictor_preset": "parity_tiny"}
    assert PlannerSettings.from_values(values).build_world_model().token_weights is None  # the official energy
    two = PlannerSettings.from_values(values | {"view_energy_weights": [1.0, 0.25]})
    assert two.world_model.view_weights == (1.0, 0.25)
    with pytest.raises(ValueError, match=r"hold 1 view\(s\); expected one weight per view"):  # parity_tiny: 1 view
        two.build_world_model()
