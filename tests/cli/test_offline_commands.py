"""The commands that need no AWS account: validate, schema, documents, lifecycle preview."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ecr_drift.cli.app import app
from ecr_drift.desired.schema import render_schema
from tests.conftest import EXAMPLE_PATH, ROOT

runner = CliRunner()


def test_validate_accepts_the_example_with_a_summary() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE_PATH)])
    assert result.exit_code == 0, result.output
    assert (
        "valid. 4 repositories, 1 pattern, 1 pull-through cache rule, registry scanning BASIC"
        in result.stdout
    )
    assert "mode enforce" in result.stdout


def test_validate_json_lists_what_is_managed() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE_PATH), "--format", "json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["valid"] is True
    assert payload["repositories"] == 4
    assert {"scan_on_push", "lifecycle", "repository_policy", "tags"} <= set(payload["managed"])


def test_validate_rejects_with_paths_and_exit_1_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "defaults": {"scan_on_pusj": true}, "repositories": {"Bad": {}}}')
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert (
        "defaults.scan_on_pusj: unknown field `scan_on_pusj`; did you mean `scan_on_push`?" in result.stderr
    )
    assert "repositories.Bad: must be a repository name" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_validate_json_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1,\n "version": 1}')
    result = runner.invoke(app, ["validate", str(bad), "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"] == [
        {"path": "version", "message": "duplicate key: JSON keeps only the last value, so the first is lost"}
    ]


def _example_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    doc = json.loads(EXAMPLE_PATH.read_text())
    change(doc)
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(doc))
    return path


PUBLIC_PUSH = {"Sid": "Everyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:PutImage"}
REGISTRY_STATEMENT = {**PUBLIC_PUSH, "Resource": "arn:aws:ecr:eu-west-1:123456789012:repository/*"}


def test_validate_rejects_dangerous_policies_with_their_paths(tmp_path: Path) -> None:
    def dangerous(doc: dict[str, Any]) -> None:
        doc["enforcement"]["allow_public_pull"] = True  # pull only; never push
        doc["repositories"]["temporal-worker"]["policy_statements"] = [PUBLIC_PUSH]
        doc["registry"]["policy_statements"] = [
            {
                "Sid": "AllButOne",
                "Effect": "Allow",
                "NotPrincipal": {"AWS": "111122223333"},
                "Action": "ecr:ReplicateImage",
                "Resource": REGISTRY_STATEMENT["Resource"],
            }
        ]

    result = runner.invoke(app, ["validate", str(_example_with(tmp_path, dangerous))])

    assert result.exit_code == 1
    assert (
        "repositories.temporal-worker.policy_statements[0].Principal: allows anyone with an AWS account "
        "(`Action` is not pull-only)" in result.stderr
    )
    assert "registry.policy_statements[0].NotPrincipal: `NotPrincipal` with `Allow`" in result.stderr
    assert "Traceback" not in result.output


def test_validate_accepts_a_public_statement_narrowed_to_the_organization(tmp_path: Path) -> None:
    narrowed = {**PUBLIC_PUSH, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}}

    def organization_wide(doc: dict[str, Any]) -> None:
        doc["repositories"]["temporal-worker"]["policy_statements"] = [narrowed]
        doc["registry"]["policy_statements"] = [{**REGISTRY_STATEMENT, **narrowed}]

    result = runner.invoke(app, ["validate", str(_example_with(tmp_path, organization_wide))])

    assert result.exit_code == 0, result.output


def test_validate_rejects_deep_nesting_without_a_traceback(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)

    result = runner.invoke(app, ["validate", str(deep), "--format", "json"])

    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"] == [
        {
            "path": "",
            "message": "nested deeper than 64 levels at line 1, column 65; "
            "no valid desired state nests more than 10",
        }
    ]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_never_prints_a_value_of_the_file(tmp_path: Path) -> None:
    secret = "AKIAZX9SECRETVALUE77"

    def misplaced(doc: dict[str, Any]) -> None:
        doc["defaults"]["scan_on_push"] = secret
        doc["enforcement"]["mode"] = secret
        doc["registry"]["pull_through_cache"]["ecr-public"]["upstream_registry_url"] = secret

    path = _example_with(tmp_path, misplaced)
    for output in ("table", "json"):
        result = runner.invoke(app, ["validate", str(path), "--format", output])
        assert result.exit_code == 1
        assert "defaults.scan_on_push" in result.output
        assert secret not in result.output


def test_validate_missing_file() -> None:
    result = runner.invoke(app, ["validate", "/nonexistent/desired_state.json"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: /nonexistent/desired_state.json not found: run `ecr-drift init --output "
        "/nonexistent/desired_state.json` to write a starting one, or pass its path: "
        "`ecr-drift validate PATH`\n"
    )


def test_validate_counts_in_the_singular_and_says_no_for_empty_lists(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "repositories": {"api": {}},
                "registry": {
                    "replication": [],
                    "policy_statements": [
                        REGISTRY_STATEMENT | {"Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
                    ],
                },
            }
        )
    )

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 0, result.output
    assert (
        "valid. 1 repository, 0 patterns, 0 pull-through cache rules, registry scanning unmanaged, "
        in result.stdout
    )
    assert "no replication, 1 registry policy statement;" in result.stdout


def test_validate_shows_non_ascii_keys_as_they_are_and_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "desired_state.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"version": 1, "repositories": {"café": {}}}).encode())

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 1
    assert 'repositories."café": must be a repository name' in result.stderr
    assert "utf-8-sig" not in result.output


def test_validate_prints_a_file_name_with_brackets_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "[").mkdir()
    path = tmp_path / "[" / "prod].json"  # `[/prod]` would be a closing tag to rich
    path.write_text('{"version": 1}')

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 0, result.output
    assert f"{path}: valid." in result.stdout


def test_schema_command_prints_the_committed_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == render_schema() == (ROOT / "desired_state.schema.json").read_text()


def test_documents_prints_the_compiled_texts() -> None:
    result = runner.invoke(app, ["documents", "admin-dashboard", "--desired", str(EXAMPLE_PATH)])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["repository_policy_text"].startswith(
        '{"Statement":[{"Action":["ecr:BatchCheckLayerAvailability"'
    )
    assert json.loads(payload["lifecycle_policy_text"])["rules"][1]["selection"]["tagPrefixList"] == ["v"]
    assert payload["settings"]["pull_account_ids"] == ["111122223333"]


def test_documents_of_an_unmanaged_repository_exits_1() -> None:
    result = runner.invoke(app, ["documents", "nobody-manages-me", "--desired", str(EXAMPLE_PATH)])
    assert result.exit_code == 1
    assert "manages 'nobody-manages-me'" in result.stderr


def test_readme_shows_what_the_compiler_makes() -> None:
    """The README's compiled documents are the compiler's output, byte for byte."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- compiled:(\S+):(lifecycle|policy) -->\n```json\n(.*?)\n```", readme)
    assert len(blocks) == 3
    for repository, kind, text in blocks:
        result = runner.invoke(app, ["documents", repository, "--desired", str(EXAMPLE_PATH)])
        key = "lifecycle_policy_text" if kind == "lifecycle" else "repository_policy_text"
        assert json.loads(result.stdout)[key] == text


