"""Each stack deploys its own desired-state file; the shipped example is refused unless a stack allows it;
preview sums up what the file deploys; a stack without alert addresses works and says so."""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import pulumi
import pytest

from ecr_drift.config import DESIRED_STATE_SHA256_TAG, DESIRED_STATE_SHA256_VARIABLE
from infra.config import SettingsError
from infra.desired_state import SHIPPED_EXAMPLE_SHA256, declaration_sha256
from tests.conftest import EXAMPLE_PATH, ROOT
from tests.infra.conftest import INFRA, STACKS, StackRun, example_stack_config, run_program, stack_config

pytestmark = pytest.mark.filterwarnings("ignore:.*has been deprecated in favor of:DeprecationWarning")

PACKAGED_EXAMPLE = ROOT / "ecr_drift" / "cli" / "example_desired_state.json"
FUNCTION = "aws:lambda/function:Function"
REPOSITORY = "aws:ecr/repository:Repository"
# An account's own declaration: one repository, pushed to from a CI account, replicated to a DR account, and a
# pattern whose repositories an analytics account may pull.
OWN_STATE = {
    "version": 1,
    "enforcement": {"mode": "enforce"},
    "registry": {"replication": [{"destinations": [{"region": "eu-north-1", "account_id": "444455556666"}]}]},
    "defaults": {"scan_on_push": True, "tags": {"team": "payments"}},
    "repositories": {"payments-api": {"push_account_ids": ["777788889999"]}},
    "repository_patterns": {"reports/*": {"pull_account_ids": ["222233334444"]}},
}


def _config(stack: str, **settings: str) -> dict[str, str]:
    return {**stack_config(stack), **{f"ecr-drift-enforcer:{k}": v for k, v in settings.items()}}


def _write(directory: Path, document: dict[str, Any], name: str = "desired_state.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(document, indent=2))
    return path


@pytest.fixture(scope="module")
def own_state_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("own"), OWN_STATE, "desired_state.payments.json")


@pytest.fixture(scope="module")
def dev_with_own_state(program_env: Path, own_state_path: Path) -> StackRun:
    # No allowExampleDesiredState: the file is not the example. An absolute path is used as it is.
    return run_program("dev", _config("dev", desiredStatePath=str(own_state_path)))


# ---- recognising the shipped example -----------------------------------------------------------------------


def test_the_shipped_example_hash_is_the_example_as_shipped() -> None:
    for path in (PACKAGED_EXAMPLE, EXAMPLE_PATH):
        assert declaration_sha256(json.loads(path.read_text())) == SHIPPED_EXAMPLE_SHA256, path


def test_the_example_is_recognised_by_what_it_declares() -> None:
    example = json.loads(PACKAGED_EXAMPLE.read_text())
    # Reordered, without `$schema`, in audit mode (what `ecr-drift init` writes), other enforcement settings:
    # it still deploys the same repositories, replication and grants.
    reordered = {key: example[key] for key in reversed(example) if key != "$schema"}
    reordered["enforcement"] = {"mode": "audit", "ignore_principals": ["arn:aws:iam::123456789012:role/ci"]}
    assert declaration_sha256(reordered) == SHIPPED_EXAMPLE_SHA256
    # Any change to what it declares makes it another file.
    renamed = json.loads(PACKAGED_EXAMPLE.read_text())
    renamed["repositories"]["payments-api"] = renamed["repositories"].pop("temporal-worker")
    assert declaration_sha256(renamed) != SHIPPED_EXAMPLE_SHA256
    reordered_rules = json.loads(PACKAGED_EXAMPLE.read_text())
    reordered_rules["defaults"]["lifecycle"].reverse()  # a lifecycle rule's priority is its position
    assert declaration_sha256(reordered_rules) != SHIPPED_EXAMPLE_SHA256


