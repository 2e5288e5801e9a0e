from django.apps import AppConfig

# Import kinds owned by apps below health whose rows feed the score: an accepted file of these
# asks for its accounts to be rescored (in its transaction, through the recompute outbox).
RESCORING_KINDS = frozenset({"accounts", "contracts", "contacts", "touchpoints"})


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Usage and health"

    def ready(self) -> None:
        from accounts.extensions import BookScores, provide_book_scores
        from cs_portal.imports import on_import

        from . import selectors

        on_import(_rescore_after_import)
        provide_book_scores(
            BookScores(
                as_of=selectors.latest_snapshot_date,
                annotate=selectors.with_book_health,
                history=selectors.score_history,
                snapshot=selectors.account_snapshot,
            )
        )


def _rescore_after_import(*, kind: str, account_ids: set[int]) -> None:
    if kind in RESCORING_KINDS and account_ids:
        from .services import recompute_request

        recompute_request(account_ids=account_ids, reason=f"import:{kind}")
