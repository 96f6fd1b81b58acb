"""`make bench-scale`: a sweep of 100,000 repositories, modelled from the engine measured at 10,000.

    python -m bench.scale --size 10000 --write BENCHMARKS.md

The real engine (ecr_drift.engine.run with AwsClients) sweeps an account of ``--size`` repositories seeded
with bench/seed.py's drift mix into an in-memory ECR (bench/memory_ecr.py; moto_server is too slow to seed at
that size): enforce, then audit, then the audit again under tracemalloc for its peak memory. Requests,
CPU (process time) and peak memory per repository, then the fan-out arithmetic to 100,000 (ECR's default
repositories-per-region quota): N / batch invocations of ``batch`` repositories each, an invocation's duration
= its requests x round trip / in-run concurrency + its CPU; the sweep paced by the request budget.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import boto3

from bench.memory_ecr import REGION, MemoryEcr
from bench.report import table, write_report
from bench.seed import DriftPlan, load_bench_state, plan, seed_with
from ecr_drift import engine
from ecr_drift.aws.clients import DEFAULT_CONCURRENCY, AwsClients
from ecr_drift.aws.observe import NAMES_PER_CALL
from ecr_drift.config import DEFAULT_SWEEP_BATCH_SIZE
from ecr_drift.desired import DesiredState
from ecr_drift.findings import Report
from ecr_drift.targets import Mode, sweep
from infra.components.enforcer import MEMORY_MB
from infra.sweep_budget import (
    DEFAULT_REQUESTS_PER_SECOND,
    requests_per_repository,
    schedule_interval_seconds,
    split,
)

START = "<!-- bench:scale:start (rewritten by bench/scale.py up to the end marker) -->"
END = "<!-- bench:scale:end -->"
TARGET_SIZE = 100_000  # ECR's default repositories-per-region quota
DEFAULT_SCHEDULE = "rate(6 hours)"  # infra/config.py's default scheduleExpression


def memory_account(state: DesiredState, drift: DriftPlan) -> tuple[MemoryEcr, AwsClients]:
    """An in-memory account seeded as bench/seed.py seeds moto_server, and clients that talk to it."""
    ecr = MemoryEcr()
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    seeder = session.client("ecr", endpoint_url="http://ecr.invalid")
    ecr.attach(seeder)
    seed_with(seeder, state, drift, workers=1)
    clients = AwsClients(session, endpoint_url="http://ecr.invalid")
    ecr.attach(clients.ecr)
    ecr.requests.clear()
    return ecr, clients


def sweep_once(state: DesiredState, clients: AwsClients, mode: Mode) -> Report:
    return engine.run(sweep("bench"), state=state, mode=mode, clients=clients, allow_mass_change=True)


@dataclass(frozen=True)
class Measured:
    requests: int
    cpu_seconds: float
    peak_mib: float = 0.0


def measured(ecr: MemoryEcr, state: DesiredState, clients: AwsClients, mode: Mode) -> tuple[Report, Measured]:
    ecr.requests.clear()
    started = time.process_time()
    report = sweep_once(state, clients, mode)
    return report, Measured(ecr.requests.total(), time.process_time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--round-trip-ms", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=DEFAULT_SWEEP_BATCH_SIZE)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="measured run's")
    parser.add_argument("--budget", type=float, default=DEFAULT_REQUESTS_PER_SECOND, help="requests/s")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    state = load_bench_state()
    drift = plan(state, args.size)
    ecr, clients = memory_account(state, drift)
    seeded = time.perf_counter() - started
    enforced, enforce = measured(ecr, state, clients, Mode.ENFORCE)
    audited, audit = measured(ecr, state, clients, Mode.AUDIT)
    tracemalloc.start()
    sweep_once(state, clients, Mode.AUDIT)
    peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    audit = Measured(audit.requests, audit.cpu_seconds, peak_mib)
    problems = []
    if enforced.writes != drift.drifted_settings:
        problems.append(f"enforce wrote {enforced.writes}, {drift.drifted_settings} settings drifted")
    if audited.writes or len(audited.repositories_checked) != args.size:
        problems.append(f"audit: {audited.writes} writes, {len(audited.repositories_checked)} checked")
    generated = render(args, drift, enforce, audit, seeded, time.perf_counter() - started, problems)
    if args.write:
        write_report(args.write, generated, START, END)
    else:
        print(generated)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def render(
    args: argparse.Namespace,
    drift: DriftPlan,
    enforce: Measured,
    audit: Measured,
    seeded: float,
    elapsed: float,
    problems: list[str],
) -> str:
    n, rtt = args.size, args.round_trip_ms / 1000
    # A fanned-out batch describes its repositories again, NAMES_PER_CALL names a call (ecr_drift/fanout.py).
    per_repo = audit.requests / n + 1 / NAMES_PER_CALL
    cpu_per_repo = audit.cpu_seconds / n
    # Fan-out at 100,000: each invocation audits one batch; its requests wait a round trip each, in-run
    # concurrency at a time, plus its own CPU. The concurrencies are infra's split of the budget.
    concurrencies = split(int(args.budget), fan_out=True)
    in_run, mapping = concurrencies.in_run_concurrency, concurrencies.mapping_concurrency or 1
    invocations = math.ceil(TARGET_SIZE / args.batch)
    batch_requests = per_repo * args.batch
    duration = batch_requests * rtt / in_run + cpu_per_repo * args.batch
    total_requests = per_repo * TARGET_SIZE
    sweep_hours = max(invocations * duration / mapping, total_requests / args.budget) / 3600
    gb_seconds = invocations * duration * MEMORY_MB / 1024
    period = schedule_interval_seconds(DEFAULT_SCHEDULE) or 0
    budget_for_schedule = total_requests / period
    sweeps_a_day = 86_400 / period
    rows = [
        ["enforce", str(enforce.requests), f"{enforce.requests / n:.3f}", f"{enforce.cpu_seconds:.1f}",
         f"{1000 * enforce.cpu_seconds / n:.2f}", ""],
        ["audit", str(audit.requests), f"{per_repo:.3f}", f"{audit.cpu_seconds:.1f}",
         f"{1000 * cpu_per_repo:.2f}", f"{audit.peak_mib:.1f} ({1024 * audit.peak_mib / n:.1f} KiB/repo)"],
    ]  # fmt: skip
    checks = "**All checks passed.**" if not problems else "**FAILED:** " + "; ".join(problems)
    return (
        "## 100,000 repositories (modelled)\n\n"
        f"Generated by `make bench-scale` in {elapsed:.0f} s (seeding {seeded:.0f} s): the real engine "
        f"(`ecr_drift.engine.run`, `AwsClients`, `--concurrency {args.concurrency}`) sweeps N = {n} "
        f"repositories (bench/seed.py's mix: {drift.drifted_settings} drifted settings, "
        f"{len(drift.unmanaged)} unmanaged) in an in-memory ECR answering at botocore's `before-send` "
        "(bench/memory_ecr.py; tests/bench/test_memory_ecr.py checks it against moto_server for the same "
        "findings). CPU is this process's (`time.process_time`, botocore included, the in-memory ECR's "
        "share small); peak memory is tracemalloc's over a third sweep (an audit).\n\n"
        + table(
            ["run", "requests", "requests/repo", "CPU s", "CPU ms/repo", "peak traced MiB"],
            ["---", *["---:"] * 5],
            rows,
        )
        + f"\n\n{checks}\n\n"
        f"Model at {TARGET_SIZE:,} repositories: **{per_repo:.3f} requests/repo**, the audit's plus a "
        "fanned-out batch's describing its repositories again (infra/sweep_budget.py assumes "
        f"{requests_per_repository(fan_out=True):.3f}: every repository managed, where 5% here are not). "
        "An audit-like sweep; one that finds drift adds about "
        f"{(enforce.requests - audit.requests) / n:.2f} requests/repo of writes and guard reads. Batches of "
        f"{args.batch}: {invocations} invocations of {batch_requests:.0f} requests. Request budget "
        f"{args.budget:g} requests/s (infra's `sweepRequestsPerSecond` default), which "
        f"infra/sweep_budget.py splits into {mapping} batches at once x in-run concurrency {in_run}. At a "
        f"{args.round_trip_ms:.0f} ms round trip an invocation lasts {batch_requests:.0f} x {rtt:.3f} s / "
        f"{in_run} + {cpu_per_repo * args.batch:.1f} s CPU = **{duration:.0f} s**; unpaced the sweep would "
        f"issue {mapping * in_run / rtt:.0f} requests/s, so the budget, not the round trip, sets its "
        "length.\n\n"
        f"- A full sweep of {TARGET_SIZE:,} repositories ({total_requests:,.0f} requests) takes "
        f"**{sweep_hours:.1f} h** at {args.budget:g} requests/s.\n"
        f"- Cost: {invocations} x {duration:.0f} s x {MEMORY_MB / 1024:g} GB (infra's memory size) = "
        f"**{gb_seconds:,.0f} GB-seconds** per sweep, {sweeps_a_day * gb_seconds:,.0f} a day at "
        f"{sweeps_a_day:g} sweeps; if the runs instead sleep to keep to the budget, up to "
        f"{sweep_hours * 3600 * mapping * MEMORY_MB / 1024:,.0f} GB-seconds (every batch slot busy for the "
        "whole sweep).\n"
        f"- One schedule period (`{DEFAULT_SCHEDULE}`, infra/config.py's default) holds a full sweep of "
        f"{TARGET_SIZE:,} when `sweepRequestsPerSecond` is at least {budget_for_schedule:.1f}: "
        + (
            f"the default {args.budget:g} is enough, for up to {args.budget * period / per_repo:,.0f} "
            "repositories."
            if args.budget >= budget_for_schedule
            else f"the default {args.budget:g} is not: raise it to {math.ceil(budget_for_schedule)} or "
            f"lengthen the schedule to `rate({math.ceil(sweep_hours)} hours)`."
        )
        + " Batch size and concurrencies change the cost a little (CPU, start-up) but not the sweep's "
        "length, which the budget sets.\n"
        f"- CPU measured on this machine; a 512 MB Lambda gets about a third of a vCPU, so its CPU share "
        f"of an invocation is up to 3x the {cpu_per_repo * args.batch:.1f} s above."
    )


if __name__ == "__main__":
    raise SystemExit(main())
