"""GET /api/v1/accounts/{external_id}/plays: the account's plays with their tasks."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from playbooks.plays import services as plays
from tests.playbooks import play_helpers as fx
from tests.playbooks.play_helpers import alert_for, override

TODAY = date.today()


def get(client, token, path):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_plays_with_tasks(client, alice_token, library, acme, alice):
    [play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    first = play.tasks.order_by("due", "id").first()
    plays.task_complete(task=first, user=alice)
    first.refresh_from_db()

    response = get(client, alice_token, "/api/v1/accounts/acme/plays")

    assert response.status_code == 200
    [body] = response.json()
    assert {k: v for k, v in body.items() if k != "tasks"} == {
        "playbook": "sharp-drop",
        "name": "Sharp drop: find out why within 48 hours",
        "status": "open",
        "owner": "alice@cs.example",
        "pool": "",
        "started_on": TODAY.isoformat(),
        "closed_reason": "",
    }
    done = body["tasks"][0]
    assert {k: v for k, v in done.items() if k != "completed_at"} == {
        "title": fx.SHARP_DROP_TITLES[0],
        "due": TODAY.isoformat(),
        "status": "done",
        "owner": "alice@cs.example",
    }
    # JSON carries milliseconds.
    assert datetime.fromisoformat(done["completed_at"]) == first.completed_at.replace(
        microsecond=first.completed_at.microsecond // 1000 * 1000
    )
    assert [(t["title"], t["due"], t["status"], t["completed_at"]) for t in body["tasks"][1:]] == [
        (title, (TODAY + timedelta(days=d)).isoformat(), "open", None)
        for title, d in zip(fx.SHARP_DROP_TITLES[1:], fx.SHARP_DROP_DAYS[1:], strict=True)
    ]


def test_pooled_play_has_no_owner(client, alice_token, library, digital):
    plays.plays_start_for_alerts([alert_for(digital, "usage_spike", spike_ratio=7.5)])

    [body] = get(client, alice_token, "/api/v1/accounts/tinybyte/plays").json()

    assert (body["playbook"], body["owner"], body["pool"]) == (
        "tier3-spike-reach-out",
        None,
        "tier3",
    )
    assert {t["owner"] for t in body["tasks"]} == {None}


def test_status_filter(client, alice_token, library, acme, alice):
    done = plays.play_start(account=acme, playbook=library["champion-left"])
    for t in done.tasks.all():
        plays.task_complete(task=t, user=alice)
    plays.plays_start_for_alerts([override(acme, "sharp_drop")])

    everything = get(client, alice_token, "/api/v1/accounts/acme/plays").json()
    finished = get(client, alice_token, "/api/v1/accounts/acme/plays?status=done").json()
    bad = get(client, alice_token, "/api/v1/accounts/acme/plays?status=finished")

    assert sorted(p["playbook"] for p in everything) == ["champion-left", "sharp-drop"]
    assert [(p["playbook"], p["status"]) for p in finished] == [("champion-left", "done")]
    assert bad.status_code == 400
    assert bad.json() == {
        "detail": "status must be one of open, done, cancelled, cleared, not 'finished'"
    }


def test_no_plays_is_an_empty_list(client, alice_token, acme):
    response = get(client, alice_token, "/api/v1/accounts/acme/plays")
    assert (response.status_code, response.json()) == (200, [])


def test_unknown_account_is_404(client, alice_token, db):
    response = get(client, alice_token, "/api/v1/accounts/nope/plays")
    assert response.status_code == 404
    assert response.json() == {"detail": "no account 'nope'"}


def test_needs_a_token(client, acme):
    response = client.get("/api/v1/accounts/acme/plays")
    assert response.status_code == 401


def test_listed_in_the_openapi_schema(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/accounts/{external_id}/plays" in schema["paths"]
