"""The Pulumi program, run under mocks for each stack: which resources it declares, and with which inputs."""

from __future__ import annotations

import hashlib
import json
import zipfile
from typing import Any

import pulumi
import pytest

from ecr_drift import engine, metrics
from ecr_drift.config import EnforcerConfig
from ecr_drift.desired import DesiredState, resolve
from ecr_drift.documents.lifecycle import compile_lifecycle_policy, render_lifecycle_policy
from ecr_drift.documents.mutability import desired_tag_mutability
from ecr_drift.documents.repository_policy import build_repository_policy, render_repository_policy
from ecr_drift.role import QUEUE_CONSUMER_IAM_ACTIONS, registry_iam_actions, required_iam_actions
from ecr_drift.settings.tag_mutability import to_api
from infra import package
from infra.components.enforcer import HANDLER, TIMEOUT_SECONDS
from infra.config import SettingsError
from infra.event_patterns import api_call_pattern, repository_created_pattern
from infra.iam import ECR_SERVICE_PRINCIPALS, RUNTIME_ACTIONS
from infra.sweep_budget import DEFAULT_REQUESTS_PER_SECOND, Split, split
from tests.conftest import EXAMPLE_PATH
from tests.infra.conftest import (
    POWERTOOLS_LATEST_LAYER_VERSION,
    Registered,
    StackRun,
    example_stack_config,
    run_program,
    stack_config,
    stack_yaml,
)

# pulumi_aws.s3 announces its deprecated *V2 classes when the mocks first load it; the program uses none.
pytestmark = pytest.mark.filterwarnings("ignore:.*has been deprecated in favor of:DeprecationWarning")

REPOSITORY = "aws:ecr/repository:Repository"
CACHE_ROLE = "arn:aws:iam::123456789012:role/ecr-upstream-pull"
LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
FUNCTION = "aws:lambda/function:Function"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
QUEUE = "aws:sqs/queue:Queue"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BASELINE = "ecr-drift-enforcer:registry:Baseline"
POWERTOOLS_LAYER = (
    "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:{}"
)
SWEEP_ENVIRONMENT = {"SWEEP_QUEUE_URL", "SWEEP_BATCH_SIZE"}
ENVIRONMENT = {
    "DESIRED_STATE_PATH",
    "DESIRED_STATE_SHA256",
    "ENFORCER_MODE",
    "FINDINGS_TOPIC_ARN",
    "FINDINGS_EVENT_BUS",
    "SECURITY_HUB_FINDINGS",
    "ENFORCER_ROLE_ARN",
    "ENFORCER_CONCURRENCY",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    *SWEEP_ENVIRONMENT,
}


def _config(run: StackRun, key: str, default: Any = None) -> Any:
    return stack_yaml(run.stack).get(f"ecr-drift-enforcer:{key}", default)


def _enforcer_role_policy(run: StackRun) -> dict[str, Any]:
    policy = run.one("aws:iam/rolePolicy:RolePolicy", "role-policy").inputs["policy"]
    document: dict[str, Any] = json.loads(policy)
    return document


def _actions(statements: list[dict[str, Any]]) -> list[str]:
    return [action for statement in statements for action in statement["Action"]]


@pytest.fixture(scope="module")
def dev_without_fan_out(program_env: Any) -> StackRun:
    # A single reserved execution is enough without the queue's event source mapping.
    config = {
        **example_stack_config("dev"),
        "ecr-drift-enforcer:sweepFanOut": "false",
        "ecr-drift-enforcer:reservedConcurrency": "1",
    }
    return run_program("dev", config)


@pytest.fixture(scope="module")
def dev_with_cache_role(program_env: Any, tmp_path_factory: pytest.TempPathFactory) -> StackRun:
    """The example desired state plus an ECR-to-ECR cache rule with a custom role, which ECR is handed."""
    document = json.loads(EXAMPLE_PATH.read_text())
    document["registry"]["pull_through_cache"]["central"] = {
        "upstream_registry_url": "111122223333.dkr.ecr.us-east-1.amazonaws.com",
        "custom_role_arn": CACHE_ROLE,
    }
    path = tmp_path_factory.mktemp("cache-role") / "desired_state.json"
    path.write_text(json.dumps(document))
    # An absolute desiredStatePath: joined to the repository root, it stays itself.
    return run_program("dev", {**stack_config("dev"), "ecr-drift-enforcer:desiredStatePath": str(path)})


@pytest.fixture(scope="module")
def dev_with_overrides(program_env: Any) -> StackRun:
    """The optional settings set: a reservation, a larger sweep concurrency (and the budget it needs), a
    pinned Powertools layer."""
    config = {
        **example_stack_config("dev"),
        "ecr-drift-enforcer:reservedConcurrency": "6",
        "ecr-drift-enforcer:sweepRequestsPerSecond": "120",
        "ecr-drift-enforcer:sweepMaximumConcurrency": "3",
        "ecr-drift-enforcer:powertoolsLayerVersion": "27",
    }
    return run_program("dev", config)


# ---- baseline ---------------------------------------------------------------------------------------------


