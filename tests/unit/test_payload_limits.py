"""Outputs within AWS's size limits, measured as sent: the Lambda's response (6 MB), PutEvents requests
(10 entries, 256 KB), SNS messages (256 KB, subject under 100 characters); what each leaves out is counted."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecr_drift.findings import Action, Finding, Report
from ecr_drift.publish import eventbridge, sns
from ecr_drift.publish.limits import RESPONSE_LIMIT, bounded_response, json_size, most_important_first

KB256 = 256 * 1024


def report(
    *findings: Finding, checked: list[str] | None = None, not_checked: list[str] | None = None
) -> Report:
    return Report(
        mode="audit",
        trigger="manual",
        repositories_checked=checked or sorted({f.resource for f in findings}),
        findings=list(findings),
        not_checked=not_checked or [],
    )


def policy(size: int, fill: str = "x") -> dict[str, Any]:
    """A document of about ``size`` characters of JSON."""
    return {"rules": [{"description": fill * 1000} for _ in range(size // 1020)]}


def drift(number: int, size: int = 2500, **fields: Any) -> Finding:
    return Finding(
        f"team/service-{number:05d}", "lifecycle_policy", policy(size // 2), policy(size // 2, "y"), **fields
    )


# ---- the Lambda's response ---------------------------------------------------------------------------------


def test_a_3000_repository_audit_keeps_its_summary_and_the_most_important_findings() -> None:
    findings = [
        *(drift(n) for n in range(3000)),
        *(drift(n, action=Action.REMEDIATED) for n in range(3000, 3100)),
        *(drift(n, action=Action.BLOCKED, message="would expire 812 images") for n in range(3100, 3110)),
        *(drift(n, action=Action.FAILED, error="ThrottlingException") for n in range(3110, 3115)),
    ]
    audit = report(*findings)
    assert json_size(audit.to_dict()) > RESPONSE_LIMIT

    response = bounded_response("ok", audit, publish_errors=[], extra={})

    assert json_size(response) < RESPONSE_LIMIT
    assert len(json.dumps(response, ensure_ascii=False).encode()) < RESPONSE_LIMIT  # Python 3.12+ runtimes
    assert response["summary"] == {
        "drift": 3000,
        "remediated": 100,
        "reported": 0,
        "blocked": 10,
        "failed": 5,
    }
    assert response["repositories_checked"] == audit.to_dict()["repositories_checked"]
    kept = response["findings"]
    assert [f["action"] for f in kept[:15]] == ["failed"] * 5 + ["blocked"] * 10
    assert {f["action"] for f in kept[15:]} == {"drift"}
    left_out = most_important_first(findings)[len(kept) :]
    assert response["omitted"] == {
        "findings": {
            "left_out": len(left_out),
            "total": len(findings),
            "where": "CloudWatch Logs of this invocation: one line per finding, under the key 'finding'",
            "by_action": dict(Counter(str(f.action) for f in left_out)),
            "by_setting": {"lifecycle_policy": len(left_out)},
        }
    }
    assert response["omitted"]["findings"]["by_action"]["remediated"] == 100


def test_huge_lists_of_repositories_are_cut_and_counted() -> None:
    checked = [f"team-{n:06d}/" + "a" * 40 for n in range(150_000)]
    not_checked = [f"late-{n:06d}/" + "b" * 40 for n in range(60_000)]
    errors = [f"eventbridge: {name} tags: InternalFailure" for name in checked[:40_000]]
    run = report(drift(1), checked=checked, not_checked=not_checked)

    response = bounded_response("incomplete", run, publish_errors=errors, extra={})

    assert json_size(response) < RESPONSE_LIMIT
    assert response["findings"] == [drift(1).to_dict()]
    assert response["summary"]["drift"] == 1
    omitted = response["omitted"]
    assert set(omitted) == {"repositories_checked", "not_checked", "publish_errors"}
    for name, whole in (
        ("repositories_checked", sorted(checked)),
        ("not_checked", sorted(not_checked)),
        ("publish_errors", errors),
    ):
        assert response[name] == whole[: len(response[name])]
        assert omitted[name]["left_out"] + len(response[name]) == omitted[name]["total"] == len(whole)
        assert omitted[name]["left_out"] > 0
    assert "run finished" in omitted["not_checked"]["where"]


@pytest.mark.parametrize("budget", [20_000, 50_000, 123_457, 400_000])
def test_the_response_never_exceeds_its_budget(budget: int) -> None:
    findings = [drift(n, size=200 + 37 * n, message="é" * (n % 7)) for n in range(300)]
    run = report(*findings, not_checked=[f"late-{n}" for n in range(500)])

    response = bounded_response("ok", run, publish_errors=["sns: x" * 30] * 50, extra={}, budget=budget)

    assert json_size(response) <= budget
    kept, omitted = response["findings"], response["omitted"]["findings"]
    assert kept == [f.to_dict() for f in most_important_first(findings)][: len(kept)]
    assert omitted["left_out"] == len(findings) - len(kept)
    # With room for all of it, the response is the report whole, as it always was.
    roomy = bounded_response("ok", run, publish_errors=[], extra={"fan_out": {"batches": 1}})
    assert roomy == {"status": "ok", **run.to_dict(), "publish_errors": [], "fan_out": {"batches": 1}}


# ---- EventBridge -------------------------------------------------------------------------------------------


class PutEventsStub:
    """Records each call's body; refuses a request over 256 KB as AWS does (the whole call)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        body = json.dumps({"Entries": Entries})  # as botocore writes it
        self.bodies.append(body)
        if len(body.encode()) > KB256:
            error = {"Error": {"Code": "ValidationException", "Message": "Total size of the entries exceeds"}}
            raise ClientError(error, "PutEvents")  # type: ignore[arg-type]
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i, _ in enumerate(Entries)]}


