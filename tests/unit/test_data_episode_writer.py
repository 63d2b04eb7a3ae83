"""The threaded episode bag writer keeps every message, finalises atomically and fails loudly."""

import threading

import pytest
from rosbags.rosbag2 import Reader

from jepa_core.data.bags import ChunkPolicy
from jepa_core.data.episode_writer import PARTIAL_DIR, EpisodeWriter
from jepa_core.data.typestore import stack_typestore

TOPICS = {"/gripper_command": "std_msgs/msg/Float64", "/task_status": "jepa_msgs/msg/TaskStatus"}


def _float64(store, value):
    return store.serialize_cdr(store.types["std_msgs/msg/Float64"](value), "std_msgs/msg/Float64")


def test_messages_from_several_threads_all_arrive(tmp_path):
    store = stack_typestore()
    writer = EpisodeWriter(tmp_path, "ep", TOPICS, store)
    assert (tmp_path / PARTIAL_DIR / "ep").is_dir() and not (tmp_path / "ep").exists()

    def produce(offset):
        for i in range(250):
            writer.write("/gripper_command", offset + i, _float64(store, float(offset + i)))

    threads = [threading.Thread(target=produce, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = writer.close()
    assert summary.path == tmp_path / "ep" and summary.message_count == 1000
    assert summary.per_topic == {"/gripper_command": 1000}
    assert not (tmp_path / PARTIAL_DIR / "ep").exists()
    with Reader(tmp_path / "ep") as reader:
        values = sorted(store.deserialize_cdr(raw, "std_msgs/msg/Float64").data for _, _, raw in reader.messages())
    assert values == sorted(float(k * 1000 + i) for k in range(4) for i in range(250))


def test_discard_removes_the_bag(tmp_path):
    writer = EpisodeWriter(tmp_path, "ep", TOPICS, stack_typestore(), storage="sqlite3")
    writer.write("/gripper_command", 1, _float64(stack_typestore(), 0.5))
    summary = writer.close(discard=True)
    assert summary.path is None and summary.message_count == 1
    assert not (tmp_path / "ep").exists() and not (tmp_path / PARTIAL_DIR / "ep").exists()


def test_bad_arguments_are_rejected(tmp_path):
    store = stack_typestore()
    with pytest.raises(ValueError, match="storage: expected 'mcap' or 'sqlite3', got 'rosbag'"):
        EpisodeWriter(tmp_path, "ep", TOPICS, store, storage="rosbag")
    with pytest.raises(ValueError, match="episode name"):
        EpisodeWriter(tmp_path, "../ep", TOPICS, store)
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="taken exists already"):
        EpisodeWriter(tmp_path, "taken", TOPICS, store)
    writer = EpisodeWriter(tmp_path, "ep", TOPICS, store)
    with pytest.raises(KeyError, match="/joint_states"):
        writer.write("/joint_states", 0, b"")
    writer.close(discard=True)


def test_a_writer_thread_that_dies_never_yields_a_finished_bag(tmp_path, monkeypatch):
    next_item, calls = EpisodeWriter._next, []

    def breaks_after_one_message(self, writer):
        calls.append(1)
        if len(calls) > 1:
            raise OSError("queue broke")
        return next_item(self, writer)

    monkeypatch.setattr(EpisodeWriter, "_next", breaks_after_one_message)
    writer = EpisodeWriter(tmp_path, "ep", TOPICS, stack_typestore())
    writer.write("/gripper_command", 1, _float64(stack_typestore(), 0.5))
    with pytest.raises(RuntimeError, match="partial bag kept") as raised:
        writer.close()
    assert "queue broke" in str(raised.value.__cause__)
    assert not (tmp_path / "ep").exists() and (tmp_path / PARTIAL_DIR / "ep").is_dir()


@pytest.mark.parametrize(("field", "value"), [("max_seconds", 0.0), ("max_seconds", -1.0), ("max_bytes", 0)])
def test_chunk_policy_rejects_bounds_that_cannot_work(field, value):
    with pytest.raises(ValueError, match=f"ChunkPolicy.{field}: expected > 0, got {value}"):
        ChunkPolicy(**{field: value})