def test_one_repository_per_named_repository_with_its_effective_settings(
    stack_run: StackRun, example_state: DesiredState
) -> None:
    repositories = {r.name: r.inputs for r in stack_run.of_type(REPOSITORY)}
    assert repositories.keys() == example_state.repositories.keys()
    for name, inputs in repositories.items():
        resolved = resolve(example_state, name)
        assert resolved is not None
        settings = resolved.settings
        assert settings.image_tag_mutability is not None
        api = to_api(
            desired_tag_mutability(settings.image_tag_mutability, settings.image_tag_mutability_exclusions)
        )
        assert inputs["name"] == name
        assert inputs["imageTagMutability"] == api["imageTagMutability"]
        assert inputs.get("imageTagMutabilityExclusionFilters") == api.get(
            "imageTagMutabilityExclusionFilters"
        )
        assert inputs["imageScanningConfiguration"] == {"scanOnPush": settings.scan_on_push}
        assert inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
        assert inputs["tags"] == settings.tags
        assert inputs["forceDelete"] is False
    assert repositories["utila-cosigner"]["tags"] == {"managed-by": "ecr-drift-enforcer", "team": "custody"}
    assert repositories["internal-dashboard"]["imageTagMutability"] == "MUTABLE"
    assert repositories["admin-dashboard"]["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"


def test_policies_are_byte_identical_to_the_shared_compilers_output(
    stack_run: StackRun, example_state: DesiredState
) -> None:
    lifecycle = {r.name: r.inputs for r in stack_run.of_type(LIFECYCLE_POLICY)}
    policies = {r.name: r.inputs for r in stack_run.of_type(REPOSITORY_POLICY)}
    expected_policies = {}
    for name in example_state.repositories:
        settings = resolve(example_state, name).settings  # type: ignore[union-attr]
        assert settings.lifecycle is not None
        assert lifecycle[f"{name}-lifecycle"]["policy"] == render_lifecycle_policy(
            compile_lifecycle_policy(settings.lifecycle)
        )
        assert lifecycle[f"{name}-lifecycle"]["repository"] == name
        document = build_repository_policy(
            settings.pull_account_ids, settings.push_account_ids, settings.policy_statements
        )
        if document is not None:
            expected_policies[f"{name}-policy"] = render_repository_policy(document)
    assert {name: inputs["policy"] for name, inputs in policies.items()} == expected_policies
    assert expected_policies.keys() == {"admin-dashboard-policy"}


def test_registry_settings_and_creation_template(stack_run: StackRun, example_state: DesiredState) -> None:
    (cache_rule,) = stack_run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
    assert cache_rule.inputs["ecrRepositoryPrefix"] == "ecr-public"
    assert cache_rule.inputs["upstreamRegistryUrl"] == "public.ecr.aws"
    (scanning,) = stack_run.of_type("aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")
    assert scanning.inputs["scanType"] == "BASIC"
    assert scanning.inputs["rules"] == [
        {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}
    ]
    (template,) = stack_run.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    effective = resolve(example_state, "ecr-public/library/nginx")
    assert effective is not None
    assert effective.settings.lifecycle is not None
    assert template.inputs["prefix"] == "ecr-public"
    assert template.inputs["appliedFors"] == ["PULL_THROUGH_CACHE"]
    assert template.inputs["imageTagMutability"] == "MUTABLE"
    assert template.inputs["lifecyclePolicy"] == render_lifecycle_policy(
        compile_lifecycle_policy(effective.settings.lifecycle)
    )
    assert template.inputs["resourceTags"] == effective.settings.tags
    role = stack_run.one("aws:iam/role:Role", "creation-template-role")
    assert template.inputs["customRoleArn"] == role.inputs["arn"]
    assert "scanOnPush" not in json.dumps(template.inputs)  # templates carry no scanning setting


def test_creation_template_role_may_only_create_and_tag_templated_repositories(stack_run: StackRun) -> None:
    policy = json.loads(
        stack_run.one("aws:iam/rolePolicy:RolePolicy", "creation-template-role-policy").inputs["policy"]
    )
    assert policy["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["ecr:CreateRepository", "ecr:TagResource"],
            "Resource": ["arn:aws:ecr:eu-west-1:123456789012:repository/ecr-public/*"],
        }
    ]


def test_pulumi_never_deletes_repositories_or_their_policies(stack_run: StackRun) -> None:
    """A repository taken out of the desired state, or `pulumi destroy`, only leaves the stack's state."""
    kept = (
        stack_run.of_type(REPOSITORY)
        + stack_run.of_type(LIFECYCLE_POLICY)
        + stack_run.of_type(REPOSITORY_POLICY)
    )
    assert len(kept) > len(stack_run.of_type(REPOSITORY))
    assert all(r.retain_on_delete for r in kept)
    # Registry-wide settings are the stack's: `pulumi destroy` removes them.
    others = [r for r in stack_run.resources if r.type.startswith("aws:ecr/") and r not in kept]
    assert others
    assert not [r.name for r in others if r.retain_on_delete]


def test_adoption_and_protection_follow_the_stack_config(dev: StackRun, prod: StackRun) -> None:
    for repository in dev.of_type(REPOSITORY):
        assert (repository.import_id, repository.protect) == ("", False)
    for repository in prod.of_type(REPOSITORY):
        assert (repository.import_id, repository.protect) == (repository.name, True)
    # Policies are put over whatever exists; importing one that does not exist would fail.
    assert not [r for r in prod.of_type(LIFECYCLE_POLICY) + prod.of_type(REPOSITORY_POLICY) if r.import_id]


def test_the_baseline_waits_for_the_function_version(stack_run: StackRun) -> None:
    alias = stack_run.one("aws:lambda/alias:Alias", "live")
    assert alias.inputs["functionVersion"] == stack_run.one(FUNCTION, "function").inputs["version"]
    baseline = stack_run.one("ecr-drift-enforcer:registry:Baseline", "registry")
    children = [r for r in stack_run.resources if r.parent == baseline.urn]
    assert len(children) >= len(stack_run.of_type(REPOSITORY)) + 4
    assert all(alias.urn in child.dependencies for child in children)


