"""CLI: check raw DROID episode folders against the layout contract, and bags against their checksums; print every
violation.

Usage: scripts/run.sh python -m training.validate_droid EPISODES_OR_ROOTS_OR_BAGS... [--decode]
A rosbag2 folder (holding metadata.yaml, or a crashed recording's .mcap) is verified as a bag: MCAP chunk CRCs,
truncation, SQLite page checks.
Exit status 0 when everything is valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jepa_core.data.bags import is_bag_folder, verify_bag
from jepa_core.data.droid_format import find_episodes
from jepa_core.data.droid_validate import validate_episode


def main(argv: list[str] | None = None) -> int:
    """Validate each episode found under the arguments; print violations and a summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="episode folders, folders of episodes, or bag folders")
    parser.add_argument("--decode", action="store_true", help="count video frames by decoding (slower, stricter)")
    args = parser.parse_args(argv)
    episodes, bags = [], [path for path in args.paths if is_bag_folder(path)]
    for path in args.paths:
        if path not in bags:
            found = find_episodes([path]) if path.exists() else []
            episodes.extend(found or [path])  # a folder without trajectory.h5 is itself reported as an episode
    bad = bad_bags = 0
    for bag in bags:
        problems = verify_bag(bag)
        bad_bags += bool(problems)
        print("\n".join(problems) or f"{bag}: bag intact")
        if problems:
            print(f"  (python -m training.bag_repair {bag} writes a bag of its intact chunks)")
    for episode in episodes:
        violations = validate_episode(episode, decode=args.decode)
        bad += bool(violations)
        for violation in violations:
            print(violation)
    if bags:
        print(f"{len(bags) - bad_bags}/{len(bags)} bags intact")
    if episodes or not bags:
        print(f"{len(episodes) - bad}/{len(episodes)} episodes valid")
    return 1 if bad or bad_bags else 0


if __name__ == "__main__":
    sys.exit(main())
