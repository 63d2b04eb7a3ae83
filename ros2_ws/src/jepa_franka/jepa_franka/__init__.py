"""Franka FR3 adapter (franka_ros2): measured TCP pose to flange state, planner targets to impedance equilibria."""
