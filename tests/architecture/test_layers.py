"""The import graph of ``handler`` points down: pure types, the contract and the compiler at the bottom; the
settings and the diff above them; AWS access above that; the engine, publishing and fan-out above it; the
Lambda entry and the CLI on top. A module may import its own layer or any layer below, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HANDLER = Path(__file__).resolve().parents[2] / "handler"

# Most specific prefix first wins. Within ``desired`` the contract models sit below the compiler, which
# imports them; validation (checks, loading) uses the compiler, so it sits above it.
LAYERS: list[tuple[str, int]] = [
    ("handler.strict_model", 0),
    ("handler.findings", 0),
    ("handler.metrics", 0),
    ("handler.targets", 0),
    ("handler.state", 0),
    ("handler.desired.models", 0),
    ("handler.desired.lifecycle_rules", 0),
    ("handler.desired.upstreams", 0),
    ("handler.desired.resolution", 0),
    ("handler.documents", 1),
    ("handler.desired", 2),
    ("handler.settings", 3),
    ("handler.drift", 3),
    ("handler.adoption", 3),
    ("handler.blast_radius", 3),
    ("handler.aws", 4),
    ("handler.engine", 5),
    ("handler.events", 5),
    ("handler.config", 5),
    ("handler.fanout", 5),
    ("handler.pages", 5),
    ("handler.publish", 5),
    ("handler.role", 6),
    ("handler.enforce", 6),
    ("handler.cli", 6),
    ("handler", 6),  # the package itself
]
NAMES = {0: "pure types and the contract", 1: "compiler", 2: "desired state", 3: "settings and drift"}
NAMES |= {4: "AWS access", 5: "engine, events, publishing, fan-out", 6: "entry points"}


def layer(module: str) -> int:
    for prefix, rank in sorted(LAYERS, key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} has no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    parts = path.relative_to(HANDLER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every handler module ``path`` imports, at run time or for type checking alone."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("handler"):
            found.add(node.module)
            # `from handler import engine` imports the module handler.engine.
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "handler")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("handler"))
    return {name for name in found if name != "handler"}


def test_every_import_points_down() -> None:
    upward = []
    for path in sorted(HANDLER.rglob("*.py")):
        source = module_name(path)
        for target in sorted(imports(path)):
            if layer(target) > layer(source):
                upward.append(f"{source} ({NAMES[layer(source)]}) → {target} ({NAMES[layer(target)]})")
    assert upward == []


@pytest.mark.parametrize(
    "module", ["handler.drift", "handler.settings", "handler.state", "handler.documents"]
)
def test_pure_layers_import_no_aws_sdk(module: str) -> None:
    roots = [HANDLER.parent / Path(*module.split("."))]
    paths = [
        p
        for root in roots
        for p in ([root.with_suffix(".py")] if root.with_suffix(".py").exists() else root.rglob("*.py"))
    ]
    for path in paths:
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] in {"boto3", "botocore"}}, path
