"""Bringup: the one-process composition of the stack's nodes, the simulated demo and its report, launch helpers."""
