"""CLI: check raw DROID episode folders against the layout contract and print every violation.

Usage: scripts/run.sh python -m training.validate_droid EPISODES_OR_ROOTS... [--decode]
Exit status 0 when every episode is valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jepa_core.data.droid_format import find_episodes
from jepa_core.data.droid_validate import validate_episode


def main(argv: list[str] | None = None) -> int:
    """Validate each episode found under the arguments; print violations and a summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="episode folders or folders of episodes")
    parser.add_argument("--decode", action="store_true", help="count video frames by decoding (slower, stricter)")
    args = parser.parse_args(argv)
    episodes = []
    for path in args.paths:
        found = find_episodes([path]) if path.exists() else []
        episodes.extend(found or [path])  # a folder without trajectory.h5 is itself reported as an episode
    bad = 0
    for episode in episodes:
        violations = validate_episode(episode, decode=args.decode)
        bad += bool(violations)
        for violation in violations:
            print(violation)
    print(f"{len(episodes) - bad}/{len(episodes)} episodes valid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
