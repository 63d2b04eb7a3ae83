"""CLI: convert episode bags (rosbag2 MCAP/sqlite3) into raw DROID episode folders, in parallel with a progress bar.

Usage: scripts/run.sh python -m training.bag_to_droid BAGS_OR_FOLDERS... -o data/droid [--workers 2] [--force]
Existing episodes are skipped unless --force; a bag that fails leaves no episode and is reported by name.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from jepa_core.data.bag_to_droid import BagConversionError, ConversionConfig, convert_bag
from jepa_core.data.episode_writer import PARTIAL_DIR
from jepa_core.data.video import VideoEncoding


@dataclass(frozen=True)
class ConversionOutcome:
    """Result of one bag: converted (episode path), skipped (already there) or failed (error message)."""

    bag: Path
    episode: Path | None = None
    skipped: bool = False
    error: str = ""


def find_bags(paths: list[Path]) -> list[Path]:
    """Bag folders (holding metadata.yaml) given directly or found under the given folders; skips unfinished ones."""
    bags: list[Path] = []
    for path in map(Path, paths):
        if (path / "metadata.yaml").is_file() or not path.is_dir():
            bags.append(path)  # a missing or broken path is reported by the conversion, by name
        else:
            found = sorted(p.parent for p in path.rglob("metadata.yaml") if PARTIAL_DIR not in p.parts)
            if not found:
                raise FileNotFoundError(f"{path}: no rosbag2 folders (metadata.yaml) found")
            bags.extend(found)
    return bags


def _convert_one(bag: Path, output: Path, config: ConversionConfig, force: bool) -> ConversionOutcome:
    """Worker: convert one bag, turning a conversion error into an outcome."""
    try:
        episode = convert_bag(bag, output, config, force=force)
    except BagConversionError as error:
        return ConversionOutcome(bag, error=str(error))
    return ConversionOutcome(bag, episode=episode, skipped=episode is None)


def convert_many(
    bags: list[Path], output: Path, config: ConversionConfig | None = None, force: bool = False, workers: int = 2
) -> list[ConversionOutcome]:
    """Convert bags in `workers` processes (1 = in this process) with a tqdm progress bar."""
    config = config or ConversionConfig()
    outcomes: list[ConversionOutcome] = []
    progress = tqdm(total=len(bags), desc="bag -> DROID", unit="bag")
    if workers <= 1:
        for bag in bags:
            outcomes.append(_convert_one(bag, output, config, force))
            progress.update()
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_convert_one, bag, output, config, force) for bag in bags]
            for future in as_completed(futures):
                outcomes.append(future.result())
                progress.update()
    progress.close()
    return sorted(outcomes, key=lambda outcome: str(outcome.bag))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, convert, print a summary; exit status 1 when any bag failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bags", nargs="+", type=Path, help="bag folders, or folders containing bag folders")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder receiving one episode per bag")
    parser.add_argument("--force", action="store_true", help="re-convert episodes that exist already")
    parser.add_argument("--workers", type=int, default=2, help="parallel conversions (processes)")
    parser.add_argument("--image-topic", action="append", help="camera topic(s); the first defines the rows")
    parser.add_argument("--codec", default="libx264", choices=["libx264", "mpeg4"], help="video codec")
    parser.add_argument("--row-hz", type=float, default=15.0, help="DROID row rate (and MP4 frame rate)")
    args = parser.parse_args(argv)
    if args.row_hz != int(args.row_hz):
        parser.error(f"--row-hz must be a whole number of frames per second, got {args.row_hz}")
    config = ConversionConfig(
        image_topics=tuple(args.image_topic or ConversionConfig.image_topics),
        row_hz=args.row_hz,
        max_image_offset_s=1.0 / args.row_hz,
        video=VideoEncoding(codec=args.codec, fps=int(args.row_hz)),
    )
    outcomes = convert_many(find_bags(args.bags), args.output, config, force=args.force, workers=args.workers)
    for outcome in outcomes:
        if outcome.error:
            print(f"FAILED {outcome.error}", file=sys.stderr)
    converted = sum(o.episode is not None for o in outcomes)
    skipped = sum(o.skipped for o in outcomes)
    failed = sum(bool(o.error) for o in outcomes)
    print(f"converted {converted}, skipped {skipped} (exist; --force to redo), failed {failed} -> {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
