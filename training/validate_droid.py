"""CLI: check raw DROID episode folders against the layout contract, and bags against their checksums; print every
violation.

Usage: scripts/run.sh python -m training.validate_droid EPISODES_OR_ROOTS_OR_BAGS... [--decode]
A rosbag2 folder (holding metadata.yaml, or a crashed recording's .mcap) is verified as a bag: MCAP chunk CRCs,
truncation, SQLite page checks; so is every bag under a folder that holds bags and no episode (`bags/`).
Exit status 0 when everything is valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jepa_core.data.bags import is_bag_folder, verify_bag
from jepa_core.data.droid_format import find_episodes
from jepa_core.data.droid_validate import validate_episode
from training.bag_to_droid import find_bags


def _finished_bags(folder: Path) -> list[Path]:
    """Finished bags under a folder (crashed recordings under .partial/ are bag_repair's), [] when none."""
    try:
        return find_bags([folder])
    except FileNotFoundError:
        return []


def sort_paths(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(bags, episodes) named by the arguments: bag folders, episode folders, or folders holding either; a folder
    with neither is returned as an episode, so that its violations are reported."""
    bags: list[Path] = []
    episodes: list[Path] = []
    for path in paths:
        if is_bag_folder(path):
            bags.append(path)
        elif found := (find_episodes([path]) if path.exists() else []):
            episodes.extend(found)
        elif path.is_dir() and (under := _finished_bags(path)):
            bags.extend(under)
        else:
            episodes.append(path)
    return bags, episodes


def main(argv: list[str] | None = None) -> int:
    """Validate each episode found under the arguments; print violations and a summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="episode folders, folders of episodes, or bag folders")
    parser.add_argument("--decode", action="store_true", help="count video frames by decoding (slower, stricter)")
    args = parser.parse_args(argv)
    bags, episodes = sort_paths(args.paths)
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
