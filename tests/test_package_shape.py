"""The package's shape: imports flow one way (no cycle between gtzan_gpu modules, imports inside functions
included) and every function reads on one screen."""
import ast
from pathlib import Path

import gtzan_gpu

PACKAGE = Path(gtzan_gpu.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """gtzan_gpu modules ``path`` imports anywhere in its body (``from package import name`` resolved to the
    submodule when ``name`` is one); a package's own ``__init__`` re-exports are not edges of its submodules."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                found.add(target if target in modules else node.module)
    return {name for name in found if name in modules}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_inside_the_package():
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    packages = {name for name, path in files.items() if path.name == "__init__.py"}
    graph = {}
    for name, path in files.items():
        # a module inside a package imports that package's __init__ implicitly; that is not a cycle of ideas
        graph[name] = {m for m in imports_of(path, modules) if m != name and not (m in packages and
                                                                                  name.startswith(m + "."))}
    for name in packages:  # an __init__ that re-exports its own submodules points down only
        graph[name] = {m for m in graph[name] if m.startswith(name + ".") or not m.startswith(name)}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


MAX_FUNCTION_LINES = 60  # a function reads on one screen


def test_no_function_is_longer_than_a_screen():
    long = [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
            for path in sorted(PACKAGE.rglob("*.py")) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, long


MAX_MODULE_LINES = 400  # a module owns one idea; one that grows past this holds two


def test_no_module_is_longer_than_one_idea():
    long = [f"{path.relative_to(PACKAGE.parent)} ({len(path.read_text().splitlines())})"
            for path in sorted(PACKAGE.rglob("*.py")) if len(path.read_text().splitlines()) > MAX_MODULE_LINES]
    assert not long, long


def test_the_command_line_is_a_package_of_thin_command_modules():
    """Issue 32: one module per command group; the handlers call the library (no command module defines a
    class or holds a function longer than 40 lines)."""
    cli = PACKAGE / "cli"
    assert not (PACKAGE / "cli.py").exists() and (cli / "__init__.py").is_file()
    for path in sorted(cli.glob("*.py")):
        tree = ast.parse(path.read_text())
        thick = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                 and node.end_lineno - node.lineno + 1 > 40]
        assert not thick, f"{path.name}: {thick}"
        if path.name not in ("__init__.py", "arguments.py"):
            assert "PARSERS" in {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                                 if isinstance(t, ast.Name)}, path.name
