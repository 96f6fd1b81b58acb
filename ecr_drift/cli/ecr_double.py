"""Test double: the ECR control-plane APIs that moto 5.2 lacks, added onto moto's own ECR service.

moto's ECR has no pull-through cache rules and no repository creation templates, its
DescribeRepositories ignores ``maxResults``/``nextToken`` and its replication takes one rule at most. The
enforcer reads and writes all of them, so
``install_ecr_double()`` adds to ``moto.ecr.responses.ECRResponse`` (moto dispatches an API action to
the snake_case method of that class):

- Create/Describe/Update/Delete/ValidatePullThroughCacheRule;
- Create/Describe/Update/DeleteRepositoryCreationTemplate;
- PutReplicationConfiguration with ECR's limits (moto accepts one rule at most);
- a paging DescribeRepositories (1-1000 a page, 100 by default, opaque ``nextToken``, sorted by name);
- optional AWS-style rewriting of the documents GetRepositoryPolicy and GetLifecyclePolicy return
  (``set_aws_document_rewriting``), because moto returns them verbatim and AWS does not.

Response shapes and error codes follow botocore's ECR service model. The state lives on moto's backend
objects, so moto's reset (every ``mock_aws`` start, ``/moto-api/reset``) clears it with everything else.
Deliberate simplifications: credentials are only looked up (in moto's Secrets Manager) by
ValidatePullThroughCacheRule, not at create; templates are stored, never applied to new repositories.

``serve()`` runs moto_server with the double on loopback; ``ecr-drift sandbox`` (:mod:`ecr_drift.cli.sandbox`,
also ``python -m ecr_drift.cli.ecr_double --port N``) serves it until Ctrl-C.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import ipaddress
import json
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from moto.core.exceptions import ServiceException
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ecr.exceptions import InvalidParameterException
from moto.ecr.models import ECRBackend, ecr_backends
from moto.ecr.responses import ECRResponse
from moto.secretsmanager.models import secretsmanager_backends
from moto.server import ThreadedMotoServer
from moto.utilities.utils import get_partition

__all__ = ["install_ecr_double", "serve", "set_aws_document_rewriting"]

# Patterns and limits from botocore's ECR model; botocore checks none of them client-side.
_PREFIX_PATTERN = re.compile(
    r"([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*/?|ROOT)"
)
_CREDENTIAL_ARN_PATTERN = re.compile(
    r"arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr-pullthroughcache/[a-zA-Z0-9/_+=.@-]+"
)
_ACCOUNT_ID_PATTERN = re.compile(r"[0-9]{12}")
_MAX_CACHE_RULES = 50
_DEFAULT_PAGE_SIZE = 100
_MAX_PAGE_SIZE = 1000

# Upstream registry URL -> botocore's UpstreamRegistry value, used when the caller names none (as AWS).
_UPSTREAM_BY_URL: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com"), "ecr"),
    (re.compile(r"public\.ecr\.aws"), "ecr-public"),
    (re.compile(r"quay\.io"), "quay"),
    (re.compile(r"registry\.k8s\.io"), "k8s"),
    (re.compile(r"registry-1\.docker\.io"), "docker-hub"),
    (re.compile(r"ghcr\.io"), "github-container-registry"),
    (re.compile(r"[a-z0-9-]+\.azurecr\.io"), "azure-container-registry"),
    (re.compile(r"registry\.gitlab\.com"), "gitlab-container-registry"),
    (re.compile(r"cgr\.dev"), "chainguard"),
)
_UPSTREAMS_NEEDING_CREDENTIALS = frozenset(
    {"docker-hub", "github-container-registry", "gitlab-container-registry", "azure-container-registry"}
)
_APPLIED_FOR = frozenset({"REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH"})
_TAG_MUTABILITY = frozenset({"MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"})
_TEMPLATE_SETTINGS = (
    "description",
    "encryptionConfiguration",
    "resourceTags",
    "imageTagMutability",
    "imageTagMutabilityExclusionFilters",
    "repositoryPolicy",
    "lifecyclePolicy",
    "appliedFor",
    "customRoleArn",
)

_STATE_ATTR = "_ecr_double_state"
_REWRITE_ATTR = "_ecr_double_rewrite_documents"
# moto_server handles requests on several threads: one lock keeps check-then-write operations atomic.
_LOCK = threading.RLock()

_T = TypeVar("_T")


class PullThroughCacheRuleAlreadyExistsException(ServiceException):
    code = "PullThroughCacheRuleAlreadyExistsException"


class PullThroughCacheRuleNotFoundException(ServiceException):
    code = "PullThroughCacheRuleNotFoundException"


class UnsupportedUpstreamRegistryException(ServiceException):
    code = "UnsupportedUpstreamRegistryException"


class CacheRuleLimitExceededException(ServiceException):
    # moto's own LimitExceededException carries a fixed message about scan quotas.
    code = "LimitExceededException"


class TemplateAlreadyExistsException(ServiceException):
    code = "TemplateAlreadyExistsException"


class TemplateNotFoundException(ServiceException):
    code = "TemplateNotFoundException"


@dataclass
class _CacheRule:
    ecr_repository_prefix: str
    upstream_registry_url: str
    upstream_registry: str
    registry_id: str
    created_at: datetime
    updated_at: datetime
    credential_arn: str | None = None
    custom_role_arn: str | None = None
    upstream_repository_prefix: str | None = None

    def to_api(self) -> dict[str, object]:
        """Every member, unset ones left out: moto serialises only those in the operation's output shape,
        so each operation returns exactly its model's subset (Update has no createdAt, Create no updatedAt).
        """
        full: dict[str, object | None] = {
            "ecrRepositoryPrefix": self.ecr_repository_prefix,
            "upstreamRegistryUrl": self.upstream_registry_url,
            "createdAt": self.created_at,
            "registryId": self.registry_id,
            "credentialArn": self.credential_arn,
            "customRoleArn": self.custom_role_arn,
            "upstreamRegistry": self.upstream_registry,
            "upstreamRepositoryPrefix": self.upstream_repository_prefix,
            "updatedAt": self.updated_at,
        }
        return {k: v for k, v in full.items() if v is not None}


@dataclass
class _RegistryState:
    cache_rules: dict[str, _CacheRule] = field(default_factory=dict)
    # A template is kept as its API form (model member names) so responses are a copy of it.
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)


def _state(backend: ECRBackend) -> _RegistryState:
    # On the backend instance: moto's reset replaces the backend's __dict__, which drops this state too.
    with _LOCK:
        state = getattr(backend, _STATE_ATTR, None)
        if not isinstance(state, _RegistryState):
            state = _RegistryState()
            setattr(backend, _STATE_ATTR, state)
        return state


def _invalid(member: str, constraint: str) -> InvalidParameterException:
    return InvalidParameterException(
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"
    )


def _check_prefix(member: str, value: str, min_len: int, max_len: int) -> None:
    if not min_len <= len(value) <= max_len:
        raise _invalid(member, f"Member must have length between {min_len} and {max_len}")
    if not _PREFIX_PATTERN.fullmatch(value):
        raise _invalid(member, f"Member must satisfy regular expression pattern: {_PREFIX_PATTERN.pattern}")


def _check_credential_arn(value: str | None) -> None:
    if value is not None and not _CREDENTIAL_ARN_PATTERN.fullmatch(value):
        raise _invalid(
            "credentialArn",
            f"Member must satisfy regular expression pattern: {_CREDENTIAL_ARN_PATTERN.pattern}",
        )


def _encode_token(last_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_key}).encode()).decode()


def _decode_token(token: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as error:
        raise _invalid("nextToken", "Invalid NextToken") from error
    after = decoded.get("after") if isinstance(decoded, dict) else None
    if not isinstance(after, str):
        raise _invalid("nextToken", "Invalid NextToken")
    return after


def _page(
    items: Sequence[_T], key: Callable[[_T], str], max_results: int | None, next_token: str | None
) -> tuple[list[_T], str | None]:
    """One page of ``items`` ordered by ``key``, and the token for the next page (None on the last).

    The token names the last key returned rather than an offset, so an item deleted between two calls
    does not make the rest of a sweep skip one.
    """
    if max_results is None:
        max_results = _DEFAULT_PAGE_SIZE
    if not 1 <= max_results <= _MAX_PAGE_SIZE:
        raise _invalid("maxResults", f"Member must have value between 1 and {_MAX_PAGE_SIZE}")
    ordered = sorted(items, key=key)
    start = (
        0 if next_token is None else bisect.bisect_right([key(i) for i in ordered], _decode_token(next_token))
    )
    page = ordered[start : start + max_results]
    more = start + max_results < len(ordered)
    return page, (_encode_token(key(page[-1])) if more else None)


def _paged(result: dict[str, object], next_token: str | None) -> ActionResult:
    if next_token is not None:
        result["nextToken"] = next_token
    return ActionResult(result)


# --- pull-through cache rules ---------------------------------------------------------------------


def _infer_upstream_registry(url: str) -> str:
    for pattern, upstream in _UPSTREAM_BY_URL:
        if pattern.fullmatch(url):
            return upstream
    raise UnsupportedUpstreamRegistryException(f"The upstream registry URL '{url}' is not supported.")


def _find_rule(self: ECRResponse, prefix: str) -> _CacheRule:
    rule = _state(self.ecr_backend).cache_rules.get(prefix)
    if rule is None:
        raise PullThroughCacheRuleNotFoundException(
            f"The pull through cache rule with prefix '{prefix}' does not exist "
            f"in the registry with id '{self.current_account}'"
        )
    return rule


def _create_pull_through_cache_rule(self: ECRResponse) -> ActionResult:
    prefix: str = self._get_param("ecrRepositoryPrefix")
    url: str = self._get_param("upstreamRegistryUrl")
    credential_arn: str | None = self._get_param("credentialArn")
    upstream_prefix: str | None = self._get_param("upstreamRepositoryPrefix")
    _check_prefix("ecrRepositoryPrefix", prefix, 2, 30)
    if upstream_prefix is not None:
        _check_prefix("upstreamRepositoryPrefix", upstream_prefix, 2, 30)
    _check_credential_arn(credential_arn)
    upstream: str = self._get_param("upstreamRegistry") or _infer_upstream_registry(url)
    if upstream in _UPSTREAMS_NEEDING_CREDENTIALS and credential_arn is None:
        raise UnsupportedUpstreamRegistryException(
            f"The upstream registry '{upstream}' requires authentication: specify a credentialArn."
        )
    with _LOCK:
        rules = _state(self.ecr_backend).cache_rules
        if prefix in rules:
            raise PullThroughCacheRuleAlreadyExistsException(
                f"A pull through cache rule with prefix '{prefix}' already exists "
                f"in the registry with id '{self.current_account}'"
            )
        if len(rules) >= _MAX_CACHE_RULES:
            raise CacheRuleLimitExceededException(
                f"The maximum number of pull through cache rules ({_MAX_CACHE_RULES}) has been reached."
            )
        now = utcnow()
        rule = _CacheRule(
            ecr_repository_prefix=prefix,
            upstream_registry_url=url,
            upstream_registry=upstream,
            registry_id=self.current_account,
            created_at=now,
            updated_at=now,
            credential_arn=credential_arn,
            custom_role_arn=self._get_param("customRoleArn"),
            upstream_repository_prefix=upstream_prefix,
        )
        rules[prefix] = rule
    return ActionResult(rule.to_api())


def _describe_pull_through_cache_rules(self: ECRResponse) -> ActionResult:
    prefixes: list[str] | None = self._get_param("ecrRepositoryPrefixes")
    max_results: int | None = self._get_param("maxResults")
    next_token: str | None = self._get_param("nextToken")
    rules = _state(self.ecr_backend).cache_rules
    if prefixes:
        # As AWS (and moto's DescribeRepositories): naming a missing prefix is an error, not a filter.
        if max_results is not None or next_token is not None:
            raise _invalid("maxResults", "maxResults cannot be used with ecrRepositoryPrefixes")
        selected = [_find_rule(self, p) for p in prefixes]
        return ActionResult({"pullThroughCacheRules": [r.to_api() for r in selected]})
    page, token = _page(list(rules.values()), lambda r: r.ecr_repository_prefix, max_results, next_token)
    return _paged({"pullThroughCacheRules": [r.to_api() for r in page]}, token)


def _update_pull_through_cache_rule(self: ECRResponse) -> ActionResult:
    prefix: str = self._get_param("ecrRepositoryPrefix")
    credential_arn: str | None = self._get_param("credentialArn")
    custom_role_arn: str | None = self._get_param("customRoleArn")
    if credential_arn is None and custom_role_arn is None:
        raise _invalid("credentialArn", "Specify credentialArn or customRoleArn to update")
    _check_credential_arn(credential_arn)
    with _LOCK:
        rule = _find_rule(self, prefix)
        # Only these two are mutable (the upstream URL or prefix changes by delete + create).
        if credential_arn is not None:
            rule.credential_arn = credential_arn
        if custom_role_arn is not None:
            rule.custom_role_arn = custom_role_arn
        rule.updated_at = utcnow()
    return ActionResult(rule.to_api())


def _delete_pull_through_cache_rule(self: ECRResponse) -> ActionResult:
    prefix: str = self._get_param("ecrRepositoryPrefix")
    with _LOCK:
        rule = _find_rule(self, prefix)
        del _state(self.ecr_backend).cache_rules[prefix]
    return ActionResult(rule.to_api())


def _secret_exists(arn: str) -> bool:
    """Whether moto's Secrets Manager holds the secret ``arn`` names (full or partial ARN)."""
    _, _, _, region, account, *_ = arn.split(":")
    return arn in secretsmanager_backends[account][region].secrets


