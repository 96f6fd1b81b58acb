"""One meaning for the exit codes, and output for people and for pipes.

The exit-code table is ``account.EXIT_CODES``: the README shows it (checked here), each command's --help
shows it, and plan, audit and enforce run here through each of its rows on the same accounts (moto).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from ecr_drift.cli import account
from ecr_drift.cli.account import EXIT_CODES, EXIT_OK, ExitCase, exit_code_table
from ecr_drift.cli.app import app
from ecr_drift.cli.render import TSV_COLUMNS, print_report, summary_line, tsv_lines
from ecr_drift.findings import REGISTRY, REPOSITORY, UNMANAGED_REPOSITORY, Action, Finding, Report
from ecr_drift.publish.sns import message as sns_message
from ecr_drift.settings import registry_settings, repository_settings
from tests.aws_calls import AwsCalls
from tests.cli import test_account_commands as commands
from tests.cli import test_plan
from tests.conftest import EXAMPLE_PATH, REGION, ROOT

# Fixtures: ``calls`` records the CLI's ECR calls, ``baseline`` is the example applied by `enforce --yes`,
# ``stubbed_lambda`` answers `ecr-drift invoke`.
calls, baseline, stubbed_lambda = commands.calls, commands.baseline, commands.stubbed_lambda
runner, DESIRED = commands.runner, commands.DESIRED
BOX_DRAWING = set("│┃─━┏┓┗┛┡┩┠┨└┘┌┐├┤┬┴┼╇╈")
ESC = "\x1b"

# ---- the exit-code table, row by row --------------------------------------------------------------------

Scenario = Callable[[Path, pytest.MonkeyPatch], list[str]]


def _compliant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return DESIRED


def _only_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    commands._stray()  # an unmanaged repository
    return DESIRED


def _fixable_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    commands._drift_scan_on_push()
    return DESIRED


def _held_by_a_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    test_plan.busy_repository()
    document = json.loads(EXAMPLE_PATH.read_text())
    document["repositories"]["busy"] = test_plan.KEEP_ONE  # the lifecycle guard blocks it
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(document))
    return ["--desired", str(path)]


def _failed_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    commands.deny_operation(monkeypatch, "GetLifecyclePolicy")
    return DESIRED


def _an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    path = tmp_path / "bad.json"
    path.write_text('{"version": 1, "repositories": {"Bad_Name": {}}}')
    return ["--desired", str(path)]


# In EXIT_CODES' order: a row added there needs its scenario here (zip is strict).
SCENARIOS: tuple[Scenario, ...] = (
    _compliant,
    _only_reported,
    _fixable_drift,
    _held_by_a_guard,
    _failed_read,
    _an_error,
)


def exit_code(*args: str) -> int:
    return runner.invoke(app, list(args)).exit_code


@pytest.mark.parametrize(
    ("case", "scenario"),
    list(zip(EXIT_CODES, SCENARIOS, strict=True)),
    ids=[scenario.__name__.strip("_") for scenario in SCENARIOS],
)
def test_plan_audit_and_enforce_exit_as_the_table_says(
    case: ExitCase,
    scenario: Scenario,
    baseline: AwsCalls,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desired = scenario(tmp_path, monkeypatch)

    plan, audit = exit_code("plan", *desired), exit_code("audit", *desired)
    strict = exit_code("plan", *desired, "--strict"), exit_code("audit", *desired, "--strict")
    enforce = exit_code("enforce", "--yes", *desired)
    audit_after = exit_code("audit", *desired)

    assert (plan, audit, enforce) == (case.plan, case.audit, case.enforce)
    assert strict == ((case.strict,) * 2 if case.strict is not None else (case.plan, case.audit))
    # audit gates CI: once enforce has left nothing to write or hold it passes, else it still fails.
    assert audit_after == (EXIT_OK if enforce == EXIT_OK else case.audit)


def test_the_readme_shows_the_exit_code_table() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"<!-- exit-codes -->\n{exit_code_table()}\n" in readme


@pytest.mark.parametrize("command", ["plan", "audit", "enforce", "invoke"])
def test_each_commands_help_shows_the_exit_code_table(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "220"})
    assert result.exit_code == 0
    assert "Exit codes" in result.stdout
    for case in EXIT_CODES:  # rendered from Markdown: no backticks; a cell's first words on its first line
        assert " ".join(case.situation.replace("`", "").split()[:4]) in result.stdout


def test_invoke_exits_as_audit_takes_strict_and_writes_tsv(stubbed_lambda: Stubber) -> None:
    stray = Finding("stray", UNMANAGED_REPOSITORY, None, {}, Action.REPORTED).to_dict()
    for _ in range(3):
        body = commands._report([stray])
        stubbed_lambda.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())},  # type: ignore[dict-item]
        )

    assert exit_code("invoke", "--function", "f") == EXIT_OK
    assert exit_code("invoke", "--function", "f", "--strict") == 2
    header, line = runner.invoke(app, ["invoke", "--function", "f", "-f", "tsv"]).stdout.splitlines()
    assert header.split("\t") == list(TSV_COLUMNS)
    assert line.split("\t")[:4] == ["stray", UNMANAGED_REPOSITORY, "", "reported"]


# ---- tables: narrow terminals, pipes, TSV ------------------------------------------------------------------


def every_setting() -> Report:
    """A finding for each setting a finding can have, each with the first call that setting makes."""
    findings = [
        Finding("team-a/api", setting.name, "x", "y", calls=tuple(w.operation for w in setting.writes[:1]))
        for setting in repository_settings()
    ]
    findings += [
        Finding(
            REGISTRY, setting.name, "x", "y", key="k", calls=tuple(w.operation for w in setting.writes[:1])
        )
        for setting in registry_settings()
    ]
    findings += [
        Finding("team-a/api", REPOSITORY, True, False, calls=("CreateRepository",)),
        Finding("stray", UNMANAGED_REPOSITORY, None, {}, Action.REPORTED, message="matches no pattern"),
    ]
    return Report("audit", "cli", ["team-a/api", "stray"], findings)


@pytest.mark.parametrize("width", [60, 100])
def test_a_narrow_terminal_wraps_cells_and_never_cuts_a_name(width: int) -> None:
    report = every_setting()
    out = io.StringIO()

    print_report(Console(file=out, force_terminal=True, width=width, color_system=None), report, plan=True)

    text = out.getvalue()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    for finding in report.findings:
        assert finding.setting in text, finding.setting
    for call in {call for finding in report.findings for call in finding.calls or ()}:
        assert call in text, call  # whole: a table where its words fit, a block a finding where not


def test_a_terminal_too_narrow_for_the_table_gets_a_block_a_finding() -> None:
    report = Report("audit", "cli", ["temporal-worker"], [TEMPORAL_SCAN])
    out = io.StringIO()

    print_report(Console(file=out, force_terminal=True, width=60, color_system=None), report, plan=True)

    assert [line.rstrip() for line in out.getvalue().splitlines()[:4]] == [
        "temporal-worker  scan_on_push",
        "  expected       true",
        "  actual         false",
        "  enforce would  PutImageScanningConfiguration",
    ]


TEMPORAL_SCAN = Finding(
    "temporal-worker", "scan_on_push", True, False, calls=("PutImageScanningConfiguration",)
)


def team_a_api(tmp_path: Path) -> list[str]:
    """Repository team-a/api with three findings (scan on push, tag mutability, tags); one unmanaged."""
    for name in ("team-a/api", "team-b/web"):
        boto3.client("ecr", region_name=REGION).create_repository(repositoryName=name)
    document = {
        "version": 1,
        "repositories": {
            "team-a/api": {"scan_on_push": True, "image_tag_mutability": "IMMUTABLE", "tags": {"team": "a"}}
        },
    }
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(document))
    return ["--desired", str(path)]


def test_piped_table_is_plain_and_every_line_names_its_resource(calls: AwsCalls, tmp_path: Path) -> None:
    desired = team_a_api(tmp_path)

    result = runner.invoke(app, ["audit", *desired])
    findings = json.loads(runner.invoke(app, ["audit", *desired, "--format", "json"]).stdout)["findings"]

    assert result.exit_code == 2
    assert not BOX_DRAWING & set(result.stdout)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["resource", "setting", "expected", "actual", "action"]
    grepped = [line for line in lines if "team-a/api" in line]  # `grep team-a/api`
    assert [line.split()[:2] for line in grepped] == [
        ["team-a/api", "image_tag_mutability"],
        ["team-a/api", "scan_on_push"],
        ["team-a/api", "tags"],
    ]
    assert len(grepped) == len([f for f in findings if f["resource"] == "team-a/api"])
    assert "1 repository checked" not in result.stdout
    assert "2 repositories checked, 4 findings" in result.stdout
    assert {f["message"] for f in findings if f["setting"] == "tags"} == {"tags differ"}


def test_tsv_is_a_finding_per_line_with_json_values(calls: AwsCalls, tmp_path: Path) -> None:
    desired = team_a_api(tmp_path)

    rows = {}
    for command in (["plan"], ["audit"], ["enforce", "--yes"]):
        lines = runner.invoke(app, [*command, *desired, "--format", "tsv"]).stdout.splitlines()
        assert lines[0].split("\t") == list(TSV_COLUMNS), command
        rows[command[0]] = [dict(zip(TSV_COLUMNS, line.split("\t"), strict=True)) for line in lines[1:]]

    for command, each in rows.items():
        assert [(row["resource"], row["setting"]) for row in each] == [
            ("team-a/api", "scan_on_push"),
            ("team-a/api", "image_tag_mutability"),
            ("team-a/api", "tags"),
            ("team-b/web", UNMANAGED_REPOSITORY),
        ], command
        scan, _, tags, stray = each
        assert scan["expected"] == "true", command  # not a string: compact JSON
        assert json.loads(tags["expected"]) == {"team": "a"}, command
        assert tags["message"] == "tags differ", command  # a string: as it is
        assert stray["expected"] == "", command  # none
    assert [row["action"] for row in rows["audit"]] == ["drift", "drift", "drift", "reported"]
    assert [row["action"] for row in rows["enforce"]] == ["remediated"] * 3 + ["reported"]
    assert rows["plan"][0]["calls"] == '["PutImageScanningConfiguration"]'
    assert rows["enforce"][0]["calls"] == ""  # none: in an enforce report the calls were made


def test_tsv_escapes_tabs_line_breaks_and_backslashes() -> None:
    finding = Finding(
        "team-a/api", "tags", {"k": "a\tb"}, None, Action.FAILED, error="one\ttwo\nthree \\ four"
    )

    _, line = tsv_lines(Report("audit", "cli", ["team-a/api"], [finding]))

    fields = dict(zip(TSV_COLUMNS, line.split("\t"), strict=True))
    assert fields["error"] == "one\\ttwo\\nthree \\\\ four"
    assert fields["expected"] == '{"k":"a\\\\tb"}'  # JSON's own escape, its backslash escaped
    assert fields["actual"] == fields["origin"] == ""


# ---- options and errors -----------------------------------------------------------------------------------


def test_no_color_before_the_command_holds_for_that_invocation_only(calls: AwsCalls, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 2}')
    empty = tmp_path / "desired_state.json"
    empty.write_text('{"version": 1}')
    terminal = {"FORCE_COLOR": "1"}  # rich styles as on a terminal

    for command in (["validate", str(bad)], ["audit", "--desired", str(empty)]):
        assert ESC in runner.invoke(app, command, env=terminal).output, command
        plain = runner.invoke(app, ["--no-color", *command], env=terminal)
        assert plain.exit_code == runner.invoke(app, command).exit_code, command
        assert ESC not in plain.output, command
        assert ESC in runner.invoke(app, command, env=terminal).output, command  # not left behind


@pytest.mark.parametrize(
    ("args", "start", "end"),
    [
        (["audit", "--foo"], "error: No such option: --foo", "(try 'ecr-drift audit --help')"),
        (
            ["--no-color", "plan", "--strcit"],
            "error: No such option: --strcit",
            "(try 'ecr-drift plan --help')",
        ),
        (["nosuch"], "error: No such command 'nosuch'.", "(try 'ecr-drift --help')"),
        (["audit", "-f", "xml"], "error: Invalid value for '--format'", "(try 'ecr-drift audit --help')"),
    ],
)
def test_a_usage_error_is_one_line_and_exits_1(args: list[str], start: str, end: str) -> None:
    result = runner.invoke(app, args)

    assert result.exit_code == 1
    assert result.stdout == ""
    [error] = result.stderr.splitlines()
    assert error.startswith(start)
    assert error.endswith(end)


def test_root_help_documents_ecr_drift_debug() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "ECR_DRIFT_DEBUG=1" in result.stdout
    assert "--no-color" in result.stdout


# ---- enforce's question, plurals ---------------------------------------------------------------------------


def test_enforce_with_json_shows_the_plan_on_stderr_before_asking(
    baseline: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands._drift_scan_on_push()
    monkeypatch.setattr(account, "stdin_is_terminal", lambda: True)

    declined = runner.invoke(app, ["enforce", *DESIRED, "--format", "json"], input="n\n")
    accepted = runner.invoke(app, ["enforce", *DESIRED, "--format", "json"], input="y\n")

    # CliRunner echoes the answer typed to stdout, where a terminal would show it.
    assert declined.exit_code == 1
    assert declined.stdout.strip() == "n"
    shown, _ = declined.stderr.split("Apply 1 change?")
    assert "utila-cosigner" in shown
    assert "PutImageScanningConfiguration" in shown
    assert accepted.exit_code == 0
    report = json.loads(accepted.stdout.strip().removeprefix("y"))  # the report alone, no plan before it
    assert report["summary"]["remediated"] == 1


def test_counts_agree_with_their_nouns() -> None:
    one = Finding("team-a/api", "scan_on_push", True, False)
    assert summary_line(Report("enforce", "cli", ["team-a/api"], [one], writes=1)) == (
        "1 repository checked, 1 finding, 0 fixed, 0 failed, 1 write call"
    )
    assert summary_line(Report("enforce", "cli", ["a", "b"], [one, one], writes=2)).startswith(
        "2 repositories checked, 2 findings"
    )
    assert sns_message(Report("audit", "cli", ["team-a/api"], [one]), [one]).startswith(
        "ecr-drift-enforcer found 1 difference from the desired state"
    )
    settings = {setting.name: setting for setting in repository_settings()}
    assert settings["tags"].differs == "tags differ"
    assert settings["scan_on_push"].differs == "scan on push differs"
