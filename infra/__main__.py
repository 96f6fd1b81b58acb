"""The ecr-drift-enforcer stack: settings in, components built, outputs out (see infra/README.md)."""

import sys
from pathlib import Path

# `pulumi` runs this file with only infra/ on the path; the program is the `infra` package beside `ecr_drift`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_aws as aws

from ecr_drift.role import (
    QUEUE_CONSUMER_IAM_ACTIONS,
    passed_role_arns,
    registry_iam_actions,
    required_iam_actions,
    service_linked_roles,
)
from ecr_drift.targets import effective_mode
from infra import desired_state, package
from infra.components.alerting import Alerting
from infra.components.baseline import BaselineArgs, RegistryBaseline
from infra.components.enforcer import Enforcer, EnforcerArgs
from infra.config import load_settings

settings = load_settings()
state = desired_state.load(settings)
mode = effective_mode(settings.mode, state.enforcement.mode)
# What `pulumi up` will do to the registry, before it does it: an output and an info line at preview.
summary = desired_state.deployment_summary(state, settings, str(mode))
pulumi.log.info(desired_state.describe(summary))
account_id = aws.get_caller_identity_output().account_id

alerting = Alerting("alerting", settings)
enforcer = Enforcer(
    "enforcer",
    EnforcerArgs(
        settings=settings,
        package=package.build_lambda_package(
            package.DEFAULT_BUILD_DIR,
            desired_state=settings.desired_state_path,
            python_version=settings.python_version,
            platform=package.PIP_PLATFORMS[settings.architecture],
        ),
        mode=mode,
        iam_actions=required_iam_actions(),
        queue_consumer_iam_actions=QUEUE_CONSUMER_IAM_ACTIONS,
        registry_iam_actions=registry_iam_actions(),
        service_linked_roles=service_linked_roles(),
        passed_role_arns=passed_role_arns(state),
        findings_topic_arn=alerting.topic.arn,
        account_id=account_id,
    ),
)
# Pulumi's own changes to the registry raise CloudTrail events that the enforcer acts on. Were the function
# still on the previous desired state, it would revert the new baseline as drift. So the function's new
# version (behind the `live` alias the rules invoke) is deployed first, and the baseline waits for it.
baseline = RegistryBaseline(
    "registry",
    BaselineArgs(
        state=state,
        account_id=account_id,
        region=settings.region,
        adopt_existing_repositories=settings.adopt_existing_repositories,
        protect_repositories=settings.protect_repositories,
        deploy_after=[enforcer.alias],
    ),
)
# The rules, targets and sweep mapping come last: the baseline is in place before the enforcer is woken, and
# `pulumi destroy` deletes them before the baseline, whose deletions then invoke nothing that re-creates it.
enforcer.listen(after=[baseline])

pulumi.export("desired_state", summary)
pulumi.export("repository_urls", baseline.repository_urls)
pulumi.export("function_name", enforcer.function.name)
pulumi.export("function_arn", enforcer.function.arn)
pulumi.export("topic_arn", alerting.topic.arn)
pulumi.export("dashboard_url", alerting.dashboard_url)
