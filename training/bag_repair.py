"""CLI: turn crashed or damaged MCAP recordings into valid rosbag2 bags holding every intact chunk (a reindex).

Usage: scripts/run.sh python -m training.bag_repair PATHS... [-o OUTPUT_DIR] [--keep-partial]
A PATH is a crashed recording (`bags/.partial/<episode>`), a recorder output folder or its `.partial/` (every crashed
recording under `.partial/` is repaired), or a finished bag that fails its checks (written to `<bag>-repaired`).
A crashed recording becomes `<output_dir>/<episode>`, where the recorder would have put it, and its partial folder is
removed once the repaired bag is complete and on disk (--keep-partial keeps it). Each bag's summary says what was
recovered and lost.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from jepa_core.data.bag_to_droid import clean_stale_temporaries, temporary_name
from jepa_core.data.bags import RepairSummary, bag_files, fsync_path, repair_mcap
from jepa_core.data.episode_writer import PARTIAL_DIR
from jepa_core.data.typestore import stack_typestore


def plan(paths: list[Path], output_dir: Path | None) -> list[tuple[Path, Path]]:
    """(damaged bag folder, repaired bag folder) for each path given."""
    jobs: list[tuple[Path, Path]] = []
    for path in map(Path, paths):
        if path.name == PARTIAL_DIR and path.is_dir():  # the recorder's .partial/ folder itself
            path = path.parent
        if (path / PARTIAL_DIR).is_dir():
            crashed = sorted(p for p in (path / PARTIAL_DIR).iterdir() if p.is_dir())
            jobs.extend((bag, (output_dir or path) / bag.name) for bag in crashed)
        elif path.parent.name == PARTIAL_DIR:
            jobs.append((path, (output_dir or path.parent.parent) / path.name))
        elif path.is_dir():
            jobs.append((path, (output_dir or path.parent) / f"{path.name}-repaired"))
        else:
            raise FileNotFoundError(f"{path}: not a bag folder, a .partial recording or a recorder output folder")
    return jobs


def _mcap_file(bag: Path) -> Path:
    """The bag's single MCAP file (a crashed recording has no metadata.yaml: the file is found by name)."""
    storage, files = bag_files(bag)
    if storage != "mcap" or len(files) != 1:
        raise ValueError(f"expected one MCAP file, found storage {storage!r} with {[f.name for f in files]}")
    return files[0]


def repair_one(bag: Path, output: Path) -> RepairSummary:
    """Repair into a temporary folder beside `output`, fsync, then rename: `output` only ever holds a whole bag."""
    if output.exists():
        raise FileExistsError(f"{output} exists already; remove it or pass another -o")
    source = _mcap_file(bag)
    output.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(output.parent)  # left by a repair or conversion that was killed
    tmp = output.parent / temporary_name(f"repair-{output.name}")
    try:
        summary = repair_mcap(source, tmp, stack_typestore())
        if summary.message_count == 0:
            raise ValueError(f"no complete chunk to recover in {source.name} ({source.stat().st_size} bytes)")
        tmp.rename(output)
        fsync_path(output.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary.output = output
    return summary


def describe(bag: Path, summary: RepairSummary) -> str:
    """One paragraph: what was recovered, up to when, and what was lost."""
    topics = ", ".join(f"{topic} {count}" for topic, count in sorted(summary.recovered_messages.items()))
    lines = [
        f"{bag} -> {summary.output}: recovered {summary.message_count} messages ({topics}) in "
        f"{summary.recovered_chunks} chunks, {summary.recovered_seconds:.2f} s of log time"
    ]
    if summary.crashed:
        lines.append(
            f"  lost: messages logged after {summary.last_message_ns} ns (the chunk still open at the crash; "
            f"{summary.lost_tail_bytes} bytes of it had reached the disk)"
        )
    lines.extend(f"  lost: {chunk}" for chunk in summary.lost_chunks)
    if len(lines) == 1:
        lines.append("  lost: nothing")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Repair each bag, print its summary; exit status 1 when any could not be repaired."""
    parser = argparse.ArgumentParser(
        prog="python -m training.bag_repair", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", type=Path, help="crashed recordings, recorder output folders or bags")
    parser.add_argument("-o", "--output-dir", type=Path, help="folder receiving the repaired bags")
    parser.add_argument("--keep-partial", action="store_true", help="keep crashed recordings after their repair")
    args = parser.parse_args(argv)
    jobs = plan(args.paths, args.output_dir)
    failed, recovered = 0, 0
    for index, (bag, output) in enumerate(jobs, 1):
        print(f"[{index}/{len(jobs)}] repairing {bag}", flush=True)
        try:
            summary = repair_one(bag, output)
        except (OSError, ValueError) as error:
            failed += 1
            print(f"FAILED {bag}: {error}", file=sys.stderr)
            continue
        recovered += summary.message_count
        print(describe(bag, summary), flush=True)
        if bag.parent.name == PARTIAL_DIR and not args.keep_partial:
            shutil.rmtree(bag)
    print(f"repaired {len(jobs) - failed}/{len(jobs)} bags, {recovered} messages recovered, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
