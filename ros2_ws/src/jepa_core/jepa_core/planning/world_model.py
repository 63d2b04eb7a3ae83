"""World-model facade for planning: encoder + action-conditioned predictor -> batched rollouts and CEM energies.

Rollouts follow the official planner: at each horizon step the predictor sees every frame so far (context and
predictions), every action so far and every pose so far (integrated in torch like `compute_new_pose`), the last N
output tokens are layer-normed and fed back. Observed history steps (K > 1) are identical for every candidate, so their
keys/values are computed once per planning step (`make_context`) and shared by all candidates and CEM iterations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from jepa_core.models.ac_predictor import ACContextCache, VisionTransformerPredictorAC
from jepa_core.models.encoder import VisionTransformer
from jepa_core.models.representations import encode_frames, normalize_reps
from jepa_core.planning.cem import EnergyFn
from jepa_core.planning.pose_prior import GoalPositionPrior
from jepa_core.planning.poses import STATE_DIM, rollout_poses
from jepa_core.transforms import planning_transform_views
from jepa_core.views import check_view_weights, view_count, view_token_weights

CPU_TOKENS_PER_CALL = 4096
GPU_ACTIVATION_BUDGET_MB = 4096
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune")


class PlanningInterrupted(RuntimeError):  # noqa: N818 (an interruption, not an error)
    """Raised out of an energy function (so out of `MPCController.step`) once its `interrupt` callback returns True."""


def raise_if_interrupted(interrupt: Callable[[], bool] | None) -> None:
    """Before a predictor call: PlanningInterrupted once `interrupt` (cancel, preemption, timeout) returns True."""
    if interrupt is not None and interrupt():
        raise PlanningInterrupted("planning interrupted")


def mean_abs_energy(
    predictions: torch.Tensor, goal: torch.Tensor, token_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean |prediction - goal| over channels and tokens: predictions [S, H, N, D], goal [N, D] -> [S, H]. The official
    energy weighs every token alike (None); `token_weights` [N] (mean 1) weigh the views of a tiled frame."""
    if token_weights is None:
        return (predictions - goal).abs().mean(dim=(-2, -1))
    return ((predictions - goal).abs().mean(dim=-1) * token_weights).mean(dim=-1)


def candidate_activation_bytes(
    predictor: VisionTransformerPredictorAC, new_steps: int, past_steps: int, element_bytes: int, fused: bool
) -> int:
    """Upper estimate of one candidate's activation memory in one predictor call, bytes.

    Only one block's activations live at a time (inference), so the estimate sums everything a block holds for
    `new_steps` steps attending to `past_steps` cached steps: the fp32 residual stream in and out, the fp32 norm output,
    q/k/v with their rotated copies, attention and MLP outputs in the compute dtype, and either the score matrix
    (scores, fp32 probabilities and their cast: the CPU path) or the per-candidate copy of the cached keys/values that
    fused attention needs (`fused`, the GPU path). Input frames and the output projection are counted too.
    """
    step_tokens = predictor.cond_tokens + predictor.tokens_per_frame
    new, past = new_steps * step_tokens, past_steps * step_tokens
    block = predictor.predictor_blocks[0]
    width, hidden, heads = block.attn.qkv.in_features, block.mlp.fc1.out_features, block.attn.num_heads
    per_token = width * (3 * 4 + 9 * element_bytes) + 2 * hidden * element_bytes
    attention = (
        2 * (past + new) * width * element_bytes if fused else heads * new * (past + new) * (4 + 2 * element_bytes)
    )
    frames = new_steps * predictor.tokens_per_frame * predictor.embed_dim * (4 + element_bytes) * 2
    return new * per_token + attention + frames


