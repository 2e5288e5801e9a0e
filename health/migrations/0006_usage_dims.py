"""Usage facts name their dimension tuple by a small id (`UsageDims`), so the natural key is
(account, date, metric, dims) instead of seven columns.

Every existing fact keeps its value: the distinct tuples are interned first, each fact gets its
tuple's id, and only then do the four dimension columns go. Reversible the same way.
"""

import django.db.models.deletion
from django.db import migrations, models

DIMS = ("product", "chain", "dataset", "reason")
FACTS, TUPLES = "health_usagefact", "health_usagedims"


def intern_tuples(apps, schema_editor):
    cols = ", ".join(DIMS)
    match = " AND ".join(f"d.{c} = f.{c}" for c in DIMS)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TUPLES} ({cols}) SELECT DISTINCT {cols} FROM {FACTS} ORDER BY {cols}"
        )
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(f"UPDATE {FACTS} f SET dims_id = d.id FROM {TUPLES} d WHERE {match}")
        else:
            cursor.execute(
                f"UPDATE {FACTS} SET dims_id = (SELECT d.id FROM {TUPLES} d WHERE "
                + " AND ".join(f"d.{c} = {FACTS}.{c}" for c in DIMS)
                + ")"
            )


def spell_tuples(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            sets = ", ".join(f"{c} = d.{c}" for c in DIMS)
            cursor.execute(f"UPDATE {FACTS} f SET {sets} FROM {TUPLES} d WHERE d.id = f.dims_id")
        else:
            sets = ", ".join(
                f"{c} = (SELECT d.{c} FROM {TUPLES} d WHERE d.id = {FACTS}.dims_id)" for c in DIMS
            )
            cursor.execute(f"UPDATE {FACTS} SET {sets}")


class Migration(migrations.Migration):
    dependencies = [("health", "0005_default_model_with_recency")]

    operations = [
        migrations.CreateModel(
            name="UsageDims",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("product", models.CharField(blank=True, default="", max_length=20)),
                ("chain", models.CharField(blank=True, default="", max_length=40)),
                ("dataset", models.CharField(blank=True, default="", max_length=120)),
                ("reason", models.CharField(blank=True, default="", max_length=20)),
            ],
            options={
                "verbose_name_plural": "usage dimensions",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("product", "chain", "dataset", "reason"), name="usage_dims_tuple"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="usagefact",
            name="dims",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="health.usagedims",
            ),
        ),
        migrations.RemoveConstraint(model_name="usagefact", name="usage_natural_key"),
        migrations.RunPython(intern_tuples, spell_tuples),
        migrations.RemoveField(model_name="usagefact", name="product"),
        migrations.RemoveField(model_name="usagefact", name="chain"),
        migrations.RemoveField(model_name="usagefact", name="dataset"),
        migrations.RemoveField(model_name="usagefact", name="reason"),
        migrations.AlterField(
            model_name="usagefact",
            name="dims",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="health.usagedims",
            ),
        ),
        migrations.AddConstraint(
            model_name="usagefact",
            constraint=models.UniqueConstraint(
                fields=("account", "date", "metric", "dims"), name="usage_natural_key"
            ),
        ),
    ]
