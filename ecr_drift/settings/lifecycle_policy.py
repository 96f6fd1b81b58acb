"""The lifecycle policy: ``lifecycle``, compiled by ``ecr_drift.documents.lifecycle`` (as Pulumi's).

Read with GetLifecyclePolicy (one call per repository); ``[]`` means the repository must have none. Putting a
policy passes the lifecycle guard first: a policy that would expire more images than it allows is blocked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecr_drift.desired.models import RepositorySettings
from ecr_drift.documents.canonical_json import canonical_or_text
from ecr_drift.documents.lifecycle import canonical_lifecycle_policy, render_lifecycle_policy
from ecr_drift.documents.repository_documents import lifecycle_document
from ecr_drift.settings.base import RepositoryEvent, RepositorySetting
from ecr_drift.state import Call, ObservedRepository, Read, RepositoryOptions, Write

NOT_FOUND = "LifecyclePolicyNotFoundException"
READ = Read("GetLifecyclePolicy", by="repositoryName", absent=NOT_FOUND)
PUT = "PutLifecyclePolicy"
DELETE = "DeleteLifecyclePolicy"
# The lifecycle guard lists a repository's images before a policy is put.
GUARD_ACTIONS = ("ecr:DescribeImages",)

Document = dict[str, Any]


class LifecyclePolicy(RepositorySetting[Document]):
    name = "lifecycle_policy"
    title = "lifecycle policy"
    fields = ("lifecycle",)
    reads = (READ,)
    writes = (Write(PUT, implied_iam_actions=GUARD_ACTIONS), Write(DELETE, subtractive=True))
    events = (RepositoryEvent(PUT), RepositoryEvent(DELETE))
    template_reset = {"lifecyclePolicy": ""}
    severity = "LOW"

    def desired(self, settings: RepositorySettings, options: RepositoryOptions) -> Document | None:
        return lifecycle_document(settings)

    def expected(self, value: Document, observed: ObservedRepository | None) -> Any:
        # No rule means "no policy".
        return canonical_lifecycle_policy(value) if value["rules"] else None

    def actual(self, value: Document, observed: ObservedRepository) -> Any:
        response = observed.reads.get(READ)
        return canonical_or_text(response and response["lifecyclePolicyText"], canonical_lifecycle_policy)

    def calls(self, name: str, value: Document, observed: ObservedRepository | None) -> list[Call]:
        if not value["rules"]:
            if observed is None:  # a new repository has none
                return []
            return [Call(DELETE, {"repositoryName": name}, subtractive=True, absent_ok=NOT_FOUND)]
        text = render_lifecycle_policy(value)
        # A new repository has no images: the guard has nothing to protect.
        guard = value if observed is not None else None
        return [Call(PUT, {"repositoryName": name, "lifecyclePolicyText": text}, lifecycle_guard=guard)]

    def template_parameters(self, value: Document) -> dict[str, Any]:
        return {"lifecyclePolicy": render_lifecycle_policy(value)} if value["rules"] else {}

    def template_canonical(self, template: Mapping[str, Any]) -> Any:
        return canonical_or_text(template.get("lifecyclePolicy") or None, canonical_lifecycle_policy)


SPEC = LifecyclePolicy()
