"""AWS errors as sentences a person can act on, instead of tracebacks."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from ecr_drift.aws.errors import html_page_text

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
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url')}: check --region and --endpoint-url"
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


AWS_ERRORS = (BotoCoreError, ClientError)
