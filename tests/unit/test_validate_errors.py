"""Each bad desired state is rejected with the JSON path and a message that says what is wrong."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from ecr_drift.desired import DesiredStateError, load_desired_state_text
from ecr_drift.desired.checks import semantic_problems
from tests.conftest import ACCOUNT_ID, EXAMPLE_PATH, REGION

Doc = dict[str, Any]
EXAMPLE: Doc = json.loads(EXAMPLE_PATH.read_text())
REGISTRY_STATEMENT = {
    "Sid": "Replication",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": "arn:aws:ecr:eu-west-1:123456789012:repository/*",
}


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation that sets ``value`` at a dotted path (list indexes as numbers)."""

    def mutate(doc: Doc) -> None:
        *parents, last = path.split("|")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(DesiredStateError) as caught:
        load_desired_state_text(text)
    return [(p.path, p.message) for p in caught.value.problems]


def _assert_problem(problems: list[tuple[str, str]], path: str, fragment: str) -> None:
    assert any(p == path and fragment in m for p, m in problems), problems


BAD_DOCUMENTS: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("unknown top-level field", _set("repositorys", {}), "repositorys", "unknown field `repositorys`"),
    (
        "typo in a setting, with a suggestion",
        _set("defaults|scan_on_pusj", True),
        "defaults.scan_on_pusj",
        "did you mean `scan_on_push`?",
    ),
    (
        "typo in a lifecycle rule",
        _set("defaults|lifecycle|1|max_image", 3),
        "defaults.lifecycle[1].max_image",
        "did you mean `max_images`?",
    ),
    ("wrong version", _set("version", 2), "version", "Input should be 1"),
    ("missing version", lambda d: d.pop("version"), "version", "required field is missing"),
    (
        "enum in the wrong case",
        _set("defaults|image_tag_mutability", "immutable"),
        "defaults.image_tag_mutability",
        "'MUTABLE' or 'IMMUTABLE' (got a string)",
    ),
    ("bool as a string", _set("defaults|scan_on_push", "true"), "defaults.scan_on_push", "valid boolean"),
    (
        "null instead of omitting",
        _set("repositories|temporal-worker|scan_on_push", None),
        "repositories.temporal-worker",
        "`scan_on_push` is null",
    ),
    (
        "invalid repository name",
        _set("repositories|Admin_Dashboard", {}),
        "repositories.Admin_Dashboard",
        "must be a repository name: lowercase letters and digits",
    ),
    (
        "account id too short",
        _set("repositories|admin-dashboard|pull_account_ids", ["11112222333"]),
        "repositories.admin-dashboard.pull_account_ids[0]",
        "must be a 12-digit AWS account id",
    ),
    (
        "account listed twice",
        _set("repositories|admin-dashboard|pull_account_ids", ["111122223333", "111122223333"]),
        "repositories.admin-dashboard.pull_account_ids[1]",
        "the same account as pull_account_ids[0]",
    ),
    (
        "account in pull and push",
        _set("repositories|admin-dashboard|push_account_ids", ["111122223333"]),
        "repositories.admin-dashboard.pull_account_ids[0]",
        "also in push_account_ids[0]: push implies pull",
    ),
    (
        "lifecycle count out of range",
        _set("defaults|lifecycle|1|max_images", 0),
        "defaults.lifecycle[1].max_images",
        "greater than or equal to 1 (got an integer)",
    ),
    (
        "lifecycle rule with both count kinds",
        _set("defaults|lifecycle|1|max_age_days", 3),
        "defaults.lifecycle[1].max_age_days",
        "exactly one of max_images or max_age_days",
    ),
    (
        "any rule not last",
        _set("defaults|lifecycle", [{"max_images": 5}, {"tag_status": "untagged", "max_age_days": 1}]),
        "defaults.lifecycle[0].tag_status",
        "must be the last rule",
    ),
    (
        "two untagged rules",
        _set(
            "defaults|lifecycle",
            [{"tag_status": "untagged", "max_age_days": 1}, {"tag_status": "untagged", "max_images": 3}],
        ),
        "defaults.lifecycle[1].tag_status",
        "only one rule may select untagged images",
    ),
    (
        "prefixes and patterns together",
        _set("defaults|lifecycle|1|tag_patterns", ["v*"]),
        "defaults.lifecycle[1].tag_patterns",
        "tag_prefixes or tag_patterns, not both",
    ),
    (
        "too many wildcards",
        _set("defaults|lifecycle", [{"tag_patterns": ["*a*b*c*d*"], "max_images": 3}]),
        "defaults.lifecycle[0].tag_patterns[0]",
        "ECR allows at most 4",
    ),
    (
        "too many lifecycle rules",
        _set("defaults|lifecycle", [{"tag_prefixes": [f"p{i}"], "max_images": 1} for i in range(51)]),
        "defaults.lifecycle",
        "50",
    ),
    (
        "raw lifecycle with duplicate priorities",
        _set(
            "repositories|temporal-worker|lifecycle",
            {
                "raw": {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "imageCountMoreThan",
                                "countNumber": 1,
                            },
                            "action": {"type": "expire"},
                        },
                        {
                            "rulePriority": 1,
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": 9,
                            },
                            "action": {"type": "expire"},
                        },
                    ]
                }
            },
        ),
        "repositories.temporal-worker.lifecycle.raw.rules[1].rulePriority",
        "1",
    ),
    (
        "statement with Resource",
        _set(
            "repositories|temporal-worker|policy_statements",
            [
                {
                    "Sid": "X",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "ecr:BatchGetImage",
                    "Resource": "*",
                }
            ],
        ),
        "repositories.temporal-worker.policy_statements[0]",
        "must not have `Resource`",
    ),
    (
        "reserved Sid",
        _set(
            "repositories|temporal-worker|policy_statements",
            [{"Sid": "CrossAccountPull", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
        ),
        "repositories.temporal-worker.policy_statements[0].Sid",
        "reserved",
    ),
    (
        "duplicate Sid",
        _set(
            "repositories|temporal-worker|policy_statements",
            [{"Sid": "Ci", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}] * 2,
        ),
        "repositories.temporal-worker.policy_statements[1].Sid",
        "this Sid is already used by policy_statements[0]",
    ),
    (
        "statement without a principal",
        _set(
            "repositories|temporal-worker|policy_statements",
            [{"Sid": "Ci", "Effect": "Allow", "Action": "ecr:*"}],
        ),
        "repositories.temporal-worker.policy_statements[0]",
        "exactly one of `Principal` and `NotPrincipal`",
    ),
    (
        "KMS alias instead of a key ARN",
        _set(
            "defaults|encryption", {"type": "KMS", "kms_key": "arn:aws:kms:eu-west-1:111122223333:alias/ecr"}
        ),
        "defaults.encryption.kms_key",
        "must be a KMS key ARN, not an alias",
    ),
    (
        "KMS key with AES256",
        _set(
            "defaults|encryption",
            {"type": "AES256", "kms_key": "arn:aws:kms:eu-west-1:111122223333:key/abcd"},
        ),
        "defaults.encryption",
        "only allowed with type KMS",
    ),
    (
        "too many tags",
        _set("defaults|tags", {f"k{i}": "v" for i in range(51)}),
        "defaults.tags",
        "at most 50",
    ),
    (
        "reserved tag key",
        _set("defaults|tags|aws:owner", "me"),
        'defaults.tags."aws:owner"',
        "reserved by AWS",
    ),
    (
        "too many mutability exclusions",
        _set("defaults|image_tag_mutability_exclusions", ["a", "b", "c", "d", "e", "f"]),
        "defaults.image_tag_mutability_exclusions",
        "at most 5",
    ),
    (
        "exclusions without a mutability",
        lambda d: d["defaults"].pop("image_tag_mutability"),
        "defaults.image_tag_mutability_exclusions",
        "need `image_tag_mutability`",
    ),
    (
        "patterns that tie",
        _set("repository_patterns|ecr-public/*-svc", {}),
        'repository_patterns."ecr-public/*-svc"',
        "ties with 'ecr-public/*'",
    ),
    (
        "invalid glob characters",
        _set("repository_patterns|team/[ab]*", {}),
        'repository_patterns."team/[ab]*"',
        "must be a repository glob",
    ),
    (
        "unknown upstream registry",
        _set("registry|pull_through_cache|ecr-public|upstream_registry_url", "example.com"),
        "registry.pull_through_cache.ecr-public.upstream_registry_url",
        "not an upstream ECR can cache",
    ),
    (
        "docker hub without credentials",
        _set("registry|pull_through_cache|docker-hub", {"upstream_registry_url": "registry-1.docker.io"}),
        "registry.pull_through_cache.docker-hub.credential_arn",
        "needs credentials",
    ),
    (
        "credential secret with the wrong name",
        _set(
            "registry|pull_through_cache|docker-hub",
            {
                "upstream_registry_url": "registry-1.docker.io",
                "credential_arn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:dockerhub-AbCdEf",
            },
        ),
        "registry.pull_through_cache.docker-hub.credential_arn",
        "ecr-pullthroughcache",
    ),
    (
        "cache prefix too long",
        _set("registry|pull_through_cache|" + "a" * 31, {"upstream_registry_url": "quay.io"}),
        "registry.pull_through_cache." + "a" * 31,
        "at most 30",
    ),
    (
        "continuous scan on BASIC",
        _set("registry|scanning|rules", [{"frequency": "CONTINUOUS_SCAN", "filters": ["*"]}]),
        "registry.scanning.rules[0].frequency",
        "needs scan_type ENHANCED",
    ),
    (
        "scan on push under ENHANCED",
        _set("registry|scanning|scan_type", "ENHANCED"),
        "defaults.scan_on_push",
        "ignores per-repository scan on push",
    ),
    (
        "scan filter with upper case",
        _set("registry|scanning|rules|0|filters", ["Prod-*"]),
        "registry.scanning.rules[0].filters[0]",
        "must be a scan filter",
    ),
    (
        "unknown mode",
        _set("enforcement|mode", "dry-run"),
        "enforcement.mode",
        "'enforce' or 'audit' (got a string)",
    ),
    (
        "guard fraction above 1",
        _set("enforcement|lifecycle_guard|max_expire_fraction", 1.5),
        "enforcement.lifecycle_guard.max_expire_fraction",
        "less than or equal to 1",
    ),
    (
        "ignore principal that is not an ARN",
        _set("enforcement|ignore_principals", ["pulumi-deploy"]),
        "enforcement.ignore_principals[0]",
        "must be an IAM or STS ARN",
    ),
    (
        "keeping a managed Sid",
        _set("enforcement|keep_policy_sids", ["CrossAccountPull"]),
        "enforcement.keep_policy_sids",
        "managed by the enforcer",
    ),
    (
        "principal string other than *",
        _set(
            "repositories|temporal-worker|policy_statements",
            [{"Sid": "Ci", "Effect": "Allow", "Principal": "111122223333", "Action": "ecr:BatchGetImage"}],
        ),
        "repositories.temporal-worker.policy_statements[0].Principal",
        'a string `Principal` can only be "*"',
    ),
    (
        "registry policy duplicate Sid",
        _set("registry|policy_statements", [REGISTRY_STATEMENT, REGISTRY_STATEMENT]),
        "registry.policy_statements[1].Sid",
        "this Sid is already used by policy_statements[0]",
    ),
    (
        "registry policy statement without Resource",
        _set(
            "registry|policy_statements", [{k: v for k, v in REGISTRY_STATEMENT.items() if k != "Resource"}]
        ),
        "registry.policy_statements[0].Resource",
        "required field is missing",
    ),
    (
        "registry policy Resource list with an empty string",
        _set("registry|policy_statements", [{**REGISTRY_STATEMENT, "Resource": ["arn:aws:ecr:*", ""]}]),
        "registry.policy_statements[0].Resource[1]",
        "at least 1 character",
    ),
    (
        "registry policy too long",
        _set(
            "registry|policy_statements",
            [
                {**REGISTRY_STATEMENT, "Sid": f"S{i}", "Resource": [f"arn:aws:ecr:*:*:{'x' * 300}"]}
                for i in range(40)
            ],
        ),
        "registry.policy_statements",
        "ECR allows 10240",
    ),
    (
        "replication destination twice in a rule",
        _set("registry|replication", [{"destinations": [{"region": "us-east-1"}, {"region": "us-east-1"}]}]),
        "registry.replication[0].destinations[1]",
        "is the same destination as destinations[0]",
    ),
    (
        "replication prefix twice",
        _set(
            "registry|replication",
            [{"destinations": [{"region": "us-east-1"}], "repository_prefixes": ["prod", "team", "prod"]}],
        ),
        "registry.replication[0].repository_prefixes[2]",
        "the same prefix as repository_prefixes[0]",
    ),
    (
        "more than 25 unique replication destinations",
        _set(
            "registry|replication",
            [{"destinations": [{"region": f"r{i}-{j}"} for i in range(13)]} for j in range(2)],
        ),
        "registry.replication",
        "has 26 unique destinations across its rules; ECR allows at most 25",
    ),
    (
        "more than 10 replication rules",
        _set("registry|replication", [{"destinations": [{"region": f"r-{i}"}]} for i in range(11)]),
        "registry.replication",
        "at most 10 items",
    ),
    (
        "replication rule without destinations",
        _set("registry|replication", [{"destinations": []}]),
        "registry.replication[0].destinations",
        "at least 1 item",
    ),
    (
        "replication region in upper case",
        _set("registry|replication", [{"destinations": [{"region": "US-EAST-1"}]}]),
        "registry.replication[0].destinations[0].region",
        "must be an AWS Region name",
    ),
    (
        "replication account id too short",
        _set("registry|replication", [{"destinations": [{"region": "us-east-1", "account_id": "1234"}]}]),
        "registry.replication[0].destinations[0].account_id",
        "must be a 12-digit AWS account id",
    ),
    (
        "replication prefix with upper case",
        _set(
            "registry|replication",
            [{"destinations": [{"region": "us-east-1"}], "repository_prefixes": ["Prod"]}],
        ),
        "registry.replication[0].repository_prefixes[0]",
        "must be a repository name prefix",
    ),
    (
        "replication prefixes given empty",
        _set(
            "registry|replication", [{"destinations": [{"region": "us-east-1"}], "repository_prefixes": []}]
        ),
        "registry.replication[0].repository_prefixes",
        "at least 1 item",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "path", "fragment"),
    [case[1:] for case in BAD_DOCUMENTS],
    ids=[case[0] for case in BAD_DOCUMENTS],
)
def test_bad_document_is_rejected_with_its_path(
    mutation: Callable[[Doc], None], path: str, fragment: str
) -> None:
    doc = copy.deepcopy(EXAMPLE)
    mutation(doc)
    _assert_problem(_problems(json.dumps(doc)), path, fragment)


def test_there_are_at_least_25_distinct_bad_inputs() -> None:
    assert len({case[0] for case in BAD_DOCUMENTS}) >= 25


def test_syntax_error_names_line_and_column() -> None:
    problems = _problems('{\n  "version": 1,\n  "repositories": {,}\n}')
    assert problems == [
        ("", "invalid JSON at line 3, column 20: Expecting property name enclosed in double quotes")
    ]


def test_duplicate_keys_are_found_at_any_depth() -> None:
    text = (
        '{"version": 1, "repositories": {"a1": {"scan_on_push": true, "scan_on_push": false}}, "version": 1}'
    )
    problems = _problems(text)
    assert ("version", "duplicate key: JSON keeps only the last value, so the first is lost") in problems
    _assert_problem(problems, "repositories.a1.scan_on_push", "duplicate key")


def test_nan_is_not_json() -> None:
    _assert_problem(_problems('{"version": NaN}'), "", "NaN is not valid JSON")


def test_every_problem_is_reported_at_once() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["defaults"]["scan_on_push"] = "yes"
    doc["enforcement"]["mode"] = "loud"
    paths = {path for path, _ in _problems(json.dumps(doc))}
    assert {"defaults.scan_on_push", "enforcement.mode"} <= paths


def _replicating(destinations: list[dict[str, str]]) -> str:
    doc = copy.deepcopy(EXAMPLE)
    doc["registry"]["replication"] = [{"destinations": destinations}]
    return json.dumps(doc)


def test_replicating_into_this_registry_is_rejected_once_the_registry_is_known() -> None:
    text = _replicating([{"region": REGION}, {"region": REGION, "account_id": "111122223333"}])
    state = load_desired_state_text(text)  # offline: region and account unknown, nothing to reject
    with pytest.raises(DesiredStateError) as caught:
        load_desired_state_text(text, home=(REGION, ACCOUNT_ID))
    path = "registry.replication[0].destinations[0].region"
    assert [(p.path, p.message) for p in caught.value.problems] == [
        (
            path,
            f"{REGION} in this account is the registry being replicated; "
            "give another Region or another account_id",
        )
    ]
    assert semantic_problems(state, home=(REGION, ACCOUNT_ID)) == caught.value.problems
    assert semantic_problems(state, home=("us-east-1", ACCOUNT_ID)) == []


def test_this_accounts_id_given_explicitly_is_this_account() -> None:
    text = _replicating([{"region": "us-east-1"}, {"region": "us-east-1", "account_id": ACCOUNT_ID}])
    load_desired_state_text(text)  # offline the two are not known to be the same
    with pytest.raises(DesiredStateError) as caught:
        load_desired_state_text(text, home=(REGION, ACCOUNT_ID))
    _assert_problem(
        [(p.path, p.message) for p in caught.value.problems],
        "registry.replication[0].destinations[1]",
        "is the same destination as destinations[0]",
    )


def test_a_valid_registry_section_loads() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["registry"]["replication"] = [
        {"destinations": [{"region": "us-east-1"}, {"region": "eu-west-1", "account_id": "111122223333"}]},
        {"destinations": [{"region": "ap-south-1"}], "repository_prefixes": ["prod/", "team-a"]},
    ]
    doc["registry"]["policy_statements"] = [REGISTRY_STATEMENT]
    state = load_desired_state_text(json.dumps(doc), home=(REGION, ACCOUNT_ID))
    assert state.registry.replication is not None
    assert state.registry.replication[0].destinations[0].account_id is None
    assert state.registry.policy_statements is not None
    assert state.registry.policy_statements[0].Resource == REGISTRY_STATEMENT["Resource"]
    doc["registry"]["replication"] = doc["registry"]["policy_statements"] = []
    empty = load_desired_state_text(json.dumps(doc))
    assert (empty.registry.replication, empty.registry.policy_statements) == ([], [])


# ---- hostile files: nesting and secrets ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "[" * 100_000,  # unterminated as well: the depth is what is reported
        '{"version": 1, "defaults": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}",
        '{"version": 1, "registry": {"policy_statements": [{"Condition": {"StringEquals": {"k": '
        + "[" * 2_000
        + "]" * 2_000
        + "}}}]}}",
    ],
    ids=["brackets", "unterminated", "objects", "inside-a-condition"],
)
def test_deep_nesting_is_a_problem_not_a_recursion_error(text: str) -> None:
    problems = _problems(text)

    assert len(problems) == 1
    path, message = problems[0]
    assert path == ""
    assert message.startswith("nested deeper than 64 levels at line 1, column ")
    assert "no valid desired state nests more than 10" in message


