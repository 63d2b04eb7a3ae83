"""Every ROS package's package.xml declares exactly the packages its code imports, and our packages import each other
only downwards: bringup -> nodes -> jepa_ros_common -> jepa_core, never sideways between two node packages.

Imports are read from the AST of each package's Python modules (module level and inside functions), plus the
"module:Class" strings a composition imports by name. A module maps to its rosdep key (ROS packages by their own
name, Python libraries by the rosdep key of their distribution); optional imports are listed with their reason.
"""

from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

PACKAGES_DIR = Path(__file__).resolve().parents[2] / "ros2_ws" / "src"
PYTHON_PACKAGES = sorted(p.parent.name for p in PACKAGES_DIR.glob("*/setup.py"))

# Python module -> rosdep key of what provides it (ROS interface packages and our own map to themselves).
ROSDEP_KEYS = {
    "PIL": "python3-pil",
    "av": "python3-av",
    "cv2": "python3-opencv",
    "h5py": "python3-h5py",
    "matplotlib": "python3-matplotlib",
    "mcap": "python3-mcap-pip",
    "mcap_ros2": "python3-mcap-ros2-support-pip",
    "mujoco": "python3-mujoco-pip",
    "numpy": "python3-numpy",
    "onnx": "python3-onnx-pip",
    "onnxruntime": "python3-onnxruntime-pip",
    "onnxscript": "python3-onnxscript-pip",
    "rosbags": "python3-rosbags-pip",
    "scipy": "python3-scipy",
    "torch": "python3-torch",
    "tqdm": "python3-tqdm",
    "yaml": "python3-yaml",
}
# (package, module) imported only when present, with the fallback that keeps the package working without it.
OPTIONAL = {
    ("jepa_ros_common", "cv_bridge"): "used for encodings the built-in converters do not handle, when installed",
    ("jepa_franka", "franka_msgs"): "gripper actions of franka_ros2; without it gripper commands are refused",
}
# Which of our Python packages each may import: nodes share only jepa_ros_common and jepa_core, never each other.
NODE_PACKAGES = {"jepa_perception", "jepa_planner", "jepa_sim", "jepa_franka", "jepa_data"}
ALLOWED_OWN_IMPORTS = {
    "jepa_core": set(),
    "jepa_ros_common": {"jepa_core"},
    **{node: {"jepa_core", "jepa_ros_common"} for node in NODE_PACKAGES},
    "jepa_bringup": {"jepa_core", "jepa_ros_common", *NODE_PACKAGES},
}
FACTORY_STRING = re.compile(r"^([a-z_][a-z0-9_]*)(\.[a-z_][a-z0-9_]*)+:[A-Za-z_][A-Za-z0-9_]*$")


def imported_top_modules(source: str) -> set[str]:
    """Top-level module names a module imports (absolute imports and "pkg.module:Class" strings)."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.partition(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and FACTORY_STRING.match(node.value):
            modules.add(node.value.partition(".")[0])
    return modules


def package_imports(package: str) -> set[str]:
    """Top-level modules a package's code imports (all its modules together)."""
    return {
        module
        for path in (PACKAGES_DIR / package / package).rglob("*.py")
        for module in imported_top_modules(path.read_text())
    }


def required_keys(package: str) -> set[str]:
    """rosdep keys a package's code needs (stdlib, itself and optional imports excluded)."""
    return {
        ROSDEP_KEYS.get(module, module)
        for module in package_imports(package)
        if module not in sys.stdlib_module_names and module != package and (package, module) not in OPTIONAL
    }


def sideways_imports(package: str, imported: set[str]) -> set[str]:
    """Our Python packages that `package` imports although its layer may not (a package of no layer: all of them)."""
    return (imported & set(PYTHON_PACKAGES)) - {package} - ALLOWED_OWN_IMPORTS.get(package, set())


def declared_keys(package: str) -> set[str]:
    """Keys of <depend>/<exec_depend> in the package's package.xml."""
    root = ET.parse(PACKAGES_DIR / package / "package.xml").getroot()
    return {element.text.strip() for tag in ("depend", "exec_depend") for element in root.iter(tag)}


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_package_xml_declares_exactly_what_the_code_imports(package):
    required, declared = required_keys(package), declared_keys(package)
    assert not required - declared, f"{package}/package.xml lacks exec_depend on {sorted(required - declared)}"
    assert not declared - required, f"{package}/package.xml declares unused {sorted(declared - required)}"


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_packages_import_each_other_only_downwards(package):
    assert package in ALLOWED_OWN_IMPORTS, f"{package}: add it to ALLOWED_OWN_IMPORTS (node, shared or bringup?)"
    wrong = sideways_imports(package, package_imports(package))
    assert not wrong, f"{package} imports {sorted(wrong)}; allowed: {sorted(ALLOWED_OWN_IMPORTS[package])}"


def test_layer_rule_refuses_a_sideways_import_between_nodes():
    """The planner reached into jepa_perception for image and embedding conversions; that is what this refuses."""
    assert sideways_imports("jepa_planner", {"jepa_perception", "jepa_ros_common", "torch"}) == {"jepa_perception"}
    assert sideways_imports("jepa_ros_common", {"jepa_sim"}) == {"jepa_sim"}
    assert not sideways_imports("jepa_bringup", {"jepa_planner", "jepa_sim"})


def test_import_scan_sees_lazy_imports_and_factory_strings():
    """The scan catches what a boundary break looks like: a lazy import and a composition naming a node class."""
    source = (
        "def f():\n    import mujoco\n    from jepa_sim.env import X\n"
        'SPEC = "jepa_sim.sim_node:SimNode"\nnote = "a: b"\n'
    )
    assert imported_top_modules(source) == {"mujoco", "jepa_sim"}


def test_the_layers_name_exactly_the_python_packages():
    assert set(ALLOWED_OWN_IMPORTS) == set(PYTHON_PACKAGES)
