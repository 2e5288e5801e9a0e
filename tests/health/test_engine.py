"""The health engine's math with hand-built inputs: sub-scores, overrides, bands, renormalising.

Nothing here touches the database: every AccountInputs is written out by hand so each rule can
be checked at its anchor points and each override just past and just before its boundary.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from health.engine import DEFAULT_WEIGHTS, SIGNAL_KEYS, AccountInputs, evaluate

AS_OF = date(2026, 3, 31)


def inputs(**overrides) -> AccountInputs:
    """A plain institution on tier 2 with nothing known: each test adds what it exercises."""
    values = {"account_id": 1, "tier": 2, "segment": "institution"}
    values.update(overrides)
    return AccountInputs(**values)


def signal(inp: AccountInputs, key: str, *, weights=None, as_of: date = AS_OF):
    result = evaluate(inp, as_of=as_of, weights=weights or DEFAULT_WEIGHTS)
    return next(s for s in result.signals if s.key == key)


def override_keys(inp: AccountInputs, *, weights=None) -> list[str]:
    result = evaluate(inp, as_of=AS_OF, weights=weights or DEFAULT_WEIGHTS)
    return [o.key for o in result.overrides]


def only(key: str) -> dict[str, float]:
    """A model that weighs one signal only, so the score is that signal's sub-score."""
    return {k: (100 if k == key else 0) for k in SIGNAL_KEYS}


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


# A relationship that is healthy on the default weights: exec sponsor engaged 10 days ago
# (100, weight 8), tier-2 touch 70 days ago (50, weight 4), NPS 7 (70, weight 4) →
# (800 + 200 + 280) / 16 = 80.0 exactly.
RELATIONSHIP_80 = {
    "has_contacts": True,
    "has_exec_sponsor": True,
    "exec_last_engaged": days_ago(10),
    "last_touch": days_ago(70),
    "sentiment_kind": "nps",
    "sentiment_score": 7,
    "sentiment_date": days_ago(20),
}
# Commit of 365,000 units over 2026: by March 31 (day 90 of 365) pro-rata is 90,000.
COMMIT = {
    "commit_units": 365_000.0,
    "period_start": date(2026, 1, 1),
    "period_end": date(2026, 12, 31),
}


# --- signals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units_28", "expected"),
    [
        (400, 0.0),  # r = 0.4: below the floor
        (500, 0.0),  # r = 0.5 → 0
        (800, 50.0),  # r = 0.8 → halfway
        (1000, 83.3),  # r = 1.0 → 83.3
        (1100, 100.0),  # r = 1.1 → 100
        (3000, 100.0),  # r = 3.0: capped
    ],
)
def test_usage_trend_anchor_points(units_28, expected):
    sig = signal(inputs(units_28=units_28, units_prev_28=1000), "usage_trend")
    assert sig.applies is True
    assert sig.raw == units_28 / 1000
    assert sig.score == expected


def test_usage_trend_value_reads_as_units_and_change():
    sig = signal(inputs(units_28=1200, units_prev_28=1000), "usage_trend")
    assert sig.value == "1,200 vs 1,000 units (+20%)"


def test_usage_that_started_in_the_last_28_days_is_new_usage_not_a_missing_trend():
    sig = signal(inputs(units_28=5000, units_prev_28=0, last_active=days_ago(1)), "usage_trend")
    assert (sig.applies, sig.score) == (True, 100.0)
    assert sig.value == "5,000 units in 28 days, none in the 28 before (new usage)"


def test_usage_trend_does_not_apply_to_an_account_with_no_usage_and_no_contract():
    sig = signal(inputs(), "usage_trend")
    assert (sig.applies, sig.score) == (False, None)
    assert sig.reason == "no usage and no contract yet, so there is no trend to judge"


