"""My work (/work/) and the account's Plays tab (/accounts/<id>/plays/).

A CSM's open tasks grouped Overdue / Today / This week / Later with the pool queue apart;
completing inline answers the fragment (htmx) or redirects; a manager sees the team and the
workload; denied requests write nothing.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from playbooks.models import Play, Task
from playbooks.plays import services as plays
from tests.conftest import table_rows
from tests.factories import AccountFactory, UserFactory
from tests.playbooks import play_helpers as fx
from tests.playbooks.play_helpers import override, task

TODAY = date.today()
HTMX = {"HTTP_HX_REQUEST": "true"}


def group_titles(response) -> dict[str, list[str]]:
    work = response.context["work"]
    return {g.key: [t.title for t in g.tasks] for g in work.groups}


@pytest.fixture
def alices_tasks(acme, strategic, alice, bob):
    """Alice's queue across her two accounts, plus Bob's task and pooled tasks."""
    task(acme, "Call the data engineer", due=TODAY - timedelta(days=3), owner=alice)
    task(strategic, "Send the exec note", due=TODAY, owner=alice)
    task(acme, "Review the adoption plan", due=TODAY + timedelta(days=3), owner=alice)
    task(strategic, "Book the renewal QBR", due=TODAY + timedelta(days=7), owner=alice)
    task(acme, "Escalate unsigned renewal", due=TODAY + timedelta(days=30), owner=alice)
    other = AccountFactory(external_id="quartz", name="Quartz Wallet", tier=1, csm=bob)
    task(other, "Bob's own task", due=TODAY, owner=bob)
    task(acme, "Invite to the onboarding webinar", due=TODAY + timedelta(days=1), pool="tier2")
    tiny = AccountFactory(external_id="tiny", name="Tiny Labs", tier=3)
    task(tiny, "Reach out about the spike", due=TODAY, pool="tier3")
    task(tiny, "Tier-1 pool task", due=TODAY, pool="tier1")


def test_a_csm_sees_her_tasks_grouped_by_due_date(alice_client, alices_tasks):
    response = alice_client.get("/work/")

    assert response.status_code == 200
    assert group_titles(response) == {
        "overdue": ["Call the data engineer"],
        "today": ["Send the exec note"],
        "week": ["Review the adoption plan", "Book the renewal QBR"],
        "later": ["Escalate unsigned renewal"],
    }
    work = response.context["work"]
    # Alice owns tier-1 and tier-2 accounts: the tier1, tier2 and tier3 (everyone's) pools.
    assert work.pools == ["tier1", "tier2", "tier3"]
    assert [t.title for t in work.pool] == [
        "Reach out about the spike",
        "Tier-1 pool task",
        "Invite to the onboarding webinar",
    ]
    html = response.content.decode()
    assert "Bob&#x27;s own task" not in html and "Bob's own task" not in html
    assert "3 days overdue" in html
    assert 'id="pool-queue"' in html
    assert "<html" in html


def test_a_csm_with_only_tier_2_accounts_sees_the_tier2_and_tier3_pools(
    bob_client, bob, alices_tasks
):
    AccountFactory(tier=2, csm=bob)
    Task.objects.filter(owner=bob).delete()
    Task.objects.filter(account__external_id="quartz").delete()
    from accounts.models import Account

    Account.objects.filter(external_id="quartz").delete()

    work = bob_client.get("/work/").context["work"]

    assert work.pools == ["tier2", "tier3"]
    assert [t.title for t in work.pool] == [
        "Reach out about the spike",
        "Invite to the onboarding webinar",
    ]


def test_htmx_gets_the_fragment_and_the_page_varies_on_it(alice_client, alices_tasks):
    response = alice_client.get("/work/", **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="work"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_completing_inline_moves_the_task_to_done_today(alice_client, alice, alices_tasks):
    target = Task.objects.get(title="Send the exec note")

    response = alice_client.post(f"/work/tasks/{target.pk}/complete", {"from": "work"}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="work"')
    assert "Done: Send the exec note" in html
    assert group_titles(response)["today"] == []
    assert [t.title for t in response.context["work"].done_today] == ["Send the exec note"]
    assert f'id="done-{target.pk}"' in html and f'id="task-{target.pk}"' not in html
    target.refresh_from_db()
    assert (target.status, target.completed_by) == ("done", alice)


def test_completing_twice_answers_already_done(alice_client, alices_tasks):
    target = Task.objects.get(title="Send the exec note")
    alice_client.post(f"/work/tasks/{target.pk}/complete", **HTMX)
    first = Task.objects.get(pk=target.pk).completed_at

    response = alice_client.post(f"/work/tasks/{target.pk}/complete", **HTMX)

    assert response.status_code == 200
    assert "Already done: Send the exec note" in response.content.decode()
    assert Task.objects.get(pk=target.pk).completed_at == first


def test_completing_without_htmx_redirects_back(alice_client, alices_tasks):
    target = Task.objects.get(title="Send the exec note")

    response = alice_client.post(f"/work/tasks/{target.pk}/complete", {"from": "work"})

    assert response.status_code == 302 and response["Location"] == "/work/"
    page = alice_client.get("/work/")
    assert "Done: Send the exec note" in page.content.decode()


def test_a_csm_cannot_complete_another_csms_task(bob_client, alices_tasks):
    target = Task.objects.get(title="Send the exec note")
    before = table_rows()

    response = bob_client.post(f"/work/tasks/{target.pk}/complete", **HTMX)

    assert response.status_code == 403
    assert "belongs to someone else" in response.content.decode()
    assert table_rows() == before


def test_unknown_task_is_404(alice_client, db):
    assert alice_client.post("/work/tasks/999999/complete").status_code == 404
    assert alice_client.get("/work/tasks/1/complete").status_code == 405


def test_claiming_from_the_pool_queue(bob_client, bob, alices_tasks):
    target = Task.objects.get(title="Reach out about the spike")

    response = bob_client.post(f"/work/tasks/{target.pk}/claim", {"from": "work"}, **HTMX)

    assert response.status_code == 200
    assert "Claimed: Reach out about the spike" in response.content.decode()
    assert "Reach out about the spike" in group_titles(response)["today"]
    target.refresh_from_db()
    assert target.owner == bob


def test_claiming_what_someone_else_claimed_is_a_conflict(alice_client, bob_client, alices_tasks):
    target = Task.objects.get(title="Reach out about the spike")
    bob_client.post(f"/work/tasks/{target.pk}/claim", **HTMX)
    before = table_rows()

    response = alice_client.post(f"/work/tasks/{target.pk}/claim", **HTMX)

    assert response.status_code == 409
    assert "Bob Baker already claimed “Reach out about the spike”." in response.content.decode()
    assert table_rows() == before


def test_the_empty_state_says_what_to_do(alice_client, alice):
    response = alice_client.get("/work/")
    html = response.content.decode()
    assert "Nothing open" in html
    assert "Plays start by themselves when an alert fires" in html


def test_a_manager_sees_the_team_with_workload(maya_client, alice, bob, alices_tasks):
    response = maya_client.get("/work/")

    assert response.status_code == 200
    titles = group_titles(response)
    assert titles["today"] == ["Send the exec note", "Bob's own task"]
    workload = {
        (w.owner.email if w.owner else w.pool): (w.open, w.overdue, w.today, w.week)
        for w in response.context["work"].workload
    }
    assert workload == {
        "alice@cs.example": (5, 1, 1, 2),
        "bob@cs.example": (1, 0, 1, 0),
        "tier1": (1, 0, 1, 0),
        "tier2": (1, 0, 0, 1),
        "tier3": (1, 0, 1, 0),
    }
    html = response.content.decode()
    assert 'id="workload"' in html and "Team work" in html


def test_a_manager_filters_by_owner_and_pool(maya_client, alice, alices_tasks):
    one = maya_client.get(f"/work/?owner={alice.pk}", **HTMX)
    assert group_titles(one)["overdue"] == ["Call the data engineer"]
    assert "Bob's own task" not in str(group_titles(one))

    pool = maya_client.get("/work/?owner=pool")
    assert group_titles(pool) == {
        "overdue": [],
        "today": ["Reach out about the spike", "Tier-1 pool task"],
        "week": ["Invite to the onboarding webinar"],
        "later": [],
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "owner=someone",
            "owner must be &#x27;all&#x27;, &#x27;me&#x27;, &#x27;pool&#x27; or a "
            "user&#x27;s id, not &#x27;someone&#x27;",
        ),
        ("owner=999999", "owner 999999 is not a user; pick one from the list"),
    ],
)
def test_bad_owner_filter_is_400_with_a_message(maya_client, alices_tasks, query, message):
    response = maya_client.get(f"/work/?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_my_work_reads_in_a_bounded_number_of_queries(
    maya_client, alice, acme, django_assert_max_num_queries
):
    for i in range(40):
        task(acme, f"Task {i}", due=TODAY + timedelta(days=i - 10), owner=alice)
        task(acme, f"Pooled {i}", due=TODAY + timedelta(days=i - 10), pool="tier2")
    UserFactory.create_batch(5, role="csm")
    with django_assert_max_num_queries(20):
        assert maya_client.get("/work/").status_code == 200


# --- the account's Plays tab ----------------------------------------------------------------


def test_plays_tab_lists_open_and_finished_plays(alice_client, library, acme, alice):
    [open_play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    done = plays.play_start(account=acme, playbook=library["champion-left"])
    for t in done.tasks.all():
        plays.task_complete(task=t, user=alice)

    response = alice_client.get("/accounts/acme/plays/")

    assert response.status_code == 200
    assert [p.pk for p in response.context["open_plays"]] == [open_play.pk]
    assert [p.pk for p in response.context["finished_plays"]] == [done.pk]
    html = response.content.decode()
    for title in fx.SHARP_DROP_TITLES:
        assert title in html
    assert "0 of 4 tasks done" in html
    assert 'id="start-play"' in html
    assert "Sharp drop: find out why within 48 hours" in html


@pytest.mark.parametrize("client_name", ["bob_client", "pat_client"])
def test_only_editors_see_the_start_form(request, library, acme, client_name):
    client = request.getfixturevalue(client_name)
    html = client.get("/accounts/acme/plays/").content.decode()
    assert 'id="start-play"' not in html
    assert "No play is running on Acme Analytics" in html


def test_starting_a_play_by_hand(alice_client, library, acme, alice):
    response = alice_client.post("/accounts/acme/plays/start", {"playbook": "sharp-drop"}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Started “Sharp drop: find out why within 48 hours” for Alice Archer." in html
    play = Play.objects.get(account=acme)
    assert (play.playbook.key, play.owner, play.alert) == ("sharp-drop", alice, None)
    assert play.tasks.count() == 4


def test_starting_a_play_rejects_bad_input_with_422(alice_client, library, acme):
    plays.play_start(account=acme, playbook=library["sharp-drop"])
    before = table_rows()

    unknown = alice_client.post("/accounts/acme/plays/start", {"playbook": "nope"}, **HTMX)
    running = alice_client.post("/accounts/acme/plays/start", {"playbook": "sharp-drop"})
    empty = alice_client.post("/accounts/acme/plays/start", {})

    assert unknown.status_code == running.status_code == empty.status_code == 422
    assert "There is no playbook &#x27;nope&#x27;" in unknown.content.decode()
    assert (
        "Sharp drop: find out why within 48 hours is already running on Acme Analytics."
        in running.content.decode()
    )
    assert "Choose a playbook to start." in empty.content.decode()
    assert table_rows() == before


def test_a_csm_cannot_start_plays_on_someone_elses_account(bob_client, library, acme):
    before = table_rows()
    response = bob_client.post("/accounts/acme/plays/start", {"playbook": "sharp-drop"})
    assert response.status_code == 403
    assert table_rows() == before


def test_completing_from_the_plays_tab_answers_the_plays_fragment(alice_client, library, acme):
    [play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    first = play.tasks.order_by("due", "id").first()

    response = alice_client.post(f"/work/tasks/{first.pk}/complete", {"from": "plays"}, **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="plays"')
    assert "1 of 4 tasks done" in html
    assert re.search(rf'id="task-{first.pk}" class="task-done"', html)

    plain = alice_client.post(f"/work/tasks/{first.pk}/complete", {"from": "plays"})
    assert plain.status_code == 302 and plain["Location"] == "/accounts/acme/plays/"


def test_cancelling_a_play(alice_client, bob_client, library, acme):
    [play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    before = table_rows()
    assert bob_client.post(f"/accounts/acme/plays/{play.pk}/cancel").status_code == 403
    assert table_rows() == before

    response = alice_client.post(f"/accounts/acme/plays/{play.pk}/cancel", **HTMX)

    assert "Cancelled “Sharp drop: find out why within 48 hours”." in response.content.decode()
    play.refresh_from_db()
    assert play.status == "cancelled" and play.tasks.count() == 0


def test_plays_tab_unknown_account_is_404(alice_client, db):
    assert alice_client.get("/accounts/nope/plays/").status_code == 404


def test_pooled_tasks_can_be_claimed_from_the_plays_tab(bob_client, bob, library, digital):
    [play] = plays.plays_start_for_alerts([fx.alert_for(digital, "usage_spike", spike_ratio=9)])
    first = play.tasks.order_by("due", "id").first()
    page = bob_client.get("/accounts/tinybyte/plays/").content.decode()
    assert page.count('data-testid="claim"') == 3

    response = bob_client.post(f"/work/tasks/{first.pk}/claim", {"from": "plays"}, **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="plays"')
    assert "Claimed: Look at what spiked" in html
    assert 'data-testid="claim"' not in html
    assert "owner <strong>Bob Baker</strong>" in html
    play.refresh_from_db()
    assert play.owner == bob


def test_a_csm_cannot_look_at_someone_elses_queue(alice_client, bob, alices_tasks):
    response = alice_client.get(f"/work/?owner={bob.pk}")

    assert response.status_code == 400
    html = response.content.decode()
    assert "only CS managers see other people&#x27;s work" in html
    assert "Bob's own task" not in html  # she still sees her own queue
    assert group_titles(response)["today"] == ["Send the exec note"]
    assert alice_client.get("/work/?owner=me").status_code == 200
