"""The playbook templates in the browser: /playbooks/ and /playbooks/<key>/.

Everyone reads them; managers edit them. A malformed template (unknown trigger, negative or
non-integer offset, no steps) comes back 422 with the message next to the field and nothing
saved; never a 500.
"""

from __future__ import annotations

import pytest

from playbooks.models import Playbook
from tests.conftest import table_rows

HTMX = {"HTTP_HX_REQUEST": "true"}


def form(**overrides) -> dict:
    data = {
        "name": "Sharp drop: call within a day",
        "description": "Our version",
        "trigger": "override:sharp_drop",
        "tiers": ["1", "2"],
        "owner_rule": "csm",
        "active": "on",
        "step_title": ["Call the data engineer", "Check pipelines", "Exec note"],
        "step_detail": ["", "Snowflake share errors", ""],
        "step_due": ["0", "1", "2"],
        "action": "save",
    }
    data.update(overrides)
    return data


def test_list_shows_every_playbook(pat_client, library):
    response = pat_client.get("/playbooks/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="playbook-row"') == 11
    assert "<code>override:sharp_drop</code>" in html
    assert "New playbook" not in html
    assert "Read only: CS managers edit them." in html


def test_list_empty_state(maya_client, db):
    Playbook.objects.all().delete()  # migrate created the defaults
    html = maya_client.get("/playbooks/").content.decode()
    assert "No playbooks yet" in html and "python manage.py load_playbooks" in html


def test_a_csm_reads_a_playbook_but_cannot_change_it(alice_client, library):
    response = alice_client.get("/playbooks/sharp-drop/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<fieldset disabled" in html
    assert "Save playbook" not in html
    assert "Read only: only CS managers change playbooks." in html

    before = table_rows()
    denied = alice_client.post("/playbooks/sharp-drop/", form())
    assert denied.status_code == 403
    assert table_rows() == before


def test_a_manager_saves_a_playbook(maya_client, library):
    response = maya_client.post("/playbooks/sharp-drop/", form())

    assert response.status_code == 302 and response["Location"] == "/playbooks/sharp-drop/"
    book = Playbook.objects.get(key="sharp-drop")
    assert (book.name, book.trigger, book.tiers, book.active) == (
        "Sharp drop: call within a day",
        "override:sharp_drop",
        [1, 2],
        True,
    )
    assert list(book.steps.values_list("title", "detail", "due_days")) == [
        ("Call the data engineer", "", 0),
        ("Check pipelines", "Snowflake share errors", 1),
        ("Exec note", "", 2),
    ]
    page = maya_client.get("/playbooks/sharp-drop/").content.decode()
    assert "Saved “Sharp drop: call within a day”." in page


def test_saving_with_htmx_answers_the_editor_fragment(maya_client, library):
    response = maya_client.post("/playbooks/sharp-drop/", form(active=""), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="playbook-editor"')
    assert 'data-testid="saved"' in html
    assert Playbook.objects.get(key="sharp-drop").active is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"trigger": "override:sharp_dorp"},
            "Unknown trigger detail &#x27;sharp_dorp&#x27; for override: use one of sharp_drop, "
            "coasting, data_trust_incident, champion_left.",
        ),
        (
            {"trigger": "churn"},
            "Unknown trigger &#x27;churn&#x27;: the kind before &#x27;:&#x27; must be one of",
        ),
        (
            {"step_due": ["0", "-2", "2"]},
            "Step 2: the due day cannot be negative (-2); 0 means the day the play starts.",
        ),
        (
            {"step_due": ["0", "1", "two"]},
            "Step 3: the due day must be a whole number of days, not &#x27;two&#x27;.",
        ),
        (
            {"step_title": ["", "", ""], "step_detail": ["", "", ""], "step_due": ["", "", ""]},
            "Add at least one step.",
        ),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_malformed_template_is_422_with_the_message_and_nothing_saved(
    maya_client, library, overrides, message, htmx
):
    before = table_rows()

    response = maya_client.post(
        "/playbooks/sharp-drop/", form(**overrides), **(HTMX if htmx else {})
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert "Nothing was saved: fix the fields marked below." in html
    assert ("<html" in html) is not htmx
    assert table_rows() == before
    # What the manager typed is kept, so they can fix it.
    assert 'value="Sharp drop: call within a day"' in html


def test_add_and_remove_step_rows_without_saving(maya_client, library):
    before = table_rows()

    added = maya_client.post("/playbooks/sharp-drop/", form(action="add_step"), **HTMX)
    removed = maya_client.post("/playbooks/sharp-drop/", form(action="remove:1"), **HTMX)
    junk = maya_client.post("/playbooks/sharp-drop/", form(action="remove:x"), **HTMX)

    assert added.content.decode().count('data-testid="step-row"') == 4
    html = removed.content.decode()
    assert html.count('data-testid="step-row"') == 2
    assert "Check pipelines" not in html and "Exec note" in html
    assert junk.content.decode().count('data-testid="step-row"') == 3
    assert table_rows() == before


def test_a_manager_creates_a_playbook(maya_client, library):
    assert maya_client.get("/playbooks/new/").status_code == 200

    response = maya_client.post(
        "/playbooks/new/", form(key="qbr-prep", name="QBR prep", trigger="renewal_risk:120")
    )

    assert response.status_code == 302 and response["Location"] == "/playbooks/qbr-prep/"
    book = Playbook.objects.get(key="qbr-prep")
    assert (book.name, book.trigger, book.steps.count()) == ("QBR prep", "renewal_risk:120", 3)

    duplicate = maya_client.post("/playbooks/new/", form(key="qbr-prep"))
    assert duplicate.status_code == 422
    assert "A playbook with the key &#x27;qbr-prep&#x27; already exists." in (
        duplicate.content.decode()
    )


def test_only_managers_create_playbooks(alice_client, db):
    before = table_rows()
    assert alice_client.get("/playbooks/new/").status_code == 403
    assert alice_client.post("/playbooks/new/", form(key="x")).status_code == 403
    assert table_rows() == before


def test_unknown_playbook_is_404(maya_client, db):
    assert maya_client.get("/playbooks/nope/").status_code == 404
