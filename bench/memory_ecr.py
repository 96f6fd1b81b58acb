"""An in-memory ECR for one botocore client, answering at ``before-send``: no server, no socket.

Only the operations the engine and bench/seed.py make, from dicts; anything else raises, so a new call in the
engine fails loudly here rather than being answered wrongly. Answered inside botocore's retry loop, as the
hostile-path tests inject throttling, so the client parses and handles the answers as it would AWS's.
Used by bench/scale.py at sizes moto_server is too slow to seed.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import MockRawResponse

ACCOUNT = "123456789012"
REGION = "us-east-1"
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "memory"}


class EcrError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Repository:
    name: str
    created_at: float
    mutability: str = "MUTABLE"
    mutability_filters: list[dict[str, Any]] = field(default_factory=list)
    scan_on_push: bool = False
    encryption: dict[str, Any] = field(default_factory=lambda: {"encryptionType": "AES256"})
    tags: dict[str, str] = field(default_factory=dict)
    lifecycle: str | None = None
    policy: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{self.name}"

    def describe(self) -> dict[str, Any]:
        description: dict[str, Any] = {
            "repositoryArn": self.arn,
            "registryId": ACCOUNT,
            "repositoryName": self.name,
            "repositoryUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{self.name}",
            "createdAt": self.created_at,
            "imageTagMutability": self.mutability,
            "imageScanningConfiguration": {"scanOnPush": self.scan_on_push},
            "encryptionConfiguration": self.encryption,
        }
        if self.mutability_filters:
            description["imageTagMutabilityExclusionFilters"] = self.mutability_filters
        return description


class MemoryEcr:
    """``MemoryEcr().attach(client)``; ``requests`` counts the operations answered."""

    def __init__(self) -> None:
        self.repositories: dict[str, Repository] = {}
        self.scanning: dict[str, Any] = {"scanType": "BASIC", "rules": []}
        self.cache_rules: list[dict[str, Any]] = []
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register_first("before-send.ecr", self._answer)

    def _answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        target = request.headers["X-Amz-Target"]
        operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        sent = request.body
        params = json.loads(sent) if isinstance(sent, (bytes, str)) and sent else {}
        with self._lock:
            self.requests[operation] += 1
            try:
                status, body = 200, getattr(self, operation)(params)
            except EcrError as error:
                status, body = 400, {"__type": error.code, "message": str(error)}
        raw = MockRawResponse(json.dumps(body))
        return AWSResponse(request.url, status, HEADERS, raw)  # type: ignore[arg-type]

    def _repository(self, params: dict[str, Any]) -> Repository:
        name = params.get("repositoryName") or params["resourceArn"].rsplit("/", 1)[-1]
        if name not in self.repositories:
            raise EcrError("RepositoryNotFoundException", f"The repository '{name}' does not exist")
        return self.repositories[name]

    # Operations, named as ECR names them (the X-Amz-Target's suffix).

    def CreateRepository(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["repositoryName"]
        if name in self.repositories:
            raise EcrError("RepositoryAlreadyExistsException", f"The repository '{name}' already exists")
        repository = Repository(
            name,
            created_at=1_700_000_000.0 + len(self.repositories),
            mutability=p.get("imageTagMutability", "MUTABLE"),
            mutability_filters=p.get("imageTagMutabilityExclusionFilters", []),
            scan_on_push=p.get("imageScanningConfiguration", {}).get("scanOnPush", False),
            encryption=p.get("encryptionConfiguration", {"encryptionType": "AES256"}),
            tags={t["Key"]: t["Value"] for t in p.get("tags", [])},
        )
        self.repositories[name] = repository
        return {"repository": repository.describe()}

    def DescribeRepositories(self, p: dict[str, Any]) -> dict[str, Any]:
        if "repositoryNames" in p:
            return {
                "repositories": [
                    self._repository({"repositoryName": n}).describe() for n in p["repositoryNames"]
                ]
            }
        names = sorted(self.repositories)
        start = int(p.get("nextToken", 0))
        end = start + min(int(p.get("maxResults", 100)), 1000)
        page: dict[str, Any] = {"repositories": [self.repositories[n].describe() for n in names[start:end]]}
        if end < len(names):
            page["nextToken"] = str(end)
        return page

    def GetLifecyclePolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(p)
        if repository.lifecycle is None:
            raise EcrError("LifecyclePolicyNotFoundException", "Lifecycle policy does not exist")
        return {
            "registryId": ACCOUNT,
            "repositoryName": repository.name,
            "lifecyclePolicyText": repository.lifecycle,
            "lastEvaluatedAt": repository.created_at,
        }

    def PutLifecyclePolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(p)
        repository.lifecycle = p["lifecyclePolicyText"]
        return {
            "registryId": ACCOUNT,
            "repositoryName": repository.name,
            "lifecyclePolicyText": repository.lifecycle,
        }

    def GetRepositoryPolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(p)
        if repository.policy is None:
            raise EcrError("RepositoryPolicyNotFoundException", "Repository policy does not exist")
        return {"registryId": ACCOUNT, "repositoryName": repository.name, "policyText": repository.policy}

    def SetRepositoryPolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(p)
        repository.policy = p["policyText"]
        return {"registryId": ACCOUNT, "repositoryName": repository.name, "policyText": repository.policy}

    def ListTagsForResource(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"tags": [{"Key": k, "Value": v} for k, v in self._repository(p).tags.items()]}

    def TagResource(self, p: dict[str, Any]) -> dict[str, Any]:
        self._repository(p).tags.update({t["Key"]: t["Value"] for t in p["tags"]})
        return {}

    def UntagResource(self, p: dict[str, Any]) -> dict[str, Any]:
        tags = self._repository(p).tags
        for key in p["tagKeys"]:
            tags.pop(key, None)
        return {}

    def PutImageScanningConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(p)
        repository.scan_on_push = p["imageScanningConfiguration"]["scanOnPush"]
        return {
            "registryId": ACCOUNT,
            "repositoryName": repository.name,
            "imageScanningConfiguration": p["imageScanningConfiguration"],
        }

    def PutImageTagMutability(self, p: dict[str, Any]) -> dict[str, Any]:
        repository = self._repository(p)
        repository.mutability = p["imageTagMutability"]
        repository.mutability_filters = p.get("imageTagMutabilityExclusionFilters", [])
        return {
            "registryId": ACCOUNT,
            "repositoryName": repository.name,
            "imageTagMutability": repository.mutability,
        }

    def DescribeImages(self, p: dict[str, Any]) -> dict[str, Any]:
        self._repository(p)
        return {"imageDetails": []}  # the bench seeds no images

    def GetRegistryScanningConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"registryId": ACCOUNT, "scanningConfiguration": self.scanning}

    def PutRegistryScanningConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:
        self.scanning = {"scanType": p.get("scanType", "BASIC"), "rules": p.get("rules", [])}
        return {"registryScanningConfiguration": self.scanning}

    def DescribePullThroughCacheRules(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"pullThroughCacheRules": self.cache_rules}

    def CreatePullThroughCacheRule(self, p: dict[str, Any]) -> dict[str, Any]:
        rule = {**p, "registryId": ACCOUNT, "createdAt": 1_700_000_000.0}
        self.cache_rules.append(rule)
        return rule

    def DescribeRepositoryCreationTemplates(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"registryId": ACCOUNT, "repositoryCreationTemplates": []}
