"""How much a frozen random encoder's planning energy registers the object and the fingers, per simulator camera.

For grasp episodes (seeds 0..episodes-1) the energy (mean |a - b| of layer-normed tokens, what the planner minimises)
between the lift goal image (cube held 10 cm up) and three other scenes: the arm at the lift pose with the cube left on
the table (a failed grasp the planner must not take for success), the arm and cube 3 cm off (a position error of the
size the planner resolves), and the approach vs grasp goals (only the finger opening differs). A camera is better for
manipulation the larger the first and last are relative to the second. The encoder is the seeded random `vit_tiny_128`
of the CPU-sized models (`training.posttrain` defaults), at --image-size; the last rows tile the exterior and the wrist
camera (the same random encoder for two views side by side, as `posttrain --views exterior wrist`), each view encoded
alone (`--view-encoding separate`) or the tiled frame as one image (`joint`).
Usage: scripts/run.sh python -m benchmarks.camera_energy [--episodes 8] [--image-size 64]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from jepa_core.models.representations import encode_frames
from jepa_core.planning.world_model import mean_abs_energy
from jepa_core.transforms import planning_transform_views
from jepa_core.views import view_count
from jepa_sim.env import FrankaSimEnv, SimConfig
from jepa_sim.scene import CAMERAS
from training.posttrain import PosttrainConfig, build_encoder_for


def energy(encoder: torch.nn.Module, a: np.ndarray, b: np.ndarray, size: int) -> float:
    """Planning energy between two RGB uint8 frames [H, V*W, 3] (V = the encoder's views)."""
    with torch.inference_mode():
        pixels = planning_transform_views(np.stack([a, b]), size=size, views=view_count(encoder.img_size))
        reps = encode_frames(encoder, pixels)  # [2, N, D]
    return float(mean_abs_energy(reps[:1, None], reps[1])[0, 0])


def camera_row(
    encoder: torch.nn.Module, camera: str, args: argparse.Namespace, views: tuple[str, ...] = ("exterior",)
) -> tuple[float, float, float]:
    """Mean (cube missing, arm + 3 cm, fingers) energies over the grasp seeds, with `camera` as the exterior view."""
    env = FrankaSimEnv(SimConfig(camera=CAMERAS[camera], views=views))
    rows = []
    try:
        for seed in range(args.episodes):
            env.reset(task="grasp", seed=seed)
            episode = env.episode
            lift = episode.subgoals[-1]
            goal = env.subgoal_image(len(episode.subgoals) - 1)
            cube_left, _ = env.render_at_pose(lift.flange_state, episode.object_positions)
            offset = np.array([0.03, 0.0, 0.0])
            moved = {**lift.object_positions, episode.object_name: lift.object_positions[episode.object_name] + offset}
            shifted, _ = env.render_at_pose(lift.flange_state + np.r_[offset, np.zeros(4)], moved)
            approach, grasp = (env.subgoal_image(episode.subgoal_index(name)) for name in ("approach", "grasp"))
            fingers = energy(encoder, approach, grasp, args.image_size)
            rows.append(
                (energy(encoder, goal, cube_left, args.image_size), energy(encoder, goal, shifted, args.image_size),
                 fingers)
            )  # fmt: skip
    finally:
        env.close()
    return tuple(np.mean(rows, axis=0))


def main() -> None:
    """Print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8, help="grasp seeds 0..episodes-1")
    parser.add_argument("--image-size", type=int, default=64, help="encoder input size, px")
    args = parser.parse_args()
    torch.set_num_threads(1)
    encoder = build_encoder_for(PosttrainConfig(image_size=args.image_size)).eval()  # the bundled models' encoder
    rows = {camera: camera_row(encoder, camera, args) for camera in CAMERAS}
    views = ("exterior", "wrist")
    for view_encoding in ("separate", "joint"):
        config = PosttrainConfig(image_size=args.image_size, views=views, view_encoding=view_encoding)
        rows[f"ext|wrist_{view_encoding}"] = camera_row(build_encoder_for(config).eval(), "exterior", args, views)
    print(f"{'camera':18s} {'cube missing':>13s} {'arm +3 cm':>10s} {'fingers':>8s} {'cube / arm':>11s}")
    for camera, (missing, shifted, fingers) in rows.items():
        print(f"{camera:18s} {missing:13.4f} {shifted:10.4f} {fingers:8.4f} {missing / shifted:11.2f}")
    base = rows["exterior"]
    ratios = [
        f"{camera}_vs_exterior_cube={row[0] / base[0]:.2f} {camera}_vs_exterior_fingers={row[2] / base[2]:.2f}"
        for camera, row in rows.items()
        if camera != "exterior"
    ]
    print("RESULT " + " ".join(ratios))


if __name__ == "__main__":
    main()
