"""Import kinds owned by the accounts app: users, accounts, contracts, contacts, touchpoints."""

from __future__ import annotations

import hashlib
from typing import Any

from cs_portal.imports import (
    Column,
    ImportKind,
    ImportResult,
    Row,
    WriteStats,
    parse_date,
    parse_decimal,
    parse_email,
    parse_enum,
    parse_identifier,
    parse_int,
    parse_str,
    parse_tier,
    present_fields,
    register,
    upsert,
)

from .models import (
    Account,
    Contact,
    ContactRole,
    Contract,
    Plan,
    Role,
    Segment,
    TierChange,
    Touchpoint,
    TouchpointKind,
    User,
)


def resolve_accounts(rows: list[Row], result: ImportResult, column: str = "account") -> None:
    """Map each row's account external_id to its id in one query; unknown ones are errors."""
    wanted = {row.values[column] for row in rows}
    ids = dict(Account.objects.filter(external_id__in=wanted).values_list("external_id", "id"))
    for row in rows:
        account_id = ids.get(row.values[column])
        if account_id is None:
            result.add_error(
                row.number, column, f"unknown account '{row.values[column]}'; import it first"
            )
        else:
            row.refs[column] = account_id


def resolve_users(rows: list[Row], result: ImportResult, columns: tuple[str, ...]) -> None:
    wanted = {row.values[c] for row in rows for c in columns if row.values[c]}
    ids = dict(User.objects.filter(email__in=wanted).values_list("email", "id"))
    for row in rows:
        for column in columns:
            email = row.values[column]
            if not email:
                row.refs[column] = None
            elif email in ids:
                row.refs[column] = ids[email]
            else:
                result.add_error(
                    row.number, column, f"unknown user '{email}'; import them as users first"
                )


@register
class UsersImport(ImportKind):
    key = "users"
    label = "Users (our team)"
    order = 10
    description = "People at our company who use the portal, and their role."
    natural_key = ("email",)
    columns = [
        Column("email", parse_email, required=True),
        Column("role", parse_enum(Role.values), required=True),
        Column("name", parse_str(150)),
    ]

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        items = [
            {"email": r.values["email"], "role": r.values["role"], "name": r.values["name"] or ""}
            for r in rows
        ]
        stats = upsert(
            User,
            items,
            key=("email",),
            fields=present_fields(columns, {"role": "role", "name": "name"}),
        )
        # New users cannot log in until someone sets a password (admin or password reset).
        new_users = list(User.objects.filter(email__in=[i["email"] for i in items], password=""))
        for user in new_users:
            user.set_unusable_password()
        User.objects.bulk_update(new_users, ["password"])
        return stats


@register
class AccountsImport(ImportKind):
    key = "accounts"
    label = "Accounts"
    order = 20
    description = "Customer logos keyed by external_id, with tier and owners."
    natural_key = ("external_id",)
    columns = [
        Column("external_id", parse_identifier, required=True),
        Column("name", parse_str(200), required=True),
        Column("segment", parse_enum(Segment.values), required=True),
        Column("tier", parse_tier, required=True),
        Column("csm", parse_email),
        Column("ae", parse_email),
        Column("se", parse_email),
        Column("seats", parse_int(minimum=0, maximum=2_147_483_647)),
    ]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        resolve_users(rows, result, ("csm", "ae", "se"))

    def affected_accounts(self, rows: list[Row]) -> set[int]:
        """The accounts of the file (after the write: new ones have ids by then)."""
        wanted = [r.values["external_id"] for r in rows]
        return set(Account.objects.filter(external_id__in=wanted).values_list("id", flat=True))

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        before = dict(
            Account.objects.filter(
                external_id__in=[r.values["external_id"] for r in rows]
            ).values_list("external_id", "tier")
        )
        items = [
            {
                "external_id": r.values["external_id"],
                "name": r.values["name"],
                "segment": r.values["segment"],
                "tier": r.values["tier"],
                "csm_id": r.refs["csm"],
                "ae_id": r.refs["ae"],
                "se_id": r.refs["se"],
                "seats": r.values["seats"],
            }
            for r in rows
        ]
        stats = upsert(
            Account,
            items,
            key=("external_id",),
            fields=present_fields(
                columns,
                {
                    "name": "name",
                    "segment": "segment",
                    "tier": "tier",
                    "csm": "csm_id",
                    "ae": "ae_id",
                    "se": "se_id",
                    "seats": "seats",
                },
            ),
        )
        moved = {
            r.values["external_id"]: r.values["tier"]
            for r in rows
            if r.values["external_id"] in before
            and before[r.values["external_id"]] != r.values["tier"]
        }
        if moved:
            ids = dict(
                Account.objects.filter(external_id__in=moved).values_list("external_id", "id")
            )
            TierChange.objects.bulk_create(
                TierChange(
                    account_id=ids[ext],
                    from_tier=before[ext],
                    to_tier=tier,
                    reason="Changed by an accounts import",
                )
                for ext, tier in moved.items()
            )
        return stats


