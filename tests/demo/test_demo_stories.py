"""The demo book's usage and stories: seed once, then check that each story reads as written.

The whole module shares one seeded book: a module-scoped fixture seeds inside a transaction it
opens itself and rolls back at the end, and each test runs in a savepoint inside it, so the seed
is paid once and nothing leaks into other modules. The snapshot backfill is cut from 90 to 30
days here: the stories are judged on the latest day, and 30 days of history are enough to show
that weekend dips never fire sharp_drop.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from accounts.models import Account, Contract
from cs_portal.models import ImportRun
from demo import book as demo
from demo import usage as health_demo
from demo.management.commands import seed_demo as seed_cmd
from health import aggregates
from health.models import HealthSnapshot, Incident, UsageFact

# A fixed anchor in the past: deterministic, and never the calendar's today (so it is pinned).
TODAY = date(2026, 10, 15)
AS_OF = TODAY - timedelta(days=1)
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HISTORY_DAYS = 30

# Every test here builds the demo book (in memory, or seeded); one xdist worker takes the whole
# module so the module's seed is paid once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo_book")]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed the demo book once for the module; roll it all back afterwards."""
    from django.conf import settings

    hashers = settings.PASSWORD_HASHERS
    settings.PASSWORD_HASHERS = FAST_HASHERS
    patch = pytest.MonkeyPatch()
    # 30 days of snapshot history is plenty to test and halves the seed's time.
    patch.setattr(seed_cmd, "BACKFILL_DAYS", HISTORY_DAYS)
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            out = StringIO()
            call_command("seed_demo", "--today", TODAY.isoformat(), stdout=out)
            yield out.getvalue()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            settings.PASSWORD_HASHERS = hashers
            patch.undo()


def _latest() -> dict[str, HealthSnapshot]:
    return {
        s.account.external_id: s
        for s in HealthSnapshot.objects.filter(date=AS_OF).select_related("account")
    }


def _keys(snapshot: HealthSnapshot) -> list[str]:
    return [o["key"] for o in snapshot.overrides]


def _signal(snapshot: HealthSnapshot, key: str) -> dict:
    return next(s for s in snapshot.signals if s["key"] == key)


def _lapsed() -> set[str]:
    """Accounts with no contract active on the as-of day (churned digital-tier customers)."""
    active = set(
        Contract.objects.filter(start__lte=AS_OF, end__gte=AS_OF).values_list(
            "account__external_id", flat=True
        )
    )
    return set(Account.objects.values_list("external_id", flat=True)) - active


def _with_past() -> dict[str, demo.Outcome]:
    """The accounts whose history carries an outcome (churned, contracted, recovered, dormant)."""
    return {p.external_id: p.outcome for p in demo.build_plans(TODAY) if p.outcome}


def test_story_accounts_are_found_by_their_traits():
    assert health_demo.pick_stories(demo.build_plans(TODAY), TODAY) == health_demo.STORIES
    assert set(health_demo.STORY_NOTES) == set(health_demo.STORIES) == set(health_demo.EXPECTED)


