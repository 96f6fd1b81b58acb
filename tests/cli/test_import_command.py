"""`ecr-drift import` through the CLI on moto: where it writes, --force, the summary, what it leaves out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ecr_drift.cli.app import app
from ecr_drift.desired import load_desired_state, load_desired_state_text
from tests.cli.test_account_commands import deny_operation
from tests.conftest import REGION

runner = CliRunner()
PUBLIC_PUSH = {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": ["ecr:PutImage"]}


@pytest.fixture
def ecr(aws: None) -> Any:
    """An account with two alike repositories and one whose repository policy validation would reject."""
    client = boto3.client("ecr", region_name=REGION)
    for name in ("api", "web", "jobs"):
        client.create_repository(repositoryName=name, tags=[{"Key": "team", "Value": "platform"}])
    client.set_repository_policy(
        repositoryName="jobs", policyText=json.dumps({"Version": "2012-10-17", "Statement": [PUBLIC_PUSH]})
    )
    return client


def test_output_dash_prints_a_valid_desired_state_and_the_summary_goes_to_stderr(ecr: Any) -> None:
    result = runner.invoke(app, ["import", "--output", "-"])
    assert result.exit_code == 0, result.output
    state = load_desired_state_text(result.stdout)
    assert set(state.repositories) == {"api", "web", "jobs"}
    assert state.defaults.tags == {"team": "platform"}
    assert result.stdout.endswith("}\n")
    summary = result.stderr.splitlines()
    assert (
        summary[0]
        == "imported 3 repositories to stdout: 3 in `repositories`, 0 covered by `repository_patterns`"
    )
    assert summary[1] == "registry: policy_statements, pull_through_cache, replication, scanning"
    assert summary[2].startswith("defaults: encryption={")
    assert 'tags={"team": "platform"}' in summary[2]
    assert summary[-1].startswith("next: review it, then `ecr-drift validate` and `ecr-drift audit`")


def test_an_unmanageable_setting_is_reported_with_its_json_path(ecr: Any) -> None:
    result = runner.invoke(app, ["import", "--output", "-"])
    assert result.exit_code == 0, result.output
    assert "left unmanaged (1), so never checked:" in result.stderr
    assert (
        "  repositories.jobs.policy_statements[0].Principal: allows anyone with an AWS account"
        in result.stderr
    )
    assert "repository policy is not in defaults: an entry cannot unset a default, and jobs leaves it" in (
        result.stderr
    )
    jobs = load_desired_state_text(result.stdout).repositories["jobs"]
    assert not jobs.manages_policy


def test_it_writes_desired_state_json_and_overwrites_it_only_with_force(
    ecr: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = runner.invoke(app, ["import"])
    assert first.exit_code == 0, first.output
    written = tmp_path / "desired_state.json"
    assert first.stdout == ""
    assert "to desired_state.json" in first.stderr
    load_desired_state(written)

    written.write_text("mine\n")
    refused = runner.invoke(app, ["import"])
    assert refused.exit_code == 1
    assert "desired_state.json exists; pass --force to overwrite it" in refused.stderr
    assert written.read_text() == "mine\n"

    forced = runner.invoke(app, ["import", "--force", "-o", str(tmp_path / "desired_state.json")])
    assert forced.exit_code == 0, forced.output
    load_desired_state(written)


def test_named_repositories_only_and_a_missing_one_is_an_error(ecr: Any) -> None:
    result = runner.invoke(app, ["import", "-o", "-", "-r", "api", "--repository", "web"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document["repositories"]) == {"api", "web"}
    assert "note: no repository_patterns: --repository lists each repository by name" in result.stderr

    missing = runner.invoke(app, ["import", "-o", "-", "-r", "api", "-r", "nope"])
    assert missing.exit_code == 1
    assert "error: no repository named nope" in missing.stderr
    assert missing.stdout == ""


def test_a_read_that_fails_writes_nothing_and_names_the_action(
    ecr: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deny_operation(monkeypatch, "GetLifecyclePolicy")
    result = runner.invoke(app, ["import", "-o", str(tmp_path / "out.json")])
    assert result.exit_code == 1
    assert (
        "error: could not read GetLifecyclePolicy of api: AccessDeniedException: not authorized"
        in result.stderr
    )
    assert "(the role needs ecr:GetLifecyclePolicy)" in result.stderr
    assert not (tmp_path / "out.json").exists()


def test_a_listing_that_fails_is_explained(ecr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    deny_operation(monkeypatch, "DescribeRepositories")
    result = runner.invoke(app, ["import", "-o", "-"])
    assert result.exit_code == 1
    assert "access denied calling DescribeRepositories: grant `ecr:DescribeRepositories`" in result.stderr
    assert "Traceback" not in result.output


def test_help_teaches_with_examples() -> None:
    result = runner.invoke(app, ["import", "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.stdout
    assert "ecr-drift import --output - | jq .defaults" in result.stdout
    for option in ("--output", "--repository", "--region", "--profile", "--endpoint-url", "--force"):
        assert option in result.stdout
