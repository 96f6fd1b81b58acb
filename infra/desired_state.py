"""The stack's desired state: read from the file the stack names, refused when it is the shipped example, and
summed up at preview (what `pulumi up` creates or imports, grants and replicates).

The shipped example is recognised by what it declares, not by its bytes or its name: a copy that was
reformatted, moved, or given another ``enforcement`` (``ecr-drift init`` writes it in audit mode) is still the
example, and still creates the example's repositories, replication and cross-account grant. The baseline
deploys them whatever the mode (audit stops the enforcer's writes, not Pulumi's), so it is refused in both.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi

from ecr_drift.desired import DesiredState, DesiredStateError, load_desired_state
from ecr_drift.desired.resolution import overlay
from ecr_drift.settings.creation_templates import creation_templates
from infra.config import APP_NAME, SettingsError, StackSettings

# declaration_sha256() of ecr_drift/cli/example_desired_state.json (the repository root's desired_state.json
# as shipped); tests/infra/test_desired_state.py checks both against it, so a changed example changes it too.
SHIPPED_EXAMPLE_SHA256 = "56fb05064957c66f11c3300a7157f55fc1ac22eff4fb3d318cc09fdbd1d98bd7"
# Left out of the comparison: they change neither what the baseline deploys nor whom it grants.
_NOT_DECLARATIONS = ("$schema", "enforcement")


def declaration_sha256(document: dict[str, Any]) -> str:
    """The SHA-256 of what a parsed desired-state document declares: without ``$schema`` and ``enforcement``,
    keys sorted, no whitespace. List order counts (a lifecycle rule's priority is its position)."""
    declared = {key: value for key, value in document.items() if key not in _NOT_DECLARATIONS}
    text = json.dumps(declared, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def load(settings: StackSettings) -> DesiredState:
    """The stack's desired state; a :class:`pulumi.RunError` with every problem when it does not validate, a
    :class:`SettingsError` when it is the shipped example and the stack does not allow that."""
    path = settings.desired_state_path
    try:
        state = load_desired_state(path, home=(settings.region, None))
    except DesiredStateError as error:
        # The same path-by-path problems `ecr-drift validate` prints, without a Python traceback around them.
        raise pulumi.RunError(str(error)) from None
    shipped_example = declaration_sha256(json.loads(path.read_text("utf-8"))) == SHIPPED_EXAMPLE_SHA256
    if shipped_example and not settings.allow_example_desired_state:
        grants = _grants(state)
        raise SettingsError(
            f"invalid stack configuration:\n  {APP_NAME}:desiredStatePath {settings.desired_state_file!r} is "
            f"the shipped example desired state: `pulumi up` would deploy it to this account, in audit mode "
            f"too (repositories {', '.join(sorted(state.repositories))}; replication "
            f"{'; '.join(_replication(state))}; cross-account grants {_describe_grants(grants)}). Write "
            "your own (`ecr-drift init --from-account` or `ecr-drift import`) and point "
            f"{APP_NAME}:desiredStatePath at it, or set {APP_NAME}:allowExampleDesiredState true to deploy "
            "the example on purpose (a sandbox account)"
        )
    return state


def deployment_summary(state: DesiredState, settings: StackSettings, mode: str) -> dict[str, Any]:
    """What deploying ``state`` does to the registry: the stack output ``desired_state``, shown by preview."""
    return {
        "file": settings.desired_state_file,
        "mode": mode,
        # Adopting imports every named repository (infra/README.md); otherwise each is created.
        "repositories_action": "import" if settings.adopt_existing_repositories else "create",
        "repositories": sorted(state.repositories),
        "cross_account_grants": _grants(state),
        "registry_policy_statements": _count(state.registry.policy_statements),
        "replication": None if state.registry.replication is None else _replication(state),
        "pull_through_cache": {
            prefix: rule.upstream_registry_url
            for prefix, rule in sorted((state.registry.pull_through_cache or {}).items())
        },
        "creation_templates": sorted(f"{prefix}/*" for prefix in creation_templates(state)),
        "alert_emails": list(settings.alert_emails),
    }


def describe(summary: dict[str, Any]) -> str:
    """The summary as the lines `pulumi preview` prints (as an info diagnostic of the stack)."""
    grants = summary["cross_account_grants"]
    replication = summary["replication"]
    lines = [
        f"desired state {summary['file']}, enforcer mode {summary['mode']}",
        f"repositories to {summary['repositories_action']}: {', '.join(summary['repositories']) or 'none'}",
        f"cross-account grants: {_describe_grants(grants)}",
        "replication: " + ("unmanaged" if replication is None else "; ".join(replication) or "none"),
        "pull-through cache rules: "
        + (", ".join(f"{p} <- {url}" for p, url in summary["pull_through_cache"].items()) or "none"),
        f"creation templates: {', '.join(summary['creation_templates']) or 'none'}",
    ]
    if summary["registry_policy_statements"] is not None:
        lines.append(f"registry policy statements: {summary['registry_policy_statements']}")
    return "\n".join(lines)


def _grants(state: DesiredState) -> dict[str, dict[str, list[str]]]:
    """Accounts that may pull or push, by repository and by pattern (the repositories it will match)."""
    entries = {**state.repositories, **state.repository_patterns}
    blocks = {where: overlay(state.defaults, entry) for where, entry in entries.items()}
    grants: dict[str, dict[str, list[str]]] = {}
    for where, settings in sorted(blocks.items()):
        accesses = {"pull": settings.pull_account_ids, "push": settings.push_account_ids}
        if by_access := {access: sorted(ids) for access, ids in accesses.items() if ids}:
            grants[where] = by_access
    return grants


def _describe_grants(grants: dict[str, dict[str, list[str]]]) -> str:
    return (
        "; ".join(
            f"{where} {access} to {', '.join(accounts)}"
            for where, by_access in grants.items()
            for access, accounts in by_access.items()
        )
        or "none"
    )


def _replication(state: DesiredState) -> list[str]:
    """One line per rule: which repositories go to which Regions (and accounts, when not this one)."""
    return [
        f"{', '.join(f'{p}*' for p in rule.repository_prefixes or []) or 'every repository'} -> "
        + ", ".join(
            d.region if d.account_id is None else f"{d.region} (account {d.account_id})"
            for d in rule.destinations
        )
        for rule in state.registry.replication or []
    ]


def _count(items: list[Any] | None) -> int | None:
    return None if items is None else len(items)
