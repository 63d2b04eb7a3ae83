"""Planner node: CEM model-predictive control with the V-JEPA 2-AC world model, safety limits, goals, RViz markers."""
