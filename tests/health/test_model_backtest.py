"""The health model editor's backtest panel: the current model and a draft backtested side by
side before saving, loaded lazily, with an empty state when the book holds too little usage.

The figures come from `health.backtest`; these tests check that the panel shows the service's
numbers and sentence for the same as-of day, horizon and models, not the numbers themselves."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from cs_portal.imports import run_import
from health.backtest import Backtest, backtest_compare, backtest_run
from health.engine import DEFAULT_WEIGHTS, SIGNAL_KEYS
from health.services import health_model_current
from tests.conftest import table_counts
from tests.factories import AccountFactory, ContractFactory

LANDED = date(2026, 6, 30)  # the newest usage day of the book below
FIRST = LANDED - timedelta(days=200)
DEFAULT_AS_OF = LANDED - timedelta(days=90)
URL = "/health/model/backtest/"
HX = {"HX-Request": "true"}
# A draft that flags far more: same weights, thresholds raised.
DRAFT = {"green_min": 95, "yellow_min": 80}

pytestmark = pytest.mark.usefixtures("eager_celery")


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _usage(account: str, level) -> list[dict]:
    """Units, queries and active users each day `level(day)` is above zero."""
    rows = []
    for day in _days(FIRST, LANDED):
        units = level(day)
        if units <= 0:
            continue
        iso = day.isoformat()
        rows += [
            {"account": account, "date": iso, "metric": "units", "value": units, "chain": "base"},
            {"account": account, "date": iso, "metric": "queries", "value": max(1, units // 10)},
            {"account": account, "date": iso, "metric": "active_users", "value": 3},
        ]
    return rows


@pytest.fixture
def book(db):
    """Four steady customers, one that fades and churns inside the default horizon, one that
    renews at a lower ARR after its usage fell, one that goes silent under contract."""

    def account(key: str, *terms: tuple[date, date, int]):
        acct = AccountFactory(external_id=key, name=key.title(), tier=3, seats=4)
        for start, end, arr in terms:
            ContractFactory(account=acct, start=start, end=end, arr=Decimal(arr))

    year = (date(2026, 1, 1), date(2026, 12, 31), 20000)
    rows = []
    for n in range(4):
        account(f"steady-{n}", year)
        rows += _usage(f"steady-{n}", lambda d, n=n: 100 + 10 * n)
    account("fader", (date(2025, 6, 1), date(2026, 5, 31), 20000))
    rows += _usage(
        "fader",
        lambda d: 0 if d > date(2026, 5, 31) else max(5, 100 - max(0, (d - date(2026, 2, 1)).days)),
    )
    account(
        "contractor",
        (date(2025, 5, 1), date(2026, 4, 30), 20000),
        (date(2026, 5, 1), date(2027, 4, 30), 12000),
    )
    rows += _usage("contractor", lambda d: 100 if d < date(2026, 3, 1) else 55)
    account("sleeper", year)
    rows += _usage("sleeper", lambda d: 100 if d <= date(2026, 5, 1) else 0)
    result = run_import("usage", json_rows=rows)
    assert result.ok, result.errors[:3]
    return health_model_current()


def _service(model, as_of: date = DEFAULT_AS_OF, horizon: int = 90, **draft) -> Backtest:
    return backtest_run(
        as_of=as_of,
        horizon_days=horizon,
        weights=draft.get("weights", model.weights),
        green_min=draft.get("green_min", model.green_min),
        yellow_min=draft.get("yellow_min", model.yellow_min),
    )


def _draft_query(**extra) -> str:
    query = {f"w_{k}": DEFAULT_WEIGHTS[k] for k in SIGNAL_KEYS} | DRAFT | extra
    return urlencode(query)


def _cells(body: str, key: str) -> list[str]:
    """The text of each model's cell in the panel row `bt-<key>`."""
    row = re.search(rf'<tr data-testid="bt-{key}">(.*?)</tr>', body, re.S)
    assert row, f"no row bt-{key}"
    return [html.unescape(c.strip()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))]


