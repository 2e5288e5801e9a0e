from django.apps import AppConfig


class DatatrustConfig(AppConfig):
    name = "datatrust"
    verbose_name = "Data trust: datasets, freshness and schema changes"
