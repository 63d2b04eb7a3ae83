"""training.check_bag on bags recorded through the real path (sim node -> recorder -> MCAP): the bundled model
passes, random weights of the same architecture fail."""

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

pytest.importorskip("rclpy")
pytest.importorskip("mujoco")

from tests.unit.test_check_bag import BUNDLED, write_random_checkpoint  # noqa: E402
from training.check_bag import main  # noqa: E402
from training.collect_sim import CollectionConfig, collect  # noqa: E402


def test_recorded_sim_bags_tell_the_bundled_model_from_random_weights(tmp_path, capsys):
    collect(CollectionConfig(output=tmp_path, episodes=2, seconds=5.0, policy="waypoints", workers=1))
    bags = tmp_path / "bags"
    random = write_random_checkpoint(tmp_path / "random.pt")
    args = [str(bags)]  # default planner settings: the plan criterion needs good plans
    assert main(["--checkpoint", str(BUNDLED), *args, "--out", str(tmp_path / "trained")]) == 0
    assert main(["--checkpoint", str(random), *args, "--out", str(tmp_path / "random")]) == 1
    verdicts = [line for line in capsys.readouterr().out.splitlines() if line.startswith("VERDICT")]
    assert verdicts[0].startswith("VERDICT PASS") and verdicts[1].startswith("VERDICT FAIL"), verdicts
    # 5 s at 15 Hz = 76 rows per bag, every 4th at 4 fps -> 19 frames, 18 steps per recording
    assert "| all | 36 |" in (tmp_path / "trained" / "summary.md").read_text()
