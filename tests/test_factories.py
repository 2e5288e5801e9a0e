"""Every domain model has a factory, and each factory on its own saves a valid row."""

from __future__ import annotations

import pytest
from django.apps import apps

import tests.factories as factories

DOMAIN_APPS = (
    "accounts",
    "health",
    "playbooks",
    "datatrust",
    "expansion",
    "voc",
    "qbr",
    "cs_portal",
)
FACTORIES = [getattr(factories, name) for name in factories.__all__]


def test_every_domain_model_has_a_factory():
    models = {m for label in DOMAIN_APPS for m in apps.get_app_config(label).get_models()}
    assert models - {f._meta.model for f in FACTORIES} == set()


def _empty_defaults(model) -> set[str]:
    """Fields whose own default is empty but not blank=True (HealthSnapshot.overrides: no
    override fired): full_clean would reject the value the model itself supplies."""
    return {
        f.name
        for f in model._meta.concrete_fields
        if f.has_default() and not f.blank and f.get_default() in f.empty_values
    }


@pytest.mark.django_db
@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_the_factory_saves_a_valid_row(factory):
    model = factory._meta.model
    obj = factory()

    obj.refresh_from_db()
    obj.full_clean(exclude=_empty_defaults(model))
    assert model.objects.filter(pk=obj.pk).exists()
