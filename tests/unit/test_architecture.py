"""The import graph of the project's own code: dependencies point one way and nothing imports in a circle.

Layers, lowest first; a module may import its own layer and those below it, never one above:
settings <- core, offline <- store <- resources <- ingest_assets <- definitions <- app.
Plain layers (everything under `ytingest/` but the app) never import dagster.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {
    "ytingest": 0,
    "ytingest.settings": 0,
    "ytingest.core": 1,
    "ytingest.offline": 1,
    "ytingest.store": 2,
    "resources": 3,
    "ingest_assets": 4,
    "definitions": 5,
    "ytingest.app": 6,
}
PLAIN = ("ytingest.settings", "ytingest.core", "ytingest.offline", "ytingest.store")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str | None:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


def project_imports() -> dict[str, set[str]]:
    """Every project module and the modules it imports, at any depth of the file (lazy imports too)."""
    files = [ROOT / "definitions.py", *ROOT.glob("ingest_assets/**/*.py"), *ROOT.glob("resources/**/*.py")]
    files += ROOT.glob("ytingest/**/*.py")
    graph: dict[str, set[str]] = {}
    for path in files:
        name = _module_name(path)
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = found
    modules = set(graph)
    return {name: {m for m in deps if m in modules and m != name} for name, deps in graph.items()}


def test_the_graph_is_read():
    graph = project_imports()
    assert "ingest_assets.transcripts" in graph and "ytingest.core.transcription" in graph["ingest_assets.transcripts"]


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{module} -> {dep}"
        for module, deps in project_imports().items()
        for dep in deps
        if _layer(module) and _layer(dep) and LAYERS[_layer(dep)] > LAYERS[_layer(module)]
    ]
    assert not upward, "imports pointing up the layers:\n" + "\n".join(sorted(upward))


def test_every_module_has_a_layer():
    assert not [m for m in project_imports() if _layer(m) is None]


def test_no_import_cycle():
    graph = project_imports()
    # A package's __init__ importing its own submodules is how packages re-export; that is not a cycle.
    edges = {m: {d for d in deps if not m or not d.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("layer", PLAIN)
def test_plain_code_never_imports_dagster(layer):
    offenders = []
    for path in ROOT.glob(layer.replace(".", "/") + "*"):
        for file in [path] if path.is_file() else path.rglob("*.py"):
            tree = ast.parse(file.read_text())
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                if any(n == "dagster" or n.startswith(("dagster.", "dagster_")) for n in names):
                    offenders.append(str(file.relative_to(ROOT)))
    assert not offenders, offenders


def test_the_search_command_imports_no_heavy_library():
    """`ytingest search` answers in about a second because its path (the command line, the search, the text
    encoder's ONNX copy) leaves dagster, torch, sentence-transformers and scipy unimported."""
    code = (
        "import sys\n"
        "from ytingest.app.cli import build_parser\n"
        "import ytingest.app.searching, resources.models.onnx_encoder, resources.models.errors\n"
        "build_parser()\n"
        "print(sorted({'dagster', 'torch', 'sentence_transformers', 'transformers', 'scipy'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stdout
