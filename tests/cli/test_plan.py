"""`ecr-drift plan` shows what enforce will do, not what it might: per finding the calls enforce would make,
what its guards would block and why, documents as a diff; and exits 2 only when enforce would write or hold
something (the whole exit-code table: test_exit_codes_and_output.py)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from rich.console import Console

from ecr_drift.blast_radius import OVERRIDE
from ecr_drift.cli import account
from ecr_drift.cli.app import app
from ecr_drift.cli.render import WIDE_TERMINAL, print_report
from ecr_drift.findings import Finding, Report
from tests.aws_calls import AwsCalls
from tests.cli import test_account_commands as commands
from tests.conftest import REGION
from tests.integration.test_engine import OCI_MANIFEST, policy_with_intruder
from tests.integration.test_safety_guards import LIMIT, WIPE, repositories_with_policies

# The account fixtures of the other commands' tests: ``calls`` records the CLI's ECR calls, ``baseline`` is
# the example applied by `enforce --yes`.
calls, baseline = commands.calls, commands.baseline
runner, DESIRED = commands.runner, commands.DESIRED
deny_operation, _drift_scan_on_push, _stray = (
    commands.deny_operation,
    commands._drift_scan_on_push,
    commands._stray,
)


def ecr() -> Any:
    return boto3.client("ecr", region_name=REGION)


def squeezed(text: str) -> str:
    """``text`` without whitespace: a message a table cell wrapped over several lines compares whole."""
    return "".join(text.split())


def table_rows(table: str) -> dict[str, list[str]]:
    """Each row's cells after the first two, by "resource setting" (squeezed), from the table a pipe gets:
    a header, then a line per finding whose columns start where the header's names do."""
    lines = table.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("resource  "))
    starts = [match.start() for match in re.finditer(r"\S+(?: \S+)*", lines[start])]  # 2+ spaces apart
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 :]:
        if line.startswith("[") or re.match(r"\d+ repositor(y|ies) checked", line):  # footnotes, summary
            break
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows[f"{cells[0]} {cells[1]}"] = [squeezed(cell) for cell in cells[2:]]
    return rows


def last_cells(table: str) -> dict[str, str]:
    """What enforce would do (a plan) or did, by "resource setting"."""
    return {key: cells[-1] for key, cells in table_rows(table).items()}


def plan_json(*args: str) -> tuple[int, dict[tuple[str, str], dict[str, Any]]]:
    result = runner.invoke(app, ["plan", *args, "--format", "json"])
    findings = json.loads(result.stdout)["findings"]
    return result.exit_code, {(f["resource"], f["setting"]): f for f in findings}


def desired_file(tmp_path: Path, document: dict[str, Any]) -> list[str]:
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps({"version": 1, **document}))
    return ["--desired", str(path)]


# ---- the calls enforce would make, per finding -------------------------------------------------------------


def test_tags_without_remove_unmanaged_tags_plan_tag_resource_only(baseline: AwsCalls) -> None:
    arn = ecr().describe_repositories(repositoryNames=["admin-dashboard"])["repositories"][0]["repositoryArn"]
    ecr().tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "x"}, {"Key": "owner", "Value": "y"}])

    code, findings = plan_json(*DESIRED)
    table = runner.invoke(app, ["plan", *DESIRED]).stdout

    assert code == 2
    assert findings["admin-dashboard", "tags"]["calls"] == ["TagResource"]
    assert last_cells(table)["admin-dashboard tags"] == "TagResource"
    assert "UntagResource" not in table
    assert baseline.writes == []


def test_a_missing_cache_rule_plans_its_creation_only(baseline: AwsCalls) -> None:
    ecr().delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")

    code, findings = plan_json(*DESIRED)
    table = runner.invoke(app, ["plan", *DESIRED]).stdout

    assert code == 2
    assert findings["registry", "pull_through_cache_rule"]["calls"] == ["CreatePullThroughCacheRule"]
    assert last_cells(table)["registry pull_through_cache_rule [ecr-public]"] == "CreatePullThroughCacheRule"
    assert "UpdatePullThroughCacheRule" not in table
    assert "DeletePullThroughCacheRule" not in table


