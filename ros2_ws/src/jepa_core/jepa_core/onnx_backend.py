"""ONNX export (dynamo exporter, dynamic batch axis) and ONNX Runtime runners for the encoder and AC predictor.

The token grid (frames, image size, AC steps) is fixed at export time; the batch is dynamic. Runners take torch
tensors or numpy arrays and return torch tensors, so they drop in where the torch modules are called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from jepa_core.models.ac_predictor import VisionTransformerPredictorAC
from jepa_core.models.encoder import VisionTransformer

DEFAULT_OPSET = 18
CPU_PROVIDERS = ("CPUExecutionProvider",)


def _export(model: torch.nn.Module, args: tuple, path: Path, input_names: list[str], opset: int) -> Path:
    """torch.onnx.export(dynamo=True) with dim 0 of every input dynamic; weights embedded in one file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic_shapes = tuple({0: batch} for _ in input_names)
    program = torch.onnx.export(
        model.eval(),
        args,
        dynamo=True,
        opset_version=opset,
        input_names=input_names,
        output_names=["out"],
        dynamic_shapes=dynamic_shapes,
        external_data=False,
        verbose=False,
    )
    program.save(str(path))
    return path


def export_encoder(
    encoder: VisionTransformer,
    path: str | Path,
    num_frames: int | None = None,
    img_size: tuple[int, int] | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export video [B, 3, T, H, W] -> tokens [B, N, D]; T defaults to one tubelet, H, W to the encoder's img_size."""
    frames = num_frames or encoder.tubelet_size
    height, width = img_size or encoder.img_size
    example = torch.zeros(2, 3, frames, height, width)
    with torch.no_grad():
        return _export(encoder, (example,), Path(path), ["video"], opset)


def export_ac_predictor(
    predictor: VisionTransformerPredictorAC, path: str | Path, steps: int, opset: int = DEFAULT_OPSET
) -> Path:
    """Export (tokens [B, steps*N, D], actions [B, steps, 7], states [B, steps, 7]) -> [B, steps*N, D]."""
    if predictor.use_extrinsics:
        raise ValueError("ONNX export of an AC predictor with use_extrinsics=True is not supported")
    tokens = torch.zeros(2, steps * predictor.tokens_per_frame, predictor.embed_dim)
    actions = torch.zeros(2, steps, predictor.action_embed_dim)
    with torch.no_grad():
        return _export(
            predictor, (tokens, actions, actions.clone()), Path(path), ["tokens", "actions", "states"], opset
        )


def quantize_int8(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 quantisation of the MatMul weights (onnxruntime.quantization), for CPU inference."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    return Path(dst)


class _OrtRunner:
    """One onnxruntime.InferenceSession; inputs by name, float32, output as a torch tensor."""

    def __init__(self, path: str | Path, providers: Sequence[str] = CPU_PROVIDERS, intra_op_threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=list(providers))
        self.input_names = [i.name for i in self.session.get_inputs()]

    def _run(self, *inputs: torch.Tensor | np.ndarray) -> torch.Tensor:
        feeds = {
            name: (x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32))
            for name, x in zip(self.input_names, inputs, strict=True)
        }
        return torch.from_numpy(self.session.run(None, feeds)[0])


class OrtEncoder(_OrtRunner):
    """ONNX Runtime encoder: video [B, 3, T, H, W] -> tokens [B, N, D] (T, H, W as exported)."""

    def __call__(self, video: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self._run(video)


class OrtACPredictor(_OrtRunner):
    """ONNX Runtime AC predictor: (tokens [B, T*N, D], actions [B, T, 7], states [B, T, 7]) -> [B, T*N, D]."""

    def __call__(
        self, tokens: torch.Tensor | np.ndarray, actions: torch.Tensor | np.ndarray, states: torch.Tensor | np.ndarray
    ) -> torch.Tensor:
        return self._run(tokens, actions, states)
