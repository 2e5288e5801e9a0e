"""The accounts app's import kinds through the one pipeline (cs_portal.imports.run_import).

Row numbers are as a spreadsheet shows them: the header is row 1, the first data row is row 2.
Every rejected import must leave every table exactly as it was, good rows included.
"""

from __future__ import annotations

import html
import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Account, Contact, Contract, TierChange, Touchpoint, User
from cs_portal.imports import all_kinds, run_import
from cs_portal.models import ImportRun
from tests.conftest import table_counts, table_rows
from tests.factories import AccountFactory, ContactFactory

HEADERS = {
    "users": "email,role,name",
    "accounts": "external_id,name,segment,tier,csm,ae,se,seats",
    "contracts": "account,start,end,arr,plan,commit_units",
    "contacts": "account,email,role,name,last_engaged,left",
    "touchpoints": "account,date,kind,score,contact,note",
}
# One valid row per kind, written into every rejected file to prove it is not written either.
GOOD = {
    "users": "new.csm@cs.example,csm,Nadia New",
    "accounts": "globex,Globex Corp,self_serve,3,alice@cs.example,,,10",
    "contracts": "acme,2026-01-01,2026-12-31,120000,developer,500000",
    "contacts": "acme,ceo@acme.example,exec_sponsor,Carla Chief,2026-01-10,",
    "touchpoints": "acme,2026-01-15,nps,9,cto@acme.example,Happy with the API",
}
FIELDS = {kind: len(header.split(",")) for kind, header in HEADERS.items()}

ROLES = "csm, manager, product, ae, se, admin"
SEGMENTS = "institution, self_serve"
PLANS = "explorer, developer, datastreams, credits"
CONTACT_ROLES = "exec_sponsor, champion, data_engineer, analyst, other"
TOUCHPOINT_KINDS = "meeting, qbr, email, slack, nps, csat"
MISSING = "required value is missing"
UNKNOWN_ACME2 = "unknown account 'acme-2'; import it first"


def csv_bytes(kind: str, *rows: str, header: str | None = None) -> bytes:
    lines = [HEADERS[kind] if header is None else header, *rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def world(alice, maya, acme):
    """What the import files refer to: alice and maya, alice's account acme, its CTO contact."""
    ContactFactory(
        account=acme,
        email="cto@acme.example",
        name="Theo CTO",
        role="champion",
        last_engaged=date(2026, 1, 5),
    )
    return acme


def errors_of(result) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in result.errors]


def assert_rejected_without_writes(kind: str, data: bytes, expected: list[tuple]) -> None:
    counts, rows = table_counts(), table_rows()
    runs = ImportRun.objects.count()

    result = run_import(kind, data=data)

    assert result.ok is False
    assert errors_of(result) == expected
    assert result.error_count == len(expected)
    assert (result.stats.created, result.stats.updated, result.stats.unchanged) == (0, 0, 0)
    assert table_counts() == counts
    assert table_rows() == rows
    # The attempt itself is recorded, as rejected, with the same errors.
    assert ImportRun.objects.count() == runs + 1
    run = ImportRun.objects.get(pk=result.run_id)
    assert (run.kind, run.status, run.error_count) == (kind, "rejected", len(expected))
    assert [(e["row"], e["column"], e["message"]) for e in run.errors] == expected


# --- bad rows, per kind ----------------------------------------------------------------------

