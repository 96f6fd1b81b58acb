"""`make bench`: ecr-drift against moto_server (with the ECR double) for several account sizes.

    python -m bench.run --sizes 100 500 2000 --write BENCHMARKS.md

For each size: an empty account is seeded with the bench desired state's repositories and a fixed mix of drift
(bench/seed.py), then the installed `ecr-drift` runs as a subprocess through a counting proxy
(bench/proxy.py): `enforce --yes --allow-mass-change` once, then `audit` right after, which must find nothing
to fix and make no write. Every figure comes from outside the product: wall time and rusage of the CLI
process, requests from the proxy, CPU of the server process from /proc. One size is also run at `--concurrency
1`, and a small one at both concurrencies with a simulated network round trip added by the proxy; one enforce
and audit are profiled in-process with cProfile over all threads (bench/profile_cli.py).
Exit code 1 when a check failed (the report says which).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from bench.measure import import_time, machine_busy_seconds, package_size, run_cli
from bench.profiling import by_package, probe, top_functions
from bench.proxy import CountingProxy
from bench.report import render, write_report
from bench.results import ProfileResult, Results, Run, SizeResult
from bench.seed import BENCH_DESIRED, DriftPlan, load_bench_state, plan, seed
from bench.server import DoubleServer
from ecr_drift.aws.clients import DEFAULT_CONCURRENCY
from ecr_drift.desired import DesiredState

ROOT = Path(__file__).resolve().parent.parent
# The seeded drift is broad on purpose (a share of every repository), so its policy fixes are more than
# enforcement.blast_radius allows in one run: the benchmark measures them all, as a person lifting it would.
ENFORCE = ("enforce", "--yes", "--allow-mass-change")


def _self_cpu() -> float:
    times = os.times()
    return times.user + times.system


def measured(server: DoubleServer, proxy: CountingProxy, *args: str) -> Run:
    """One CLI run; the proxy's CPU is this process's (the proxy threads do nearly all of its work)."""
    proxy.reset()
    server_cpu, proxy_cpu, machine_cpu = server.cpu_seconds(), _self_cpu(), machine_busy_seconds()
    cli = run_cli(*args)
    return Run(
        cli,
        proxy.counts(),
        server.cpu_seconds() - server_cpu,
        _self_cpu() - proxy_cpu,
        machine_busy_seconds() - machine_cpu,
    )


def common_args(proxy: CountingProxy, concurrency: int) -> tuple[str, ...]:
    desired = str(BENCH_DESIRED.relative_to(ROOT))
    return (
        "--format",
        "json",
        "--endpoint-url",
        proxy.url,
        "--desired",
        desired,
        "--concurrency",
        str(concurrency),
    )


def seeded(server: DoubleServer, state: DesiredState, size: int) -> tuple[DriftPlan, float, int]:
    server.reset()
    drift = plan(state, size)
    started = time.perf_counter()
    requests = seed(server.url, state, drift)
    return drift, time.perf_counter() - started, requests


def measure_size(
    server: DoubleServer,
    proxy: CountingProxy,
    state: DesiredState,
    size: int,
    concurrency: int,
    audits: int = 1,
) -> SizeResult:
    """Seed, enforce once, then audit ``audits`` times (an audit changes nothing, so each sees the same
    account); the audit reported is the one with the median wall time, and every one is checked."""
    drift, seed_seconds, seed_requests = seeded(server, state, size)
    args = common_args(proxy, concurrency)
    enforce = measured(server, proxy, *ENFORCE, *args)
    runs = [measured(server, proxy, "audit", *args) for _ in range(max(1, audits))]
    audit = sorted(runs, key=lambda run: run.cli.wall_seconds)[len(runs) // 2]
    latency_ms = 1000 * proxy.delay
    result = SizeResult(size, concurrency, drift, latency_ms, seed_seconds, seed_requests, enforce, audit)
    result.audit_walls = [run.cli.wall_seconds for run in runs]
    for run in runs:
        result.problems += [p for p in check(replace(result, audit=run)) if p not in result.problems]
    return result


def check(result: SizeResult) -> list[str]:
    """What the run must show; every miss is printed and written into the report."""
    problems = []
    drift, enforce, audit = result.drift, result.enforce, result.audit
    enforced, audited = enforce.cli.report, audit.cli.report
    if enforce.cli.exit_code != 0:
        problems.append(f"enforce exited {enforce.cli.exit_code}: {enforce.cli.stderr[-500:]}")
    if enforced.get("writes") != drift.drifted_settings or enforce.writes != drift.drifted_settings:
        problems.append(
            f"enforce wrote {enforced.get('writes')} (the proxy saw {enforce.writes}); "
            f"{drift.drifted_settings} settings drifted"
        )
    remediated = Counter(f["setting"] for f in enforced.get("findings", []) if f["action"] == "remediated")
    expected = Counter({str(setting): len(names) for setting, names in drift.drifted.items()})
    if remediated != expected:
        problems.append(f"enforce remediated {dict(remediated)}, expected {dict(expected)}")
    if audit.cli.exit_code not in (0, 2):
        problems.append(f"audit exited {audit.cli.exit_code}: {audit.cli.stderr[-500:]}")
    findings = audited.get("findings", [])
    not_reported = [f for f in findings if f["action"] != "reported"]
    if audited.get("writes") != 0 or audit.writes != 0 or not_reported:
        problems.append(f"audit not compliant: {len(not_reported)} findings, {audit.writes} writes")
    if {f["resource"] for f in findings if f["action"] == "reported"} != set(drift.unmanaged):
        problems.append(f"audit reported other than the {len(drift.unmanaged)} unmanaged repositories")
    checked = len(audited.get("repositories_checked", []))
    if checked != result.size:
        problems.append(f"audit checked {checked} repositories of {result.size}")
    if enforce.counts.errors or audit.counts.errors:
        problems.append(f"server errors: {enforce.counts.errors} + {audit.counts.errors}")
    return problems


def profile(
    server: DoubleServer, proxy: CountingProxy, state: DesiredState, size: int, workdir: Path
) -> list[ProfileResult]:
    """A freshly seeded account: enforce (wall clock), then audit twice (wall clock, then CPU time)."""
    seeded(server, state, size)
    results = []
    for command, cpu in ((ENFORCE, False), (("audit",), False), (("audit",), True)):
        out = workdir / f"{command[0]}-{size}-{'cpu' if cpu else 'wall'}.prof"
        started = time.perf_counter()
        run = run_cli(
            *(["--cpu"] if cpu else []),
            str(out),
            "--",
            *command,
            *common_args(proxy, DEFAULT_CONCURRENCY),
            command=(sys.executable, "-m", "bench.profile_cli"),
        )
        wall = time.perf_counter() - started
        if run.exit_code not in (0, 2) or not out.exists():
            raise RuntimeError(f"profiling {command[0]} failed ({run.exit_code}): {run.stderr[-1000:]}")
        results.append(
            ProfileResult(command[0], size, cpu, wall, probe(out), top_functions(out), by_package(out))
        )
    return results


def cli_startup_seconds() -> float:
    """`ecr-drift validate` of the bench desired state: interpreter, CLI imports and loading, no AWS."""
    runs = [run_cli("validate", str(BENCH_DESIRED.relative_to(ROOT))).wall_seconds for _ in range(3)]
    return min(runs)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument(
        "--concurrency-size", type=int, default=500, help="also run at --concurrency 1 (0: no)"
    )
    parser.add_argument(
        "--latency-size",
        type=int,
        default=100,
        help="also run at both concurrencies with --latency-ms (0: no)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="round trip the proxy adds in that run (default 20)"
    )
    parser.add_argument("--profile-size", type=int, default=500, help="size profiled (0: no profile)")
    parser.add_argument(
        "--audits", type=int, default=3, help="audits after each enforce; the median is reported (default 3)"
    )
    parser.add_argument("--write", type=Path, help="the Markdown file to update, e.g. BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    state = load_bench_state()
    results = Results(argv=sys.argv[1:], load_average=os.getloadavg())

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    with DoubleServer() as server, CountingProxy(server.url) as proxy, tempfile.TemporaryDirectory() as tmp:
        say(f"moto_server with the ECR double at {server.url} (pid {server.pid}), proxy at {proxy.url}")
        for size in args.sizes:
            result = measure_size(server, proxy, state, size, DEFAULT_CONCURRENCY, args.audits)
            results.sizes.append(result)
            e, a = result.enforce, result.audit
            say(
                f"N={size}: seeded in {result.seed_seconds:.1f} s; enforce {e.cli.wall_seconds:.2f} s, "
                f"{e.counts.total} requests, {e.writes} writes; audit {a.cli.wall_seconds:.2f} s, "
                f"{a.counts.total} requests" + "".join(f"\n  PROBLEM: {p}" for p in result.problems)
            )
        plans = [(args.concurrency_size, 0.0), (args.latency_size, args.latency_ms)]
        for size, latency_ms in [(size, latency) for size, latency in plans if size]:
            proxy.delay = latency_ms / 1000
            for level in (1, DEFAULT_CONCURRENCY):
                key = (size, level, latency_ms)
                same = [r for r in results.sizes if (r.size, r.concurrency, r.added_latency_ms) == key]
                result = same[0] if same else measure_size(server, proxy, state, size, level)
                results.concurrency.append(result)
                say(
                    f"N={size}, concurrency {level}, {latency_ms:.0f} ms added: enforce "
                    f"{result.enforce.cli.wall_seconds:.2f} s, audit {result.audit.cli.wall_seconds:.2f} s"
                )
            proxy.delay = 0.0
        if args.profile_size:
            results.profiles = profile(server, proxy, state, args.profile_size, Path(tmp))
            say(f"profiled N={args.profile_size}")
    results.imports, results.package = import_time(), package_size()
    results.cli_startup_seconds = cli_startup_seconds()
    results.elapsed_seconds = time.perf_counter() - started
    say("import time, package size and CLI start-up measured")
    generated = render(results)
    if args.write:
        write_report(args.write, generated)
        say(f"wrote {args.write}")
    else:
        print(generated)
    for problem in results.problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if results.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
