"""The region a command is to connect to, checked against botocore's own data before any call: a typo
(`--region eu-wst-1`) is one line with a suggestion, instead of connection errors from a host that does not
exist (botocore builds ``api.ecr.eu-wst-1.amazonaws.com`` all the same).

A region botocore does not know is allowed when an endpoint is given (``--endpoint-url``,
``AWS_ENDPOINT_URL[_<SERVICE>]`` as `ecr-drift sandbox` prints it, or a profile's ``endpoint_url``): a local
double (the sandbox, LocalStack) takes any region name, which then only names the registry and signs the
requests. A real region newer than the installed botocore is reached by upgrading botocore.
"""

from __future__ import annotations

import difflib

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, InvalidRegionError


class UnknownRegion(BotoCoreError):
    """A region in none of botocore's partitions for the service. A botocore error, so that the commands
    report it as they report the others (``ecr_drift.cli.errors.explain``)."""

    fmt = (
        "unknown AWS region {region}{suggestion}: check --region, or AWS_REGION, AWS_DEFAULT_REGION and the "
        "profile's region"
    )


def check_region(session: boto3.Session, service: str, endpoint_url: str | None) -> None:
    """Raise :class:`UnknownRegion` when ``service`` has no endpoint in the session's region, in any
    partition (aws, aws-cn, aws-us-gov, ...), and no endpoint is given. No region: botocore's
    NoRegionError, later."""
    region = session.region_name
    if region is None or endpoint_url is not None:
        return
    known = {
        name
        for partition in session.get_available_partitions()
        for name in session.get_available_regions(service, partition_name=partition)
    }
    if region in known or _endpoint_configured(session, service):
        return
    close = difflib.get_close_matches(region, sorted(known), n=1)
    raise UnknownRegion(region=region, suggestion=f" (did you mean {close[0]}?)" if close else "")


def _endpoint_configured(session: boto3.Session, service: str) -> bool:
    """Whether an endpoint is set outside the command line: the client's endpoint then differs from the
    one botocore builds when told to ignore such settings. Unsigned clients: made without credentials (a
    profile's could be fetched from the network), and they make no call."""
    unsigned = Config(signature_version=UNSIGNED)
    # botocore 1.31+ has ignore_configured_endpoint_urls; the stubs do not yet.
    ignoring = unsigned.merge(Config(ignore_configured_endpoint_urls=True))  # type: ignore[call-arg]
    try:
        configured = session.client(service, config=unsigned).meta.endpoint_url  # type: ignore[call-overload]
        built = session.client(service, config=ignoring).meta.endpoint_url  # type: ignore[call-overload]
    except InvalidRegionError:  # not even shaped like a region: nothing takes it
        return False
    return bool(configured != built)
