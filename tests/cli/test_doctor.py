"""`ecr-drift doctor` end to end on moto (each check passing and failing), and its verdicts on plain data."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from ecr_drift import metrics
from ecr_drift.cli import doctor as doctor_module
from ecr_drift.cli.app import app
from ecr_drift.cli.doctor_checks import (
    DeadLetters,
    Status,
    Trail,
    cloudtrail_verdict,
    dead_letters_verdict,
    deployed_state_verdict,
    function_verdict,
    ignore_principals_verdict,
    inspector_verdict,
    records_ecr_writes,
    rules_verdict,
)
from ecr_drift.config import DESIRED_STATE_SHA256_TAG
from infra.event_patterns import api_call_pattern, repository_created_pattern
from tests.conftest import ACCOUNT_ID, EXAMPLE_PATH, REGION

runner = CliRunner()
FUNCTION = "ecr-drift-enforcer-test"
EXAMPLE_SHA256 = hashlib.sha256(EXAMPLE_PATH.read_bytes()).hexdigest()
ACCOUNT_CHECKS = [
    "connection",
    "desired-state",
    "permissions",
    "cloudtrail",
    "ignore-principals",
    "inspector",
]
FUNCTION_CHECKS = [
    "function",
    "deployed-desired-state",
    "alias",
    "event-rules",
    "recent-runs",
    "dead-letters",
    "security-hub",
]
WRITE_MANAGEMENT = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]


def doctor(*args: str, desired: Path = EXAMPLE_PATH) -> tuple[int, dict[str, dict[str, str]]]:
    """Run `ecr-drift doctor --format json`: the exit code and the checks by name."""
    result = runner.invoke(app, ["doctor", "--desired", str(desired), "--format", "json", *args])
    assert "Traceback" not in result.output
    checks = json.loads(result.stdout)
    return result.exit_code, {check["check"]: check for check in checks}


def status(checks: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: check["status"] for name, check in checks.items()}


# ---------------------------------------------------------------------------------------------------------
# Arranging the account


def make_trail(
    name: str = "ecr-trail",
    *,
    region: str = REGION,
    multi_region: bool = False,
    logging: bool = True,
    selectors: list[dict[str, Any]] | None = None,
    advanced: list[dict[str, Any]] | None = None,
) -> None:
    bucket = f"{name}-logs"
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    boto3.client("s3", region_name=region).create_bucket(Bucket=bucket, **location)
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi_region)
    if logging:
        cloudtrail.start_logging(Name=name)
    if advanced is not None:
        cloudtrail.put_event_selectors(TrailName=name, AdvancedEventSelectors=advanced)
    else:
        cloudtrail.put_event_selectors(TrailName=name, EventSelectors=selectors or WRITE_MANAGEMENT)


@dataclass(frozen=True)
class Deployed:
    alias_arn: str
    dead_letter_url: str
    rules: tuple[str, ...]


def put_metric(namespace: str, name: str, value: float, dimension: tuple[str, str]) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
                "Value": value,
                "Timestamp": datetime.now(UTC),
            }
        ],
    )


def deploy(
    *,
    variables: dict[str, str] | None = None,
    on_failure: bool = True,
    sha256: str = EXAMPLE_SHA256,
    invoked: bool = True,
) -> Deployed:
    """What the stack deploys, as moto holds it: the function (version 1), its alias `live`, the three rules
    targeting the alias with a dead-letter queue, an on-failure destination, and runs that succeeded."""
    role = boto3.client("iam").create_role(RoleName="enforcer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler/enforce.py", "def lambda_handler(event, context): ...\n")
    functions = boto3.client("lambda", region_name=REGION)
    functions.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="handler.enforce.lambda_handler",
        Code={"ZipFile": package.getvalue()},
        Publish=True,
        Environment={"Variables": {"DESIRED_STATE_SHA256": sha256, **(variables or {})}},
        Tags={DESIRED_STATE_SHA256_TAG: sha256},
    )
    alias_arn = functions.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")["AliasArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    dead_letter_url = sqs.create_queue(QueueName=f"{FUNCTION}-dlq")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    if on_failure:
        functions.put_function_event_invoke_config(
            FunctionName=FUNCTION,
            Qualifier="live",
            DestinationConfig={"OnFailure": {"Destination": dead_letter_arn}},
        )
    events = boto3.client("events", region_name=REGION)
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/enforcer"
    triggers = {
        "api-calls": {"EventPattern": json.dumps(api_call_pattern(role_arn))},
        "repository-created": {"EventPattern": json.dumps(repository_created_pattern())},
        "schedule": {"ScheduleExpression": "rate(6 hours)"},
    }
    for name, trigger in triggers.items():
        events.put_rule(Name=name, **trigger)  # type: ignore[arg-type]
        events.put_targets(
            Rule=name,
            Targets=[{"Id": "enforcer", "Arn": alias_arn, "DeadLetterConfig": {"Arn": dead_letter_arn}}],
        )
    if invoked:
        put_metric("AWS/Lambda", "Invocations", 4, ("FunctionName", FUNCTION))
    return Deployed(alias_arn, dead_letter_url, tuple(triggers))


@pytest.fixture
def trail(aws: None) -> None:
    make_trail()


@pytest.fixture
def deployed(trail: None) -> Deployed:
    return deploy()


def deny(monkeypatch: pytest.MonkeyPatch, operation: str) -> None:
    """Every call of ``operation`` the doctor's clients make is refused, as IAM refuses it."""
    build = doctor_module.DoctorClients.__init__

    def init(self: doctor_module.DoctorClients, session: boto3.Session, **kwargs: Any) -> None:
        build(self, session, **kwargs)

        def refuse(model: Any, **_: Any) -> None:
            if model.name == operation:
                error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
                raise ClientError(error, operation)  # type: ignore[arg-type]

        session.events.register("before-call", refuse)

    monkeypatch.setattr(doctor_module.DoctorClients, "__init__", init)


