"""The package's layout: no import circles among its modules, and docs/architecture.md
names every one of them.

The import graph is read from the source with :mod:`ast`, not by importing: every
``import`` statement counts, at the top of a module or inside a function (an import put
off until a function runs is still a dependency, and a circle of them is still a circle),
and so do the ones a type checker alone reads.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "phaser_analytics"


def package_modules(root: Path = REPO) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    modules: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` is, or is in (``pkg.mod.attr`` → ``pkg.mod``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its source."""
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(_owner(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                # ``from pkg import mod`` imports the module ``pkg.mod``; ``from mod
                # import name`` the module ``mod``.
                full = f"{source}.{alias.name}"
                found.add(full if full in modules else _owner(source, modules))
    found.discard(None)
    found.discard(module)
    return {name for name in found if name is not None}


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    modules = package_modules(root)
    return {module: imports_of(module, modules) for module in modules}


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def _describe(circle: list[str], graph: dict[str, set[str]]) -> str:
    inside = set(circle)
    return "; ".join(
        f"{module} -> {', '.join(sorted(graph[module] & inside))}" for module in circle
    )


def test_no_import_circle_in_the_package() -> None:
    graph = import_graph()
    circles = import_circles(graph)
    assert not circles, "import circles:\n" + "\n".join(_describe(c, graph) for c in circles)


def test_the_core_never_imports_the_command_line() -> None:
    graph = import_graph()
    cli = f"{PACKAGE}.cli"
    wrong = sorted(
        module
        for module, imported in graph.items()
        if not module.startswith(cli)
        and module != f"{PACKAGE}.__main__"  # ``python -m phaser_analytics`` runs the CLI
        and any(name == cli or name.startswith(cli + ".") for name in imported)
    )
    assert not wrong, f"these modules import phaser_analytics.cli: {wrong}"


def test_the_circle_finder_finds_circles_lazy_and_relative(tmp_path: Path) -> None:
    """The detector itself: a circle closed by an import inside a function, and by a
    relative import from a subpackage, is found; a one-way import is not."""
    package = tmp_path / PACKAGE
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (package / "c.py").write_text("import phaser_analytics.a\n")
    (package / "d.py").write_text("from phaser_analytics.a import x\n")
    graph = import_graph(tmp_path)
    assert graph[f"{PACKAGE}.a"] == {f"{PACKAGE}.sub.b"}
    assert graph[f"{PACKAGE}.d"] == {f"{PACKAGE}.a"}
    assert import_circles(graph) == [[f"{PACKAGE}.a", f"{PACKAGE}.c", f"{PACKAGE}.sub.b"]]
    (package / "c.py").write_text("")
    assert import_circles(import_graph(tmp_path)) == []


ARCHITECTURE = REPO / "docs" / "architecture.md"
_MODULE_LINE = re.compile(r"^- `(phaser_analytics/[^`]+\.py)` — \S")


def test_architecture_lists_every_module_once() -> None:
    """docs/architecture.md has one line, ``- `path` — what it holds``, per module of the
    package, and none for a module that does not exist."""
    listed = [
        match.group(1)
        for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines()
        if (match := _MODULE_LINE.match(line))
    ]
    modules = {str(path.relative_to(REPO)) for path in package_modules().values()}
    assert len(listed) == len(set(listed)), "listed twice in docs/architecture.md"
    missing = sorted(modules - set(listed))
    assert not missing, f"add a line for each to docs/architecture.md: {missing}"
    gone = sorted(set(listed) - modules)
    assert not gone, f"docs/architecture.md lists modules that do not exist: {gone}"
