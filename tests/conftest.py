"""Shared fixtures: the named personas and helpers to prove that nothing was written.

Personas (as healthchecks' hc/test.py does with alice/bob/charlie):
- alice: a CSM who owns the account "acme"
- bob: a CSM who owns nothing of acme's
- maya: a CS manager
- pat: a product user
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from accounts.models import Account, Role, User
from cs_portal.celery import app as celery_app
from tests.factories import AccountFactory, ApiTokenFactory, UserFactory
from tests.recording_server import FakeSlack, serving

# Tables that legitimately change on any request or import attempt: the session of a logged-in
# client and the ImportRun history row that records every attempt, accepted or rejected.
# Queues and logs, not domain data: the recompute outbox holds requests only until they run.
_BOOKKEEPING = {"sessions.session", "cs_portal.importrun", "health.recomputerequest"}
# Columns that change on any authenticated API call: a token remembers when it was last used.
_VOLATILE = {"accounts.apitoken": {"last_used_at"}}


def usage_landed(*days) -> None:
    """Mark these days' usage as landed for the book (a test book whose accounts have no usage
    rows on the day scored; in production some usage import would have delivered the day)."""
    from health.models import UsageDay

    UsageDay.objects.bulk_create([UsageDay(date=d) for d in days], ignore_conflicts=True)


def table_counts() -> dict[str, int]:
    """Row count of every table of every installed app (except the bookkeeping ones)."""
    return {
        model._meta.label_lower: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.label_lower not in _BOOKKEEPING and model._meta.managed
    }


def _holding_rows(models: list) -> set:
    """The models whose table holds any row, asked in one query: most tables of a test's
    database are empty, and a query per table was much of the suite's time."""
    quote = connection.ops.quote_name
    probes = ", ".join(f"(SELECT 1 FROM {quote(m._meta.db_table)} LIMIT 1)" for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {probes}")
        found = cursor.fetchone()
    return {model for model, hit in zip(models, found, strict=True) if hit}


def table_rows() -> dict[str, list[dict]]:
    """Every row of every domain table, for 'the database is identical' checks."""
    models = [
        model
        for model in apps.get_models()
        if model._meta.label_lower not in _BOOKKEEPING and model._meta.managed
    ]
    holding = _holding_rows(models)
    rows = {}
    for model in models:
        label = model._meta.label_lower
        skip = _VOLATILE.get(label, set())
        rows[label] = [
            {k: v for k, v in row.items() if k not in skip}
            for row in (model._default_manager.order_by("pk").values() if model in holding else [])
        ]
    return rows


@pytest.fixture
def today() -> date:
    return date.today()


@pytest.fixture
def alice(db) -> User:
    return UserFactory(email="alice@cs.example", name="Alice Archer", role=Role.CSM)


@pytest.fixture
def bob(db) -> User:
    return UserFactory(email="bob@cs.example", name="Bob Baker", role=Role.CSM)


@pytest.fixture
def maya(db) -> User:
    return UserFactory(email="maya@cs.example", name="Maya Manager", role=Role.MANAGER)


@pytest.fixture
def pat(db) -> User:
    return UserFactory(email="pat@cs.example", name="Pat Product", role=Role.PRODUCT)


@pytest.fixture
def acme(alice) -> Account:
    """Alice's tier-2 institution account."""
    return AccountFactory(external_id="acme", name="Acme Analytics", tier=2, csm=alice)


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return _client_for(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return _client_for(bob)


@pytest.fixture
def maya_client(maya) -> Client:
    return _client_for(maya)


@pytest.fixture
def pat_client(pat) -> Client:
    return _client_for(pat)


@pytest.fixture
def maya_token(maya) -> str:
    raw = "csp_maya_manager_token"
    ApiTokenFactory(user=maya, raw=raw)
    return raw


@pytest.fixture
def alice_token(alice) -> str:
    raw = "csp_alice_csm_token"
    ApiTokenFactory(user=alice, raw=raw)
    return raw


# Tests that must run alone, in one process: the integration tests' Celery worker takes whatever
# any process puts on the shared Redis broker. `--part` splits the suite on them, so the rest can
# be shared out to parallel workers (pytest-xdist). Without the stack they only skip, anywhere.
SERIAL_MARKERS = ("integration",)


def stack_available() -> bool:
    """A real PostgreSQL and Redis to run the integration tests against."""
    database_url = os.environ.get("DATABASE_URL", "")
    return database_url.startswith(("postgres://", "postgresql://")) and bool(
        os.environ.get("REDIS_URL")
    )


def _runs_alone(item) -> bool:
    return stack_available() and any(item.get_closest_marker(name) for name in SERIAL_MARKERS)


def pytest_addoption(parser):
    parser.addoption(
        "--part",
        choices=("parallel", "serial"),
        help="run only the tests that parallel workers may share out, or only those marked "
        f"{' or '.join(SERIAL_MARKERS)} (default: all)",
    )


def pytest_configure(config):
    # WhiteNoise warns once per test client that collectstatic has not run; tests do not need it.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")
    # The production hasher is slow on purpose; tests that set a password or log in through the
    # login form only need it to check out.
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Every test client builds the middleware afresh, and WhiteNoise then indexed each file its
    # finders see: a fifth of the suite's time. No test fetches a static file through the app;
    # the live server of the browser tests serves them itself (Django's static files handler).
    django_settings.WHITENOISE_USE_FINDERS = False
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker:
        # Parallel workers each have their own test database but share REDIS_URL's cache, so
        # each keeps to its own keys (an import run's progress is keyed by its id, for one).
        for cache in django_settings.CACHES.values():
            cache["KEY_PREFIX"] = f"{worker}:{cache.get('KEY_PREFIX', '')}"


def pytest_ignore_collect(collection_path, config):
    if config.getoption("part") == "serial" and not stack_available():
        return True  # nothing will run alone: spare the collection
    return None


@pytest.hookimpl(trylast=True)  # after the folders' conftests have added their markers
def pytest_collection_modifyitems(config, items):
    part = config.getoption("part")
    if not part:
        return
    keep, drop = [], []
    for item in items:
        (keep if _runs_alone(item) == (part == "serial") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Cached aggregates must not leak between tests. Only our keys are deleted: with REDIS_URL
    set, the cache shares its Redis database with the Celery broker."""
    from django.core.cache import cache

    from health.aggregates import DATA_SINCE_KEY

    cache.delete(DATA_SINCE_KEY)
    yield
    cache.delete(DATA_SINCE_KEY)


@contextmanager
def celery_inline(*, propagate: bool = True) -> Iterator[None]:
    """Run tasks inline even when REDIS_URL made the session's Celery app non-eager.

    With propagate=False a task's errors stay inside it, so its retries run inline one after
    the other (with propagation on, Celery raises its Retry signal to the caller instead)."""
    conf = celery_app.conf
    previous = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, propagate
    try:
        yield
    finally:
        conf.task_always_eager, conf.task_eager_propagates = previous


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks inline; their errors reach the caller."""
    with celery_inline():
        yield


@pytest.fixture
def slack_server() -> Iterator[FakeSlack]:
    """A fake Slack incoming webhook on 127.0.0.1 that records what it is sent."""
    with serving(FakeSlack()) as fake:
        yield fake


@pytest.fixture
def eager_celery_quiet() -> Iterator[None]:
    """Tasks inline; their errors stay inside them, so retries run one after the other."""
    with celery_inline(propagate=False):
        yield
