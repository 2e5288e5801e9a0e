"""Who may do what. Reads are open to every logged-in role; writes depend on role and ownership."""

from .models import Account, Role, User

EDITOR_ROLES = {Role.MANAGER, Role.ADMIN}
IMPORT_ROLES = {Role.MANAGER, Role.ADMIN}


def can_edit_account(user: User, account: Account) -> bool:
    """Managers and admins edit every account; a CSM edits only the accounts they own."""
    if not user.is_authenticated:
        return False
    if user.role in EDITOR_ROLES or user.is_superuser:
        return True
    return user.role == Role.CSM and account.csm_id == user.pk


def can_change_tier(user: User) -> bool:
    return user.is_authenticated and (user.role in EDITOR_ROLES or user.is_superuser)


def can_import(user: User) -> bool:
    return user.is_authenticated and (user.role in IMPORT_ROLES or user.is_superuser)