@pytest.mark.parametrize(
    "history",
    [{"last_active": days_ago(120)}, {"has_contract": True, "period_start": days_ago(100)}],
)
def test_no_usage_with_history_or_a_contract_scores_zero_not_not_applicable(history):
    trend = signal(inputs(**history), "usage_trend")
    assert (trend.applies, trend.score, trend.value) == (True, 0.0, "no usage in the last 56 days")
    breadth = signal(inputs(**history), "breadth")
    assert (breadth.applies, breadth.score) == (True, 0.0)


@pytest.mark.parametrize(
    ("consumed", "raw", "expected"),
    [
        (0, 0.0, 0.0),
        (45_000, 0.5, 50.0),
        (90_000, 1.0, 100.0),
        (135_000, 1.5, 100.0),  # ahead of pace is capped at 100
    ],
)
def test_commit_pace_is_consumed_over_pro_rata_commit(consumed, raw, expected):
    sig = signal(inputs(**COMMIT, consumed_in_period=consumed), "commit_pace")
    assert sig.applies is True
    assert sig.raw == raw
    assert sig.score == expected


def test_commit_pace_only_judges_the_days_we_hold_data_for():
    # Usage history starts March 2: 30 observed days → pro-rata 30,000; 30,000 consumed = 100%.
    inp = inputs(**COMMIT, consumed_in_period=30_000, data_since=date(2026, 3, 2))
    sig = signal(inp, "commit_pace")
    assert (sig.raw, sig.score) == (1.0, 100.0)


def test_commit_pace_does_not_apply_without_a_commit():
    sig = signal(inputs(), "commit_pace")
    assert sig.applies is False
    assert sig.reason == "no committed units in the current contract"


@pytest.mark.parametrize(
    ("b28", "b90", "expected"),
    [
        (0, 5, 0.0),
        (2, 5, 50.0),
        (3, 5, 75.0),
        (4, 5, 100.0),
        (5, 5, 100.0),
    ],
)
def test_breadth_is_share_still_in_use_with_80_percent_full_marks(b28, b90, expected):
    sig = signal(inputs(breadth_28=b28, breadth_90=b90), "breadth")
    assert sig.score == expected
    assert sig.value == f"{b28} of {b90} chains+datasets still in use"


def test_breadth_does_not_apply_when_usage_names_no_chain_or_dataset():
    # Active yesterday, but on a meter without chain or dataset dimensions.
    sig = signal(inputs(units_28=900, last_active=days_ago(1)), "breadth")
    assert sig.applies is False
    assert sig.reason == "their usage names no chain or dataset, so there is no breadth to judge"


@pytest.mark.parametrize(("peak", "expected"), [(0, 0.0), (5, 50.0), (10, 100.0), (15, 100.0)])
def test_active_users_for_an_institution_is_peak_over_half_the_seats(peak, expected):
    sig = signal(inputs(seats=20, peak_users_28=peak), "active_users")
    assert sig.applies is True
    assert sig.score == expected


def test_active_users_for_an_institution_without_seats_does_not_apply():
    sig = signal(inputs(peak_users_28=4), "active_users")
    assert sig.applies is False
    assert sig.reason == "no seat count on the account"


@pytest.mark.parametrize(
    ("peak", "expected", "value"),
    [
        (0, 0.0, "0 active users (need 2)"),
        (1, 50.0, "1 active user (need 2)"),
        (2, 100.0, "2 active users (need 2)"),
        (7, 100.0, "7 active users (need 2)"),
    ],
)
def test_active_users_for_self_serve_needs_two_users(peak, expected, value):
    sig = signal(inputs(segment="self_serve", seats=50, peak_users_28=peak), "active_users")
    assert (sig.score, sig.value) == (expected, value)


@pytest.mark.parametrize(
    ("active_days", "calls", "expected"),
    [
        (0, 0, 0.0),
        (10, 0, 35.0),
        (20, 0, 70.0),
        (28, 0, 70.0),
        (10, 500, 65.0),
        (20, 500, 100.0),
    ],
)
def test_production_depth_is_active_days_plus_api_or_streams(active_days, calls, expected):
    sig = signal(inputs(active_days_28=active_days, production_calls_28=calls), "production_depth")
    assert sig.applies is True
    assert sig.score == expected