def test_usage_rows_are_deterministic_and_shaped():
    book = demo.build_book(TODAY)
    first = health_demo.apply_stories(book, TODAY)
    again = health_demo.apply_stories(demo.build_book(TODAY), TODAY)
    assert first["usage"] == again["usage"] and first["incidents"] == again["incidents"]
    usage = first["usage"]
    assert 200_000 <= len(usage) <= 400_000
    window = (TODAY - timedelta(days=health_demo.HISTORY_DAYS)).isoformat()
    days = {row["date"] for row in usage}
    assert min(days) == (TODAY - timedelta(days=health_demo.EARLIER_DAYS)).isoformat()
    assert max(days) == AS_OF.isoformat()
    # Before the window: units alone, one row a day on the main chain.
    earlier = [row for row in usage if row["date"] < window]
    assert earlier and {row["metric"] for row in earlier} == {"units"}
    assert min(row["date"] for row in usage if row["metric"] != "units") == window
    accounts = {row["external_id"]: row for row in book["accounts"]}
    for row in usage:
        account = accounts[row["account"]]
        if row["metric"] == "active_users":
            assert set(row) == {"account", "date", "metric", "value"}
            assert 1 <= row["value"] <= account["seats"]
        if account["tier"] == 3:
            assert "dataset" not in row or row["metric"] == "failed_queries"
    metrics = Counter(row["metric"] for row in usage)
    assert set(metrics) == {
        "units",
        "queries",
        "api_calls",
        "stream_events",
        "active_users",
        "failed_queries",
    }
    reasons = Counter(row.get("reason") for row in usage if row["metric"] == "failed_queries")
    assert set(reasons) == {"chain_not_covered", "timeout", "syntax", "dataset_not_found"}
    # Tier 3: one chain each; products are real meters.
    chains: dict[str, set] = {}
    for row in usage:
        if row["metric"] == "units":
            chains.setdefault(row["account"], set()).add(row.get("chain"))
            assert row["product"] in {"explorer", "developer", "datastreams", "credits"}
    assert all(len(c) == 1 for ext, c in chains.items() if accounts[ext]["tier"] == 3)


def _daily(usage: list[dict], metric: str = "units") -> dict[str, dict[int, float]]:
    """Per account, the metric's total by day offset from TODAY (-1 is the last day)."""
    out: dict[str, dict[int, float]] = {}
    for row in usage:
        if row["metric"] == metric:
            day = (date.fromisoformat(row["date"]) - TODAY).days
            per_day = out.setdefault(row["account"], {})
            per_day[day] = per_day.get(day, 0.0) + row["value"]
    return out


def _avg(series: dict[int, float], start: int, end: int) -> float:
    """Average per day over the offsets start..end-1 (idle days count as zero)."""
    return sum(series.get(t, 0.0) for t in range(start, end)) / (end - start)


def _t(day: date) -> int:
    return (day - TODAY).days


def test_usage_before_each_outcome_looks_like_what_happened():
    """Churners fade (or fall off a cliff, or stop without warning) and stop by the end of their
    contract; contractions fall before the renewal; scares dip and come back; dormant accounts
    stop while under contract. Compared in 28-day daily averages, so weekends and idle days of
    the digital tier wash out."""
    usage = health_demo.apply_stories(demo.build_book(TODAY), TODAY)["usage"]
    units = _daily(usage)
    window = -health_demo.HISTORY_DAYS
    checked = Counter()
    for ext, o in _with_past().items():
        series = units.get(ext, {})
        day = _t(o.day)
        if o.kind in ("churned", "dormant"):
            assert all(t <= _t(o.stop) for t in series), (ext, "usage after it stopped")
        if o.kind == "churned":
            start = day - o.lead
            if start - 28 < window or not series:
                continue  # ended before the history could show the run-up
            before = _avg(series, start - 28, start)
            if o.shape == "fade":
                # The last two weeks of use run at a fraction of the level before the slide.
                stop = _t(o.stop)
                assert _avg(series, stop - 13, stop + 1) <= 0.45 * before, ext
            elif o.shape == "cliff":
                assert _avg(series, start, start + 7) <= 0.2 * before, ext
            else:
                assert _avg(series, day - 27, day + 1) >= 0.6 * before, ext
        elif o.kind == "contracted":
            start = day - o.lead
            if start - 28 < window:
                continue  # renewed before the history could show the run-up
            before, after = _avg(series, start - 28, start), _avg(series, day, day + 28)
            assert 0.3 * before <= after <= 0.9 * before, (ext, before, after)
        elif o.kind == "recovered":
            before = _avg(series, day - 28, day)
            bottom = min(_avg(series, t, t + 7) for t in range(day, day + o.lead - 7))
            back = day + max(o.lead, 21)
            assert bottom <= 0.7 * before, (ext, before, bottom)
            assert _avg(series, back, back + 28) >= 0.8 * before, ext
        elif o.kind == "dormant":
            assert _avg(series, _t(o.stop) - 27, _t(o.stop) + 1) > 0, ext
            assert not any(v for t, v in series.items() if t > _t(o.stop))
        checked[o.kind] += 1
    assert checked["churned"] >= 15 and min(checked.values()) >= 6, checked


