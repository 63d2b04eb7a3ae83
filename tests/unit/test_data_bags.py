"""Crash-safe bags: chunk CRCs that rosbags reads, chunks written out on time, damage and truncation named in words,
repair keeping every intact chunk."""

import os
import time

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from jepa_core.data.bags import ChunkPolicy, CrcBagWriter, repair_mcap, scan_mcap, verify_bag
from jepa_core.data.episode_writer import PARTIAL_DIR, EpisodeWriter
from jepa_core.data.typestore import stack_typestore

STORE = stack_typestore()


def _image(i: int, size: int = 128) -> bytes:
    t = STORE.types
    header = t["std_msgs/msg/Header"](t["builtin_interfaces/msg/Time"](i, 0), "cam")
    msg = t["sensor_msgs/msg/Image"](header, size, size, "rgb8", 0, size * 3, np.full(size * size * 3, i, np.uint8))
    return STORE.serialize_cdr(msg, "sensor_msgs/msg/Image")


SMALL_CHUNKS = ChunkPolicy(max_bytes=2**18, fsync=False)


def _write(path, count=60):
    """A bag of `count` images (49 KiB each) and as many Float64, ~5 images per chunk."""
    writer = CrcBagWriter(path, SMALL_CHUNKS)
    writer.open()
    image = writer.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=STORE)
    value = writer.add_connection("/gripper_command", "std_msgs/msg/Float64", typestore=STORE)
    for i in range(count):
        writer.write(image, i * 10**8, _image(i))
        writer.write(
            value, i * 10**8, STORE.serialize_cdr(STORE.types["std_msgs/msg/Float64"](i), "std_msgs/msg/Float64")
        )
    writer.close()
    return path / f"{path.name}.mcap"


def test_chunks_carry_crcs_and_rosbags_reads_the_bag(tmp_path):
    mcap = _write(tmp_path / "bag")
    scan = scan_mcap(mcap)
    assert len(scan.chunks) >= 10 and scan.unchecked == 0 and scan.problems == [] and scan.has_footer
    with Reader(tmp_path / "bag") as reader:
        assert sum(1 for _ in reader.messages()) == 120
        assert {c.topic: c.msgcount for c in reader.connections} == {"/camera/image_raw": 60, "/gripper_command": 60}


