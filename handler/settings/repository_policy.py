"""The repository policy: ``pull_account_ids``, ``push_account_ids`` and ``policy_statements``, built by
``handler.documents.repository_policy`` (the text Pulumi sends too).

Statements the desired state does not declare are removed, except those whose Sid is in
``enforcement.keep_policy_sids`` (AWS services add some): those are kept as they are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handler.desired.models import RepositorySettings
from handler.documents.canonical_json import canonical_or_text
from handler.documents.iam_policy import removes_statements
from handler.documents.repository_documents import repository_policy_document
from handler.documents.repository_policy import (
    WHAT,
    canonical_repository_policy,
    desired_policy_with_kept,
    parse_repository_policy,
    render_repository_policy,
)
from handler.settings.base import RepositoryEvent, RepositorySetting
from handler.state import Call, ObservedRepository, Read, RepositoryOptions, Write

NOT_FOUND = "RepositoryPolicyNotFoundException"
READ = Read("GetRepositoryPolicy", by="repositoryName", absent=NOT_FOUND)
SET = "SetRepositoryPolicy"
DELETE = "DeleteRepositoryPolicy"


@dataclass(frozen=True)
class Policy:
    """The built policy, before the observed statements whose Sid is kept are merged in."""

    document: dict[str, Any]
    keep_sids: frozenset[str]


class RepositoryPolicy(RepositorySetting[Policy]):
    name = "repository_policy"
    title = "repository policy"
    fields = ("pull_account_ids", "push_account_ids", "policy_statements")
    reads = (READ,)
    writes = (Write(SET, subtractive=True), Write(DELETE, subtractive=True))
    events = (RepositoryEvent(SET), RepositoryEvent(DELETE))
    template_reset = {"repositoryPolicy": ""}
    severity = "HIGH"

    def desired(self, settings: RepositorySettings, options: RepositoryOptions) -> Policy | None:
        document = repository_policy_document(settings)
        return None if document is None else Policy(document, options.keep_policy_sids)

    def expected(self, value: Policy, observed: ObservedRepository | None) -> Any:
        document = to_apply(value, observed_text(observed))
        return canonical_repository_policy(document) if document is not None else None

    def actual(self, value: Policy, observed: ObservedRepository) -> Any:
        return canonical_or_text(observed_text(observed), canonical_repository_policy)

    def calls(self, name: str, value: Policy, observed: ObservedRepository | None) -> list[Call]:
        text = observed_text(observed)
        document = to_apply(value, text)
        if document is None:
            if observed is None:  # a new repository has none
                return []
            return [Call(DELETE, {"repositoryName": name}, subtractive=True, absent_ok=NOT_FOUND)]
        parameters = {"repositoryName": name, "policyText": render_repository_policy(document)}
        return [Call(SET, parameters, subtractive=removes_statements(text, document, WHAT))]

    def template_parameters(self, value: Policy) -> dict[str, Any]:
        document = value.document
        return {"repositoryPolicy": render_repository_policy(document)} if document["Statement"] else {}

    def template_canonical(self, template: Mapping[str, Any]) -> Any:
        return canonical_or_text(template.get("repositoryPolicy") or None, canonical_repository_policy)


def observed_text(observed: ObservedRepository | None) -> str | None:
    response = observed.reads.get(READ) if observed is not None else None
    return response["policyText"] if response else None


def to_apply(value: Policy, observed: str | None) -> dict[str, Any] | None:
    """The policy to write: the desired statements plus the observed ones whose Sid is kept; None when that
    leaves no statement (the repository must have no policy). Text that is not a policy keeps nothing."""
    try:
        parsed = parse_repository_policy(observed) if observed is not None else None
        document = desired_policy_with_kept(value.document, parsed, value.keep_sids)
    except ValueError:
        document = desired_policy_with_kept(value.document, None, value.keep_sids)
    return document if document["Statement"] else None


SPEC = RepositoryPolicy()
