"""The routing editor, the preferences page, the inbox's story entries and the cockpit's noise
panel, through the test client: what each person sees, and that denied or bad requests change
nothing."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from health.services import last_complete_day
from playbooks.alerts.services import alerts_raise
from playbooks.models import Alert, RoutingPreference, RoutingRules
from playbooks.routing.forms import field_prefix, initial_for
from playbooks.routing.rules import default_rules, rules_parse
from playbooks.routing.services import routing_current, routing_save
from tests.factories import AccountFactory
from tests.playbooks.alert_helpers import make_alert, snapshot

D = last_complete_day()
ROUTING = reverse("routing_rules")
PREFS = reverse("alert_preferences")
SHARP = {"key": "sharp_drop", "detail": "usage below 50% of its average", "cap_band": "red"}


def grid_post(**changes) -> dict:
    """The default grid as the editor posts it, with some rows changed: {prefix: (channels,
    audience, required)}."""
    data: dict = {}
    for name, value in initial_for(rules_parse(default_rules())).items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = value
    for prefix, (channels, audience, required) in changes.items():
        data[f"{prefix}-ch"], data[f"{prefix}-to"] = channels, audience
        data.pop(f"{prefix}-req", None)
        if required:
            data[f"{prefix}-req"] = "on"
    return data


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


# --- the editor -------------------------------------------------------------------------------


def test_the_editor_shows_the_defaults_grid(maya_client):
    response = maya_client.get(ROUTING)

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="rule-') == 27
    row = re.search(r'data-testid="rule-renewal_risk-worse-1".*?</tr>', page, re.S).group(0)
    assert 'name="renewal_risk-worse-1-req" checked' in row
    assert 'value="inbox" checked' in row and 'value="slack" checked' in row
    assert "v1" in text(response) and "the defaults" in text(response)


def test_a_csm_reads_the_routing_but_cannot_change_it(alice_client):
    routing_current()
    page = alice_client.get(ROUTING)
    assert page.status_code == 200 and "<fieldset disabled" in page.content.decode()

    response = alice_client.post(ROUTING, grid_post() | {"action": "save"})

    assert response.status_code == 403
    assert RoutingRules.objects.count() == 1


def test_a_preview_shows_the_noise_before_and_after_and_saves_nothing(maya_client, alice):
    acme = AccountFactory(external_id="acme", name="Acme", tier=2, csm=alice)
    for key in ("a", "b", "c"):
        make_alert(acme, key=key, as_of=D - timedelta(days=2))
    draft = grid_post(**{field_prefix("band_change", "worse", 2): ([], ["csm"], False)})

    response = maya_client.post(ROUTING, draft | {"action": "preview"})

    assert response.status_code == 200
    assert RoutingRules.objects.count() == 1
    body = text(response)
    assert "Band change (worse, tier 2): Inbox + Slack to Owning CSM → nowhere" in body
    row = re.search(r'data-testid="noise-per-csm-week".*?</tr>', response.content.decode(), re.S)
    # three alerts in four weeks to Alice, the only CSM: 0.75 a week before, none after
    assert re.findall(r'class="num">([^<]*)<', row.group(0)) == ["0.8", "0.0"]
    assert "Alice Archer 3 (0 acted on) 0 (0 acted on)" in body


def test_saving_keeps_a_new_version_with_the_author_and_the_change(maya_client, maya):
    draft = grid_post(**{field_prefix("score_drop", "worse", 3): ([], [], False)})

    response = maya_client.post(ROUTING, draft | {"action": "save", "note": "quiet tier 3"})

    assert response.status_code == 302
    latest = RoutingRules.objects.order_by("-version").first()
    assert (latest.version, latest.created_by, latest.note) == (2, maya, "quiet tier 3")
    page = text(maya_client.get(ROUTING))
    assert "Version 2 is in force" in page
    assert "Score drop (worse, tier 3): Inbox to The tier's pool → nowhere" in page


def test_saving_the_same_grid_adds_no_version(maya_client):
    routing_current()
    response = maya_client.post(ROUTING, grid_post() | {"action": "save"}, follow=True)

    assert "Nothing changed: no new version saved." in text(response)
    assert RoutingRules.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"band_change-worse-1-ch": ["fax"]}, "Select a valid choice. fax is not one"),
        ({"band_change-worse-1-ch": [], "band_change-worse-1-req": "on"}, "required row"),
        ({"action": "delete"}, "action must be preview or save"),
    ],
)
def test_a_bad_grid_answers_400_with_the_reason_and_saves_nothing(maya_client, change, message):
    routing_current()
    response = maya_client.post(ROUTING, grid_post() | {"action": "save"} | change)

    assert response.status_code == 400
    assert message in text(response)
    assert RoutingRules.objects.count() == 1


# --- preferences ------------------------------------------------------------------------------


def test_preferences_say_what_stays_required(alice_client):
    response = alice_client.get(PREFS)

    body = text(response)
    assert "Renewal at risk Still reaches you on tier 1: required there." in body
    assert "Slack Still used for renewal at risk (worse) on tier 1: required." in body
    assert 'data-testid="locked"' not in response.content.decode()
    assert "Band change worse T1 Inbox + Slack to Owning CSM" in body  # what reaches a CSM


def test_saving_preferences(alice_client, alice):
    response = alice_client.post(
        PREFS, {"muted_kinds": ["commit_threshold"], "muted_channels": ["email"]}
    )

    assert response.status_code == 302
    pref = RoutingPreference.objects.get(user=alice)
    assert (pref.muted_kinds, pref.muted_channels) == (["commit_threshold"], ["email"])
    assert 'value="commit_threshold" checked' in alice_client.get(PREFS).content.decode()


def test_a_fully_required_kind_is_locked_and_a_forged_mute_is_refused(alice_client, maya):
    rules = default_rules()
    for row in rules:
        if row["kind"] == "score_drop":
            row["required"] = True
    routing_save(rules=rules, user=maya)

    page = alice_client.get(PREFS).content.decode()
    assert re.search(r'value="score_drop"\s+disabled', page)
    response = alice_client.post(PREFS, {"muted_kinds": ["score_drop"]})

    assert response.status_code == 400
    assert "Score drop: every rule that sends it is required" in text(response)
    assert not RoutingPreference.objects.exists()


def test_an_unknown_kind_is_refused(alice_client):
    response = alice_client.post(PREFS, {"muted_kinds": ["everything"]})

    assert response.status_code == 400
    assert not RoutingPreference.objects.exists()


# --- the inbox and the cockpit ----------------------------------------------------------------


def test_one_recompute_on_one_account_is_one_inbox_entry_with_its_parts(
    alice_client, alice, settings
):
    settings.SLACK_WEBHOOK_URL = ""
    northwind = AccountFactory(external_id="northwind", name="Northwind", tier=1, csm=alice)
    snapshot(northwind, D - timedelta(days=7), 80, "green")
    snapshot(northwind, D - timedelta(days=1), 75, "green")
    snapshot(northwind, D, 32, "red", overrides=[SHARP])
    alerts_raise(as_of=D)

    page = alice_client.get(reverse("inbox")).content.decode()

    assert page.count('data-testid="story"') == 1
    assert 'data-parts="3"' in page
    assert "3 alerts from one recompute" in page
    assert "Band change + Override fired + Score drop" in page
    assert page.count('data-testid="alert"') == 3


def test_the_cockpit_noise_panel(maya_client, alice_client, alice, bob):
    acme = AccountFactory(external_id="acme", name="Acme", tier=2, csm=alice)
    globex = AccountFactory(external_id="globex", name="Globex", tier=2, csm=bob)
    acked = make_alert(acme, key="a", as_of=D - timedelta(days=1))
    Alert.objects.filter(pk=acked.pk).update(acknowledged_at=acked.created_at)
    make_alert(acme, key="b", as_of=D - timedelta(days=1))
    make_alert(globex, key="c", as_of=D - timedelta(days=1))
    url = reverse("cockpit_noise")

    manager = maya_client.get(url, headers={"HX-Request": "true"})
    csm = alice_client.get(url, headers={"HX-Request": "true"})

    body = text(manager)
    assert "Alice Archer 2 0.5 2 1 50 %" in body
    assert "Bob Baker 1 0.3 1 0 0 %" in body
    assert re.search(r'data-testid="noise-per-week">0\.4<', manager.content.decode())
    assert "HX-Request" in manager["Vary"]
    assert "Bob Baker" not in text(csm)
    assert "Alice Archer 2 0.5 2 1 50 %" in text(csm)
    cockpit = maya_client.get(reverse("cockpit")).content.decode()
    assert f'hx-get="{url}"' in cockpit


# --- junk input -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [ROUTING, PREFS, reverse("cockpit_noise")])
@pytest.mark.parametrize("query", ["action=%00", "kind=" + "x" * 5000, "page=-1&tier=%FF"])
def test_a_junk_query_string_never_breaks_a_routing_page(maya_client, alice_client, url, query):
    for client in (maya_client, alice_client):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, (url, query)


@pytest.mark.parametrize(
    ("note", "message"),
    [("a\x00b", "NUL character (0x00)"), ("x" * 20_000, "characters (it has 20,000)")],
)
def test_a_bad_note_is_refused_and_nothing_saved(maya_client, note, message):
    routing_current()
    draft = grid_post(**{field_prefix("score_drop", "worse", 3): ([], [], False)})

    response = maya_client.post(ROUTING, draft | {"action": "save", "note": note})

    assert response.status_code == 400
    assert message in text(response)
    assert RoutingRules.objects.count() == 1
