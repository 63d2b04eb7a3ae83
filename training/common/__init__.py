"""Shared pieces of the training CLIs: dataclass configs on the command line, DDP, the loop, optimiser, metrics."""
