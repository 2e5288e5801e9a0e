"""The main nav: four everyday links in the bar, the rest in menus that say where you are."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


GROUP = re.compile(
    r'<details class="navgroup">\s*<summary([^>]*)>([^<]+)</summary>(.*?)</details>', re.S
)
LINK = re.compile(r"<a [^>]*>(.*?)</a>", re.S)


def _label(inner: str) -> str:
    return re.sub(r"<[^>]+>", "", inner).strip()


def _groups(html: str) -> dict[str, tuple[bool, list[str]]]:
    """Each menu's label → (marked current, the link labels inside it)."""
    return {
        label: ("current" in attrs, [_label(a) for a in LINK.findall(body)])
        for attrs, label, body in GROUP.findall(html)
    }


def test_every_page_of_the_nav_is_one_click_from_a_menu(maya_client):
    html = maya_client.get("/book/").text
    bar = html.split('<nav class="mainnav"')[1].split("<details")[0]
    assert [_label(a).split()[0] for a in LINK.findall(bar)] == ["Cockpit", "Book", "My", "Inbox"]
    groups = _groups(html)
    assert groups["Accounts"][1] == ["Tier queue", "QBRs due", "Nudges"]
    assert groups["Growth"][1] == ["Pipeline", "VoC"]
    assert groups["Data"][1] == ["Datasets", "Incidents", "Imports"]
    assert groups["Setup"][1][:3] == ["Playbooks", "Health model", "Alert routing"]
    assert 'href="/alerts/preferences/"' in html.split('class="usermenu"')[1]
    assert not any(current for current, _ in groups.values())  # the book is in the bar


def test_the_menu_holding_the_current_page_is_marked(maya_client):
    groups = _groups(maya_client.get("/incidents/").text)
    assert [label for label, (current, _) in groups.items() if current] == ["Data"]
    groups = _groups(maya_client.get("/qbrs/due/").text)
    assert [label for label, (current, _) in groups.items() if current] == ["Accounts"]
    groups = _groups(maya_client.get("/voc/").text)
    assert [label for label, (current, _) in groups.items() if current] == ["Growth"]
