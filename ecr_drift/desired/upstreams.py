"""Upstream registries a pull-through cache rule can point at (botocore's UpstreamRegistry enum)."""

from __future__ import annotations

# Upstream hosts by botocore's UpstreamRegistry enum; those marked True refuse anonymous pulls.
KNOWN_UPSTREAM_HOSTS: dict[str, tuple[str, bool]] = {
    "public.ecr.aws": ("ecr-public", False),
    "quay.io": ("quay", False),
    "registry.k8s.io": ("k8s", False),
    "registry-1.docker.io": ("docker-hub", True),
    "ghcr.io": ("github-container-registry", True),
    "registry.gitlab.com": ("gitlab-container-registry", True),
    "cgr.dev": ("chainguard", False),
}


def upstream_registry(url: str) -> str | None:
    """botocore's UpstreamRegistry value for an upstream URL, or None when ECR supports no such upstream."""
    if url in KNOWN_UPSTREAM_HOSTS:
        return KNOWN_UPSTREAM_HOSTS[url][0]
    if url.endswith(".azurecr.io"):
        return "azure-container-registry"
    if url.endswith(".amazonaws.com") and ".dkr.ecr." in url:
        return "ecr"
    return None


def needs_credentials(url: str) -> bool:
    """Whether ECR refuses to cache this upstream without a Secrets Manager credential."""
    return KNOWN_UPSTREAM_HOSTS.get(url, ("", url.endswith(".azurecr.io")))[1]