def test_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert len(commands) >= 9
    for name in commands:
        assert f"`ecr-drift {name}" in readme, name


POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["v"],
                "countType": "imageCountMoreThan",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
    ]
}
IMAGES = [
    {"digest": "sha256:a", "tags": [], "pushed_at": "2026-01-01T00:00:00Z"},
    {"digest": "sha256:b", "tags": [], "pushed_at": "2026-01-29T00:00:00Z"},
    {"digest": "sha256:c", "tags": ["v1"], "pushed_at": "2026-01-02T00:00:00Z"},
    {"digest": "sha256:d", "tags": ["v2"], "pushed_at": "2026-01-03T00:00:00Z", "last_pulled_at": None},
]


def _preview_args(policy: Path, images: Path, *extra: str) -> list[str]:
    return ["lifecycle", "preview", "--policy", str(policy), "--images", str(images), *extra]


@pytest.fixture
def preview_files(tmp_path: Path) -> tuple[Path, Path]:
    policy, images = tmp_path / "policy.json", tmp_path / "images.json"
    policy.write_text(json.dumps(POLICY))
    images.write_text(json.dumps(IMAGES))
    return policy, images


def test_lifecycle_preview_json_replays_30_days_by_default(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00:00Z")
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "now": "2026-02-01T00:00:00+00:00",
        "horizon_days": 30,
        "images": 4,
        "archived": [],
        "expired": [  # oldest image first; b, untagged, is 3 days old on day 0 and more than 7 on day 5
            {"digest": "sha256:a", "rule_priority": 1, "day": 0, "deletion": "direct"},
            {"digest": "sha256:c", "rule_priority": 2, "day": 0, "deletion": "direct"},
            {"digest": "sha256:b", "rule_priority": 1, "day": 5, "deletion": "direct"},
        ],
    }


