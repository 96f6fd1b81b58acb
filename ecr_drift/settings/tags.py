"""Tags: ``tags`` must be present with these values; with ``enforcement.remove_unmanaged_tags`` no others.

Read with ListTagsForResource (one call per repository). ``aws:`` tags are set by AWS itself and no user can
remove them, so they are never drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecr_drift.desired.models import RepositorySettings
from ecr_drift.settings.base import RepositoryEvent, RepositorySetting
from ecr_drift.state import Call, ObservedRepository, Read, RepositoryOptions, Write

READ = Read("ListTagsForResource", by="resourceArn")
TAG = "TagResource"
UNTAG = "UntagResource"
AWS_TAG_PREFIX = "aws:"


@dataclass(frozen=True)
class Tags:
    tags: dict[str, str]
    remove_unmanaged: bool = False


class RepositoryTags(RepositorySetting[Tags]):
    name = "tags"
    title = "tags"
    title_is_plural = True
    fields = ("tags",)
    reads = (READ,)
    writes = (Write(TAG), Write(UNTAG, subtractive=True))
    events = (RepositoryEvent(TAG, by="resourceArn"), RepositoryEvent(UNTAG, by="resourceArn"))
    template_reset = {"resourceTags": []}
    severity = "LOW"
    creation_iam_actions = ("ecr:TagResource",)  # tags given to CreateRepository

    def desired(self, settings: RepositorySettings, options: RepositoryOptions) -> Tags | None:
        if settings.tags is None:
            return None
        return Tags(dict(settings.tags), options.remove_unmanaged_tags)

    def expected(self, value: Tags, observed: ObservedRepository | None) -> Any:
        return dict(sorted(value.tags.items()))

    def actual(self, value: Tags, observed: ObservedRepository) -> Any:
        present = _present(observed)
        # Unless told to remove them, tags the desired state does not name are none of its business.
        actual = present if value.remove_unmanaged else {k: v for k, v in present.items() if k in value.tags}
        return dict(sorted(actual.items()))

    def calls(self, name: str, value: Tags, observed: ObservedRepository | None) -> list[Call]:
        if observed is None:  # set by CreateRepository
            return []
        present = _present(observed)
        changed = {key: tag for key, tag in value.tags.items() if present.get(key) != tag}
        extra = sorted(present.keys() - value.tags.keys()) if value.remove_unmanaged else []
        calls = []
        if changed:
            calls.append(Call(TAG, {"resourceArn": observed.arn, "tags": tag_list(changed)}))
        if extra:
            calls.append(Call(UNTAG, {"resourceArn": observed.arn, "tagKeys": extra}, subtractive=True))
        return calls

    def creation_parameters(self, value: Tags) -> dict[str, Any]:
        return {"tags": tag_list(value.tags)} if value.tags else {}

    def template_parameters(self, value: Tags) -> dict[str, Any]:
        return {"resourceTags": tag_list(value.tags)} if value.tags else {}

    def template_canonical(self, template: Mapping[str, Any]) -> Any:
        return dict(sorted(_tag_map(template.get("resourceTags")).items()))


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _tag_map(tags: list[Mapping[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or ()}


def _present(observed: ObservedRepository) -> dict[str, str]:
    response = observed.reads.get(READ) or {}
    tags = _tag_map(response.get("tags"))
    return {key: value for key, value in tags.items() if not key.startswith(AWS_TAG_PREFIX)}


SPEC = RepositoryTags()
