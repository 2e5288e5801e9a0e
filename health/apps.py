from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Usage and health"

    def ready(self) -> None:
        from accounts.extensions import BookScores, provide_book_scores
        from cs_portal.imports import on_import

        from . import selectors, services

        on_import(services.rescore_after_import)
        provide_book_scores(
            BookScores(
                as_of=selectors.latest_snapshot_date,
                annotate=selectors.with_book_health,
                history=selectors.score_history,
                snapshot=selectors.account_snapshot,
            )
        )
