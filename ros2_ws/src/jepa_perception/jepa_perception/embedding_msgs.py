"""jepa_msgs/Embedding <-> torch tokens [N, D], shared by the encoder node and its consumers (planner, tests)."""

from __future__ import annotations

import array

import numpy as np
import torch
from std_msgs.msg import Header

from jepa_core.frame_encoder import TokenGrid
from jepa_msgs.msg import Embedding


def tokens_to_embedding_msg(
    tokens: torch.Tensor, grid: TokenGrid, header: Header, normalized: bool, model: str
) -> Embedding:
    """Embedding message for tokens [N, D] laid out as `grid` (header copied from the source image)."""
    if tuple(tokens.shape) != (grid.tokens, grid.dim):
        raise ValueError(f"tokens {list(tokens.shape)} do not match grid {grid} ([{grid.tokens}, {grid.dim}])")
    values = array.array("f")
    values.frombytes(tokens.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    msg = Embedding()
    msg.header = header
    msg.frames, msg.height, msg.width, msg.dim = grid.frames, grid.height, grid.width, grid.dim
    msg.normalized = normalized
    msg.model = model
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
