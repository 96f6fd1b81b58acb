"""The enforcer's CloudWatch metrics: namespace, service and names, defined once for the Lambda (which emits
them as EMF), the stack (whose alarms and dashboard read them) and the demo."""

from __future__ import annotations

NAMESPACE = "ECRDriftEnforcer"
SERVICE = "ecr-drift-enforcer"

# Per run, also per setting (a `Setting` dimension).
DRIFT_DETECTED = "DriftDetected"  # differences a run can fix: drift, remediated, blocked (not reported)
DRIFT_REMEDIATED = "DriftRemediated"
REMEDIATION_FAILED = "RemediationFailed"  # a read or a write failed
# Per run.
REPOSITORIES_CHECKED = "RepositoriesChecked"
REPOSITORIES_NOT_CHECKED = "RepositoriesNotChecked"  # out of time
PUBLISH_FAILURES = "PublishFailures"
SWEEP_BATCHES_NOT_SENT = "SweepBatchesNotSent"
# Per invocation that did not run.
CONFIG_INVALID = "ConfigInvalid"
DESIRED_STATE_INVALID = "DesiredStateInvalid"
EVENTS_IGNORED = "EventsIgnored"
ENFORCER_ERRORS = "EnforcerErrors"
