"""Pages of QBR prep: the account's QBRs tab (prepare one, the past ones), the prep page with
its inline section edits and next steps, the printable page, the deck download and the QBRs
due. Reads are open to every role; changes are the account's CSM's and managers'."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.models import User
from accounts.permissions import can_edit_qbr, is_manager
from cs_portal import clock
from cs_portal.formtools import first_error
from cs_portal.http import AuthedRequest

from . import charts, rules, selectors, services
from .deck import CONTENT_TYPE, company_name, deck_bytes, deck_filename
from .forms import DueForm, HeldForm, PeriodForm, SectionForm, StepFormSet
from .models import Qbr


def _header(request: AuthedRequest, account) -> dict:
    return account_selectors.account_header(user=request.user, account=account)


def _qbr_or_404(pk: int) -> Qbr:
    qbr = selectors.qbr_for(pk=pk)
    if qbr is None:
        raise Http404("No such QBR")
    return qbr


def _edit_check(request: AuthedRequest, qbr: Qbr) -> None:
    if not can_edit_qbr(request.user, qbr.account):
        raise PermissionDenied("Only the account's CSM or a CS manager can change its QBRs.")


@require_http_methods(["GET", "POST"])
def account_qbrs(request: AuthedRequest, external_id: str) -> HttpResponse:
    """The QBRs tab: prepare one for a period (the last full quarter by default) and the
    account's past QBRs."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    can_edit = can_edit_qbr(request.user, account)
    form = PeriodForm(request.POST or None, initial=PeriodForm.default())
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the account's CSM or a CS manager can prepare its QBRs.")
        if form.is_valid():
            qbr = services.qbr_prepare(
                account=account,
                by=request.user,
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
            )
            return redirect("qbr", pk=qbr.pk)
        status = 422
    context = {
        **_header(request, account),
        "can_edit_qbr": can_edit,
        "form": form,
        "qbrs": selectors.account_qbrs(account=account),
    }
    return render(request, "qbr/account_qbrs.html", context, status=status)


def _sections_context(qbr: Qbr) -> list[dict]:
    sections = selectors.qbr_sections(qbr)
    for s in sections:
        s["figs"] = [
            {"key": f"{s['key']}-{i}", "fig": charts.figure(c)} for i, c in enumerate(s["charts"])
        ]
    return sections


def _page_context(request: AuthedRequest, qbr: Qbr, *, steps_form=None) -> dict:
    account = account_selectors.accounts_with_commercials().get(pk=qbr.account_id)
    can_edit = can_edit_qbr(request.user, account)
    steps = list(qbr.steps.select_related("owner"))
    if steps_form is None:
        initial = [
            {
                "step_id": s.pk,
                "text": s.text,
                "owner": str(s.owner_id or ""),
                "customer_owner": s.customer_owner,
                "due": s.due,
            }
            for s in steps
        ]
        initial += [{} for _ in range(3)]
        steps_form = StepFormSet(account=account, initial=initial, prefix="steps")
    return {
        **_header(request, account),
        "qbr": qbr,
        "period": rules.period_label(qbr.period_start, qbr.period_end),
        "sections": _sections_context(qbr),
        "can_edit_qbr": can_edit,
        "steps": steps,
        "steps_form": steps_form,
        "owners": selectors.step_owner_choices(account),
        "held_form": HeldForm(initial={"on": clock.today()}),
        "today": clock.today(),
        "ours": company_name(),
    }


@require_GET
def qbr_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """The prep page: the six sections (live for a draft, frozen once saved), each with its
    sentence to edit, show or hide and move; the next steps; save, held, deck, printable."""
    qbr = _qbr_or_404(pk)
    return render(request, "qbr/qbr.html", _page_context(request, qbr))


