"""Roles and permissions as data, the acting principal, and the checks core functions make.

The acting principal travels in a context variable. Nobody is acting until someone says
so: the app sets it for each script run from the signed-in session (on the local default,
with sign-in off, that is the local operator), background jobs copy the context of the run
that started them, and the command line acts as the local operator (it already has the
files). Code that runs with no principal set may do nothing that needs a permission.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Iterator

import yaml

from secmlops_core.errors import UserFacingError


class PermissionDenied(UserFacingError):
    """The acting principal may not do this."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a signed-in user, a kiosk, or the local operator."""

    username: str
    roles: frozenset[str]
    display_name: str = ""
    auth_method: str = "local"
    # Pipelines a participant may edit; None means all.
    pipelines: frozenset[str] | None = field(default=None)

    @property
    def label(self) -> str:
        """Name to show and to record in the audit trail."""
        return self.display_name or self.username


LOCAL_OPERATOR = Principal("local", frozenset({"admin"}), "Local operator", auth_method="none")
# Nobody signed in: holds no permission at all.
ANONYMOUS = Principal("anonymous", frozenset(), "Not signed in", auth_method="anonymous")
# The product acting on its own behalf (first-start set-up, scheduled evaluation).
SYSTEM = Principal("system", frozenset({"admin"}), "System", auth_method="system")
_current: contextvars.ContextVar[Principal] = contextvars.ContextVar("secmlops_principal", default=ANONYMOUS)


@lru_cache(maxsize=1)
def access_catalog() -> dict:
    """The roles and permissions catalog (``catalog/access_roles.yaml``), validated."""
    text = resources.files("secmlops_core.catalog").joinpath("access_roles.yaml").read_text(encoding="utf-8")
    catalog = yaml.safe_load(text)
    known = set(catalog["permissions"])
    for role_id, role in catalog["roles"].items():
        unknown = set(role["permissions"]) - known
        if unknown:
            raise ValueError(f"access role {role_id!r} names unknown permissions {sorted(unknown)}")
    jobs = catalog.get("jobs", {})
    unknown = {*jobs.get("permissions", {}).values(), jobs.get("gpu_permission", "view")} - known
    if unknown:
        raise ValueError(f"job permissions name unknown permissions {sorted(unknown)}")
    return catalog


def role_ids() -> list[str]:
    """Every access role id."""
    return list(access_catalog()["roles"])


def permissions_of(principal: Principal) -> frozenset[str]:
    """Union of the permissions of the principal's roles."""
    roles = access_catalog()["roles"]
    return frozenset(p for role in principal.roles if role in roles for p in roles[role]["permissions"])


def current_principal() -> Principal:
    """The principal acting in this context."""
    return _current.get()


def set_principal(principal: Principal) -> contextvars.Token:
    """Make ``principal`` the acting one for this context (the app does this per run)."""
    return _current.set(principal)


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    """Act as ``principal`` inside the block."""
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)


def can(permission: str, pipeline_id: str | None = None, principal: Principal | None = None) -> bool:
    """Whether the (acting) principal holds ``permission``, within its pipeline scope."""
    principal = principal or current_principal()
    if permission not in access_catalog()["permissions"]:
        raise ValueError(f"unknown permission {permission!r}")
    if permission not in permissions_of(principal):
        return False
    if pipeline_id is not None and principal.pipelines is not None and "admin" not in principal.roles:
        return pipeline_id in principal.pipelines
    return True


def job_permissions(kind: str, resource: str) -> tuple[list[str], bool]:
    """The permissions launching a job of this kind on this resource needs, and whether it counts
    against the per-person attack-lab quota (both from the catalog's ``jobs`` section)."""
    jobs = access_catalog().get("jobs", {})
    listed = jobs.get("permissions", {}).get(kind.split(":", 1)[0])
    needed = [listed or "view"]
    if resource == "gpu":
        needed.append(jobs.get("gpu_permission", "view"))
    return needed, listed is not None


def require(permission: str, pipeline_id: str | None = None) -> Principal:
    """Raise PermissionDenied unless the acting principal may do this; returns the principal."""
    principal = current_principal()
    if not can(permission, pipeline_id, principal):
        what = access_catalog()["permissions"][permission].rstrip(".").lower()
        scope = f" for pipeline {pipeline_id!r}" if pipeline_id else ""
        raise PermissionDenied(f"{principal.label} may not {what}{scope} (needs permission '{permission}').")
    return principal