# ---- enforcer ---------------------------------------------------------------------------------------------


def test_function_settings(stack_run: StackRun) -> None:
    inputs = stack_run.one(FUNCTION, "function").inputs
    assert inputs["name"] == f"ecr-drift-enforcer-{stack_run.stack}"
    assert inputs["runtime"] == "python3.13"
    assert inputs["architectures"] == ["arm64"]
    assert inputs["handler"] == HANDLER == "handler.enforce.lambda_handler"
    assert inputs["timeout"] == TIMEOUT_SECONDS == 900
    # The engine keeps its last minute for retries' end and publishing: most of the run is left for work.
    assert engine.SAFETY_MARGIN_MS <= TIMEOUT_SECONDS * 1000 // 10
    assert inputs.get("reservedConcurrentExecutions") == _config(stack_run, "reservedConcurrency")
    assert inputs["publish"] is True
    assert inputs["tracingConfig"] == {"mode": "Active"}
    assert isinstance(inputs["code"], pulumi.FileArchive)
    assert inputs["code"].path.endswith(".zip")
    assert len(inputs["sourceCodeHash"]) == 64


def test_function_environment(stack_run: StackRun) -> None:
    variables = stack_run.one(FUNCTION, "function").inputs["environment"]["variables"]
    assert variables.keys() == ENVIRONMENT
    role = stack_run.one("aws:iam/role:Role", "role")
    topic = stack_run.one("aws:sns/topic:Topic", "findings")
    assert variables["ENFORCER_ROLE_ARN"] == role.inputs["arn"]
    assert variables["FINDINGS_TOPIC_ARN"] == topic.inputs["arn"]
    assert variables["ENFORCER_MODE"] == _config(stack_run, "mode")
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "ECRDriftEnforcer"
    assert variables["DESIRED_STATE_PATH"] == "/var/task/desired_state.json"
    assert variables["SECURITY_HUB_FINDINGS"] == ("true" if stack_run.stack == "prod" else "false")
    assert variables["SWEEP_QUEUE_URL"] == stack_run.one(QUEUE, "sweep-queue").inputs["url"]
    assert variables["SWEEP_BATCH_SIZE"] == str(_config(stack_run, "sweepBatchSize"))
    # The environment the stack sets is one the handler accepts, fan-out included.
    config = EnforcerConfig.from_env(variables)
    assert config.sweep_queue_url == variables["SWEEP_QUEUE_URL"]
    assert config.sweep_batch_size == _config(stack_run, "sweepBatchSize")


def test_role_actions_are_exactly_the_declared_ones_and_the_runtimes(stack_run: StackRun) -> None:
    statements = _enforcer_role_policy(stack_run)["Statement"]
    actions = _actions(statements)
    # The example's cache rule has no custom role: there is nothing to pass, so no iam:PassRole.
    declared = set(required_iam_actions()) - {"iam:PassRole"}
    assert sorted(actions) == sorted({*declared, *QUEUE_CONSUMER_IAM_ACTIONS, *RUNTIME_ACTIONS})
    assert len(actions) == len(set(actions))
    assert not [a for a in actions if "*" in a], "no wildcard actions"
    assert not {"ecr:DeleteRepository", "ecr:BatchDeleteImage", "sqs:DeleteQueue", "sqs:PurgeQueue"} & set(
        actions
    )
    assert not [s for s in statements if "NotAction" in s or "NotResource" in s or s["Effect"] != "Allow"]


def test_queue_actions_are_granted_on_the_sweep_queue_only(stack_run: StackRun) -> None:
    statements = _enforcer_role_policy(stack_run)["Statement"]
    queue_arn = stack_run.one(QUEUE, "sweep-queue").inputs["arn"]
    (sweep,) = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
    assert sweep["Sid"] == "SweepQueue"
    assert sweep["Action"] == sorted({"sqs:SendMessage", *QUEUE_CONSUMER_IAM_ACTIONS})
    assert sweep["Resource"] == [queue_arn]  # not the EventBridge dead-letter queue, not "*"
    assert "Condition" not in sweep


