"""The package's real import graph: only `vtrax.` names, and no import cycles.

Every import counts, also those inside functions: a cycle that only a
function-local import hides still ties two modules into one.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("learner", "actors", "replay", "nets", "rl_ops", "deploy")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["vtrax", *parts])


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported vtrax module, line) for every import statement in the file, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.append((child if child in modules else node.module, node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {target for target, _ in _imports(path, modules) if target in modules and target != name}
            for name, path in modules.items()}


def test_modules_import_each_other_only_by_their_vtrax_names():
    modules = _modules()
    bare = [f"{path.relative_to(ROOT)}:{line} imports {target}" for path in modules.values()
            for target, line in _imports(path, modules) if target.split(".")[0] in PACKAGES]
    assert bare == [], "import these as vtrax.<package>:\n" + "\n".join(bare)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycles():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_is_installed_under_vtrax(package):
    text = (ROOT / "pyproject.toml").read_text()
    assert f'"vtrax.{package}" = "{package}"' in text


# Modules slow or heavy to import (JAX, Ray, TensorFlow via Reverb, gRPC servers, video, Atari and
# MinAtar libraries, matplotlib: minatar imports matplotlib, seaborn and pandas, ~1 s), and the vtrax packages that load them: the only imports allowed inside functions, where
# they keep `vtrax --help`, `vtrax doctor` and the chosen subcommand's start-up free of what it never uses.
HEAVY = ("jax", "optax", "ray", "reverb", "tensorflow", "grpc", "grpc_tools", "cv2", "PIL", "ale_py", "gymnasium",
         "tensorboardX", "orbax", "imageio", "yaml", "minatar", "matplotlib", "vtrax")


def test_function_local_imports_only_defer_heavy_modules():
    light = []
    for name, path in _modules().items():
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                    if (module or "").split(".")[0] not in HEAVY:
                        light.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module} inside a function")
    assert light == [], "import these at the top of the module:\n" + "\n".join(light)
