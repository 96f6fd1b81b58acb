"""Seed an empty account on the double with N repositories and a fixed, seeded mix of drift.

Managed repositories are first made exactly as ``bench/desired_state.json`` wants them, with the
documents rendered by the product's own compiler (the texts Pulumi would set), then a fixed share of them
drifts the way people and CI scripts drift them. Which repositories drift is drawn with a fixed seed, so a
size always gets the same account. Seeding goes straight to moto_server (not through the counting proxy)
with a thread pool: one CreateRepository (tags, mutability, scan on push and encryption in one call), one
PutLifecyclePolicy and one SetRepositoryPolicy per managed repository.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore import xform_name
from botocore.config import Config

from ecr_drift.desired import DesiredState, load_desired_state, resolve
from ecr_drift.documents.lifecycle import render_lifecycle_policy
from ecr_drift.drift import desired_repository, missing_repository_changes
from ecr_drift.state import Call

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

BENCH_DESIRED = Path(__file__).resolve().parent / "desired_state.json"
REGION = "us-east-1"
SEED = 20_240_601
SEED_WORKERS = 16
UNMANAGED_SHARE = 0.05
# Share of the managed repositories that drift, per setting (drawn independently: one repository may
# drift in several settings; each drifted setting is exactly one write to fix).
DRIFT_SHARES: dict[str, float] = {
    "scan_on_push": 0.10,  # scan on push turned off in the console
    "lifecycle_policy": 0.08,  # a CI script put its own lifecycle policy
    "tags": 0.08,  # the `team` tag removed
    "image_tag_mutability": 0.05,  # mutability flipped
    "repository_policy": 0.04,  # policy widened with a public pull statement
}
FOREIGN_LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "ci: keep 5",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
            "action": {"type": "expire"},
        }
    ]
}
WIDE_STATEMENT = {
    "Sid": "PublicPull",
    "Effect": "Allow",
    "Principal": "*",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}


@dataclass(frozen=True)
class DriftPlan:
    """What one size's account looks like: which repositories exist and which of their settings drift."""

    size: int
    managed: tuple[str, ...]
    unmanaged: tuple[str, ...]
    drifted: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def drifted_settings(self) -> int:
        """The number of drifted settings: exactly the writes a correct enforce makes."""
        return sum(len(names) for names in self.drifted.values())

    @property
    def drifted_repositories(self) -> int:
        return len(frozenset().union(*self.drifted.values()))


def load_bench_state(path: Path = BENCH_DESIRED) -> DesiredState:
    return load_desired_state(path)


def plan(state: DesiredState, size: int, seed: int = SEED) -> DriftPlan:
    named = sorted(state.repositories)
    unmanaged_count = round(size * UNMANAGED_SHARE)
    pattern_count = size - unmanaged_count - len(named)
    if pattern_count < 1:
        raise ValueError(f"size {size} is too small for {len(named)} named repositories")
    managed = (*named, *(f"svc-{i:04d}" for i in range(1, pattern_count + 1)))
    unmanaged = tuple(f"legacy-{i:04d}" for i in range(1, unmanaged_count + 1))
    rng = random.Random(seed)
    drifted = {
        setting: frozenset(rng.sample(managed, round(len(managed) * share)))
        for setting, share in DRIFT_SHARES.items()
    }
    return DriftPlan(size, managed, unmanaged, drifted)


def ecr_client(endpoint_url: str, workers: int = SEED_WORKERS) -> ECRClient:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client(
        "ecr",
        endpoint_url=endpoint_url,
        config=Config(max_pool_connections=workers, retries={"mode": "standard", "max_attempts": 3}),
    )


def seed(endpoint_url: str, state: DesiredState, drift: DriftPlan, workers: int = SEED_WORKERS) -> int:
    """Create the account ``drift`` describes; returns the number of requests made."""
    return seed_with(ecr_client(endpoint_url, workers), state, drift, workers)


def seed_with(ecr: ECRClient, state: DesiredState, drift: DriftPlan, workers: int = SEED_WORKERS) -> int:
    """:func:`seed` through a client of the caller's (bench/scale.py's in-memory ECR)."""
    # The registry as bench/desired_state.json wants it (compliant: a drifted registry would add writes).
    ecr.put_registry_scanning_configuration(
        scanType="BASIC",
        rules=[
            {
                "scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            }
        ],
    )
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="ecr-public", upstreamRegistryUrl="public.ecr.aws", upstreamRegistry="ecr-public"
    )
    jobs: list[Callable[[], int]] = [_managed_job(ecr, state, name, drift) for name in drift.managed] + [
        _unmanaged_job(ecr, name) for name in drift.unmanaged
    ]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seed") as pool:
        return 2 + sum(pool.map(_call, jobs))


def _call(job: Callable[[], int]) -> int:
    return job()


def _unmanaged_job(ecr: ECRClient, name: str) -> Callable[[], int]:
    def job() -> int:
        ecr.create_repository(repositoryName=name, tags=[{"Key": "owner", "Value": "nobody"}])
        return 1

    return job


def _managed_job(ecr: ECRClient, state: DesiredState, name: str, drift: DriftPlan) -> Callable[[], int]:
    resolved = resolve(state, name)
    assert resolved is not None, f"{name} is managed by the bench desired state"
    # The calls the enforcer itself would make to create the repository (pattern ones too), then drifted.
    desired = replace(desired_repository(state, resolved), named=True)
    (change,) = missing_repository_changes(desired)
    drifts = {setting for setting, names in drift.drifted.items() if name in names}
    calls = [_drifted(call, drifts) for call in change.calls]

    def job() -> int:
        for call in calls:
            getattr(ecr, xform_name(call.operation))(**call.parameters)
        return len(calls)

    return job


def _drifted(call: Call, drifts: set[str]) -> Call:
    """``call`` as it would be made by someone drifting ``drifts`` on purpose."""
    parameters = dict(call.parameters)
    if call.operation == "CreateRepository":
        if "scan_on_push" in drifts:
            scan = parameters["imageScanningConfiguration"]["scanOnPush"]
            parameters["imageScanningConfiguration"] = {"scanOnPush": not scan}
        if "image_tag_mutability" in drifts:
            immutable = parameters["imageTagMutability"].startswith("IMMUTABLE")
            parameters.pop("imageTagMutabilityExclusionFilters", None)
            parameters["imageTagMutability"] = "MUTABLE" if immutable else "IMMUTABLE"
        if "tags" in drifts:
            parameters["tags"] = [tag for tag in parameters["tags"] if tag["Key"] != "team"]
    elif call.operation == "PutLifecyclePolicy" and "lifecycle_policy" in drifts:
        parameters["lifecyclePolicyText"] = render_lifecycle_policy(FOREIGN_LIFECYCLE)
    elif call.operation == "SetRepositoryPolicy" and "repository_policy" in drifts:
        policy = json.loads(parameters["policyText"])
        parameters["policyText"] = json.dumps({**policy, "Statement": [*policy["Statement"], WIDE_STATEMENT]})
    return replace(call, parameters=parameters)