def test_json_lists_each_findings_calls_and_an_audit_says_the_same(baseline: AwsCalls) -> None:
    _drift_scan_on_push()
    _stray()

    _, planned = plan_json(*DESIRED)
    audited = json.loads(runner.invoke(app, ["audit", *DESIRED, "--format", "json"]).stdout)["findings"]

    assert planned["utila-cosigner", "scan_on_push"]["calls"] == ["PutImageScanningConfiguration"]
    assert planned["stray", "unmanaged_repository"]["calls"] == []
    assert {(f["resource"], f["setting"]): f["calls"] for f in audited} == {
        key: finding["calls"] for key, finding in planned.items()
    }


# ---- exit codes: 2 only when enforce would write or hold something -----------------------------------------


def test_plan_with_only_reported_findings_exits_0_and_lists_them(baseline: AwsCalls) -> None:
    _stray()

    result = runner.invoke(app, ["plan", *DESIRED])

    assert result.exit_code == 0, result.output
    assert last_cells(result.stdout)["stray unmanaged_repository"] == squeezed(
        "reported: matches no repository and no pattern in the desired state"
    )
    assert "plan: enforce would write nothing" in result.stdout


def test_plan_with_fixable_drift_exits_2(baseline: AwsCalls) -> None:
    _drift_scan_on_push()
    _stray()

    result = runner.invoke(app, ["plan", *DESIRED])

    assert result.exit_code == 2
    assert "plan: enforce would make 1 write call for 1 finding\n" in result.stdout


def test_plan_with_a_failed_read_exits_1(baseline: AwsCalls, monkeypatch: pytest.MonkeyPatch) -> None:
    _drift_scan_on_push()
    deny_operation(monkeypatch, "GetLifecyclePolicy")

    assert runner.invoke(app, ["plan", *DESIRED]).exit_code == 1


# ---- the guards, predicted ---------------------------------------------------------------------------------


def test_plan_predicts_the_blast_radius_blocks_and_their_reason(calls: AwsCalls, tmp_path: Path) -> None:
    names = repositories_with_policies(ecr(), LIMIT + 1)
    desired = desired_file(tmp_path, WIPE)

    code, findings = plan_json(*desired)
    table = runner.invoke(app, ["plan", *desired]).stdout

    assert code == 2  # scan on push is still fixed everywhere
    for name in names:
        assert findings[name, "repository_policy"]["action"] == "blocked"
        assert findings[name, "repository_policy"]["calls"] == []
        assert findings[name, "scan_on_push"]["calls"] == ["PutImageScanningConfiguration"]
    message = findings[names[0], "repository_policy"]["message"]
    assert f"on {LIMIT + 1} repositories" in message
    assert OVERRIDE in message
    assert last_cells(table)[f"{names[0]} repository_policy"] == squeezed(f"blocked: {message}")
    assert f"plan: enforce would make {LIMIT + 1} write calls for {LIMIT + 1} findings" in table
    assert f"{LIMIT + 1} blocked" in table
    assert calls.writes == []


def test_plan_with_only_blocked_changes_exits_2_and_enforce_1(calls: AwsCalls, tmp_path: Path) -> None:
    repositories_with_policies(ecr(), LIMIT + 1)
    desired = desired_file(tmp_path, {"repository_patterns": {"*": {"policy_statements": []}}})

    planned = runner.invoke(app, ["plan", *desired])

    assert planned.exit_code == 2  # enforce would hold them: something to look at
    assert "plan: enforce would write nothing" in planned.stdout
    assert runner.invoke(app, ["enforce", "--yes", *desired]).exit_code == 1
    assert calls.writes == []


def test_enforce_asks_only_for_what_the_guards_let_through(
    calls: AwsCalls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repositories_with_policies(ecr(), LIMIT + 1)
    desired = desired_file(tmp_path, WIPE)
    monkeypatch.setattr(account, "stdin_is_terminal", lambda: True)

    held = runner.invoke(app, ["enforce", *desired], input="n\n")
    lifted = runner.invoke(app, ["enforce", *desired, "--allow-mass-change"], input="n\n")

    assert held.exit_code == lifted.exit_code == 1  # declined
    assert f"Apply {LIMIT + 1} changes?" in held.stderr  # scan on push; the policies are blocked
    assert f"Apply {2 * (LIMIT + 1)} changes?" in lifted.stderr
    assert calls.writes == []


# A lifecycle policy for "busy" that keeps 1 of its 4 images: over the lifecycle guard's 50%.
KEEP_ONE = {"lifecycle": [{"tag_status": "any", "max_images": 1}]}


def busy_repository(images: int = 4) -> None:
    """Repository "busy" with ``images`` images, digests ``sha256:0…0``, ``sha256:0…1``, ..."""
    ecr().create_repository(repositoryName="busy")
    for index in range(images):
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "n": index})
        ecr().put_image(
            repositoryName="busy",
            imageManifest=manifest,
            imageTag=f"t{index}",
            imageDigest=f"sha256:{index:064x}",
        )