def test_role_scopes_what_it_can(stack_run: StackRun) -> None:
    by_sid = {s["Sid"]: s for s in _enforcer_role_policy(stack_run)["Statement"]}
    topic = stack_run.one("aws:sns/topic:Topic", "findings").inputs["arn"]
    log_group = stack_run.one("aws:cloudwatch/logGroup:LogGroup", "log-group")
    assert by_sid["SnsPublish"]["Resource"] == [topic]
    assert by_sid["EventsPutEvents"]["Resource"] == [
        "arn:aws:events:eu-west-1:123456789012:event-bus/default"
    ]
    assert by_sid["OwnLogGroup"]["Resource"] == f"{log_group.inputs['arn']}:*"
    assert by_sid["EnforcerDeclaredActions"]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": "eu-west-1"}
    }
    # ECR actions that name a repository are held to the account's repositories; registry-level ones on "*".
    repository_actions = by_sid["EcrRepositories"]["Action"]
    assert by_sid["EcrRepositories"]["Resource"] == ["arn:aws:ecr:eu-west-1:123456789012:repository/*"]
    assert {"ecr:DescribeRepositories", "ecr:PutLifecyclePolicy", "ecr:TagResource"} <= set(
        repository_actions
    )
    assert [a for a in by_sid["EnforcerDeclaredActions"]["Action"] if a.startswith("ecr:")] == (
        registry_iam_actions()
    )
    assert by_sid["ServiceLinkedRoles"]["Condition"] == {
        "StringEquals": {
            "iam:AWSServiceName": [
                "ecr.amazonaws.com",
                "inspector2.amazonaws.com",
                "pullthroughcache.ecr.amazonaws.com",
                "replication.ecr.amazonaws.com",
            ]
        }
    }
    assert "PassRolesToEcr" not in by_sid  # the example passes no role
    assert by_sid["KmsThroughEcr"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "ecr.eu-west-1.amazonaws.com"}
    }
    assert log_group.inputs["name"] == f"/aws/lambda/ecr-drift-enforcer-{stack_run.stack}"
    assert log_group.inputs["retentionInDays"] == _config(stack_run, "logRetentionDays")
    trust = json.loads(stack_run.one("aws:iam/role:Role", "role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_role_may_pass_a_cache_rules_custom_role_to_ecr_only(dev_with_cache_role: StackRun) -> None:
    run = dev_with_cache_role
    (rule,) = [
        r
        for r in run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
        if r.inputs["ecrRepositoryPrefix"] == "central"
    ]
    assert rule.inputs["customRoleArn"] == CACHE_ROLE
    statements = _enforcer_role_policy(run)["Statement"]
    assert [s for s in statements if "iam:PassRole" in s["Action"]] == [
        {
            "Sid": "PassRolesToEcr",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [CACHE_ROLE],
            "Condition": {"StringEquals": {"iam:PassedToService": list(ECR_SERVICE_PRINCIPALS)}},
        }
    ]


def test_event_rules_targets_and_permissions(stack_run: StackRun) -> None:
    rules = {r.name: r.inputs for r in stack_run.of_type(RULE)}
    role_arn = stack_run.one("aws:iam/role:Role", "role").inputs["arn"]
    assert json.loads(rules["api-calls"]["eventPattern"]) == api_call_pattern(role_arn)
    assert json.loads(rules["repository-created"]["eventPattern"]) == repository_created_pattern()
    assert rules["schedule"]["scheduleExpression"] == _config(stack_run, "scheduleExpression")
    alias = stack_run.one("aws:lambda/alias:Alias", "live").inputs
    queue = stack_run.one("aws:sqs/queue:Queue", "dead-letter-queue").inputs
    targets = {r.inputs["rule"]: r.inputs for r in stack_run.of_type(TARGET)}
    permissions = {r.inputs["sourceArn"]: r.inputs for r in stack_run.of_type(PERMISSION)}
    assert targets.keys() == rules.keys()
    for name, rule in rules.items():
        assert targets[name]["arn"] == alias["arn"]
        assert targets[name]["retryPolicy"] == {"maximumEventAgeInSeconds": 86400, "maximumRetryAttempts": 24}
        assert targets[name]["deadLetterConfig"] == {"arn": queue["arn"]}
        permission = permissions[rule["arn"]]
        assert (permission["principal"], permission["qualifier"]) == ("events.amazonaws.com", "live")
        assert permission["action"] == "lambda:InvokeFunction"
    queue_policy = json.loads(
        stack_run.one("aws:sqs/queuePolicy:QueuePolicy", "dead-letter-queue-policy").inputs["policy"]
    )
    (statement,) = queue_policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == sorted(r["arn"] for r in rules.values())


def test_cloudtrail_trail_only_where_configured(dev: StackRun, prod: StackRun) -> None:
    (trail,) = dev.of_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["eventSelectors"] == [{"readWriteType": "WriteOnly", "includeManagementEvents": True}]
    assert trail.inputs["isMultiRegionTrail"] is False
    bucket_policy = dev.one("aws:s3/bucketPolicy:BucketPolicy", "trail-bucket-policy")
    assert bucket_policy.urn in trail.dependencies
    assert not prod.of_type("aws:cloudtrail/trail:Trail")
    assert not prod.of_type("aws:s3/bucket:Bucket")


def test_reserved_concurrency_is_unset_by_default_and_set_when_configured(
    dev: StackRun, prod: StackRun, dev_with_overrides: StackRun
) -> None:
    assert "ecr-drift-enforcer:reservedConcurrency" not in stack_yaml("dev")
    # Absent, not 0 (which would stop every invocation): the provider then removes any reservation.
    assert "reservedConcurrentExecutions" not in dev.one(FUNCTION, "function").inputs
    assert prod.one(FUNCTION, "function").inputs["reservedConcurrentExecutions"] == 3
    assert dev_with_overrides.one(FUNCTION, "function").inputs["reservedConcurrentExecutions"] == 6


def test_powertools_layer_is_the_latest_from_ssm_unless_pinned(
    stack_run: StackRun, dev_with_overrides: StackRun
) -> None:
    assert _config(stack_run, "powertoolsLayerVersion") is None
    # The mocks answer `/aws/service/powertools/python/arm64/python3.13/latest` only.
    latest = POWERTOOLS_LAYER.format(POWERTOOLS_LATEST_LAYER_VERSION)
    assert stack_run.one(FUNCTION, "function").inputs["layers"] == [latest]
    assert dev_with_overrides.one(FUNCTION, "function").inputs["layers"] == [POWERTOOLS_LAYER.format(27)]


def test_the_packaged_desired_state_hash_is_an_environment_variable_and_a_tag(stack_run: StackRun) -> None:
    inputs = stack_run.one(FUNCTION, "function").inputs
    # The bytes the function reads: desired_state.json inside the deployed zip.
    with zipfile.ZipFile(inputs["code"].path) as zf:
        packaged = zf.read("desired_state.json")
    digest = hashlib.sha256(packaged).hexdigest()
    assert packaged == (package.ROOT / "desired_state.json").read_bytes()
    assert inputs["environment"]["variables"]["DESIRED_STATE_SHA256"] == digest
    assert inputs["tags"] == {"ecr-drift:desired-state-sha256": digest}


def test_asynchronous_invocations_retry_once_and_park_failures_in_the_dead_letter_queue(
    stack_run: StackRun,
) -> None:
    (config,) = stack_run.of_type(INVOKE_CONFIG)
    inputs = config.inputs
    function = stack_run.one(FUNCTION, "function").inputs
    alias = stack_run.one("aws:lambda/alias:Alias", "live").inputs
    dead_letters = stack_run.one(QUEUE, "dead-letter-queue").inputs
    # The configuration of the alias the rules invoke (a function's unqualified one would not apply).
    assert (
        (inputs["functionName"], inputs["qualifier"])
        == (function["name"], alias["name"])
        == (
            function["name"],
            "live",
        )
    )
    assert {t.inputs["arn"] for t in stack_run.of_type(TARGET)} == {alias["arn"]}
    assert 0 <= inputs["maximumRetryAttempts"] <= 1
    assert 60 <= inputs["maximumEventAgeInSeconds"] <= 3600
    assert inputs["destinationConfig"] == {"onFailure": {"destination": dead_letters["arn"]}}
    # Lambda sends to the destination with the function's role: it may send there, and nowhere else.
    send = stack_run.one(ROLE_POLICY, "on-failure-destination-policy")
    assert send.inputs["role"] == stack_run.one(ROLE_POLICY, "role-policy").inputs["role"]
    assert json.loads(send.inputs["policy"])["Statement"] == [
        {
            "Sid": "OnFailureDestination",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [dead_letters["arn"]],
        }
    ]
    assert send.urn in config.dependencies  # Lambda checks the permission when the config is put
    # The queue's depth raises an alarm on the topic from its first message.
    alarm = stack_run.one(ALARM, "DeadLetters").inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["dimensions"] == {"QueueName": dead_letters["name"]}
    assert alarm["statistic"] == "Maximum"
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm["alarmActions"] == [stack_run.one("aws:sns/topic:Topic", "findings").inputs["arn"]]


# ---- sweep fan-out ---------------------------------------------------------------------------------------


def test_sweep_queue_and_its_dead_letter_queue(stack_run: StackRun) -> None:
    queue = stack_run.one(QUEUE, "sweep-queue").inputs
    dead_letters = stack_run.one(QUEUE, "sweep-dead-letter-queue").inputs
    assert queue["name"] == f"ecr-drift-enforcer-{stack_run.stack}-sweep"
    assert dead_letters["name"] == f"ecr-drift-enforcer-{stack_run.stack}-sweep-dlq"
    # A message must stay invisible for as long as Lambda may hold it (AWS: 6x the function timeout).
    assert TIMEOUT_SECONDS < queue["visibilityTimeoutSeconds"] == 6 * TIMEOUT_SECONDS <= 43_200
    assert queue["messageRetentionSeconds"] == 86_400
    redrive = json.loads(queue["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dead_letters["arn"], "maxReceiveCount": 5}
    # Throttled deliveries count as receives: failures need room beyond them.
    assert redrive["maxReceiveCount"] >= 5
    # A batch received that often is still in the queue when it is parked, not expired on the way.
    assert redrive["maxReceiveCount"] * queue["visibilityTimeoutSeconds"] < queue["messageRetentionSeconds"]
    assert queue["messageRetentionSeconds"] < dead_letters["messageRetentionSeconds"] == 1_209_600
    assert queue["sqsManagedSseEnabled"] is True
    assert dead_letters["sqsManagedSseEnabled"] is True
    assert "redrivePolicy" not in dead_letters


def test_sweep_queue_feeds_the_live_alias_one_batch_at_a_time(stack_run: StackRun) -> None:
    (mapping,) = stack_run.of_type(MAPPING)
    inputs = mapping.inputs
    assert inputs["eventSourceArn"] == stack_run.one(QUEUE, "sweep-queue").inputs["arn"]
    assert inputs["functionName"] == stack_run.one("aws:lambda/alias:Alias", "live").inputs["arn"]
    assert inputs["functionName"].endswith(f":function:ecr-drift-enforcer-{stack_run.stack}:live")
    assert inputs["batchSize"] == 1
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert inputs["scalingConfig"]["maximumConcurrency"] == _config(stack_run, "sweepMaximumConcurrency", 2)
    if (reserved := _config(stack_run, "reservedConcurrency")) is not None:
        assert inputs["scalingConfig"]["maximumConcurrency"] < reserved  # events keep an execution
    # Lambda checks the role's SQS permissions when it creates the mapping.
    assert stack_run.one("aws:iam/rolePolicy:RolePolicy", "role-policy").urn in mapping.dependencies


def test_without_fan_out_there_is_no_queue_mapping_or_queue_permission(dev_without_fan_out: StackRun) -> None:
    run = dev_without_fan_out
    assert [q.name for q in run.of_type(QUEUE)] == ["dead-letter-queue"]
    assert not run.of_type(MAPPING)
    function = run.one(FUNCTION, "function").inputs
    assert function["environment"]["variables"].keys() == ENVIRONMENT - SWEEP_ENVIRONMENT
    assert function["reservedConcurrentExecutions"] == 1
    # The function sends nothing then, so the role holds no SQS action at all.
    actions = _actions(_enforcer_role_policy(run)["Statement"])
    declared = [a for a in required_iam_actions() if not a.startswith("sqs:") and a != "iam:PassRole"]
    assert sorted(actions) == sorted({*declared, *RUNTIME_ACTIONS})
    assert not {"SweepBatchesNotSent", "SweepDeadLetters"} & {a.name for a in run.of_type(ALARM)}
    dashboard = run.one("aws:cloudwatch/dashboard:Dashboard", "dashboard").inputs["dashboardBody"]
    assert "-sweep" not in dashboard  # neither the sweep queue nor its dead-letter queue
    assert "SweepBatchesNotSent" not in dashboard


def test_sweep_concurrency_has_its_own_setting(
    dev: StackRun, prod: StackRun, dev_with_overrides: StackRun
) -> None:
    def maximum(run: StackRun) -> int:
        (mapping,) = run.of_type(MAPPING)
        concurrency: int = mapping.inputs["scalingConfig"]["maximumConcurrency"]
        return concurrency

    # The default bounds the sweep with or without a reservation (dev has none, prod reserves 3).
    assert maximum(dev) == maximum(prod) == 2
    assert maximum(dev_with_overrides) == 3  # not derived from its reservedConcurrency of 6


# ---- sweep budget -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_with_budget(program_env: Any) -> StackRun:
    """A larger budget for a larger registry, on dev's hourly schedule."""
    config = {
        **example_stack_config("dev"),
        "ecr-drift-enforcer:sweepRequestsPerSecond": "640",
        "ecr-drift-enforcer:expectedRepositories": "100000",
    }
    return run_program("dev", config)


def _concurrencies(run: StackRun) -> tuple[int | None, int]:
    """The sweep mapping's maximum concurrency (None without one) and the function's ENFORCER_CONCURRENCY."""
    mappings = run.of_type(MAPPING)
    variables = run.one(FUNCTION, "function").inputs["environment"]["variables"]
    in_run = EnforcerConfig.from_env(variables).concurrency  # a value the handler accepts
    assert variables["ENFORCER_CONCURRENCY"] == str(in_run)
    return (mappings[0].inputs["scalingConfig"]["maximumConcurrency"] if mappings else None), in_run


def test_sweep_concurrencies_are_derived_from_the_request_budget(
    dev: StackRun, prod: StackRun, dev_with_budget: StackRun, dev_without_fan_out: StackRun
) -> None:
    # The default budget, 40 requests/s: two batches at once (the fewest a mapping allows), one call each.
    assert split(DEFAULT_REQUESTS_PER_SECOND, fan_out=True) == Split(2, 1)
    assert _concurrencies(dev) == _concurrencies(prod) == (2, 1)
    # 640 requests/s: 8 calls in flight per run (the most the budget buys), then 4 batches at once.
    assert _concurrencies(dev_with_budget) == (4, 8)
    # Without fan-out the sweep is one run: the budget is its calls in flight.
    assert _concurrencies(dev_without_fan_out) == (None, 2)


def test_concurrency_overrides_are_kept_within_the_budget(dev_with_overrides: StackRun) -> None:
    # sweepMaximumConcurrency 3 of 120 requests/s leaves 2 calls in flight to each batch: 3 x 2 x 20 = 120.
    assert _concurrencies(dev_with_overrides) == (3, 2)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"sweepRequestsPerSecond": "20"},
            "sweepRequestsPerSecond is 20, but the sweep would make up to 40 requests/s "
            "(sweepMaximumConcurrency 2 x enforcerConcurrency 1 x 20 requests/s a call): raise "
            "sweepRequestsPerSecond to 40, or set sweepFanOut to false (a fanned-out sweep runs at least "
            "two batches at once)",
        ),
        (
            {"enforcerConcurrency": "8"},
            "sweepRequestsPerSecond is 40, but the sweep would make up to 320 requests/s "
            "(sweepMaximumConcurrency 2 x enforcerConcurrency 8 x 20 requests/s a call): raise "
            "sweepRequestsPerSecond to 320, or lower enforcerConcurrency, or set sweepFanOut to false",
        ),
        (
            {"sweepRequestsPerSecond": "200", "sweepMaximumConcurrency": "4", "enforcerConcurrency": "4"},
            "sweepRequestsPerSecond is 200, but the sweep would make up to 320 requests/s "
            "(sweepMaximumConcurrency 4 x enforcerConcurrency 4 x 20 requests/s a call): raise "
            "sweepRequestsPerSecond to 320, or lower sweepMaximumConcurrency, or lower enforcerConcurrency",
        ),
        (
            {"sweepFanOut": "false", "sweepRequestsPerSecond": "100", "enforcerConcurrency": "6"},
            "sweepRequestsPerSecond is 100, but the sweep would make up to 120 requests/s "
            "(enforcerConcurrency 6 x 20 requests/s a call): raise sweepRequestsPerSecond to 120, or lower "
            "enforcerConcurrency",
        ),
        ({"enforcerConcurrency": "65"}, "enforcerConcurrency must be between 1 and 64"),
        ({"sweepRequestsPerSecond": "0"}, "sweepRequestsPerSecond must be a positive number, not 0"),
        ({"expectedRepositories": "0"}, "expectedRepositories must be a positive number, not 0"),
        (
            {"sweepRequestsPerSecond": "640", "reservedConcurrency": "4"},
            "reservedConcurrency must be at least sweepMaximumConcurrency + 1 (5) with sweepFanOut, or "
            "unset, not 4 (sweepMaximumConcurrency is unset: 4, what sweepRequestsPerSecond 640 allows)",
        ),
    ],
)
def test_the_budget_is_checked_at_preview(program_env: Any, settings: dict[str, str], problem: str) -> None:
    config = {**example_stack_config("dev"), **{f"ecr-drift-enforcer:{k}": v for k, v in settings.items()}}
    with pytest.raises(SettingsError) as raised:
        run_program("dev", config)
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"scheduleExpression": "rate(1 hour)", "expectedRepositories": "100000"},
            "ecr-drift-enforcer:scheduleExpression rate(1 hour) starts a sweep every 1 h, but a sweep of "
            "expectedRepositories 100,000 takes about 2 h 6 min (100,000 x 3.011 requests / 40 requests/s, "
            "what sweepRequestsPerSecond 40 allows): lengthen the schedule, raise sweepRequestsPerSecond, "
            "or correct expectedRepositories",
        ),
        (
            {"scheduleExpression": "cron(0/15 * * * ? *)", "expectedRepositories": "20000"},
            "scheduleExpression cron(0/15 * * * ? *) starts a sweep every 15 min, but a sweep of"
            " expectedRepositories 20,000 takes about 25 min 6 s",
        ),
        (
            # 50 requests/s buys what 40 does: the sweep runs at 40.
            {"scheduleExpression": "rate(1 minute)", "sweepRequestsPerSecond": "50"},
            "takes about 1 min 16 s (1,000 x 3.011 requests / 40 requests/s, what sweepRequestsPerSecond 50 "
            "allows)",
        ),
        (
            # Without fan-out no batch describes its repositories again: 3.001 requests a repository.
            {"scheduleExpression": "rate(1 minute)", "sweepFanOut": "false"},
            "takes about 1 min 16 s (1,000 x 3.001 requests / 40 requests/s",
        ),
    ],
)
def test_a_schedule_shorter_than_its_sweep_is_rejected_at_preview(
    program_env: Any, settings: dict[str, str], problem: str
) -> None:
    config = {**example_stack_config("dev"), **{f"ecr-drift-enforcer:{k}": v for k, v in settings.items()}}
    with pytest.raises(SettingsError) as raised:
        run_program("dev", config)
    assert problem in str(raised.value)


