"""What a replay did: messages per topic, wall and recorded time, lateness against the recorded schedule, skips."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np


def percentile(values: list[float], q: float) -> float:
    """q-th percentile (0-100, linear interpolation); NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


@dataclass
class ReplayStats:
    """What a replay did: counts, wall and recorded time, and lateness of each message against its deadline."""

    published: Counter = field(default_factory=Counter)  # published topic -> messages
    lateness_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # throttled messages only
    wall_s: float = 0.0
    bag_s: float = 0.0  # recorded time covered (summed over loops)
    loops: int = 0
    interrupted: bool = False
    skipped: dict[str, str] = field(default_factory=dict)  # recorded topic -> why it was not played

    def summary(self) -> dict:
        """JSON-ready summary: totals, achieved speed, lateness p50/p99/max in ms overall and per topic."""
        everything = [value for values in self.lateness_s.values() for value in values]

        def lateness(values: list[float]) -> dict[str, float]:
            return {key: percentile(values, q) * 1e3 for key, q in (("p50_ms", 50), ("p99_ms", 99), ("max_ms", 100))}

        return {
            "published": sum(self.published.values()),
            "per_topic": dict(self.published),
            "wall_s": self.wall_s,
            "bag_s": self.bag_s,
            "speed": self.bag_s / self.wall_s if self.wall_s > 0 else float("nan"),
            "loops": self.loops,
            "interrupted": self.interrupted,
            "lateness": lateness(everything),
            "lateness_per_topic": {topic: lateness(values) for topic, values in self.lateness_s.items()},
            "skipped": self.skipped,
        }


def print_summary(stats: ReplayStats, rate: float) -> None:
    """Human-readable end-of-run summary."""
    summary = stats.summary()
    state = "interrupted" if stats.interrupted else f"done ({stats.loops} loop(s))"
    print(
        f"replay {state}: {summary['published']} messages in {summary['wall_s']:.2f} s wall for "
        f"{summary['bag_s']:.2f} s recorded ({summary['speed']:.2f}x real time, rate {rate:g})"
    )
    for topic, count in sorted(summary["per_topic"].items()):
        late = summary["lateness_per_topic"].get(topic)
        timing = f", lateness p50 {late['p50_ms']:.2f} / p99 {late['p99_ms']:.2f} ms" if late else ""
        print(f"  {topic}: {count}{timing}")
    for topic, reason in stats.skipped.items():
        print(f"  skipped {topic}: {reason}")