@pytest.mark.parametrize(
    ("engaged_days_ago", "expected"),
    [
        (0, 100.0),
        (90, 100.0),
        (91, 40.0),
        (180, 40.0),
        (181, 0.0),
        (400, 0.0),
    ],
)
def test_exec_engagement_steps_at_90_and_180_days(engaged_days_ago, expected):
    inp = inputs(
        has_contacts=True, has_exec_sponsor=True, exec_last_engaged=days_ago(engaged_days_ago)
    )
    sig = signal(inp, "exec_engagement")
    assert sig.score == expected
    assert sig.value == f"exec sponsor engaged {engaged_days_ago} days ago"


def test_exec_engagement_without_sponsor_scores_zero_and_without_contacts_does_not_apply():
    no_sponsor = signal(inputs(has_contacts=True), "exec_engagement")
    assert (no_sponsor.applies, no_sponsor.score, no_sponsor.value) == (
        True,
        0.0,
        "no exec sponsor mapped",
    )
    no_contacts = signal(inputs(), "exec_engagement")
    assert no_contacts.applies is False
    assert no_contacts.reason == "no contacts mapped for this account"


@pytest.mark.parametrize(("users", "expected"), [(1, 0.0), (2, 100.0)])
def test_exec_engagement_for_self_serve_is_two_active_users(users, expected):
    sig = signal(inputs(segment="self_serve", peak_users_28=users), "exec_engagement")
    assert (sig.applies, sig.score) == (True, expected)


@pytest.mark.parametrize(
    ("touch_days_ago", "expected"),
    [
        (0, 100.0),
        (60, 100.0),
        (61, 50.0),
        (120, 50.0),
        (121, 0.0),
    ],
)
def test_touch_cadence_tier_2_is_60_days(touch_days_ago, expected):
    sig = signal(inputs(tier=2, last_touch=days_ago(touch_days_ago)), "touch_cadence")
    assert sig.score == expected
    assert sig.value == f"last touch {touch_days_ago} days ago (cadence 60)"


@pytest.mark.parametrize(
    ("touch_days_ago", "expected"),
    [
        (30, 100.0),
        (31, 50.0),
        (60, 50.0),
        (61, 0.0),
    ],
)
def test_touch_cadence_tier_1_is_30_days_with_a_recent_qbr(touch_days_ago, expected):
    inp = inputs(tier=1, last_touch=days_ago(touch_days_ago), last_qbr=days_ago(100))
    assert signal(inp, "touch_cadence").score == expected


def test_touch_cadence_tier_1_is_held_to_50_when_the_qbr_is_overdue():
    overdue = signal(
        inputs(tier=1, last_touch=days_ago(5), last_qbr=days_ago(101)), "touch_cadence"
    )
    assert overdue.score == 50.0
    assert overdue.value == "last touch 5 days ago (cadence 30); QBR overdue"
    never = signal(inputs(tier=1, last_touch=days_ago(5)), "touch_cadence")
    assert never.score == 50.0
    assert never.value == "last touch 5 days ago (cadence 30); no QBR yet"


def test_touch_cadence_qbr_rule_does_not_apply_to_tier_2():
    sig = signal(inputs(tier=2, last_touch=days_ago(5)), "touch_cadence")
    assert sig.score == 100.0


def test_touch_cadence_does_not_apply_to_tier_3_and_never_touched_scores_zero():
    tier3 = signal(inputs(tier=3, last_touch=days_ago(400)), "touch_cadence")
    assert tier3.applies is False
    assert tier3.reason == "tier 3 has no named CSM; automation carries the touch"
    never = signal(inputs(tier=2), "touch_cadence")
    assert (never.applies, never.score, never.value) == (True, 0.0, "never touched")


