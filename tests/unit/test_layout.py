"""The layout keeps its promises: no import cycle among the application's modules, the pure
package imports nothing from the application, services import no entry point, and no test
imports conftest."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("surveys", "analysis")
ENTRY_POINTS = ("surveys.web", "surveys.api", "surveys.cli")


def _modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every application module a file imports, at any depth (functions included)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                yield name


def _graph() -> dict[str, set[str]]:
    known = _modules()
    graph = {}
    for name, path in known.items():
        deps = set(_imports(path, known)) - {name}
        # a module's own package (its __init__) is no dependency of it
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    return graph


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_analysis_imports_nothing_from_the_application():
    graph = _graph()
    wrong = {m: sorted(d for d in deps if not d.startswith("analysis"))
             for m, deps in graph.items() if m.startswith("analysis")}
    assert not {m: d for m, d in wrong.items() if d}


def test_services_and_the_domain_import_no_entry_point():
    graph = _graph()
    wrong = {}
    for module, deps in graph.items():
        if module == "app" or module.startswith(ENTRY_POINTS) or \
                module.startswith("surveys.mail.worker"):
            continue
        bad = sorted(d for d in deps if d.startswith(ENTRY_POINTS))
        if bad:
            wrong[module] = bad
    assert not wrong, wrong


def test_services_do_not_import_flask():
    for path in (ROOT / "surveys" / "services").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in ("flask", "flask_login"), path.name
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "flask" for a in node.names), path.name


def test_no_test_imports_conftest():
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "conftest":
                raise AssertionError(f"{path.relative_to(ROOT)} imports conftest")
            if isinstance(node, ast.Import) and any(a.name == "conftest" for a in node.names):
                raise AssertionError(f"{path.relative_to(ROOT)} imports conftest")
