"""The commands that need no AWS account: validate, schema, documents, lifecycle preview."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from handler.cli.app import app
from handler.desired.schema import render_schema
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


def test_validate_missing_file() -> None:
    result = runner.invoke(app, ["validate", "/nonexistent/desired_state.json"])
    assert result.exit_code == 1
    assert "cannot read /nonexistent/desired_state.json: No such file or directory" in result.stderr


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


def test_lifecycle_preview_json(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00:00Z")
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "expired": [{"digest": "sha256:a", "rule_priority": 1}, {"digest": "sha256:c", "rule_priority": 2}],
        "archived": [],
    }


def test_lifecycle_preview_table(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00:00Z")
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "2 of 4 images would be expired, 0 archived." in result.stdout


def test_lifecycle_preview_reads_get_lifecycle_policy_output(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    policy.write_text(json.dumps({"repositoryName": "x", "lifecyclePolicyText": json.dumps(POLICY)}))
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00:00Z")
    assert json.loads(runner.invoke(app, [*args, "--json"]).stdout)["expired"][0]["digest"] == "sha256:a"


def test_lifecycle_preview_invalid_policy_exits_1_with_the_reason(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    bad = json.loads(json.dumps(POLICY))
    bad["rules"][1]["rulePriority"] = 1
    policy.write_text(json.dumps(bad))
    result = runner.invoke(app, _preview_args(policy, images, "--json"))
    assert result.exit_code == 1
    assert "rules[1].rulePriority" in result.stderr
    assert result.stdout == ""


def test_lifecycle_preview_bad_images_name_the_field(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    images.write_text(json.dumps([{"digest": "sha256:a", "tags": [], "pushed_at": "yesterday"}]))
    result = runner.invoke(app, _preview_args(policy, images))
    assert result.exit_code == 1
    assert "[0].pushed_at: 'yesterday' is not an ISO-8601 timestamp" in result.stderr


def test_lifecycle_preview_rejects_a_naive_now(preview_files: tuple[Path, Path]) -> None:
    policy, images = preview_files
    args = _preview_args(policy, images, "--now", "2026-02-01T00:00")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "has no UTC offset" in result.stderr


def test_every_command_has_help_with_an_example() -> None:
    for name in ("demo", "validate", "plan", "audit", "enforce", "invoke", "documents", "schema"):
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.stdout, name
    assert "Example" in runner.invoke(app, ["lifecycle", "preview", "--help"]).stdout


def test_an_internal_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from handler.cli import app as app_module

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