@pytest.mark.parametrize(
    ("kind", "score", "expected"),
    [
        ("nps", 0, 0.0),
        ("nps", 7, 70.0),
        ("nps", 10, 100.0),
        ("csat", 1, 0.0),
        ("csat", 3, 50.0),
        ("csat", 5, 100.0),
    ],
)
def test_sentiment_scales_nps_and_csat(kind, score, expected):
    inp = inputs(sentiment_kind=kind, sentiment_score=score, sentiment_date=days_ago(3))
    sig = signal(inp, "sentiment")
    assert sig.score == expected
    assert sig.value == f"{kind.upper()} {score} on {days_ago(3)}"


def test_sentiment_does_not_apply_without_a_response():
    sig = signal(inputs(), "sentiment")
    assert sig.applies is False
    assert sig.reason == "no NPS or CSAT response in the last year"


def _incident(key: str, kind: str = "accuracy", title: str = "") -> dict:
    return {"key": key, "kind": kind, "title": title}


@pytest.mark.parametrize(("count", "expected"), [(0, 100.0), (1, 40.0), (2, 0.0), (3, 0.0)])
def test_data_trust_loses_60_per_open_incident(count, expected):
    inp = inputs(open_incidents=[_incident(f"inc-{n}") for n in range(count)])
    assert signal(inp, "data_trust").score == expected


def test_onboarding_does_not_apply_until_a_milestone_is_due():
    sig = signal(inputs(), "onboarding")
    assert sig.applies is False
    assert sig.reason == "no onboarding milestones due yet"


@pytest.mark.parametrize(("due", "on_time", "score"), [(4, 4, 100.0), (4, 3, 75.0), (3, 0, 0.0)])
def test_onboarding_scores_the_share_of_milestones_done_on_time(due, on_time, score):
    sig = signal(inputs(milestones_due=due, milestones_on_time=on_time), "onboarding")
    assert (sig.applies, sig.score) == (True, score)
    assert sig.value == f"{on_time} of {due} milestones done on time"


# --- overrides -------------------------------------------------------------------------------


def _dropped(low_days: int, units_7: float) -> AccountInputs:
    return inputs(
        prior_daily_avg=1000,
        low_days_7=low_days,
        units_7=units_7,
        units_28=20_000,
        units_prev_28=28_000,
    )


def test_sharp_drop_fires_after_seven_low_days_below_half():
    result = evaluate(_dropped(7, 3493), as_of=AS_OF, weights=DEFAULT_WEIGHTS)
    assert [o.key for o in result.overrides] == ["sharp_drop"]
    assert result.overrides[0].detail == (
        "usage below 50% of the prior 28-day daily average on each of the last 7 days: "
        "499 units/day vs 1,000"
    )
    assert result.band == "red"


def test_sharp_drop_does_not_fire_after_only_six_low_days():
    assert override_keys(_dropped(6, 1000)) == []


def test_sharp_drop_needs_the_weekly_average_strictly_below_half():
    assert override_keys(_dropped(7, 3499)) == ["sharp_drop"]  # 499.9/day
    assert override_keys(_dropped(7, 3500)) == []  # exactly 500/day = 50%


def test_sharp_drop_needs_prior_usage():
    inp = inputs(prior_daily_avg=0, low_days_7=7, units_7=0)
    assert override_keys(inp) == []


def _coasting(relationship=None, consumed=49_000.0, units_28=1050.0, weights=None):
    # As of April 10 (day 100 of 365), pro-rata commit is exactly 100,000 units.
    inp = inputs(
        **(relationship or RELATIONSHIP_80),
        **COMMIT,
        consumed_in_period=consumed,
        units_28=units_28,
        units_prev_28=1000.0,
    )
    return evaluate(inp, as_of=date(2026, 4, 10), weights=weights or DEFAULT_WEIGHTS)


def test_coasting_fires_at_relationship_80_pace_49_trend_105():
    result = _coasting()
    assert result.relationship == 80.0
    assert result.commit_pace == pytest.approx(0.49)
    assert result.trend_ratio == 1.05
    assert [o.key for o in result.overrides] == ["coasting"]
    assert result.overrides[0].detail == (
        "relationship looks healthy (80/100) but commit pace is 49% and usage is flat "
        "(+5% over 28 days): shelfware that will not recommit"
    )
    assert (result.band, result.score) == ("red", 39)