def test_a_schedule_the_sweep_fits_in_is_accepted(dev_with_budget: StackRun) -> None:
    # 100,000 repositories at 640 requests/s take 7 min 51 s: within dev's hour. (dev and prod themselves
    # sweep the expected 1,000 in 1 min 16 s, hourly and every 6 hours.)
    assert dev_with_budget.one(RULE, "schedule").inputs["scheduleExpression"] == "rate(1 hour)"


# ---- alerting and outputs ---------------------------------------------------------------------------------


def test_alerting(stack_run: StackRun) -> None:
    topic_arn = stack_run.one("aws:sns/topic:Topic", "findings").inputs["arn"]
    subscriptions = stack_run.of_type("aws:sns/topicSubscription:TopicSubscription")
    emails = _config(stack_run, "alertEmails", [])  # none in the committed stacks
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(emails)
    assert all(s.inputs["protocol"] == "email" for s in subscriptions)
    alarms = {a.name: a.inputs for a in stack_run.of_type(ALARM)}
    assert alarms.keys() == {
        "DriftDetected",
        "RemediationFailed",
        "DesiredStateInvalid",
        "EnforcerErrors",
        "LambdaErrors",
        "DeadLetters",
        "SweepBatchesNotSent",
        "SweepDeadLetters",
        "ConfigInvalid",
        "PublishFailures",
    }
    assert all(a["alarmActions"] == [topic_arn] for a in alarms.values())
    assert alarms["DriftDetected"]["namespace"] == "ECRDriftEnforcer"
    assert alarms["DriftDetected"]["dimensions"] == {"service": "ecr-drift-enforcer"}
    assert alarms["LambdaErrors"]["dimensions"] == {"FunctionName": f"ecr-drift-enforcer-{stack_run.stack}"}
    assert alarms["DeadLetters"]["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarms["DeadLetters"]["dimensions"] == {"QueueName": f"ecr-drift-enforcer-{stack_run.stack}-dlq"}
    assert alarms["SweepBatchesNotSent"]["namespace"] == "ECRDriftEnforcer"
    assert alarms["SweepBatchesNotSent"]["dimensions"] == {"service": "ecr-drift-enforcer"}
    sweep_dead_letters = stack_run.one(QUEUE, "sweep-dead-letter-queue").inputs["name"]
    assert alarms["SweepDeadLetters"]["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarms["SweepDeadLetters"]["dimensions"] == {"QueueName": sweep_dead_letters}
    assert alarms["SweepDeadLetters"]["statistic"] == "Maximum"
    assert all(a["threshold"] == 1 and a["treatMissingData"] == "notBreaching" for a in alarms.values())
    body = json.loads(
        stack_run.one("aws:cloudwatch/dashboard:Dashboard", "dashboard").inputs["dashboardBody"]
    )
    text = json.dumps(body)
    for metric in ("DriftDetected", "DriftRemediated", "RemediationFailed", "Duration", "Errors"):
        assert f"{metric}" in text
    assert {w["properties"]["region"] for w in body["widgets"]} == {"eu-west-1"}
    sweep_queue = stack_run.one(QUEUE, "sweep-queue").inputs["name"]
    (sweep_widget,) = [
        w for w in body["widgets"] if any(sweep_queue in metric for metric in w["properties"]["metrics"])
    ]
    assert [m[1] for m in sweep_widget["properties"]["metrics"]] == [
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
    ]
    assert "SweepBatchesNotSent" in text
    assert sweep_dead_letters in text


def test_alarms_on_configuration_and_publishing_failures(stack_run: StackRun) -> None:
    alarms = {a.name: a.inputs for a in stack_run.of_type(ALARM)}
    for metric in (metrics.CONFIG_INVALID, metrics.PUBLISH_FAILURES):
        alarm = alarms[metric]
        assert (alarm["namespace"], alarm["metricName"]) == (metrics.NAMESPACE, metric)
        assert alarm["dimensions"] == {"service": metrics.SERVICE}
        assert alarm["name"] == f"ecr-drift-enforcer-{stack_run.stack}-{metric}"
        assert (alarm["statistic"], alarm["threshold"]) == ("Sum", 1)


def test_outputs(stack_run: StackRun, example_state: DesiredState) -> None:
    outputs = stack_run.outputs
    assert outputs["repository_urls"] == {
        name: f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{name}" for name in example_state.repositories
    }
    assert outputs["function_name"] == f"ecr-drift-enforcer-{stack_run.stack}"
    assert outputs["function_arn"].endswith(f":function:ecr-drift-enforcer-{stack_run.stack}")
    assert outputs["topic_arn"].startswith("arn:aws:sns:eu-west-1:")
    assert outputs["dashboard_url"].endswith(f"#dashboards:name=ecr-drift-enforcer-{stack_run.stack}")


# ---- destroy order --------------------------------------------------------------------------------------


def _descendants(run: StackRun, ancestor: Registered) -> list[Registered]:
    children = [r for r in run.resources if r.parent == ancestor.urn]
    return children + [d for child in children for d in _descendants(run, child)]


def test_what_invokes_the_enforcer_depends_on_the_baseline(stack_run: StackRun) -> None:
    """Pulumi deletes dependents first: on `pulumi destroy` the rules, targets and sweep mapping go before
    the baseline, so that deleting it invokes no enforcer that would re-create it."""
    baseline = _descendants(stack_run, stack_run.one(BASELINE, "registry"))
    baseline_urns = {r.urn for r in baseline if not r.type.startswith("ecr-drift-enforcer:")}
    assert len(baseline_urns) >= len(stack_run.of_type(REPOSITORY)) + 4
    triggers = stack_run.of_type(RULE) + stack_run.of_type(TARGET) + stack_run.of_type(MAPPING)
    assert len(triggers) == 7
    for trigger in triggers:
        assert baseline_urns <= set(trigger.dependencies), trigger.name
    # No cycle: the baseline waits for the function's version, never for what invokes it.
    trigger_urns = {t.urn for t in triggers}
    assert not [r for r in baseline if trigger_urns & set(r.dependencies)]
    # A target is deleted before the permission that lets it invoke (and created after it).
    permissions = {p.name: p.urn for p in stack_run.of_type(PERMISSION)}
    for target in stack_run.of_type(TARGET):
        assert permissions[target.name.replace("-target", "-permission")] in target.dependencies


# ---- failures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"reservedConcurrency": "2"},
            "reservedConcurrency must be at least sweepMaximumConcurrency + 1 (3) with sweepFanOut, or unset,"
            " not 2",
        ),
        (
            {"reservedConcurrency": "4", "sweepMaximumConcurrency": "4", "sweepRequestsPerSecond": "160"},
            "reservedConcurrency must be at least sweepMaximumConcurrency + 1 (5)",
        ),
        ({"sweepMaximumConcurrency": "1"}, "sweepMaximumConcurrency must be between 2 and 1000"),
        ({"sweepMaximumConcurrency": "1001"}, "sweepMaximumConcurrency must be between 2 and 1000"),
        ({"reservedConcurrency": "0"}, "reservedConcurrency must be a positive number, not 0"),
        ({"powertoolsLayerVersion": "0"}, "powertoolsLayerVersion must be a positive number, not 0"),
    ],
)
def test_concurrency_and_layer_settings_are_checked_at_preview(
    program_env: Any, settings: dict[str, str], problem: str
) -> None:
    config = {**example_stack_config("dev"), **{f"ecr-drift-enforcer:{k}": v for k, v in settings.items()}}
    with pytest.raises(SettingsError) as raised:
        run_program("dev", config)
    assert problem in str(raised.value)


