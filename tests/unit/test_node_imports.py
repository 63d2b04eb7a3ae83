"""The robot-side nodes start without torch: importing it took ~2.6 s of their start-up (3.5 s -> 0.9 s for the Franka
adapter) and memory on the robot's computer, for nodes that only convert poses, step MuJoCo or record."""

import subprocess
import sys

TORCH_FREE = ("jepa_franka.franka_adapter", "jepa_sim.sim_node", "jepa_data.recorder_node", "jepa_data.player_node")


def test_robot_side_nodes_import_without_torch():
    imports = "; ".join(f"import {module}" for module in TORCH_FREE)
    check = f"{imports}; import sys; print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", f"{TORCH_FREE} imported {loaded}"
