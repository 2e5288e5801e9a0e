"""Background imports for big browser uploads: spool the file, run it on a worker, show progress.

Progress lives in the cache (Redis in production), not the database: the import itself is one
transaction, so nothing it writes is visible to the polling page until it commits.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from . import tasks
from .models import ImportRun

PROGRESS_TTL = 6 * 3600


def progress_key(run_id: int) -> str:
    return f"import-progress:{run_id}"


def import_job_start(*, kind: str, upload: UploadedFile, user) -> ImportRun:
    """Spool the upload and queue its import; returns the running ImportRun to poll."""
    spool = Path(settings.IMPORT_SPOOL_DIR)
    spool.mkdir(parents=True, exist_ok=True)
    path = spool / f"{uuid.uuid4().hex}.csv"
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    run = ImportRun.objects.create(
        kind=kind,
        origin=ImportRun.Origin.WEB,
        user=user,
        filename=upload.name[:255],
        status=ImportRun.Status.RUNNING,
    )
    cache.set(progress_key(run.pk), {"phase": "queued", "done": 0, "total": None}, PROGRESS_TTL)
    transaction.on_commit(lambda: tasks.import_file.delay(run.pk, str(path)))
    return run


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
