"""No import cycles inside the kit: every module of ``cs182meta/`` and ``autograder/`` is
parsed (not imported), every import it holds is read, at any level (inside functions
and ``if TYPE_CHECKING:`` blocks too: a dependency is a dependency), and the graph of
imports between the kit's own modules must have no cycle.

An edge goes to the module that an import names: ``import a.b`` and ``from a import b``
(where ``a/b.py`` exists) point at ``a.b``; ``from a.b import name`` points at ``a.b``.
Relative imports are resolved against the importing module's package. Parent packages
that Python also runs on the way (``a/__init__.py``) are not edges: a package whose
``__init__`` re-exports its submodules would otherwise be a cycle by construction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cs182meta", "autograder")


def module_names(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of ``packages`` (folders under ``root``) by dotted name; a package
    is its ``__init__.py``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]  # a module's package
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([name] if name else [])])


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` (at ``path``) imports, at any level."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def add(name: str) -> None:
        # The most specific known module the name is or lies inside (``a.b.c`` → ``a.b``
        # when ``a/b.py`` defines ``c``).
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in known:
                found.add(candidate)
                return

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            source = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level else node.module
            )
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if alias.name != "*" and submodule in known:
                    found.add(submodule)  # ``from a import b`` with b a module
                else:
                    add(source)
    found.discard(module)
    return found


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    modules = module_names(root, packages)
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, each sorted: groups of
    modules that import each other, directly or not (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # the graphs here are small: recursion is fine
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
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, …, a]``) per component of :func:`components`: the shortest way
    from its first module back to itself."""
    found = []
    for component in components(graph):
        members, start = set(component), component[0]
        # Breadth-first: the shortest way back to ``start`` inside the component.
        paths, seen = [[start]], {start}
        cycle = None
        while paths and cycle is None:
            path = paths.pop(0)
            for target in sorted(graph[path[-1]] & members):
                if target == start:
                    cycle = [*path, start]
                    break
                if target not in seen:
                    seen.add(target)
                    paths.append([*path, target])
        found.append(cycle)
    return found


def describe(graph: dict[str, set[str]], package: str = "") -> str:
    """Each cycle of ``graph`` that passes through ``package`` (all when ``""``), and the
    whole group of modules it belongs to; ``""`` when there is none."""
    lines = []
    for cycle, group in zip(cycles(graph), components(graph)):
        if any(m == package or m.startswith(package + ".") for m in group) or not package:
            lines.append(f"  {' -> '.join(cycle)}   (modules importing each other: "
                         f"{', '.join(group)})")
    return "import cycles:\n" + "\n".join(lines) if lines else ""


def test_cs182meta_has_no_import_cycle():
    found = describe(import_graph(REPO, PACKAGES), "cs182meta")
    assert not found, found


def test_autograder_has_no_import_cycle():
    found = describe(import_graph(REPO, PACKAGES), "autograder")
    assert not found, found


def test_settings_is_a_leaf():
    """Every module may read the settings, so the settings read no module of the kit."""
    assert import_graph(REPO, PACKAGES)["cs182meta.settings"] == set()


def test_the_graph_sees_the_imports_it_must():
    graph = import_graph(REPO, PACKAGES)
    assert "cs182meta.settings" in graph["cs182meta.device"]  # from cs182meta import settings
    assert "cs182meta.profiles" in graph["cs182meta.__main__"]  # inside a function
    assert "autograder.authoring" in graph["autograder.sources"]


# The detector itself, on a made-up package.

def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def f():\n    from .sub import c\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "def g():\n    import pkg.a\n",
        "pkg/d.py": "from pkg.a import something\n",  # into the cycle, not part of it
    })
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.d"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
    assert "pkg.a -> pkg.b -> pkg.sub.c -> pkg.a" in describe(graph)


def test_relative_imports_and_names_are_resolved(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "from . import a\n",  # a package re-exporting: no cycle
        "pkg/a.py": "from .b import NAME\nfrom . import b as bee\n",
        "pkg/b.py": "NAME = 1\nimport os\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from .. import b\nfrom ..a import thing\nfrom . import *\n",
    })
    graph = import_graph(tmp_path, ("pkg",))
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": set(),
                     "pkg.sub": set(), "pkg.sub.c": {"pkg.a", "pkg.b", "pkg.sub"}}
    assert cycles(graph) == [] and describe(graph) == ""


def test_the_check_fails_on_a_cycle(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/settings.py": "def effective():\n    from pkg.device import pick\n",
        "pkg/device.py": "from pkg import settings\n",
        "pkg/profiles.py": "from pkg import settings\n\ndef setup():\n    from pkg import device\n",
        "pkg/other.py": "import pkg.profiles\n",
    })
    found = describe(import_graph(tmp_path, ("pkg",)), "pkg")
    with pytest.raises(AssertionError, match=r"pkg\.device -> pkg\.settings -> pkg\.device"):
        assert not found, found
    assert "(modules importing each other: pkg.device, pkg.settings)" in found
    assert describe(import_graph(tmp_path, ("pkg",)), "elsewhere") == ""