def write_desired(tmp_path: Path, **changes: Any) -> Path:
    """The example desired state with top-level sections changed (``enforcement={...}`` replaces it)."""
    document = json.loads(EXAMPLE_PATH.read_text())
    document.pop("$schema", None)
    for section, value in changes.items():
        document[section] = value
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(document))
    return path


# ---------------------------------------------------------------------------------------------------------
# Output: JSON shape, table, help


def test_json_is_a_list_of_checks_with_a_status_and_a_detail(trail: None) -> None:
    result = runner.invoke(app, ["doctor", "--desired", str(EXAMPLE_PATH), "--format", "json"])
    checks = json.loads(result.stdout)
    assert isinstance(checks, list)
    assert [c["check"] for c in checks] == ACCOUNT_CHECKS
    for check in checks:
        assert set(check) == {"check", "status", "detail"}
        assert check["status"] in {"pass", "warn", "fail"}
        assert isinstance(check["detail"], str)
        assert check["detail"]
    assert result.exit_code == 0


def test_table_has_one_line_per_check_and_a_summary(aws: None) -> None:
    result = runner.invoke(app, ["doctor", "--desired", str(EXAMPLE_PATH), "--no-color"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    # Piped: plain `check  status  detail` lines, a check each, no box drawing.
    assert lines[0].split() == ["check", "status", "detail"]
    assert not set("│┃─━┏┗└┌") & set(result.stdout)
    for name in ACCOUNT_CHECKS:
        assert len([line for line in lines if line.split()[0] == name]) == 1, result.stdout
    cloudtrail_line = next(line for line in lines if line.startswith("cloudtrail "))
    assert cloudtrail_line.split()[1] == "fail"
    assert "createCloudTrail" in cloudtrail_line
    assert "6 checks: 4 passed, 1 warned, 1 failed" in result.stdout
    assert "pass --function NAME" in result.stderr


def test_help_teaches_with_examples() -> None:
    result = runner.invoke(app, ["doctor", "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.stdout
    assert "ecr-drift doctor --function" in result.stdout


def test_missing_credentials_are_one_error_not_one_per_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = runner.invoke(app, ["doctor", "--desired", str(EXAMPLE_PATH)])
    assert result.exit_code == 1
    assert "no AWS credentials found" in result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------------------------------------------------
# cloudtrail


def test_no_trail_fails_and_says_the_enforcer_only_runs_on_its_schedule(aws: None) -> None:
    code, checks = doctor()
    assert code == 1
    assert checks["cloudtrail"]["status"] == "fail"
    assert "there is no trail" in checks["cloudtrail"]["detail"]
    assert "only runs on its schedule" in checks["cloudtrail"]["detail"]
    assert "createCloudTrail" in checks["cloudtrail"]["detail"]
    # One check's failure stops none of the others.
    assert status(checks) == {
        "connection": "pass",
        "desired-state": "pass",
        "permissions": "pass",
        "cloudtrail": "fail",
        "ignore-principals": "warn",
        "inspector": "pass",
    }


def test_a_logging_trail_of_write_management_events_passes(aws: None) -> None:
    make_trail(selectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    code, checks = doctor()
    assert checks["cloudtrail"]["status"] == "pass"
    assert f"ecr-trail (single-region trail, home {REGION})" in checks["cloudtrail"]["detail"]
    assert code == 0


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (
            {"selectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]},
            "its event selectors record no write",
        ),
        (
            {"selectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]},
            "its event selectors record no write",
        ),
        ({"logging": False}, "not logging"),
        (
            {
                "advanced": [
                    {
                        "Name": "reads only",
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Management"]},
                            {"Field": "readOnly", "Equals": ["true"]},
                        ],
                    }
                ]
            },
            "its event selectors record no write",
        ),
    ],
    ids=["read-only", "no-management-events", "stopped", "advanced-read-only"],
)
def test_a_trail_that_misses_ecr_writes_fails(aws: None, arrange: dict[str, Any], reason: str) -> None:
    make_trail(**arrange)
    code, checks = doctor()
    assert code == 1
    assert checks["cloudtrail"]["status"] == "fail"
    assert f"ecr-trail: {reason}" in checks["cloudtrail"]["detail"]


def test_advanced_selectors_on_management_events_pass(aws: None) -> None:
    make_trail(
        advanced=[
            {
                "Name": "writes",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["false"]},
                ],
            }
        ]
    )
    _, checks = doctor()
    assert checks["cloudtrail"]["status"] == "pass"


def test_a_multi_region_trail_of_another_home_region_counts(aws: None) -> None:
    make_trail("org-trail", region="us-east-1", multi_region=True)
    _, checks = doctor()
    assert checks["cloudtrail"]["status"] == "pass"
    assert "org-trail (multi-region trail, home us-east-1)" in checks["cloudtrail"]["detail"]


def test_a_single_region_trail_of_another_region_does_not(aws: None) -> None:
    make_trail("elsewhere", region="us-east-1")
    _, checks = doctor()
    assert checks["cloudtrail"]["status"] == "fail"


def test_an_access_denial_names_the_cloudtrail_action_and_the_others_still_run(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    deny(monkeypatch, "DescribeTrails")
    code, checks = doctor()
    assert code == 1
    assert checks["cloudtrail"] == {
        "check": "cloudtrail",
        "status": "fail",
        "detail": "access denied calling DescribeTrails: grant `cloudtrail:DescribeTrails` to the caller",
    }
    assert checks["permissions"]["status"] == "pass"


def test_an_unreadable_trail_is_a_warning_that_says_which(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    make_trail()
    deny(monkeypatch, "GetEventSelectors")
    _, checks = doctor()
    assert checks["cloudtrail"]["status"] == "warn"
    assert "grant `cloudtrail:GetEventSelectors`" in checks["cloudtrail"]["detail"]


# ---------------------------------------------------------------------------------------------------------
# desired-state, permissions, ignore-principals, inspector


def test_an_invalid_desired_state_fails_with_the_problem_paths(trail: None, tmp_path: Path) -> None:
    document = json.loads(EXAMPLE_PATH.read_text())
    document["defaults"]["image_tag_mutability"] = "SOMETIMES"
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(document))
    code, checks = doctor(desired=path)
    assert code == 1
    assert checks["desired-state"]["status"] == "fail"
    assert "defaults.image_tag_mutability" in checks["desired-state"]["detail"]
    assert f"`ecr-drift validate {path}`" in checks["desired-state"]["detail"]
    # What needs the file says so instead of failing on its own.
    assert checks["inspector"] == {
        "check": "inspector",
        "status": "warn",
        "detail": f"not checked: {path} is not valid (see desired-state)",
    }
    assert checks["cloudtrail"]["status"] == "pass"


def test_a_valid_desired_state_passes_with_a_summary(trail: None) -> None:
    _, checks = doctor()
    assert checks["desired-state"]["status"] == "pass"
    assert "4 repositories, 1 pattern" in checks["desired-state"]["detail"]


def test_permissions_makes_the_enforcers_reads_registry_and_repository(aws: None) -> None:
    boto3.client("ecr", region_name=REGION).create_repository(repositoryName="utila-cosigner")
    _, checks = doctor()
    detail = checks["permissions"]["detail"]
    assert checks["permissions"]["status"] == "pass"
    for action in (
        "ecr:DescribeRepositories",
        "ecr:DescribeRegistry",
        "ecr:GetRegistryScanningConfiguration",
        "ecr:DescribePullThroughCacheRules",
        "ecr:GetRegistryPolicy",
        "ecr:DescribeRepositoryCreationTemplates",
        "ecr:GetLifecyclePolicy",
        "ecr:GetRepositoryPolicy",
        "ecr:ListTagsForResource",
    ):
        assert action in detail
    assert "repository reads tried on utila-cosigner" in detail


def test_a_denied_read_fails_permissions_and_names_the_action(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    deny(monkeypatch, "GetRegistryPolicy")
    code, checks = doctor()
    assert code == 1
    assert checks["permissions"]["status"] == "fail"
    assert "grant `ecr:GetRegistryPolicy`" in checks["permissions"]["detail"]
    assert "1 of the enforcer's reads failed" in checks["permissions"]["detail"]


def test_the_deploy_role_in_ignore_principals_passes(trail: None, monkeypatch: pytest.MonkeyPatch) -> None:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="pulumi-deploy", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    credentials = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="deploy")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    code, checks = doctor()
    assert checks["ignore-principals"]["status"] == "pass"
    assert f"'arn:aws:iam::{ACCOUNT_ID}:role/pulumi-deploy'" in checks["ignore-principals"]["detail"]
    assert code == 0


def test_a_caller_outside_ignore_principals_is_warned(trail: None) -> None:
    _, checks = doctor()
    assert checks["ignore-principals"]["status"] == "warn"
    assert "matches no ignore_principals" in checks["ignore-principals"]["detail"]


def test_empty_ignore_principals_warns_that_deploys_get_fixed_back(trail: None, tmp_path: Path) -> None:
    enforcement = json.loads(EXAMPLE_PATH.read_text())["enforcement"] | {"ignore_principals": []}
    _, checks = doctor(desired=write_desired(tmp_path, enforcement=enforcement))
    assert checks["ignore-principals"]["status"] == "warn"
    assert "put back by the enforcer" in checks["ignore-principals"]["detail"]


def enhanced_scanning(tmp_path: Path) -> Path:
    """The example with ENHANCED registry scanning (which takes over per-repository scan on push)."""
    example = json.loads(EXAMPLE_PATH.read_text())
    registry = example["registry"] | {
        "scanning": {"scan_type": "ENHANCED", "rules": [{"frequency": "CONTINUOUS_SCAN", "filters": ["*"]}]}
    }
    defaults = {key: value for key, value in example["defaults"].items() if key != "scan_on_push"}
    return write_desired(tmp_path, registry=registry, defaults=defaults)


def test_enhanced_scanning_needs_inspector_on_ecr(trail: None, tmp_path: Path) -> None:
    desired = enhanced_scanning(tmp_path)
    code, checks = doctor(desired=desired)
    assert code == 1
    assert checks["inspector"]["status"] == "fail"
    assert "aws inspector2 enable --resource-types ECR" in checks["inspector"]["detail"]

    boto3.client("inspector2", region_name=REGION).enable(accountIds=[ACCOUNT_ID], resourceTypes=["ECR"])
    code, checks = doctor(desired=desired)
    assert checks["inspector"]["status"] == "pass"
    assert code == 0


def test_inspector_unreadable_is_only_a_warning(
    trail: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deny(monkeypatch, "BatchGetAccountStatus")
    _, checks = doctor(desired=enhanced_scanning(tmp_path))
    assert checks["inspector"]["status"] == "warn"
    assert "grant `inspector2:BatchGetAccountStatus`" in checks["inspector"]["detail"]


# ---------------------------------------------------------------------------------------------------------
# The deployed enforcer


def test_a_healthy_deployment_passes_every_check(deployed: Deployed) -> None:
    code, checks = doctor("--function", FUNCTION)
    assert list(checks) == ACCOUNT_CHECKS + FUNCTION_CHECKS
    assert {name: s for name, s in status(checks).items() if s != "pass"} == {"ignore-principals": "warn"}
    assert code == 0
    assert checks["function"]["detail"] == f"{FUNCTION} is Active (last update Successful)"
    assert checks["alias"]["detail"] == "live runs version 1"
    assert checks["deployed-desired-state"]["detail"].endswith(f"(SHA-256 {EXAMPLE_SHA256[:12]})")
    assert checks["event-rules"]["detail"] == (
        "enabled, targeting the alias: "
        "schedule schedule, API calls api-calls, service events repository-created"
    )
    assert checks["recent-runs"]["detail"] == "4 invocations in the last 24 h, none failed"
    assert checks["dead-letters"]["detail"] == (
        f"empty: {FUNCTION}-dlq "
        "(rule api-calls, rule repository-created, rule schedule, on-failure destination)"
    )
    assert checks["security-hub"]["status"] == "pass"


def test_a_missing_function_fails_and_what_depends_on_it_is_not_checked(trail: None) -> None:
    code, checks = doctor("--function", "no-such-function")
    assert code == 1
    assert checks["function"]["status"] == "fail"
    assert "no function no-such-function in eu-west-1" in checks["function"]["detail"]
    assert checks["alias"]["status"] == "fail"
    for name in ("deployed-desired-state", "event-rules", "recent-runs", "dead-letters", "security-hub"):
        assert checks[name]["status"] == "warn"
        assert checks[name]["detail"].startswith("not checked: no ")


def test_an_invalid_function_environment_fails(trail: None) -> None:
    deploy(variables={"ENFORCER_CONCURRENCY": "lots"})
    _, checks = doctor("--function", FUNCTION)
    assert checks["function"]["status"] == "fail"
    assert "ENFORCER_CONCURRENCY" in checks["function"]["detail"]


def test_a_missing_alias_fails(deployed: Deployed) -> None:
    boto3.client("lambda", region_name=REGION).delete_alias(FunctionName=FUNCTION, Name="live")
    code, checks = doctor("--function", FUNCTION)
    assert code == 1
    assert checks["alias"]["status"] == "fail"
    assert "`pulumi up` creates it" in checks["alias"]["detail"]
    assert checks["event-rules"]["detail"] == "not checked: no alias live (see alias)"


def test_a_different_desired_state_deployed_fails(trail: None) -> None:
    deploy(sha256="0" * 64)
    code, checks = doctor("--function", FUNCTION)
    assert code == 1
    assert checks["deployed-desired-state"]["status"] == "fail"
    assert "its DESIRED_STATE_SHA256 is 000000000000" in checks["deployed-desired-state"]["detail"]
    assert f"the local file's SHA-256 is {EXAMPLE_SHA256[:12]}" in checks["deployed-desired-state"]["detail"]


def test_an_edited_local_file_differs_from_the_deployed_one(deployed: Deployed, tmp_path: Path) -> None:
    path = tmp_path / "desired_state.json"
    path.write_bytes(EXAMPLE_PATH.read_bytes() + b"\n")  # same meaning, other bytes: not what was packaged
    _, checks = doctor("--function", FUNCTION, desired=path)
    assert checks["deployed-desired-state"]["status"] == "fail"


def test_no_hash_variable_warns(trail: None) -> None:
    deploy()
    functions = boto3.client("lambda", region_name=REGION)
    functions.update_function_configuration(FunctionName=FUNCTION, Environment={"Variables": {}})
    version = functions.publish_version(FunctionName=FUNCTION)["Version"]
    functions.update_alias(FunctionName=FUNCTION, Name="live", FunctionVersion=version)
    _, checks = doctor("--function", FUNCTION)
    assert checks["deployed-desired-state"]["status"] == "warn"
    assert "no DESIRED_STATE_SHA256 variable (its tag" in checks["deployed-desired-state"]["detail"]


def test_a_disabled_rule_fails(deployed: Deployed) -> None:
    boto3.client("events", region_name=REGION).disable_rule(Name="api-calls")
    code, checks = doctor("--function", FUNCTION)
    assert code == 1
    assert checks["event-rules"]["status"] == "fail"
    assert "API calls rule api-calls is DISABLED" in checks["event-rules"]["detail"]


def test_a_missing_rule_fails(deployed: Deployed) -> None:
    events = boto3.client("events", region_name=REGION)
    events.remove_targets(Rule="repository-created", Ids=["enforcer"])
    _, checks = doctor("--function", FUNCTION)
    assert checks["event-rules"]["status"] == "fail"
    assert checks["event-rules"]["detail"].startswith("no service events rule")


@pytest.mark.parametrize(
    ("namespace", "metric", "dimension"),
    [
        ("AWS/Lambda", "Errors", ("FunctionName", FUNCTION)),
        (metrics.NAMESPACE, metrics.ENFORCER_ERRORS, ("service", metrics.SERVICE)),
        (metrics.NAMESPACE, metrics.DESIRED_STATE_INVALID, ("service", metrics.SERVICE)),
    ],
)
def test_failed_runs_in_the_last_day_fail(
    deployed: Deployed, namespace: str, metric: str, dimension: tuple[str, str]
) -> None:
    put_metric(namespace, metric, 2, dimension)
    code, checks = doctor("--function", FUNCTION)
    assert code == 1
    assert checks["recent-runs"]["status"] == "fail"
    assert f"4 invocations and {metric} 2" in checks["recent-runs"]["detail"]
    assert f"aws logs tail /aws/lambda/{FUNCTION}" in checks["recent-runs"]["detail"]


def test_no_run_in_the_last_day_warns(trail: None) -> None:
    deploy(invoked=False)
    _, checks = doctor("--function", FUNCTION)
    assert checks["recent-runs"]["status"] == "warn"


def test_a_message_in_the_dead_letter_queue_fails(deployed: Deployed) -> None:
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=deployed.dead_letter_url, MessageBody="{}")
    code, checks = doctor("--function", FUNCTION)
    assert code == 1
    assert checks["dead-letters"]["status"] == "fail"
    assert (
        f"1 message in arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{FUNCTION}-dlq" in checks["dead-letters"]["detail"]
    )


def test_the_sweep_queues_dead_letters_are_read_too(trail: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    parked = sqs.create_queue(QueueName="sweep-dlq")["QueueUrl"]
    parked_arn = sqs.get_queue_attributes(QueueUrl=parked, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": parked_arn, "maxReceiveCount": 3})
    sweep = sqs.create_queue(QueueName="sweep", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    deploy(variables={"SWEEP_QUEUE_URL": sweep})
    _, checks = doctor("--function", FUNCTION)
    assert checks["dead-letters"]["status"] == "pass"
    assert "sweep-dlq (sweep dead-letter queue)" in checks["dead-letters"]["detail"]

    sqs.send_message(QueueUrl=parked, MessageBody="{}")
    _, checks = doctor("--function", FUNCTION)
    assert checks["dead-letters"]["status"] == "fail"
    assert "(sweep dead-letter queue)" in checks["dead-letters"]["detail"]


def test_no_on_failure_destination_warns(trail: None) -> None:
    deploy(on_failure=False)
    code, checks = doctor("--function", FUNCTION)
    assert checks["dead-letters"]["status"] == "warn"
    assert "the alias has no on-failure destination" in checks["dead-letters"]["detail"]
    assert code == 0


def test_security_hub_findings_need_security_hub(trail: None) -> None:
    deploy(variables={"SECURITY_HUB_FINDINGS": "true"})
    code, checks = doctor("--function", FUNCTION)
    assert code == 1
    assert checks["security-hub"]["status"] == "fail"
    assert "Security Hub is not enabled in eu-west-1" in checks["security-hub"]["detail"]

    boto3.client("securityhub", region_name=REGION).enable_security_hub()
    code, checks = doctor("--function", FUNCTION)
    assert checks["security-hub"]["status"] == "pass"
    assert code == 0


def test_a_denied_lambda_read_names_the_lambda_action(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    deny(monkeypatch, "GetFunctionEventInvokeConfig")
    _, checks = doctor("--function", FUNCTION)
    assert checks["dead-letters"]["status"] == "fail"
    assert "grant `lambda:GetFunctionEventInvokeConfig`" in checks["dead-letters"]["detail"]
    assert checks["event-rules"]["status"] == "pass"


# ---------------------------------------------------------------------------------------------------------
# Verdicts on plain data: what moto cannot be made to answer


def test_records_ecr_writes_reads_classic_and_advanced_selectors() -> None:
    assert records_ecr_writes({})  # CloudTrail's default: every management event
    assert records_ecr_writes({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]})
    assert not records_ecr_writes(
        {
            "EventSelectors": [
                {
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": True,
                    "ExcludeManagementEventSources": ["ecr.amazonaws.com"],
                }
            ]
        }
    )
    management = {"Field": "eventCategory", "Equals": ["Management"]}
    assert records_ecr_writes({"AdvancedEventSelectors": [{"FieldSelectors": [management]}]})
    assert not records_ecr_writes(
        {"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}]}
    )
    assert not records_ecr_writes(
        {
            "AdvancedEventSelectors": [
                {"FieldSelectors": [management, {"Field": "eventSource", "NotEquals": ["ecr.amazonaws.com"]}]}
            ]
        }
    )
    assert records_ecr_writes(
        {
            "AdvancedEventSelectors": [
                {"FieldSelectors": [management, {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}]}
            ]
        }
    )


def test_an_organization_trail_that_cannot_be_read_is_a_warning() -> None:
    description = {
        "Name": "org",
        "HomeRegion": "us-east-1",
        "IsMultiRegionTrail": True,
        "IsOrganizationTrail": True,
    }
    verdict = cloudtrail_verdict(REGION, [Trail(description, problem="TrailNotFoundException")])
    assert verdict.status is Status.WARN
    assert "management account" in verdict.detail
    readable = Trail(description, is_logging=True, selectors={})
    assert "organization, multi-region trail" in cloudtrail_verdict(REGION, [readable]).detail


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        ({"State": "Failed", "StateReason": "role cannot be assumed"}, Status.FAIL),
        ({"State": "Active", "LastUpdateStatus": "Failed"}, Status.FAIL),
        ({"State": "Pending"}, Status.WARN),
        ({"State": "Inactive"}, Status.WARN),
        ({"State": "Active", "LastUpdateStatus": "InProgress"}, Status.WARN),
        ({"State": "Active", "LastUpdateStatus": "Successful"}, Status.PASS),
    ],
)
def test_function_states(configuration: dict[str, str], expected: Status) -> None:
    assert function_verdict({"FunctionName": FUNCTION, **configuration}, []).status is expected


def test_rules_of_one_kind_pass_when_one_of_them_is_enabled() -> None:
    rules = [
        {"Name": "old-schedule", "ScheduleExpression": "rate(1 day)", "State": "DISABLED"},
        {"Name": "schedule", "ScheduleExpression": "rate(6 hours)", "State": "ENABLED"},
        {
            "Name": "calls",
            "EventPattern": json.dumps({"detail-type": ["AWS API Call via CloudTrail"]}),
            "State": "ENABLED",
        },
        {"Name": "other", "EventPattern": "{not json", "State": "ENABLED"},
    ]
    verdict = rules_verdict("arn:alias", rules)
    assert verdict.status is Status.FAIL
    assert verdict.detail.startswith("no service events rule (rules targeting arn:alias)")


def test_deployed_state_from_the_tag_alone_warns() -> None:
    verdict = deployed_state_verdict("ab" * 32, None, "ab" * 32)
    assert verdict.status is Status.WARN
    assert deployed_state_verdict("ab" * 32, None, "cd" * 32).status is Status.FAIL
    assert deployed_state_verdict("ab" * 32, "AB" * 32, None).status is Status.PASS


def test_inspector_status_of_another_account_or_a_failure() -> None:
    assert inspector_verdict({"accounts": []}, ACCOUNT_ID).status is Status.FAIL
    failed = {
        "failedAccounts": [{"accountId": ACCOUNT_ID, "errorCode": "ACCESS_DENIED", "errorMessage": "no"}]
    }
    assert inspector_verdict(failed, ACCOUNT_ID).status is Status.WARN


def test_ignore_principals_matches_the_session_or_its_role_ignoring_case() -> None:
    session = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/Pulumi-Deploy/ci"
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/Pulumi-Deploy"
    assert (
        ignore_principals_verdict([f"arn:aws:iam::{ACCOUNT_ID}:role/pulumi-deploy"], [session, role]).status
        is Status.PASS
    )
    assert ignore_principals_verdict([], [session, role]).status is Status.WARN


def test_a_destination_that_is_not_a_queue_is_named_not_counted() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:failures"
    verdict = dead_letters_verdict(DeadLetters({"schedule": None}, topic, None, None, {}))
    assert verdict.status is Status.WARN
    assert "rule schedule's target has no dead-letter queue" in verdict.detail
    assert f"{topic} is not an SQS queue" in verdict.detail
