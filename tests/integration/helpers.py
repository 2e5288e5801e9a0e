"""Small helpers the end-to-end tests share: post a CSV to the real API, poll for an outcome."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta

POLL_SECONDS = 20
DIMS = {"product": "developer", "chain": "ethereum", "dataset": "ethereum.core.transactions"}


def yesterday_utc() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def post_csv(url: str, token: str, body: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def units_csv(external_id: str, *, until: date, units: int, days: int = 7) -> str:
    """A usage CSV: `units` a day for the account over the `days` days up to `until`."""
    return "account,date,metric,value,product,chain,dataset\n" + "".join(
        f"{external_id},{until - timedelta(days=n)},units,{units},{DIMS['product']},"
        f"{DIMS['chain']},{DIMS['dataset']}\n"
        for n in range(days)
    )


def wait_for(condition, seconds: float = POLL_SECONDS):
    """Poll `condition` every 0.2 s until it is truthy or `seconds` pass; return its value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    return condition()


def steady_usage(account, *, until: date, days: int = 60) -> None:
    """`days` of steady usage up to `until`, written directly (no import, so no task runs)."""
    from health.models import UsageFact
    from tests.conftest import usage_landed

    usage_landed(*(until - timedelta(days=n) for n in range(days)))
    UsageFact.objects.bulk_create(
        [
            fact
            for n in range(days)
            for fact in (
                UsageFact(
                    account=account,
                    date=until - timedelta(days=n),
                    metric="units",
                    value=1000,
                    **DIMS,
                ),
                UsageFact(
                    account=account, date=until - timedelta(days=n), metric="api_calls", value=400
                ),
                UsageFact(
                    account=account, date=until - timedelta(days=n), metric="active_users", value=6
                ),
            )
        ]
    )


def stop(process: subprocess.Popen) -> None:
    """Terminate a server or worker the test started; kill it if it does not exit."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
