"""Shared training pieces: dataclass CLI, schedule, AdamW groups, EMA, metrics CSV with resume, loss plot."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from torch import nn

from training.common.config import parse_config
from training.common.metrics import MetricsLogger, plot_losses, read_metrics
from training.common.optim import ScheduleConfig, adamw, ema_update, learning_rate


@dataclass(frozen=True)
class _Demo:
    """A config exercising every supported field kind."""

    path: Path = Path("a")
    steps: int = field(default=3, metadata={"help": "how many"})
    ratio: tuple[float, float] = (0.5, 1.5)
    roots: tuple[Path, ...] = (Path("x"),)
    flag: bool = True
    maybe: Path | None = None


def test_config_cli_parses_every_kind():
    config = parse_config(
        _Demo, ["--steps", "7", "--ratio", "1", "2", "--roots", "p", "q", "--no-flag", "--maybe", "m"], "demo"
    )
    assert config == _Demo(Path("a"), 7, (1.0, 2.0), (Path("p"), Path("q")), False, Path("m"))
    assert parse_config(_Demo, ["--maybe", "none"], "demo").maybe is None
    with pytest.raises(SystemExit):
        parse_config(_Demo, ["--steps", "seven"], "demo")


def test_schedule_warmup_constant_cooldown():
    schedule = ScheduleConfig(lr=1.0, start_lr=0.0, final_lr=0.1, warmup_steps=4, cooldown_steps=2, total_steps=10)
    lrs = [learning_rate(schedule, step) for step in range(10)]
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4:8] == pytest.approx([1.0] * 4)
    assert lrs[8:] == pytest.approx([0.55, 0.1])
    with pytest.raises(ValueError, match="exceed"):
        ScheduleConfig(lr=1, start_lr=0, final_lr=0, warmup_steps=6, cooldown_steps=6, total_steps=10)


def test_adamw_decays_matrices_only():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    optimizer = adamw([model], weight_decay=0.04)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.04 and plain["weight_decay"] == 0.0
    assert [p.shape for p in decayed["params"]] == [torch.Size([4, 3])]
    assert len(plain["params"]) == 3  # linear bias, norm weight, norm bias


def test_ema_update_moves_towards_source():
    target, source = nn.Linear(2, 2), nn.Linear(2, 2)
    before = target.weight.detach().clone()
    ema_update(target, source, momentum=0.75)
    assert torch.allclose(target.weight, 0.75 * before + 0.25 * source.weight)


def test_metrics_csv_resume_drops_rows_after_the_checkpoint_step(tmp_path):
    logger = MetricsLogger(tmp_path, ["loss"], tensorboard=False)
    for step in (1, 2, 3, 4):
        logger.log(step, {"loss": 1.0 / step})
    logger.close()
    resumed = MetricsLogger(tmp_path, ["loss"], resume_step=2, tensorboard=False)
    resumed.log(3, {"loss": 0.1})
    resumed.close()
    metrics = read_metrics(tmp_path / "metrics.csv")
    assert metrics["step"] == [1.0, 2.0, 3.0]
    assert metrics["loss"][-1] == pytest.approx(0.1)
    with pytest.raises(KeyError, match="loss"):
        MetricsLogger(tmp_path, ["loss"], resume_step=9, tensorboard=False).log(9, {})
    with pytest.raises(ValueError, match="columns"):
        MetricsLogger(tmp_path, ["other"], resume_step=2, tensorboard=False)


def test_loss_plot_is_a_png(tmp_path):
    logger = MetricsLogger(tmp_path, ["loss"], tensorboard=False)
    for step in range(1, 5):
        logger.log(step, {"loss": 2.0 / step})
    logger.close()
    path = plot_losses(tmp_path / "metrics.csv", tmp_path / "loss.png", ["loss"], "demo")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
