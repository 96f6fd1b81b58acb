"""boto3 clients, created lazily and shared by one run.

They honour the usual AWS environment (region, profile, ``AWS_ENDPOINT_URL``), so moto and moto_server work
unchanged. Retries are botocore's ``adaptive`` mode: it backs off and rate-limits itself under throttling,
which ECR does without publishing per-API limits.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_securityhub import SecurityHubClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

DEFAULT_CONCURRENCY = 8  # bounded: ECR publishes no per-API rates, and a small Lambda has little CPU
MAX_ATTEMPTS = 8
# ECR answers in well under a second; botocore's 60 s defaults would let one stuck attempt eat a run's end.
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 15
ATTEMPT_TIMEOUT_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S


def client_config(concurrency: int = DEFAULT_CONCURRENCY) -> Config:
    return Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=max(10, concurrency * 2),
        user_agent_extra="ecr-drift-enforcer",
    )


class AwsClients:
    """One set of clients per run. Pass a ``boto3.Session`` to choose profile or region."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        endpoint_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.session = session or boto3.Session()
        self.endpoint_url = endpoint_url
        self.concurrency = concurrency
        self._config = client_config(concurrency)

    @cached_property
    def ecr(self) -> ECRClient:
        return self.session.client("ecr", config=self._config, endpoint_url=self.endpoint_url)

    @cached_property
    def sns(self) -> SNSClient:
        return self.session.client("sns", config=self._config, endpoint_url=self.endpoint_url)

    @cached_property
    def events(self) -> EventBridgeClient:
        return self.session.client("events", config=self._config, endpoint_url=self.endpoint_url)

    @cached_property
    def securityhub(self) -> SecurityHubClient:
        return self.session.client("securityhub", config=self._config, endpoint_url=self.endpoint_url)

    @cached_property
    def sqs(self) -> SQSClient:
        return self.session.client("sqs", config=self._config, endpoint_url=self.endpoint_url)

    @cached_property
    def sts(self) -> STSClient:
        return self.session.client("sts", config=self._config, endpoint_url=self.endpoint_url)
