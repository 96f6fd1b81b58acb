"""AWS errors as sentences a person can act on, instead of tracebacks."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from ecr_drift.aws.errors import endpoint_of, html_page_text

_CREDENTIAL_CODES = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException"}


def explain(error: Exception, iam_action: str | None = None) -> str:
    """What went wrong and what to do about it. ECR's IAM actions are its API names; pass others."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: pass --profile, set AWS_PROFILE, or run `aws sso login` "
            "(the demo needs none: `make demo`)"
        )
    if isinstance(error, ProfileNotFound):
        return f"{error}: check --profile against `aws configure list-profiles`"
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION (or a region in the profile)"
    if isinstance(error, BotocoreConnectionError):
        endpoint, reason = connection_failure(error)
        if isinstance(error, ProxyConnectionError):
            return f"cannot reach the proxy {endpoint}: {reason}; check HTTPS_PROXY and HTTP_PROXY"
        return f"cannot reach {endpoint}: {reason}; check --endpoint-url and --region"
    if isinstance(error, ClientError):
        operation = error.operation_name
        if (page := html_page_text(error, iam_action or f"ecr:{operation}")) is not None:
            return page
        code = error.response.get("Error", {}).get("Code", "")
        if code in _CREDENTIAL_CODES:
            return f"{code}: the credentials are invalid or expired for this region; refresh them and retry"
        if "AccessDenied" in code:
            return (
                f"access denied calling {operation}: grant `{iam_action or 'ecr:' + operation}` to the caller"
            )
        return f"{operation} failed: {code}: {error.response.get('Error', {}).get('Message', '')}"
    if isinstance(error, BotoCoreError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def connection_failure(error: BotocoreConnectionError) -> tuple[str, str]:
    """What could not be connected to (the endpoint, or a proxy) and why, in the OS's words when it gave
    some: ``("http://127.0.0.1:5000", "connection refused")``."""
    url = error.kwargs.get("endpoint_url") or error.kwargs.get("proxy_url")
    endpoint = endpoint_of(str(url)) if url else "the endpoint"
    if isinstance(error, ConnectTimeoutError):
        return endpoint, "connection timed out"
    cause: object = error.kwargs.get("error")
    # urllib3's error wraps the OS's (ConnectionRefusedError, socket.gaierror): its strerror is the reason.
    while isinstance(cause, BaseException) and not (isinstance(cause, OSError) and cause.strerror):
        cause = cause.__cause__ or cause.__context__
    reason = (
        cause.strerror
        if isinstance(cause, OSError) and cause.strerror
        else str(error.kwargs.get("error", error))
    )
    return endpoint, reason[:1].lower() + reason[1:]


AWS_ERRORS = (BotoCoreError, ClientError)
