"""Pairs the newest image of each camera view by header stamp, so one embedding holds views taken together (ROS-free).

Each view keeps only its newest item; once every view holds one and their stamps lie within the tolerance of each
other, `add` returns them in view order and starts a new set. An item replaced before it was paired counts as
unpaired (the node reports it as dropped).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")


class ViewPairer(Generic[Item]):
    """Newest (stamp ns, item) per view; thread-safe."""

    def __init__(self, views: Sequence[str], tolerance_ns: int) -> None:
        if len(set(views)) != len(views) or not views:
            raise ValueError(f"views must be distinct names, got {list(views)}")
        if tolerance_ns < 0:
            raise ValueError(f"pairing tolerance must be >= 0 ns, got {tolerance_ns}")
        self.views = tuple(views)
        self.tolerance_ns = tolerance_ns
        self._latest: dict[str, tuple[int, Item]] = {}
        self._lock = threading.Lock()

    def add(self, view: str, stamp_ns: int, item: Item) -> tuple[list[Item] | None, bool]:
        """Store the newest item of `view`: (the items of every view in order when they now pair, else None;
        whether an unpaired item of this view was replaced)."""
        if view not in self.views:
            raise KeyError(f"unknown view {view!r}; pairing {self.views}")
        with self._lock:
            replaced = view in self._latest
            self._latest[view] = (stamp_ns, item)
            if len(self._latest) < len(self.views):
                return None, replaced
            stamps = [stamp for stamp, _ in self._latest.values()]
            if max(stamps) - min(stamps) > self.tolerance_ns:
                return None, replaced
            items = [self._latest[name][1] for name in self.views]
            self._latest.clear()
            return items, replaced
