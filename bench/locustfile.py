"""The load scenario: CSMs and managers using the portal and its JSON API (see bench/load.py).

Each simulated user logs in once through the login form (with its CSRF token), then browses
with 0.5-1.5 s of think time between requests. LOAD_PEOPLE names the JSON file bench/load.py
writes: the logins, their API tokens and the accounts each CSM owns.

A login costs a PBKDF2 hash (1.5 million rounds, over a second of CPU here), so fifty users
logging in at once keep two cores busy for half a minute: that is a morning's worth of logins
in one burst, not the steady state. The users therefore wait until all LOAD_USER_COUNT have
logged in; then the login figures are saved to LOAD_LOGIN_OUT, the statistics are reset and
the measured window of LOAD_SECONDS starts, after which the run stops itself.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gevent
from gevent.event import Event
from locust import HttpUser, between, events, task

PEOPLE = json.loads(Path(os.environ["LOAD_PEOPLE"]).read_text())
_turns = {role: itertools.cycle(PEOPLE[role]) for role in ("csm", "manager")}
_lock = threading.Lock()
EXPECTED = int(os.environ.get("LOAD_USER_COUNT", "1"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
_logged_in = {"count": 0}
_all_in = Event()
_started = time.monotonic()
BANDS = ("red", "yellow", "green")
SORTS = ("risk", "health", "name", "arr", "-arr", "renewal", "tier", "-health")


def next_person(role: str) -> dict:
    with _lock:
        return next(_turns[role])


def start_window(environment) -> None:
    """Everyone is in: keep the login figures, reset the statistics, measure SECONDS, stop."""
    logins = [
        {
            "name": e.name,
            "method": e.method,
            "requests": e.num_requests,
            "errors": e.num_failures,
            **{f"p{p}": e.get_response_time_percentile(p / 100) for p in (50, 95, 99)},
            "max": e.max_response_time,
        }
        for e in environment.runner.stats.entries.values()
    ]
    with open(os.environ.get("LOAD_LOGIN_OUT", os.devnull), "w") as f:
        json.dump({"seconds": time.monotonic() - _started, "entries": logins}, f)
    environment.runner.stats.reset_all()
    gevent.spawn_later(SECONDS, environment.runner.quit)
    _all_in.set()


@events.test_stop.add_listener
def _release(environment, **kwargs) -> None:
    _all_in.set()  # a run cut short must not leave users waiting


class Portal(HttpUser):
    abstract = True
    role = ""
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.person = next_person(self.role)
        self.accounts = self.person["accounts"] or PEOPLE["sample_accounts"]
        self.api = {"Authorization": f"Bearer {self.person['token']}"}
        self.client.get("/login/", name="/login/ (form)")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post(
            "/login/",
            allow_redirects=False,
            data={
                "username": self.person["email"],
                "password": PEOPLE["password"],
                "csrfmiddlewaretoken": token,
                "next": "/",
            },
            headers={"Referer": f"{self.host}/login/"},
            name="/login/ (submit)",
            catch_response=True,
        ) as response:
            if response.status_code != 302 or "sessionid" not in self.client.cookies:
                response.failure(f"login failed for {self.person['email']}")
        _logged_in["count"] += 1
        if _logged_in["count"] == EXPECTED:
            start_window(self.environment)
        _all_in.wait()

    def scope(self) -> str:
        """A CSM's book is their own (the page opens on csm=me and its links keep it); a
        manager's is the whole book."""
        return "&csm=me" if self.role == "csm" else ""

    def account(self) -> str:
        return random.choice(self.accounts)

    def page(self, path: str, name: str, **kwargs) -> None:
        with self.client.get(path, name=name, catch_response=True, **kwargs) as response:
            if response.status_code == 200 and "/login/" in response.url:
                response.failure("redirected to the login page")

    # -- pages a CSM and a manager both use -------------------------------------------------

    @task(3)
    def book_filtered(self) -> None:
        query = f"?band={random.choice(BANDS)}&sort={random.choice(SORTS)}{self.scope()}"
        if self.role == "manager":
            query += f"&tier={random.choice('123')}"
        self.page(f"/book/{query}", "/book/?band&sort")

    @task(2)
    def book_page(self) -> None:
        page = random.randint(1, 8 if self.role == "csm" else 40)
        self.page(
            f"/book/?sort={random.choice(SORTS)}&page={page}{self.scope()}",
            "/book/?sort&page (htmx rows)",
            headers={"HX-Request": "true"},
        )

    @task(1)
    def book_search(self) -> None:
        self.page(f"/book/?q=Bench+Account+{random.randint(1, 499)}{self.scope()}", "/book/?q")

    @task(4)
    def account_page(self) -> None:
        self.page(f"/accounts/{self.account()}/", "/accounts/[id]/")

    @task(3)
    def health_tab(self) -> None:
        account = self.account()
        self.page(f"/accounts/{account}/health/", "/accounts/[id]/health/")
        # The tab's charts load lazily as they scroll into view; the trend is the first.
        self.page(
            f"/accounts/{account}/health/charts/trend/",
            "/accounts/[id]/health/charts/[key]/",
            headers={"HX-Request": "true"},
        )

    @task(2)
    def inbox(self) -> None:
        self.page("/inbox/", "/inbox/")

    @task(2)
    def my_work(self) -> None:
        self.page("/work/", "/work/")

    # -- the JSON API, with the person's bearer token ---------------------------------------

    def get_api(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, headers=self.api, catch_response=True) as response:
            if response.status_code == 200 and not response.text.startswith(("[", "{")):
                response.failure("not JSON")

    @task(2)
    def api_account_health(self) -> None:
        self.get_api(f"/api/v1/accounts/{self.account()}/health", "/api/v1/accounts/[id]/health")

    @task(1)
    def api_account_usage(self) -> None:
        self.get_api(f"/api/v1/accounts/{self.account()}/usage", "/api/v1/accounts/[id]/usage")

    @task(1)
    def api_alerts(self) -> None:
        since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
        self.get_api(f"/api/v1/alerts?since={since}&limit=100", "/api/v1/alerts?since")


class Csm(Portal):
    role = "csm"
    weight = 4

    @task(1)
    def api_my_accounts(self) -> None:
        self.get_api("/api/v1/accounts?csm=me", "/api/v1/accounts?csm=me")


class Manager(Portal):
    role = "manager"
    weight = 1

    @task(1)
    def api_red_accounts(self) -> None:
        self.get_api("/api/v1/health?band=red", "/api/v1/health?band=red")

    @task(1)
    def api_tier_book(self) -> None:
        self.get_api(f"/api/v1/accounts?tier={random.choice('12')}", "/api/v1/accounts?tier")