def test_lifecycle_preview_horizon_0_evaluates_at_now_only(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    args = _preview_args(
        policy, images, "--now", "2026-02-01T00:00:00Z", "--horizon-days", "0", "--format", "json"
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [entry["digest"] for entry in json.loads(result.stdout)["expired"]] == ["sha256:a", "sha256:c"]


def test_lifecycle_preview_table(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00:00Z")
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert re.search(r"sha256:b .*\(untagged\) .* ACTIVE .* day 5, rule 1 .* expire", result.stdout)
    assert re.search(r"sha256:d .* v2 .* ACTIVE .* keep", result.stdout)
    assert (
        "Would delete 3 of 4 images within 30 days (3 expired directly, 0 archived then expired, "
        "0 already archived); 0 archived. Day 0 is 2026-02-01T00:00:00+00:00."
    ) in result.stdout


ARCHIVE_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "any",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 30,
            },
            "action": {"type": "transition", "targetStorageClass": "archive"},
        },
        {
            "rulePriority": 2,
            "selection": {
                "tagStatus": "any",
                "storageClass": "archive",
                "countType": "sinceImageTransitioned",
                "countUnit": "days",
                "countNumber": 90,
            },
            "action": {"type": "expire"},
        },
    ]
}
ARCHIVE_IMAGES = [
    {
        "digest": "sha256:old",
        "tags": ["v0"],
        "pushed_at": "2025-01-01T00:00:00Z",
        "status": "ARCHIVED",
        "last_archived_at": "2025-10-01T00:00:00Z",
    },
    {"digest": "sha256:mid", "tags": [], "pushed_at": "2025-12-01T00:00:00Z"},
    {"digest": "sha256:new", "tags": ["v1"], "pushed_at": "2026-01-25T00:00:00Z"},
]


def test_lifecycle_preview_shows_transitions_and_expiries_by_day(tmp_path: Path) -> None:
    policy, images = tmp_path / "policy.json", tmp_path / "images.json"
    policy.write_text(json.dumps(ARCHIVE_POLICY))
    images.write_text(json.dumps(ARCHIVE_IMAGES))
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00:00Z", "--horizon-days", "100")

    payload = json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout)
    table = runner.invoke(app, args).stdout

    # old: archived 123 days before day 0, so gone at once; mid: archived on day 0, in archive from day 1,
    # more than 90 days there on day 91; new: 7 days old on day 0, archived on day 24, deleted on day 115.
    assert payload["archived"] == [
        {"digest": "sha256:mid", "rule_priority": 1, "day": 0},
        {"digest": "sha256:new", "rule_priority": 1, "day": 24},
    ]
    assert payload["expired"] == [
        {"digest": "sha256:old", "rule_priority": 2, "day": 0, "deletion": "already_archived"},
        {"digest": "sha256:mid", "rule_priority": 2, "day": 91, "deletion": "archive_then_expire"},
    ]
    assert re.search(r"sha256:mid .* ACTIVE .* day 0, rule 1 .* day 91, rule 2 .* expire", table)
    assert re.search(r"sha256:new .* ACTIVE .* day 24, rule 1 .* archive", table)
    assert (
        "Would delete 2 of 3 images within 100 days (0 expired directly, 1 archived then expired, "
        "1 already archived); 2 archived."
    ) in table