def test_put_events_calls_are_split_by_size_and_count() -> None:
    # Ten findings of ~53 KB: one call of ~530 KB before, refused with all ten.
    findings = [drift(n, size=52_000) for n in range(10)] + [drift(n) for n in range(10, 35)]
    client = PutEventsStub()

    errors = eventbridge.put_findings(report(*findings), bus="default", client=client)  # type: ignore[arg-type]

    assert errors == []
    calls = [json.loads(body)["Entries"] for body in client.bodies]
    assert all(len(body.encode()) <= KB256 for body in client.bodies)
    assert all(len(entries) <= eventbridge.BATCH for entries in calls)
    sent = [json.loads(e["Detail"])["resource"] for entries in calls for e in entries]
    assert sent == [f.resource for f in findings]  # every finding once, in order


def test_an_entry_too_large_alone_goes_with_its_documents_cut_and_a_note() -> None:
    big = Finding(
        "team/huge", "repository_policy", {"Statement": ["é" * 200_000]}, policy(90_000), message="m"
    )
    client = PutEventsStub()

    errors = eventbridge.put_findings(report(drift(1), big, drift(2)), bus="default", client=client)  # type: ignore[arg-type]

    assert errors == []
    entries = [e for body in client.bodies for e in json.loads(body)["Entries"]]
    [shortened] = [json.loads(e["Detail"]) for e in entries if "team/huge" in e["Detail"]]
    assert all(len(body.encode()) <= KB256 for body in client.bodies)
    limit = int(re.search(r"cut to (\d+) characters", shortened["note"]).group(1))  # type: ignore[union-attr]
    assert "function's log" in shortened["note"]
    assert shortened["expected"].startswith('{"Statement":["\\u00e9')
    assert len(shortened["expected"]) == limit
    assert shortened["actual"].endswith("...")
    assert (shortened["resource"], shortened["setting"], shortened["message"]) == (
        "team/huge",
        "repository_policy",
        "m",
    )
    assert not any("note" in json.loads(e["Detail"]) for e in entries if "team/huge" not in e["Detail"])


def test_an_entry_still_too_large_is_refused_alone_and_reported() -> None:
    # Its message, not its documents, is too large: cutting them cannot help; AWS refuses it, nothing else.
    hopeless = Finding("team/hopeless", "tags", {}, {}, message="m" * 300_000)
    client = PutEventsStub()

    errors = eventbridge.put_findings(report(drift(1), hopeless, drift(2)), bus="default", client=client)  # type: ignore[arg-type]

    assert len(errors) == 1
    assert errors[0].startswith("team/hopeless tags: An error occurred (ValidationException)")


# ---- SNS ---------------------------------------------------------------------------------------------------


def test_an_sns_message_about_5000_blocked_findings_stays_under_256_kb() -> None:
    preview = "would expire: " + ", ".join(f"sha256:{i:064x}" for i in range(110))  # ~8 KB
    findings = [drift(n, action=Action.BLOCKED, message=preview) for n in range(5000)]
    blocked = report(*findings)

    text = sns.message(blocked, findings)

    assert len(text.encode()) <= KB256
    listed = len(re.findall(r"^\d+\. ", text, flags=re.MULTILINE))
    assert 0 < listed < sns.LISTED
    assert text.endswith(
        f"... and {5000 - listed} more, each a line of the function's log of this invocation."
    )
    assert len(sns.subject(blocked, findings)) < 100


def test_an_sns_message_lists_the_most_important_findings_first() -> None:
    findings = [drift(1, action=Action.REMEDIATED), drift(2), drift(3, action=Action.FAILED, error="e")]

    text = sns.message(report(*findings), findings)

    assert re.findall(r"^\d+\. (\S+)", text, flags=re.MULTILINE) == [
        "team/service-00003",
        "team/service-00002",
        "team/service-00001",
    ]
    assert "more" not in text