def _validate_pull_through_cache_rule(self: ECRResponse) -> ActionResult:
    rule = _find_rule(self, self._get_param("ecrRepositoryPrefix"))
    result = rule.to_api()
    # AWS tries the upstream with the secret; here the secret's existence is the whole check.
    if rule.credential_arn is not None and not _secret_exists(rule.credential_arn):
        result.update(isValid=False, failure=f"Unable to access the secret {rule.credential_arn}.")
    else:
        result["isValid"] = True
    return ActionResult(result)


# --- repository creation templates ----------------------------------------------------------------


def _template_settings(self: ECRResponse) -> dict[str, Any]:
    """The template settings the request carries, validated; members it omits are left out."""
    settings = {k: v for k in _TEMPLATE_SETTINGS if (v := self._get_param(k)) is not None}
    applied_for = settings.get("appliedFor")
    if applied_for is not None and (not applied_for or not set(applied_for) <= _APPLIED_FOR):
        raise _invalid("appliedFor", f"Member must be a non-empty list of {sorted(_APPLIED_FOR)}")
    mutability = settings.get("imageTagMutability")
    if mutability is not None and mutability not in _TAG_MUTABILITY:
        raise _invalid("imageTagMutability", f"Member must satisfy enum value set: {sorted(_TAG_MUTABILITY)}")
    if len(settings.get("description", "")) > 256:
        raise _invalid("description", "Member must have length less than or equal to 256")
    for member in ("repositoryPolicy", "lifecyclePolicy"):
        text = settings.get(member)
        if text:
            try:
                json.loads(text)
            except ValueError as error:
                raise _invalid(member, "Member must be a valid JSON document") from error
    return settings


