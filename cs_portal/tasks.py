from __future__ import annotations

import logging
from pathlib import Path

from celery import shared_task

from . import jobs
from .imports import run_import
from .models import ImportRun

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def import_file(run_id: int, path: str) -> str:
    """Run a spooled browser upload through the pipeline, then delete the file."""
    run = (
        ImportRun.objects.select_related("user")
        .filter(pk=run_id, status=ImportRun.Status.RUNNING)
        .first()
    )
    file = Path(path)
    if run is None:  # already finished (a retried task): nothing to do
        file.unlink(missing_ok=True)
        return "skipped"
    try:
        with file.open("rb") as stream:
            result = run_import(
                run.kind,
                data=stream,
                origin=run.origin,
                user=run.user,
                filename=run.filename,
                progress=jobs.cache_progress(run.pk),
                run=run,
            )
    except Exception:
        log.exception("import %s failed", run_id)
        ImportRun.objects.filter(pk=run_id).update(status=ImportRun.Status.FAILED)
        raise
    finally:
        file.unlink(missing_ok=True)
    return "accepted" if result.ok else "rejected"


@shared_task(acks_late=True)
def sweep_import_spool() -> int:
    """Hourly (beat): delete the spooled uploads of imports that were abandoned."""
    return jobs.spool_sweep()
