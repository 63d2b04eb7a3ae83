"""ROS-free core of the JEPA stack: V-JEPA 2 models, checkpoints, world model, CEM planning, geometry, DROID data."""
