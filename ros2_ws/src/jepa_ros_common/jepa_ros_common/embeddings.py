"""jepa_msgs/Embedding <-> torch tokens [N, D]: the encoder node writes them, the planner reads them."""

from __future__ import annotations

import array
from collections.abc import Sequence

import numpy as np
import torch
from std_msgs.msg import Header

from jepa_core.frame_encoder import TokenGrid
from jepa_core.models.representations import normalize_reps
from jepa_msgs.msg import Embedding


def tokens_to_embedding_msg(
    tokens: torch.Tensor, grid: TokenGrid, header: Header, normalized: bool, model: str, views: Sequence[str] = ()
) -> Embedding:
    """Embedding message for tokens [N, D] laid out as `grid` (header copied from the source image), naming the camera
    `views` tiled in it (none: one camera)."""
    if tuple(tokens.shape) != (grid.tokens, grid.dim):
        raise ValueError(f"tokens {list(tokens.shape)} do not match grid {grid} ([{grid.tokens}, {grid.dim}])")
    values = array.array("f")
    values.frombytes(tokens.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    msg = Embedding()
    msg.header = header
    msg.frames, msg.height, msg.width, msg.dim = grid.frames, grid.height, grid.width, grid.dim
    msg.normalized = normalized
    msg.model = model
    msg.views = list(views)
    msg.data = values
    return msg


def embedding_msg_to_tokens(msg: Embedding) -> torch.Tensor:
    """Tokens [frames*height*width, dim] float32 of an Embedding message; rejects a data length that does not fit."""
    count = msg.frames * msg.height * msg.width
    if count == 0 or msg.dim == 0 or len(msg.data) != count * msg.dim:
        raise ValueError(
            f"embedding grid {msg.frames}x{msg.height}x{msg.width}x{msg.dim} needs {count * msg.dim} values, "
            f"got {len(msg.data)}"
        )
    return torch.from_numpy(np.frombuffer(msg.data, dtype=np.float32).copy()).view(count, msg.dim)


def embedding_to_tensor(msg: Embedding, tokens_per_frame: int, dim: int) -> torch.Tensor:
    """Embedding of one frame -> normalised representation [N, D] (the AC layer_norm is applied if not yet done)."""
    if msg.frames != 1 or msg.height * msg.width != tokens_per_frame or msg.dim != dim:
        raise ValueError(
            f"embedding: expected frames=1, height*width={tokens_per_frame}, dim={dim} for this predictor, got "
            f"frames={msg.frames}, height={msg.height}, width={msg.width}, dim={msg.dim} (model {msg.model!r})"
        )
    reps = embedding_msg_to_tokens(msg)  # [N, D]; rejects a data length that does not fit the grid
    return reps if msg.normalized else normalize_reps(reps)
