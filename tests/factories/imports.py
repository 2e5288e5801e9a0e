"""Factories for the import pipeline's history (cs_portal)."""

from __future__ import annotations

import factory

from cs_portal.models import ImportRun


class ImportRunFactory(factory.django.DjangoModelFactory):
    """An accepted usage import from the command line."""

    class Meta:
        model = ImportRun

    kind = "usage"
    origin = ImportRun.Origin.CLI
    filename = factory.Sequence(lambda n: f"usage-{n}.csv")
    status = ImportRun.Status.ACCEPTED
    rows = 10
    created = 10
