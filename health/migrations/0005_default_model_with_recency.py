"""The default model gains `recency` (the usage group rebalanced, still 74 of 100).

An install still on the untouched old default gets a new version with the new default weights,
so its next recompute uses them; a model a manager has edited is left as it is (recency then
weighs 0 until they give it a weight in the editor). Every version is kept either way.
"""

from django.db import migrations

OLD_DEFAULT = {
    "usage_trend": 22,
    "commit_pace": 18,
    "breadth": 12,
    "active_users": 12,
    "production_depth": 10,
    "exec_engagement": 8,
    "touch_cadence": 4,
    "sentiment": 4,
    "data_trust": 5,
    "onboarding": 5,
}
NEW_DEFAULT = {
    "usage_trend": 34,
    "commit_pace": 10,
    "breadth": 4,
    "active_users": 6,
    "production_depth": 2,
    "recency": 18,
    "exec_engagement": 8,
    "touch_cadence": 4,
    "sentiment": 4,
    "data_trust": 5,
    "onboarding": 5,
}


def add_recency_to_the_default(apps, schema_editor):
    HealthModel = apps.get_model("health", "HealthModel")
    current = HealthModel.objects.order_by("-version").first()
    if current is None:
        return  # a fresh install: the first recompute creates v1 with the new defaults
    weights = {k: v for k, v in current.weights.items() if v}
    if weights != OLD_DEFAULT:
        return
    HealthModel.objects.create(
        version=current.version + 1,
        weights=NEW_DEFAULT,
        green_min=current.green_min,
        yellow_min=current.yellow_min,
        note="Default model: recency added, usage group rebalanced (still 74 of 100)",
    )


class Migration(migrations.Migration):
    dependencies = [("health", "0004_data_trust_usage_days_recompute_outbox")]

    operations = [migrations.RunPython(add_recency_to_the_default, migrations.RunPython.noop)]