def _find_template(self: ECRResponse, prefix: str) -> dict[str, Any]:
    template = _state(self.ecr_backend).templates.get(prefix)
    if template is None:
        raise TemplateNotFoundException(
            f"The repository creation template with prefix '{prefix}' does not exist "
            f"in the registry with id '{self.current_account}'"
        )
    return template


def _template_result(self: ECRResponse, template: dict[str, Any]) -> ActionResult:
    return ActionResult({"registryId": self.current_account, "repositoryCreationTemplate": dict(template)})


def _create_repository_creation_template(self: ECRResponse) -> ActionResult:
    prefix: str = self._get_param("prefix")
    _check_prefix("prefix", prefix, 1, 256)
    settings = _template_settings(self)
    if "appliedFor" not in settings:
        raise _invalid("appliedFor", "Member must not be null")
    # An empty policy text means "none", as in UpdateRepositoryCreationTemplate.
    settings = {k: v for k, v in settings.items() if v != ""}
    now = utcnow()
    # AWS fills the two settings every repository has (as moto does for CreateRepository).
    template = {
        "prefix": prefix,
        "imageTagMutability": "MUTABLE",
        "encryptionConfiguration": {"encryptionType": "AES256"},
        **settings,
        "createdAt": now,
        "updatedAt": now,
    }
    with _LOCK:
        templates = _state(self.ecr_backend).templates
        if prefix in templates:
            raise TemplateAlreadyExistsException(
                f"The repository creation template with prefix '{prefix}' already exists "
                f"in the registry with id '{self.current_account}'"
            )
        templates[prefix] = template
    return _template_result(self, template)


