"""`ecr-drift init`, the one line every command gives for a missing desired state, and import's `$schema`."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from ecr_drift.cli.app import app
from ecr_drift.desired import load_desired_state
from ecr_drift.desired.schema import SCHEMA_FILE, render_schema
from tests.conftest import REGION, ROOT

runner = CliRunner()
PACKAGED_EXAMPLE = ROOT / "ecr_drift" / "cli" / "example_desired_state.json"
NOT_FOUND = "desired_state.json not found: run `ecr-drift init` to write a starting one"
MISSING = f"error: {NOT_FOUND}, or pass --desired PATH"


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder, the working directory: where a newcomer starts."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_writes_the_example_in_audit_mode_with_its_schema_beside_it(empty: Path) -> None:
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""

    written = empty / "desired_state.json"
    document = json.loads(written.read_text())
    example = json.loads(PACKAGED_EXAMPLE.read_text())
    assert example["enforcement"]["mode"] == "enforce"
    example["enforcement"]["mode"] = "audit"
    assert document == example  # the example, only the mode changed
    assert load_desired_state(written).enforcement.mode == "audit"
    assert document["$schema"] == f"./{SCHEMA_FILE}"
    assert (empty / SCHEMA_FILE).read_text() == render_schema()  # `$schema` resolves, offline

    said = result.stderr
    assert "wrote desired_state.json, and desired_state.schema.json beside it" in said
    assert (
        "example repositories (utila-cosigner, admin-dashboard, temporal-worker, internal-dashboard)" in said
    )
    assert "access for other accounts (111122223333): none of them is yours" in said
    assert "enforcement.mode is `audit`" in said
    assert said.splitlines()[-1] == (
        "next: replace the examples with your repositories (or start from an account: `ecr-drift init "
        "--from-account --force`), then `ecr-drift validate` and `ecr-drift plan`"
    )


def test_what_init_writes_validates(empty: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("desired_state.json: valid.")
    assert "mode audit." in result.stdout


def test_mode_enforce_is_asked_for_and_said(empty: Path) -> None:
    """For a sandbox: the example as shipped, which `ecr-drift enforce` then writes."""
    result = runner.invoke(app, ["init", "--mode", "enforce"])
    assert result.exit_code == 0, result.output
    assert json.loads((empty / "desired_state.json").read_text()) == json.loads(PACKAGED_EXAMPLE.read_text())
    assert "enforcement.mode is `enforce`" in result.stderr
    assert "`audit`" not in result.stderr


def test_an_existing_file_is_kept_unless_force(empty: Path) -> None:
    written = empty / "desired_state.json"
    written.write_text("mine\n")
    refused = runner.invoke(app, ["init"])
    assert refused.exit_code == 1
    assert refused.stderr == "error: desired_state.json exists; pass --force to overwrite it\n"
    assert written.read_text() == "mine\n"
    assert not (empty / SCHEMA_FILE).exists()

    forced = runner.invoke(app, ["init", "--force"])
    assert forced.exit_code == 0, forced.output
    load_desired_state(written)


def test_a_schema_of_another_version_is_kept_unless_force(empty: Path) -> None:
    schema = empty / SCHEMA_FILE
    schema.write_text("{}\n")
    kept = runner.invoke(app, ["init"])
    assert kept.exit_code == 0, kept.output
    assert schema.read_text() == "{}\n"
    assert (
        "wrote desired_state.json; kept desired_state.schema.json, which is not this version's schema: "
        "`ecr-drift schema > desired_state.schema.json` updates it"
    ) in kept.stderr

    replaced = runner.invoke(app, ["init", "--force"])
    assert replaced.exit_code == 0, replaced.output
    assert schema.read_text() == render_schema()

    same = runner.invoke(app, ["init", "--force"])  # this version's schema: nothing to say about it
    assert same.stderr.splitlines()[0] == "wrote desired_state.json"


def test_output_in_a_new_folder_gets_the_schema_and_next_steps_that_name_it(empty: Path) -> None:
    result = runner.invoke(app, ["init", "--output", "envs/prod/desired_state.json"])
    assert result.exit_code == 0, result.output
    assert (empty / "envs" / "prod" / SCHEMA_FILE).read_text() == render_schema()
    assert "`ecr-drift validate envs/prod/desired_state.json`" in result.stderr
    assert "`ecr-drift plan --desired envs/prod/desired_state.json`" in result.stderr
    assert "`ecr-drift init --from-account --force --output envs/prod/desired_state.json`" in result.stderr
    assert runner.invoke(app, ["validate", "envs/prod/desired_state.json"]).exit_code == 0


@pytest.mark.parametrize("option", [["--profile", "prod"], ["--endpoint-url", "http://127.0.0.1:5000"]])
def test_account_options_without_from_account_are_a_usage_error(empty: Path, option: list[str]) -> None:
    result = runner.invoke(app, ["init", *option])
    assert result.exit_code == 1
    assert "applies only with --from-account" in result.output
    assert not (empty / "desired_state.json").exists()


def test_stdout_is_not_a_place_for_a_file_and_its_schema(empty: Path) -> None:
    result = runner.invoke(app, ["init", "--output", "-"])
    assert result.exit_code == 1
    assert "`ecr-drift import --output -` prints one" in result.output
    assert list(empty.iterdir()) == []


def test_help_teaches_with_examples() -> None:
    text = " ".join(runner.invoke(app, ["init", "--help"]).stdout.split())
    for taught in (
        "ecr-drift init --from-account --profile prod",
        "--force",
        "audit",
        "$schema",
        "Exit codes",
    ):
        assert taught in text, taught


# ---------------------------------------------------------------------------------------------------------
# --from-account: an import, in audit mode


@pytest.fixture
def account(aws: None) -> None:
    client = boto3.client("ecr", region_name=REGION)
    for name in ("api", "web"):
        client.create_repository(repositoryName=name, tags=[{"Key": "team", "Value": "platform"}])
    client.create_repository(repositoryName="jobs", imageTagMutability="IMMUTABLE")


def test_from_account_imports_in_audit_mode_and_an_audit_right_after_finds_nothing(
    account: None, empty: Path
) -> None:
    result = runner.invoke(app, ["init", "--from-account"])
    assert result.exit_code == 0, result.output
    written = empty / "desired_state.json"
    document = json.loads(written.read_text())
    assert document["$schema"] == f"./{SCHEMA_FILE}"
    assert document["enforcement"] == {"mode": "audit"}
    assert set(document["repositories"]) == {"api", "web", "jobs"}
    assert (empty / SCHEMA_FILE).read_text() == render_schema()
    assert "imported 3 repositories to desired_state.json" in result.stderr
    assert "enforcement.mode is `audit`" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("next: review it, then `ecr-drift validate`")

    assert runner.invoke(app, ["validate"]).exit_code == 0
    audit = runner.invoke(app, ["audit", "--format", "json"])
    assert audit.exit_code == 0, audit.output
    assert json.loads(audit.stdout)["findings"] == []


def test_from_account_refuses_an_existing_file_before_reading_the_account(empty: Path) -> None:
    (empty / "desired_state.json").write_text("mine\n")
    result = runner.invoke(app, ["init", "--from-account"])  # no `aws` fixture: a read would fail
    assert result.exit_code == 1
    assert result.stderr == "error: desired_state.json exists; pass --force to overwrite it\n"


def test_import_names_its_schema_and_writes_it_beside_the_file(account: None, empty: Path) -> None:
    printed = runner.invoke(app, ["import", "--output", "-"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["$schema"] == f"./{SCHEMA_FILE}"
    assert "enforcement" not in json.loads(printed.stdout)  # import itself writes as before: no mode
    assert not (empty / SCHEMA_FILE).exists()  # stdout: nothing beside anything

    written = runner.invoke(app, ["import"])
    assert written.exit_code == 0, written.output
    assert (empty / SCHEMA_FILE).read_text() == render_schema()
    assert json.loads((empty / "desired_state.json").read_text())["$schema"] == f"./{SCHEMA_FILE}"


# ---------------------------------------------------------------------------------------------------------
# A missing desired state: one line, the way out, exit 1


@pytest.mark.parametrize(
    "command",
    [
        ["plan"],
        ["audit"],
        ["enforce", "--yes"],
        ["documents", "api"],
        ["demo", "--desired", "desired_state.json"],
    ],
)
def test_a_missing_desired_state_is_one_line_that_says_to_run_init(empty: Path, command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert result.stderr == MISSING + "\n"
    assert result.stdout == ""


def test_validate_says_so_with_its_own_way_to_name_the_file(empty: Path) -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert result.stderr == f"error: {NOT_FOUND}, or pass its path: `ecr-drift validate PATH`\n"


def test_a_named_file_that_is_missing_suggests_init_for_that_path(empty: Path) -> None:
    result = runner.invoke(app, ["plan", "--desired", "envs/prod.json"])
    assert result.exit_code == 1
    assert "envs/prod.json not found: run `ecr-drift init --output envs/prod.json`" in result.stderr


def test_json_output_says_it_as_a_problem(empty: Path) -> None:
    result = runner.invoke(app, ["audit", "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "valid": False,
        "path": "desired_state.json",
        "problems": [{"path": "", "message": MISSING.removeprefix("error: ")}],
    }


def test_doctor_fails_its_desired_state_check_with_the_same_line(aws: None, empty: Path) -> None:
    result = runner.invoke(app, ["doctor", "--format", "json"])
    assert result.exit_code == 1
    checks = {check["check"]: check for check in json.loads(result.stdout)}
    assert checks["desired-state"] == {
        "check": "desired-state",
        "status": "fail",
        "detail": MISSING.removeprefix("error: "),
    }
    assert (
        checks["ignore-principals"]["detail"]
        == "not checked: desired_state.json not found (see desired-state)"
    )
