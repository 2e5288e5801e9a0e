from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import can_import
from cs_portal.http import AuthedRequest

from .formtools import ImportUploadForm
from .imports import (
    ImportTooLarge,
    all_kinds,
    import_request_check,
    import_size_check,
    run_import,
)
from .jobs import import_job_progress, import_job_retry, import_job_retryable, import_job_start
from .models import ImportRun
from .params import whole_number


def _import_context(request: AuthedRequest, **extra) -> dict:
    context = {
        "kinds": all_kinds(),
        "runs": ImportRun.objects.select_related("user")[:15],
        "can_import": can_import(request.user),
        "selected": request.GET.get("kind") or request.POST.get("kind") or "accounts",
        "outcome": None,
        "job": None,
    }
    context.update(extra)
    return context


@require_http_methods(["GET", "POST"])
def import_page(request: AuthedRequest) -> HttpResponse:
    """Upload a CSV of any registered kind; show the accepted count or every bad row."""
    if request.method == "GET":
        job_id = request.GET.get("job", "")
        if (run_id := whole_number(job_id, max_digits=11)) is not None:
            return import_job(request, run_id)
        return render(request, "imports/import.html", _import_context(request))
    if not can_import(request.user):
        raise PermissionDenied("Only CS managers and admins can import data.")
    try:
        # Before request.POST parses the body: a file over the limit is never read.
        import_request_check(request)
    except ImportTooLarge as exc:
        return _too_large(request, exc)
    form = ImportUploadForm(request.POST, request.FILES)
    kind_key = request.POST.get("kind", "")
    form_error = "" if form.is_valid() else form.first_error()
    outcome = job = None
    upload = form.cleaned_data.get("file")
    try:
        import_size_check(None if form_error else upload.size)
    except ImportTooLarge as exc:
        return _too_large(request, exc)
    if not form_error and upload.size > settings.IMPORT_ASYNC_BYTES:
        # Big files run on a worker; the page polls the job's progress.
        job = import_job_start(kind=kind_key, upload=upload, user=request.user)
    elif not form_error:
        outcome = _import_now(request, kind_key, upload)
    if job is not None and not request.htmx:
        return redirect(f"{reverse('imports')}?job={job.pk}")
    context = _import_context(
        request,
        outcome=outcome,
        form_error=form_error,
        job=job,
        progress=import_job_progress(job) if job else None,
        selected=kind_key or "accounts",
    )
    status = 200 if job is not None or (outcome and outcome["ok"]) else 400
    return _render_import(request, context, status=status)


def _too_large(request: AuthedRequest, exc: ImportTooLarge) -> HttpResponse:
    """413 with the limit named; nothing was read or written."""
    context = _import_context(request, form_error=exc.message)
    return _render_import(request, context, status=413)


def _import_now(request: AuthedRequest, kind_key: str, upload) -> dict:
    """Import a small file in this request; the outcome as the page shows it."""
    # The upload itself is handed over: the pipeline reads it as a stream.
    result = run_import(
        kind_key, data=upload, origin="web", user=request.user, filename=upload.name
    )
    # The htmx fragment shows the outcome itself; a flash would resurface on the next page.
    if result.ok and not request.htmx:
        messages.success(
            request,
            f"Imported {result.rows} {kind_key} rows: {result.stats.created} new, "
            f"{result.stats.updated} updated, {result.stats.unchanged} unchanged.",
        )
    return result.as_dict()


def _render_import(request: AuthedRequest, context: dict, status: int = 200) -> HttpResponse:
    """The whole page, or for htmx the outcome plus the refreshed Recent imports (out of band)."""
    if not request.htmx:
        return render(request, "imports/import.html", context, status=status)
    html = render_to_string("imports/import.html#outcome", context, request=request)
    html += render_to_string("imports/import.html#runs", {**context, "oob": True}, request)
    return HttpResponse(html, status=status)


def run_outcome(run: ImportRun) -> dict:
    """The same shape as ImportResult.as_dict(), for an import that ran in the background."""
    return {
        "kind": run.kind,
        "ok": run.status == ImportRun.Status.ACCEPTED,
        "rows": run.rows,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "error_count": run.error_count,
        "errors": run.errors,
        "seconds": run.seconds,
        "failed": run.status == ImportRun.Status.FAILED,
        # It never started (the queue was down) and its file is kept: offer a retry.
        "retry_run": run.pk if import_job_retryable(run) else None,
    }


@require_GET
def import_job(request: AuthedRequest, run_id: int) -> HttpResponse:
    """Poll a background import: progress while it runs, then its outcome."""
    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None:
        raise Http404("No such import")
    if run.status == ImportRun.Status.RUNNING:
        context = _import_context(request, job=run, progress=import_job_progress(run))
    else:
        context = _import_context(request, outcome=run_outcome(run), selected=run.kind)
    return _render_import(request, context)


@require_POST
def import_job_retry_view(request: AuthedRequest, run_id: int) -> HttpResponse:
    """Queue again a background import that could not start; then poll it as before."""
    if not can_import(request.user):
        raise PermissionDenied("Only CS managers and admins can import data.")
    run = ImportRun.objects.filter(pk=run_id, origin=ImportRun.Origin.WEB).first()
    if run is None:
        raise Http404("No such import")
    if not import_job_retry(run=run):
        messages.error(request, "This import cannot be retried: upload the file again.")
    return redirect(f"{reverse('imports')}?job={run.pk}")
