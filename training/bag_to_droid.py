"""CLI: convert episode bags (rosbag2 MCAP/sqlite3) into raw DROID episode folders in worker processes, with a progress
bar and a summary.

Usage: scripts/run.sh python -m training.bag_to_droid BAGS_OR_FOLDERS... -o data/droid [--workers 1] [--force]
Existing episodes are skipped unless --force; a bag that fails (damaged, missing topics, or its worker process died)
leaves no episode and is listed by name while the others convert. Workers die with this process (no orphans), and
temporary folders of an interrupted run are removed at the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from pathlib import Path

from tqdm import tqdm

from jepa_core.data.bag_to_droid import BagConversionError, ConversionConfig, clean_stale_temporaries, convert_bag
from jepa_core.data.droid_format import is_temporary
from jepa_core.data.episode_writer import PARTIAL_DIR
from jepa_core.data.video import VideoEncoding

PR_SET_PDEATHSIG = 1  # linux/prctl.h
DEFAULT_WORKERS = 1  # measured on 2 cores: libx264 already uses both, a second worker only adds contention


@dataclass(frozen=True)
class ConversionOutcome:
    """Result of one bag: converted (episode path), skipped (already there) or failed (error message)."""

    bag: Path
    episode: Path | None = None
    skipped: bool = False
    error: str = ""


def find_bags(paths: list[Path]) -> list[Path]:
    """Bag folders (holding metadata.yaml) given directly or found under the given folders; skips unfinished ones
    (crashed recordings under .partial/, temporary folders)."""
    bags: list[Path] = []
    for path in map(Path, paths):
        if (path / "metadata.yaml").is_file() or not path.is_dir():
            bags.append(path)  # a missing or broken path is reported by the conversion, by name
        else:
            found = sorted(
                p.parent
                for p in path.rglob("metadata.yaml")
                if not any(part == PARTIAL_DIR or is_temporary(part) for part in p.relative_to(path).parts)
            )
            if not found:
                crashed = [p for p in path.rglob(f"{PARTIAL_DIR}/*") if p.is_dir()]
                hint = f"; {len(crashed)} crashed recording(s): python -m training.bag_repair {path}" if crashed else ""
                raise FileNotFoundError(f"{path}: no rosbag2 folders (metadata.yaml) found{hint}")
            bags.extend(found)
    return bags


Converter = Callable[..., Path | None]  # convert_bag's signature: (bag, output_root, config, force=...)


def _convert_one(
    bag: Path, output: Path, config: ConversionConfig, force: bool, convert: Converter
) -> ConversionOutcome:
    """Convert one bag, turning a conversion error into an outcome."""
    try:
        episode = convert(bag, output, config, force=force)
    except BagConversionError as error:
        return ConversionOutcome(bag, error=str(error))
    return ConversionOutcome(bag, episode=episode, skipped=episode is None)


def _die_with_parent(parent_pid: int) -> None:
    """Make the kernel SIGKILL this process when its parent dies (Linux), so no worker outlives a killed run."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


