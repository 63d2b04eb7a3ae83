"""DDS domains of a test run: one per pytest process (pytest-xdist worker), and one per in-process ROS test.

Process domains are 1-100: the run's own (ROS_DOMAIN_ID if set, else from the pid of its first process), so
concurrent runs on one machine rarely meet, and the consecutive ones after it for its other workers. ros_context's
domains are 101-230 (230 is the last whose ports fit in 16 bits), split into one disjoint range per worker.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

CONTEXT_FIRST, CONTEXT_COUNT = 101, 130


def worker_domain(run_domain: int, worker: int) -> int:
    """Process domain of worker `worker` (0 = a plain pytest run) of a run whose domain is `run_domain`."""
    return run_domain if worker == 0 else 1 + (run_domain - 1 + worker) % 100


def context_domains(worker: int, workers: int, start: int) -> Iterator[int]:
    """ros_context's domains of worker `worker` of `workers`, one per test in turn from offset `start` (the pid)."""
    span = CONTEXT_COUNT // workers
    return (CONTEXT_FIRST + worker * span + (start + k) % span for k in itertools.count())
