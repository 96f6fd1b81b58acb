"""The Pulumi program, run under mocks for each stack: which resources it declares, and with which inputs."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from handler import engine
from handler.config import EnforcerConfig
from handler.desired import DesiredState, resolve
from handler.documents.lifecycle import compile_lifecycle_policy, render_lifecycle_policy
from handler.documents.mutability import desired_tag_mutability
from handler.documents.repository_policy import build_repository_policy, render_repository_policy
from handler.role import QUEUE_CONSUMER_IAM_ACTIONS, required_iam_actions
from handler.settings.tag_mutability import to_api
from infra.components.enforcer import HANDLER, TIMEOUT_SECONDS
from infra.config import SettingsError
from infra.event_patterns import api_call_pattern, repository_created_pattern
from infra.iam import RUNTIME_ACTIONS
from tests.infra.conftest import StackRun, run_program, stack_config, stack_yaml

# pulumi_aws.s3 announces its deprecated *V2 classes when the mocks first load it; the program uses none.
pytestmark = pytest.mark.filterwarnings("ignore:.*has been deprecated in favor of:DeprecationWarning")

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
FUNCTION = "aws:lambda/function:Function"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
QUEUE = "aws:sqs/queue:Queue"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SWEEP_ENVIRONMENT = {"SWEEP_QUEUE_URL", "SWEEP_BATCH_SIZE"}
ENVIRONMENT = {
    "DESIRED_STATE_PATH",
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


def _config(run: StackRun, key: str) -> Any:
    return stack_yaml(run.stack)[f"ecr-drift-enforcer:{key}"]


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
        **stack_config("dev"),
        "ecr-drift-enforcer:sweepFanOut": "false",
        "ecr-drift-enforcer:reservedConcurrency": "1",
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
    assert inputs["reservedConcurrentExecutions"] == _config(stack_run, "reservedConcurrency") <= 5
    assert inputs["publish"] is True
    assert inputs["tracingConfig"] == {"mode": "Active"}
    version = _config(stack_run, "powertoolsLayerVersion")
    assert inputs["layers"] == [
        f"arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:{version}"
    ]
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
    assert sorted(actions) == sorted({*required_iam_actions(), *QUEUE_CONSUMER_IAM_ACTIONS, *RUNTIME_ACTIONS})
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
    assert by_sid["KmsThroughEcr"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "ecr.eu-west-1.amazonaws.com"}
    }
    assert log_group.inputs["name"] == f"/aws/lambda/ecr-drift-enforcer-{stack_run.stack}"
    assert log_group.inputs["retentionInDays"] == _config(stack_run, "logRetentionDays")
    trust = json.loads(stack_run.one("aws:iam/role:Role", "role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


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


# ---- sweep fan-out ---------------------------------------------------------------------------------------


def test_sweep_queue_and_its_dead_letter_queue(stack_run: StackRun) -> None:
    queue = stack_run.one(QUEUE, "sweep-queue").inputs
    dead_letters = stack_run.one(QUEUE, "sweep-dead-letter-queue").inputs
    assert queue["name"] == f"ecr-drift-enforcer-{stack_run.stack}-sweep"
    assert dead_letters["name"] == f"ecr-drift-enforcer-{stack_run.stack}-sweep-dlq"
    # A message must stay invisible for as long as Lambda may hold it (AWS: 6x the function timeout).
    assert TIMEOUT_SECONDS < queue["visibilityTimeoutSeconds"] == 6 * TIMEOUT_SECONDS <= 43_200
    assert queue["messageRetentionSeconds"] == 86_400
    assert json.loads(queue["redrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters["arn"],
        "maxReceiveCount": 3,
    }
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
    reserved = _config(stack_run, "reservedConcurrency")
    assert 2 <= inputs["scalingConfig"]["maximumConcurrency"] <= reserved
    assert inputs["scalingConfig"]["maximumConcurrency"] == max(2, reserved - 1)
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
    declared = [a for a in required_iam_actions() if not a.startswith("sqs:")]
    assert sorted(actions) == sorted({*declared, *RUNTIME_ACTIONS})
    assert not {"SweepBatchesNotSent", "SweepDeadLetters"} & {a.name for a in run.of_type(ALARM)}
    dashboard = run.one("aws:cloudwatch/dashboard:Dashboard", "dashboard").inputs["dashboardBody"]
    assert "-sweep" not in dashboard  # neither the sweep queue nor its dead-letter queue
    assert "SweepBatchesNotSent" not in dashboard


# ---- alerting and outputs ---------------------------------------------------------------------------------


def test_alerting(stack_run: StackRun) -> None:
    topic_arn = stack_run.one("aws:sns/topic:Topic", "findings").inputs["arn"]
    subscriptions = stack_run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(_config(stack_run, "alertEmails"))
    assert {s.inputs["protocol"] for s in subscriptions} == {"email"}
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


def test_outputs(stack_run: StackRun, example_state: DesiredState) -> None:
    outputs = stack_run.outputs
    assert outputs["repository_urls"] == {
        name: f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{name}" for name in example_state.repositories
    }
    assert outputs["function_name"] == f"ecr-drift-enforcer-{stack_run.stack}"
    assert outputs["function_arn"].endswith(f":function:ecr-drift-enforcer-{stack_run.stack}")
    assert outputs["topic_arn"].startswith("arn:aws:sns:eu-west-1:")
    assert outputs["dashboard_url"].endswith(f"#dashboards:name=ecr-drift-enforcer-{stack_run.stack}")


# ---- failures ---------------------------------------------------------------------------------------------


def test_an_invalid_desired_state_stops_the_program_with_its_problems(
    program_env: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "desired_state.json").write_text('{"version": 1, "defaults": {"scan_on_psh": true}}')
    monkeypatch.setattr("infra.package.ROOT", tmp_path)
    with pytest.raises(pulumi.RunError) as raised:
        run_program("dev", stack_config("dev"))
    assert "defaults.scan_on_psh" in str(raised.value)
    assert "did you mean `scan_on_push`" in str(raised.value)


def test_invalid_settings_are_all_reported_at_once(program_env: Any) -> None:
    config = {
        **stack_config("dev"),
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
    assert "reservedConcurrency must be at least 2 with sweepFanOut" in message