def test_coasting_needs_relationship_of_at_least_80():
    # Sentiment weighted 4.1 instead of 4: (800 + 200 + 287) / 16.1 = 79.94.
    result = _coasting(weights={**DEFAULT_WEIGHTS, "sentiment": 4.1})
    assert result.relationship == pytest.approx(79.94, abs=0.005)
    assert result.overrides == []


def test_coasting_needs_pace_below_half():
    assert [o.key for o in _coasting(consumed=49_000).overrides] == ["coasting"]
    result = _coasting(consumed=50_000)
    assert result.commit_pace == 0.5
    assert result.overrides == []


def test_coasting_needs_flat_or_falling_usage():
    assert [o.key for o in _coasting(units_28=1050).overrides] == ["coasting"]
    assert _coasting(units_28=1060).overrides == []
    falling = _coasting(units_28=700)
    assert "usage is falling (-30% over 28 days)" in falling.overrides[0].detail


def test_coasting_needs_a_commit():
    inp = inputs(**RELATIONSHIP_80, units_28=1000, units_prev_28=1000)
    assert override_keys(inp) == []


@pytest.mark.parametrize("kind", ["accuracy", "freshness", "outage"])
def test_data_trust_incident_fires_for_trust_kinds(kind):
    inp = inputs(open_incidents=[_incident("INC-7", kind, "Missing Base logs")])
    result = evaluate(inp, as_of=AS_OF, weights=DEFAULT_WEIGHTS)
    assert [(o.key, o.cap_band) for o in result.overrides] == [("data_trust_incident", "yellow")]
    assert result.overrides[0].detail == (
        f"open {kind} incident Missing Base logs touching datasets they used in the last 28 days"
    )


def test_data_trust_incident_does_not_fire_for_a_schema_change():
    inp = inputs(open_incidents=[_incident("INC-8", "schema_change")])
    assert override_keys(inp) == []


def test_champion_left_fires_and_explains_who():
    inp = inputs(departed_key_contacts=["champion Dana Reyes has left"])
    result = evaluate(inp, as_of=AS_OF, weights=DEFAULT_WEIGHTS)
    assert [(o.key, o.cap_band) for o in result.overrides] == [("champion_left", "yellow")]
    assert result.overrides[0].detail == (
        "champion Dana Reyes has left and nobody has replaced them"
    )


# --- bands and caps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units_28", "score", "band"),
    [
        (920, 70, "green"),  # r = 0.92 → 70
        (914, 69, "yellow"),  # r = 0.914 → 69
        (740, 40, "yellow"),  # r = 0.74 → 40
        (734, 39, "red"),  # r = 0.734 → 39
    ],
)
def test_band_thresholds_are_70_and_40(units_28, score, band):
    inp = inputs(units_28=units_28, units_prev_28=1000)
    result = evaluate(inp, as_of=AS_OF, weights=only("usage_trend"))
    assert (result.score, result.band) == (score, band)


def _healthy(**extra) -> AccountInputs:
    """Weighted score 95: every usage signal near full marks."""
    return inputs(
        units_28=1100,
        units_prev_28=1000,
        breadth_28=5,
        breadth_90=5,
        seats=10,
        peak_users_28=8,
        active_days_28=28,
        production_calls_28=100,
        last_touch=days_ago(3),
        prior_daily_avg=1000,
        units_7=7000,
        **extra,
    )


def test_healthy_inputs_are_green_without_overrides():
    result = evaluate(_healthy(), as_of=AS_OF, weights=DEFAULT_WEIGHTS)
    assert (result.score, result.band, result.overrides) == (100, "green", [])


def test_red_override_caps_the_score_at_39():
    inp = _healthy(open_incidents=[], low_days_7=7)
    inp.units_7 = 700  # 100 units/day against 1,000
    result = evaluate(inp, as_of=AS_OF, weights=DEFAULT_WEIGHTS)
    assert result.weighted_score == 100.0
    assert (result.score, result.band) == (39, "red")


