"""AWS errors as the engine, the remediation and the fan-out read them; ECR's brief "not found" lag."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

T = TypeVar("T")
Sleep = Callable[[float], None]

# Reads right after a repository appeared can briefly answer "not found": three tries within ~1.5 s.
NOT_FOUND_DELAYS = (0.5, 1.0)
# Operations that change nothing; every other operation is a write (audit mode makes none).
READ_OPERATION_PREFIXES = ("Describe", "Get", "List", "BatchGet", "BatchCheck", "Validate")
REPOSITORY_NOT_FOUND = "RepositoryNotFoundException"
ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})
AwsError = (ClientError, BotoCoreError)


def error_text(error: Exception) -> str:
    """What went wrong, for a ``failed`` finding; an access denial names the IAM action the role lacks."""
    if isinstance(error, ClientError):
        if (page := html_page_text(error, f"ecr:{error.operation_name}")) is not None:
            return page
        code = error_code(error) or "Unknown"
        text = f"{code}: {error.response.get('Error', {}).get('Message', '')}".rstrip(": ")
        if code in ACCESS_DENIED:
            text += f" (the role needs ecr:{error.operation_name})"
        return text
    return f"{type(error).__name__}: {error}"


def html_page_text(error: ClientError, action: str) -> str | None:
    """One line for an answer that was an HTML page instead of an AWS error; None for any other error.

    Only a local double answers an AWS API so: plain moto_server answers an API it lacks (the pull-through
    cache rules, the creation templates) with Flask's HTML error page, which would otherwise be shown whole.
    """
    message = error.response.get("Error", {}).get("Message", "")
    if not message.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        return None
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return (
        f"the endpoint does not implement {action} (it answered HTTP {status} with an HTML page): "
        "use `ecr-drift sandbox`"
    )


def endpoint_of(url: str) -> str:
    """The endpoint a request URL goes to, ``scheme://host:port``: what a connection error is about."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def error_code(error: Exception) -> str | None:
    return error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None


def is_read_operation(operation: str) -> bool:
    return operation.startswith(READ_OPERATION_PREFIXES)


def is_not_found(error: Exception) -> bool:
    return error_code(error) == REPOSITORY_NOT_FOUND


def retry_not_found(call: Callable[[], T], sleep: Sleep) -> T:
    """``call()``, tried again briefly while it answers RepositoryNotFoundException (ECR's read lag)."""
    for delay in NOT_FOUND_DELAYS:
        try:
            return call()
        except ClientError as error:
            if not is_not_found(error):
                raise
        sleep(delay)
    return call()
