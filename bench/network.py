"""`make bench-network`: ecr-drift over a simulated network and under ECR-like throttling.

    python -m bench.network --size 2000 --write BENCHMARKS.md

One account of ``--size`` repositories (bench/seed.py's drift mix), the counting proxy (bench/proxy.py) adding
a ``--latency-ms`` round trip to every request:

- enforce then audit at each ``--concurrency`` (each on a freshly seeded account, checked as `make bench`
  checks its sweeps);
- then 1, 2, 4 (``--runs``) audits at once, as subprocesses, while every operation has a token bucket of
  ``--rate`` requests/s (``--burst``) shared by all of them, as ECR's per-API limits are per account and
  region. Wall time is set against the floor (the busiest operation's served requests ÷ rate); throttled
  answers and retries come from the proxy; a repository any audit left unchecked fails the benchmark.

Its own block of BENCHMARKS.md; exit code 1 when a check failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import CliRun, run_cli
from bench.proxy import CountingProxy, Counts
from bench.report import table, write_report
from bench.results import SizeResult
from bench.run import common_args, measure_size
from bench.seed import load_bench_state
from bench.server import DoubleServer
from ecr_drift.aws.clients import DEFAULT_CONCURRENCY, MAX_ATTEMPTS

START = "<!-- bench:network:start (rewritten by bench/network.py up to the end marker) -->"
END = "<!-- bench:network:end -->"


@dataclass
class ThrottledRun:
    """``runs`` audits started together under per-operation token buckets."""

    runs: int
    wall_seconds: float
    clis: list[CliRun]
    counts: Counts
    size: int
    rate: float
    problems: list[str] = field(default_factory=list)

    @property
    def floor_seconds(self) -> float:
        """No client can go faster: the busiest operation's requests that got through, at ``rate``."""
        return max(self.counts.served.values(), default=0) / self.rate

    @property
    def unchecked(self) -> int:
        return sum(self.size - len(cli.report.get("repositories_checked", [])) for cli in self.clis)

    @property
    def failed_findings(self) -> int:
        return sum(
            1 for cli in self.clis for f in cli.report.get("findings", []) if f.get("action") == "failed"
        )


def throttled_audits(proxy: CountingProxy, size: int, runs: int, rate: float, burst: float) -> ThrottledRun:
    args = ("audit", *common_args(proxy, DEFAULT_CONCURRENCY))
    proxy.reset()
    proxy.throttle(rate, burst)  # fresh, full buckets for each scenario
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=runs) as pool:  # each thread waits for its own subprocess
        clis = list(pool.map(lambda _: run_cli(*args), range(runs)))
    wall = time.perf_counter() - started
    counts = proxy.counts()
    proxy.throttle(None)
    result = ThrottledRun(runs, wall, clis, counts, size, rate)
    for cli in clis:
        if cli.exit_code not in (0, 2):
            result.problems.append(f"an audit exited {cli.exit_code}: {cli.stderr[-300:]}")
    if result.unchecked:
        result.problems.append(f"{result.unchecked} repositories left unchecked")
    if counts.errors:
        result.problems.append(f"{counts.errors} server errors")
    return result


