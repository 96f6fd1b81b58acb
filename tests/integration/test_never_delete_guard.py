"""The suite-wide never-delete guard of tests/conftest.py: it sees every client the product creates, and a
forbidden call by one of them fails the session; the clients tests build themselves are not watched."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from ecr_drift.aws.clients import AwsClients
from tests.conftest import PRODUCT_CALLS, pytest_sessionfinish


def test_a_forbidden_call_by_a_product_client_is_recorded_and_fails_the_session(
    aws: None, session: boto3.Session, request: pytest.FixtureRequest
) -> None:
    test = request.node.nodeid
    person = session.client("ecr")  # a human deleting a repository: not the product
    person.create_repository(repositoryName="doomed")
    person.delete_repository(repositoryName="doomed")
    assert test not in PRODUCT_CALLS.tests_by_operation.get("DeleteRepository", set())

    product = AwsClients(session)
    product.ecr.create_repository(repositoryName="doomed")
    product.sns.list_topics()  # every service's client is watched, not only ECR's
    try:
        product.ecr.delete_repository(repositoryName="doomed")

        assert test in PRODUCT_CALLS.tests_by_operation["CreateRepository"]
        assert test in PRODUCT_CALLS.tests_by_operation["ListTopics"]
        assert test in PRODUCT_CALLS.forbidden()["DeleteRepository"]
        verdict = PRODUCT_CALLS.verdict()
        assert verdict is not None
        assert f"DeleteRepository by {test}" in verdict
        finishing: Any = SimpleNamespace(exitstatus=pytest.ExitCode.OK, config=SimpleNamespace())
        pytest_sessionfinish(finishing, pytest.ExitCode.OK)
        assert finishing.exitstatus == pytest.ExitCode.TESTS_FAILED
    finally:
        PRODUCT_CALLS.forget(test)  # this test's violation is on purpose: the session must still pass
    assert test not in PRODUCT_CALLS.forbidden()["DeleteRepository"]
