"""Two imports creating the same new keys at the same moment, through the real API on real
PostgreSQL: the second waits its turn instead of failing on the unique key, both are answered
200 and both are in the import history."""

from __future__ import annotations

import contextlib
import threading

import pytest

from accounts.models import Account, Role, User
from accounts.services import api_token_create
from cs_portal import imports
from cs_portal.models import ImportRun
from tests.factories import UserFactory
from tests.integration.helpers import post_csv

KINDS = {
    # kind: (header, a row for number i, the records the rows become)
    "accounts": (
        "external_id,name,segment,tier\n",
        "race-{i:03d},Race {i},self_serve,3\n",
        lambda: Account.objects.filter(external_id__startswith="race-"),
    ),
    "users": (
        "email,role\n",
        "race{i}@cs.example,csm\n",
        lambda: User.objects.filter(email__startswith="race"),
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_two_imports_of_the_same_new_keys_at_once_both_succeed(
    live_server, transactional_db, monkeypatch, kind
):
    header, row, records = KINDS[kind]
    token = api_token_create(user=UserFactory(email="maya@cs.example", role=Role.MANAGER))
    # Hold each import right after it looked up which keys exist, until the other has looked
    # too (or 3 s passed): without serialization both see none and both insert.
    both_looked = threading.Barrier(2)
    real = imports._existing_by_key

    def existing_then_wait(*args, **kwargs):
        found = real(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):  # the other waits its turn
            both_looked.wait(timeout=3)
        return found

    monkeypatch.setattr(imports, "_existing_by_key", existing_then_wait)
    url = f"{live_server.url}/api/v1/import/{kind}"
    bodies = {
        "first": header + "".join(row.format(i=i) for i in range(0, 60)),
        "second": header + "".join(row.format(i=i) for i in range(30, 90)),  # 30 overlap
    }
    answers: dict[str, tuple[int, dict]] = {}

    def post(label: str) -> None:
        try:
            answers[label] = post_csv(url, token, bodies[label])
        except ValueError:  # not JSON: the server's error page
            answers[label] = (500, {})

    threads = [threading.Thread(target=post, args=(label,)) for label in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(status for status, _ in answers.values()) == [200, 200], answers
    # The first to write created all its rows; the other found the overlap already there.
    assert sorted(body["created"] for _, body in answers.values()) == [30, 60]
    assert sorted(body["rows"] for _, body in answers.values()) == [60, 60]
    assert records().count() == 90
    runs = ImportRun.objects.filter(kind=kind).values_list("status", "origin", "rows")
    assert sorted(runs) == [("accepted", "api", 60), ("accepted", "api", 60)]