BAD_ROW_CASES = [
    # users
    pytest.param(
        "users",
        ["new.ae@cs.example,ae,Ann", ",csm,Nobody"],
        [(4, "email", MISSING)],
        id="users-missing-email",
    ),
    pytest.param(
        "users",
        ["boss@cs.example,boss,Big Boss"],
        [(3, "role", f"'boss' is not one of: {ROLES}")],
        id="users-unknown-role",
    ),
    pytest.param(
        "users",
        ["not-an-email,csm,Who"],
        [(3, "email", "'not-an-email' is not an email address")],
        id="users-bad-email",
    ),
    pytest.param(
        "users",
        ["New.CSM@cs.example,manager,Again"],
        [
            (
                3,
                "email",
                "duplicate of row 2 (new.csm@cs.example); each key may appear once per import",
            )
        ],
        id="users-duplicate",
    ),
    pytest.param(
        "users",
        ["nul@cs.example,csm,Nu\x00l"],
        [(3, "name", "contains a NUL character (0x00)")],
        id="users-nul-character",
    ),
    pytest.param(
        "users",
        ["bell@cs.example,csm,Ring\x07ring"],
        [(3, "name", "contains a control character (0x07); remove it")],
        id="users-control-character",
    ),
    pytest.param(
        "users",
        [f"{'a' * 250}@cs.example,csm,Long"],
        [(3, "email", "longer than 254 characters")],
        id="users-email-too-long",
    ),
    pytest.param(
        "users",
        ["x@cs.example,csm"],
        [(3, "", "expected 3 fields, found 2")],
        id="users-too-few-fields",
    ),
    pytest.param(
        "users",
        ["x@cs.example,csm,X,extra"],
        [(3, "", "expected 3 fields, found 4")],
        id="users-too-many-fields",
    ),
    # accounts
    pytest.param(
        "accounts",
        ["initech,,institution,2,,,,"],
        [(3, "name", MISSING)],
        id="accounts-missing-name",
    ),
    pytest.param(
        "accounts",
        ["initech,Initech,enterprise,2,,,,"],
        [(3, "segment", f"'enterprise' is not one of: {SEGMENTS}")],
        id="accounts-unknown-segment",
    ),
    pytest.param(
        "accounts",
        ["initech,Initech,institution,4,,,,"],
        [(3, "tier", "'4' is not a tier (1, 2 or 3)")],
        id="accounts-unknown-tier",
    ),
    pytest.param(
        "accounts",
        ["initech,Initech,institution,2,ghost@cs.example,,,"],
        [(3, "csm", "unknown user 'ghost@cs.example'; import them as users first")],
        id="accounts-unknown-csm",
    ),
    pytest.param(
        "accounts",
        ["initech,Initech,institution,2,,,nobody@cs.example,"],
        [(3, "se", "unknown user 'nobody@cs.example'; import them as users first")],
        id="accounts-unknown-se",
    ),
    pytest.param(
        "accounts",
        ["initech,Initech,institution,2,,,,-3"],
        [(3, "seats", "-3 is below the minimum of 0")],
        id="accounts-negative-seats",
    ),
    pytest.param(
        "accounts",
        ["initech,Initech,institution,2,,,,99999999999"],
        [(3, "seats", "99999999999 is above the maximum of 2147483647")],
        id="accounts-seats-overflow",
    ),
    pytest.param(
        "accounts",
        ["globex,Globex Again,institution,1,,,,"],
        [(3, "external_id", "duplicate of row 2 (globex); each key may appear once per import")],
        id="accounts-duplicate",
    ),
    pytest.param(
        "accounts",
        ["initech,Initech,institution,2"],
        [(3, "", "expected 8 fields, found 4")],
        id="accounts-wrong-field-count",
    ),
    # contracts
    pytest.param(
        "contracts",
        ["acme,2025-01-01,,1000,developer,"],
        [(3, "end", MISSING)],
        id="contracts-missing-end",
    ),
    pytest.param(
        "contracts",
        ["acme,2025-01-01,2025-13-01,1000,developer,"],
        [(3, "end", "'2025-13-01' is not a date in YYYY-MM-DD form")],
        id="contracts-bad-date",
    ),
    pytest.param(
        "contracts",
        ["acme,01/02/2025,2025-12-31,1000,developer,"],
        [(3, "start", "'01/02/2025' is not a date in YYYY-MM-DD form")],
        id="contracts-bad-date-format",
    ),
    pytest.param(
        "contracts",
        ["acme,2025-01-01,2025-12-31,1000,enterprise,"],
        [(3, "plan", f"'enterprise' is not one of: {PLANS}")],
        id="contracts-unknown-plan",
    ),
    pytest.param(
        "contracts",
        ["acme-2,2025-01-01,2025-12-31,1000,developer,"],
        [(3, "account", UNKNOWN_ACME2)],
        id="contracts-unknown-account",
    ),
    pytest.param(
        "contracts",
        ["acme,2025-01-01,2025-12-31,-5000,developer,"],
        [(3, "arr", "-5000 is negative; it must be at least 0")],
        id="contracts-negative-arr",
    ),
    pytest.param(
        "contracts",
        ["acme,2025-01-01,2025-12-31,lots,developer,"],
        [(3, "arr", "'lots' is not a number")],
        id="contracts-arr-not-a-number",
    ),
    pytest.param(
        "contracts",
        ["acme,2025-01-01,2025-12-31,1e20,developer,"],
        [(3, "arr", "1e20 is too large; the most it can be is 999,999,999,999.99")],
        id="contracts-arr-overflow",
    ),
    pytest.param(
        "contracts",
        ["acme,2025-01-01,2025-12-31,1000.555,developer,"],
        [(3, "arr", "1000.555 has more than 2 decimal places")],
        id="contracts-arr-too-precise",
    ),
    pytest.param(
        "contracts",
        ["acme,2025-06-01,2025-05-31,1000,developer,"],
        [(3, "end", "end 2025-05-31 is before start 2025-06-01")],
        id="contracts-end-before-start",
    ),
    pytest.param(
        "contracts",
        ["acme,2026-01-01,2027-12-31,1,explorer,"],
        [
            (
                3,
                "account,start",
                "duplicate of row 2 (acme, 2026-01-01); each key may appear once per import",
            )
        ],
        id="contracts-duplicate",
    ),
    pytest.param(
        "contracts",
        ["acme,2025-01-01,2025-12-31,1000"],
        [(3, "", "expected 6 fields, found 4")],
        id="contracts-wrong-field-count",
    ),
    # contacts
    pytest.param(
        "contacts",
        ["acme,,champion,No Email,,"],
        [(3, "email", MISSING)],
        id="contacts-missing-email",
    ),
    pytest.param(
        "contacts",
        ["acme,dev@acme.example,developer,Dev,,"],
        [(3, "role", f"'developer' is not one of: {CONTACT_ROLES}")],
        id="contacts-unknown-role",
    ),
    pytest.param(
        "contacts",
        ["acme,dev@acme.example,analyst,Dev,last week,"],
        [(3, "last_engaged", "'last week' is not a date in YYYY-MM-DD form")],
        id="contacts-bad-date",
    ),
    pytest.param(
        "contacts",
        ["acme-2,dev@acme.example,analyst,Dev,,"],
        [(3, "account", UNKNOWN_ACME2)],
        id="contacts-unknown-account",
    ),
    pytest.param(
        "contacts",
        ["acme,CEO@acme.example,champion,Carla Again,,"],
        [
            (
                3,
                "account,email",
                "duplicate of row 2 (acme, ceo@acme.example); each key may appear once per import",
            )
        ],
        id="contacts-duplicate",
    ),
    pytest.param(
        "contacts",
        ["acme,dev@acme.example,analyst"],
        [(3, "", "expected 6 fields, found 3")],
        id="contacts-wrong-field-count",
    ),
    # touchpoints
    pytest.param(
        "touchpoints",
        [",2026-01-16,meeting,,,Kickoff"],
        [(3, "account", MISSING)],
        id="touchpoints-missing-account",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-02-30,meeting,,,Kickoff"],
        [(3, "date", "'2026-02-30' is not a date in YYYY-MM-DD form")],
        id="touchpoints-bad-date",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,call,,,Kickoff"],
        [(3, "kind", f"'call' is not one of: {TOUCHPOINT_KINDS}")],
        id="touchpoints-unknown-kind",
    ),
    pytest.param(
        "touchpoints",
        ["acme-2,2026-01-16,meeting,,,Kickoff"],
        [(3, "account", UNKNOWN_ACME2)],
        id="touchpoints-unknown-account",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,nps,11,,Survey"],
        [(3, "score", "nps score 11 is outside 0-10")],
        id="touchpoints-nps-above-10",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,nps,-1,,Survey"],
        [(3, "score", "nps score -1 is outside 0-10")],
        id="touchpoints-nps-below-0",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,csat,0,,Survey"],
        [(3, "score", "csat score 0 is outside 1-5")],
        id="touchpoints-csat-below-1",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,nps,,,Survey"],
        [(3, "score", "a nps touchpoint needs a score")],
        id="touchpoints-nps-no-score",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,meeting,7,,Kickoff"],
        [(3, "score", "only nps and csat touchpoints carry a score")],
        id="touchpoints-score-on-meeting",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,nps,nine,,Survey"],
        [(3, "score", "'nine' is not a whole number")],
        id="touchpoints-score-not-a-number",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,meeting,,stranger@acme.example,Kickoff"],
        [(3, "contact", "'stranger@acme.example' is not a contact of acme")],
        id="touchpoints-unknown-contact",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-15,nps,3,cto@acme.example,Happy with the API"],
        [
            (
                3,
                "account,date,kind,contact,note",
                "duplicate of row 2 (acme, 2026-01-15, nps, cto@acme.example, "
                "Happy with the API); each key may appear once per import",
            )
        ],
        id="touchpoints-duplicate",
    ),
    pytest.param(
        "touchpoints",
        ["acme,2026-01-16,meeting"],
        [(3, "", "expected 6 fields, found 3")],
        id="touchpoints-wrong-field-count",
    ),
]