def _band(bt: Backtest, name: str) -> str:
    row = next(r for r in bt.bands if r["band"] == name)
    return f"{row['bad_rate']:.0%} ({row['bad']} of {row['accounts']})"


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "−")


def test_the_fragment_shows_both_backtests_and_the_sentence(book, maya_client):
    now = _service(book)
    new = _service(book, **DRAFT)
    assert now.bad >= 3 and now.confusion != new.confusion  # a draft that changes something

    response = maya_client.get(f"{URL}?{_draft_query()}", headers=HX)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    body = response.content.decode()
    assert "<html" not in body and 'id="backtest"' in body
    sentence = backtest_compare(now, new)
    assert html.escape(sentence, quote=False) in body.replace("&#x27;", "'")
    assert "Current (v1)" in body and ">Draft<" in body
    assert _cells(body, "auc") == [f"{now.model.auc:.3f}", f"{new.model.auc:.3f}"]
    for i, baseline in enumerate(now.baselines):
        assert _cells(body, f"vs_{baseline.key}") == [
            _signed(now.beats_by(now.baselines[i])),
            _signed(new.beats_by(new.baselines[i])),
        ]
        assert f"a naive ranking, AUC {baseline.auc:.3f}" in body
    for band in ("red", "yellow", "green"):
        cells = _cells(body, f"band_{band}")
        assert cells == [
            _band(now, band)
            if any(r["accounts"] for r in now.bands if r["band"] == band)
            else "— (no accounts)",
            _band(new, band)
            if any(r["accounts"] for r in new.bands if r["band"] == band)
            else "— (no accounts)",
        ]
    assert _cells(body, "flagged") == [
        f"{now.confusion['bad_flagged']} of {now.bad}",
        f"{new.confusion['bad_flagged']} of {new.bad}",
    ]
    assert _cells(body, "missed") == [
        str(now.confusion["bad_missed"]),
        str(new.confusion["bad_missed"]),
    ]
    assert _cells(body, "false_alarms") == [
        str(now.confusion["false_alarms"]),
        str(new.confusion["false_alarms"]),
    ]
    lifts = ["—" if b.lift is None else f"{b.lift:.1f}×" for b in (now, new)]
    assert _cells(body, "lift") == lifts
    # Defaults: as of 90 days before the newest usage day, a 90-day horizon.
    assert f'value="{DEFAULT_AS_OF.isoformat()}"' in body and 'value="90"' in body
    assert f"{now.accounts} accounts scored as of" in body


def test_without_a_draft_the_panel_shows_the_current_model_alone(book, maya_client):
    now = _service(book)
    body = maya_client.get(URL, headers=HX).content.decode()
    assert _cells(body, "auc") == [f"{now.model.auc:.3f}"]
    assert 'data-testid="backtest-sentence"' not in body
    assert "preview the draft to see its backtest here" in body


def test_the_manager_picks_the_as_of_day_and_horizon(book, maya_client):
    as_of, horizon = date(2026, 3, 1), 60
    now = _service(book, as_of=as_of, horizon=horizon)
    new = _service(book, as_of=as_of, horizon=horizon, **DRAFT)
    query = _draft_query(as_of=as_of.isoformat(), horizon=horizon)

    body = maya_client.get(f"{URL}?{query}", headers=HX).content.decode()

    assert html.escape(backtest_compare(now, new), quote=False) in body.replace("&#x27;", "'")
    assert _cells(body, "auc") == [f"{now.model.auc:.3f}", f"{new.model.auc:.3f}"]
    assert f"{horizon} days after" in body
    # The picker keeps the draft, so a new day backtests the same draft.
    assert 'type="hidden" name="green_min" value="95"' in body


def test_the_full_page_without_htmx_fills_the_editor_and_the_panel(book, maya_client):
    now = _service(book)
    new = _service(book, **DRAFT)

    response = maya_client.get(f"{URL}?{_draft_query()}")

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    body = response.content.decode()
    assert "<html" in body and "<h1>Health model</h1>" in body
    assert 'id="green_min" name="green_min" value="95"' in body  # the editor holds the draft
    assert html.escape(backtest_compare(now, new), quote=False) in body.replace("&#x27;", "'")
    assert _cells(body, "false_alarms") == [
        str(now.confusion["false_alarms"]),
        str(new.confusion["false_alarms"]),
    ]
    assert 'hx-trigger="load"' not in body  # computed in place, nothing left to load