@require_POST
def qbr_section(request: AuthedRequest, pk: int) -> HttpResponse:
    """One section's edit (htmx swaps the sections back in; a plain POST redirects)."""
    qbr = _qbr_or_404(pk)
    _edit_check(request, qbr)
    form = SectionForm(request.POST)
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        action, key = data["action"], data["key"]
        kwargs: dict = {}
        if action == "sentence":
            kwargs["sentence"] = data["sentence"]
        elif action == "reset":
            drafted = next(s for s in selectors.qbr_sections(qbr) if s["key"] == key)
            kwargs["sentence"] = drafted["default_sentence"]
        elif action in ("show", "hide"):
            kwargs["visible"] = action == "show"
        else:
            kwargs["move"] = -1 if action == "up" else 1
        qbr = services.qbr_section_edit(qbr=qbr, by=request.user, key=key, **kwargs)
        qbr = _qbr_or_404(pk)
    else:
        status = 422
        messages.error(request, first_error(form))
    if not request.htmx:
        if status != 200:
            return render(request, "qbr/qbr.html", _page_context(request, qbr), status=status)
        return redirect("qbr", pk=qbr.pk)
    response = render(request, "qbr/qbr.html#sections", _page_context(request, qbr), status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
def qbr_save(request: AuthedRequest, pk: int) -> HttpResponse:
    qbr = _qbr_or_404(pk)
    _edit_check(request, qbr)
    services.qbr_save(qbr=qbr, by=request.user)
    messages.success(request, "Saved: the numbers are frozen as they are today.")
    return redirect("qbr", pk=qbr.pk)


@require_POST
def qbr_held(request: AuthedRequest, pk: int) -> HttpResponse:
    qbr = _qbr_or_404(pk)
    _edit_check(request, qbr)
    form = HeldForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("qbr", pk=qbr.pk)
    qbr = services.qbr_mark_held(qbr=qbr, by=request.user, on=form.cleaned_data["on"])
    messages.success(
        request, f"Marked held on {qbr.held_on:%b} {qbr.held_on.day}: a QBR touchpoint is logged."
    )
    return redirect("qbr", pk=qbr.pk)


@require_POST
def qbr_steps(request: AuthedRequest, pk: int) -> HttpResponse:
    """Save the mutual action plan: one task per row, revised on a re-save."""
    qbr = _qbr_or_404(pk)
    _edit_check(request, qbr)
    formset = StepFormSet(request.POST, account=qbr.account, prefix="steps")
    if formset.is_valid():
        try:
            steps = services.qbr_steps_save(qbr=qbr, by=request.user, steps=formset.steps())
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("qbr", pk=qbr.pk)
        messages.success(
            request, f"Saved {len(steps)} next step{'s' if len(steps) != 1 else ''} as tasks."
        )
        return redirect("qbr", pk=qbr.pk)
    context = _page_context(request, qbr, steps_form=formset)
    return render(request, "qbr/qbr.html", context, status=422)


@require_GET
def qbr_print(request: AuthedRequest, pk: int) -> HttpResponse:
    """The printable page: the visible sections, one per printed page, without the nav."""
    qbr = _qbr_or_404(pk)
    context = {
        "qbr": qbr,
        "account": qbr.account,
        "period": rules.period_label(qbr.period_start, qbr.period_end),
        "sections": [s for s in _sections_context(qbr) if s["visible"]],
        "ours": company_name(),
    }
    return render(request, "qbr/print.html", context)


@require_GET
def qbr_pptx(request: AuthedRequest, pk: int) -> HttpResponse:
    qbr = _qbr_or_404(pk)
    response = HttpResponse(deck_bytes(qbr), content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{deck_filename(qbr)}"'
    return response


@require_GET
def qbrs_due(request: AuthedRequest) -> HttpResponse:
    """Tier-1 accounts without a QBR in 100 days and tier-2 accounts renewing within 120 days:
    a CSM's own, a manager's whole book (or one CSM's), each one click from a draft."""
    form = DueForm(request.GET)
    form.is_valid()
    csm = None
    picked = form.cleaned_data.get("csm") if form.is_valid() else ""
    if picked and is_manager(request.user):
        csm = User.objects.filter(pk=int(picked)).first() if len(picked) < 10 else None
    rows = selectors.qbrs_due(user=request.user, csm=csm, as_of=clock.today())
    default = PeriodForm.default()
    context = {
        "rows": rows,
        "form": form,
        "csm": csm,
        "csms": account_selectors.csm_choices() if is_manager(request.user) else [],
        "period": default,
        "period_label": rules.period_label(default["start"], default["end"]),
        "manager": is_manager(request.user),
        "editable": {r.account.pk for r in rows if can_edit_qbr(request.user, r.account)},
    }
    return render(request, "qbr/due.html", context)