def test_fading_churners_drop_chains_and_datasets_first():
    usage = health_demo.apply_stories(demo.build_book(TODAY), TODAY)["usage"]
    streams: dict[str, dict[int, set]] = {}
    for row in usage:
        if row["metric"] == "units":
            day = (date.fromisoformat(row["date"]) - TODAY).days
            streams.setdefault(row["account"], {}).setdefault(day, set()).add(
                (row.get("chain"), row.get("dataset"))
            )
    narrowed = 0
    for ext, o in _with_past().items():
        by_day = streams.get(ext, {})
        if o.kind != "churned" or o.shape != "fade" or _t(o.day) - o.lead - 28 < -240:
            continue
        start, stop = _t(o.day) - o.lead, _t(o.stop)
        early = set().union(*(by_day.get(t, set()) for t in range(start - 28, start)))
        late = set().union(*(by_day.get(t, set()) for t in range(stop - 13, stop + 1)))
        assert late <= early, ext
        narrowed += len(late) < len(early)
    assert narrowed >= 2


@pytest.mark.django_db
@pytest.mark.parametrize("story", list(health_demo.STORIES))
def test_each_story_shows_its_band_and_override(seeded, story):
    ext = health_demo.STORIES[story]
    snapshot = _latest()[ext]
    bands, override = health_demo.EXPECTED[story]
    assert snapshot.band in bands, (story, snapshot.band, snapshot.score, snapshot.overrides)
    keys = _keys(snapshot)
    if override:
        assert override in keys, (story, keys)
    assert "sharp_drop" not in keys or story == "sharp_drop"
    assert ext in seeded and story in seeded  # the seed says where to look


@pytest.mark.django_db
def test_silent_decay_is_the_weighted_score_not_an_override(seeded):
    snapshot = _latest()[health_demo.STORIES["silent_decay"]]
    assert snapshot.overrides == []
    assert snapshot.weighted_score < 70
    trend = _signal(snapshot, "usage_trend")["raw"]
    assert 0.55 <= trend <= 0.85  # down, but no cliff


@pytest.mark.django_db
def test_coasting_and_champion_left_are_otherwise_healthy(seeded):
    latest = _latest()
    coasting = latest[health_demo.STORIES["coasting"]]
    assert 0.2 <= _signal(coasting, "commit_pace")["raw"] <= 0.4
    for key in ("exec_engagement", "touch_cadence"):
        assert _signal(coasting, key)["score"] == 100
    assert _signal(coasting, "sentiment")["raw"] == 9
    for story in ("champion_left", "data_trust"):
        snapshot = latest[health_demo.STORIES[story]]
        assert snapshot.weighted_score >= 70, (story, snapshot.weighted_score)
        assert len(snapshot.overrides) == 1


@pytest.mark.django_db
def test_heavy_burn_and_tier3_spike(seeded):
    burn = Account.objects.get(external_id=health_demo.STORIES["heavy_burn"])
    contract = burn.contracts.get(start__lte=AS_OF, end__gte=AS_OF)
    consumed = aggregates.commit_consumption(AS_OF, [burn.pk])[burn.pk]["consumed_in_period"]
    assert consumed >= 0.92 * float(contract.commit_units)
    left = (contract.end - AS_OF).days / ((contract.end - contract.start).days + 1)
    assert left >= 0.3
    assert _signal(_latest()[burn.external_id], "commit_pace")["raw"] > 1.5

    spike = Account.objects.get(external_id=health_demo.STORIES["tier3_spike"])
    assert spike.tier == 3
    window = aggregates.usage_windows(AS_OF, [spike.pk])[spike.pk]
    assert window["units_7"] / 7 >= 6 * window["prior_daily_avg"]


