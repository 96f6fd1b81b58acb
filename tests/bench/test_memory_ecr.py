"""bench/scale.py's in-memory ECR answers the engine as moto_server (with the ECR double) does.

The same small account, seeded by bench/seed.py into each, swept by the real engine: the same findings, the
same writes, and an audit after the enforce that only reports the unmanaged repositories.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bench.memory_ecr import REGION
from bench.scale import memory_account, sweep_once
from bench.seed import load_bench_state, plan, seed
from bench.server import DoubleServer
from ecr_drift.aws.clients import AwsClients
from ecr_drift.findings import Report
from ecr_drift.targets import Mode

SIZE = 50


@pytest.fixture(scope="module")
def server() -> Iterator[DoubleServer]:
    with DoubleServer() as double:
        yield double


def _outcome(report: Report) -> tuple[Any, ...]:
    findings = sorted(
        (f.resource, f.setting, str(f.action), repr(f.expected), repr(f.actual), f.error is None)
        for f in report.findings
    )
    return report.writes, sorted(report.repositories_checked), findings


def test_the_in_memory_ecr_and_moto_server_give_the_same_findings(server: DoubleServer) -> None:
    state = load_bench_state()
    drift = plan(state, SIZE)
    seed(server.url, state, drift)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    moto_clients = AwsClients(session, endpoint_url=server.url)
    _, memory_clients = memory_account(state, drift)

    reports = []
    for mode in (Mode.AUDIT, Mode.ENFORCE, Mode.AUDIT):
        on_moto = sweep_once(state, moto_clients, mode)
        in_memory = sweep_once(state, memory_clients, mode)
        assert _outcome(in_memory) == _outcome(on_moto), mode
        reports.append(on_moto)

    before, enforced, after = reports
    drifted = [f for f in before.findings if f.resource not in drift.unmanaged]
    assert len(drifted) == drift.drifted_settings
    assert enforced.writes == drift.drifted_settings
    assert after.writes == 0
    assert {f.resource for f in after.findings} == set(drift.unmanaged)