def _describe_repository_creation_templates(self: ECRResponse) -> ActionResult:
    prefixes: list[str] | None = self._get_param("prefixes")
    templates = _state(self.ecr_backend).templates
    # Unlike cache rules, the model lists no not-found error here: unknown prefixes are simply absent.
    selected = [t for p, t in templates.items() if not prefixes or p in prefixes]
    page, token = _page(
        selected, lambda t: str(t["prefix"]), self._get_param("maxResults"), self._get_param("nextToken")
    )
    return _paged(
        {"registryId": self.current_account, "repositoryCreationTemplates": [dict(t) for t in page]}, token
    )


def _update_repository_creation_template(self: ECRResponse) -> ActionResult:
    prefix: str = self._get_param("prefix")
    settings = _template_settings(self)
    with _LOCK:
        template = _find_template(self, prefix)
        for member, value in settings.items():
            if value == "":
                template.pop(member, None)
            else:
                template[member] = value
        template["updatedAt"] = utcnow()
    return _template_result(self, template)


def _delete_repository_creation_template(self: ECRResponse) -> ActionResult:
    prefix: str = self._get_param("prefix")
    with _LOCK:
        template = _find_template(self, prefix)
        del _state(self.ecr_backend).templates[prefix]
    return _template_result(self, template)