# ---- refusing it -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("mode", ["enforce", "audit"])
def test_the_committed_stacks_refuse_the_shipped_example_in_either_mode(
    program_env: Path, stack: str, mode: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        run_program(stack, _config(stack, mode=mode))
    message = str(raised.value)
    assert (
        "ecr-drift-enforcer:desiredStatePath 'desired_state.json' is the shipped example desired state: "
        "`pulumi up` would deploy it to this account, in audit mode too (repositories admin-dashboard, "
        "internal-dashboard, temporal-worker, utila-cosigner; replication utila-cosigner* -> eu-central-1; "
        "cross-account grants admin-dashboard pull to 111122223333)"
    ) in message
    assert "(`ecr-drift init --from-account` or `ecr-drift import`)" in message
    assert "or set ecr-drift-enforcer:allowExampleDesiredState true" in message


def test_an_init_style_copy_of_the_example_is_refused(program_env: Path, tmp_path: Path) -> None:
    example = json.loads(PACKAGED_EXAMPLE.read_text())
    example["enforcement"]["mode"] = "audit"
    path = _write(tmp_path, example)
    with pytest.raises(SettingsError, match="is the shipped example desired state"):
        run_program("dev", _config("dev", desiredStatePath=str(path)))


@pytest.mark.parametrize("stack", STACKS)
def test_the_example_is_deployed_when_the_stack_allows_it(program_env: Path, stack: str) -> None:
    run = run_program(stack, example_stack_config(stack))
    example = json.loads(EXAMPLE_PATH.read_text())
    assert {r.name for r in run.of_type(REPOSITORY)} == example["repositories"].keys()


def test_a_missing_desired_state_file_is_a_settings_error(program_env: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        run_program("dev", _config("dev", desiredStatePath="desired_state.prod.json"))
    assert (
        f"ecr-drift-enforcer:desiredStatePath 'desired_state.prod.json' is not a file: "
        f"{ROOT / 'desired_state.prod.json'} (the path is relative to the repository root)"
    ) in str(raised.value)


# ---- a stack's own file ------------------------------------------------------------------------------------


def test_the_baseline_follows_the_stacks_desired_state_file(dev_with_own_state: StackRun) -> None:
    run = dev_with_own_state
    (repository,) = run.of_type(REPOSITORY)
    assert (repository.name, repository.inputs["tags"]) == ("payments-api", {"team": "payments"})
    (policy,) = run.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert json.loads(policy.inputs["policy"])["Statement"][0]["Principal"] == {
        "AWS": ["arn:aws:iam::777788889999:root"]
    }
    (replication,) = run.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    (rule,) = replication.inputs["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [{"region": "eu-north-1", "registryId": "444455556666"}]
    assert not run.of_type("aws:ecr/pullThroughCacheRule:PullThroughCacheRule")
    assert run.outputs["repository_urls"].keys() == {"payments-api"}


def test_the_function_packages_and_hashes_the_stacks_desired_state_file(
    dev_with_own_state: StackRun, own_state_path: Path
) -> None:
    inputs = dev_with_own_state.one(FUNCTION, "function").inputs
    with zipfile.ZipFile(inputs["code"].path) as zf:
        assert zf.read("desired_state.json") == own_state_path.read_bytes()  # at the zip's root, renamed
    digest = hashlib.sha256(own_state_path.read_bytes()).hexdigest()
    assert inputs["environment"]["variables"][DESIRED_STATE_SHA256_VARIABLE] == digest
    assert inputs["tags"] == {DESIRED_STATE_SHA256_TAG: digest}


def test_stacks_with_different_files_keep_their_own_zips(
    dev_with_own_state: StackRun, dev: StackRun, own_state_path: Path
) -> None:
    # Built into one directory, one after the other: neither build replaced the other's zip.
    own, example = (run.one(FUNCTION, "function").inputs["code"].path for run in (dev_with_own_state, dev))
    assert own != example
    with zipfile.ZipFile(own) as zf:
        assert zf.read("desired_state.json") == own_state_path.read_bytes()
    with zipfile.ZipFile(example) as zf:
        assert zf.read("desired_state.json") == EXAMPLE_PATH.read_bytes()


# ---- what preview says -------------------------------------------------------------------------------------


def test_the_summary_of_an_own_file(dev_with_own_state: StackRun, own_state_path: Path) -> None:
    assert dev_with_own_state.outputs["desired_state"] == {
        "file": str(own_state_path),
        "mode": "audit",  # dev's committed mode wins over the file's enforce
        "repositories_action": "create",
        "repositories": ["payments-api"],
        "cross_account_grants": {
            "payments-api": {"push": ["777788889999"]},
            "reports/*": {"pull": ["222233334444"]},
        },
        "registry_policy_statements": None,
        "replication": ["every repository -> eu-north-1 (account 444455556666)"],
        "pull_through_cache": {},
        "creation_templates": ["reports/*"],
        "alert_emails": [],
    }


def test_the_summary_of_the_example_on_prod(prod: StackRun) -> None:
    assert prod.outputs["desired_state"] == {
        "file": "desired_state.json",
        "mode": "audit",
        "repositories_action": "import",  # prod adopts the account's repositories
        "repositories": ["admin-dashboard", "internal-dashboard", "temporal-worker", "utila-cosigner"],
        "cross_account_grants": {"admin-dashboard": {"pull": ["111122223333"]}},
        "registry_policy_statements": None,
        "replication": ["utila-cosigner* -> eu-central-1"],
        "pull_through_cache": {"ecr-public": "public.ecr.aws"},
        "creation_templates": ["ecr-public/*"],
        "alert_emails": [],
    }


def test_preview_logs_the_summary_and_warns_without_alert_addresses(
    program_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        run = run_program("dev", example_stack_config("dev"))
    assert not run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert run.one("aws:sns/topic:Topic", "findings")  # alarms and findings still reach the topic
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        "desired state desired_state.json, enforcer mode audit\n"
        "repositories to create: admin-dashboard, internal-dashboard, temporal-worker, utila-cosigner\n"
        "cross-account grants: admin-dashboard pull to 111122223333\n"
        "replication: utila-cosigner* -> eu-central-1\n"
        "pull-through cache rules: ecr-public <- public.ecr.aws\n"
        "creation templates: ecr-public/*"
    ) in info
    assert [m for m in warnings if "alertEmails" in m] == [
        "ecr-drift-enforcer:alertEmails is empty: no e-mail subscription, findings and alarms reach only the "
        "SNS topic (stack output topic_arn)"
    ]


def test_alert_addresses_are_subscribed_without_a_warning(
    program_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    addresses = ["platform@corp.test", "security@corp.test"]
    config = {**example_stack_config("dev"), "ecr-drift-enforcer:alertEmails": json.dumps(addresses)}
    with caplog.at_level(logging.WARNING):
        run = run_program("dev", config)
    subscriptions = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == addresses
    assert not [r for r in caplog.records if "alertEmails" in r.getMessage()]
    assert run.outputs["desired_state"]["alert_emails"] == addresses


# ---- the committed stack files -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stacks_hold_no_example_addresses_and_name_their_desired_state(stack: str) -> None:
    text = (INFRA / f"Pulumi.{stack}.yaml").read_text()
    assert "example.com" not in text
    config = stack_config(stack)
    assert "ecr-drift-enforcer:alertEmails" not in config
    assert "ecr-drift-enforcer:allowExampleDesiredState" not in config
    assert (ROOT / config["ecr-drift-enforcer:desiredStatePath"]).is_file()
    assert config["ecr-drift-enforcer:mode"] == "audit"  # a first deploy audits (infra/README.md)


def test_an_invalid_own_file_stops_the_program_with_its_problems(program_env: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, {"version": 1, "repositories": {"Payments": {}}})
    with pytest.raises(pulumi.RunError) as raised:
        run_program("dev", _config("dev", desiredStatePath=str(path)))
    assert str(path) in str(raised.value)
    assert "repositories.Payments" in str(raised.value)