def test_yellow_override_caps_the_score_at_69():
    inp = _healthy(departed_key_contacts=["exec sponsor Lee Park has left"])
    result = evaluate(inp, as_of=AS_OF, weights=DEFAULT_WEIGHTS)
    assert result.weighted_score == 100.0
    assert (result.score, result.band) == (69, "yellow")


def test_an_override_never_raises_a_lower_score():
    inp = inputs(units_28=734, units_prev_28=1000, departed_key_contacts=["champion X has left"])
    result = evaluate(inp, as_of=AS_OF, weights=only("usage_trend"))
    assert (result.score, result.band) == (39, "red")


def test_caps_follow_the_model_thresholds():
    inp = _healthy(departed_key_contacts=["champion X has left"])
    result = evaluate(inp, as_of=AS_OF, weights=DEFAULT_WEIGHTS, green_min=80, yellow_min=50)
    assert (result.score, result.band) == (79, "yellow")


# --- renormalisation -------------------------------------------------------------------------


def test_missing_commit_contacts_and_sentiment_are_left_out_and_weights_renormalised():
    # Applying: usage_trend 34, breadth 4, active_users 6, production_depth 2, recency 18,
    # touch_cadence 4, data_trust 5 = 73 of 100.
    inp = inputs(
        last_active=days_ago(1),
        units_28=1000,
        units_prev_28=1000,
        breadth_28=4,
        breadth_90=5,
        seats=20,
        peak_users_28=10,
        active_days_28=20,
        production_calls_28=1,
        last_touch=days_ago(10),
    )
    result = evaluate(inp, as_of=AS_OF, weights=DEFAULT_WEIGHTS)
    by_key = {s.key: s for s in result.signals}

    not_applying = {k: s.reason for k, s in by_key.items() if not s.applies}
    assert not_applying == {
        "commit_pace": "no committed units in the current contract",
        "exec_engagement": "no contacts mapped for this account",
        "sentiment": "no NPS or CSAT response in the last year",
        "onboarding": "no onboarding milestones due yet",
    }
    for key in not_applying:
        assert (by_key[key].contribution, by_key[key].effective_weight) == (0.0, 0.0)
        assert by_key[key].weight == DEFAULT_WEIGHTS[key]  # the model weight is still shown

    assert {k: s.effective_weight for k, s in by_key.items() if s.applies} == {
        "usage_trend": 46.58,
        "breadth": 5.48,
        "active_users": 8.22,
        "production_depth": 2.74,
        "recency": 24.66,
        "touch_cadence": 5.48,
        "data_trust": 6.85,
    }
    assert sum(s.effective_weight for s in result.signals) == pytest.approx(100, abs=0.05)
    # (34 × 83.3 + 4 × 100 + 6 × 100 + 2 × 100 + 18 × 100 + 4 × 100 + 5 × 100) / 73 = 92.22
    assert result.weighted_score == 92.22
    assert by_key["usage_trend"].contribution == 38.8  # 46.58 × 83.3 / 100
    assert sum(s.contribution for s in result.signals) == pytest.approx(
        result.weighted_score, abs=0.05
    )
    assert (result.score, result.band) == (92, "green")


def test_a_signal_weighted_zero_contributes_nothing():
    weights = {**DEFAULT_WEIGHTS, "usage_trend": 0, "breadth": 34}
    inp = inputs(units_28=500, units_prev_28=1000, breadth_28=5, breadth_90=5)
    by_key = {s.key: s for s in evaluate(inp, as_of=AS_OF, weights=weights).signals}
    assert by_key["usage_trend"].score == 0.0
    assert (by_key["usage_trend"].contribution, by_key["usage_trend"].effective_weight) == (0, 0)


