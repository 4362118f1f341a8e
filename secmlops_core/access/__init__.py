"""Access control: roles and permissions as data, accounts, kiosk tokens and the audit trail."""

from secmlops_core.access.policy import (
    LOCAL_OPERATOR,
    PermissionDenied,
    Principal,
    acting_as,
    can,
    current_principal,
    require,
    set_principal,
)

__all__ = ["LOCAL_OPERATOR", "PermissionDenied", "Principal", "acting_as", "can", "current_principal",
           "require", "set_principal"]
