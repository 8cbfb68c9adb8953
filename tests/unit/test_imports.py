"""The import graph of topicserve: no cycles among modules, and the rooms import in one direction
(docs/architecture.md).

The graph is read from the source with ``ast`` (no module is imported, so no model loads): an edge
``a -> b`` for every ``import b`` / ``from b import x`` at module level of ``a``, where ``b`` is a
topicserve module (``from pkg import sub`` names the submodule). Imports inside functions (lazy,
on purpose) and under ``if TYPE_CHECKING:`` are not edges: they never run at import time. The
cycles lazy imports close are listed, and checked, in ``KNOWN_LAZY_CYCLES``. ``import-linter``
would do this too; a short walk (networkx, already in the lock, finds the cycles) keeps it out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "topicserve"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]):
    """Import statements that run when the module is imported (not in functions, not TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            yield from _module_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            yield from _module_level(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                yield from _module_level(handler.body)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def _targets(node: ast.Import | ast.ImportFrom, module: str, path: Path) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the importing module's package
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]


def _nearest_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        graph.add_node(module)
        for node in _module_level(ast.parse(path.read_text(), str(path)).body):
            for target in _targets(node, module, path):
                found = _nearest_module(target) if target.startswith("topicserve") else None
                if found and found != module:
                    graph.add_edge(module, found)
    return graph


GRAPH = import_graph()


def test_the_walk_sees_the_package():
    assert len(MODULES) > 40
    assert GRAPH.has_edge("topicserve.api.errormap", "topicserve.errors")  # a known module-level import
    assert not GRAPH.has_edge("topicserve.topics.registry", "topicserve.topics.llm")  # a known lazy one


def test_the_walk_sees_the_lazy_backend_import():
    """The registry imports the LLM backend inside a function, where the walk still sees it: a cycle
    through it (topics.llm importing the model or the registry back) fails the tests below."""
    assert ("topicserve.topics.registry", "topicserve.topics.llm") in _function_level_edges()


def test_no_import_cycles_among_topicserve_modules():
    cycles = sorted(" -> ".join([*c, c[0]]) for c in nx.simple_cycles(GRAPH))
    assert cycles == [], "import cycles (make one side lazy, or move the shared part down):\n" + "\n".join(cycles)


def _function_level_edges() -> list[tuple[str, str]]:
    edges = []
    for module, path in MODULES.items():
        for fn in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    for target in _targets(node, module, path):
                        found = _nearest_module(target) if target.startswith("topicserve") else None
                        if found and found != module:
                            edges.append((module, found))
    return edges


# The only cycles that lazy (function-level) imports close, each on purpose: the embedding backends
# load on demand (no torch/onnxruntime import for the other backend). The topic backends close none:
# the registry imports the LLM backend lazily, and the LLM backend imports only the interface,
# the config and the zero-shot backend (issue 14).
KNOWN_LAZY_CYCLES = {
    frozenset({"topicserve.embedding.base", "topicserve.embedding.torch"}),
    frozenset({"topicserve.embedding.base", "topicserve.embedding.onnx"}),
    # The same two through packages.py (the backends' refusal when torch/onnx are not installed,
    # a BackendRejected from base): base imports its backends lazily, as above.
    frozenset({"topicserve.embedding.base", "topicserve.embedding.packages", "topicserve.embedding.torch"}),
    frozenset({"topicserve.embedding.base", "topicserve.embedding.packages", "topicserve.embedding.onnx"}),
    # openvino runs the onnx backend's cached export (onnx.ensure_artifact)
    frozenset({"topicserve.embedding.base", "topicserve.embedding.openvino"}),
    frozenset({"topicserve.embedding.base", "topicserve.embedding.openvino", "topicserve.embedding.onnx"}),
    frozenset({"topicserve.embedding.base", "topicserve.embedding.openvino", "topicserve.embedding.packages"}),
    frozenset(
        {
            "topicserve.embedding.base",
            "topicserve.embedding.openvino",
            "topicserve.embedding.onnx",
            "topicserve.embedding.packages",
        }
    ),
}


def test_lazy_imports_close_only_the_known_cycles():
    graph = GRAPH.copy()
    graph.add_edges_from(_function_level_edges())
    assert {frozenset(c) for c in nx.simple_cycles(graph)} == KNOWN_LAZY_CYCLES


def _reaches(source: str, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in nx.descendants(GRAPH, source) if m.startswith(prefixes))


OPS = (
    *("topicserve.preflight", "topicserve.k8s", "topicserve.pin", "topicserve.localrun", "topicserve.localray"),
    *("topicserve.testing", "topicserve.reprex_helpers", "topicserve.gitarchive"),
)
BOTTOM = (
    *("topicserve.errors", "topicserve.redact", "topicserve.settings", "topicserve.space", "topicserve.inputs"),
    "topicserve.device",
)


@pytest.mark.parametrize("module", ["topicserve.api", "topicserve.gateway", "topicserve.store.table"])
def test_the_service_path_does_not_import_ops_tooling(module):
    assert _reaches(module, OPS) == []


@pytest.mark.parametrize("module", BOTTOM)
def test_the_bottom_room_imports_only_itself(module):
    assert _reaches(module, ("topicserve",)) == _reaches(module, BOTTOM)


@pytest.mark.parametrize("module", ["topicserve.schemas", "topicserve.topics", "topicserve.trends"])
def test_the_models_do_not_import_the_ingress_gateway_or_store(module):
    assert _reaches(module, ("topicserve.api", "topicserve.gateway", "topicserve.store", "topicserve.embedding")) == []


def test_topicserve_never_imports_deployments_or_ray_at_module_level():
    offenders = []
    for module, path in MODULES.items():
        for node in _module_level(ast.parse(path.read_text(), str(path)).body):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            offenders += [f"{module}: {n}" for n in names if n.split(".")[0] in ("ray", "deployments", "app")]
    assert offenders == []


TOPIC_BACKEND_INSIDES = tuple(f"topicserve.topics.{m}" for m in ("zeroshot", "llm", "rules", "prototypes", "vectors"))
INGRESS_AND_DEPLOYMENTS = sorted(
    [*(ROOT / "deployments").glob("*.py"), *(PACKAGE / "api").rglob("*.py"), PACKAGE / "gateway.py", ROOT / "app.py"]
)


@pytest.mark.parametrize("path", INGRESS_AND_DEPLOYMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_ingress_and_deployments_see_only_the_topic_interface_and_registry(path):
    """They import `topicserve.topics` (the interface, the config, the registry, TopicModel), never a
    backend's insides: a new backend is a new module in the registry, nothing else changes."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    assert sorted(n for n in names if n.startswith(TOPIC_BACKEND_INSIDES)) == []
