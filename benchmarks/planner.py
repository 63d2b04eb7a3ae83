"""Planner benchmark: CEM MPC with the V-JEPA 2-AC world model, ours vs an official-style loop.

(a) a small preset (parity_tiny: width 192, depth 2, 16 tokens/frame) at the paper's 800 samples x 10 iterations;
(b) a ViT-L-width AC predictor (width 1024, depth 24, 16 heads, encoder dim 1024, 128 px -> 64 tokens/frame) with
fewer samples (--vitl-samples, default 8) because one candidate costs ~0.5 s on a CPU core.
 (i)   same work, done faster: our world model + CEM vs a loop written like the official planner (RoPE sin/cos
       recomputed in every attention call, action/state tokens through their own qkv calls, per-sample pose
       integration in a Python/SciPy loop with host round trips, all candidates in one call); ours uses cached RoPE
       tables, batched torch poses and, on CPU, cache-sized candidate chunks. Same draws, energies checked identical.
 (ii)  same quality, less work: wall time of our planner (warm start from its previous plan, early stopping, time
       budget) vs the fixed 800x10 schedule, median over the states of closed-loop episodes driven by the 800x10
       plans: by default the trained models/sim_manip.pt (same size as (a)) in the MuJoCo simulator, reach task,
       5 steps per seeded episode (--quality-model random: the random model's own imagined loop). Quality: the plan's
       energy within 1% of the 800x10 plan's (E <= 1.01 E_ref), and the stricter "within 1% of the energy gain over
       the zero action" (E - E_ref <= 1% (E_zero - E_ref)), which is the meaningful one for random weights.
 (iii) history context K=4 with and without the prefilled KV cache.
Other weights are random but "informative" (the parity fixtures' recipe: N(0, 1/fan_in) matrices, action/state
encoders x6, output projection x0.2) so that actions change predictions. Runs on 1 thread by default: on a shared
2-core machine every OpenMP parallel region waits for a descheduled thread (~10 ms per op), which swamps the numbers.
Last line: RESULT speedup_same_work=<x> speedup_same_quality=<y> speedup_kv_k4=<z> ms_per_step_small=<w>
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.transform import Rotation

from jepa_core.models.ac_predictor import VisionTransformerPredictorAC, block_causal_mask
from jepa_core.models.representations import normalize_reps
from jepa_core.models.rope import rope_segment_dim
from jepa_core.planning.cem import CEMConfig, CEMPlanner, EnergyFn
from jepa_core.planning.loading import WorldModelSpec, build_world_model
from jepa_core.planning.poses import integrate_poses, pose_differences
from jepa_core.planning.world_model import WorldModel, WorldModelConfig
from jepa_core.presets import build_ac_predictor

REPO_ROOT = Path(__file__).resolve().parents[1]
START_STATE = torch.tensor([0.5, 0.0, 0.3, 3.1, 0.0, 0.0, 0.3])
GOAL_ACTION = torch.tensor([0.05, -0.04, 0.03, 0.0, 0.0, 0.0, 0.5])  # the goal is 3 such steps away
# Our planner settings that reach the 800x10 plan's quality (within 1% of its energy) in less time: (ii) below.
SAME_QUALITY_CEM = CEMConfig(samples=400, std_tolerance=0.3, energy_tolerance=1e-5, min_iterations=2, time_budget_s=3.0)


# ---- models ---------------------------------------------------------------------------------------------------------
def informative_init(model: VisionTransformerPredictorAC, seed: int) -> VisionTransformerPredictorAC:
    """Random weights whose predictions depend on the actions (the parity fixtures' gains)."""
    generator = torch.Generator().manual_seed(seed)
    gains = {"action_encoder": 6.0, "state_encoder": 6.0, "predictor_proj": 0.2}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear):
                gain = gains.get(name, 1.0)
                fan_in = module.weight.shape[1]
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * gain / fan_in**0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.05 * gain)
    return model.eval()


def small_predictor() -> VisionTransformerPredictorAC:
    """(a) the smallest preset."""
    return informative_init(build_ac_predictor("parity_tiny"), seed=0)


