"""Full-size V-JEPA 2-AC on one GPU: ViT-g encoder latency and CEM planning time with the AC giant predictor.

CUDA (the full configuration): the released architectures (ViT-g encoder, 1 B parameters; AC giant predictor, 0.3 B)
with random weights materialised on the GPU (the predictor's weights "informative" as in benchmarks/planner.py, so
actions change predictions), bf16 autocast, SDPA attention:
  - encoder ms per frame, 256 px, from uint8 host images (pinned transfer, planning transform) to representations:
    a batch of 1 frame and of 8 frames (each frame one tubelet, the AC representation);
  - CEM seconds per action at the paper's 800 samples x 10 iterations and at the project's same-quality setting
    (benchmarks/planner.py SAME_QUALITY_CEM: 400 samples, warm start, early stop), for K=1 (the paper) and K=4 history
    (keys/values prefilled once per step); a few imagined closed-loop steps each, the 800x10 plan driving the loop;
    quality = the fast plan's energy within 1% of 800x10's energy, and within 1% of its gain over the zero action;
  - peak GPU memory, and whether the CEM loop syncs the host (torch.cuda sync debug mode);
  - --compile: the predictor under torch.compile (mode reduce-overhead: CUDA graphs), 800x10 against eager.
CPU: the same code on a reduced configuration (vit_small_256 encoder and AC predictor, fp32, fewer samples), printed
as such: a check that the benchmark runs, not a full-size measurement (tests/unit/test_models_fullsize_smoke.py runs
the full-size models once on the CPU).
Usage: scripts/run.sh python benchmarks/fullsize.py [--device cuda] [--compile] [--states 3]
Last line: RESULT device=<cuda|cpu> config=<full|reduced> encoder_ms_per_frame=.. cem_paper_s=.. cem_fast_s=..
cem_paper_k4_s=.. cem_fast_k4_s=.. peak_gpu_gb=.. [compile_speedup=..]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script (make bench): the sibling benchmarks are importable from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.planner import (
    SAME_QUALITY_CEM,
    START_STATE,
    imagined_goal,
    informative_init,
    peak_rss_mb,
    random_reps,
)
from jepa_core.planning.cem import CEMConfig, CEMPlanner, CEMResult
from jepa_core.planning.poses import pose_differences
from jepa_core.planning.world_model import WorldModel, WorldModelConfig
from jepa_core.presets import build_ac_predictor, build_encoder, materialize


@dataclass(frozen=True)
class Setup:
    """Models, precision and CEM schedules of one configuration."""

    name: str  # "full" or "reduced"
    encoder: str  # encoder preset
    predictor: str  # AC predictor preset
    dtype: torch.dtype | None  # autocast dtype (None = fp32)
    paper: CEMConfig  # the paper's fixed schedule (reduced: fewer samples/iterations)
    fast: CEMConfig  # the project's same-quality setting (reduced: samples scaled like the paper's)
    compile_mode: str  # torch.compile mode for --compile


FULL = Setup(
    "full", "vit_giant_xformers", "vit_ac_giant", torch.bfloat16, CEMConfig(), SAME_QUALITY_CEM, "reduce-overhead"
)
REDUCED = Setup(
    "reduced",
    "vit_small_256",
    "vit_small_256",
    None,  # bf16 on a CPU without bf16 units is slower than fp32 (benchmarks/encoder.py)
    CEMConfig(samples=16, top_k=4, iterations=2),
    replace(SAME_QUALITY_CEM, samples=8, top_k=4, iterations=2),
    "default",
)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so wall times include it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_world_model(setup: Setup, device: torch.device) -> WorldModel:
    """The setup's encoder and AC predictor, random weights materialised on `device` (no host copy of the encoder)."""
    encoder = materialize(build_encoder(setup.encoder, device="meta"), device=device, seed=0)
    predictor = informative_init(materialize(build_ac_predictor(setup.predictor, device="meta"), device=device), 0)
    config = WorldModelConfig(device=str(device), autocast_dtype=setup.dtype)
    return WorldModel(predictor, encoder, config)