def test_injected_random_bytes_are_named_with_topics_and_time_range(tmp_path):
    mcap = _write(tmp_path / "bag")
    data = bytearray(mcap.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    mcap.write_bytes(data)
    (problem,) = verify_bag(tmp_path / "bag")
    assert "bag: bag.mcap: chunk at byte" in problem and "fails its CRC check" in problem
    assert "topics /camera/image_raw, /gripper_command" in problem and "s after the first message" in problem

    summary = repair_mcap(mcap, tmp_path / "repaired", STORE)
    assert len(summary.lost_chunks) == 1 and not summary.crashed
    kept = summary.recovered_messages["/camera/image_raw"]
    assert 40 < kept < 60 and verify_bag(tmp_path / "repaired") == []
    with Reader(tmp_path / "repaired") as reader:
        stamps = [stamp for connection, stamp, _ in reader.messages() if connection.topic == "/gripper_command"]
    assert len(stamps) == summary.recovered_messages["/gripper_command"] and stamps == sorted(stamps)


def test_truncated_file_is_reported_in_words_and_repaired(tmp_path):
    mcap = _write(tmp_path / "bag")
    data = mcap.read_bytes()
    mcap.write_bytes(data[: int(len(data) * 0.6)])
    (problem,) = verify_bag(tmp_path / "bag")
    assert "truncated: no MCAP footer" in problem
    summary = repair_mcap(mcap, tmp_path / "repaired", STORE)
    assert summary.crashed and summary.lost_chunks == []
    assert 25 <= summary.recovered_messages["/camera/image_raw"] < 40
    mcap.write_bytes(b"not a bag at all")
    assert "not an MCAP file" in verify_bag(tmp_path / "bag")[0]


def test_open_chunks_reach_the_disk_within_max_seconds(tmp_path):
    policy = ChunkPolicy(max_bytes=2**30, max_seconds=0.2)
    writer = EpisodeWriter(tmp_path, "ep", {"/camera/image_raw": "sensor_msgs/msg/Image"}, STORE, chunks=policy)
    partial = tmp_path / PARTIAL_DIR / "ep" / "ep.mcap"
    size_before = partial.stat().st_size
    writer.write("/camera/image_raw", 1, _image(1))
    deadline = time.monotonic() + 5.0
    while partial.stat().st_size < size_before + 128 * 128 * 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # no further message arrives: the writer thread still writes the chunk out
    assert partial.stat().st_size > size_before + 128 * 128 * 3
    assert len(scan_mcap(partial).chunks) == 1
    writer.close()


def test_a_crashed_recording_is_not_overwritten(tmp_path):
    (tmp_path / PARTIAL_DIR / "ep").mkdir(parents=True)
    with pytest.raises(FileExistsError, match=r"crashed recording.*training\.bag_repair"):
        EpisodeWriter(tmp_path, "ep", {"/gripper_command": "std_msgs/msg/Float64"}, STORE)
    assert os.path.isdir(tmp_path / PARTIAL_DIR / "ep")


def test_a_damaged_record_header_is_passed_through_the_summary(tmp_path):
    mcap = _write(tmp_path / "bag")
    third = scan_mcap(mcap).chunks[2]
    data = bytearray(mcap.read_bytes())
    data[third.offset + 1 : third.offset + 9] = (2**40).to_bytes(8, "little")  # its length now runs past the end
    mcap.write_bytes(data)
    scan = scan_mcap(mcap)
    assert f"damaged record after byte {third.offset}" in scan.problems[0] and "through the summary" in scan.problems[0]
    assert len(scan.chunks) == len(scan_mcap(_write(tmp_path / "intact")).chunks)  # every chunk found, in the index
    assert [c.offset for c in scan.damaged] == [third.offset] and "chunk record unreadable" in scan.problems[1]
    summary = repair_mcap(mcap, tmp_path / "repaired", STORE)
    assert 50 <= summary.recovered_messages["/camera/image_raw"] < 60 and verify_bag(tmp_path / "repaired") == []


def test_repair_cli_on_a_finished_damaged_bag_and_on_nothing(tmp_path, capsys):
    from training.bag_repair import main as repair_main
    from training.bag_to_droid import find_bags

    mcap = _write(tmp_path / "bags" / "bag")
    data = bytearray(mcap.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)
    mcap.write_bytes(data)
    assert repair_main([str(tmp_path / "bags" / "bag")]) == 0
    output = capsys.readouterr().out
    assert "bag-repaired: recovered" in output and "lost: chunk at byte" in output and "repaired 1/1 bags" in output
    assert verify_bag(tmp_path / "bags" / "bag-repaired") == [] and mcap.exists()  # the original is kept

    (tmp_path / "bags" / ".tmp-1-x-half" / "nested").mkdir(parents=True)  # a killed run's temporary with a bag
    (tmp_path / "bags" / ".tmp-1-x-half" / "nested" / "metadata.yaml").write_text("")
    assert find_bags([tmp_path / "bags"]) == [tmp_path / "bags" / "bag", tmp_path / "bags" / "bag-repaired"]

    (tmp_path / "empty" / PARTIAL_DIR / "ep").mkdir(parents=True)
    (tmp_path / "empty" / PARTIAL_DIR / "ep" / "ep.mcap").write_bytes(b"")
    assert repair_main([str(tmp_path / "empty")]) == 1
    assert "FAILED" in capsys.readouterr().err and (tmp_path / "empty" / PARTIAL_DIR / "ep").exists()


def test_repair_of_the_partial_folder_itself(tmp_path, capsys):
    """`bag_repair bags/.partial` repairs each crashed recording in it (it was taken for one bag with no MCAP file)."""
    from training.bag_repair import main as repair_main

    crashed = tmp_path / "bags" / PARTIAL_DIR / "ep"
    mcap = _write(tmp_path / "finished")
    crashed.mkdir(parents=True)
    (crashed / "ep.mcap").write_bytes(mcap.read_bytes()[: mcap.stat().st_size * 2 // 3])
    assert repair_main([str(tmp_path / "bags" / PARTIAL_DIR)]) == 0
    assert "repaired 1/1 bags" in capsys.readouterr().out
    assert verify_bag(tmp_path / "bags" / "ep") == [] and not crashed.exists()