def automatic_chunk(
    predictor: VisionTransformerPredictorAC,
    device_type: str,
    new_steps: int,
    past_steps: int,
    element_bytes: int,
    budget_mb: int = GPU_ACTIVATION_BUDGET_MB,
) -> int:
    """Candidates per predictor call: on CPU about CPU_TOKENS_PER_CALL tokens; elsewhere as many as fit `budget_mb`
    of activations (`candidate_activation_bytes`, fused attention on CUDA); at least 1."""
    if device_type == "cpu":
        return max(1, CPU_TOKENS_PER_CALL // (predictor.cond_tokens + predictor.tokens_per_frame))
    per_candidate = candidate_activation_bytes(predictor, new_steps, past_steps, element_bytes, device_type == "cuda")
    return max(1, budget_mb * 2**20 // per_candidate)


@dataclass(frozen=True)
class WorldModelConfig:
    """Where and how the world model runs."""

    device: str = "cpu"  # torch device of the models and every planning tensor
    autocast_dtype: torch.dtype | None = None  # e.g. torch.bfloat16 for the predictor/encoder matmuls; None = fp32
    use_context_cache: bool = True  # prefill the K-1 observed history steps once per planning step
    # Candidates per predictor call: -1 = automatic (on CPU about CPU_TOKENS_PER_CALL tokens per call, which keeps
    # activations cache-resident and is ~1.4x faster for small models; on a GPU as many as fit in
    # `activation_budget_mb`), 0 = all at once, n > 0 = n.
    candidate_chunk: int = -1
    activation_budget_mb: int = GPU_ACTIVATION_BUDGET_MB  # GPU automatic chunking: activations per predictor call
    # torch.compile the predictor's candidate calls: "" = eager, "default", "reduce-overhead" (CUDA graphs on a GPU),
    # "max-autotune"; each distinct call shape compiles once (a few per planning setup).
    compile_mode: str = ""
    # Energy weight of each camera view of a tiled frame (jepa_core.views), in the checkpoint's view order; one value
    # (or equal ones) = every token alike, the official energy.
    view_weights: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        """Reject settings that cannot work, naming the field."""
        try:
            check_view_weights(self.view_weights)
        except ValueError as error:
            raise ValueError(f"WorldModelConfig.view_weights: {error}") from None
        if self.candidate_chunk < -1:
            raise ValueError(
                f"WorldModelConfig.candidate_chunk: expected -1, 0 or a positive count, got {self.candidate_chunk}"
            )
        if self.activation_budget_mb < 1:
            raise ValueError(f"WorldModelConfig.activation_budget_mb: expected >= 1, got {self.activation_budget_mb}")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(
                f"WorldModelConfig.compile_mode: expected one of {COMPILE_MODES}, got {self.compile_mode!r}"
            )


@dataclass
class PlanningContext:
    """The observed steps candidates continue from: K frames, K states and the K-1 actions executed between them."""

    frames: torch.Tensor  # [K, N, D] normalised representations, oldest first; the last is the current frame
    states: torch.Tensor  # [K, 7] end-effector states of those frames
    actions: torch.Tensor  # [K-1, 7] executed actions between consecutive frames
    cache: ACContextCache | None  # keys/values of steps 0..K-2 (batch 1), None when K == 1 or caching is off

    @property
    def steps(self) -> int:
        """Number of observed frames K."""
        return self.frames.shape[0]


class WorldModel:
    """Encodes frames into AC representations and predicts the representations candidate action sequences lead to."""

    def __init__(
        self,
        predictor: VisionTransformerPredictorAC,
        encoder: VisionTransformer | None = None,
        config: WorldModelConfig | None = None,
        goal_prior: GoalPositionPrior | None = None,
    ) -> None:
        """Move the models to the configured device in eval mode; `encoder` may be None when goals and frames arrive
        already encoded (e.g. from the perception node), which keeps only one encoder in GPU memory. `goal_prior` adds
        its pull towards the goal image's decoded flange position to the planning energy (None: the official energy)."""
        self.config = config or WorldModelConfig()
        self.device = torch.device(self.config.device)
        self.predictor = predictor.to(self.device).eval()
        self.encoder = None if encoder is None else encoder.to(self.device).eval()
        self.tokens_per_frame = predictor.tokens_per_frame
        self.embed_dim = predictor.embed_dim
        weights = view_token_weights((predictor.grid_height, predictor.grid_width), self.config.view_weights)
        self.token_weights = None if weights is None else torch.from_numpy(weights).to(self.device)  # [N] or None
        if goal_prior is not None:
            probe = goal_prior.probe
            if (probe.tokens, probe.dim) != (self.tokens_per_frame, self.embed_dim):
                raise ValueError(
                    f"goal_prior: its probe reads {probe.tokens} tokens x {probe.dim}, the predictor's frames are "
                    f"{self.tokens_per_frame} x {self.embed_dim}"
                )
            goal_prior = replace(goal_prior, probe=probe.to(self.device).eval())
        self.goal_prior = goal_prior
        mode = self.config.compile_mode
        self._predict = torch.compile(self.predictor, mode=mode, dynamic=False) if mode else self.predictor

    def chunk_size(self, context: PlanningContext, horizon: int) -> int:
        """Candidates per predictor call (0 = all) for rollouts of `horizon` steps from `context`: the configured
        count, or automatic for the device, sized for the largest call (the last horizon step)."""
        if self.config.candidate_chunk >= 0:
            return self.config.candidate_chunk
        cached = context.cache is not None
        past = context.cache.steps if cached else 0
        new = horizon + (0 if cached else context.steps - 1)
        dtype = self.config.autocast_dtype or torch.float32
        element_bytes = dtype.itemsize
        budget = self.config.activation_budget_mb
        return automatic_chunk(self.predictor, self.device.type, new, past, element_bytes, budget)

    def _autocast(self):
        """Autocast context for model calls (a no-op in fp32)."""
        dtype = self.config.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _require_encoder(self) -> VisionTransformer:
        """The encoder, or a clear error when this world model was built without one."""
        if self.encoder is None:
            raise RuntimeError("WorldModel was built without an encoder; pass encoder=... to encode frames locally")
        return self.encoder

    @torch.inference_mode()
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Preprocessed frames [B, 3, H, W] -> normalised AC representations [B, N, D] (float32)."""
        encoder = self._require_encoder()
        with self._autocast():
            return encode_frames(encoder, frames.to(self.device)).float()

    def encode_images(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """RGB uint8 frames [B, H, V*W, 3] -> representations [B, N, D], with the official planning transform of each
        of the V views the encoder reads (jepa_core.views; V = 1 for square encoder inputs)."""
        img_size = self._require_encoder().img_size
        pixels = planning_transform_views(images, size=img_size[0], views=view_count(img_size), device=self.device)
        return self.encode(pixels)

    def check_representation(self, name: str, reps: torch.Tensor) -> None:
        """Raise when representations are not [..., N, D] of this predictor."""
        expected = (self.tokens_per_frame, self.embed_dim)
        if reps.dim() < 2 or tuple(reps.shape[-2:]) != expected:
            raise ValueError(f"{name}: expected shape [..., {expected[0]}, {expected[1]}], got {tuple(reps.shape)}")

    @torch.inference_mode()
    def make_context(
        self, frames: torch.Tensor, states: torch.Tensor, actions: torch.Tensor | None = None
    ) -> PlanningContext:
        """Context from K observed frames [K, N, D], their states [K, 7] and the K-1 executed actions [K-1, 7].

        K = 1 is the official planner (current frame only). For K > 1 the history's keys/values are computed here, once.
        """
        self.check_representation("frames", frames)
        K = frames.shape[0]
        actions = torch.zeros(0, STATE_DIM) if actions is None else actions
        if frames.dim() != 3 or tuple(states.shape) != (K, STATE_DIM) or tuple(actions.shape) != (K - 1, STATE_DIM):
            raise ValueError(
                f"context: expected frames [K, N, D], states [K, 7], actions [K-1, 7]; got {tuple(frames.shape)}, "
                f"{tuple(states.shape)}, {tuple(actions.shape)}"
            )
        frames, states, actions = (t.to(self.device, torch.float32) for t in (frames, states, actions))
        cache = None
        if K > 1 and self.config.use_context_cache:
            with self._autocast():
                history = frames[None, :-1].flatten(1, 2)  # [1, (K-1)*N, D]
                cache = self.predictor.prefill(history, actions[None], states[None, :-1])
        return PlanningContext(frames=frames, states=states, actions=actions, cache=cache)

    def _predict_last(self, context: PlanningContext, frames, actions, states) -> torch.Tensor:
        """One predictor call on the candidates' steps [S, T, ...] -> normalised next frame [S, N, D] (float32).

        Without a cache the history steps are prepended explicitly (the official full-sequence call).
        """
        S = frames.shape[0]
        if context.cache is None and context.steps > 1:
            history_frames = context.frames[None, :-1].expand(S, -1, -1, -1)  # [S, K-1, N, D]
            frames = torch.cat([history_frames, frames], dim=1)
            actions = torch.cat([context.actions[None].expand(S, -1, -1), actions], dim=1)
            states = torch.cat([context.states[None, :-1].expand(S, -1, -1), states], dim=1)
        with self._autocast():
            out = self._predict(frames.flatten(1, 2), actions, states, cache=context.cache)  # [S, T*N, D]
        return normalize_reps(out[:, -self.tokens_per_frame :].float())

    @torch.inference_mode()
    def rollout(self, context: PlanningContext, candidates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate action sequences [S, H, 7] -> predicted representations [S, H, N, D] and poses [S, H+1, 7].

        Poses start with the current state; prediction h is the frame after executing actions 0..h.
        """
        if candidates.dim() != 3 or candidates.shape[-1] != STATE_DIM:
            raise ValueError(f"candidates: expected shape [S, H, {STATE_DIM}], got {tuple(candidates.shape)}")
        S, H, _ = candidates.shape
        candidates = candidates.to(self.device, torch.float32)
        poses = rollout_poses(context.states[-1], candidates)  # [S, H+1, 7]
        frames = [context.frames[-1].expand(S, -1, -1)]  # each [S, N, D]
        for step in range(H):
            stacked = torch.stack(frames, dim=1)  # [S, step+1, N, D]
            frames.append(self._predict_last(context, stacked, candidates[:, : step + 1], poses[:, : step + 1]))
        return torch.stack(frames[1:], dim=1), poses

    def step_energies(self, predictions: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """This model's energy (`mean_abs_energy` with its view weights): predictions [S, H, N, D], goal [N, D] ->
        [S, H]."""
        return mean_abs_energy(predictions, goal, self.token_weights)

    def energy_fn(
        self, context: PlanningContext, goal: torch.Tensor, interrupt: Callable[[], bool] | None = None
    ) -> EnergyFn:
        """Energy callable for `CEMPlanner.plan`: candidates [S, H, 7] -> per-step energies [S, H] to `goal` [N, D],
        in chunks of `chunk_size`; `interrupt` is polled before each chunk's predictor call (`raise_if_interrupted`),
        so a long plan on a big model honours a cancel within one call. With a goal prior each step's energy also
        gets its penalty on the step's rolled-out flange position."""
        self.check_representation("goal", goal)
        goal = goal.reshape(self.tokens_per_frame, self.embed_dim).to(self.device, torch.float32)
        prior = self.goal_prior
        goal_position = None if prior is None else prior.goal_position(goal)  # [3]

        def energies(candidates: torch.Tensor) -> torch.Tensor:
            chunk = self.chunk_size(context, candidates.shape[1])
            pieces = []
            for piece in candidates.split(chunk) if chunk > 0 else (candidates,):
                raise_if_interrupted(interrupt)
                predictions, poses = self.rollout(context, piece)  # [S, H, N, D], [S, H+1, 7]
                energy = self.step_energies(predictions, goal)  # [S, H]
                if prior is not None:
                    energy = energy + prior.penalty(poses[:, 1:, :3], goal_position)
                pieces.append(energy)
            return torch.cat(pieces)  # [S, H]

        return energies
