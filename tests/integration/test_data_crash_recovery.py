"""A recording SIGKILLed at a random moment is recovered by `python -m training.bag_repair`: every message the writer
had been handed at least 1 s before the kill is in the repaired bag, which rosbags' Reader opens."""

import os

import pytest
from rosbags.rosbag2 import Reader

from jepa_core.data.crash_drill import DrillConfig, count_recovered, run_and_kill
from jepa_core.data.typestore import stack_typestore
from training.bag_repair import main as repair_main


def test_sigkilled_recording_is_recovered(tmp_path, capsys):
    seed = int.from_bytes(os.urandom(4), "little")
    killed = run_and_kill(tmp_path, DrillConfig(), seed=seed)
    assert killed.returncode == -9, f"seed {seed}: the child was not killed mid-recording"
    assert killed.partial.is_dir() and not (killed.partial / "metadata.yaml").exists()
    with pytest.raises(FileNotFoundError, match="metadata"):  # what the kill leaves is not a bag
        Reader(killed.partial).open()

    assert repair_main([str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "repaired 1/1 bags" in output and "recovered" in output
    assert not killed.partial.exists()  # removed once the repaired bag was in place
    result = count_recovered(killed, tmp_path / "crashed")
    assert result.old > 0, f"seed {seed}: kill too early to test anything"
    assert result.old_recovered == result.old, f"seed {seed}: {result}"
    assert result.recovered_fraction > 0.5, f"seed {seed}: {result}"


def test_the_killed_child_records_with_the_drill_settings(tmp_path):
    """Every DrillConfig field reaches the child (it once got only the speed-up and recorded 64 px for any size)."""
    config = DrillConfig(seconds=6.0, size=32, max_age_s=0.3)
    killed = run_and_kill(tmp_path, config, seed=0)
    assert repair_main([str(tmp_path)]) == 0
    with Reader(tmp_path / "crashed") as reader:
        image = next(c for c in reader.connections if c.topic == "/camera/image_raw")
        _, _, raw = next(reader.messages([image]))
    msg = stack_typestore().deserialize_cdr(raw, image.msgtype)
    assert (msg.height, msg.width) == (32, 32)
    assert count_recovered(killed, tmp_path / "crashed", config).recovered > 0
