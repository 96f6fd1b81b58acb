"""The import graph of ``ecr_drift`` points down: pure types, the contract and the compiler at the bottom; the
settings and the diff above them; AWS access above that; the engine, publishing and fan-out above it; the
Lambda entry and the CLI on top. A module may import its own layer or any layer below, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ecr_drift"

# Most specific prefix first wins. Within ``desired`` the contract models sit below the compiler, which
# imports them; validation (checks, loading) uses the compiler, so it sits above it.
LAYERS: list[tuple[str, int]] = [
    ("ecr_drift.strict_model", 0),
    ("ecr_drift.findings", 0),
    ("ecr_drift.metrics", 0),
    ("ecr_drift.targets", 0),
    ("ecr_drift.state", 0),
    ("ecr_drift.desired.models", 0),
    ("ecr_drift.desired.lifecycle_rules", 0),
    ("ecr_drift.desired.upstreams", 0),
    ("ecr_drift.desired.resolution", 0),
    ("ecr_drift.documents", 1),
    ("ecr_drift.desired", 2),
    ("ecr_drift.settings", 3),
    ("ecr_drift.drift", 3),
    ("ecr_drift.adoption", 3),
    ("ecr_drift.blast_radius", 3),
    ("ecr_drift.aws", 4),
    ("ecr_drift.engine", 5),
    ("ecr_drift.events", 5),
    ("ecr_drift.config", 5),
    ("ecr_drift.fanout", 5),
    ("ecr_drift.pages", 5),
    ("ecr_drift.publish", 5),
    ("ecr_drift.role", 6),
    ("ecr_drift.lambda_function", 6),
    ("ecr_drift.cli", 6),
    ("ecr_drift", 6),  # the package itself
]
NAMES = {0: "pure types and the contract", 1: "compiler", 2: "desired state", 3: "settings and drift"}
NAMES |= {4: "AWS access", 5: "engine, events, publishing, fan-out", 6: "entry points"}


def layer(module: str) -> int:
    for prefix, rank in sorted(LAYERS, key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} has no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every ecr_drift module ``path`` imports, at run time or for type checking alone."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ecr_drift"):
            found.add(node.module)
            # `from ecr_drift import engine` imports the module ecr_drift.engine.
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "ecr_drift")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("ecr_drift"))
    return {name for name in found if name != "ecr_drift"}


def test_every_import_points_down() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        for target in sorted(imports(path)):
            if layer(target) > layer(source):
                upward.append(f"{source} ({NAMES[layer(source)]}) → {target} ({NAMES[layer(target)]})")
    assert upward == []


@pytest.mark.parametrize(
    "module", ["ecr_drift.drift", "ecr_drift.settings", "ecr_drift.state", "ecr_drift.documents"]
)
def test_pure_layers_import_no_aws_sdk(module: str) -> None:
    roots = [ROOT / Path(*module.split("."))]
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


def test_the_lambda_entry_is_only_an_entry() -> None:
    """``handler/`` is the fixed Lambda entry point and nothing else: the code lives in ``ecr_drift``."""
    entry = ROOT / "handler"
    assert sorted(p.name for p in entry.glob("*.py")) == ["__init__.py", "enforce.py"]
    assert not [p for p in entry.iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert imports(entry / "enforce.py") == {"ecr_drift.lambda_function"}