def test_an_invalid_desired_state_stops_the_program_with_its_problems(
    program_env: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "desired_state.json").write_text('{"version": 1, "defaults": {"scan_on_psh": true}}')
    monkeypatch.setattr("infra.package.ROOT", tmp_path)
    with pytest.raises(pulumi.RunError) as raised:
        run_program("dev", example_stack_config("dev"))
    assert "defaults.scan_on_psh" in str(raised.value)
    assert "did you mean `scan_on_push`" in str(raised.value)


def test_invalid_settings_are_all_reported_at_once(program_env: Any) -> None:
    config = {
        **example_stack_config("dev"),
        "ecr-drift-enforcer:architecture": "sparc",
        "ecr-drift-enforcer:alertEmails": '["not-an-address"]',
        "ecr-drift-enforcer:scheduleExpression": "every hour",
        "ecr-drift-enforcer:sweepBatchSize": "501",
        "ecr-drift-enforcer:reservedConcurrency": "1",
    }
    with pytest.raises(SettingsError) as raised:
        run_program("dev", config)
    message = str(raised.value)
    assert "architecture" in message
    assert "alertEmails" in message
    assert "scheduleExpression" in message
    assert "sweepBatchSize must be at most 500, not 501" in message
    assert "reservedConcurrency must be at least sweepMaximumConcurrency + 1 (3) with sweepFanOut" in message