@register
class ContractsImport(ImportKind):
    key = "contracts"
    label = "Contracts"
    order = 30
    description = "Commercial terms per period; one row per account and start date."
    natural_key = ("account", "start")
    columns = [
        Column("account", parse_str(64), required=True),
        Column("start", parse_date, required=True),
        Column("end", parse_date, required=True),
        Column("arr", parse_decimal(max_digits=14, decimal_places=2), required=True),
        Column("plan", parse_enum(Plan.values), required=True),
        Column("commit_units", parse_decimal(max_digits=18, decimal_places=2)),
    ]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        for row in rows:
            if row.values["end"] < row.values["start"]:
                result.add_error(
                    row.number,
                    "end",
                    f"end {row.values['end']} is before start {row.values['start']}",
                )
        resolve_accounts(rows, result)

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        items = [
            {
                "account_id": r.refs["account"],
                "start": r.values["start"],
                "end": r.values["end"],
                "arr": r.values["arr"],
                "plan": r.values["plan"],
                "commit_units": r.values["commit_units"],
            }
            for r in rows
        ]
        return upsert(
            Contract,
            items,
            key=("account_id", "start"),
            fields=present_fields(
                columns,
                {"end": "end", "arr": "arr", "plan": "plan", "commit_units": "commit_units"},
            ),
        )


@register
class ContactsImport(ImportKind):
    key = "contacts"
    label = "Contacts"
    order = 40
    description = "People at the customer, their role, when they last engaged, and if they left."
    natural_key = ("account", "email")
    columns = [
        Column("account", parse_str(64), required=True),
        Column("email", parse_email, required=True),
        Column("role", parse_enum(ContactRole.values), required=True),
        Column("name", parse_str(150)),
        Column("last_engaged", parse_date),
        Column("left", parse_date),
    ]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        resolve_accounts(rows, result)

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        items = [
            {
                "account_id": r.refs["account"],
                "email": r.values["email"],
                "role": r.values["role"],
                "name": r.values["name"] or "",
                "last_engaged": r.values["last_engaged"],
                "left": r.values["left"],
            }
            for r in rows
        ]
        return upsert(
            Contact,
            items,
            key=("account_id", "email"),
            fields=present_fields(
                columns,
                {"role": "role", "name": "name", "last_engaged": "last_engaged", "left": "left"},
            ),
        )


SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5)}


def touchpoint_import_key(values: dict[str, Any]) -> str:
    raw = "|".join(str(values[k] or "") for k in ("account", "date", "kind", "contact", "note"))
    return hashlib.sha256(raw.encode()).hexdigest()


@register
class TouchpointsImport(ImportKind):
    key = "touchpoints"
    label = "Touchpoints"
    order = 50
    description = "Meetings, QBRs, emails, Slack threads and NPS/CSAT responses."
    natural_key = ("account", "date", "kind", "contact", "note")
    columns = [
        Column("account", parse_str(64), required=True),
        Column("date", parse_date, required=True),
        Column("kind", parse_enum(TouchpointKind.values), required=True),
        Column("score", parse_int(minimum=None)),
        Column("contact", parse_email),
        Column("note", parse_str(5000)),
    ]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        for row in rows:
            kind, score = row.values["kind"], row.values["score"]
            if kind in SCORE_RANGES:
                low, high = SCORE_RANGES[kind]
                if score is None:
                    result.add_error(row.number, "score", f"a {kind} touchpoint needs a score")
                elif not low <= score <= high:
                    result.add_error(
                        row.number, "score", f"{kind} score {score} is outside {low}-{high}"
                    )
            elif score is not None:
                result.add_error(row.number, "score", "only nps and csat touchpoints carry a score")
        resolve_accounts(rows, result)
        with_contact = [r for r in rows if r.values["contact"] and "account" in r.refs]
        contact_ids = {
            (account_id, email): contact_id
            for contact_id, account_id, email in Contact.objects.filter(
                account_id__in={r.refs["account"] for r in with_contact}
            ).values_list("id", "account_id", "email")
        }
        for row in rows:
            email = row.values["contact"]
            if not email:
                row.refs["contact"] = None
            elif "account" in row.refs:
                if (row.refs["account"], email) not in contact_ids:
                    result.add_error(
                        row.number,
                        "contact",
                        f"'{email}' is not a contact of {row.values['account']}",
                    )
                else:
                    row.refs["contact"] = contact_ids[(row.refs["account"], email)]

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        items = [
            {
                "import_key": touchpoint_import_key(r.values),
                "account_id": r.refs["account"],
                "date": r.values["date"],
                "kind": r.values["kind"],
                "score": r.values["score"],
                "contact_id": r.refs["contact"],
                "note": r.values["note"] or "",
            }
            for r in rows
        ]
        return upsert(
            Touchpoint,
            items,
            key=("import_key",),
            fields=present_fields(columns, {"score": "score"}),
        )
