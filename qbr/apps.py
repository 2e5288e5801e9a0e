from django.apps import AppConfig


class QbrConfig(AppConfig):
    name = "qbr"
    verbose_name = "QBR prep: the six-part story per account, its snapshots and its deck"
