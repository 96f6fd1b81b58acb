"""What one benchmark run measured: plain data, shared by bench/run.py and bench/report.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.measure import CliRun, ImportTime, PackageSize
from bench.profiling import ProfileLine
from bench.proxy import Counts
from bench.seed import DriftPlan
from ecr_drift.aws.errors import is_read_operation


def is_ecr_operation(operation: str) -> bool:
    return " " not in operation  # the proxy names other requests "GET /path"


def is_write(operation: str) -> bool:
    return is_ecr_operation(operation) and not is_read_operation(operation)


@dataclass(frozen=True)
class Run:
    """One CLI run and what the proxy and the server process saw during it."""

    cli: CliRun
    counts: Counts
    server_cpu_seconds: float
    proxy_cpu_seconds: float
    machine_cpu_seconds: float  # every process on the machine, during the run

    @property
    def other_cpu_seconds(self) -> float:
        """CPU used meanwhile by processes other than the CLI, moto_server and the proxy: noise."""
        ours = self.cli.cpu_seconds + self.server_cpu_seconds + self.proxy_cpu_seconds
        return max(self.machine_cpu_seconds - ours, 0.0)

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.counts.requests.items() if is_write(op))


@dataclass
class SizeResult:
    size: int
    concurrency: int
    drift: DriftPlan
    added_latency_ms: float
    seed_seconds: float
    seed_requests: int
    enforce: Run
    audit: Run  # the median of the audits run
    audit_walls: list[float] = field(default_factory=list)  # wall time of every audit run, in order
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProfileResult:
    command: str
    size: int
    cpu: bool  # the timer: each thread's CPU time, or wall time
    wall_seconds: float
    probes: list[ProfileLine]
    top: list[tuple[str, float, int]]
    packages: list[tuple[str, float]]


@dataclass
class Results:
    argv: list[str]
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)  # when the run started
    sizes: list[SizeResult] = field(default_factory=list)
    concurrency: list[SizeResult] = field(default_factory=list)
    profiles: list[ProfileResult] = field(default_factory=list)
    imports: ImportTime | None = None
    package: PackageSize | None = None
    cli_startup_seconds: float = 0.0
    elapsed_seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        return [f"N={r.size}, concurrency {r.concurrency}: {p}" for r in self.all_sizes for p in r.problems]

    @property
    def all_sizes(self) -> list[SizeResult]:
        return [*self.sizes, *(r for r in self.concurrency if r not in self.sizes)]
