from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo book: a deterministic customer base loaded through the import pipeline
    (`manage.py seed_demo`), and the commands built on it. At the top of the layers: it may use
    every app, and no app uses it."""

    name = "demo"
    verbose_name = "Demo book"