def test_nesting_is_counted_outside_strings_and_by_line_and_column() -> None:
    doc = copy.deepcopy(EXAMPLE)
    # Brackets inside a string nest nothing, escaped quotes included.
    doc["defaults"]["tags"]["note"] = '"' + "[" * 100 + '\\"' + "{" * 100
    load_desired_state_text(json.dumps(doc))

    text = '{\n  "version": 1,\n  "x": ' + "[" * 70 + "]" * 70 + "\n}"
    # The root object is level 1, so the 64th `[` (column 8 + 63) is the 65th level.
    assert _problems(text) == [
        ("", "nested deeper than 64 levels at line 3, column 71; no valid desired state nests more than 10")
    ]


def test_the_deepest_valid_document_is_far_from_the_limit() -> None:
    """A raw lifecycle policy's tag list, 9 levels down, loads."""
    doc = copy.deepcopy(EXAMPLE)
    doc["repositories"]["temporal-worker"]["lifecycle"] = {
        "raw": {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["v*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 3,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    }
    load_desired_state_text(json.dumps(doc))


SECRET = "ghp_Zx9SECRETtoken0123456789"
SECRET_SID = "Zx9SECRETtoken0123456789"  # a secret that happens to be a valid Sid

# A secret pasted into places where it does not belong, each an error that must not echo it.
MODEL_ERRORS: list[Callable[[Doc], None]] = [
    _set("version", SECRET),
    _set("defaults|scan_on_push", SECRET),
    _set("defaults|image_tag_mutability", SECRET),
    _set("defaults|image_tag_mutability_exclusions", [SECRET + "/"]),
    _set("defaults|lifecycle|1|max_images", SECRET),
    _set("defaults|encryption", {"type": "KMS", "kms_key": SECRET}),
    _set("defaults|tags|team", SECRET * 20),  # too long
    _set("repositories|admin-dashboard|pull_account_ids", [SECRET]),
    _set("repositories|temporal-worker|scan_on_push", [SECRET]),
    _set("repositories|temporal-worker|image_tag_mutability", {"value": SECRET}),
    _set("enforcement|mode", SECRET),
    _set("enforcement|ignore_principals", [SECRET]),
    _set("enforcement|keep_policy_sids", [SECRET]),
    _set("enforcement|lifecycle_guard|max_expire_images", SECRET),
    _set("registry|pull_through_cache|ecr-public|credential_arn", SECRET),
    _set("registry|scanning|rules|0|filters", [SECRET]),
    _set("registry|replication", [{"destinations": [{"region": SECRET}]}]),
    _set(
        "repositories|temporal-worker|policy_statements",
        [{"Sid": SECRET, "Effect": SECRET, "Principal": SECRET, "Action": "ecr:BatchGetImage"}],
    ),
]
# Values each valid on its own, wrong together (the checks across fields): the message points at the other
# place by its path.
CHECK_ERRORS: list[Callable[[Doc], None]] = [
    _set("registry|pull_through_cache|ecr-public|upstream_registry_url", f"https://{SECRET}@example.com"),
    _set("registry|policy_statements", [REGISTRY_STATEMENT | {"Sid": SECRET_SID}] * 2),
    _set(
        "repositories|temporal-worker|policy_statements",
        [
            {"Sid": SECRET_SID, "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": f"ecr:{SECRET}"},
            {"Sid": SECRET_SID, "Effect": "Deny", "Principal": "*", "Action": "ecr:PutImage"},
        ],
    ),
    _set("repositories|admin-dashboard|pull_account_ids", ["111122223333", "111122223333"]),
    _set("repositories|admin-dashboard|push_account_ids", ["111122223333"]),
    _set(
        "repositories|utila-cosigner|lifecycle",
        {
            "raw": {
                "rules": [
                    {
                        "rulePriority": SECRET,
                        "selection": {"tagStatus": SECRET, "countType": SECRET, "countNumber": SECRET},
                        "action": {"type": SECRET, "targetStorageClass": SECRET},
                    }
                ]
            }
        },
    ),
]


@pytest.mark.parametrize("mutations", [MODEL_ERRORS, CHECK_ERRORS], ids=["models", "checks"])
def test_no_message_echoes_a_value_of_the_file(mutations: list[Callable[[Doc], None]]) -> None:
    doc = copy.deepcopy(EXAMPLE)
    for mutate in mutations:
        mutate(doc)

    with pytest.raises(DesiredStateError) as caught:
        load_desired_state_text(json.dumps(doc))

    assert len(caught.value.problems) >= len(mutations)
    for fragment in (SECRET, SECRET_SID[:12], "111122223333"):
        assert fragment not in str(caught.value)


def test_messages_without_values_still_say_what_is_expected_and_what_came() -> None:
    doc = copy.deepcopy(EXAMPLE)
    for mutate in MODEL_ERRORS:
        mutate(doc)

    with pytest.raises(DesiredStateError) as caught:
        load_desired_state_text(json.dumps(doc))

    messages = {(p.path, p.message) for p in caught.value.problems}
    assert {
        ("version", "Input should be 1 (got a string)"),
        ("defaults.scan_on_push", "Input should be a valid boolean (got a string)"),
        ("defaults.lifecycle[1].max_images", "Input should be a valid integer (got a string)"),
        ("repositories.temporal-worker.scan_on_push", "Input should be a valid boolean (got a list)"),
        (
            "repositories.temporal-worker.image_tag_mutability",
            "Input should be 'MUTABLE' or 'IMMUTABLE' (got an object)",
        ),
        ("repositories.admin-dashboard.pull_account_ids[0]", "must be a 12-digit AWS account id"),
        ("defaults.tags.team", "String should have at most 256 characters (got a string)"),
    } <= messages


# ---- one pass finds everything ---------------------------------------------------------------------------

PUBLIC_PULL = {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}
PUBLIC_PUSH = {"Sid": "Everyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:PutImage"}
# Mistakes the models catch (a wrong enum, type, key or field), each in a block that also holds a mistake
# of the other kind below, or in a block of its own.
MODEL_MISTAKES: list[Callable[[Doc], None]] = [
    _set("repositories|temporal-worker|image_tag_mutability", "immutable"),
    _set("defaults|scan_on_push", "yes"),
    _set("enforcement|mode", "loud"),
    _set("registry|scanning|rules|0|frequency", "DAILY"),
    _set("repositories|Bad_Name", {}),
    _set("repositories|internal-dashboard|scan_on_pusj", True),
    _set("registry|pull_through_cache|quay", {"upstream_registry_url": "quay.io", "credential_arn": "nope"}),
    _set("registry|replication|0|destinations|0|region", "EU"),
]
# Mistakes only the checks across fields catch.
CHECK_MISTAKES: list[Callable[[Doc], None]] = [
    _set("repositories|temporal-worker|policy_statements", [PUBLIC_PULL | {"Effect": "Deny"}] * 2),
    _set("repositories|admin-dashboard|policy_statements", [PUBLIC_PUSH]),
    _set("defaults|lifecycle", [{"max_images": 5}, {"tag_status": "untagged", "max_age_days": 1}]),
    _set("repository_patterns|ecr-public/*-svc", {}),
    _set("enforcement|keep_policy_sids", ["CrossAccountPull"]),
    _set("registry|policy_statements", [REGISTRY_STATEMENT, REGISTRY_STATEMENT]),
    _set("registry|pull_through_cache|ecr-public|upstream_registry_url", "example.com"),
    lambda d: d["repositories"]["utila-cosigner"].update(
        pull_account_ids=["111122223333"], push_account_ids=["111122223333"]
    ),
]


def _problem_set(*mutations: Callable[[Doc], None]) -> set[tuple[str, str]]:
    doc = copy.deepcopy(EXAMPLE)
    for mutate in mutations:
        mutate(doc)
    return set(_problems(json.dumps(doc)))


def test_one_pass_finds_what_fixing_the_model_errors_would_reveal() -> None:
    model_problems = _problem_set(*MODEL_MISTAKES)
    check_problems = _problem_set(*CHECK_MISTAKES)
    assert len(model_problems) == len(MODEL_MISTAKES)
    assert len(check_problems) >= len(CHECK_MISTAKES)

    assert _problem_set(*MODEL_MISTAKES, *CHECK_MISTAKES) == model_problems | check_problems


def test_the_checks_run_on_a_file_whose_models_fail() -> None:
    """The issue's example: a bad enum in one repository, duplicate Sids in another, a dangerous policy and
    a lifecycle rule ECR would reject, all in one pass."""
    problems = _problem_set(
        _set("repositories|internal-dashboard|image_tag_mutability", "mutable"),
        _set("repositories|temporal-worker|policy_statements", [PUBLIC_PULL | {"Effect": "Deny"}] * 2),
        _set("repositories|admin-dashboard|policy_statements", [PUBLIC_PUSH]),
        _set("repository_patterns|ecr-public/*|lifecycle|0|tag_prefixes", ["v"]),
    )

    assert {path for path, _ in problems} == {
        "repositories.internal-dashboard.image_tag_mutability",
        "repositories.temporal-worker.policy_statements[1].Sid",
        "repositories.admin-dashboard.policy_statements[0].Principal",
        'repository_patterns."ecr-public/*".lifecycle[0].tag_status',
    }


@pytest.mark.parametrize(
    ("mistake", "path"),
    [
        (_set("enforcement|allow_public_pull", "yes"), "enforcement.allow_public_pull"),
        (_set("enforcement", {"allow_public_pull": True, "mode": "loud"}), "enforcement.mode"),
        (_set("enforcement", ["allow_public_pull"]), "enforcement"),
    ],
    ids=["invalid", "valid-beside-an-invalid-field", "enforcement-not-an-object"],
)
def test_a_setting_the_models_reject_raises_no_problem_of_its_own_in_the_checks(
    mistake: Callable[[Doc], None], path: str
) -> None:
    """Statements are not called public pulls when `allow_public_pull` is unreadable or beside a bad field."""
    problems = _problem_set(mistake, _set("repositories|temporal-worker|policy_statements", [PUBLIC_PULL]))

    assert {p for p, _ in problems} == {path}


def _mutability_only_in_the_repository(doc: Doc) -> None:
    del doc["defaults"]["image_tag_mutability"], doc["defaults"]["image_tag_mutability_exclusions"]
    doc["repositories"]["temporal-worker"]["image_tag_mutability"] = "mutable"


@pytest.mark.parametrize(
    "mistake",
    [
        _set("defaults|image_tag_mutability", "immutable"),
        _mutability_only_in_the_repository,
        _set("defaults|scan_on_push", None),  # the whole of defaults is rejected
    ],
    ids=["in-defaults", "in-the-repository", "defaults-rejected-whole"],
)
def test_exclusions_are_not_blamed_for_a_mutability_the_models_reject(mistake: Callable[[Doc], None]) -> None:
    problems = _problem_set(
        mistake, _set("repositories|temporal-worker|image_tag_mutability_exclusions", ["dev"])
    )

    assert not any("exclusions" in path for path, _ in problems), problems


def test_duplicate_keys_do_not_hide_the_other_problems() -> None:
    text = '{"version": 1, "version": 1, "defaults": {"scan_on_push": "yes"}}'

    assert set(_problems(text)) == {
        ("version", "duplicate key: JSON keeps only the last value, so the first is lost"),
        ("defaults.scan_on_push", "Input should be a valid boolean (got a string)"),
    }


# ---- a problem inherited from defaults is reported at defaults only ------------------------------------


def test_scan_on_push_in_defaults_under_enhanced_is_reported_once() -> None:
    problems = _problem_set(_set("registry|scanning|scan_type", "ENHANCED"))

    assert [path for path, _ in problems] == ["defaults.scan_on_push"]


def test_a_repository_setting_scan_on_push_under_enhanced_is_reported_too() -> None:
    problems = _problem_set(
        _set("registry|scanning|scan_type", "ENHANCED"),
        _set("repositories|temporal-worker|scan_on_push", False),
    )

    assert {path for path, _ in problems} == {
        "defaults.scan_on_push",
        "repositories.temporal-worker.scan_on_push",
    }


def test_exclusions_in_defaults_without_a_mutability_are_reported_once() -> None:
    problems = _problem_set(lambda d: d["defaults"].pop("image_tag_mutability"))

    assert [path for path, _ in problems] == ["defaults.image_tag_mutability_exclusions"]


def test_a_repositorys_own_exclusions_need_a_mutability_here_or_in_defaults() -> None:
    def own_exclusions(doc: Doc) -> None:
        doc["defaults"].pop("image_tag_mutability")
        doc["defaults"].pop("image_tag_mutability_exclusions")
        doc["repositories"]["temporal-worker"]["image_tag_mutability_exclusions"] = ["dev"]
        doc["repositories"]["utila-cosigner"]["image_tag_mutability_exclusions"] = ["dev"]
        doc["repositories"]["utila-cosigner"]["image_tag_mutability"] = "IMMUTABLE"

    assert [path for path, _ in _problem_set(own_exclusions)] == [
        "repositories.temporal-worker.image_tag_mutability_exclusions"
    ]
    doc = copy.deepcopy(EXAMPLE)
    doc["repositories"]["temporal-worker"]["image_tag_mutability_exclusions"] = ["dev"]
    load_desired_state_text(json.dumps(doc))  # the mutability comes from defaults


# ---- wording -------------------------------------------------------------------------------------------


def test_the_error_counts_its_problems_in_words() -> None:
    with pytest.raises(DesiredStateError) as one:
        load_desired_state_text('{"version": 2}')
    with pytest.raises(DesiredStateError) as two:
        load_desired_state_text('{"version": 2, "mode": 1}')

    assert str(one.value).startswith("desired_state.json: 1 problem\n")
    assert str(two.value).startswith("desired_state.json: 2 problems\n")


# ---- IMMUTABLE with an exclusion that exempts every tag --------------------------------------------------


def _exclusions(place: str, filters: list[str], mutability: str | None = None) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        section, _, key = place.partition("|")
        block = doc[section][key] if key else doc[section]
        block["image_tag_mutability_exclusions"] = filters
        if mutability is not None:
            block["image_tag_mutability"] = mutability

    return mutate


EVERY_TAG = "matches every tag, so every tag stays overwritable while image_tag_mutability says IMMUTABLE"


@pytest.mark.parametrize(
    ("mutation", "path"),
    [
        (_exclusions("defaults", ["*"]), "defaults.image_tag_mutability_exclusions[0]"),
        (_exclusions("defaults", ["latest", "**"]), "defaults.image_tag_mutability_exclusions[1]"),
        (  # its own exclusions, IMMUTABLE from defaults
            _exclusions("repositories|temporal-worker", ["***"]),
            "repositories.temporal-worker.image_tag_mutability_exclusions[0]",
        ),
        (
            _exclusions("repositories|internal-dashboard", ["*"], "IMMUTABLE"),
            "repositories.internal-dashboard.image_tag_mutability_exclusions[0]",
        ),
        (
            _exclusions("repository_patterns|ecr-public/*", ["dev-*", "*"], "IMMUTABLE"),
            'repository_patterns."ecr-public/*".image_tag_mutability_exclusions[1]',
        ),
    ],
)
def test_immutable_with_an_exclusion_of_every_tag_is_rejected(
    mutation: Callable[[Doc], None], path: str
) -> None:
    problems = _problem_set(mutation)

    assert [p for p, _ in problems] == [path]
    message = next(iter(problems))[1]
    assert EVERY_TAG in message
    assert "list the tags to exempt (e.g. latest) or set MUTABLE" in message


def test_immutable_inheriting_an_exclusion_of_every_tag_is_rejected_where_it_says_immutable() -> None:
    def mutable_defaults_exempting_every_tag(doc: Doc) -> None:
        doc["defaults"].update(image_tag_mutability="MUTABLE", image_tag_mutability_exclusions=["*"])
        doc["repositories"]["temporal-worker"]["image_tag_mutability"] = "IMMUTABLE"

    assert _problem_set(mutable_defaults_exempting_every_tag) == {
        (
            "repositories.temporal-worker.image_tag_mutability",
            f"defaults.image_tag_mutability_exclusions[0] {EVERY_TAG}; set image_tag_mutability_exclusions "
            "here to the tags to exempt (`[]` for none)",
        )
    }


def test_an_exclusion_of_every_tag_in_defaults_is_reported_once() -> None:
    # utila-cosigner and temporal-worker inherit both settings; admin-dashboard also says IMMUTABLE itself.
    problems = _problem_set(
        _exclusions("defaults", ["*"]), _set("repositories|admin-dashboard|image_tag_mutability", "IMMUTABLE")
    )

    assert [p for p, _ in problems] == ["defaults.image_tag_mutability_exclusions[0]"]


@pytest.mark.parametrize(
    "mutation",
    [
        _exclusions("defaults", ["*"], "MUTABLE"),  # every tag immutable: MUTABLE exempts nothing
        _exclusions("defaults", ["*-dev", "latest", "v*"]),
        _exclusions("repositories|temporal-worker", []),
        _exclusions("repository_patterns|ecr-public/*", ["*"]),  # the pattern is MUTABLE
    ],
)
def test_exclusions_that_leave_some_tags_immutable_are_accepted(mutation: Callable[[Doc], None]) -> None:
    doc = copy.deepcopy(EXAMPLE)
    mutation(doc)

    load_desired_state_text(json.dumps(doc))


def test_an_exclusion_of_every_tag_is_not_blamed_for_a_mutability_the_models_reject() -> None:
    problems = _problem_set(_exclusions("repositories|temporal-worker", ["*"], "immutable"))

    assert [p for p, _ in problems] == ["repositories.temporal-worker.image_tag_mutability"]


# ---- ignore_principals name their account ----------------------------------------------------------------


@pytest.mark.parametrize(
    "glob",
    [
        "arn:aws:iam::*:role/pulumi-deploy",
        "arn:aws:sts::*:assumed-role/pulumi-deploy/*",
        "arn:aws:iam::1111222233*:role/pulumi-deploy",
        "arn:aws:iam::*",
    ],
)
def test_an_ignore_principal_with_a_wildcard_account_is_rejected(glob: str) -> None:
    problems = _problem_set(
        _set("enforcement|ignore_principals", [f"arn:aws:iam::{ACCOUNT_ID}:role/ci", glob])
    )

    assert problems == {
        (
            "enforcement.ignore_principals[1]",
            "must be an IAM or STS ARN with its 12-digit account id, `*` allowed after it "
            "(arn:aws:iam::123456789012:role/pulumi-deploy); write the id of the account the role is in, "
            "not `*`",
        )
    }


@pytest.mark.parametrize(
    "glob",
    [
        f"arn:aws:iam::{ACCOUNT_ID}:role/pulumi-*",
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/github-actions-ci/*",
        f"arn:aws:iam::{ACCOUNT_ID}:*",
        "arn:aws-cn:iam::111122223333:role/deploy",
    ],
)
def test_an_ignore_principal_naming_its_account_is_accepted(glob: str) -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["enforcement"]["ignore_principals"] = [glob]

    assert load_desired_state_text(json.dumps(doc)).enforcement.ignore_principals == [glob]
