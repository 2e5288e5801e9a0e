"""The catalogue's browser form: the same parsers as the `datasets` import, so a dataset saved
by hand could have come in a file."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet

from cs_portal.formtools import Typed, field_problems
from cs_portal.params import whole_number
from health.imports import parse_chain
from health.models import Incident, IncidentKind

from . import selectors
from .imports import SLA_MAX_MINUTES, parse_catalogue_name
from .models import Dataset


class DatasetForm(forms.Form):
    name = forms.CharField(
        label="Dataset",
        max_length=120,
        help_text="chain.schema.table, e.g. ethereum.raw.logs (crosschain.* spans chains)",
    )
    chains = forms.CharField(
        required=False,
        max_length=500,
        help_text="chain slugs separated by ; or commas, e.g. ethereum;base",
    )
    freshness_sla_minutes = forms.IntegerField(
        label="Freshness SLA (minutes)",
        required=False,
        min_value=1,
        max_value=SLA_MAX_MINUTES,
        help_text="a lag above this breaches the SLA; leave empty for no SLA (never breaches)",
    )
    description = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, dataset: Dataset | None = None, **kwargs):
        self.dataset = dataset
        if dataset is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": dataset.name,
                "chains": "; ".join(dataset.chains),
                "freshness_sla_minutes": dataset.freshness_sla_minutes,
                "description": dataset.description,
            }
        super().__init__(*args, **kwargs)
        if dataset is not None:
            # The name is the key every import and usage fact uses: it is not edited here.
            self.fields["name"].disabled = True

    def clean_name(self) -> str:
        if self.dataset is not None:
            return self.dataset.name
        try:
            name = parse_catalogue_name(self.cleaned_data["name"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        if Dataset.objects.filter(name=name).exists():
            raise forms.ValidationError(f"{name} is already in the catalogue; edit it instead")
        return name

    def clean_chains(self) -> list[str]:
        raw = self.cleaned_data["chains"].replace(",", ";")
        chains, bad = [], []
        for part in raw.split(";"):
            if not part.strip():
                continue
            try:
                chains.append(parse_chain(part))
            except ValueError:
                bad.append(part.strip())
        if bad:
            raise forms.ValidationError(
                f"not chain slugs: {', '.join(bad)} (use slugs like ethereum, base, solana)"
            )
        return sorted(set(chains))


class IncidentFilterForm(forms.Form):
    """The incidents list's query: status, kind and page. A bad filter is dropped (the list
    shows the rest) and named, the selector's words; the API shares the selector's check."""

    status = Typed()
    kind = Typed()
    page = Typed()

    def clean_page(self) -> int:
        raw = self.cleaned_data["page"] or "1"
        number = whole_number(raw, max_digits=9)
        if not number:
            raise forms.ValidationError(f"page must be a positive whole number, not '{raw[:20]}'")
        return number

    def clean(self) -> dict:
        data = super().clean()
        data.setdefault("status", "")  # a value no filter takes (its field names why) is dropped
        data.setdefault("kind", "")
        try:
            selectors.incidents_filtered(status=data["status"], kind=data["kind"])
        except selectors.FilterError as exc:
            self.add_error(None, str(exc))
            data["status"] = data["status"] if data["status"] in selectors.STATUSES else ""
            data["kind"] = data["kind"] if data["kind"] in IncidentKind.values else ""
        return data

    def problems(self) -> list[str]:
        """The filter's problem, then the page's, as the list names them."""
        return [*self.non_field_errors(), *field_problems(self, ("status", "kind", "page"))]

    def incidents(self) -> QuerySet[Incident]:
        """The incidents matching the filters that could be read."""
        data = self.cleaned_data
        return selectors.incidents_filtered(status=data["status"], kind=data["kind"])
