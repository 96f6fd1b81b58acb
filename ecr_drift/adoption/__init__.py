"""Adopting an existing registry: what the account has → a factored desired state (``ecr-drift import``)."""

from __future__ import annotations

from ecr_drift.adoption.adopt import Adoption, adopt, render
from ecr_drift.adoption.factoring import Unmanaged

__all__ = ["Adoption", "Unmanaged", "adopt", "render"]
