"""The environment is parsed into one model; every problem names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecr_drift.aws.clients import DEFAULT_CONCURRENCY
from ecr_drift.config import (
    DEFAULT_DESIRED_STATE_PATH,
    DEFAULT_SWEEP_BATCH_SIZE,
    MAX_SWEEP_BATCH_SIZE,
    ConfigError,
    EnforcerConfig,
)
from ecr_drift.desired import DesiredState
from ecr_drift.targets import Mode
from tests.conftest import ROOT

ROLE = "arn:aws:iam::123456789012:role/ecr-drift-enforcer"


def test_defaults_when_nothing_is_set() -> None:
    config = EnforcerConfig.from_env({})

    assert config.desired_state_path == DEFAULT_DESIRED_STATE_PATH == ROOT / "desired_state.json"
    assert config.mode is None
    assert config.findings_topic_arn is None
    assert config.findings_event_bus is None
    assert config.security_hub_findings is False
    assert config.enforcer_role_arn is None
    assert config.concurrency == DEFAULT_CONCURRENCY


def test_every_variable_is_read() -> None:
    config = EnforcerConfig.from_env(
        {
            "DESIRED_STATE_PATH": "/var/task/desired_state.json",
            "ENFORCER_MODE": " Audit ",
            "FINDINGS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:ecr-drift-findings",
            "FINDINGS_EVENT_BUS": "default",
            "SECURITY_HUB_FINDINGS": "TRUE",
            "ENFORCER_ROLE_ARN": ROLE,
            "ENFORCER_CONCURRENCY": "16",
            "UNRELATED": "ignored",
        }
    )

    assert config.desired_state_path == Path("/var/task/desired_state.json")
    assert config.mode is Mode.AUDIT
    assert config.findings_topic_arn == "arn:aws:sns:eu-west-1:123456789012:ecr-drift-findings"
    assert config.findings_event_bus == "default"
    assert config.security_hub_findings is True
    assert config.enforcer_role_arn == ROLE
    assert config.concurrency == 16


def test_empty_variables_are_unset() -> None:
    config = EnforcerConfig.from_env(
        {"FINDINGS_TOPIC_ARN": "", "ENFORCER_MODE": "  ", "ENFORCER_CONCURRENCY": ""}
    )

    assert config.findings_topic_arn is None
    assert config.mode is None
    assert config.concurrency == DEFAULT_CONCURRENCY


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCER_ROLE_ARN", ROLE)

    assert EnforcerConfig.from_env().enforcer_role_arn == ROLE


@pytest.mark.parametrize(
    "bus", ["default", "ecr-findings", "arn:aws:events:eu-west-1:123456789012:event-bus/ecr-findings"]
)
def test_event_bus_name_or_arn(bus: str) -> None:
    assert EnforcerConfig.from_env({"FINDINGS_EVENT_BUS": bus}).findings_event_bus == bus


def test_every_problem_names_its_variable_and_value() -> None:
    with pytest.raises(ConfigError) as caught:
        EnforcerConfig.from_env(
            {
                "ENFORCER_MODE": "enforcee",
                "FINDINGS_TOPIC_ARN": "ecr-drift-findings",
                "FINDINGS_EVENT_BUS": "bus with spaces",
                "SECURITY_HUB_FINDINGS": "maybe",
                "ENFORCER_ROLE_ARN": "arn:aws:iam::123456789012:user/jane",
                "ENFORCER_CONCURRENCY": "eight",
            }
        )

    problems = sorted(caught.value.problems)
    assert [p.split(":", 1)[0] for p in problems] == [
        "ENFORCER_CONCURRENCY",
        "ENFORCER_MODE",
        "ENFORCER_ROLE_ARN",
        "FINDINGS_EVENT_BUS",
        "FINDINGS_TOPIC_ARN",
        "SECURITY_HUB_FINDINGS",
    ]
    assert "ENFORCER_MODE: Input should be 'audit' or 'enforce' (got 'enforcee')" in problems
    assert any(p.startswith("FINDINGS_TOPIC_ARN: must be a standard SNS topic ARN") for p in problems)
    assert any(p.startswith("ENFORCER_ROLE_ARN: must be an IAM role ARN") for p in problems)
    assert "'eight'" in next(p for p in problems if p.startswith("ENFORCER_CONCURRENCY"))
    assert str(caught.value).startswith("invalid environment: ")


@pytest.mark.parametrize("value", ["0", "65", "-1"])
def test_concurrency_is_bounded(value: str) -> None:
    with pytest.raises(ConfigError, match="ENFORCER_CONCURRENCY"):
        EnforcerConfig.from_env({"ENFORCER_CONCURRENCY": value})


def test_sweep_fan_out_is_off_by_default_with_batches_of_200() -> None:
    config = EnforcerConfig.from_env({})

    assert config.sweep_queue_url is None
    assert config.sweep_batch_size == DEFAULT_SWEEP_BATCH_SIZE == 200


@pytest.mark.parametrize(
    "url",
    [
        "https://sqs.eu-west-1.amazonaws.com/123456789012/ecr-drift-sweep",
        "http://localhost:4566/000000000000/ecr-drift-sweep",  # LocalStack, moto_server
    ],
)
def test_sweep_queue_url_and_batch_size(url: str) -> None:
    config = EnforcerConfig.from_env({"SWEEP_QUEUE_URL": url, "SWEEP_BATCH_SIZE": "50"})

    assert (config.sweep_queue_url, config.sweep_batch_size) == (url, 50)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SWEEP_QUEUE_URL", "arn:aws:sqs:eu-west-1:123456789012:ecr-drift-sweep"),  # an ARN, not a URL
        ("SWEEP_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/sweep.fifo"),  # needs groups
        ("SWEEP_BATCH_SIZE", "0"),
        ("SWEEP_BATCH_SIZE", str(MAX_SWEEP_BATCH_SIZE + 1)),  # a message must stay within SQS's 256 KiB
    ],
)
def test_sweep_settings_are_checked(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EnforcerConfig.from_env({name: value})

    [problem] = caught.value.problems
    assert problem.startswith(f"{name}: ")
    assert repr(value) in problem


@pytest.mark.parametrize(
    ("environment", "in_file", "requested", "expected"),
    [
        (None, "enforce", None, Mode.ENFORCE),
        (None, "audit", None, Mode.AUDIT),
        ("audit", "enforce", None, Mode.AUDIT),  # the environment turns a deployment to audit
        ("enforce", "audit", None, Mode.AUDIT),  # ...but never lifts an audit file: audit writes nothing
        (None, "enforce", Mode.AUDIT, Mode.AUDIT),  # a manual audit never writes
        (None, "enforce", Mode.ENFORCE, Mode.ENFORCE),
        (None, "audit", Mode.ENFORCE, Mode.AUDIT),  # a manual enforce cannot lift a configured audit
    ],
)
def test_effective_mode_audit_wins(
    example_state: DesiredState, environment: str | None, in_file: str, requested: Mode | None, expected: Mode
) -> None:
    config = EnforcerConfig.from_env({"ENFORCER_MODE": environment} if environment else {})
    state = example_state.model_copy(
        update={"enforcement": example_state.enforcement.model_copy(update={"mode": in_file})}
    )

    assert config.effective_mode(state, requested) is expected