@pytest.mark.django_db
def test_most_of_the_book_is_green(seeded):
    bands = Counter(s.band for s in _latest().values())
    total = sum(bands.values())
    # Every customer with a live contract is scored; churned (lapsed) accounts are not.
    customers = (
        Account.objects.filter(contracts__start__lte=AS_OF, contracts__end__gte=AS_OF)
        .distinct()
        .count()
    )
    assert total == customers
    assert bands["green"] >= 0.65 * total, bands
    assert bands["red"] <= 0.10 * total, bands
    assert f"{'green':<7} {bands['green']:>4} accounts" in seeded


@pytest.mark.django_db
def test_no_sharp_drop_outside_its_story_in_the_snapshot_history(seeded):
    """Weekend dips and idle days never look like a sharp drop; accounts with a past (churn,
    contraction, a scare, dormancy) may."""
    allowed = {health_demo.STORIES["sharp_drop"]} | _lapsed() | set(_with_past())
    fired = {
        s.account.external_id
        for s in HealthSnapshot.objects.select_related("account")
        if "sharp_drop" in _keys(s)
    }
    assert health_demo.STORIES["sharp_drop"] in fired
    assert fired <= allowed, fired - allowed
    assert HealthSnapshot.objects.values("date").distinct().count() == HISTORY_DAYS


@pytest.mark.django_db
def test_the_open_incident_touches_only_accounts_using_the_dataset(seeded):
    incident = Incident.objects.get(title__startswith="DEX trades")
    assert incident.kind == "accuracy" and incident.resolved is None
    assert incident.started == TODAY - timedelta(days=5)
    assert incident.datasets == [health_demo.STORY_DATASET]
    users = set(
        UsageFact.objects.filter(
            dataset=health_demo.STORY_DATASET, date__gt=AS_OF - timedelta(days=28), date__lte=AS_OF
        )
        .exclude(metric="failed_queries")
        .values_list("account__external_id", flat=True)
    )
    flagged = {ext for ext, s in _latest().items() if "data_trust_incident" in _keys(s)}
    assert flagged == users
    assert health_demo.STORIES["data_trust"] in flagged
    assert len(flagged) <= 8  # a handful of yellows, not the book
    kinds = Counter(Incident.objects.values_list("kind", flat=True))
    assert kinds["schema_change"] == 1 and Incident.objects.filter(resolved__isnull=False).count()


@pytest.mark.django_db
def test_steady_accounts_consume_close_to_their_commit(seeded):
    stories = set(health_demo.STORIES.values()) | set(_with_past())
    paces = [
        _signal(s, "commit_pace")["raw"]
        for ext, s in _latest().items()
        if ext not in stories and _signal(s, "commit_pace")["applies"] and not s.overrides
    ]
    steady = [p for p in paces if 0.78 <= p <= 1.12]
    assert len(steady) >= 0.8 * len(paces), sorted(paces)


