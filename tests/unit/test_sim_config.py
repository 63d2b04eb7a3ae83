"""launch/config/sim.yaml and launch/sim.launch.py agree with the sim node's declared parameters."""

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_sim_yaml_lists_every_node_parameter_with_its_type():
    sim_node = pytest.importorskip("jepa_sim.sim_node")
    section = yaml.safe_load((REPO / "launch/config/sim.yaml").read_text())["sim_node"]["ros__parameters"]
    declared = {p.name: p.default for p in sim_node.PARAMETERS}
    assert set(section) == set(declared)
    for name, default in declared.items():
        assert type(section[name]) is type(default), f"sim.yaml {name}: {section[name]!r} vs default {default!r}"
    config = sim_node.sim_config(section)  # the documented values build a valid config
    config.validate()


def test_bad_step_mode_is_rejected():
    sim_node = pytest.importorskip("jepa_sim.sim_node")
    values = {p.name: p.default for p in sim_node.PARAMETERS} | {"step_mode": "fast"}
    with pytest.raises(ValueError, match="step_mode"):
        sim_node.sim_config(values)


def test_sim_launch_description_builds():
    pytest.importorskip("launch_ros")
    import importlib.util

    spec = importlib.util.spec_from_file_location("sim_launch", REPO / "launch/sim.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert any(type(entity).__name__ == "Node" for entity in description.entities)
