"""Every ROS package's package.xml declares exactly the packages its code imports (so package boundaries stay true).

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
    ("jepa_perception", "cv_bridge"): "used for encodings the built-in converters do not handle, when installed",
    ("jepa_franka", "franka_msgs"): "gripper actions of franka_ros2; without it gripper commands are refused",
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


def required_keys(package: str) -> set[str]:
    """rosdep keys a package's code needs (stdlib, itself and optional imports excluded)."""
    keys = set()
    for path in (PACKAGES_DIR / package / package).rglob("*.py"):
        for module in imported_top_modules(path.read_text()):
            if module in sys.stdlib_module_names or module == package or (package, module) in OPTIONAL:
                continue
            keys.add(ROSDEP_KEYS.get(module, module))
    return keys


def declared_keys(package: str) -> set[str]:
    """Keys of <depend>/<exec_depend> in the package's package.xml."""
    root = ET.parse(PACKAGES_DIR / package / "package.xml").getroot()
    return {element.text.strip() for tag in ("depend", "exec_depend") for element in root.iter(tag)}


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_package_xml_declares_exactly_what_the_code_imports(package):
    required, declared = required_keys(package), declared_keys(package)
    assert not required - declared, f"{package}/package.xml lacks exec_depend on {sorted(required - declared)}"
    assert not declared - required, f"{package}/package.xml declares unused {sorted(declared - required)}"


def test_import_scan_sees_lazy_imports_and_factory_strings():
    """The scan catches what a boundary break looks like: a lazy import and a composition naming a node class."""
    source = (
        "def f():\n    import mujoco\n    from jepa_sim.env import X\n"
        'SPEC = "jepa_sim.sim_node:SimNode"\nnote = "a: b"\n'
    )
    assert imported_top_modules(source) == {"mujoco", "jepa_sim"}


def test_every_python_package_is_checked():
    assert {"jepa_core", "jepa_perception", "jepa_planner", "jepa_sim", "jepa_bringup", "jepa_franka"} <= set(
        PYTHON_PACKAGES
    )
