"""`ecr-drift lifecycle preview`: which images a lifecycle policy would archive and delete, and on which day,
evaluated locally."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ecr_drift.cli.output import Output, OutputFormat
from ecr_drift.desired.loading import parse_json_text
from ecr_drift.desired.models import LifecycleGuard
from ecr_drift.documents.lifecycle_preview import Fate, Image, Step, deletion_summary, load_images, simulate
from ecr_drift.documents.problems import DocumentError

# The contract's default, so a preview looks as far ahead as the lifecycle guard does.
DEFAULT_HORIZON_DAYS: int = LifecycleGuard.model_fields["horizon_days"].default
_OUTCOME_STYLE = {"expire": "red", "archive": "yellow", "keep": "green"}

lifecycle_app = typer.Typer(
    help="Lifecycle policies: evaluate one locally before it expires anything.", no_args_is_help=True
)


def _read_json(path: Path, what: str, output: Output) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        output.err.print(f"[bold red]error:[/] cannot read the {what} file {path}: {error.strerror}")
        raise typer.Exit(1) from None
    data, problems = parse_json_text(text)
    if problems:
        output.problems(str(path), problems)
        raise typer.Exit(1)
    return data


def _policy_document(data: Any) -> Any:
    # Accept `aws ecr get-lifecycle-policy` output as it is: the policy is a string inside it.
    if isinstance(data, dict) and isinstance(data.get("lifecyclePolicyText"), str):
        return json.loads(data["lifecyclePolicyText"])
    return data


def _timestamp(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not ISO-8601, e.g. 2026-01-31T12:00:00Z") from None
    if parsed.utcoffset() is None:
        raise typer.BadParameter(f"{value!r} has no UTC offset, e.g. 2026-01-31T12:00:00Z")
    return parsed


@lifecycle_app.command("preview")
def preview_command(
    policy: Annotated[
        Path,
        typer.Option("--policy", help="An ECR lifecycle policy (or `aws ecr get-lifecycle-policy` output)."),
    ],
    images: Annotated[
        Path,
        typer.Option(
            "--images",
            help='`aws ecr describe-images` output, or a JSON list of images; see "Images file" above.',
        ),
    ],
    now: Annotated[
        str | None, typer.Option("--now", help="Day 0: evaluate from this time (default: now).")
    ] = None,
    horizon_days: Annotated[
        int,
        typer.Option(
            "--horizon-days",
            min=0,
            help="Replay this many days after --now, one evaluation a day (the default is the lifecycle "
            "guard's: enforcement.lifecycle_guard.horizon_days); 0 evaluates at --now only, as ECR's own "
            "preview does.",
        ),
    ] = DEFAULT_HORIZON_DAYS,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", "-f", help='`table` for people, `json` for machines; see "JSON output" above.'
        ),
    ] = OutputFormat.table,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")] = False,
) -> None:
    """Replay a lifecycle policy on a list of images, by ECR's own rules, without touching AWS.

    Rules apply by priority; an image is archived or expired by at most one rule; oldest images go first. ECR
    evaluates a policy about once a day, so the preview replays it a day at a time from --now (day 0) through
    day --horizon-days, with no new pushes, pulls or restores: an image archived on day d is in archive
    storage from day d + 1, where the policy's `storageClass: archive` rules count its days since then and
    may delete it. An invalid policy exits 1 with every reason and its path.

    **Images file**: what `aws ecr describe-images --repository-name NAME` prints, as it is (every page:
    not `--no-paginate` or `--max-items`), or its `imageDetails` list. The policy reads `imageDigest`,
    `imageTags`, `imagePushedAt`, `lastRecordedPullTime`, `imageStatus` and `lastArchivedAt`; the other
    fields are ignored. Times are ISO-8601 with a UTC offset, as the AWS CLI v2 prints them, or epoch
    seconds, as v1 does.

        {"imageDetails": [{"imageDigest": "sha256:4f2a...", "imageTags": ["v1.4"],
          "imagePushedAt": "2025-06-01T09:00:00-07:00", "imageSizeInBytes": 48318255}]}

    Or a list written by hand, one object per image: `last_pulled_at`, `status` (`ACTIVE`, the default,
    `ARCHIVED` or `ACTIVATING`) and `last_archived_at` are optional. `ACTIVATING` counts as standard storage:
    ECR restores an image within minutes, so the policy next sees it restored.

        [{"digest": "sha256:4f2a...", "tags": ["v1.4"], "pushed_at": "2025-06-01T09:00:00Z",
          "status": "ARCHIVED", "last_archived_at": "2025-12-01T09:00:00Z"}]

    **JSON output** (--format json): keys sorted, lists oldest image first; an image archived and then expired
    within the horizon is in both lists. `deletion` is `direct` (expired from standard storage),
    `archive_then_expire` or `already_archived`.

        {"archived": [{"day": 0, "digest": "sha256:9c1e...", "rule_priority": 1}],
         "expired": [{"day": 2, "deletion": "archive_then_expire", "digest": "sha256:9c1e...",
                      "rule_priority": 2}],
         "horizon_days": 30, "images": 4, "now": "2026-02-01T00:00:00+00:00"}

    **Examples**

        aws ecr describe-images --repository-name api > images.json

        ecr-drift lifecycle preview --policy policy.json --images images.json

        ecr-drift lifecycle preview --policy policy.json --images images.json --horizon-days 0 --format json

        ecr-drift lifecycle preview --policy policy.json --images images.json --now 2026-01-31T00:00:00Z
    """
    output = Output(output_format, no_color)
    when = _timestamp(now)
    document = _policy_document(_read_json(policy, "policy", output))
    try:
        loaded = load_images(_read_json(images, "images", output))
        fates = simulate(document, loaded, when, horizon_days)
    except DocumentError as error:
        output.problems(str(policy), error.problems)
        raise typer.Exit(1) from None
    except ValueError as error:
        output.err.print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    if output.json:
        output.emit_json(
            {
                "now": when.isoformat(),
                "horizon_days": horizon_days,
                "images": len(loaded),
                "archived": [_step_json(fate.digest, fate.transition) for fate in fates if fate.transition],
                "expired": [
                    _step_json(fate.digest, fate.expiry) | {"deletion": fate.deletion}
                    for fate in fates
                    if fate.expiry
                ],
            }
        )
        return
    _print_table(output, loaded, fates, when, horizon_days)


def _step_json(digest: str, step: Step) -> dict[str, Any]:
    return {"digest": digest, "rule_priority": step.rule_priority, "day": step.day}


def _print_table(
    output: Output, images: list[Image], fates: list[Fate], now: datetime, horizon_days: int
) -> None:
    by_digest = {fate.digest: fate for fate in fates}
    table = Table(header_style="bold")
    for column in ("digest", "tags", "pushed at", "status", "archived", "expired", "outcome"):
        table.add_column(column)
    for image in sorted(images, key=lambda i: i.pushed_at):
        fate = by_digest.get(image.digest, Fate(image.digest, already_archived=False))
        outcome = "expire" if fate.expiry else "archive" if fate.transition else "keep"
        table.add_row(
            escape(image.digest[:19]),
            escape(", ".join(image.tags) or "(untagged)"),
            image.pushed_at.isoformat(),
            image.status,
            _step_text(fate.transition),
            _step_text(fate.expiry),
            f"[{_OUTCOME_STYLE[outcome]}]{outcome}[/]",
        )
    output.out.print(table)
    archived = sum(1 for fate in fates if fate.transition)
    output.out.print(
        f"Would delete {deletion_summary(fates, len(images), horizon_days)}; {archived} archived. "
        f"Day 0 is {now.isoformat()}."
    )


def _step_text(step: Step | None) -> str:
    return "" if step is None else f"day {step.day}, rule {step.rule_priority}"
