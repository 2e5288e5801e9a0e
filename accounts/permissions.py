"""Who may do what, in one place: each capability is named here, on top of one role check.

Reads are open to every logged-in role. Writes depend on the role and, for an account or a
piece of work on one, on ownership. Views, services and APIs ask these functions; none of
them compares roles itself. Object-level checks take the fields they need (an owner id, an
account) rather than a higher app's model, so this module stays at the bottom of the layers.
"""

from __future__ import annotations

from typing import Any

from .models import Account, Role

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


def has_role(user: Any, *roles: str) -> bool:
    """The one role check: a logged-in, active user holding one of `roles`. A superuser holds
    every role but CSM's ownership (they manage; they do not own a book)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser and set(roles) & MANAGERS:
        return True
    return user.role in roles


def is_manager(user: Any) -> bool:
    """CS managers and admins (and superusers): they see and change the whole book."""
    return has_role(user, *MANAGERS)


def is_csm(user: Any) -> bool:
    return has_role(user, Role.CSM)


def is_ae(user: Any) -> bool:
    """Account executives: expansion hand-offs are addressed to them."""
    return has_role(user, Role.AE)


# --- capabilities ----------------------------------------------------------------------------


def can_edit_account(user: Any, account: Account) -> bool:
    """Log touchpoints and run plays on an account: managers on every account, a CSM on the
    accounts they own."""
    return is_manager(user) or (is_csm(user) and account.csm_id == user.pk)


def can_change_tier(user: Any) -> bool:
    """Move an account between tiers, and decide the tier queue's proposals."""
    return is_manager(user)


def can_import(user: Any) -> bool:
    """Upload imports and edit the dataset catalogue."""
    return is_manager(user)


def can_edit_health_model(user: Any) -> bool:
    """Change the health model's weights, thresholds and overrides (which rescores the book)."""
    return is_manager(user)


def can_edit_playbooks(user: Any) -> bool:
    """Edit playbook templates; everyone else reads them."""
    return is_manager(user)


def sees_whole_team(user: Any) -> bool:
    """See every person's work and alerts, not only one's own."""
    return is_manager(user)


def can_work_pools(user: Any) -> bool:
    """Claim from the pooled queues (tier 2 and digital)."""
    return is_csm(user) or is_manager(user)


def can_work_item(
    user: Any, *, owner_id: int | None, account: Account | None = None, pooled: bool = False
) -> bool:
    """Work one item (a task, an alert): a manager any; its owner; the account's CSM when an
    account is given; any CSM an unclaimed pooled item."""
    if not getattr(user, "is_authenticated", False):
        return False
    if is_manager(user):
        return True
    if owner_id is not None and owner_id == user.pk:
        return True
    if account is not None and account.csm_id is not None and account.csm_id == user.pk:
        return True
    return owner_id is None and pooled and is_csm(user)


def can_move_opportunity(user: Any, account: Account) -> bool:
    """Move an expansion opportunity along the pipeline (qualify, hand off, win, lose): account
    executives and managers on any account, a CSM on the accounts they own."""
    return has_role(user, Role.AE) or can_edit_account(user, account)


def can_edit_expansion_triggers(user: Any) -> bool:
    """Switch expansion triggers on or off and change their thresholds and ARR rules."""
    return is_manager(user)


def can_edit_routing(user: Any) -> bool:
    """Change the alert routing rules (which alert reaches whom, on which channel)."""
    return is_manager(user)


def can_edit_themes(user: Any) -> bool:
    """Product's work on the voice of the customer: rename, describe, merge, split and move
    themes and move them along their status workflow (admins too); everyone else reads."""
    return has_role(user, Role.PRODUCT, Role.ADMIN)


def can_log_feedback(user: Any, account: Account) -> bool:
    """Log a feedback item on an account (or vote for a theme on its behalf): the account's own
    CSM, and managers on every account."""
    return can_edit_account(user, account)


def can_edit_qbr(user: Any, account: Account) -> bool:
    """Prepare, edit, save and mark held an account's QBRs (and their next steps): the
    account's own CSM, and managers on every account; everyone else reads them."""
    return can_edit_account(user, account)