def _serve(connection: Connection, parent_pid: int, convert: Converter) -> None:
    """Worker process: convert the bags it is sent, one at a time, until told to stop or the parent is gone."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        connection.send(_convert_one(*job, convert))


class _Worker:
    """One worker process and the bag it is converting."""

    def __init__(self, context, convert: Converter) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, os.getpid(), convert), daemon=True)
        self.process.start()
        child.close()
        self.bag: Path | None = None

    def result(self) -> ConversionOutcome | None:
        """The outcome it sent, or None when it died instead."""
        try:
            if self.connection.poll():
                return self.connection.recv()
        except (EOFError, OSError):
            pass
        return None

    def death(self) -> str:
        """How the process ended, in words."""
        self.process.join(5.0)
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
        return f"exited with status {code}"

    def stop(self) -> None:
        """Ask it to finish, then make sure it is gone."""
        with contextlib.suppress(OSError):
            self.connection.send(None)
        self.process.join(5.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


def _convert_in_workers(bags, output, config, force, workers, convert, progress) -> list[ConversionOutcome]:
    """Convert in worker processes; a worker's death fails only the bag it had and a new worker takes over.
    Ctrl-C stops the workers at once and lists the unfinished bags as failed."""
    context = get_context("spawn")
    pool = [_Worker(context, convert) for _ in range(min(workers, len(bags)))]
    pending, busy, outcomes = list(reversed(bags)), {}, []
    interrupted = False
    try:
        while pending or busy:
            for worker in [w for w in pool if w.bag is None and pending]:
                worker.bag = pending.pop()
                with contextlib.suppress(OSError):  # dead already: noticed through its sentinel below
                    worker.connection.send((worker.bag, output, config, force))
                busy[worker.process.sentinel] = worker
            for sentinel_or_connection in wait([*busy, *(w.connection for w in busy.values())]):
                worker = busy.get(sentinel_or_connection) or next(
                    (w for w in busy.values() if w.connection is sentinel_or_connection), None
                )
                if worker is None or worker.process.sentinel not in busy:
                    continue  # handled through its other handle in this round
                outcome = worker.result()
                if outcome is None and worker.process.is_alive():
                    continue  # woke up on the connection with nothing to read yet
                del busy[worker.process.sentinel]
                if outcome is None:
                    outcome = ConversionOutcome(
                        worker.bag, error=f"{worker.bag}: worker process {worker.death()} while converting this bag"
                    )
                    pool[pool.index(worker)] = _Worker(context, convert)
                    worker.stop()
                    clean_stale_temporaries(output)  # its half-written episode
                outcomes.append(outcome)
                worker.bag = None
                progress.update()
    except KeyboardInterrupt:  # may land anywhere in the loop: what is left is judged from the bags themselves
        interrupted = True
        in_flight = {w.bag for w in pool if w.bag is not None}
        for worker in pool:
            if worker.bag is not None:
                worker.process.kill()
        done = {outcome.bag for outcome in outcomes}
        for bag in (b for b in bags if b not in done):
            reason = "interrupted (Ctrl-C) while converting" if bag in in_flight else "not converted (interrupted)"
            outcomes.append(ConversionOutcome(bag, error=f"{bag}: {reason}"))
    finally:
        for worker in pool:
            worker.stop()
    if interrupted:
        clean_stale_temporaries(output)  # the killed workers' half-written episodes
    return outcomes


def convert_many(
    bags: list[Path],
    output: Path,
    config: ConversionConfig | None = None,
    force: bool = False,
    workers: int = DEFAULT_WORKERS,
    convert: Converter = convert_bag,
) -> list[ConversionOutcome]:
    """Convert bags in `workers` processes (0 = in this process) with a progress bar; stale temporaries of dead runs
    in `output` are removed first. `convert` must be importable by name (it runs in spawned processes)."""
    config = config or ConversionConfig()
    stale = clean_stale_temporaries(output)
    if stale:
        print(f"removed {len(stale)} temporary folders left by an interrupted run: {[p.name for p in stale]}")
    progress = tqdm(total=len(bags), desc="bag -> DROID", unit="bag")
    try:
        if workers <= 0:
            outcomes = []
            for bag in bags:
                outcomes.append(_convert_one(bag, output, config, force, convert))
                progress.update()
        else:
            outcomes = _convert_in_workers(bags, output, config, force, workers, convert, progress)
    finally:
        progress.close()
    return sorted(outcomes, key=lambda outcome: str(outcome.bag))


def _floats(text: str, parser: argparse.ArgumentParser) -> tuple[float, ...]:
    """Six comma-separated numbers, or a parser error naming the option."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 6:
        parser.error(f"--camera-extrinsics: expected 6 comma-separated numbers, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, convert, print a summary; exit status 1 when any bag failed, 2 when none was found."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bags", nargs="+", type=Path, help="bag folders, or folders containing bag folders")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder receiving one episode per bag")
    parser.add_argument("--force", action="store_true", help="re-convert episodes that exist already")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"conversion processes (default {DEFAULT_WORKERS}; 0 = in this process, no isolation)",
    )
    parser.add_argument(
        "--camera-extrinsics",
        action="append",
        metavar="X,Y,Z,ROLL,PITCH,YAW",
        help="per image topic (same order): camera pose in the robot base frame, m and extrinsic Euler xyz rad",
    )
    parser.add_argument("--image-topic", action="append", help="camera topic(s); the first defines the rows")
    parser.add_argument("--wrist-topic", default="", help="the --image-topic of a wrist camera (DROID wrist_mp4_path)")
    parser.add_argument("--codec", default="libx264", choices=["libx264", "mpeg4"], help="video codec")
    parser.add_argument("--row-hz", type=float, default=15.0, help="DROID row rate (and MP4 frame rate)")
    args = parser.parse_args(argv)
    if args.row_hz != int(args.row_hz):
        parser.error(f"--row-hz must be a whole number of frames per second, got {args.row_hz}")
    try:
        config = ConversionConfig(
            image_topics=tuple(args.image_topic or ConversionConfig.image_topics),
            row_hz=args.row_hz,
            max_image_offset_s=1.0 / args.row_hz,
            video=VideoEncoding(codec=args.codec, fps=int(args.row_hz)),
            camera_extrinsics=tuple(_floats(text, parser) for text in args.camera_extrinsics or ()),
            wrist_topic=args.wrist_topic,
        )
    except ValueError as error:  # e.g. extrinsics not one per image topic
        parser.error(str(error))
    try:
        bags = find_bags(args.bags)
    except FileNotFoundError as error:
        print(f"bag_to_droid: {error}", file=sys.stderr)
        return 2
    outcomes = convert_many(bags, args.output, config, force=args.force, workers=args.workers)
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