@pytest.mark.parametrize(("kind", "bad_rows", "expected"), BAD_ROW_CASES)
def test_bad_row_rejects_the_whole_file(world, kind, bad_rows, expected):
    assert_rejected_without_writes(kind, csv_bytes(kind, GOOD[kind], *bad_rows), expected)


MISSING_COLUMN_CASES = [
    ("users", "email,name", "role"),
    ("accounts", "external_id,name,segment,csm", "tier"),
    ("contracts", "account,start,arr,plan", "end"),
    ("contacts", "account,email,name", "role"),
    ("touchpoints", "account,date,note", "kind"),
]


@pytest.mark.parametrize(("kind", "header", "column"), MISSING_COLUMN_CASES)
def test_header_missing_a_required_column(world, kind, header, column):
    row = ",".join(["x"] * len(header.split(",")))
    assert_rejected_without_writes(
        kind,
        csv_bytes(kind, row, header=header),
        [(1, column, "required column is missing from the header")],
    )


def test_header_with_unknown_and_repeated_columns(world):
    assert_rejected_without_writes(
        "users",
        csv_bytes("users", "a@cs.example,csm,A,B", header="email,role,name,name"),
        [(1, "name", "column appears twice in the header")],
    )
    assert_rejected_without_writes(
        "users",
        csv_bytes("users", "a@cs.example,csm,Boss", header="email,role,title"),
        [(1, "title", "unknown column; users takes: email, role, name")],
    )


