"""The routing grid's pure decisions (playbooks/routing/rules.py): each default rule on
hand-built alerts (who, which channel), preferences against required rows, parsing drafts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from playbooks.routing.rules import (
    BETTER,
    WORSE,
    People,
    Prefs,
    default_rules,
    direction_of,
    everywhere_rules,
    fully_locked,
    grid_rows,
    locks,
    prefs_check,
    route,
    rule_for,
    rules_changes,
    rules_parse,
)

CSM, AE, M1, M2 = 11, 12, 21, 22
PEOPLE = People(csm_id=CSM, ae_id=AE, manager_ids=(M1, M2))
POOLED = People(csm_id=None, ae_id=AE, manager_ids=(M1, M2))
DEFAULTS = rules_parse(default_rules())


def routed(kind, tier, *, data=None, people=PEOPLE, prefs=None, rules=DEFAULTS):
    rule = rule_for(rules, kind=kind, direction=direction_of(kind, data), tier=tier)
    r = route(rule=rule, people=people, prefs=prefs or {}, version=1)
    return (r.owner_id, r.inbox, r.slack, r.email_to)


WORSE_BAND = {"from_band": "green", "band": "red"}
BETTER_BAND = {"from_band": "yellow", "band": "green"}
DETERIORATIONS = [
    ("band_change", WORSE_BAND),
    ("override", None),
    ("score_drop", None),
    ("renewal_risk", None),
    ("onboarding_overdue", None),
]


def test_the_grid_holds_every_kind_direction_and_tier_once():
    rows = grid_rows()
    assert len(rows) == len(set(rows)) == 27  # band change both ways, 7 kinds one way, 3 tiers
    assert len(default_rules()) == 27


@pytest.mark.parametrize(
    ("data", "direction"),
    [
        (WORSE_BAND, WORSE),
        (BETTER_BAND, BETTER),
        ({"from_band": "red", "band": "yellow"}, BETTER),
        ({"from_band": "green", "band": "yellow"}, WORSE),
        ({}, WORSE),
    ],
)
def test_a_band_change_points_by_its_bands(data, direction):
    assert direction_of("band_change", data) == direction


def test_kinds_point_their_own_way():
    assert [
        direction_of(k, {})
        for k in ("override", "score_drop", "renewal_risk", "onboarding_overdue")
    ] == [WORSE] * 4
    assert [
        direction_of(k, {}) for k in ("commit_threshold", "usage_spike", "expansion_handoff")
    ] == [BETTER] * 3


# --- the defaults, rule by rule -------------------------------------------------------------


@pytest.mark.parametrize("tier", [1, 2])
@pytest.mark.parametrize(("kind", "data"), DETERIORATIONS)
def test_a_tier_1_or_2_deterioration_reaches_the_csm_inbox_and_slack_at_once(kind, data, tier):
    assert routed(kind, tier, data=data) == (CSM, "owner", True, ())


@pytest.mark.parametrize(("kind", "data"), DETERIORATIONS)
def test_a_tier_3_deterioration_goes_to_the_pools_inbox_never_slack(kind, data):
    # Even when the digital account has a CSM on record: the pool works tier 3.
    assert routed(kind, 3, data=data) == (None, "owner", False, ())


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_an_improvement_waits_for_the_csms_daily_digest(tier):
    assert routed("band_change", tier, data=BETTER_BAND) == (CSM, "none", False, (CSM,))
    assert routed("commit_threshold", tier) == (CSM, "none", False, (CSM,))


def test_an_improvement_on_an_unowned_account_reaches_nobody():
    owner, inbox, slack, email = routed("band_change", 3, data=BETTER_BAND, people=POOLED)
    assert (owner, inbox, slack, email) == (None, "none", False, ())


def test_a_tier_3_usage_spike_goes_to_the_pool_at_once():
    assert routed("usage_spike", 3) == (None, "owner", True, ())


def test_a_deterioration_on_an_account_without_a_csm_falls_to_its_pool():
    assert routed("band_change", 2, data=WORSE_BAND, people=POOLED) == (None, "owner", True, ())


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_an_expansion_hand_off_reaches_the_ae_it_names(tier):
    people = People(csm_id=CSM, ae_id=AE, manager_ids=(M1,), recipient_id=99)
    assert routed("expansion_handoff", tier, people=people) == (99, "owner", True, (99,))


def test_only_a_tier_1_renewal_at_risk_is_required():
    required = [r.key for r in DEFAULTS.values() if r.required]
    assert required == ["renewal_risk:worse:1"]


def test_a_managers_audience_reaches_each_manager_and_the_team_view():
    rules = rules_parse(
        [
            {
                "kind": "score_drop",
                "direction": "worse",
                "tier": 2,
                "channels": ["inbox", "email"],
                "audience": ["manager"],
            }
        ]
    )
    assert routed("score_drop", 2, rules=rules) == (None, "team", False, (M1, M2))


def test_everywhere_is_the_old_behaviour():
    rules = rules_parse(everywhere_rules())
    assert routed("band_change", 3, data=BETTER_BAND) == (CSM, "none", False, (CSM,))
    assert routed("band_change", 3, data=BETTER_BAND, rules=rules) == (CSM, "owner", True, (CSM,))
    assert routed("commit_threshold", 3, people=POOLED, rules=rules) == (None, "owner", True, ())


# --- preferences ------------------------------------------------------------------------------


def test_a_mute_drops_the_channel_for_that_person_only():
    rules = rules_parse(
        [
            {
                "kind": "score_drop",
                "direction": "worse",
                "tier": 2,
                "channels": ["inbox", "slack", "email"],
                "audience": ["csm", "manager"],
            }
        ]
    )
    prefs = {CSM: Prefs(muted_channels=frozenset({"email"})), M1: Prefs(frozenset({"score_drop"}))}
    rule = rule_for(rules, kind="score_drop", direction=WORSE, tier=2)

    r = route(rule=rule, people=PEOPLE, prefs=prefs)

    assert (r.owner_id, r.inbox, r.slack, r.email_to, r.reached) == (
        CSM,
        "owner",
        True,
        (M2,),
        (CSM, M2),
    )
    assert r.muted == [
        {"user": CSM, "channel": "email"},
        {"user": M1, "channel": "inbox"},
        {"user": M1, "channel": "slack"},
        {"user": M1, "channel": "email"},
    ]


def test_muting_everything_cannot_drop_a_required_alert():
    everything = Prefs(frozenset({"renewal_risk"}), frozenset({"inbox", "slack", "email"}))
    tier1 = routed("renewal_risk", 1, prefs={CSM: everything})
    tier2 = routed("renewal_risk", 2, prefs={CSM: everything})

    assert tier1 == (CSM, "owner", True, ())  # required: delivered as the rule says
    assert tier2 == (CSM, "none", False, ())  # not required: muted on every channel


def test_the_form_is_told_what_is_locked_and_why():
    assert locks(DEFAULTS) == {
        "renewal_risk": ["tier 1"],
        "inbox": ["renewal at risk (worse) on tier 1"],
        "slack": ["renewal at risk (worse) on tier 1"],
    }
    assert not fully_locked(DEFAULTS, kind="renewal_risk")  # tiers 2 and 3 can be muted
    prefs_check(DEFAULTS, muted_kinds=["renewal_risk"], muted_channels=["slack"])


def test_a_kind_every_row_requires_cannot_be_muted():
    rules = rules_parse(
        [
            {
                "kind": "score_drop",
                "direction": "worse",
                "tier": t,
                "channels": ["inbox"],
                "audience": ["csm"],
                "required": True,
            }
            for t in (1, 2, 3)
        ]
    )
    with pytest.raises(ValidationError, match="Score drop: every rule that sends it is required"):
        prefs_check(rules, muted_kinds=["score_drop"], muted_channels=[])
    with pytest.raises(ValidationError, match="nothing to mute called sms"):
        prefs_check(rules, muted_kinds=[], muted_channels=["sms"])


# --- drafts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"kind": "band_change", "direction": "sideways", "tier": 1}, "no routing row"),
        ({"kind": "usage_spike", "direction": "worse", "tier": 3}, "no routing row"),
        ({"kind": "score_drop", "direction": "worse", "tier": "x"}, "needs a kind"),
        (
            {"kind": "score_drop", "direction": "worse", "tier": 1, "channels": ["fax"]},
            "channels must be among inbox, slack, email, not fax",
        ),
        (
            {"kind": "score_drop", "direction": "worse", "tier": 1, "audience": ["ceo"]},
            "audience must be among csm, pool, manager, ae, not ceo",
        ),
        (
            {
                "kind": "score_drop",
                "direction": "worse",
                "tier": 1,
                "channels": [],
                "audience": ["csm"],
                "required": True,
            },
            "a required row must reach someone",
        ),
    ],
)
def test_a_bad_draft_says_what_is_wrong(row, message):
    with pytest.raises(ValidationError, match=message):
        rules_parse([row])


def test_changes_read_in_words():
    draft = default_rules()
    for row in draft:
        if row["kind"] == "commit_threshold" and row["tier"] == 3:
            row["channels"] = []
    assert rules_changes(DEFAULTS, rules_parse(draft)) == [
        "Commit threshold (better, tier 3): Daily digest to Owning CSM → nowhere"
    ]


def test_at_once_is_the_inbox_or_slack_never_the_digest():
    def at_once(kind, tier, data=None, people=PEOPLE):
        rule = rule_for(DEFAULTS, kind=kind, direction=direction_of(kind, data), tier=tier)
        return route(rule=rule, people=people).at_once

    assert at_once("band_change", 1, WORSE_BAND) == (CSM,)
    assert at_once("band_change", 1, BETTER_BAND) == ()  # the digest: delivered, not at once
    assert at_once("band_change", 3, WORSE_BAND) == ()  # the pool's inbox: no person