@pytest.fixture
def cheap_seed(monkeypatch, settings):
    """Later seeds in one test: a short backfill and the last 40 days of usage keep them fast."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    monkeypatch.setattr(seed_cmd, "BACKFILL_DAYS", 2)
    real = health_demo.apply_stories

    def recent_only(book, today, seed=demo.SEED):
        out = real(book, today, seed)
        cutoff = (today - timedelta(days=40)).isoformat()
        out["usage"] = [row for row in out["usage"] if row["date"] >= cutoff]
        return out

    monkeypatch.setattr(health_demo, "apply_stories", recent_only)

    def run(*args: str) -> str:
        out = StringIO()
        call_command("seed_demo", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.mark.django_db
def test_a_pinned_book_is_reused_and_another_anchor_replaces_it(seeded, cheap_seed):
    # No --today: the pinned anchor is reused and nothing changes.
    again = cheap_seed()
    assert f"anchored at {TODAY.isoformat()} (pinned" in again
    assert "Re-anchored" not in again

    later = TODAY + timedelta(days=7)
    out = cheap_seed("--today", later.isoformat())
    assert f"Re-anchored the demo book from {TODAY.isoformat()} to {later.isoformat()}" in out
    assert Account.objects.count() == len(demo.build_book(later)["accounts"])
    # Contracts were replaced, not shifted copies added beside the old ones.
    assert Contract.objects.count() == len(demo.build_book(later)["contracts"])
    assert not UsageFact.objects.filter(date__gte=later).exists()
    assert UsageFact.objects.filter(date=later - timedelta(days=1)).exists()
    story_keys = {row["key"] for row in health_demo.story_incidents(later)}
    assert set(Incident.objects.values_list("key", flat=True)) == story_keys


@pytest.mark.django_db
def test_a_stale_calendar_anchored_book_follows_the_calendar(seeded, cheap_seed, monkeypatch):
    # As if the book had been seeded without --today on TODAY, and a week has passed since.
    ImportRun.objects.filter(filename__startswith=seed_cmd.ANCHOR_LABEL).update(
        filename=f"{seed_cmd.ANCHOR_LABEL}{TODAY.isoformat()}"
    )
    calendar = TODAY + timedelta(days=7)
    monkeypatch.setattr(seed_cmd.timezone, "localdate", lambda: calendar)
    out = cheap_seed()
    assert f"Re-anchored the demo book from {TODAY.isoformat()} to {calendar.isoformat()}" in out
    assert seed_cmd.previous_anchor() == seed_cmd.Anchor(calendar, False)
    latest = HealthSnapshot.objects.order_by("-date").values_list("date", flat=True).first()
    assert latest == calendar - timedelta(days=1)


@pytest.mark.django_db
def test_the_backtest_finds_the_past_the_demo_wrote(seeded):
    """Judged by the backtest's own outcome rules, over the default 90 days from 90 days before
    the newest usage day: every churn, contraction and dormancy the demo put there is found."""
    from health.backtest import backtest_run
    from health.engine import DEFAULT_GREEN_MIN, DEFAULT_WEIGHTS, DEFAULT_YELLOW_MIN

    as_of = AS_OF - timedelta(days=90)
    through = AS_OF
    result = backtest_run(
        as_of=as_of,
        horizon_days=90,
        weights=DEFAULT_WEIGHTS,
        green_min=DEFAULT_GREEN_MIN,
        yellow_min=DEFAULT_YELLOW_MIN,
    )
    judged = {o.external_id: set(o.reasons) for o in result.outcomes}
    expected = Counter()
    for ext, o in _with_past().items():
        if ext not in judged:
            continue  # not a customer on the as-of day (churned before it)
        if o.kind == "churned" and as_of < o.day <= through:
            assert "churned" in judged[ext], (ext, judged[ext])
        elif o.kind == "contracted" and as_of < o.day <= through:
            assert "contracted" in judged[ext], (ext, judged[ext])
        elif o.kind == "dormant" and o.stop <= through - timedelta(days=30):
            assert "dormant" in judged[ext], (ext, judged[ext])
        elif o.kind == "recovered":
            assert not judged[ext] & {"churned", "contracted", "dormant"}, (ext, judged[ext])
        else:
            continue
        expected[o.kind] += 1
    assert expected["churned"] >= 8 and expected["contracted"] >= 4, expected
    assert expected["dormant"] >= 4 and expected["recovered"] >= 6, expected
    # The book's past is most of what went bad, not noise around it.
    assert 0.05 <= result.bad / result.accounts <= 0.15
    assert sum(expected[k] for k in ("churned", "contracted", "dormant")) >= 0.5 * result.bad