def render(
    latency: list[SizeResult], throttled: list[ThrottledRun], args: argparse.Namespace, elapsed: float
) -> str:
    problems = [f"concurrency {r.concurrency}: {p}" for r in latency for p in r.problems]
    problems += [f"{t.runs} runs at once: {p}" for t in throttled for p in t.problems]
    checks = (
        "**All checks passed.**"
        if not problems
        else "**FAILED checks:**\n" + "\n".join(f"- {p}" for p in problems)
    )
    latency_rows = [
        [
            str(r.concurrency),
            f"{r.enforce.cli.wall_seconds:.1f}",
            str(r.enforce.counts.total),
            str(r.enforce.counts.peak_in_flight),
            f"{r.audit.cli.wall_seconds:.1f}",
            str(r.audit.counts.total),
            str(r.audit.counts.peak_in_flight),
            f"{r.audit.counts.total * args.latency_ms / 1000 / r.concurrency:.1f}",
            f"{r.audit.cli.cpu_seconds:.1f} / {r.audit.server_cpu_seconds:.1f}",
        ]
        for r in latency
    ]
    throttle_rows = [
        [
            str(t.runs),
            f"{t.wall_seconds:.1f}",
            f"{t.floor_seconds:.1f}",
            f"{t.wall_seconds / t.floor_seconds:.2f}" if t.floor_seconds else "",
            str(t.counts.total),
            str(t.counts.total - sum(t.counts.retries.values())),
            str(sum(t.counts.throttled.values())),
            str(sum(t.counts.retries.values())),
            str(t.failed_findings),
            str(t.unchecked),
        ]
        for t in throttled
    ]
    return (
        "## Network round trip and throttling\n\n"
        f"Generated by `make bench-network` in {elapsed:.0f} s (load average at start "
        f"{', '.join(f'{v:.2f}' for v in args.load_average)}):\n\n"
        f"```sh\n.venv/bin/python -m bench.network {' '.join(args.argv)}\n```\n\n"
        f"N = {args.size} repositories (bench/seed.py's account and drift), the proxy adding "
        f"{args.latency_ms:.0f} ms to every request. Enforce then audit, each concurrency on a freshly "
        "seeded account and checked as the sweeps above are. Network-bound estimate: audit requests "
        "times round trip over concurrency; past it, moto_server's CPU (a single process holding the "
        "GIL) sets the pace, "
        "which AWS would not.\n\n"
        + table(
            [
                "concurrency",
                "enforce wall s",
                "enforce requests",
                "enforce max in flight",
                "audit wall s",
                "audit requests",
                "audit max in flight",
                "audit network-bound estimate s",
                "audit CPU s CLI / moto_server",
            ],
            ["---:"] * 9,
            latency_rows,
        )
        + "\n\n"
        f"Throttled: {', '.join(map(str, args.runs))} `ecr-drift audit` processes started at once "
        "(each `--concurrency "
        f"{DEFAULT_CONCURRENCY}`, the whole account), every ECR operation limited to {args.rate:g} "
        f"requests/s with a burst of {args.burst:g}, one bucket per operation shared by all the "
        "processes; an empty "
        "bucket is answered `400 ThrottlingException` (`Rate exceeded`) without reaching moto_server. The "
        f"CLI's clients retry in botocore's adaptive mode, at most {MAX_ATTEMPTS} attempts. Floor: the "
        "busiest operation's requests that got through over the rate. Unique calls: requests without a retry "
        "header (`amz-sdk-request: attempt=1`); retries: the rest. Failed findings: reads that ran out of "
        "attempts. Unchecked: repositories an audit's report does not list as checked, summed over the "
        "processes; any is a failed check.\n\n"
        + table(
            [
                "runs at once",
                "wall s",
                "floor s",
                "wall ÷ floor",
                "requests",
                "unique calls",
                "throttled (400)",
                "retries",
                "failed findings",
                "unchecked",
            ],
            ["---:"] * 10,
            throttle_rows,
        )
        + f"\n\n{checks}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.network",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, DEFAULT_CONCURRENCY, 32])
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 2, 4], help="audits at once, throttled")
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s per operation (default 20)")
    parser.add_argument("--burst", type=float, default=20.0, help="bucket size per operation (default 20)")
    parser.add_argument("--write", type=Path, help="the Markdown file whose network block to update")
    args = parser.parse_args()
    args.argv, args.load_average = sys.argv[1:], os.getloadavg()
    started = time.perf_counter()
    state = load_bench_state()

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    latency: list[SizeResult] = []
    throttled: list[ThrottledRun] = []
    with DoubleServer() as server, CountingProxy(server.url) as proxy:
        proxy.delay = args.latency_ms / 1000
        for level in args.concurrency:
            result = measure_size(server, proxy, state, args.size, level)
            latency.append(result)
            say(
                f"concurrency {level}: enforce {result.enforce.cli.wall_seconds:.1f} s, audit "
                f"{result.audit.cli.wall_seconds:.1f} s"
                + "".join(f"\n  PROBLEM: {p}" for p in result.problems)
            )
        # The last account is enforced and audited: compliant but for the unmanaged repositories.
        for runs in args.runs:
            run = throttled_audits(proxy, args.size, runs, args.rate, args.burst)
            throttled.append(run)
            say(
                f"{runs} audits at once: {run.wall_seconds:.1f} s (floor {run.floor_seconds:.1f} s), "
                f"{sum(run.counts.throttled.values())} throttled, {run.unchecked} unchecked"
                + "".join(f"\n  PROBLEM: {p}" for p in run.problems)
            )
    generated = render(latency, throttled, args, time.perf_counter() - started)
    if args.write:
        write_report(args.write, generated, START, END)
        say(f"wrote {args.write}")
    else:
        print(generated)
    failed = [p for r in latency for p in r.problems] + [p for t in throttled for p in t.problems]
    for problem in failed:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