KINDS = list(HEADERS)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_file(world, kind):
    message = "the file is empty; it needs a header row and at least one row"
    assert_rejected_without_writes(kind, b"", [(1, "", message)])
    assert_rejected_without_writes(kind, b"\n  \n", [(1, "", message)])


@pytest.mark.parametrize("kind", KINDS)
def test_header_only_file(world, kind):
    assert_rejected_without_writes(
        kind, csv_bytes(kind), [(1, "", "the file has a header but no rows")]
    )


@pytest.mark.parametrize("kind", KINDS)
def test_semicolon_delimited_file(world, kind):
    data = (HEADERS[kind].replace(",", ";") + "\n" + GOOD[kind].replace(",", ";") + "\n").encode()
    assert_rejected_without_writes(
        kind,
        data,
        [
            (
                1,
                "",
                "the file is separated by semicolons, not commas; export it as comma-separated CSV",
            ),
        ],
    )


@pytest.mark.parametrize("kind", KINDS)
def test_latin1_file(world, kind):
    # A good row, then the same row with a name in Latin-1 ("é" is byte 0xe9) on line 3.
    latin = {
        "users": "rene@cs.example,csm,René",
        "accounts": "cafe,Café Labs,institution,2,,,,",
        "contracts": "acme,2025-01-01,2025-12-31,1000,développer,",
        "contacts": "acme,rene@acme.example,analyst,René,,",
        "touchpoints": "acme,2026-01-16,meeting,,,Café chat",
    }[kind]
    data = (HEADERS[kind] + "\n" + GOOD[kind] + "\n").encode() + latin.encode("latin-1")
    assert_rejected_without_writes(
        kind,
        data,
        [
            (
                3,
                "",
                "the file is not UTF-8 encoded (bad byte 0xe9 on line 3); save it as "
                "'CSV UTF-8' and upload again",
            ),
        ],
    )


def test_utf8_with_bom_and_crlf_is_accepted(world):
    data = "\ufeffemail,role,name\r\nrene@cs.example,csm,René\r\n".encode()
    result = run_import("users", data=data)
    assert result.ok, result.errors
    assert User.objects.get(email="rene@cs.example").name == "René"


# --- several problems at once ----------------------------------------------------------------

