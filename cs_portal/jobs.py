"""Background imports for big browser uploads: spool the file, run it on a worker, show progress.

Progress lives in the cache (Redis in production), not the database: the import itself is one
transaction, so nothing it writes is visible to the polling page until it commits.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from . import tasks
from .celery import app as celery_app
from .models import ImportRun

log = logging.getLogger(__name__)

PROGRESS_TTL = 6 * 3600
# The message a job that could not be queued (the broker was down) shows; the page offers a
# retry while its spooled file is kept.
NOT_STARTED = "The import could not be started (the task queue is unavailable)."
# A spooled file whose import is over (or was never retried) is deleted after this long.
SPOOL_KEEP = timedelta(days=1)


def progress_key(run_id: int) -> str:
    return f"import-progress:{run_id}"


def spool_path(run_id: int) -> Path:
    """Where a background import's upload waits: named after its run, so a retry finds it."""
    return Path(settings.IMPORT_SPOOL_DIR) / f"run-{run_id}.csv"


def import_job_start(*, kind: str, upload: UploadedFile, user) -> ImportRun:
    """Spool the upload and queue its import once the run commits; returns the ImportRun to
    poll. If the queue cannot take it, the run is marked failed and can be retried."""
    run = ImportRun.objects.create(
        kind=kind,
        origin=ImportRun.Origin.WEB,
        user=user,
        filename=upload.name[:255],
        status=ImportRun.Status.RUNNING,
    )
    path = spool_path(run.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    cache.set(progress_key(run.pk), {"phase": "queued", "done": 0, "total": None}, PROGRESS_TTL)
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    if celery_app.conf.task_always_eager:
        tasks.import_file.delay(run_id, str(spool_path(run_id)))  # inline: its errors surface
        return
    try:
        tasks.import_file.delay(run_id, str(spool_path(run_id)))
    except Exception:
        # The run committed; say on its page that it did not start, and keep the file.
        log.warning("could not queue import %s; it can be retried", run_id, exc_info=True)
        ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.RUNNING).update(
            status=ImportRun.Status.FAILED,
            errors=[{"row": 0, "column": "", "message": NOT_STARTED}],
        )


def import_job_retryable(run: ImportRun) -> bool:
    """A background import that failed before it read its file (still spooled) can be retried."""
    return run.status == ImportRun.Status.FAILED and spool_path(run.pk).exists()


def import_job_retry(*, run: ImportRun) -> bool:
    """Queue a background import that could not start, again. Claimed with a conditional
    update, so a double click queues it once; False when there is nothing to retry."""
    if not spool_path(run.pk).exists():
        return False
    claimed = ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.FAILED).update(
        status=ImportRun.Status.RUNNING, errors=[], created_at=timezone.now()
    )
    if claimed:
        cache.set(progress_key(run.pk), {"phase": "queued", "done": 0, "total": None}, PROGRESS_TTL)
        transaction.on_commit(lambda: _enqueue(run.pk))
    return bool(claimed)


def spool_sweep(*, now=None) -> int:
    """Delete spooled files older than SPOOL_KEEP whose import is no longer running (finished
    files are deleted by the task; these are the abandoned ones). Returns the files deleted."""
    spool = Path(settings.IMPORT_SPOOL_DIR)
    if not spool.is_dir():
        return 0
    cutoff = ((now or timezone.now()) - SPOOL_KEEP).timestamp()
    old = {p: p.stem.removeprefix("run-") for p in spool.glob("*.csv")}
    old = {p: run_id for p, run_id in old.items() if p.stat().st_mtime < cutoff}
    running = set(
        ImportRun.objects.filter(
            pk__in=[int(i) for i in old.values() if i.isdigit()], status=ImportRun.Status.RUNNING
        ).values_list("pk", flat=True)
    )
    deleted = 0
    for path, run_id in old.items():
        if not (run_id.isdigit() and int(run_id) in running):
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def import_job_progress(run: ImportRun) -> dict:
    """Where a running import is: phase, done, total and a percentage when it is known."""
    state = cache.get(progress_key(run.pk)) or {"phase": "queued", "done": 0, "total": None}
    total = state.get("total")
    state["percent"] = round(100 * state["done"] / total) if total else None
    return state


def cache_progress(run_id: int):
    """A progress callback that writes to the cache at most a few times a second."""
    last = [0.0]

    def report(phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] < 0.3 and phase == cache.get(progress_key(run_id), {}).get("phase"):
            return
        last[0] = now
        cache.set(
            progress_key(run_id), {"phase": phase, "done": done, "total": total}, PROGRESS_TTL
        )

    return report
