from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def pct(value: Decimal | float | None) -> str:
    """A fraction as a percentage with one decimal (1.0843 → "108.4 %"); "—" for none."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f} %"


@register.filter
def get_item(mapping: dict, key):
    """mapping[key] in a template (None when absent)."""
    return mapping.get(key)