def encoder_ms_per_frame(world_model: WorldModel, frames: int, repeats: int) -> float:
    """Median ms per frame: uint8 host images [frames, 256, 256, 3] -> representations on the device."""
    images = torch.randint(0, 256, (frames, 256, 256, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    world_model.encode_images(images)  # warm-up
    times = []
    for _ in range(repeats):
        synchronize(world_model.device)
        start = time.perf_counter()
        world_model.encode_images(images)
        synchronize(world_model.device)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3 / frames


@dataclass
class Step:
    """One planning step: wall time (history prefill included) and the plan."""

    seconds: float
    result: CEMResult
    zero_energy: float


def executed_actions(states: torch.Tensor) -> torch.Tensor:
    """Actions executed between consecutive observed states [K, 7] -> [K-1, 7] (none for K = 1)."""
    return pose_differences(states) if states.shape[0] > 1 else states.new_zeros(0, 7)


def plan_step(world_model: WorldModel, planner: CEMPlanner, history, goal, seed: int, warm=None) -> Step:
    """Prefill the history, plan with seeded draws; times everything from the observed history to the plan."""
    frames, states = history
    synchronize(world_model.device)
    start = time.perf_counter()
    context = world_model.make_context(frames, states, executed_actions(states))
    energy_fn = world_model.energy_fn(context, goal)
    generator = torch.Generator(device=world_model.device).manual_seed(seed)
    result = planner.plan(energy_fn, warm_start=warm, generator=generator)  # synchronizes on CUDA
    seconds = time.perf_counter() - start
    zero = energy_fn(torch.zeros(1, planner.config.horizon, 7, device=world_model.device))[0, -1]
    return Step(seconds, result, float(zero))


def initial_history(world_model: WorldModel, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """K random layer-normed frames [K, N, D] and nearby states [K, 7], on the device."""
    frames = random_reps(steps, world_model.tokens_per_frame, world_model.embed_dim, seed=2).to(world_model.device)
    states = START_STATE + 0.01 * torch.arange(steps, dtype=torch.float32)[:, None]
    return frames, states.to(world_model.device)


def advance(world_model: WorldModel, history, action: torch.Tensor, steps: int):
    """Imagined execution: the predicted next frame and pose join the history (the last `steps` kept)."""
    frames, states = history
    context = world_model.make_context(frames, states, executed_actions(states))
    predictions, poses = world_model.rollout(context, action[None])  # [1, H, N, D], [1, H+1, 7]
    frames = torch.cat([frames, predictions[:, 0]])[-steps:]
    states = torch.cat([states, poses[:, 1]])[-steps:]
    return frames, states


def planning_loop(world_model: WorldModel, setup: Setup, context_steps: int, states: int) -> dict:
    """Closed loop in imagination driven by the paper schedule's plans; our fast setting (warm-started from its own
    previous plan) planned at every visited state. Medians of the per-step times and the quality hit rates."""
    paper, fast = CEMPlanner(setup.paper, world_model.device), CEMPlanner(setup.fast, world_model.device)
    history = initial_history(world_model, context_steps)
    goal = imagined_goal(world_model, history[0][-1], history[1][-1])
    plan_step(world_model, paper, history, goal, seed=99)  # warm-up: RoPE tables, masks, kernels, compilation
    rows, previous = [], None
    for index in range(states):
        reference = plan_step(world_model, paper, history, goal, seed=index)
        ours = plan_step(world_model, fast, history, goal, seed=1000 + index, warm=previous)
        previous = ours.result
        ref_energy, our_energy = float(reference.result.energy), float(ours.result.energy)
        gain = max(reference.zero_energy - ref_energy, 1e-12)
        rows.append(
            (reference.seconds, ours.seconds, our_energy <= 1.01 * ref_energy, our_energy - ref_energy <= 0.01 * gain)
        )
        print(
            f"  K={context_steps} state {index}: paper {reference.seconds:7.3f} s E={ref_energy:.4f} | "
            f"same-quality {ours.seconds:7.3f} s E={our_energy:.4f} ({ours.result.iterations} it, "
            f"{ours.result.stop_reason})"
        )
        history = advance(world_model, history, reference.result.actions, context_steps)
    paper_s, fast_s, within_energy, within_gain = zip(*rows, strict=True)
    return {
        "paper_s": statistics.median(paper_s),
        "fast_s": statistics.median(fast_s),
        "hit_energy": sum(within_energy) / states,
        "hit_gain": sum(within_gain) / states,
    }


@contextmanager
def forbid_host_syncs(device: torch.device):
    """CUDA sync debug mode 'error' (any op that waits for the GPU raises); the plan's final explicit synchronize, which
    makes elapsed_s honest, is allowed."""
    if device.type != "cuda":
        yield "not checked (CPU)"
        return
    real_synchronize = torch.cuda.synchronize
    torch.cuda.synchronize = lambda *args, **kwargs: None
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield "none in the CEM loop"
    finally:
        torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize = real_synchronize
        real_synchronize(device)


def host_sync_check(world_model: WorldModel, setup: Setup) -> str:
    """Plan once (paper schedule, K=4 history prefilled outside the check) with host syncs forbidden."""
    frames, states = initial_history(world_model, 4)
    context = world_model.make_context(frames, states, executed_actions(states))
    energy_fn = world_model.energy_fn(context, frames[0])
    planner = CEMPlanner(setup.paper, world_model.device)
    generator = torch.Generator(device=world_model.device).manual_seed(0)
    planner.plan(energy_fn, generator=generator)  # warm-up outside the check (one-time tables)
    try:
        with forbid_host_syncs(world_model.device) as verdict:
            planner.plan(energy_fn, generator=generator)
    except RuntimeError as error:  # the sync debug mode's error names the op
        return f"FOUND: {str(error).splitlines()[0]}"
    return verdict


def compiled_speedup(setup: Setup, eager: WorldModel) -> tuple[float, str]:
    """Paper-schedule time with the predictor under torch.compile vs eager: the same weights (the compiled world model
    wraps the eager one's modules), the same seeds, runs interleaved, best of 3 each after warm-up/compilation."""
    start = time.perf_counter()
    compiled = WorldModel(eager.predictor, eager.encoder, replace(eager.config, compile_mode=setup.compile_mode))
    best, energy_gap = {}, 0.0
    for steps in (1, 4):
        history = initial_history(eager, steps)
        goal = imagined_goal(eager, history[0][-1], history[1][-1])
        planner = CEMPlanner(setup.paper, eager.device)
        for world_model in (eager, compiled):
            for seed in (99, 98):  # compiles every call shape of this setup
                plan_step(world_model, planner, history, goal, seed=seed)
        runs = {"eager": [], "compiled": []}
        for seed in range(3):
            for name, world_model in (("eager", eager), ("compiled", compiled)):
                runs[name].append(plan_step(world_model, planner, history, goal, seed=seed))
        for name, steps_run in runs.items():
            best[name, steps] = min(step.seconds for step in steps_run)
        energies = [float(step.result.energy) for name in ("eager", "compiled") for step in runs[name][:1]]
        energy_gap = max(energy_gap, abs(energies[0] - energies[1]))
    speedup = best["eager", 1] / best["compiled", 1]
    note = (
        f"mode {setup.compile_mode}: K=1 {best['compiled', 1]:.3f} vs eager {best['eager', 1]:.3f} s, K=4 "
        f"{best['compiled', 4]:.3f} vs {best['eager', 4]:.3f} s ({best['eager', 4] / best['compiled', 4]:.2f}x); "
        f"plan energy |diff| {energy_gap:.1e}; compile + runs {time.perf_counter() - start:.0f} s"
    )
    return speedup, note


def main() -> None:
    """Measure the configuration of the chosen device, print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", default=default_device, help=f"cuda or cpu (default here: {default_device})")
    parser.add_argument(
        "--states", type=int, default=0, help="imagined closed-loop states per K (0: 3 on CUDA, 1 on CPU)"
    )
    parser.add_argument("--repeats", type=int, default=10, help="encoder timing repeats (median)")
    parser.add_argument("--compile", action="store_true", help="also time the predictor under torch.compile")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1, as benchmarks/planner.py)")
    args = parser.parse_args()
    device = torch.device(args.device)
    setup = FULL if device.type == "cuda" else REDUCED
    states = args.states or (3 if device.type == "cuda" else 1)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 leftovers (poses are float64 regardless)
        torch.cuda.reset_peak_memory_stats(device)
        card = torch.cuda.get_device_name(device)
    else:
        torch.set_num_threads(args.threads)
        card = f"CPU, {torch.get_num_threads()} thread(s)"
        print(
            "NOTE: no CUDA device; running the REDUCED configuration (vit_small_256 encoder and AC predictor, fp32, "
            f"paper schedule {setup.paper.samples}x{setup.paper.iterations}, same-quality {setup.fast.samples} "
            "samples). These numbers are not full-size measurements."
        )
    print(f"== {setup.name} configuration on {card}: {setup.encoder} + {setup.predictor}, autocast {setup.dtype}")
    start = time.perf_counter()
    world_model = build_world_model(setup, device)
    print(f"  models built in {time.perf_counter() - start:.1f} s")

    encoder_1 = encoder_ms_per_frame(world_model, 1, args.repeats)
    encoder_8 = encoder_ms_per_frame(world_model, 8, max(1, args.repeats // 2))
    k1 = planning_loop(world_model, setup, 1, states)
    k4 = planning_loop(world_model, setup, 4, states)
    syncs = host_sync_check(world_model, setup)
    peak_gb = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    compile_note, speedup = "", None
    if args.compile:
        try:
            speedup, compile_note = compiled_speedup(setup, world_model)
        except Exception as error:  # a compiler failure is a result too; the eager numbers above still stand
            compile_note = f"FAILED: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            speedup = float("nan")

    paper = f"{setup.paper.samples}x{setup.paper.iterations}"
    table = [
        ("encoder, 1 frame", f"{encoder_1:.1f} ms/frame", "uint8 host image -> representation, 256 px"),
        ("encoder, 8 frames", f"{encoder_8:.1f} ms/frame", "a batch of 8 frames, each one tubelet"),
        (f"CEM {paper}, K=1", f"{k1['paper_s']:.3f} s/action", "paper schedule, horizon 1"),
        (
            "CEM same-quality, K=1",
            f"{k1['fast_s']:.3f} s/action",
            f"within 1% of {paper}'s energy {k1['hit_energy']:.0%}, of its gain {k1['hit_gain']:.0%}",
        ),
        (f"CEM {paper}, K=4", f"{k4['paper_s']:.3f} s/action", "history keys/values prefilled once per step"),
        (
            "CEM same-quality, K=4",
            f"{k4['fast_s']:.3f} s/action",
            f"within 1% of the energy {k4['hit_energy']:.0%}, of the gain {k4['hit_gain']:.0%}",
        ),
        ("host syncs in CEM loop", syncs, "CUDA sync debug mode 'error' during one plan"),
        ("peak GPU memory", f"{peak_gb:.1f} GiB" if device.type == "cuda" else "n/a", "weights + activations"),
    ]
    if compile_note:
        table.append(("torch.compile", f"{speedup:.2f}x", compile_note))
    print(f"\n{setup.name} configuration, {card}")
    print(f"{'case':<26} {'value':>16}  notes")
    for case, value, notes in table:
        print(f"{case:<26} {value:>16}  {notes}")
    print(f"same-quality setting: {setup.fast}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    result = (
        f"RESULT device={device.type} config={setup.name} encoder_ms_per_frame={encoder_1:.1f} "
        f"cem_paper_s={k1['paper_s']:.3f} cem_fast_s={k1['fast_s']:.3f} cem_paper_k4_s={k4['paper_s']:.3f} "
        f"cem_fast_k4_s={k4['fast_s']:.3f} peak_gpu_gb={peak_gb:.1f}"
    )
    print(result + (f" compile_speedup={speedup:.2f}" if speedup is not None else ""))


if __name__ == "__main__":
    main()
