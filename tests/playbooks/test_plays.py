"""Plays and tasks (playbooks/plays/) and the default library (playbooks/plays/library.py).

Alerts start the right playbook by trigger and tier, owned per the owner rule, with tasks due
`due_days` after today; one open play per account and playbook, however many alerts; a finished
play lets the next alert start a new one. Completing a task is idempotent and permissioned.
Malformed templates are rejected with a message and nothing is saved.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from playbooks.models import (
    AlertKind,
    Play,
    Playbook,
    PlaybookStep,
    PlayStatus,
    Task,
    TaskStatus,
)
from playbooks.plays import services as plays
from playbooks.plays.library import DEFAULT_PLAYBOOKS, playbooks_load_defaults
from playbooks.plays.rules import StepInput, trigger_matches, trigger_normalise
from playbooks.plays.services import playbook_save
from tests.conftest import table_rows
from tests.factories import AccountFactory, UserFactory
from tests.playbooks import play_helpers as fx
from tests.playbooks.play_helpers import alert_for, override, playbook, task

TODAY = date.today()


def tasks_of(play: Play) -> list[tuple[str, date, int | None, str]]:
    return [(t.title, t.due, t.owner_id, t.pool) for t in play.tasks.order_by("due", "id")]


# --- triggers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("override:coasting", "override:coasting"),
        (" Override:Sharp_Drop ", "override:sharp_drop"),
        ("usage_spike", "usage_spike"),
        ("renewal_risk", "renewal_risk"),
        ("renewal_risk:060", "renewal_risk:60"),
        ("commit_threshold:90", "commit_threshold:90"),
        ("onboarding_overdue", "onboarding_overdue"),
        ("onboarding_overdue:first_query", "onboarding_overdue:first_query"),
        ("band_change:red", "band_change:red"),
        ("score_drop:20", "score_drop:20"),
    ],
)
def test_trigger_normalise_accepts_known_triggers(raw, canonical):
    assert trigger_normalise(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            "",
            "Give a trigger: an alert kind, optionally kind:detail (for example "
            "override:coasting, renewal_risk, commit_threshold:90, usage_spike).",
        ),
        (
            "churn_risk",
            "Unknown trigger 'churn_risk': the kind before ':' must be one of "
            "band_change, override, score_drop, renewal_risk, onboarding_overdue, "
            "commit_threshold, usage_spike.",
        ),
        (
            "override:sharp_dorp",
            "Unknown trigger detail 'sharp_dorp' for override: use one of "
            "sharp_drop, coasting, data_trust_incident, champion_left.",
        ),
        (
            "band_change:purple",
            "Unknown trigger detail 'purple' for band_change: use one of green, yellow, red.",
        ),
        (
            "commit_threshold:80",
            "Unknown trigger detail '80' for commit_threshold: use one of 70, 90.",
        ),
        (
            "renewal_risk:-30",
            "The detail of renewal_risk must be a whole number of days to "
            "renewal from 1 to 365, not '-30'.",
        ),
        (
            "usage_spike:lots",
            "The detail of usage_spike must be a whole number of times the prior "
            "daily average from 1 to 1000, not 'lots'.",
        ),
        (
            "override:",
            "Trigger 'override:' ends with ':'; give a detail after it or use just 'override'.",
        ),
    ],
)
def test_trigger_normalise_rejects_with_a_message(raw, message):
    with pytest.raises(ValidationError) as exc:
        trigger_normalise(raw)
    assert exc.value.messages == [message]


def test_trigger_details_match_the_alert_data(acme):
    coasting = override(acme, "coasting")
    assert trigger_matches("override", coasting)
    assert trigger_matches("override:coasting", coasting)
    assert not trigger_matches("override:sharp_drop", coasting)
    assert not trigger_matches("band_change", coasting)

    red = alert_for(acme, AlertKind.BAND_CHANGE, band="red", from_band="yellow")
    assert trigger_matches("band_change:red", red)
    assert not trigger_matches("band_change:yellow", red)

    ninety = alert_for(acme, AlertKind.COMMIT_THRESHOLD, threshold=0.9, consumed_share=0.93)
    assert trigger_matches("commit_threshold:90", ninety)
    assert not trigger_matches("commit_threshold:70", ninety)

    as_of = TODAY - timedelta(days=1)
    renewal = alert_for(
        acme, AlertKind.RENEWAL_RISK, as_of=as_of, renewal=(as_of + timedelta(days=45)).isoformat()
    )
    assert trigger_matches("renewal_risk:60", renewal)
    assert trigger_matches("renewal_risk:45", renewal)
    assert not trigger_matches("renewal_risk:44", renewal)

    spike = alert_for(acme, AlertKind.USAGE_SPIKE, spike_ratio=8.2)
    assert trigger_matches("usage_spike:8", spike)
    assert not trigger_matches("usage_spike:9", spike)

    overdue = alert_for(acme, AlertKind.ONBOARDING_OVERDUE, milestone="first_query")
    assert trigger_matches("onboarding_overdue:first_query", overdue)
    assert not trigger_matches("onboarding_overdue:value_defined", overdue)

    # An alert without the number a detail needs cannot prove it.
    bare = alert_for(acme, AlertKind.SCORE_DROP)
    assert trigger_matches("score_drop", bare)
    assert not trigger_matches("score_drop:20", bare)


# --- plays from alerts ----------------------------------------------------------------------


def test_sharp_drop_starts_its_play_for_the_csm_with_dated_tasks(library, acme, alice):
    alert = override(acme, "sharp_drop")

    [play] = plays.plays_start_for_alerts([alert])

    assert (play.account, play.playbook.key, play.status) == (acme, "sharp-drop", "open")
    assert (play.owner, play.pool, play.alert, play.started_on) == (alice, "", alert, TODAY)
    assert tasks_of(play) == [
        (title, TODAY + timedelta(days=d), alice.pk, "")
        for title, d in zip(fx.SHARP_DROP_TITLES, fx.SHARP_DROP_DAYS, strict=True)
    ]
    assert Play.objects.count() == 1
    assert Task.objects.count() == 4


def test_each_override_starts_its_own_playbook(library, acme):
    alerts = [override(acme, name) for name in ("coasting", "champion_left", "data_trust_incident")]

    started = plays.plays_start_for_alerts(alerts)

    assert sorted(p.playbook.key for p in started) == [
        "champion-left",
        "coasting-adoption-plan",
        "data-trust-disclosure",
    ]
    first_tasks = {p.playbook.key: p.tasks.order_by("due", "id").first().title for p in started}
    assert first_tasks["data-trust-disclosure"] == (
        "Disclose the incident: affected datasets and chains, impact window, ETA"
    )
    assert first_tasks["coasting-adoption-plan"] == (
        "Pull commit vs consumption and the run-rate to period end"
    )


def test_tier_decides_which_onboarding_playbook_starts(library, acme, strategic, digital, alice):
    started = plays.plays_start_for_alerts(
        [
            alert_for(a, AlertKind.ONBOARDING_OVERDUE, milestone="first_query")
            for a in (acme, strategic, digital)
        ]
    )

    by_account = {p.account.external_id: p for p in started}
    assert {k: p.playbook.key for k, p in by_account.items()} == {
        "acme": "onboarding-tier2",
        "northwind": "onboarding-tier1",
        "tinybyte": "onboarding-tier3",
    }
    # Tier 1 goes to the named CSM; tier 2 and 3 onboarding is pooled, even with a CSM.
    assert (by_account["northwind"].owner, by_account["northwind"].pool) == (alice, "")
    assert (by_account["acme"].owner, by_account["acme"].pool) == (None, "tier2")
    assert (by_account["tinybyte"].owner, by_account["tinybyte"].pool) == (None, "tier3")
    assert set(by_account["acme"].tasks.values_list("owner", "pool")) == {(None, "tier2")}
    assert by_account["northwind"].tasks.count() == 6


def test_usage_spike_starts_a_pooled_reach_out_on_tier_3_only(library, acme, digital):
    started = plays.plays_start_for_alerts(
        [
            alert_for(acme, AlertKind.USAGE_SPIKE, spike_ratio=8.0),
            alert_for(digital, AlertKind.USAGE_SPIKE, spike_ratio=8.0),
        ]
    )

    [play] = started
    assert (play.account, play.playbook.key, play.owner, play.pool) == (
        digital,
        "tier3-spike-reach-out",
        None,
        "tier3",
    )
    assert tasks_of(play) == [
        (
            "Look at what spiked: product, chains, datasets; is it a production pipeline?",
            TODAY,
            None,
            "tier3",
        ),
        (
            "Reach out personally: offer an architecture review and the right plan for their "
            "volume",
            TODAY + timedelta(days=1),
            None,
            "tier3",
        ),
        (
            "If they run production on us: propose a commit and suggest promotion to tier 2",
            TODAY + timedelta(days=5),
            None,
            "tier3",
        ),
    ]


def test_owner_rules(db, alice):
    pooled = playbook("pooled", trigger="band_change", owner_rule="pool")
    t1 = AccountFactory(tier=1, csm=alice)
    t2 = AccountFactory(tier=2, csm=alice)
    orphan_t1 = AccountFactory(tier=1, csm=None)
    owned = playbook("owned", trigger="score_drop", owner_rule="csm")

    started = plays.plays_start_for_alerts(
        [alert_for(a, AlertKind.BAND_CHANGE, band="red") for a in (t1, t2, orphan_t1)]
        + [alert_for(a, AlertKind.SCORE_DROP, points=20) for a in (t2, orphan_t1)]
    )

    got = {(p.playbook_id, p.account_id): (p.owner_id, p.pool) for p in started}
    assert got == {
        (pooled.pk, t1.pk): (alice.pk, ""),  # tier 1 always goes to its CSM
        (pooled.pk, t2.pk): (None, "tier2"),
        (pooled.pk, orphan_t1.pk): (None, "tier1"),  # no CSM: the tier's pool
        (owned.pk, t2.pk): (alice.pk, ""),
        (owned.pk, orphan_t1.pk): (None, "tier1"),
    }


def test_one_open_play_per_account_and_playbook_however_many_alerts(library, acme):
    first, second = override(acme, "sharp_drop"), override(acme, "sharp_drop")

    started = plays.plays_start_for_alerts([first, second])
    again = plays.plays_start_for_alerts([override(acme, "sharp_drop")])

    assert len(started) == 1 and started[0].alert == first
    assert again == []
    assert Play.objects.filter(account=acme).count() == 1
    assert Task.objects.filter(account=acme).count() == 4


def test_a_finished_play_lets_the_next_alert_start_a_new_one(library, acme, alice):
    [play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    for t in play.tasks.all():
        plays.task_complete(task=t, user=alice)
    play.refresh_from_db()
    assert play.status == PlayStatus.DONE

    [new] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])

    assert new.pk != play.pk and new.status == "open"
    assert new.tasks.filter(status="open").count() == 4
    assert Play.objects.filter(account=acme).count() == 2


def test_an_open_play_started_elsewhere_is_skipped_without_breaking_the_transaction(library, acme):
    """The insert skips what the one-open-play constraint refuses; the transaction goes on."""
    from django.db import transaction

    existing = plays.play_start(account=acme, playbook=library["sharp-drop"])
    with transaction.atomic():
        assert plays.plays_start_for_alerts([override(acme, "sharp_drop")]) == []
        assert Play.objects.count() == 1  # still usable
    assert list(Play.objects.values_list("pk", flat=True)) == [existing.pk]
    assert Task.objects.count() == 4


def test_many_alerts_start_many_plays_in_a_few_queries(
    library, alice, django_assert_max_num_queries
):
    accounts = [AccountFactory(tier=2, csm=alice) for _ in range(25)]
    alerts = [override(a, "sharp_drop") for a in accounts]
    alerts += [
        alert_for(a, AlertKind.RENEWAL_RISK, renewal=(TODAY + timedelta(days=40)).isoformat())
        for a in accounts
    ]

    with django_assert_max_num_queries(10):
        started = plays.plays_start_for_alerts(alerts)

    assert len(started) == 50
    assert Task.objects.count() == 25 * 4 + 25 * 5


def test_no_playbooks_means_no_plays(acme, django_assert_max_num_queries):
    Playbook.objects.all().delete()  # migrate created the defaults
    alert = override(acme, "sharp_drop")
    with django_assert_max_num_queries(2):
        assert plays.plays_start_for_alerts([alert]) == []
    assert Play.objects.count() == 0


def test_inactive_or_wrong_tier_playbooks_start_nothing(library, digital, acme):
    Playbook.objects.filter(key="sharp-drop").update(active=False)

    started = plays.plays_start_for_alerts(
        [
            override(acme, "sharp_drop"),
            override(digital, "coasting"),  # coasting is for tiers 1 and 2
        ]
    )

    assert started == []
    assert Play.objects.count() == 0


def test_manual_start(library, acme, alice):
    play = plays.play_start(
        account=acme, playbook=library["coasting-adoption-plan"], started_by=alice
    )
    assert (play.owner, play.alert, play.tasks.count()) == (alice, None, 4)

    with pytest.raises(ValidationError) as exc:
        plays.play_start(account=acme, playbook=library["coasting-adoption-plan"])
    assert exc.value.messages == [
        "Coasting: joint adoption plan is already running on Acme Analytics."
    ]

    with pytest.raises(ValidationError) as exc:
        plays.play_start(account=acme, playbook=library["tier3-spike-reach-out"])
    assert exc.value.messages == [
        "Tier 3 usage spike: human reach-out is for tier 3 accounts; Acme Analytics is tier 2."
    ]
    assert Play.objects.count() == 1


# --- completing and claiming tasks ----------------------------------------------------------


def test_completing_a_task_twice_is_harmless_and_keeps_the_first_completion(
    library, acme, alice, maya
):
    [play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    first = play.tasks.order_by("due", "id").first()

    assert plays.task_complete(task=first, user=alice) is True
    when = first.completed_at
    assert plays.task_complete(task=first, user=maya) is False

    first.refresh_from_db()
    assert (first.status, first.completed_by, first.completed_at) == ("done", alice, when)
    play.refresh_from_db()
    assert (play.status, play.finished_at) == ("open", None)


def test_the_last_task_finishes_the_play(library, acme, alice):
    [play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    tasks = list(play.tasks.all())
    for t in tasks[:-1]:
        plays.task_complete(task=t, user=alice)
    play.refresh_from_db()
    assert play.status == "open"

    plays.task_complete(task=tasks[-1], user=alice)

    play.refresh_from_db()
    assert play.status == "done" and play.finished_at is not None


def test_a_csm_cannot_complete_another_csms_task(library, acme, bob):
    [play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    target = play.tasks.first()
    before = table_rows()

    with pytest.raises(PermissionDenied):
        plays.task_complete(task=target, user=bob)

    assert table_rows() == before


def test_who_may_complete_a_task(acme, alice, bob, maya, pat):
    other_csm = UserFactory(role="csm")
    owned_by_other = task(acme, "Owned by another CSM", due=TODAY, owner=other_csm)
    pooled = task(acme, "Pooled", due=TODAY, pool="tier2")
    can = plays.task_can_work
    assert can(alice, owned_by_other)  # the account's CSM
    assert can(other_csm, owned_by_other)  # the owner
    assert can(maya, owned_by_other)  # a manager
    assert not can(bob, owned_by_other)
    assert can(bob, pooled)  # any CSM works the pool
    assert not can(pat, pooled)  # product is not a CSM


def test_claiming_a_pooled_task_takes_the_play(library, acme, alice, bob):
    [play] = plays.plays_start_for_alerts(
        [alert_for(acme, AlertKind.ONBOARDING_OVERDUE, milestone="first_query")]
    )
    first, *rest = play.tasks.order_by("due", "id")

    assert plays.task_claim(task=first, user=bob) is True

    play.refresh_from_db()
    assert play.owner == bob
    assert set(play.tasks.values_list("owner", flat=True)) == {bob.pk}
    assert plays.task_claim(task=first, user=bob) is False  # already yours
    with pytest.raises(ValidationError) as exc:
        plays.task_claim(task=rest[0], user=alice)
    assert exc.value.messages == [f"Bob Baker already claimed “{rest[0].title}”."]


def test_cancelling_a_play_removes_its_open_tasks(library, acme, alice, bob):
    [play] = plays.plays_start_for_alerts([override(acme, "sharp_drop")])
    done = play.tasks.order_by("due").first()
    plays.task_complete(task=done, user=alice)
    with pytest.raises(PermissionDenied):
        plays.play_cancel(play=play, user=bob)

    assert plays.play_cancel(play=play, user=alice) is True
    assert plays.play_cancel(play=play, user=alice) is False

    assert play.status == "cancelled"
    assert list(play.tasks.values_list("pk", "status")) == [(done.pk, "done")]


# --- editing templates ----------------------------------------------------------------------


def _save(book=None, **overrides):
    args = {
        "playbook": book,
        "key": "renewal-lite",
        "name": "Renewal lite",
        "trigger": "renewal_risk:60",
        "tiers": ["1", "2"],
        "owner_rule": "csm",
        "active": True,
        "steps": [StepInput("Review", "", "0"), StepInput("Call", "", "3")],
    }
    args.update(overrides)
    return playbook_save(**args)


def test_playbook_save_creates_and_replaces_steps(db):
    book = _save()
    assert (book.key, book.trigger, book.tiers) == ("renewal-lite", "renewal_risk:60", [1, 2])
    assert list(book.steps.values_list("order", "title", "due_days")) == [
        (1, "Review", 0),
        (2, "Call", 3),
    ]

    _save(
        book,
        trigger="Override:Coasting",
        tiers=[],
        steps=[StepInput("One", "why", 1), StepInput("", "", ""), StepInput("Two", "", 10)],
    )

    book.refresh_from_db()
    assert (book.trigger, book.tiers) == ("override:coasting", [])
    assert list(book.steps.values_list("order", "title", "detail", "due_days")) == [
        (1, "One", "why", 1),
        (2, "Two", "", 10),
    ]


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        (
            {"trigger": "churn_risk"},
            {
                "trigger": [
                    "Unknown trigger 'churn_risk': the kind before ':' must be one of band_change, "
                    "override, score_drop, renewal_risk, onboarding_overdue, commit_threshold, "
                    "usage_spike."
                ]
            },
        ),
        (
            {"steps": [StepInput("Review", "", "0"), StepInput("Call", "", "-3")]},
            {
                "steps": [
                    "Step 2: the due day cannot be negative (-3); 0 means the day the play starts."
                ]
            },
        ),
        (
            {"steps": [StepInput("Review", "", "1.5")]},
            {"steps": ["Step 1: the due day must be a whole number of days, not '1.5'."]},
        ),
        (
            {"steps": [StepInput("Review", "", "")]},
            {"steps": ["Step 1: give the due day as a whole number of days after the start."]},
        ),
        ({"steps": [StepInput("", "", "")]}, {"steps": ["Add at least one step."]}),
        (
            {"steps": [StepInput("Late", "", "9"), StepInput("Early", "", "2")]},
            {
                "steps": [
                    "Step 2: it is due on day 2, before the step above it (day 9); "
                    "order the steps by "
                    "due day."
                ]
            },
        ),
        ({"steps": [StepInput("", "detail only", "2")]}, {"steps": ["Step 1: give it a title."]}),
        (
            {"tiers": ["4"], "owner_rule": "robot", "name": " "},
            {
                "tiers": ["tiers must be 1, 2 or 3, not '4'"],
                "owner_rule": [
                    "The owner rule must be 'csm' (the account's CSM) or 'pool' (the "
                    "tier's pool queue)."
                ],
                "name": ["Give the playbook a name."],
            },
        ),
        (
            {"key": "Bad Key!"},
            {
                "key": [
                    "The key may use lowercase letters, digits, '-' and '_' "
                    "(at most 60 characters)."
                ]
            },
        ),
    ],
)
def test_malformed_templates_are_rejected_and_nothing_is_saved(db, overrides, errors):
    before = table_rows()
    with pytest.raises(ValidationError) as exc:
        _save(**overrides)
    assert exc.value.message_dict == errors
    assert table_rows() == before


def test_a_rejected_edit_leaves_the_playbook_as_it_was(library):
    book = library["sharp-drop"]
    before = table_rows()
    with pytest.raises(ValidationError):
        _save(book, name="Changed", steps=[StepInput("x", "", "-1")])
    assert table_rows() == before


def test_duplicate_key_is_rejected(library):
    with pytest.raises(ValidationError) as exc:
        _save(key="sharp-drop")
    assert exc.value.message_dict == {
        "key": ["A playbook with the key 'sharp-drop' already exists."]
    }


# --- the default library --------------------------------------------------------------------


def test_default_library_is_valid():
    keys = [p["key"] for p in DEFAULT_PLAYBOOKS]
    assert len(keys) == len(set(keys))
    for spec in DEFAULT_PLAYBOOKS:
        assert trigger_normalise(spec["trigger"]) == spec["trigger"], spec["key"]
        days = [d for _, _, d in spec["steps"]]
        assert days == sorted(days) and days[0] >= 0, spec["key"]
        assert all(len(title) <= 200 for title, _, _ in spec["steps"]), spec["key"]


def test_loading_the_library_is_idempotent_and_keeps_managers_edits(db):
    assert Playbook.objects.count() == 11  # migrate created the defaults
    assert playbooks_load_defaults() == (0, 0)
    Playbook.objects.filter(key="commit-upsize").delete()
    assert playbooks_load_defaults() == (1, 0)
    steps = PlaybookStep.objects.count()
    book = Playbook.objects.get(key="sharp-drop")
    _save(
        book,
        name="Sharp drop (our way)",
        trigger="override:sharp_drop",
        steps=[StepInput("Call within the hour", "", "0")],
    )

    assert playbooks_load_defaults() == (0, 0)
    book.refresh_from_db()
    assert book.name == "Sharp drop (our way)"
    assert list(book.steps.values_list("title", flat=True)) == ["Call within the hour"]
    assert Playbook.objects.count() == 11

    assert playbooks_load_defaults(reset=["sharp-drop"]) == (0, 1)
    book.refresh_from_db()
    assert book.name == "Sharp drop: find out why within 48 hours"
    assert list(book.steps.values_list("title", flat=True)) == fx.SHARP_DROP_TITLES
    assert PlaybookStep.objects.count() == steps


def test_load_playbooks_command(db, capsys):
    Playbook.objects.filter(key__in=["sharp-drop", "commit-upsize"]).delete()
    call_command("load_playbooks")
    call_command("load_playbooks")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "2 playbooks created, 0 reset, 9 of 11 defaults left as they were.",
        "0 playbooks created, 0 reset, 11 of 11 defaults left as they were.",
    ]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a default playbook: nope"):
        call_command("load_playbooks", "--reset", "nope")


def test_task_status_values_are_what_templates_compare_with():
    assert TaskStatus.OPEN == "open" and TaskStatus.DONE == "done"


@pytest.mark.django_db(transaction=True)
def test_two_workers_starting_the_same_play_at_once_start_it_once():
    """Worker B's check runs before worker A commits, so B only learns of A's play from the
    one-open-play constraint: its insert waits for A, then skips the row. No error, one play."""
    import threading
    import time

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row-level waits on a unique index")
    playbooks_load_defaults()
    alice = UserFactory(role="csm")
    account = AccountFactory(tier=2, csm=alice)
    alert_a, alert_b = override(account, "sharp_drop"), override(account, "sharp_drop")
    a_inserted, release = threading.Event(), threading.Event()
    results, errors = {}, []

    def worker(name, alert, before_commit):
        try:
            with transaction.atomic():
                results[name] = plays.plays_start_for_alerts([alert])
                before_commit()
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    def a_waits():
        a_inserted.set()
        release.wait(10)

    a = threading.Thread(target=worker, args=("a", alert_a, a_waits))
    b = threading.Thread(target=worker, args=("b", alert_b, lambda: None))
    a.start()
    assert a_inserted.wait(10)
    b.start()
    time.sleep(0.5)  # let B reach the insert and wait on A's uncommitted row
    release.set()
    a.join(10)
    b.join(10)

    assert errors == []
    assert [p.alert_id for p in results["a"]] == [alert_a.pk]
    assert results["b"] == []
    assert Play.objects.filter(account=account).count() == 1
    assert Task.objects.filter(account=account).count() == 4
