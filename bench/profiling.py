"""Where the CLI's time goes, from a bench/profile_cli.py profile (thread-seconds, all threads merged)."""

from __future__ import annotations

import os
import pstats
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = str(ROOT / "ecr_drift") + "/"
SITE_PACKAGES = "site-packages/"
STDLIB = str(Path(os.__file__).parent) + "/"

# (label, file suffix, function name): cumulative thread-seconds of each, read from the merged profile.
PROBES: tuple[tuple[str, str, str], ...] = (
    ("CLI imports (ecr_drift.cli.app and everything it pulls in)", "importlib/__init__.py", "import_module"),
    ("load and validate the desired state", "ecr_drift/desired/loading.py", "load_desired_state"),
    ("engine.run (the whole check, main thread)", "ecr_drift/engine.py", "run"),
    ("  create the boto3 session and ECR client", "ecr_drift/aws/clients.py", "ecr"),
    ("  DescribeRepositories listing", "ecr_drift/aws/observe.py", "list_repositories"),
    ("  registry reads and findings", "ecr_drift/engine.py", "registry"),
    ("per-repository checks (worker threads, summed)", "ecr_drift/engine.py", "repository"),
    ("  resolve the repository's settings", "ecr_drift/desired/resolution.py", "resolve"),
    ("  compile its desired documents", "ecr_drift/drift.py", "desired_repository"),
    ("  observe: its per-repository reads", "ecr_drift/aws/observe.py", "observe_repository"),
    ("  diff: canonical forms and findings", "ecr_drift/drift.py", "repository_changes"),
    ("  remediate: the write calls", "ecr_drift/engine.py", "remediate"),
    ("every ECR call (botocore _make_api_call)", "botocore/client.py", "_make_api_call"),
    ("  of which HTTP round trip (botocore Endpoint._send)", "botocore/endpoint.py", "_send"),
    ("  of which building the User-Agent header", "botocore/useragent.py", "to_string"),
    ("  of which SigV4 signing", "botocore/signers.py", "sign"),
    ("  of which parsing the response", "botocore/parsers.py", "parse"),
    (
        "  of which waiting for the response bytes (socket recv_into)",
        "",
        "<method 'recv_into' of '_socket.socket' objects>",
    ),
    ("print the JSON report", "ecr_drift/cli/account.py", "emit"),
)


@dataclass(frozen=True)
class ProfileLine:
    label: str
    seconds: float
    calls: int


def _entries(stats: pstats.Stats) -> dict[tuple[str, int, str], Any]:
    return stats.stats  # type: ignore[attr-defined,no-any-return]  # typeshed does not declare it


def probe(path: Path) -> list[ProfileLine]:
    entries = _entries(pstats.Stats(str(path)))
    lines = []
    for label, suffix, function in PROBES:
        seconds, calls = 0.0, 0
        for (filename, _, name), (_, total_calls, _, cumulative, _) in entries.items():
            # Several functions may share a name in one file: the outermost (largest) one counts.
            if name == function and filename.endswith(suffix) and cumulative > seconds:
                seconds, calls = cumulative, total_calls
        lines.append(ProfileLine(label, seconds, calls))
    return lines


def top_functions(path: Path, limit: int = 12) -> list[tuple[str, float, int]]:
    """The functions with the most own time (tottime), waiting on sockets and locks included."""
    entries = _entries(pstats.Stats(str(path)))
    ranked = sorted(entries.items(), key=lambda item: -item[1][2])[:limit]
    rows = []
    for (filename, line, name), (_, total_calls, own, _, _) in ranked:
        where = name if filename == "~" else f"{_short(filename)}:{line} {name}"
        rows.append((where, own, total_calls))
    return rows


def by_package(path: Path) -> list[tuple[str, float]]:
    """Own time summed by where the code lives: a partition of the profile's total."""
    totals: dict[str, float] = {}
    for (filename, _, name), (_, _, own, _, _) in _entries(pstats.Stats(str(path))).items():
        group = _group(filename, name)
        totals[group] = totals.get(group, 0.0) + own
    return sorted(totals.items(), key=lambda item: -item[1])


def _group(filename: str, name: str) -> str:
    if filename == "~":  # C functions: by what they do
        if "_socket" in name or "select." in name or "_ssl" in name:
            return "sockets (C)"
        if "_thread" in name or "_queue" in name:
            return "locks and queues (C)"
        if "marshal" in name or "builtins.exec" in name or "_imp." in name:
            return "importing (C)"
        return "other built-ins (C)"
    if filename.startswith("<frozen"):
        return "importing (importlib)"
    if SITE_PACKAGES in filename:
        return filename.split(SITE_PACKAGES, 1)[1].split("/", 1)[0]
    if filename.startswith(PRODUCT):
        return "ecr_drift (the product)"
    if filename.startswith(STDLIB):
        return "stdlib " + filename[len(STDLIB) :].split("/", 1)[0].removesuffix(".py")
    return filename


def _short(filename: str) -> str:
    for prefix in (SITE_PACKAGES, str(ROOT) + "/", STDLIB):
        if prefix in filename:
            return filename.split(prefix, 1)[1]
    return filename