@pytest.mark.parametrize(("baseline_days", "spike"), [(13, None), (14, 6.0)])
def test_a_usage_spike_needs_a_real_baseline(baseline_days, spike):
    """A new signup's first week is not a 5x surge: the prior window must have usage."""
    inp = inputs(units_7=7 * 600, prior_daily_avg=100, prior_active_days=baseline_days)
    assert evaluate(inp, as_of=AS_OF, weights=DEFAULT_WEIGHTS).spike_ratio == spike


# --- silence, recency and dormant ------------------------------------------------------------

# An institution under contract with a mapped, engaged exec sponsor: everything but usage
# is equal across the silence tests.
UNDER_CONTRACT = {
    **COMMIT,
    "has_contract": True,
    "seats": 10,
    "has_contacts": True,
    "has_exec_sponsor": True,
    "exec_last_engaged": days_ago(20),
    "last_touch": days_ago(10),
}


def silent_for(days: int, **extra) -> AccountInputs:
    """Used every day until `days` ago, nothing since (the 28/90-day windows follow)."""
    active_28 = max(0, 28 - days)
    return inputs(
        **UNDER_CONTRACT,
        last_active=days_ago(days),
        units_28=1000.0 * active_28,
        units_prev_28=1000.0 * max(0, min(28, 56 - days)),
        breadth_28=2 if days < 28 else 0,
        breadth_90=2 if days < 90 else 0,
        active_days_28=active_28,
        peak_users_28=5 if days < 28 else 0,
        consumed_in_period=1000.0 * max(0, 59 - days),
        **extra,
    )


def test_a_longer_silence_scores_lower_all_else_equal():
    scores = {
        days: evaluate(silent_for(days), as_of=AS_OF, weights=DEFAULT_WEIGHTS).score
        for days in (1, 40, 120)
    }
    assert scores[120] < scores[40] < scores[1]


@pytest.mark.parametrize(
    ("days", "expected"), [(1, 100.0), (3, 100.0), (4, 98.2), (30, 52.6), (59, 1.8), (60, 0.0)]
)
def test_recency_decays_from_3_days_to_60(days, expected):
    sig = signal(inputs(last_active=days_ago(days)), "recency")
    assert (sig.applies, sig.raw, sig.score) == (True, days, expected)


def test_recency_does_not_apply_to_an_account_that_never_used_it_and_has_no_contract():
    sig = signal(inputs(), "recency")
    assert sig.applies is False
    assert sig.reason == "no usage and no contract yet, so there is nothing to be silent against"


def test_recency_under_a_contract_never_used_counts_from_the_contract_start():
    sig = signal(inputs(**UNDER_CONTRACT), "recency")  # January 1 to March 31: 90 days
    assert (sig.raw, sig.score) == (90, 0.0)
    assert sig.value == "no usage in the 90 days since the contract started"


@pytest.mark.parametrize(("days", "fires"), [(29, False), (30, True), (200, True)])
def test_dormant_fires_after_30_silent_days_of_an_active_account(days, fires):
    assert ("dormant" in override_keys(inputs(last_active=days_ago(days)))) is fires


def test_dormant_caps_at_red_and_says_when_it_was_last_used():
    result = evaluate(silent_for(45), as_of=AS_OF, weights=DEFAULT_WEIGHTS)
    [dormant] = [o for o in result.overrides if o.key == "dormant"]
    assert dormant.cap_band == "red"
    assert dormant.detail.startswith(f"no usage for 45 days (last used {days_ago(45)})")
    assert result.band == "red"


@pytest.mark.parametrize(("contract_days", "fires"), [(29, False), (30, True)])
def test_dormant_fires_on_a_contract_never_used_for_30_days(contract_days, fires):
    start = AS_OF - timedelta(days=contract_days - 1)  # day 1 of the contract is `start`
    inp = inputs(has_contract=True, period_start=start, period_end=start + timedelta(days=364))
    assert ("dormant" in override_keys(inp)) is fires


def test_dormant_needs_history_a_new_prospect_with_no_contract_is_not_dormant():
    assert "dormant" not in override_keys(inputs())