def test_the_model_page_loads_the_panel_lazily(book, maya_client):
    body = maya_client.get("/health/model/").content.decode()
    loader = re.search(r'<div class="backtest" id="backtest"[^>]*>', body, re.S).group(0)
    assert f'hx-get="{URL}"' in loader and 'hx-trigger="load"' in loader
    assert 'class="spinner"' in body and 'data-testid="bt-auc"' not in body


def test_the_preview_triggers_the_draft_backtest(book, maya_client):
    form = {f"w_{k}": str(DEFAULT_WEIGHTS[k]) for k in SIGNAL_KEYS}
    form.update(green_min="95", yellow_min="80", note="", action="preview")

    response = maya_client.post("/health/model/", form, headers=HX)

    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="preview"' in body
    loader = re.search(r'<div class="backtest" id="backtest"[^>]*>', body, re.S).group(0)
    assert 'hx-trigger="load"' in loader
    assert "green_min=95" in loader and "yellow_min=80" in loader and "w_usage_trend=" in loader
    assert "Backtesting the current model and this draft" in body


def test_the_backtest_writes_nothing(book, maya_client):
    before = table_counts()
    assert maya_client.get(f"{URL}?{_draft_query()}", headers=HX).status_code == 200
    assert table_counts() == before


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (
            {"horizon": 250},
            "The backtest needs 250 days of usage after the as-of date; the book "
            f"holds 201 days of usage so far ({FIRST} to {LANDED})",
        ),
        (
            {"as_of": (LANDED - timedelta(days=30)).isoformat()},
            f"The backtest needs 90 days of usage after the as-of date, and usage has landed only "
            f"through {LANDED}: 30 days after {LANDED - timedelta(days=30)}. Pick an as-of date on "
            f"or before {LANDED - timedelta(days=90)}.",
        ),
        ({"as_of": "2025-06-01"}, f"The book's usage starts on {FIRST}"),
    ],
)
def test_an_empty_state_when_the_book_holds_too_little_usage(book, maya_client, query, words):
    response = maya_client.get(f"{URL}?{urlencode(query)}", headers=HX)
    body = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert words in body
    assert 'data-testid="backtest-empty"' in response.content.decode()
    assert "bt-auc" not in body


def test_an_empty_state_before_any_usage_landed(db, maya_client):
    body = html.unescape(maya_client.get(URL, headers=HX).content.decode())
    assert (
        "The backtest needs 90 days of usage after the as-of date, and no usage has landed yet."
        in body
    )


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"horizon": "soon"}, "The horizon must be a whole number of days, not 'soon'."),
        ({"horizon": "10"}, "The horizon must be 30 to 730 days"),
        ({"as_of": "yesterday"}, "The as-of date must be a date in YYYY-MM-DD form"),
        (
            {f"w_{k}": 10 for k in SIGNAL_KEYS},
            "The draft cannot be backtested: weights: weights must sum to 100",
        ),
    ],
)
def test_bad_input_says_what_to_fix(book, maya_client, query, words):
    response = maya_client.get(f"{URL}?{urlencode(query)}", headers=HX)
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert words in body and "bt-auc" not in body


def test_a_warning_when_the_as_of_day_has_less_than_the_model_s_lookback(book, maya_client):
    short = FIRST + timedelta(days=59)  # 60 days of usage up to and including the day
    body = maya_client.get(f"{URL}?as_of={short}", headers=HX).content.decode()
    assert "see only 60 days of usage up to that day (the model reads 90)" in body
    assert 'data-testid="bt-auc"' in body  # a warning, not an empty state

    full = FIRST + timedelta(days=89)
    body = maya_client.get(f"{URL}?as_of={full}", headers=HX).content.decode()
    assert "see only" not in body
