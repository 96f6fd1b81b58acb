"""The repository policy: ``pull_account_ids``, ``push_account_ids`` and ``policy_statements``, built by
``ecr_drift.documents.repository_policy`` (the text Pulumi sends too).

Statements the desired state does not declare are removed, except those whose Sid is in
``enforcement.keep_policy_sids`` (AWS services add some): those are kept as they are read. AWS may add one
at any moment (Lambda does when a function first pulls), so each write is built again from a read made
right before it, and a kept statement that a concurrent write removes is put back (:class:`Refresh`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from ecr_drift.desired.models import RepositorySettings
from ecr_drift.documents.canonical_json import canonical_or_text
from ecr_drift.documents.iam_policy import policy_statements, removes_statements, sid
from ecr_drift.documents.repository_documents import repository_policy_document
from ecr_drift.documents.repository_policy import (
    WHAT,
    canonical_repository_policy,
    desired_policy_with_kept,
    parse_repository_policy,
    render_repository_policy,
)
from ecr_drift.settings.base import RepositoryEvent, RepositorySetting
from ecr_drift.state import Call, ObservedRepository, Read, Refresh, RepositoryOptions, Write

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
        if observed is None:  # a new repository has none, and no one else has written one yet
            document = to_apply(value, None)
            return [] if document is None else [_set(name, document, None)]
        call = rebuild(name, value, [observed.reads.get(READ)])
        if call is None:
            return []
        refresh = Refresh(READ, partial(rebuild, name, value), partial(kept_sids, value.keep_sids))
        return [replace(call, refresh=refresh)]

    def template_parameters(self, value: Policy) -> dict[str, Any]:
        document = value.document
        return {"repositoryPolicy": render_repository_policy(document)} if document["Statement"] else {}

    def template_canonical(self, template: Mapping[str, Any]) -> Any:
        return canonical_or_text(template.get("repositoryPolicy") or None, canonical_repository_policy)


def observed_text(observed: ObservedRepository | None) -> str | None:
    response = observed.reads.get(READ) if observed is not None else None
    return response["policyText"] if response else None


def rebuild(name: str, value: Policy, responses: Sequence[Any]) -> Call | None:
    """The write that gives the repository its policy, given GetRepositoryPolicy ``responses`` (None: no
    policy), oldest first: kept statements come from all of them, the latest version of each winning, so
    one that a concurrent write removed is put back. None when the latest already is that policy."""
    texts = [response["policyText"] if response else None for response in responses]
    latest = texts[-1]
    document = to_apply(value, _merged_kept(texts, value.keep_sids))
    if document is None:
        return None if latest is None else _delete(name)
    if latest is not None and canonical_or_text(latest, canonical_repository_policy) == (
        canonical_repository_policy(document)
    ):
        return None
    return _set(name, document, latest)


def kept_sids(keep_sids: frozenset[str], response: Any) -> frozenset[str]:
    """The Sids of ``keep_sids`` in a GetRepositoryPolicy response: what a write must not lose."""
    statements = _statements(response["policyText"] if response else None)
    return frozenset(sid(s) for s in statements if sid(s) in keep_sids)


def _merged_kept(texts: Sequence[str | None], keep_sids: frozenset[str]) -> str | None:
    """One policy text holding the kept statements of ``texts``, the latest version of each Sid."""
    kept = {sid(s): s for text in texts for s in _statements(text) if sid(s) in keep_sids}
    return render_repository_policy({"Statement": list(kept.values())}) if kept else None


def _statements(text: str | None) -> list[Mapping[str, Any]]:
    try:
        return policy_statements(parse_repository_policy(text), WHAT) if text is not None else []
    except ValueError:  # text that is not a policy keeps nothing, as in to_apply
        return []


def _set(name: str, document: dict[str, Any], observed: str | None) -> Call:
    parameters = {"repositoryName": name, "policyText": render_repository_policy(document)}
    return Call(SET, parameters, subtractive=removes_statements(observed, document, WHAT))


def _delete(name: str) -> Call:
    return Call(DELETE, {"repositoryName": name}, subtractive=True, absent_ok=NOT_FOUND)


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
