"""`ecr-drift lifecycle preview`: which images a lifecycle policy would expire, evaluated locally."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from handler.cli.output import Output
from handler.desired.loading import parse_json_text
from handler.documents.lifecycle_preview import Image, load_images, preview
from handler.documents.problems import DocumentError

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
            help='JSON list of {"digest", "tags", "pushed_at", "last_pulled_at"} (ISO-8601 times).',
        ),
    ],
    now: Annotated[str | None, typer.Option("--now", help="Evaluate at this time (default: now).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"expired": [...], "archived": [...]}.')
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")] = False,
) -> None:
    """Evaluate a lifecycle policy against a list of images, by ECR's own rules, without touching AWS.

    Rules apply by priority; an image is expired by at most one rule; oldest images go first. An invalid
    policy exits 1 with every reason and its path.

    **Example**

        ecr-drift lifecycle preview --policy policy.json --images images.json --json
    """
    output = Output(no_color=no_color)
    when = _timestamp(now)
    document = _policy_document(_read_json(policy, "policy", output))
    try:
        loaded = load_images(_read_json(images, "images", output))
        results = preview(document, loaded, when)
    except DocumentError as error:
        output.problems(str(policy), error.problems)
        raise typer.Exit(1) from None
    except ValueError as error:
        output.err.print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    by_action: dict[str, list[dict[str, Any]]] = {"expired": [], "archived": []}
    for result in results:
        entry = {"digest": result.digest, "rule_priority": result.rule_priority}
        by_action["expired" if result.action == "expire" else "archived"].append(entry)
    if as_json:
        output.emit_json(by_action)
        return
    _print_table(output, loaded, by_action)


def _print_table(output: Output, images: list[Image], by_action: dict[str, list[dict[str, Any]]]) -> None:
    fate = {e["digest"]: ("expire", e["rule_priority"]) for e in by_action["expired"]}
    fate |= {e["digest"]: ("archive", e["rule_priority"]) for e in by_action["archived"]}
    table = Table(header_style="bold")
    for column in ("digest", "tags", "pushed at", "rule", "outcome"):
        table.add_column(column)
    for image in sorted(images, key=lambda i: i.pushed_at):
        action, rule = fate.get(image.digest, ("keep", None))
        style = {"expire": "red", "archive": "yellow"}.get(action, "green")
        table.add_row(
            escape(image.digest[:19]),
            escape(", ".join(image.tags) or "(untagged)"),
            image.pushed_at.isoformat(),
            "" if rule is None else str(rule),
            f"[{style}]{action}[/]",
        )
    output.out.print(table)
    output.out.print(
        f"{len(by_action['expired'])} of {len(images)} images would be expired, "
        f"{len(by_action['archived'])} archived."
    )