def vitl_predictor() -> VisionTransformerPredictorAC:
    """(b) the released AC predictor's width/depth/heads (1024/24/16) on a ViT-L encoder width, 128 px frames."""
    model = build_ac_predictor("vit_ac_giant", img_size=(128, 128), embed_dim=1024, num_frames=16)
    return informative_init(model, seed=0)


def random_reps(count: int, tokens: int, dim: int, seed: int) -> torch.Tensor:
    """Layer-normed random representations [count, N, D]."""
    return normalize_reps(torch.randn(count, tokens, dim, generator=torch.Generator().manual_seed(seed)))


# ---- the official-style loop ----------------------------------------------------------------------------------------
def official_rotate(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """RoPE of one segment as the official code does it: frequencies, sin and cos recomputed on every call."""
    half = x.shape[-1] // 2
    omega = torch.arange(half, dtype=x.dtype, device=x.device) / half
    omega = 1.0 / 10000**omega
    freq = positions.to(x.dtype).unsqueeze(-1) * omega  # [N, S/2]
    sin, cos = freq.sin().repeat(1, 2), freq.cos().repeat(1, 2)  # tiled, [N, S]
    pairs = x.unflatten(-1, (-1, 2))
    partner = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos + partner * sin


def official_attention(attn, x: torch.Tensor, steps: int, grid: tuple[int, int], cond: int, mask) -> torch.Tensor:
    """Attention structured like the official ACRoPEAttention: conditioning tokens through their own qkv calls and
    time-only rotation, frame tokens rotated per segment, everything merged back per step before SDPA."""
    B, _, C = x.shape
    heads, hd = attn.num_heads, attn.head_dim
    seg = rope_segment_dim(hd)
    rows, cols = grid
    x = x.view(B, steps, cond + rows * cols, C)
    step_pos = torch.arange(steps, device=x.device)
    cond_qkv = []
    for i in range(cond):
        q, k, v = attn.qkv(x[:, :, i]).unflatten(-1, (3, heads, hd)).permute(2, 0, 3, 1, 4)  # [B, h, T, hd]
        q = torch.cat([official_rotate(q[..., :seg], step_pos), q[..., seg:]], dim=-1)
        k = torch.cat([official_rotate(k[..., :seg], step_pos), k[..., seg:]], dim=-1)
        cond_qkv.append([t.view(B, heads, steps, 1, hd) for t in (q, k, v)])
    frames = x[:, :, cond:].flatten(1, 2)
    q, k, v = attn.qkv(frames).unflatten(-1, (3, heads, hd)).permute(2, 0, 3, 1, 4)  # [B, h, T*HW, hd]
    ids = torch.arange(steps * rows * cols, device=x.device)
    t_pos = ids // (rows * cols)
    h_pos = (ids % (rows * cols)) // cols
    w_pos = (ids % cols) * (rows / cols)

    def rotate(z: torch.Tensor) -> torch.Tensor:
        parts = [official_rotate(z[..., i * seg : (i + 1) * seg], p) for i, p in enumerate((t_pos, h_pos, w_pos))]
        return torch.cat([*parts, z[..., 3 * seg :]], dim=-1)

    merged = []
    for index, tensor in enumerate((rotate(q), rotate(k), v)):
        per_step = tensor.view(B, heads, steps, rows * cols, hd)
        merged.append(torch.cat([*(c[index] for c in cond_qkv), per_step], dim=3).flatten(2, 3))
    out = F.scaled_dot_product_attention(*merged, attn_mask=mask)  # [B, h, N, hd]
    return attn.proj(out.transpose(1, 2).reshape(B, -1, C))


def official_predict(model: VisionTransformerPredictorAC, x, actions, states, mask) -> torch.Tensor:
    """AC predictor forward with official-style attention: x [B, T*N, D] -> [B, T*N, D]."""
    B, steps = actions.shape[:2]
    tokens = model.predictor_embed(x).view(B, steps, model.tokens_per_frame, -1)
    cond = [model.action_encoder(actions).unsqueeze(2), model.state_encoder(states).unsqueeze(2)]
    h = torch.cat([*cond, tokens], dim=2).flatten(1, 2)
    n = steps * (2 + model.tokens_per_frame)
    grid = (model.grid_height, model.grid_width)
    for block in model.predictor_blocks:
        h = h + official_attention(block.attn, block.norm1(h), steps, grid, 2, mask[:n, :n])
        h = h + block.mlp(block.norm2(h))
    h = h.view(B, steps, 2 + model.tokens_per_frame, -1)[:, :, 2:].flatten(1, 2)
    return model.predictor_proj(model.predictor_norm(h))


def official_compute_new_pose(pose: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """The official planning utility: per-sample SciPy rotations on the host. pose/action [B, 1, 7] -> [B, 1, 7]."""
    device, dtype = pose.device, pose.dtype
    pose, action = pose[:, 0].cpu().numpy(), action[:, 0].cpu().numpy()
    new_xyz = pose[:, :3] + action[:, :3]
    matrices = [Rotation.from_euler("xyz", theta).as_matrix() for theta in pose[:, 3:6]]
    deltas = [Rotation.from_euler("xyz", theta).as_matrix() for theta in action[:, 3:6]]
    angles = np.stack([Rotation.from_matrix(d @ m).as_euler("xyz") for d, m in zip(deltas, matrices, strict=True)])
    gripper = np.clip(pose[:, -1:] + action[:, -1:], 0, 1)
    new_pose = np.concatenate([new_xyz, angles, gripper], axis=-1)
    return torch.from_numpy(new_pose).to(device).to(dtype)[:, None]


def official_energy_fn(model, current: torch.Tensor, state: torch.Tensor, goal: torch.Tensor) -> EnergyFn:
    """Energy as the official planner computes it: full-sequence re-runs, per-step layer_norm, SciPy poses."""
    mask = block_causal_mask(model.max_steps, 2 + model.tokens_per_frame, current.device)

    @torch.inference_mode()
    def energies(candidates: torch.Tensor) -> torch.Tensor:
        S, H, _ = candidates.shape
        frames = current[None].repeat(S, 1, 1, 1)  # [S, 1, N, D]
        poses = state.view(1, 1, 7).repeat(S, 1, 1)  # [S, 1, 7]
        per_step = []
        for step in range(H):
            out = official_predict(model, frames.flatten(1, 2), candidates[:, : step + 1], poses, mask)
            prediction = F.layer_norm(out[:, -model.tokens_per_frame :], (out.shape[-1],))
            poses = torch.cat([poses, official_compute_new_pose(poses[:, -1:], candidates[:, step : step + 1])], 1)
            frames = torch.cat([frames, prediction[:, None]], dim=1)
            per_step.append((prediction - goal).abs().mean(dim=(1, 2)))
        return torch.stack(per_step, dim=1)

    return energies


# ---- measurements ---------------------------------------------------------------------------------------------------
@dataclass
class Timed:
    """A CEM result with its wall time and energy calls."""

    seconds: float
    actions: torch.Tensor
    energy: float
    calls: list


def timed_plan(planner: CEMPlanner, energy_fn: EnergyFn, seed: int, warm=None, draws=None) -> tuple[Timed, object]:
    """Plan once and time it; records every candidate batch's energies (for the identical-energy check)."""
    calls = []

    def recording(candidates):
        energies = energy_fn(candidates)
        calls.append(energies)
        return energies

    generator = torch.Generator(device=planner.device).manual_seed(seed)
    start = time.perf_counter()
    result = planner.plan(recording, warm_start=warm, generator=generator, unit_draws=draws)
    seconds = time.perf_counter() - start
    return Timed(seconds, result.actions, float(result.energy), calls), result


def schedule(samples: int, iterations: int) -> CEMConfig:
    """Paper CEM settings with another sample/iteration count (top-k 10, or half the samples when fewer than 20)."""
    return CEMConfig(samples=samples, top_k=min(10, max(2, samples // 2)), iterations=iterations)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def imagined_goal(world_model: WorldModel, current: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Goal representation three GOAL_ACTION steps ahead of (current, state) in the model's own dynamics."""
    for _ in range(3):
        context = world_model.make_context(current[None], state[None])
        predictions, poses = world_model.rollout(context, GOAL_ACTION[None, None])
        current, state = predictions[0, 0], poses[0, 1]
    return current


def same_work(model, samples: int, iterations: int, repeats: int) -> dict:
    """(i) Plans with identical draws, ours and the official-style loop alternating; the fastest of `repeats` each."""
    N, D = model.tokens_per_frame, model.embed_dim
    (current,) = random_reps(1, N, D, seed=1)
    world_model = WorldModel(model)
    goal = imagined_goal(world_model, current, START_STATE)
    planner = CEMPlanner(schedule(samples, iterations))
    ours_fn = world_model.energy_fn(world_model.make_context(current[None], START_STATE[None]), goal)
    official_fn = official_energy_fn(model, current, START_STATE, goal)
    draws = torch.randn(iterations, 1, samples, 4, generator=torch.Generator().manual_seed(7))
    timed_plan(planner, ours_fn, 0, draws=draws)  # warm-up (allocator, caches)
    ours_runs, official_runs = [], []
    for _ in range(repeats):
        ours_runs.append(timed_plan(planner, ours_fn, 0, draws=draws)[0])
        official_runs.append(timed_plan(planner, official_fn, 0, draws=draws)[0])
    ours = min(ours_runs, key=lambda timed: timed.seconds)  # the least disturbed run of each
    official = min(official_runs, key=lambda timed: timed.seconds)
    diff = max((a - b).abs().max().item() for a, b in zip(ours.calls, official.calls, strict=True))
    same_plan = bool(torch.allclose(ours.actions, official.actions, atol=1e-6))
    return {"baseline_s": official.seconds, "ours_s": ours.seconds, "energy_diff": diff, "same_plan": same_plan}


class ImaginedWorld:
    """Closed loop inside the world model itself: executing an action replaces the frame by its prediction."""

    def __init__(self, world_model: WorldModel) -> None:
        (self.current,) = random_reps(1, world_model.tokens_per_frame, world_model.embed_dim, seed=1)
        self.state = START_STATE.clone()
        self.world_model = world_model
        self.goal = imagined_goal(world_model, self.current, self.state)

    def observe(self, index: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Current representation [N, D], state [7] and whether a new goal (episode) starts here."""
        return self.current, self.state, index == 0

    def execute(self, action: torch.Tensor) -> None:
        context = self.world_model.make_context(self.current[None], self.state[None])
        predictions, poses = self.world_model.rollout(context, action[None, None])
        self.current, self.state = predictions[0, 0], poses[0, 1]


class SimulatedWorld:
    """Closed loop in the MuJoCo Franka simulator (reach episodes, `steps` control steps per seeded episode)."""

    def __init__(self, world_model: WorldModel, steps: int = 5) -> None:
        from jepa_sim.env import FrankaSimEnv  # only this world needs MuJoCo

        self.world_model, self.steps, self.env = world_model, steps, FrankaSimEnv()
        self.observation, self.goal = None, None

    def observe(self, index: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        new_episode = index % self.steps == 0
        if new_episode:
            self.observation = self.env.reset("reach", seed=index // self.steps)
            self.goal = self.world_model.encode_images(self.env.goal_image()[None])[0]
        representation = self.world_model.encode_images(self.observation.image[None])[0]
        return representation, torch.as_tensor(self.observation.ee_state, dtype=torch.float32), new_episode

    def execute(self, action: torch.Tensor) -> None:
        self.observation = self.env.step_action(action.double().numpy())


def same_quality(world_model: WorldModel, world, states: int, fast: CEMConfig) -> dict:
    """(ii) Along a closed loop driven by the fixed 800x10 schedule, time our fast settings (warm-started from their
    own previous plan) at every visited state and compare the plans' energies."""
    reference, quick = CEMPlanner(CEMConfig()), CEMPlanner(fast)
    rows, previous = [], None
    for index in range(states):
        current, state, new_goal = world.observe(index)
        previous = None if new_goal else previous
        energy_fn = world_model.energy_fn(world_model.make_context(current[None], state[None]), world.goal)
        zero_energy = energy_fn(torch.zeros(1, 1, 7))[0, -1].item()
        ref, _ = timed_plan(reference, energy_fn, seed=index)
        ours, previous = timed_plan(quick, energy_fn, seed=1000 + index, warm=previous)
        gain = max(zero_energy - ref.energy, 1e-12)
        gap = (ours.energy - ref.energy) / gain
        rows.append((ref.seconds, ours.seconds, previous.iterations, gap <= 0.01, ours.energy <= 1.01 * ref.energy))
        world.execute(ref.actions[0])  # the reference plan drives the loop
        print(
            f"  state {index:2d}: 800x10 {ref.seconds:6.2f} s E={ref.energy:.4f} | ours {ours.seconds:5.2f} s "
            f"E={ours.energy:.4f} ({previous.iterations} it, {previous.stop_reason}) gap {gap * 100:+6.2f}% of the gain"
        )
    ref_s, ours_s, iterations, within_gain, within_energy = zip(*rows, strict=True)
    return {
        "baseline_s": statistics.median(ref_s),
        "ours_s": statistics.median(ours_s),
        "speedup": statistics.median(r / o for r, o in zip(ref_s, ours_s, strict=True)),
        "hit_gain": sum(within_gain) / states,
        "hit_energy": sum(within_energy) / states,
        "iterations": statistics.median(iterations),
    }


def quality_setup(model_arg: str, small: VisionTransformerPredictorAC):
    """World model and closed loop for (ii): the trained sim model in the simulator, or the random model imagined."""
    if model_arg == "random":
        world_model = WorldModel(small)
        return world_model, ImaginedWorld(world_model), "random parity_tiny weights, imagined closed loop"
    path = REPO_ROOT / model_arg
    if not path.is_file():
        raise SystemExit(
            f"--quality-model: {path} not found (train one with training/, or pass --quality-model random)"
        )
    world_model = build_world_model(WorldModelSpec(predictor_checkpoint=path))
    return world_model, SimulatedWorld(world_model), f"trained {model_arg} in the MuJoCo simulator (reach)"


def history_cache(model, samples: int, iterations: int, steps: int = 4) -> dict:
    """(iii) K observed steps: keys/values of the history prefilled once vs recomputed for every candidate."""
    N, D = model.tokens_per_frame, model.embed_dim
    frames = random_reps(steps, N, D, seed=2)
    states = START_STATE + 0.01 * torch.arange(steps, dtype=torch.float32)[:, None]
    executed = pose_differences(states)  # [K-1, 7]
    planner = CEMPlanner(schedule(samples, iterations))
    results = {}
    for name, cached in (("cached", True), ("uncached", False)):
        world_model = WorldModel(model, config=WorldModelConfig(use_context_cache=cached))
        start = time.perf_counter()
        context = world_model.make_context(frames, states, executed)  # prefill counted in the planning step
        timed, _ = timed_plan(planner, world_model.energy_fn(context, frames[0]), seed=0)
        results[name] = (time.perf_counter() - start, timed)
    (cached_s, cached), (uncached_s, uncached) = results["cached"], results["uncached"]
    diff = max((a - b).abs().max().item() for a, b in zip(cached.calls, uncached.calls, strict=True))
    return {"baseline_s": uncached_s, "ours_s": cached_s, "energy_diff": diff}


def pose_integration(samples: int = 800, repeats: int = 20) -> dict:
    """Pose integration of one horizon step for every candidate: the official per-sample SciPy loop vs batched torch."""
    poses = START_STATE.view(1, 1, 7).repeat(samples, 1, 1)
    actions = torch.randn(samples, 1, 7, generator=torch.Generator().manual_seed(3)) * 0.05
    timings = {}
    for name, integrate in (("baseline_s", official_compute_new_pose), ("ours_s", integrate_poses)):
        integrate(poses, actions)
        start = time.perf_counter()
        for _ in range(repeats):
            out = integrate(poses, actions)
        timings[name] = (time.perf_counter() - start) / repeats
        timings[name.replace("_s", "_out")] = out
    timings["max_diff"] = (timings.pop("baseline_out") - timings.pop("ours_out")).abs().max().item()
    return timings


def row(case: str, result: dict, notes: str) -> tuple[str, str, str, str, str]:
    """One table row: case, baseline time, our time, ratio, notes."""
    ratio = result.get("speedup", result["baseline_s"] / result["ours_s"])
    return case, seconds_text(result["baseline_s"]), seconds_text(result["ours_s"]), f"{ratio:.2f}x", notes


def seconds_text(seconds: float) -> str:
    """Seconds, or milliseconds below 0.1 s."""
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.2f} ms"


def main() -> None:
    """Run every section, print the comparison table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, see above)")
    parser.add_argument("--states", type=int, default=5, help="closed-loop states for (ii) (full run: 20)")
    parser.add_argument("--vitl-samples", type=int, default=8, help="CEM samples for the ViT-L-width model")
    parser.add_argument("--skip-vitl", action="store_true", help="only the small preset")
    parser.add_argument(
        "--quality-model",
        default="models/sim_manip.pt",
        help="(ii): trained checkpoint run in the simulator, or 'random'",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fast = SAME_QUALITY_CEM
    table = []

    print(f"== (a) small preset parity_tiny, {torch.get_num_threads()} thread(s)")
    small = small_predictor()
    work = same_work(small, samples=800, iterations=10, repeats=3)
    notes = f"official-style loop vs ours; energies max|diff| {work['energy_diff']:.1e}, same plan {work['same_plan']}"
    table.append(row("(a) same work 800x10", work, notes))
    world_model, world, description = quality_setup(args.quality_model, small)
    print(f"  same quality: {description}")
    quality = same_quality(world_model, world, args.states, fast)
    notes = (
        f"{description}; {args.states} states: within 1% of the gain {quality['hit_gain']:.0%}, "
        f"of the energy {quality['hit_energy']:.0%}; median {quality['iterations']:.0f} iterations"
    )
    table.append(row("(a) same quality", quality, notes))
    kv = history_cache(small, samples=800, iterations=2)
    table.append(
        row("(a) K=4 history 800x2", kv, f"recomputed vs prefilled KV; energies max|diff| {kv['energy_diff']:.1e}")
    )
    poses = pose_integration()
    table.append(
        row("(a) poses 800 samples", poses, f"per horizon step; SciPy loop vs torch, max|diff| {poses['max_diff']:.1e}")
    )
    print(f"  peak RSS after (a): {peak_rss_mb():.0f} MB")

    if not args.skip_vitl:
        n = args.vitl_samples
        print(f"== (b) ViT-L-width AC predictor (1024 wide, depth 24, 64 tokens/frame), {n} samples")
        large = vitl_predictor()
        work_b = same_work(large, samples=n, iterations=2, repeats=1)
        table.append(row(f"(b) same work {n}x2", work_b, f"energies max|diff| {work_b['energy_diff']:.1e}"))
        kv_b = history_cache(large, samples=n, iterations=1)
        table.append(row(f"(b) K=4 history {n}x1", kv_b, f"energies max|diff| {kv_b['energy_diff']:.1e}"))
        print(f"  peak RSS after (b): {peak_rss_mb():.0f} MB")

    print(f"\n{'case':<24} {'baseline':>10} {'ours':>10} {'ratio':>8}  notes")
    for case, baseline, ours, ratio, notes in table:
        print(f"{case:<24} {baseline:>10} {ours:>10} {ratio:>8}  {notes}")
    print(f"fast settings for (ii): {fast}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB (whole process, CPU)")
    speedups = [work["baseline_s"] / work["ours_s"], quality["speedup"], kv["baseline_s"] / kv["ours_s"]]
    print(
        f"RESULT speedup_same_work={speedups[0]:.2f} speedup_same_quality={speedups[1]:.2f} "
        f"speedup_kv_k4={speedups[2]:.2f} ms_per_step_small={work['ours_s'] * 1000:.0f}"
    )


if __name__ == "__main__":
    main()
