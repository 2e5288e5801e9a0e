"""The catalogue's browser form: the same parsers as the `datasets` import, so a dataset saved
by hand could have come in a file."""

from __future__ import annotations

from django import forms

from health.imports import parse_chain

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
