"""Management commands: import_data (the command-line import door) and create_api_token."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account, ApiToken, Contract, TierChange, User
from cs_portal.management.commands.import_data import Command as ImportDataCommand
from cs_portal.models import ImportRun
from tests.conftest import table_counts, table_rows

ACCOUNTS = (
    "external_id,name,segment,tier,csm,ae,se,seats\n"
    "globex,Globex Corp,self_serve,3,alice@cs.example,,,10\n"
    "initech,Initech,institution,1,,,,\n"
)
BAD_CONTRACTS = (
    "account,start,end,arr,plan,commit_units\n"
    "acme,2026-01-01,2026-12-31,1000,developer,\n"
    "acme,2025-06-01,2025-05-31,10,developer,\n"
    "ghost,2025-01-01,2025-12-31,10,developer,\n"
    "acme,2024-01-01,2024-12-31,-10,gold,\n"
)


def run_command(argv: list[str]) -> int:
    """Run the command as `manage.py` does and return its exit status."""
    try:
        ImportDataCommand().run_from_argv(["manage.py", "import_data", *argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


# run_from_argv closes the database connections when it finishes, so these run outside the
# per-test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def test_import_data_rejects_bad_rows_exits_non_zero_and_writes_nothing(tmp_path, capsys, acme):
    path = tmp_path / "contracts.csv"
    path.write_text(BAD_CONTRACTS)
    counts, rows = table_counts(), table_rows()

    status = run_command(["contracts", str(path)])

    assert status == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "row 3 [end]: end 2025-05-31 is before start 2025-06-01",
        "row 4 [account]: unknown account 'ghost'; import it first",
        "row 5 [arr]: -10 is negative; it must be at least 0",
        "row 5 [plan]: 'gold' is not one of: explorer, developer, datastreams, credits",
        "CommandError: rejected: 4 problem(s) in 4 rows; nothing was imported",
    ]
    assert table_counts() == counts
    assert table_rows() == rows
    assert Contract.objects.count() == 0
    run = ImportRun.objects.get()
    assert (run.kind, run.origin, run.filename, run.status, run.error_count) == (
        "contracts",
        "cli",
        "contracts.csv",
        "rejected",
        4,
    )


def test_import_data_file_level_problem(tmp_path, capsys, db):
    path = tmp_path / "users.csv"
    path.write_bytes("email,role,name\nrene@cs.example,csm,René\n".encode("latin-1"))
    assert run_command(["users", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "row 2: the file is not UTF-8 encoded (bad byte 0xe9 on line 2); save it as "
        "'CSV UTF-8' and upload again"
    )
    assert User.objects.count() == 0


def test_import_data_accepts_and_reports_counts_then_changes_nothing(tmp_path, capsys, alice):
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS)

    assert run_command(["accounts", str(path)]) == 0
    first = capsys.readouterr().out
    assert re.fullmatch(
        r"imported 2 accounts rows: 2 new, 0 updated, 0 unchanged "
        r"\(\d+\.\d\d s\)\n",
        first,
    )
    assert list(
        Account.objects.order_by("external_id").values_list(
            "external_id", "name", "tier", "csm_id", "seats"
        )
    ) == [("globex", "Globex Corp", 3, alice.pk, 10), ("initech", "Initech", 1, None, None)]
    rows = table_rows()

    assert run_command(["accounts", str(path)]) == 0
    second = capsys.readouterr().out
    assert "imported 2 accounts rows: 0 new, 0 updated, 2 unchanged" in second
    assert table_rows() == rows


def test_import_data_tier_move_writes_history(tmp_path, capsys, acme):
    path = tmp_path / "accounts.csv"
    path.write_text(
        "external_id,name,segment,tier,csm\nacme,Acme Analytics,institution,3,alice@cs.example\n"
    )
    call_command("import_data", "accounts", str(path))
    assert list(Account.objects.values_list("tier", "csm__email")) == [(3, "alice@cs.example")]
    assert list(TierChange.objects.values_list("from_tier", "to_tier", "reason")) == [
        (2, 3, "Changed by an accounts import")
    ]


def test_import_data_unknown_kind_or_missing_file(tmp_path, db):
    with pytest.raises(CommandError, match=r"^unknown kind 'planets'; use one of: users, "):
        call_command("import_data", "planets", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match=r"^no such file: .*missing\.csv$"):
        call_command("import_data", "users", str(tmp_path / "missing.csv"))
    assert ImportRun.objects.count() == 0


def test_import_data_raises_command_error_when_called_from_code(tmp_path, acme):
    path = tmp_path / "contracts.csv"
    path.write_text(BAD_CONTRACTS)
    with pytest.raises(
        CommandError, match=r"^rejected: 4 problem\(s\) in 4 rows; nothing was imported$"
    ):
        call_command("import_data", "contracts", str(path))
    assert Contract.objects.count() == 0


# --- create_api_token ------------------------------------------------------------------------


def test_create_api_token_prints_it_once_and_stores_only_a_hash(client, capsys, maya):
    call_command("create_api_token", "Maya@CS.example")
    token = capsys.readouterr().out.strip()

    assert re.fullmatch(r"csp_[A-Za-z0-9_-]{43}", token)
    stored = ApiToken.objects.get()
    assert stored.user_id == maya.pk
    assert stored.token_hash != token
    assert token not in stored.token_hash
    assert stored.token_hash == ApiToken.hash(token)
    assert stored.prefix == token[:12]
    assert (stored.revoked, stored.last_used_at) == (False, None)

    response = client.get("/api/v1/accounts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == []


def test_create_api_token_twice_gives_two_different_tokens(capsys, maya):
    call_command("create_api_token", "maya@cs.example")
    call_command("create_api_token", "maya@cs.example")
    first, second = capsys.readouterr().out.split()
    assert first != second
    assert ApiToken.objects.filter(user=maya).count() == 2


def test_create_api_token_for_unknown_user(db):
    with pytest.raises(
        CommandError,
        match=r"^no user with email ghost@cs\.example; import or "
        r"create the user first$",
    ):
        call_command("create_api_token", "ghost@cs.example")
    assert ApiToken.objects.count() == 0


def test_recompute_before_any_usage_says_nothing_was_scored_and_why(db):
    from io import StringIO

    from tests.factories import AccountFactory

    AccountFactory(external_id="acme")
    out = StringIO()
    call_command("recompute_health", stdout=out)
    assert "no usage has landed yet, so nothing was scored" in out.getvalue()
