"""My work's owner filter, the task and play actions, and the playbook editor."""

from __future__ import annotations

from itertools import zip_longest

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from accounts.permissions import sees_whole_team
from cs_portal.formtools import NOTE_MAX_LENGTH, TEXT_MAX_LENGTH, Typed, text_check
from cs_portal.params import whole_number
from playbooks.models import Playbook, PlaybookStep

from .rules import StepInput

TEAM_WORDS = ("", "all")
# The editor's error slots: one per field it shows, "steps" for the step rows, "form" for the rest.
SHOWN_ERRORS = ("key", "name", "description", "trigger", "tiers", "owner_rule", "steps")


class WorkOwnerForm(forms.Form):
    """`owner`: for managers '' or 'all' (the team), 'me', 'pool', or a user's id; other roles
    always see their own queue ('' or 'me'). Cleans to (owner, the person whose work it is)."""

    owner = Typed(strip=False)

    def __init__(self, data, *, user: User) -> None:
        super().__init__(data)
        self.user = user

    def default(self) -> tuple[str, User | None]:
        """The view shown when `owner` is left out."""
        return ("all", None) if sees_whole_team(self.user) else ("me", self.user)

    def clean_owner(self) -> tuple[str, User | None]:
        raw = self.data.get("owner")
        value = (raw or "").strip().lower()
        if not sees_whole_team(self.user):
            if value not in ("", "me"):
                raise ValidationError(
                    "only CS managers see other people's work; leave owner out to see yours"
                )
            return "me", self.user
        if value in TEAM_WORDS:
            return "all", None
        if value == "me":
            return "me", self.user
        if value == "pool":
            return "pool", None
        if (number := whole_number(value)) is not None:
            subject = User.objects.filter(pk=number).first()
            if subject is not None:
                return str(subject.pk), subject
            raise ValidationError(f"owner {value} is not a user; pick one from the list")
        raise ValidationError(f"owner must be 'all', 'me', 'pool' or a user's id, not '{raw}'")

    def error(self) -> str:
        return "" if self.is_valid() else self.errors["owner"][0]

    def owner_and_subject(self) -> tuple[str, User | None]:
        """The owner asked for, or the default one when it was not understood."""
        return self.cleaned_data["owner"] if self.is_valid() else self.default()


class TaskActionForm(forms.Form):
    """Where a task button was pressed: `from` ("plays" for the account's Plays tab, else My
    work) and My work's `owner` filter, to answer with the same view."""

    owner = Typed(strip=False)

    def __init__(self, data) -> None:
        super().__init__(data)
        self.fields["from"] = Typed(strip=False)  # a keyword: not a class attribute

    @property
    def origin(self) -> str:
        return self.data.get("from", "work")

    @property
    def owner_raw(self) -> str:
        return self.data.get("owner", "")


class PlayStartForm(forms.Form):
    """The playbook (by key) to start on an account."""

    playbook = Typed()

    def clean_playbook(self) -> Playbook:
        key = self.cleaned_data["playbook"]
        if not key:
            raise ValidationError("Choose a playbook to start.")
        playbook = Playbook.objects.filter(key=key).first()
        if playbook is None:
            raise ValidationError(f"There is no playbook '{key}'; choose one from the list.")
        return playbook

    def error(self) -> str:
        return "" if self.is_valid() else self.errors["playbook"][0]


class ListField(forms.Field):
    """Every value posted under the field's name, in order, each at most `max_length`
    characters and free of control characters."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_length: int = TEXT_MAX_LENGTH, **kwargs) -> None:
        self.max_length = max_length
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> list[str]:
        return list(value or [])

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for item in value:
            text_check(item, self.max_length)


class PlaybookForm(forms.Form):
    """The playbook editor as posted: the template's fields, its steps (one row per title,
    detail and due day), and the button pressed (`action`: save, add_step or remove:<n>).
    `playbook_save` judges the values; this reads them."""

    key = Typed()
    name = Typed(strip=False, max_length=Playbook._meta.get_field("name").max_length)
    description = Typed(strip=False, max_length=NOTE_MAX_LENGTH)
    trigger = Typed(strip=False)
    tiers = ListField()
    owner_rule = Typed(strip=False)
    active = Typed(strip=False)
    step_title = ListField(max_length=PlaybookStep._meta.get_field("title").max_length)
    step_detail = ListField(max_length=NOTE_MAX_LENGTH)
    step_due = ListField()
    action = Typed(strip=False)

    def values(self) -> dict:
        """The editor's values (as `playbook_save` takes them, and the template shows them)."""
        self.is_valid()
        data = {
            name: self.cleaned_data.get(name, field.to_python(None))
            for name, field in self.fields.items()
        }
        steps = [
            StepInput(title=t or "", detail=d or "", due_days=n or "")
            for t, d, n in zip_longest(data["step_title"], data["step_detail"], data["step_due"])
        ]
        return {
            "key": data["key"],
            "name": data["name"],
            "description": data["description"],
            "trigger": data["trigger"],
            "tiers": data["tiers"],
            "owner_rule": data["owner_rule"],
            "active": data["active"] == "on",
            "steps": steps,
        }

    def problems(self) -> dict[str, list[str]]:
        """The values no playbook may hold (too long, control characters), keyed as the editor
        shows errors: the step rows' under `steps`."""
        found: dict[str, list[str]] = {}
        for name, messages in self.errors.items():
            shown = "steps" if name.startswith("step_") else name
            if shown not in SHOWN_ERRORS:
                messages = [f"{name}: {m}" for m in messages]
                shown = "form"
            found.setdefault(shown, []).extend(messages)
        return found

    def step_to_remove(self) -> int | None:
        """The step row whose remove button was pressed (`remove:<n>`), if any."""
        action = self.action_pressed()
        if not action.startswith("remove:"):
            return None
        return whole_number(action.removeprefix("remove:"))

    def action_pressed(self) -> str:
        return self.data.get("action", "save")
