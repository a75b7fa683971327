"""The project's packages import one way (issue 36, "the house"), read from the source with ast.

Layers, lowest first: `console` and `tf_multiemb` (neither imports the other), `datasets`, `trainers`,
`export`, `bench`. A module may import its own package and the layers below it. `trainers.quickstart` is the
end-to-end job (it converts, trains, analyses and exports), so it sits above `export`, below `bench`. Imports
inside functions count: they run too, only later. No modules import each other in a circle.
"""

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
LAYERS = {"console": 0, "tf_multiemb": 0, "datasets": 1, "trainers": 2, "export": 3, "bench": 5}
ABOVE_ITS_PACKAGE = {"trainers.quickstart": 4}


def project_modules() -> dict[str, pathlib.Path]:
    """{dotted module name: path} of every module in the layered packages (a package is its __init__.py)."""
    modules = {}
    for package in LAYERS:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(tree: ast.AST) -> set[str]:
    """The dotted names a module imports anywhere in it; `from a import b` names both a and a.b."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """{module: the project modules it imports}."""
    modules = project_modules()
    return {name: {imported for imported in imported_names(ast.parse(path.read_text())) if imported in modules} - {name}
            for name, path in modules.items()}


def layer(module: str) -> int:
    return ABOVE_ITS_PACKAGE.get(module, LAYERS[module.split(".")[0]])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """'a -> b' for every import of another package that is not in a lower layer."""
    return sorted(f"{module} -> {imported}" for module, imports in graph.items() for imported in imports
                  if imported.split(".")[0] != module.split(".")[0] and layer(imported) >= layer(module))


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan's algorithm), each sorted."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(circles)


def test_no_package_imports_a_layer_above_it():
    assert upward_imports(import_graph()) == []


def test_no_modules_import_each_other_in_a_circle():
    assert import_circles(import_graph()) == []


@pytest.mark.parametrize("graph, upward, circles", [
    ({"datasets": {"trainers.console"}, "trainers.console": set()}, ["datasets -> trainers.console"], []),
    ({"console.quiet": {"tf_multiemb"}, "tf_multiemb": set()}, ["console.quiet -> tf_multiemb"], []),
    ({"trainers.quickstart": {"export.saved_model"}, "export.saved_model": {"trainers.run_records"},
      "trainers.run_records": set()}, [], []),
    ({"datasets.raw_input": {"datasets.criteo"}, "datasets.criteo": {"datasets.avazu"},
      "datasets.avazu": {"datasets.raw_input"}, "datasets.schema": set()}, [],
     [["datasets.avazu", "datasets.criteo", "datasets.raw_input"]]),
])
def test_the_checks_see_the_arrows_that_issue_36_found(graph, upward, circles):
    assert upward_imports(graph) == upward
    assert import_circles(graph) == circles


def test_the_graph_holds_function_level_imports():
    graph = import_graph()
    assert "trainers.jax_runtime" in graph["trainers.runtime"]  # imported inside current_runtime
    assert {"datasets.avazu", "datasets.criteo"} <= graph["datasets.raw_formats"]