# --- DescribeRepositories with pages ----------------------------------------------------------------


def _describe_repositories(self: ECRResponse) -> ActionResult:
    names: list[str] | None = self._get_param("repositoryNames")
    max_results: int | None = self._get_param("maxResults")
    next_token: str | None = self._get_param("nextToken")
    if names and (max_results is not None or next_token is not None):
        raise _invalid("maxResults", "maxResults cannot be used with repositoryNames")
    # moto's backend keeps its checks (RepositoryNotFoundException for a missing name, registryId filter)
    # and its Repository objects keep moto's serialisation.
    repositories = self.ecr_backend.describe_repositories(
        registry_id=self._get_param("registryId"), repository_names=names
    )
    if names:
        return ActionResult({"repositories": repositories})
    page, token = _page(repositories, lambda r: r.name, max_results, next_token)
    return _paged({"repositories": page}, token)


# --- AWS-style policy documents ---------------------------------------------------------------------


def set_aws_document_rewriting(enabled: bool, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Make GetRepositoryPolicy and GetLifecyclePolicy return documents reformatted as AWS does.

    The switch covers every region of ``account_id`` and is kept on moto's per-account backend, so
    moto's reset turns it off again: call it after ``mock_aws`` has started (inside the ``aws`` fixture).
    """
    setattr(ecr_backends[account_id], _REWRITE_ATTR, enabled)


def _rewriting(self: ECRResponse) -> bool:
    return getattr(ecr_backends[self.current_account], _REWRITE_ATTR, False) is True


def _collapse(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _aws_policy_form(document: Any, partition: str) -> Any:
    """The policy as AWS stores it: account-id principals become root ARNs, one-element lists strings."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict):
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            for kind, value in principal.items():
                values = value if isinstance(value, list) else [value]
                if kind == "AWS":
                    values = [
                        f"arn:{partition}:iam::{v}:root"
                        if isinstance(v, str) and _ACCOUNT_ID_PATTERN.fullmatch(v)
                        else v
                        for v in values
                    ]
                principal[kind] = _collapse(values)
        for member in ("Action", "NotAction"):
            if isinstance(statement.get(member), list):
                statement[member] = _collapse(statement[member])
    return document


def _jackson_pretty(value: Any, level: int = 0) -> str:
    """JSON printed as ECR (Jackson's default pretty printer) does: ``"key" : value``, ``[ {`` ... ``} ]``."""
    if isinstance(value, dict):
        if not value:
            return "{ }"
        pad = "  " * (level + 1)
        members = [f"{pad}{json.dumps(k)} : {_jackson_pretty(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + "  " * level + "}"
    if isinstance(value, list):
        # Arrays stay on one line and add no indentation level.
        return "[ " + ", ".join(_jackson_pretty(v, level) for v in value) + " ]" if value else "[ ]"
    return json.dumps(value, ensure_ascii=False)


def _reverse_key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_key_order(value[k]) for k in sorted(value, reverse=True)}
    if isinstance(value, list):
        return [_reverse_key_order(v) for v in value]
    return value


