"""Pydantic models of ``desired_state.json`` (the contract). Structure and single values only.

Checks that need more than one field (pattern ties, contradictions, documents ECR would reject) live in
:mod:`ecr_drift.desired.checks`, so each can name its exact JSON path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from ecr_drift.desired.lifecycle_rules import LifecycleRule, RawLifecyclePolicy
from ecr_drift.strict_model import StrictModel

# Patterns from botocore's ECR service model, anchored.
REPOSITORY_NAME_PATTERN = (
    r"^(?:[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*/)*[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$"
)
REPOSITORY_GLOB_PATTERN = r"^[a-z0-9._/*-]+$"
CACHE_PREFIX_PATTERN = (
    r"^(?:[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*/?|ROOT)$"
)
SCAN_FILTER_PATTERN = r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$"
TAG_FILTER_PATTERN = r"^[0-9a-zA-Z._*-]{1,128}$"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
IAM_ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$"
KMS_KEY_ARN_PATTERN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$"
SECRET_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:ecr-pullthroughcache/[a-zA-Z0-9/_+=.@-]+$"
)
# The account is named: the enforcer knows the account it runs in, and `*` there would ignore a role of that
# name in any account, another's included.
PRINCIPAL_GLOB_PATTERN = r"^arn:aws[a-z-]*:(?:iam|sts)::[0-9]{12}:[A-Za-z0-9_+=,.@/*-]+$"
SID_PATTERN = r"^[A-Za-z0-9]+$"
REGION_PATTERN = r"^[0-9a-z-]{2,25}$"
REPLICATION_PREFIX_PATTERN = r"^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$"

# ECR's replication limits (service quotas; botocore's model says no more than the list shapes allow).
MAX_REPLICATION_RULES = 10
MAX_REPLICATION_DESTINATIONS = 25  # unique destinations, across all rules
MAX_REPLICATION_FILTERS = 100  # repository filters in one rule

# What each pattern means, for error messages a person can act on (a regex is no explanation).
PATTERN_MEANINGS: dict[str, str] = {
    REPOSITORY_NAME_PATTERN: (
        "a repository name: lowercase letters and digits, separated by `.`, `_`, `-` or `/`"
    ),
    REPOSITORY_GLOB_PATTERN: "a repository glob: lowercase letters, digits, `.`, `_`, `-`, `/` and `*`",
    CACHE_PREFIX_PATTERN: (
        "a cache prefix: lowercase letters and digits, separated by `.`, `_`, `-` or `/`, or ROOT"
    ),
    SCAN_FILTER_PATTERN: "a scan filter: lowercase letters, digits, `.`, `_`, `-`, `/` and `*`",
    TAG_FILTER_PATTERN: "a tag filter: letters, digits, `.`, `_`, `-` and `*`, at most 128 characters",
    ACCOUNT_ID_PATTERN: "a 12-digit AWS account id",
    IAM_ROLE_ARN_PATTERN: "an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    KMS_KEY_ARN_PATTERN: "a KMS key ARN, not an alias (arn:aws:kms:<region>:<account>:key/<id>)",
    SECRET_ARN_PATTERN: "a Secrets Manager secret ARN whose name starts with `ecr-pullthroughcache/`",
    PRINCIPAL_GLOB_PATTERN: (
        "an IAM or STS ARN with its 12-digit account id, `*` allowed after it "
        "(arn:aws:iam::123456789012:role/pulumi-deploy); write the id of the account the role is in, "
        "not `*`"
    ),
    SID_PATTERN: "a Sid: letters and digits only",
    REGION_PATTERN: "an AWS Region name such as eu-central-1",
    REPLICATION_PREFIX_PATTERN: (
        "a repository name prefix: lowercase letters and digits, separated by `.`, `_`, `-` or `/`"
    ),
}

AccountId = Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN, description="A 12-digit AWS account id.")]
NonEmptyString = Annotated[str, Field(min_length=1)]
TagFilter = Annotated[str, Field(pattern=TAG_FILTER_PATTERN, description="A tag filter; `*` is a wildcard.")]


class IamStatement(StrictModel):
    """What repository and registry policy statements share; checks of statements take this type.

    Its principals are checked by ``ecr_drift.documents.iam_policy.statement_problems``, which names the path
    of each one (``Principal.AWS[1]``) and reports them beside the other statements' problems in one pass.
    """

    Sid: str = Field(pattern=SID_PATTERN, max_length=100)
    Effect: Literal["Allow", "Deny"]
    Principal: str | dict[str, str | list[str]] | None = None
    NotPrincipal: dict[str, str | list[str]] | None = None
    Action: str | list[str] | None = None
    NotAction: str | list[str] | None = None
    Condition: dict[str, dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _principal_and_action(self) -> Self:
        if (self.Principal is None) == (self.NotPrincipal is None):
            raise ValueError("give exactly one of `Principal` and `NotPrincipal`")
        if (self.Action is None) == (self.NotAction is None):
            raise ValueError("give exactly one of `Action` and `NotAction`")
        return self


class PolicyStatement(IamStatement):
    """An IAM statement of a repository policy. A repository policy names no ``Resource``."""

    @model_validator(mode="before")
    @classmethod
    def _no_resource(cls, value: Any) -> Any:
        if isinstance(value, dict) and "Resource" in value:
            raise ValueError("a repository policy statement must not have `Resource` (ECR rejects it)")
        return value


def _resource_kind(value: Any) -> str:
    return "Resource:list" if isinstance(value, list) else "Resource:string"


ResourceField = Annotated[
    Annotated[NonEmptyString, Tag("Resource:string")]
    | Annotated[list[NonEmptyString], Field(min_length=1), Tag("Resource:list")],
    Discriminator(_resource_kind),
]


class RegistryPolicyStatement(IamStatement):
    """An IAM statement of the registry policy (replication, pull through cache); it names a ``Resource``."""

    Resource: ResourceField = Field(
        description="The repositories it applies to, e.g. `arn:aws:ecr:<region>:<account>:repository/*`."
    )


class Encryption(StrictModel):
    type: Literal["AES256", "KMS", "KMS_DSSE"]
    kms_key: str | None = Field(
        default=None,
        pattern=KMS_KEY_ARN_PATTERN,
        description="KMS key ARN; omit with KMS for the AWS managed key `aws/ecr`.",
    )

    @model_validator(mode="after")
    def _key_only_with_kms(self) -> Encryption:
        if self.type == "AES256" and self.kms_key is not None:
            raise ValueError("`kms_key` is only allowed with type KMS or KMS_DSSE")
        return self


def _lifecycle_kind(value: Any) -> str:
    return "raw-policy" if isinstance(value, dict) else "shorthand-rules"


LifecycleField = Annotated[
    Annotated[list[LifecycleRule], Tag("shorthand-rules")] | Annotated[RawLifecyclePolicy, Tag("raw-policy")],
    Discriminator(_lifecycle_kind),
]
# Union tags pydantic puts into error locations; they are not part of the user's JSON path.
UNION_TAGS = frozenset({"shorthand-rules", "raw-policy", "Resource:string", "Resource:list"})


def absent_not_null(schema: dict[str, Any]) -> None:
    """JSON Schema: a field is left out, never null (``_no_nulls``), so editors flag and never offer null."""
    for field in schema.get("properties", {}).values():
        branches = field.pop("anyOf", None)
        others = [branch for branch in branches or () if branch != {"type": "null"}]
        if len(others) == 1:
            field.update(others[0])
        elif branches is not None:
            field["anyOf"] = others
        if field.get("default", ...) is None:
            del field["default"]


class RepositorySettings(StrictModel):
    """Settings of a repository. Every field is optional; an absent field is not managed."""

    model_config = ConfigDict(json_schema_extra=absent_not_null)

    scan_on_push: bool | None = Field(default=None, description="Per-repository scan on push.")
    image_tag_mutability: Literal["MUTABLE", "IMMUTABLE"] | None = None
    image_tag_mutability_exclusions: list[TagFilter] | None = Field(
        default=None,
        max_length=5,
        description="Tags exempt from the mutability setting; non-empty means ECR's `*_WITH_EXCLUSION`.",
    )
    lifecycle: LifecycleField | None = Field(
        default=None,
        description='Shorthand rules (priority = list order), or `{"raw": <ECR lifecycle policy>}`; '
        "`[]` means the repository must have no lifecycle policy.",
    )
    pull_account_ids: list[AccountId] | None = Field(default=None, description="Accounts allowed to pull.")
    push_account_ids: list[AccountId] | None = Field(
        default=None, description="Accounts allowed to push (push implies pull)."
    )
    policy_statements: list[PolicyStatement] | None = Field(
        default=None, description="Further repository policy statements, each with a unique Sid."
    )
    tags: (
        dict[Annotated[str, Field(min_length=1, max_length=128)], Annotated[str, Field(max_length=256)]]
        | None
    ) = Field(default=None, max_length=50, description="Tags that must be present with these values.")
    encryption: Encryption | None = Field(
        default=None, description="Checked and reported, never remediated (it is fixed at creation)."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                if item is None:
                    raise ValueError(f"`{key}` is null: omit the field to leave the setting unmanaged")
        return value

    @property
    def manages_policy(self) -> bool:
        return any(
            f is not None for f in (self.pull_account_ids, self.push_account_ids, self.policy_statements)
        )


class LifecycleGuard(StrictModel):
    max_expire_images: int = Field(default=500, ge=0, description="Most images one application may expire.")
    max_expire_fraction: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Largest share of a repository's images it may expire."
    )
    horizon_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description=(
            "Images the policy would delete within this many days of being applied count too (no new pushes "
            "or pulls assumed): expired directly, archived then expired, or already archived."
        ),
    )


class BlastRadius(StrictModel):
    max_repositories: int = Field(
        default=10,
        ge=0,
        description=(
            "Most repositories one run may make subtractive writes to (remove access, delete a lifecycle "
            "policy, remove tags); over it, none of them is made. Registry-level subtractive writes count "
            "one each."
        ),
    )


class Enforcement(StrictModel):
    mode: Literal["enforce", "audit"] = Field(default="enforce", description="`audit` never writes anything.")
    recreate_missing_repositories: bool = True
    unmanaged_repositories: Literal["report", "ignore"] = "report"
    ignore_principals: list[Annotated[str, Field(pattern=PRINCIPAL_GLOB_PATTERN)]] = Field(
        default_factory=list,
        description="ARN globs, each naming its account id, whose CloudTrail events are not acted on "
        "(e.g. the deploy role).",
    )
    remove_unmanaged_tags: bool = False
    keep_policy_sids: list[Annotated[str, Field(pattern=SID_PATTERN)]] = Field(
        default_factory=lambda: ["LambdaECRImageRetrievalPolicy"],
        description="Repository policy statements that are never removed.",
    )
    lifecycle_guard: LifecycleGuard = Field(default_factory=LifecycleGuard)
    blast_radius: BlastRadius = Field(default_factory=BlastRadius)
    allow_public_pull: bool = Field(
        default=False,
        description="Accept `Allow` statements with a public principal when their actions are pull-only.",
    )


class ScanningRule(StrictModel):
    frequency: Literal["SCAN_ON_PUSH", "CONTINUOUS_SCAN", "MANUAL"]
    filters: list[Annotated[str, Field(min_length=1, max_length=255, pattern=SCAN_FILTER_PATTERN)]] = Field(
        min_length=1, max_length=100, description="Repository name filters; `*` is a wildcard."
    )


class RegistryScanning(StrictModel):
    scan_type: Literal["BASIC", "ENHANCED"]
    rules: list[ScanningRule] = Field(default_factory=list, max_length=2)


class PullThroughCacheRule(StrictModel):
    upstream_registry_url: str = Field(min_length=1, max_length=255)
    credential_arn: str | None = Field(default=None, pattern=SECRET_ARN_PATTERN)
    custom_role_arn: str | None = Field(default=None, pattern=IAM_ROLE_ARN_PATTERN)
    upstream_repository_prefix: str | None = Field(default=None, min_length=2, max_length=30)


class ReplicationDestination(StrictModel):
    region: str = Field(
        pattern=REGION_PATTERN, description="The Region to replicate to, e.g. `eu-central-1`."
    )
    account_id: AccountId | None = Field(
        default=None, description="The account whose registry receives the images; absent: this account."
    )


class ReplicationRule(StrictModel):
    destinations: list[ReplicationDestination] = Field(
        min_length=1,
        max_length=MAX_REPLICATION_DESTINATIONS,
        description="Where the images go; each destination once.",
    )
    repository_prefixes: (
        list[Annotated[str, Field(min_length=2, max_length=256, pattern=REPLICATION_PREFIX_PATTERN)]] | None
    ) = Field(
        default=None,
        min_length=1,
        max_length=MAX_REPLICATION_FILTERS,
        description="Replicate only repositories whose names start with one of these (ECR's PREFIX_MATCH); "
        "absent: every repository.",
    )


class Registry(StrictModel):
    scanning: RegistryScanning | None = Field(default=None, description="Absent: not managed.")
    pull_through_cache: (
        dict[
            Annotated[str, Field(min_length=2, max_length=30, pattern=CACHE_PREFIX_PATTERN)],
            PullThroughCacheRule,
        ]
        | None
    ) = Field(default=None, max_length=50, description="ECR repository prefix → upstream registry.")
    replication: list[ReplicationRule] | None = Field(
        default=None,
        max_length=MAX_REPLICATION_RULES,
        description="Registry replication rules (at most 25 unique destinations across them); "
        "`[]`: no replication; absent: not managed.",
    )
    policy_statements: list[RegistryPolicyStatement] | None = Field(
        default=None,
        description="The registry policy: IAM statements, each with a unique Sid and a `Resource`; "
        "`[]`: the registry must have no policy; absent: not managed.",
    )


class DesiredState(StrictModel):
    schema_: str | None = Field(default=None, alias="$schema", description="Lets editors validate this file.")
    version: Literal[1]
    enforcement: Enforcement = Field(default_factory=Enforcement)
    registry: Registry = Field(default_factory=Registry)
    defaults: RepositorySettings = Field(default_factory=RepositorySettings)
    repositories: dict[
        Annotated[str, Field(min_length=2, max_length=256, pattern=REPOSITORY_NAME_PATTERN)],
        RepositorySettings,
    ] = Field(default_factory=dict)
    repository_patterns: dict[
        Annotated[str, Field(min_length=1, max_length=256, pattern=REPOSITORY_GLOB_PATTERN)],
        RepositorySettings,
    ] = Field(
        default_factory=dict,
        description="Globs (`*` matches any characters, `/` included) for lazily created repositories.",
    )
