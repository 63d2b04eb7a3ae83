"""Export a trained encoder and AC predictor to ONNX (jepa_core.onnx_backend) and check ONNX Runtime against torch.

    scripts/run.sh python -m training.export --checkpoint models/sim_manip.pt --out runs/export
    scripts/run.sh python -m training.export --checkpoint runs/posttrain/final.pt --release models/sim_manip.pt

`--release` first writes a deployable copy of the checkpoint (official AC layout, fp32, encoder + target_encoder +
predictor, no optimiser state) and exports from it. Writes `encoder.onnx` (one frame as a one-tubelet clip) and
`ac_predictor.onnx` (`--predictor-steps` steps; the planner with context 1 and horizon 1 uses 1), runs both on random
inputs with ONNX Runtime and torch, and fails when the largest absolute difference exceeds `--tolerance`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from jepa_core.checkpoints import AC_PREFIX, load_ac_predictor, load_encoder, read_checkpoint, save_checkpoint
from jepa_core.onnx_backend import OrtACPredictor, OrtEncoder, export_ac_predictor, export_encoder
from jepa_core.planning.pose_prior import PROBE_KEY
from jepa_core.views import VIEWS_KEY
from training.common.config import parse_config


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how strictly to check it."""

    checkpoint: Path = field(default=Path("models/sim_manip.pt"), metadata={"help": "checkpoint with both models"})
    encoder_checkpoint: Path | None = field(default=None, metadata={"help": "encoder from another file (optional)"})
    encoder_key: str = field(default="target_encoder", metadata={"help": "checkpoint key of the encoder"})
    release: Path | None = field(default=None, metadata={"help": "write a weights-only copy here and export it"})
    out: Path = field(default=Path("runs/export"), metadata={"help": "output folder"})
    predictor_steps: int = field(default=1, metadata={"help": "AC steps baked into the predictor graph"})
    skip_predictor: bool = field(default=False, metadata={"help": "export only the encoder"})
    batch: int = field(default=3, metadata={"help": "batch of the check inputs (the batch axis is dynamic)"})
    tolerance: float = field(default=1e-4, metadata={"help": "max |onnx - torch| allowed"})
    seed: int = field(default=0, metadata={"help": "seed of the check inputs"})


@dataclass
class ExportedModel:
    """One exported file and how it compared with torch."""

    name: str
    path: Path
    max_abs_diff: float
    export_s: float

    @property
    def size_mb(self) -> float:
        return self.path.stat().st_size / 1e6


def _check(name: str, path: Path, diff: float, seconds: float, tolerance: float) -> ExportedModel:
    """Raise when ONNX Runtime and torch disagree by more than `tolerance`."""
    if not diff <= tolerance:
        raise AssertionError(f"{path}: max |onnx - torch| = {diff:.3g} exceeds the tolerance {tolerance:.3g}")
    return ExportedModel(name, path, diff, seconds)


@torch.no_grad()
def export_and_check_encoder(encoder, out: Path, batch: int, tolerance: float, generator) -> ExportedModel:
    """Export the encoder for one-tubelet clips and compare on random frames."""
    start = time.perf_counter()
    path = export_encoder(encoder, out / "encoder.onnx")
    seconds = time.perf_counter() - start
    height, width = encoder.img_size
    video = torch.randn(batch, 3, encoder.tubelet_size, height, width, generator=generator)
    diff = (OrtEncoder(path)(video) - encoder(video)).abs().max().item()
    return _check("encoder", path, diff, seconds, tolerance)


@torch.no_grad()
def export_and_check_predictor(predictor, out: Path, steps: int, batch: int, tolerance: float, generator):
    """Export the AC predictor for `steps` steps and compare on random tokens/actions/states."""
    start = time.perf_counter()
    path = export_ac_predictor(predictor, out / "ac_predictor.onnx", steps=steps)
    seconds = time.perf_counter() - start
    tokens = torch.randn(batch, steps * predictor.tokens_per_frame, predictor.embed_dim, generator=generator)
    actions = 0.05 * torch.randn(batch, steps, predictor.action_embed_dim, generator=generator)
    states = torch.randn(batch, steps, predictor.action_embed_dim, generator=generator)
    diff = (OrtACPredictor(path)(tokens, actions, states) - predictor(tokens, actions, states)).abs().max().item()
    return _check("ac_predictor", path, diff, seconds, tolerance)


RELEASE_ENTRIES = ("epoch", "step", "loss", "world_size", "batch_size", "lr", "train_config", VIEWS_KEY)


def release_checkpoint(source: Path, encoder_source: Path, encoder_key: str, destination: Path) -> Path:
    """Weights-only AC checkpoint (encoder = target_encoder = the frozen encoder, predictor; no optimiser state), with
    the encoder checkpoint's pose probe when it has one (the probe reads that encoder's tokens)."""
    encoder = load_encoder(encoder_source, key=encoder_key)
    predictor = load_ac_predictor(source)
    kept = {key: value for key, value in read_checkpoint(source).items() if key in RELEASE_ENTRIES}
    kept["epoch"] = kept.get("epoch", 0)
    probe_entries = (PROBE_KEY, f"{PROBE_KEY}_info")
    kept |= {key: value for key, value in read_checkpoint(encoder_source).items() if key in probe_entries}
    return save_checkpoint(
        destination, encoder=encoder, target_encoder=encoder, predictor=predictor, prefix=AC_PREFIX, **kept
    )


def run_export(config: ExportConfig) -> list[ExportedModel]:
    """(Optionally release, then) export and check the configured models; returns what was written."""
    generator = torch.Generator().manual_seed(config.seed)
    checkpoint, encoder_source = config.checkpoint, config.encoder_checkpoint or config.checkpoint
    if config.release is not None:
        checkpoint = encoder_source = release_checkpoint(
            config.checkpoint, encoder_source, config.encoder_key, config.release
        )
    encoder = load_encoder(encoder_source, key=config.encoder_key)
    results = [export_and_check_encoder(encoder, config.out, config.batch, config.tolerance, generator)]
    if not config.skip_predictor:
        predictor = load_ac_predictor(checkpoint)
        results.append(
            export_and_check_predictor(
                predictor, config.out, config.predictor_steps, config.batch, config.tolerance, generator
            )
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(ExportConfig, argv, __doc__)
    results = run_export(config)
    print("| model | file | MB | max abs diff vs torch | export s |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r.name} | {r.path} | {r.size_mb:.1f} | {r.max_abs_diff:.2e} | {r.export_s:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
