"""boto3 clients, created lazily and shared by one run.

They honour the usual AWS environment (region, profile, ``AWS_ENDPOINT_URL``), so moto and moto_server work
unchanged. Retries are botocore's ``adaptive`` mode: it backs off and rate-limits itself under throttling,
which ECR does without publishing per-API limits.

A connection error (nothing listening, an unknown host, no connection within ``CONNECT_TIMEOUT_S``) is
retried too, by default: the Lambda runs inside AWS, where one is a blip that the backoff rides out, and a
run that gave up on it would leave the drift until the next event. The CLI passes ``fail_fast``: on a
person's machine one is a wrong ``--endpoint-url`` or ``--region`` far more often than a blip, and retrying
it on every call meant a minute of silence before the same error on every row.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from ecr_drift.aws.errors import endpoint_of

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest
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
C = TypeVar("C", bound=BaseClient)


def client_config(concurrency: int = DEFAULT_CONCURRENCY) -> Config:
    return Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=max(10, concurrency * 2),
        user_agent_extra="ecr-drift-enforcer",
    )


class AwsClients:
    """One set of clients per run. Pass a ``boto3.Session`` to choose profile or region.

    ``fail_fast`` (the CLI): an endpoint that cannot be connected to is given up at the first connection
    error, see :class:`FailFast`; throttling and every other retryable error keep their adaptive retries.
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        endpoint_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        fail_fast: bool = False,
    ) -> None:
        self.session = session or boto3.Session()
        self.endpoint_url = endpoint_url
        self.concurrency = concurrency
        self._config = client_config(concurrency)
        self._fail_fast = FailFast() if fail_fast else None

    def armed(self, client: C) -> C:
        """``client``, failing fast if the run does (every client of the run is made through this)."""
        if self._fail_fast is not None:
            self._fail_fast.arm(client)
        return client

    @property
    def unreachable(self) -> BotocoreConnectionError | None:
        """The first connection error a ``fail_fast`` client met (None: none, or not ``fail_fast``)."""
        return self._fail_fast.first if self._fail_fast is not None else None

    def raise_unreachable(self) -> None:
        """Raise :attr:`unreachable`, if any: what a run caught per read would otherwise show once a row."""
        if (error := self.unreachable) is not None:
            raise error

    @cached_property
    def ecr(self) -> ECRClient:
        return self.armed(self.session.client("ecr", config=self._config, endpoint_url=self.endpoint_url))

    @cached_property
    def sns(self) -> SNSClient:
        return self.armed(self.session.client("sns", config=self._config, endpoint_url=self.endpoint_url))

    @cached_property
    def events(self) -> EventBridgeClient:
        return self.armed(self.session.client("events", config=self._config, endpoint_url=self.endpoint_url))

    @cached_property
    def securityhub(self) -> SecurityHubClient:
        return self.armed(
            self.session.client("securityhub", config=self._config, endpoint_url=self.endpoint_url)
        )

    @cached_property
    def sqs(self) -> SQSClient:
        return self.armed(self.session.client("sqs", config=self._config, endpoint_url=self.endpoint_url))

    @cached_property
    def sts(self) -> STSClient:
        return self.armed(self.session.client("sts", config=self._config, endpoint_url=self.endpoint_url))


class FailFast:
    """The clients it arms give an endpoint up at its first connection error: that call is not retried, and
    no later call to the endpoint tries again (each would wait out its own connect timeout); the others'
    calls fail at once with the same error. ``first``: the first such error, to report once."""

    def __init__(self) -> None:
        self._unreachable: dict[str, BotocoreConnectionError] = {}  # by endpoint (scheme://host:port)
        self._lock = threading.Lock()

    @property
    def first(self) -> BotocoreConnectionError | None:
        with self._lock:
            return next(iter(self._unreachable.values()), None)

    def arm(self, client: BaseClient) -> None:
        events = client.meta.events
        service = client.meta.service_model.service_id.hyphenize()
        # Registered first, and on the service (botocore's own handlers are, and more specific handlers run
        # earlier): ahead of the retry handler and of the adaptive mode's rate limiter.
        events.register_first(
            f"before-send.{service}", self._before_send, unique_id="ecr-drift-fail-fast-send"
        )
        # botocore's stubs type handlers as returning None; needs-retry handlers do return a decision.
        events.register_first(
            f"needs-retry.{service}",
            self._needs_retry,  # type: ignore[arg-type]
            unique_id="ecr-drift-fail-fast-retry",
        )

    def _before_send(self, request: AWSPreparedRequest, **_: Any) -> None:
        with self._lock:
            error = self._unreachable.get(endpoint_of(request.url))
        if error is not None:
            # A new exception each time: threads raising one object would share (and race on) its traceback.
            raise type(error)(**error.kwargs)

    def _needs_retry(
        self, caught_exception: Exception | None, request_dict: dict[str, Any], **_: Any
    ) -> bool | None:
        if not isinstance(caught_exception, BotocoreConnectionError):
            return None  # botocore's retry mode decides
        with self._lock:
            self._unreachable.setdefault(endpoint_of(request_dict["url"]), caught_exception)
        return False  # botocore's "no retry": the call ends with this error