SEVERAL = {
    "users": (
        [
            "boss@cs.example,boss,Boss",
            "ok@cs.example,csm,Fine",
            ",admin,No Email",
            "x@cs.example,csm",
        ],
        [
            (3, "role", f"'boss' is not one of: {ROLES}"),
            (5, "email", MISSING),
            (6, "", "expected 3 fields, found 2"),
        ],
    ),
    "accounts": (
        [
            "initech,Initech,enterprise,2,,,,",
            "hooli,Hooli,institution,1,ghost@cs.example,,,",
            "umbrella,Umbrella,institution,5,,,,-1",
        ],
        [
            (3, "segment", f"'enterprise' is not one of: {SEGMENTS}"),
            (4, "csm", "unknown user 'ghost@cs.example'; import them as users first"),
            (5, "tier", "'5' is not a tier (1, 2 or 3)"),
            (5, "seats", "-1 is below the minimum of 0"),
        ],
    ),
    "contracts": (
        [
            "acme-2,2025-01-01,2025-12-31,1000,developer,",
            "acme,2025-06-01,2025-05-31,-1,developer,",
            "acme,2024-06-01,2024-05-31,10,developer,",
            "acme,2023-01-01,2023-12-31,10,developer,",
        ],
        [
            (3, "account", UNKNOWN_ACME2),
            (4, "arr", "-1 is negative; it must be at least 0"),
            (5, "end", "end 2024-05-31 is before start 2024-06-01"),
        ],
    ),
    "contacts": (
        [
            "acme-2,a@acme.example,analyst,,,",
            "acme,b@acme.example,boss,,,",
            "acme,c@acme.example,analyst,,2026-99-01,",
        ],
        [
            (3, "account", UNKNOWN_ACME2),
            (4, "role", f"'boss' is not one of: {CONTACT_ROLES}"),
            (5, "last_engaged", "'2026-99-01' is not a date in YYYY-MM-DD form"),
        ],
    ),
    "touchpoints": (
        [
            "acme,2026-01-16,nps,12,,",
            "acme-2,2026-01-16,meeting,,,",
            "acme,2026-01-17,meeting,,,fine",
            "acme,not-a-date,call,,,",
        ],
        [
            (3, "score", "nps score 12 is outside 0-10"),
            (4, "account", UNKNOWN_ACME2),
            (6, "date", "'not-a-date' is not a date in YYYY-MM-DD form"),
            (6, "kind", f"'call' is not one of: {TOUCHPOINT_KINDS}"),
        ],
    ),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_bad_row_is_reported_in_row_order(world, kind):
    rows, expected = SEVERAL[kind]
    assert_rejected_without_writes(kind, csv_bytes(kind, GOOD[kind], *rows), expected)


def test_row_numbers_count_spreadsheet_rows_not_physical_lines(world):
    # Row 2 holds a note spanning three lines; the bad row is still row 4, then a blank row 5.
    data = csv_bytes(
        "touchpoints",
        'acme,2026-01-10,meeting,,,"Agenda:\n- usage\n- renewal"',
        "acme,2026-01-11,email,,,Follow-up",
        "acme,2026-01-12,call,,,Bad kind",
        "",
        "acme,2026-01-13,nps,15,,Bad score",
    )
    assert_rejected_without_writes(
        "touchpoints",
        data,
        [
            (4, "kind", f"'call' is not one of: {TOUCHPOINT_KINDS}"),
            (6, "score", "nps score 15 is outside 0-10"),
        ],
    )


# --- accepted imports: exact values, idempotent, precise updates -----------------------------

VALID = {
    "users": [
        "new.csm@cs.example,csm,Nadia New",
        "New.AE@CS.example,ae,",
        "boss@cs.example,manager,Bea Boss",
    ],
    "accounts": [
        "globex,Globex Corp,self_serve,3,alice@cs.example,,,10",
        "initech,Initech,institution,1,Alice@CS.example,maya@cs.example,,",
        "hooli,Hooli,institution,2,,,,250",
    ],
    "contracts": [
        "acme,2025-01-01,2025-12-31,100000,explorer,",
        "acme,2026-01-01,2026-12-31,120000.50,developer,500000",
        "acme,2027-01-01,2027-12-31,1e5,datastreams,1_000_000",
    ],
    "contacts": [
        "acme,ceo@acme.example,exec_sponsor,Carla Chief,2026-01-10,",
        "acme,Dana@Acme.example,data_engineer,,,2026-02-01",
        "acme,cto@acme.example,champion,Theo CTO,2026-01-05,",
    ],
    "touchpoints": [
        "acme,2026-01-15,nps,9,cto@acme.example,Happy with the API",
        "acme,2026-01-16,meeting,,,Kickoff",
        "acme,2026-01-17,csat,4,,",
    ],
}
# Per kind: how many of VALID's rows are new in `world` (the CTO contact already exists).
NEW_IN_WORLD = {"users": 3, "accounts": 3, "contracts": 3, "contacts": 2, "touchpoints": 3}


@pytest.mark.parametrize("kind", KINDS)
def test_reimporting_the_same_file_changes_nothing(world, kind):
    data = csv_bytes(kind, *VALID[kind])
    first = run_import(kind, data=data)
    assert first.ok, first.errors
    assert (first.rows, first.stats.created, first.stats.updated, first.stats.unchanged) == (
        3,
        NEW_IN_WORLD[kind],
        0,
        3 - NEW_IN_WORLD[kind],
    )
    rows = table_rows()

    second = run_import(kind, data=data)

    assert second.ok
    assert (second.rows, second.stats.created, second.stats.updated, second.stats.unchanged) == (
        3,
        0,
        0,
        3,
    )
    assert table_rows() == rows
    assert list(
        ImportRun.objects.order_by("pk").values_list(
            "status", "rows", "created", "updated", "unchanged"
        )
    ) == [
        ("accepted", 3, NEW_IN_WORLD[kind], 0, 3 - NEW_IN_WORLD[kind]),
        ("accepted", 3, 0, 0, 3),
    ]


def test_users_import_writes_exact_values(world):
    result = run_import("users", data=csv_bytes("users", *VALID["users"]))
    assert result.ok
    assert list(
        User.objects.filter(
            email__in=["new.csm@cs.example", "new.ae@cs.example", "boss@cs.example"]
        )
        .order_by("email")
        .values_list("email", "role", "name")
    ) == [
        ("boss@cs.example", "manager", "Bea Boss"),
        ("new.ae@cs.example", "ae", ""),
        ("new.csm@cs.example", "csm", "Nadia New"),
    ]
    # Imported people cannot log in until a password is set for them.
    assert not User.objects.get(email="new.csm@cs.example").has_usable_password()


def test_accounts_import_writes_exact_values(world, alice, maya):
    result = run_import("accounts", data=csv_bytes("accounts", *VALID["accounts"]))
    assert result.ok
    assert list(
        Account.objects.exclude(external_id="acme")
        .order_by("external_id")
        .values_list("external_id", "name", "segment", "tier", "csm_id", "ae_id", "se_id", "seats")
    ) == [
        ("globex", "Globex Corp", "self_serve", 3, alice.pk, None, None, 10),
        ("hooli", "Hooli", "institution", 2, None, None, None, 250),
        ("initech", "Initech", "institution", 1, alice.pk, maya.pk, None, None),
    ]
    # New accounts have no tier history: only moves are recorded.
    assert TierChange.objects.count() == 0


def test_contracts_import_writes_exact_values(world):
    result = run_import("contracts", data=csv_bytes("contracts", *VALID["contracts"]))
    assert result.ok
    assert list(
        Contract.objects.order_by("start").values_list(
            "account__external_id", "start", "end", "arr", "plan", "commit_units"
        )
    ) == [
        ("acme", date(2025, 1, 1), date(2025, 12, 31), Decimal("100000"), "explorer", None),
        (
            "acme",
            date(2026, 1, 1),
            date(2026, 12, 31),
            Decimal("120000.50"),
            "developer",
            Decimal("500000"),
        ),
        (
            "acme",
            date(2027, 1, 1),
            date(2027, 12, 31),
            Decimal("100000"),
            "datastreams",
            Decimal("1000000"),
        ),
    ]


def test_contacts_import_writes_exact_values(world):
    result = run_import("contacts", data=csv_bytes("contacts", *VALID["contacts"]))
    assert result.ok
    assert list(
        Contact.objects.order_by("email").values_list(
            "account__external_id", "email", "role", "name", "last_engaged", "left"
        )
    ) == [
        ("acme", "ceo@acme.example", "exec_sponsor", "Carla Chief", date(2026, 1, 10), None),
        ("acme", "cto@acme.example", "champion", "Theo CTO", date(2026, 1, 5), None),
        ("acme", "dana@acme.example", "data_engineer", "", None, date(2026, 2, 1)),
    ]


def test_touchpoints_import_writes_exact_values(world):
    cto = Contact.objects.get(email="cto@acme.example")
    result = run_import("touchpoints", data=csv_bytes("touchpoints", *VALID["touchpoints"]))
    assert result.ok
    assert list(
        Touchpoint.objects.order_by("date").values_list(
            "account__external_id", "date", "kind", "score", "contact_id", "note", "logged_by"
        )
    ) == [
        ("acme", date(2026, 1, 15), "nps", 9, cto.pk, "Happy with the API", None),
        ("acme", date(2026, 1, 16), "meeting", None, None, "Kickoff", None),
        ("acme", date(2026, 1, 17), "csat", 4, None, "", None),
    ]


# Per kind: (index of the row in VALID to edit, the edited row, table, field, new value).
UPDATES = {
    "users": (0, "new.csm@cs.example,csm,Nadia Newname", User, "name", "Nadia Newname"),
    "accounts": (2, "hooli,Hooli,institution,2,,,,300", Account, "seats", 300),
    "contracts": (
        1,
        "acme,2026-01-01,2026-12-31,150000,developer,500000",
        Contract,
        "arr",
        Decimal("150000"),
    ),
    "contacts": (
        0,
        "acme,ceo@acme.example,exec_sponsor,Carla Chief,2026-03-01,",
        Contact,
        "last_engaged",
        date(2026, 3, 1),
    ),
    "touchpoints": (
        0,
        "acme,2026-01-15,nps,10,cto@acme.example,Happy with the API",
        Touchpoint,
        "score",
        10,
    ),
}


@pytest.mark.parametrize("kind", KINDS)
def test_changing_one_value_updates_exactly_that_row(world, kind):
    assert run_import(kind, data=csv_bytes(kind, *VALID[kind])).ok
    index, edited, model, field, value = UPDATES[kind]
    rows = list(VALID[kind])
    rows[index] = edited
    label = model._meta.label_lower
    before = table_rows()

    result = run_import(kind, data=csv_bytes(kind, *rows))

    assert result.ok
    assert (result.stats.created, result.stats.updated, result.stats.unchanged) == (0, 1, 2)
    after = table_rows()
    changed = [
        (old, new) for old, new in zip(before[label], after[label], strict=True) if old != new
    ]
    assert len(changed) == 1
    old, new = changed[0]
    assert {k for k in old if old[k] != new[k]} == {field}
    assert new[field] == value
    assert {k: v for k, v in after.items() if k != label} == {
        k: v for k, v in before.items() if k != label
    }


def test_accounts_import_that_moves_a_tier_writes_tier_change(world, acme):
    data = csv_bytes(
        "accounts",
        "acme,Acme Analytics,institution,1,alice@cs.example,,,",
        "globex,Globex Corp,self_serve,3,,,,",
    )
    result = run_import("accounts", data=data)
    assert result.ok
    assert (result.stats.created, result.stats.updated, result.stats.unchanged) == (1, 1, 0)
    acme.refresh_from_db()
    assert acme.tier == 1
    assert list(
        TierChange.objects.values_list(
            "account__external_id", "from_tier", "to_tier", "reason", "changed_by"
        )
    ) == [
        ("acme", 2, 1, "Changed by an accounts import", None),
    ]
    # The same file again moves nothing and records nothing more.
    again = run_import("accounts", data=data)
    assert (again.stats.created, again.stats.updated, again.stats.unchanged) == (0, 0, 2)
    assert TierChange.objects.count() == 1


def test_accounts_import_renaming_keeps_tier_history_empty(world, acme):
    data = csv_bytes("accounts", "acme,Acme Renamed,institution,2,alice@cs.example,,,")
    result = run_import("accounts", data=data)
    assert (result.stats.created, result.stats.updated, result.stats.unchanged) == (0, 1, 0)
    assert Account.objects.get(external_id="acme").name == "Acme Renamed"
    assert TierChange.objects.count() == 0


def test_contract_reference_to_an_account_in_another_file_is_still_an_error(world):
    AccountFactory(external_id="other")
    result = run_import(
        "contracts",
        data=csv_bytes(
            "contracts",
            "other,2026-01-01,2026-12-31,10,developer,",
            "missing,2026-01-01,2026-12-31,10,developer,",
        ),
    )
    assert errors_of(result) == [(3, "account", "unknown account 'missing'; import it first")]
    assert Account.objects.filter(external_id="missing").count() == 0
    assert Contract.objects.count() == 0


# --- JSON rows (the API's second body format) go through the same checks --------------------


def test_json_rows_are_numbered_from_one_and_checked_the_same(world):
    rows = [
        {
            "account": "acme",
            "start": "2026-01-01",
            "end": "2026-12-31",
            "arr": 1000,
            "plan": "developer",
        },
        {
            "account": "acme",
            "start": "2025-01-01",
            "end": "2025-12-31",
            "arr": -1,
            "plan": "developer",
        },
        {
            "account": "acme",
            "start": "2024-01-01",
            "end": "2024-12-31",
            "arr": 5,
            "plan": "developer",
            "discount": 10,
        },
        "not an object",
    ]
    counts = table_counts()
    result = run_import("contracts", json_rows=rows)
    assert errors_of(result) == [
        (2, "arr", "-1 is negative; it must be at least 0"),
        (3, "discount", "unknown column(s) in this row"),
        (4, "", "each row must be a JSON object of column: value"),
    ]
    assert table_counts() == counts


def test_json_rows_import_and_reimport(world):
    rows = [{"email": "j@cs.example", "role": "se", "name": "Jo"}]
    first = run_import("users", json_rows=rows)
    second = run_import("users", json_rows=rows)
    assert (first.stats.created, first.stats.updated, first.stats.unchanged) == (1, 0, 0)
    assert (second.stats.created, second.stats.updated, second.stats.unchanged) == (0, 0, 1)
    assert User.objects.get(email="j@cs.example").role == "se"


def test_json_with_no_rows_is_rejected(world):
    counts = table_counts()
    result = run_import("users", json_rows=[])
    assert errors_of(result) == [(0, "", 'expected {"rows": [...]} with at least one row')]
    assert table_counts() == counts


def test_unknown_kind_is_rejected(db):
    result = run_import("planets", data=b"name\nmars\n")
    assert result.ok is False
    kinds = ", ".join(k.key for k in all_kinds())
    assert errors_of(result) == [(0, "", f"unknown import kind 'planets'; use one of: {kinds}")]
    assert kinds.startswith("users, accounts, contracts, contacts")


# --- the browser door: the upload page -------------------------------------------------------


def upload(client, kind: str, data: bytes, *, name: str = "file.csv", htmx: bool = False):
    file = SimpleUploadedFile(name, data, content_type="text/csv")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/imports/", {"kind": kind, "file": file}, headers=headers)


@pytest.mark.parametrize("htmx", [False, True])
def test_upload_rejected_lists_every_bad_row_and_writes_nothing(world, maya_client, maya, htmx):
    data = csv_bytes("contracts", GOOD["contracts"], *SEVERAL["contracts"][0])
    counts, rows = table_counts(), table_rows()

    response = upload(maya_client, "contracts", data, name="q1-contracts.csv", htmx=htmx)

    assert response.status_code == 400
    body = html.unescape(response.text)
    assert "Rejected: nothing was imported" in body
    assert "3 problems in 5 rows." in body
    assert re.findall(
        r"<tr><td class=\"num\">(\d+)</td><td class=\"mono\">(.*?)</td>"
        r"<td>(.*?)</td></tr>",
        body,
    ) == [
        ("3", "account", UNKNOWN_ACME2),
        ("4", "arr", "-1 is negative; it must be at least 0"),
        ("5", "end", "end 2024-05-31 is before start 2024-06-01"),
    ]
    assert ("<html" in response.text) is not htmx
    assert table_counts() == counts
    assert table_rows() == rows
    run = ImportRun.objects.get()
    assert (run.kind, run.origin, run.filename, run.user_id, run.status, run.error_count) == (
        "contracts",
        "web",
        "q1-contracts.csv",
        maya.pk,
        "rejected",
        3,
    )


def test_upload_of_a_file_level_problem_shows_it(world, maya_client):
    response = upload(maya_client, "accounts", b"external_id;name\nx;y\n")
    assert response.status_code == 400
    body = html.unescape(response.text)
    assert "Rejected: nothing was imported" in body
    assert (
        '<tr><td class="num">1</td><td class="mono">—</td><td>the file is separated by '
        "semicolons, not commas; export it as comma-separated CSV</td></tr>"
    ) in body


@pytest.mark.parametrize("htmx", [False, True])
def test_upload_accepted_shows_the_counts(world, maya_client, htmx):
    run_import("contracts", data=csv_bytes("contracts", VALID["contracts"][0]))
    data = csv_bytes("contracts", *VALID["contracts"])

    response = upload(maya_client, "contracts", data, htmx=htmx)

    assert response.status_code == 200
    body = html.unescape(response.text)
    assert "Accepted: 3 contracts rows" in body
    assert "2 new · 0 updated · 1 unchanged" in body
    assert Contract.objects.count() == 3
    if not htmx:
        assert "Imported 3 contracts rows: 2 new, 0 updated, 1 unchanged." in body


def test_upload_same_file_twice_changes_nothing(world, maya_client):
    data = csv_bytes("accounts", *VALID["accounts"])
    assert upload(maya_client, "accounts", data).status_code == 200
    rows = table_rows()
    response = upload(maya_client, "accounts", data)
    assert response.status_code == 200
    assert "0 new · 0 updated · 3 unchanged" in html.unescape(response.text)
    assert table_rows() == rows


def test_upload_without_a_file_or_kind_is_explained(world, maya_client):
    no_file = maya_client.post("/imports/", {"kind": "users"})
    no_kind = upload(maya_client, "planets", b"a,b\n1,2\n")
    assert no_file.status_code == 400
    assert "Choose a CSV file to upload." in no_file.text
    assert no_kind.status_code == 400
    assert "Choose what kind of data the file holds." in no_kind.text
    assert ImportRun.objects.count() == 0


def test_upload_page_lists_recent_runs(world, maya_client):
    upload(maya_client, "users", csv_bytes("users", "bad,csm,X"))
    page = maya_client.get("/imports/")
    assert page.status_code == 200
    assert "rejected · 1 error" in page.text


def test_htmx_upload_refreshes_recent_imports_in_place(world, maya_client):
    """The page is not reloaded, so the response also swaps in the run list with the new run."""
    response = upload(
        maya_client, "users", csv_bytes("users", "bad,csm,X"), name="q.csv", htmx=True
    )

    body = html.unescape(response.text)
    recent = body[body.index('id="recent-imports"') :]
    assert 'hx-swap-oob="true"' in recent[:80]
    assert "q.csv" in recent
    assert "rejected · 1 error" in recent


def test_htmx_upload_leaves_no_stale_flash_for_the_next_page(world, maya_client):
    response = upload(maya_client, "users", csv_bytes("users", GOOD["users"]), htmx=True)
    assert response.status_code == 200
    assert "Accepted: 1 users row" in response.text
    # The fragment already said it; the next full page must not repeat it.
    assert "Imported 1 users rows" not in maya_client.get("/book/").text


def test_a_column_left_out_of_the_file_leaves_that_field_alone(world, alice):
    """A 're-tier only' file must not unassign every CSM or clear seats."""
    world.seats = 40
    world.save()
    data = csv_bytes(
        "accounts", "acme,Acme Inc,institution,2", header="external_id,name,segment,tier"
    )
    result = run_import("accounts", data=data)
    assert result.ok and result.stats.updated == 1
    world.refresh_from_db()
    assert (world.tier, world.csm_id, world.seats) == (2, alice.pk, 40)


def test_a_key_left_out_of_json_rows_leaves_that_field_alone(world):
    ContactFactory(
        account=world,
        email="ops@acme.example",
        role="analyst",
        last_engaged=date(2026, 3, 1),
        left=date(2026, 4, 1),
    )
    result = run_import(
        "contacts", json_rows=[{"account": "acme", "email": "ops@acme.example", "role": "champion"}]
    )
    assert result.ok
    contact = world.contacts.get(email="ops@acme.example")
    assert (contact.role, contact.last_engaged, contact.left) == (
        "champion",
        date(2026, 3, 1),
        date(2026, 4, 1),
    )


def test_importing_users_does_not_touch_other_users_passwords(world, alice):
    alice.set_password("alice-pass-1")
    alice.save()
    assert run_import("users", data=csv_bytes("users", "new@cs.example,csm,New")).ok
    alice.refresh_from_db()
    assert alice.check_password("alice-pass-1")
    assert not User.objects.get(email="new@cs.example").has_usable_password()