def test_lifecycle_preview_refuses_a_negative_horizon(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    result = runner.invoke(app, _preview_args(policy, images, "--horizon-days", "-1"))
    assert result.exit_code == 1  # a usage error, in a sub-group too
    assert "--horizon-days" in result.stderr


def test_lifecycle_preview_reads_get_lifecycle_policy_output(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    policy.write_text(json.dumps({"repositoryName": "x", "lifecyclePolicyText": json.dumps(POLICY)}))
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00:00Z")
    assert (
        json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout)["expired"][0]["digest"]
        == "sha256:a"
    )


def test_lifecycle_preview_invalid_policy_exits_1_with_the_reason(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    bad = json.loads(json.dumps(POLICY))
    bad["rules"][1]["rulePriority"] = 1
    policy.write_text(json.dumps(bad))
    result = runner.invoke(app, _preview_args(policy, images, "--format", "json"))
    assert result.exit_code == 1
    assert "rules[1].rulePriority" in result.stderr
    assert result.stdout == ""


def test_lifecycle_preview_bad_images_name_the_field(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    images.write_text(json.dumps([{"digest": "sha256:a", "tags": [], "pushed_at": "yesterday"}]))
    result = runner.invoke(app, _preview_args(policy, images))
    assert result.exit_code == 1
    assert "[0].pushed_at: 'yesterday' is not an ISO-8601 timestamp" in result.stderr


AGE_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "any",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 30,
            },
            "action": {"type": "expire"},
        }
    ]
}
DESCRIBE_IMAGES = ROOT / "tests" / "data" / "describe_images"  # recorded AWS examples: see SOURCE.md there


@pytest.mark.parametrize(
    ("recorded", "now", "day", "digest"),
    [
        # pushed 2019-08-06T21:51:15Z (epoch seconds, as AWS CLI v1 prints it): 30 days old after day 16
        ("aws_cli_reference_example.json", "2019-08-20T00:00:00Z", 17, "sha256:4a1c6567"),
        # pushed 2021-09-23T11:39:30-05:00 (as AWS CLI v2 prints it), 16:39:30 UTC: 30 days old after day 22
        ("ecr_user_guide_helm_chart.json", "2021-10-01T00:00:00Z", 23, "sha256:dd8aebdd"),
    ],
)
def test_lifecycle_preview_takes_describe_images_output_as_the_aws_cli_prints_it(
    tmp_path: Path, recorded: str, now: str, day: int, digest: str
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(AGE_POLICY))
    images = DESCRIBE_IMAGES / recorded
    result = runner.invoke(app, [*_preview_args(policy, images, "--now", now), "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["images"] == 1
    assert [(e["day"], e["digest"][:15]) for e in payload["expired"]] == [(day, digest)]

    listed = tmp_path / "image_details.json"  # `--query imageDetails`: the list alone
    listed.write_text(json.dumps(json.loads(images.read_text())["imageDetails"]))
    again = runner.invoke(app, [*_preview_args(policy, listed, "--now", now), "--format", "json"])
    assert json.loads(again.stdout) == payload


def test_lifecycle_preview_refuses_one_page_of_describe_images(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    images.write_text(json.dumps({"imageDetails": [], "nextToken": "abc"}))
    result = runner.invoke(app, _preview_args(policy, images))
    assert result.exit_code == 1
    assert "one page of several" in result.stderr


def test_lifecycle_preview_rejects_a_naive_now(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00")
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "has no UTC offset" in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["plan", "--format", "xml"], "'xml' is not one of"),
        (["audit", "--no-such-option"], "No such option"),
        (["enforce", "--concurrency", "0"], "--concurrency"),
        (["invoke"], "Missing option '--function'"),
        (["valdate"], "No such command"),
        ([], "Usage"),
    ],
)
def test_a_usage_error_exits_1_not_2(args: list[str], said: str) -> None:
    """2 is `plan`'s "changes pending" and `audit`'s "findings": a usage error is an error (terraform)."""
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert said in result.output


def test_every_command_has_help_with_an_example() -> None:
    commands = ("demo", "sandbox", "validate", "plan", "audit", "enforce", "invoke", "documents", "schema")
    for name in commands:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.stdout, name
    lifecycle_help = runner.invoke(app, ["lifecycle", "preview", "--help"]).stdout
    for taught in ("Example", "--horizon-days", "last_archived_at", "archive_then_expire", "ACTIVATING"):
        assert taught in lifecycle_help, taught


def test_an_internal_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecr_drift.cli import app as app_module

    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "app", broken)
    monkeypatch.delenv("ECR_DRIFT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exited:
        app_module.main()
    assert exited.value.code == 1
    assert (
        capsys.readouterr().err
        == "error: internal error: RuntimeError: boom (ECR_DRIFT_DEBUG=1 shows where)\n"
    )
    monkeypatch.setenv("ECR_DRIFT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        app_module.main()
