"""Every page kind in Chromium under the strict Content Security Policy (style-src 'self', no
inline styles): not one `securitypolicyviolation` event, exactly one <h1> per page, and Plotly
draws every chart it is given."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from accounts.models import Account, User
from health.models import Incident
from playbooks.models import Playbook
from tests.browser.test_data_trust_pages import LOGS
from tests.browser.test_data_trust_pages import _book as _data_trust_book
from tests.browser.test_health_tab import _account_with_a_cliff
from tests.factories import FailureDayFactory, FeedbackItemFactory, QbrFactory, ThemeFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]

PASSWORD = "browser-pass-7"
# Installed before any of the page's own scripts run, so nothing a page does goes unheard.
LISTEN = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.violatedDirective} from ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _voc_theme() -> str:
    """A behavioural theme on acct-9 with failures on two days (its page draws the chart)."""
    theme = ThemeFactory(key="coverage-gap-solana", title="Coverage gap: Solana", chain="solana")
    item = FeedbackItemFactory(
        account=Account.objects.get(external_id="acct-9"),
        theme=theme,
        source="behavioral",
        reason="chain_not_covered",
    )
    FailureDayFactory(item=item, date=item.date, failures=4)
    FailureDayFactory(item=item, failures=9)
    return theme.key


def _qbr() -> int:
    """A draft QBR of acct-9 over the last full quarter (its prep page draws its charts)."""
    return QbrFactory(account=Account.objects.get(external_id="acct-9")).pk


def _pages() -> dict[str, str]:
    playbook = Playbook.objects.order_by("key").first()
    qbr = _qbr()
    incident = Incident.objects.get(auto=True)
    return {
        "book": "/book/",
        "cockpit (panels loaded by htmx)": "/cockpit/",
        "account": "/accounts/acct-9/",
        "account health (charts)": "/accounts/acct-9/health/",
        "account plays": "/accounts/acct-9/plays/",
        "account success plan": "/accounts/acct-9/success/",
        "account expansion": "/accounts/acct-9/expansion/",
        "account feedback": "/accounts/acct-9/feedback/",
        "account qbrs": "/accounts/acct-9/qbrs/",
        "qbr prep": f"/qbrs/{qbr}/",
        "qbr printable": f"/qbrs/{qbr}/print/",
        "qbrs due": "/qbrs/due/",
        "voice of the customer": "/voc/",
        "voc theme (chart)": f"/voc/themes/{_voc_theme()}/",
        "pipeline board": "/pipeline/",
        "pipeline table": "/pipeline/table/",
        "expansion triggers": "/pipeline/triggers/",
        "inbox": "/inbox/",
        "alert routing": "/alerts/routing/",
        "alert preferences": "/alerts/preferences/",
        "cockpit alert noise": "/cockpit/noise/",
        "my work": "/work/",
        "tier queue": "/tiers/queue/",
        "nudges": "/nudges/",
        "playbooks": "/playbooks/",
        "playbook editor": f"/playbooks/{playbook.key}/",
        "new playbook": "/playbooks/new/",
        "health model editor": "/health/model/",
        "datasets": "/datasets/",
        "dataset editor": f"/datasets/{LOGS}/edit/",
        "incidents": "/incidents/",
        "incident (chart)": f"/incidents/{incident.key}/",
        "imports": "/imports/",
        "api tokens": "/settings/tokens/",
        "not found": "/no-such-page/",
    }


def _check(page, problems: dict, name: str) -> int:
    """Record what is wrong with the page on screen; return how many charts it drew."""
    page.wait_for_load_state("networkidle")
    charts = page.locator("[id^=chart-]").all()
    for chart in charts:
        # Plotly draws its SVG into the container: proof the chart survived the policy.
        expect(chart.locator(".main-svg").first).to_be_visible()
    h1s = page.locator("h1").count()
    violations = page.evaluate("window.cspViolations")
    if h1s != 1 or violations:
        problems[name] = {"h1": h1s, "violations": violations}
    return len(charts)


def test_every_page_keeps_the_strict_csp_and_one_h1(live_server, page, settings):
    settings.RECOMPUTE_SETTLE_SECONDS = 0  # score each import as it lands, worker or not
    _account_with_a_cliff()  # acct-9: scored 30 days, a cliff, charts on its Health tab
    _data_trust_book(datetime.now(UTC).date())  # a dataset over its SLA: an incident with a chart
    maya = User.objects.get(email="maya@team.test")
    maya.set_password(PASSWORD)
    maya.save()
    page.context.add_init_script(LISTEN)
    problems: dict[str, dict] = {}

    page.goto(f"{live_server.url}/login/")
    _check(page, problems, "login")
    page.fill("#id_username", "maya@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login/"))

    charts = {}
    for name, path in _pages().items():
        page.goto(f"{live_server.url}{path}")
        charts[name] = _check(page, problems, name)
    assert charts["account health (charts)"] >= 3
    assert charts["incident (chart)"] == 1
    assert charts["voc theme (chart)"] == 1

    # Fragments htmx swaps in are held to the same policy: filter the book.
    page.goto(f"{live_server.url}/book/")
    with page.expect_response(lambda r: "/book/?" in r.url):
        page.select_option("#f-tier", "1")
    _check(page, problems, "book filtered by htmx")

    assert problems == {}
