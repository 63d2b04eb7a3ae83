"""Launch files and parameter files agree with the node code.

Always (no `launch` needed): each launch/*.launch.py is read as an AST; every launch_ros Node names a console script
of its package's setup.py (and every `python -m module` process an existing module), every launch argument has a
description, every parameter key in launch/config/*.yaml is declared (declare_parameter) by the module of the node it
is meant for, demo.launch.py runs the same nodes and files as the one-process bringup, and jepa_bringup's share
directory holds every launch, parameter and RViz file. (What the launch files set at run time:
test_launch_behaviour.py.) Where `launch`/`launch_ros` are importable, each launch file is also loaded and its Node
actions expanded with the real API.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LAUNCH_DIR = REPO / "launch"
CONFIG_DIR = LAUNCH_DIR / "config"
PACKAGES_DIR = REPO / "ros2_ws" / "src"
LAUNCH_FILES = sorted(LAUNCH_DIR.glob("*.launch.py"))
CONFIG_FILES = sorted(CONFIG_DIR.glob("*.yaml"))
EXTERNAL_EXECUTABLES = {("rviz2", "rviz2")}  # (package, executable) of nodes we start but do not build
STANDARD_PARAMETERS = {"use_sim_time"}  # declared by rclpy itself


@dataclass
class LaunchedNode:
    """A launch_ros Node(...) call as written in a launch file (literal values only; None where not literal)."""

    launch_file: Path
    line: int
    package: str | None
    executable: str | None
    name: str | None


def literal_string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and call_name(n) == name]


def keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def launched_nodes(path: Path) -> list[LaunchedNode]:
    """Every Node(...) call of a launch file."""
    tree = ast.parse(path.read_text(), str(path))
    return [
        LaunchedNode(
            path,
            call.lineno,
            literal_string(keyword(call, "package")),
            literal_string(keyword(call, "executable")),
            literal_string(keyword(call, "name")),
        )
        for call in calls(tree, "Node")
    ]


def console_scripts(package: str) -> dict[str, str]:
    """console_scripts of ros2_ws/src/<package>/setup.py: executable -> 'module:function'."""
    setup_py = PACKAGES_DIR / package / "setup.py"
    if not setup_py.is_file():
        return {}
    scripts = {}
    for call in calls(ast.parse(setup_py.read_text()), "setup"):
        entry_points = keyword(call, "entry_points")
        if not isinstance(entry_points, ast.Dict):
            continue
        for key, value in zip(entry_points.keys, entry_points.values, strict=True):
            if literal_string(key) == "console_scripts" and isinstance(value, ast.List):
                for element in value.elts:
                    name, _, target = (literal_string(element) or "").partition("=")
                    scripts[name.strip()] = target.strip()
    return scripts


def module_file(module: str) -> Path:
    """Source file of a dotted module: in its ROS package (ros2_ws/src/<top>/) or at the repository root."""
    relative = module.replace(".", "/") + ".py"
    in_package = PACKAGES_DIR / module.partition(".")[0] / relative
    return in_package if in_package.is_file() else REPO / relative


def executed_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ExecuteProcess(cmd=[..., "-m", "<module>", ...]) in a launch file (cmd may splice in
    list variables of the same file, e.g. cmd=[*node_command, ...])."""
    tree = ast.parse(path.read_text(), str(path))
    named_lists = {
        target.id: node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List)
        for target in node.targets
        if isinstance(target, ast.Name)
    }

    def words(node: ast.AST) -> list[str | None]:
        if isinstance(node, ast.Name) and node.id in named_lists:
            return words(named_lists[node.id])
        if isinstance(node, ast.Starred):
            return words(node.value)
        if isinstance(node, ast.List):
            return [
                w
                for element in node.elts
                for w in (words(element) if isinstance(element, ast.Starred) else [literal_string(element)])
            ]
        return []

    found = []
    for call in calls(tree, "ExecuteProcess"):
        cmd = words(keyword(call, "cmd"))
        found += [(call.lineno, cmd[i + 1]) for i, w in enumerate(cmd[:-1]) if w == "-m" and cmd[i + 1]]
    return found