def test_plan_predicts_the_lifecycle_guard_as_enforce_applies_it(calls: AwsCalls, tmp_path: Path) -> None:
    busy_repository()
    desired = desired_file(tmp_path, {"repositories": {"busy": KEEP_ONE}})

    code, planned = plan_json(*desired, "-r", "busy")
    table = runner.invoke(app, ["plan", *desired, "-r", "busy"]).stdout
    enforced = runner.invoke(app, ["enforce", "--yes", *desired, "-r", "busy", "--format", "json"])

    assert code == 2  # held by the guard: something to look at
    blocked = planned["busy", "lifecycle_policy"]
    assert blocked["action"] == "blocked"
    assert "3 of 4" in blocked["message"]
    assert "`ecr-drift enforce --allow-mass-expiry` applies it anyway" in blocked["message"]
    # Uncut in the table, digests of the examples included.
    assert last_cells(table)["busy lifecycle_policy"] == squeezed(f"blocked: {blocked['message']}")
    assert f"sha256:{0:064x}" in blocked["message"]
    assert enforced.exit_code == 1
    assert [f["message"] for f in json.loads(enforced.stdout)["findings"]] == [blocked["message"]]
    assert calls.writes == []
    assert calls.operations["DescribeImages"] >= 2  # the plan's count, and enforce's


# ---- documents: a diff, or in full in a footnote; never cut ------------------------------------------------


def test_plan_diff_shows_a_policy_as_a_unified_diff(baseline: AwsCalls) -> None:
    policy_with_intruder(ecr())

    result = runner.invoke(app, ["plan", *DESIRED, "--diff", "-r", "admin-dashboard"])

    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert "[1] admin-dashboard repository_policy" in lines
    assert "--- actual (the account)" in lines
    assert "+++ expected (desired state)" in lines
    assert '-      "Sid": "Intruder"' in lines  # enforce takes the intruder out
    assert any(line.startswith("@@ ") for line in lines)
    assert table_rows(result.stdout)["admin-dashboard repository_policy"][:2] == ["[1]", "[1]"]


def test_without_diff_a_long_document_is_in_a_footnote_whole(baseline: AwsCalls) -> None:
    policy_with_intruder(ecr())

    result = runner.invoke(app, ["plan", *DESIRED, "-r", "admin-dashboard"])

    assert table_rows(result.stdout)["admin-dashboard repository_policy"][:2] == ["[1]", "[1]"]
    assert "[1] admin-dashboard repository_policy" in result.stdout
    assert '"Sid":"Intruder"' in result.stdout
    assert "--- actual" not in result.stdout
    assert "…" not in result.stdout
    assert "..." not in result.stdout


def test_a_wide_terminal_shows_documents_as_a_diff_without_being_asked() -> None:
    rules = [{"rulePriority": n, "description": f"rule {n}", "action": {"type": "expire"}} for n in (1, 2)]
    finding = Finding(
        "admin-dashboard", "lifecycle_policy", {"rules": rules}, None, calls=("PutLifecyclePolicy",)
    )
    report = Report("audit", "cli", ["admin-dashboard"], [finding])
    for width, diffed in ((WIDE_TERMINAL, True), (WIDE_TERMINAL - 1, False)):
        out = io.StringIO()
        print_report(Console(file=out, force_terminal=True, width=width), report, plan=True)
        assert ("+++ expected (desired state)" in out.getvalue()) is diffed, width
        assert ('"description": "rule 2"' in out.getvalue()) is diffed, width


# ---- failed rows say why -----------------------------------------------------------------------------------


def test_a_failed_row_shows_its_message_and_the_missing_iam_action(
    baseline: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drift_scan_on_push()
    deny_operation(monkeypatch, "PutImageScanningConfiguration")

    result = runner.invoke(app, ["enforce", "--yes", *DESIRED])

    assert result.exit_code == 1
    assert last_cells(result.stdout)["utila-cosigner scan_on_push"] == squeezed(
        "failed: PutImageScanningConfiguration failed: AccessDeniedException: not authorized "
        "(the role needs ecr:PutImageScanningConfiguration)"
    )
