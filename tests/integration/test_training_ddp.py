"""Both trainers under `torch.distributed.run` with 2 CPU processes (gloo, DistributedDataParallel) on tiny data. They
share training.common.dist; the default suite runs the post-training one, `-m slow` the pre-training one too."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jepa_core.checkpoints import load_ac_predictor, load_encoder, read_checkpoint
from training import sim_episodes

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_LOOP = ["--batch-size", "2", "--log-every", "1", "--warmup-steps", "1", "--cooldown-steps", "1"]
TINY_LOOP += ["--no-tensorboard"]


@pytest.fixture(scope="module")
def droid_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("droid_ddp")
    sim_episodes.main(["--out", str(root), "--episodes", "2", "--steps", "6", "--render-size", "64"])
    return root


def _torchrun(module: str, args: list[str]) -> subprocess.CompletedProcess:
    """Run `python -m torch.distributed.run --standalone --nproc-per-node 2 -m module args` and return it."""
    python_path = f"{REPO_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": python_path}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", module]
    return subprocess.run(
        [*command, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _assert_ok(result: subprocess.CompletedProcess) -> None:
    output = f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"exit {result.returncode}\n{output}"


def test_posttrain_ddp_two_processes(droid_root, tmp_path):
    run = tmp_path / "posttrain"
    args = ["--data", str(droid_root), "--run-dir", str(run), "--encoder-preset", "parity_tiny", "--device", "cpu"]
    args += ["--predictor-preset", "parity_tiny", "--predictor-depth", "1", "--frames-per-clip", "4", "--steps", "3"]
    result = _torchrun("training.posttrain", [*args, *TINY_LOOP])
    _assert_ok(result)
    assert "on 2 process(es)" in result.stdout
    ckpt = read_checkpoint(run / "final.pt")
    assert ckpt["world_size"] == 2 and ckpt["step"] == 3
    load_encoder(run / "final.pt")
    load_ac_predictor(run / "final.pt")


@pytest.mark.slow
def test_pretrain_ddp_two_processes(droid_root, tmp_path):
    run = tmp_path / "pretrain"
    args = ["--data", str(droid_root), "--run-dir", str(run), "--encoder-preset", "parity_tiny", "--device", "cpu"]
    args += ["--image-size", "64", "--frames-per-clip", "4", "--steps", "2"]
    result = _torchrun("training.pretrain", [*args, *TINY_LOOP])
    _assert_ok(result)
    ckpt = read_checkpoint(run / "final.pt")
    assert ckpt["world_size"] == 2 and ckpt["step"] == 2
    load_encoder(run / "final.pt")
