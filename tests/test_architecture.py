"""The layers hold: the API reaches the engine only through the service, and no module-level
import cycle exists (docs/architecture.md).

Imports are read from the source (the AST), so these tests are fast and name the offending
line; one fresh interpreter then imports every module, as a user's first import would.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gridmap"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(
    path: Path, *, top_level_only: bool, type_checking: bool = False
) -> list[tuple[int, str]]:
    """(line, module) of every ``import``/``from … import`` of gridmap in ``path``: with
    ``top_level_only``, those run at import time (not inside functions); imports under
    ``if TYPE_CHECKING:`` (never run) only with ``type_checking``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            ):
                continue
            if (
                not type_checking
                and isinstance(child, ast.If)
                and "TYPE_CHECKING" in ast.unparse(child.test)
            ):
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: level 1 is the package itself
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - child.level + 1])
                    base = f"{base}.{child.module}" if child.module else base
                for alias in child.names:  # `from pkg import module` imports the module
                    name = f"{base}.{alias.name}"
                    found.append((child.lineno, name if name in MODULES else base))
                if not child.names:
                    found.append((child.lineno, base))
            visit(child)

    visit(tree)
    return [(line, name) for line, name in found if name.split(".")[0] == "gridmap"]


def test_every_import_of_gridmap_names_a_module_that_exists() -> None:
    # A deferred import of a moved module (gridmap.store.gpkg_store after the store became
    # gpkg/ and postgis/) fails only when its function first runs.
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for name_of, path in MODULES.items()
        for line, name in _imports(path, top_level_only=False, type_checking=True)
        if name not in MODULES
    ]
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)


def test_the_api_imports_nothing_from_the_engine() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sorted((PACKAGE / "api").rglob("*.py"))
        for line, name in _imports(path, top_level_only=False, type_checking=True)
        if name == "gridmap.engine" or name.startswith("gridmap.engine.")
    ]
    assert not offending, "the API must go through gridmap.service:\n" + "\n".join(offending)


def test_nothing_below_the_api_imports_it() -> None:
    # The service, the engine, the stores and the case rules serve the API and the CLI alike;
    # an import of the API from below (publish.py once took the case statuses from it) makes
    # the CLI load FastAPI and ties the layers into a knot.
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in {"api", "cli"}
        for line, name in _imports(path, top_level_only=False, type_checking=True)
        if name == "gridmap.api" or name.startswith("gridmap.api.")
    ]
    assert not offending, "only gridmap.cli may import gridmap.api:\n" + "\n".join(offending)


def _import_graph(*, top_level_only: bool = True) -> dict[str, list[str]]:
    """Each module of gridmap → the modules of gridmap it imports (at import time, or
    anywhere: inside functions too)."""
    return {
        name: sorted(
            {m for _, m in _imports(path, top_level_only=top_level_only) if m in MODULES} - {name}
        )
        for name, path in MODULES.items()
    }


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle of ``graph`` (its nodes, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := walk(node)):
            return found
    return None


def test_no_module_level_import_cycle() -> None:
    cycle = find_cycle(_import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_no_import_cycle_even_through_deferred_imports() -> None:
    # An import deferred into a function hides a cycle, it does not remove it (api/locator.py
    # and api/search.py imported each other so). Imports under TYPE_CHECKING never run: a type
    # named in an annotation is no cycle. Inside gridmap.store, base, publishing and records
    # still import each other in functions: left to the store's owners (issue 11, store part).
    graph = {
        name: [m for m in targets if not (_in_store(name) and _in_store(m))]
        for name, targets in _import_graph(top_level_only=False).items()
    }
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def _in_store(name: str) -> bool:
    return name == "gridmap.store" or name.startswith("gridmap.store.")


def test_the_cycle_finder_finds_the_old_locator_search_cycle() -> None:
    # The check must be able to fail: api/locator.py and api/search.py once imported each other.
    graph = {"api.public": ["api.locator"], "api.locator": ["api.search"], "api.search": []}
    assert find_cycle(graph) is None
    graph["api.search"] = ["api.locator"]
    assert find_cycle(graph) == ["api.locator", "api.search", "api.locator"]


def test_imports_are_read_with_their_line() -> None:
    lines = _imports(PACKAGE / "service" / "search.py", top_level_only=True)
    assert any(name == "gridmap.service.lookup" for _, name in lines)


@pytest.mark.parametrize("package", ["gridmap", "gridmap.service", "gridmap.api", "gridmap.cli"])
def test_every_module_imports_in_a_fresh_interpreter(package: str) -> None:
    names = [n for n in MODULES if n == package or n.startswith(package + ".")]
    if package == "gridmap":  # the package alone: what `import gridmap` costs and offers
        names = ["gridmap"]
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    done = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_architecture_doc_names_every_service_module_and_no_other() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`service/(\w+)\.py`", doc))
    present = {p.stem for p in (PACKAGE / "service").glob("*.py") if p.stem != "__init__"}
    assert named <= present, f"docs/architecture.md names missing modules {named - present}"
    assert present <= named, f"docs/architecture.md does not name {present - named}"
