"""MuJoCo Franka Panda simulation that speaks the real robot's topics (ROS-free env in `jepa_sim.env`)."""

import os

# Headless rendering by default: mujoco picks its GL backend when first imported, so set it before any submodule does.
os.environ.setdefault("MUJOCO_GL", "egl")