def _get_repository_policy(self: ECRResponse) -> ActionResult:
    result = self.ecr_backend.get_repository_policy(
        registry_id=self._get_param("registryId"), repository_name=self._get_param("repositoryName")
    )
    if _rewriting(self):
        document = _aws_policy_form(json.loads(result["policyText"]), get_partition(self.region))
        result["policyText"] = _jackson_pretty(document)
    return ActionResult(result)


def _get_lifecycle_policy(self: ECRResponse) -> ActionResult:
    result = self.ecr_backend.get_lifecycle_policy(
        registry_id=self._get_param("registryId"), repository_name=self._get_param("repositoryName")
    )
    if _rewriting(self):
        # Same document, other key order and no whitespace: only a canonical comparison sees no change.
        document = _reverse_key_order(json.loads(result["lifecyclePolicyText"]))
        result["lifecyclePolicyText"] = json.dumps(document, separators=(",", ":"))
    return ActionResult(result)


# --- PutReplicationConfiguration with ECR's limits ---------------------------------------------------

_MAX_REPLICATION_RULES = 10
_MAX_REPLICATION_DESTINATIONS = 25  # unique, across all rules


def _put_replication_configuration(self: ECRResponse) -> ActionResult:
    """ECR's limits (moto refuses more than one rule as "This feature is disabled")."""
    configuration: dict[str, Any] = self._get_param("replicationConfiguration")
    rules = configuration.get("rules", [])
    if len(rules) > _MAX_REPLICATION_RULES:
        raise _invalid("replicationConfiguration.rules", f"at most {_MAX_REPLICATION_RULES} rules")
    destinations = {(d["region"], d["registryId"]) for rule in rules for d in rule["destinations"]}
    if len(destinations) > _MAX_REPLICATION_DESTINATIONS:
        raise _invalid("replicationConfiguration", f"at most {_MAX_REPLICATION_DESTINATIONS} destinations")
    if (self.region, self.current_account) in destinations:
        raise _invalid("replicationConfiguration", "Replication destination cannot be the same as the source")
    self.ecr_backend.replication_config = configuration
    return ActionResult({"replicationConfiguration": configuration})


_ADDED_ACTIONS: dict[str, Callable[[ECRResponse], ActionResult]] = {
    "create_pull_through_cache_rule": _create_pull_through_cache_rule,
    "describe_pull_through_cache_rules": _describe_pull_through_cache_rules,
    "update_pull_through_cache_rule": _update_pull_through_cache_rule,
    "delete_pull_through_cache_rule": _delete_pull_through_cache_rule,
    "validate_pull_through_cache_rule": _validate_pull_through_cache_rule,
    "create_repository_creation_template": _create_repository_creation_template,
    "describe_repository_creation_templates": _describe_repository_creation_templates,
    "update_repository_creation_template": _update_repository_creation_template,
    "delete_repository_creation_template": _delete_repository_creation_template,
    "describe_repositories": _describe_repositories,
    "get_repository_policy": _get_repository_policy,
    "get_lifecycle_policy": _get_lifecycle_policy,
    "put_replication_configuration": _put_replication_configuration,
}


def install_ecr_double() -> None:
    """Add the double's actions to moto's ECR (idempotent: it only (re)binds the same functions)."""
    for name, action in _ADDED_ACTIONS.items():
        setattr(ECRResponse, name, action)


def serve(host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadedMotoServer, str]:
    """Start moto_server with the double on a loopback address; returns the server and its endpoint URL.

    ``port=0`` lets the OS pick a free port. Stop the server with ``server.stop()``. Raises OSError when
    the port cannot be had (taken, or privileged).
    """
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the ECR double serves on loopback only, not on {host}")
    if port:
        _check_port(host, port)
    install_ecr_double()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    netloc = f"[{bound_host}]" if ":" in bound_host else bound_host
    return server, f"http://{netloc}:{bound_port}"


def _check_port(host: str, port: int) -> None:
    """Raise OSError if ``port`` cannot be bound. moto's server binds in a thread of its own, and when that
    fails (werkzeug then exits the thread) ``start()`` waits for it forever."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server binds
        probe.bind((host, port))


if __name__ == "__main__":
    # The sandbox command on its own (bench/server.py starts the double so).
    import typer

    from ecr_drift.cli.sandbox import sandbox

    typer.run(sandbox)