def node_names_in(module: str) -> set[str]:
    """Names a module's classes give themselves: literal (or module-constant) first argument of super().__init__."""
    tree = ast.parse(module_file(module).read_text())
    constants = {
        target.id: literal_string(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    names = set()
    for call in calls(tree, "__init__"):
        first = call.args[0] if call.args else None
        names.add(literal_string(first) or (constants.get(first.id) if isinstance(first, ast.Name) else None))
    return {name for name in names if name}


def declared_parameters(path: Path) -> set[str]:
    """Literal names passed to declare_parameter / declare_parameters, or to a helper function that forwards its
    first argument to declare_parameter (e.g. `def param(name, default, text): return self.declare_parameter(name...`).
    """
    tree = ast.parse(path.read_text(), str(path))
    declaring = {"declare_parameter"}
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and function.args.args:
            first = [a.arg for a in function.args.args if a.arg != "self"][:1]
            forwarded = {
                c.args[0].id for c in calls(function, "declare_parameter") if c.args and isinstance(c.args[0], ast.Name)
            }
            if first and first[0] in forwarded:
                declaring.add(function.name)
    names = {literal_string(c.args[0]) for name in declaring for c in calls(tree, name) if c.args}
    for call in calls(tree, "declare_parameters"):
        for argument in [*call.args, *(k.value for k in call.keywords)]:
            if isinstance(argument, ast.List | ast.Tuple):
                names |= {literal_string(t.elts[0]) for t in argument.elts if isinstance(t, ast.Tuple) and t.elts}
    return {name for name in names if name}


def package_imports(module: str) -> list[str]:
    """The module itself plus the modules of its own package that it imports (one level)."""
    package = module.partition(".")[0]
    tree = ast.parse(module_file(module).read_text())
    imported = [module]
    for node in ast.walk(tree):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        imported += [n for n in names if n.startswith(f"{package}.") and module_file(n).is_file()]
    return list(dict.fromkeys(imported))


def parameter_table_names(module: str) -> set[str]:
    """Names in module-level tables of parameter specs (sequences of objects with a str `name` and a `default`)."""
    names: set[str] = set()
    for value in vars(importlib.import_module(module)).values():
        items = value if isinstance(value, list | tuple) else ()
        if items and all(isinstance(getattr(item, "name", None), str) and hasattr(item, "default") for item in items):
            names |= {item.name for item in items}
    return names


def declared_by(module: str) -> set[str]:
    """Parameters a node module declares: literal declarations in it and its package imports, plus spec tables."""
    declared = set(STANDARD_PARAMETERS)
    for name in package_imports(module):
        declared |= declared_parameters(module_file(name)) | parameter_table_names(name)
    return declared


def node_modules() -> dict[str, set[str]]:
    """Node name -> dotted modules of the node, from the launch files (Node(name=, executable=) and
    ExecuteProcess(cmd=[python, -m, module])) and the bringup specs."""
    from jepa_bringup.bringup import DEMO_NODES

    modules: dict[str, set[str]] = {}
    for path in LAUNCH_FILES:
        for node in launched_nodes(path):
            target = console_scripts(node.package or "").get(node.executable or "")
            if target and node.name:
                modules.setdefault(node.name, set()).add(target.partition(":")[0])
        for _, module in executed_modules(path):
            for name in node_names_in(module) if module_file(module).is_file() else ():
                modules.setdefault(name, set()).add(module)
    for spec in DEMO_NODES:
        modules.setdefault(spec.name, set()).add(spec.factory.partition(":")[0])
    return modules


def flatten(parameters: dict, prefix: str = "") -> list[str]:
    """Nested ROS parameter mappings to dotted names ({'a': {'b': 1}} -> ['a.b'])."""
    names = []
    for key, value in parameters.items():
        name = f"{prefix}{key}"
        names += flatten(value, f"{name}.") if isinstance(value, dict) else [name]
    return names


def undeclared(node_name: str, keys: list[str], modules: dict[str, set[str]]) -> list[str]:
    """Keys that the node's code does not declare (or why the node's code cannot be found)."""
    names = modules.get(node_name)
    if not names:
        return [f"node '{node_name}' is not started by any launch file or bringup spec"]
    missing = [m for m in names if not module_file(m).is_file()]
    if missing:
        return [f"node '{node_name}': module {missing} does not exist"]
    declared = set().union(*(declared_by(m) for m in names))
    return [f"{node_name}.{key}" for key in keys if key not in declared]


# ---- always: static checks --------------------------------------------------------------------------------------


def test_bringup_launch_files_exist():
    names = {p.name for p in LAUNCH_FILES}
    assert {"demo.launch.py", "franka.launch.py"} <= names, names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_executables_exist(path):
    """Node executables are console scripts with their function; `python -m module` processes name real modules."""
    nodes, modules = launched_nodes(path), executed_modules(path)
    assert nodes or modules, f"{path.name}: no launch_ros Node(...) and no ExecuteProcess(cmd=[..., '-m', module])"
    problems = [
        f"{path.name}:{line}: module {module} not found"
        for line, module in modules
        if not module_file(module).is_file()
    ]
    for node in nodes:
        where = f"{path.name}:{node.line}"
        if node.package is None or node.executable is None or node.name is None:
            problems.append(f"{where}: package, executable and name must be string literals")
        elif (node.package, node.executable) in EXTERNAL_EXECUTABLES:
            continue
        else:
            target = console_scripts(node.package).get(node.executable)
            if target is None:
                problems.append(f"{where}: '{node.executable}' is not a console script of {node.package}/setup.py")
                continue
            module, _, function = target.partition(":")
            source = module_file(module)
            if not source.is_file():
                problems.append(f"{where}: console script '{node.executable}' -> missing {source.relative_to(REPO)}")
            elif function not in {f.name for f in ast.parse(source.read_text()).body if isinstance(f, ast.FunctionDef)}:
                problems.append(f"{where}: {source.relative_to(REPO)} has no function '{function}'")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launch_argument_has_a_description(path):
    tree = ast.parse(path.read_text())
    undocumented = [
        f"{path.name}:{call.lineno} {literal_string(call.args[0]) if call.args else '?'}"
        for call in calls(tree, "DeclareLaunchArgument")
        if keyword(call, "description") is None or literal_string(keyword(call, "description")) == ""
    ]
    assert not undocumented, f"launch arguments without description=: {undocumented}"


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_config_keys_are_declared_by_their_nodes(path):
    document = yaml.safe_load(path.read_text()) or {}
    assert isinstance(document, dict), f"{path.name}: expected a mapping of node names"
    modules = node_modules()
    problems = []
    for section, body in document.items():
        parameters = body.get("ros__parameters") if isinstance(body, dict) else None
        if not isinstance(parameters, dict):
            problems.append(f"section '{section}' has no ros__parameters mapping")
            continue
        keys = flatten(parameters)
        node_name = section.rpartition("/")[2]
        if node_name == "**":
            problems += [f"/**.{key}" for key in keys if key not in STANDARD_PARAMETERS]
        else:
            problems += undeclared(node_name, keys, modules)
    assert not problems, f"{path.name}: {problems}"


def test_demo_launch_runs_the_bringup_nodes_and_files():
    from jepa_bringup.bringup import DEMO_NODES, DEMO_PARAMS_FILES

    demo = LAUNCH_DIR / "demo.launch.py"
    launched = {n.name: (n.package, n.executable) for n in launched_nodes(demo) if n.package != "rviz2"}
    assert set(launched) == {spec.name for spec in DEMO_NODES}
    for spec in DEMO_NODES:
        package, executable = launched[spec.name]
        module = console_scripts(package).get(executable, "").partition(":")[0]
        assert module == spec.factory.partition(":")[0], f"{spec.name}: launch runs {module}, bringup {spec.factory}"
    tree = ast.parse(demo.read_text())
    files = next(
        (node.value for node in ast.walk(tree) if isinstance(node, ast.Assign) and "PARAMS_FILES" in ast.unparse(node)),
        None,
    )
    assert files is not None, "demo.launch.py: no PARAMS_FILES constant"
    assert [Path(f).name for f in ast.literal_eval(files)] == [Path(f).name for f in DEMO_PARAMS_FILES]
    for name in DEMO_PARAMS_FILES:
        assert (REPO / name).is_file(), f"{name} missing"


def test_static_checks_catch_mistakes(tmp_path):
    """The helpers above really see literals, missing scripts and undeclared keys (so the checks can fail)."""
    launch_file = tmp_path / "bad.launch.py"
    launch_file.write_text(
        "from launch_ros.actions import Node\n"
        "def generate_launch_description():\n"
        "    return [Node(package='jepa_planner', executable='no_such_script', name='franka_adapter')]\n"
    )
    (node,) = launched_nodes(launch_file)
    assert (node.package, node.executable, node.name) == ("jepa_planner", "no_such_script", "franka_adapter")
    assert "no_such_script" not in console_scripts("jepa_planner")
    assert console_scripts("jepa_franka")["franka_adapter"] == "jepa_franka.franka_adapter:main"
    modules = {"franka_adapter": {"jepa_franka.franka_adapter"}}
    assert undeclared("franka_adapter", ["base_frame", "not_a_parameter"], modules) == [
        "franka_adapter.not_a_parameter"
    ]
    assert undeclared("ghost", ["x"], modules) == ["node 'ghost' is not started by any launch file or bringup spec"]
    process_file = tmp_path / "process.launch.py"
    process_file.write_text(
        "import sys\nfrom launch.actions import ExecuteProcess\n"
        "command = [sys.executable, '-m', 'training.no_such_module']\n"
        "def generate_launch_description():\n"
        "    return [ExecuteProcess(cmd=[*command, '--ros-args'])]\n"
    )
    assert executed_modules(process_file) == [(5, "training.no_such_module")]
    assert not module_file("training.no_such_module").is_file()
    assert node_names_in("jepa_franka.franka_adapter") == {"franka_adapter"}


def test_rviz_config_shows_camera_markers_and_publishes_goal_pose():
    config = yaml.safe_load((LAUNCH_DIR / "rviz" / "jepa.rviz").read_text())
    manager = config["Visualization Manager"]
    displays = {d["Class"]: d for d in manager["Displays"]}
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == "/camera/image_raw"
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "/markers"
    goal_tools = [t for t in manager["Tools"] if t["Class"] == "rviz_default_plugins/SetGoal"]
    assert goal_tools and goal_tools[0]["Topic"]["Value"] == "/goal_pose"
    assert manager["Global Options"]["Fixed Frame"] == "panda_link0"


def test_the_share_directory_holds_every_launch_file():
    """`ros2 launch jepa_bringup <file>` finds every launch file, and each its parameter and RViz files, in the share
    directory (installed by jepa_bringup/setup.py; run `make setup` after adding a file)."""
    packages = pytest.importorskip("ament_index_python.packages")
    try:
        share = Path(packages.get_package_share_directory("jepa_bringup"))
    except packages.PackageNotFoundError:
        pytest.skip("jepa_bringup is not built (make setup)")
    for folder, source in (("launch", LAUNCH_DIR), ("config", CONFIG_DIR), ("rviz", LAUNCH_DIR / "rviz")):
        files = {path.name for path in source.iterdir() if path.is_file()}
        installed = {path.name for path in (share / folder).iterdir()} if (share / folder).is_dir() else set()
        assert files <= installed, f"{share / folder} lacks {sorted(files - installed)}: make setup"
        for name in files:
            assert (share / folder / name).read_bytes() == (source / name).read_bytes(), f"{folder}/{name} is stale"


# ---- where the launch API is installed: load and expand the real launch descriptions ------------------------------


def expanded_nodes(path: Path, arguments: dict[str, str]):
    """Load a launch file with the real API, apply launch arguments and expand every launch_ros Node."""
    # Submodules, not just `launch`: the repository's own launch/ folder would import as an empty namespace package.
    sources = pytest.importorskip("launch.launch_description_sources")
    ros_actions = pytest.importorskip("launch_ros.actions")
    launch_context = pytest.importorskip("launch.launch_context")
    utilities = pytest.importorskip("launch.utilities")
    actions = pytest.importorskip("launch.actions")

    description = sources.get_launch_description_from_python_launch_file(str(path))
    context = launch_context.LaunchContext()
    for argument in description.get_launch_arguments():
        assert argument.description, f"{path.name}: argument {argument.name} has no description"
        if argument.name in arguments:
            context.launch_configurations[argument.name] = arguments[argument.name]
        elif argument.default_value is not None:
            context.launch_configurations[argument.name] = utilities.perform_substitutions(
                context, argument.default_value
            )
    nodes = []
    entities = list(description.entities)
    while entities:
        entity = entities.pop(0)
        if isinstance(entity, actions.OpaqueFunction):
            entities[:0] = entity.execute(context) or []  # the nodes it builds from the launch configurations
        elif isinstance(entity, ros_actions.Node):
            condition = entity.condition
            if condition is None or condition.evaluate(context):
                entity._perform_substitutions(context)  # what execute() does before starting the process
                nodes.append(entity)
    return nodes


@pytest.mark.parametrize(
    ("launch_name", "arguments"),
    [
        ("demo.launch.py", {}),
        ("franka.launch.py", {"checkpoint": "/models/vjepa2-ac-vitg.pt", "camera_topic": "/cam/image"}),
    ],
)
def test_launch_files_load_with_the_real_api(launch_name, arguments):
    path = LAUNCH_DIR / launch_name
    nodes = expanded_nodes(path, arguments)
    scripts = {(n.node_package, n.node_executable) for n in nodes}
    for node in nodes:
        if (node.node_package, node.node_executable) not in EXTERNAL_EXECUTABLES:
            assert node.node_executable in console_scripts(node.node_package)
    assert scripts == {(n.package, n.executable) for n in launched_nodes(path) if n.package != "rviz2"}
