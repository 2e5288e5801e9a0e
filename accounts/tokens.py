"""The API tokens page: a user lists, creates and revokes their own tokens."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from cs_portal.http import AuthedRequest

from . import selectors, services
from .models import ApiToken

EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never")]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “Nightly CRM sync”")
    expires_in_days = forms.ChoiceField(
        choices=EXPIRY_CHOICES, required=False, initial="90", label="Expires"
    )

    def expires_at(self):
        days = self.cleaned_data["expires_in_days"]
        return timezone.now() + timedelta(days=int(days)) if days else None


class ApiTokenRevokeForm(forms.Form):
    token = forms.ModelChoiceField(queryset=ApiToken.objects.none())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the user's own active tokens are choices: anyone else's id is not found.
        self.fields["token"].queryset = selectors.api_tokens_for(user=user).filter(revoked=False)


def _page(request: AuthedRequest, form: ApiTokenForm, status: int = 200, created: str = ""):
    return render(
        request,
        "accounts/tokens.html",
        {
            "tokens": selectors.api_tokens_for(user=request.user),
            "form": form,
            "created_token": created,
            "now": timezone.now(),
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def api_tokens(request: AuthedRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, ApiTokenForm())
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    # Shown in this response only (never stored, never redirected through a cookie); never_cache
    # keeps it out of the browser's and any proxy's cache.
    raw = services.api_token_create(
        user=request.user, name=form.cleaned_data["name"], expires_at=form.expires_at()
    )
    return _page(request, ApiTokenForm(), created=raw)


@require_POST
def api_token_revoke(request: AuthedRequest) -> HttpResponse:
    form = ApiTokenRevokeForm(request.POST, user=request.user)
    if not form.is_valid():
        raise Http404("No such token of yours.")
    token = form.cleaned_data["token"]
    services.api_token_revoke(user=request.user, token_id=token.pk)
    messages.success(
        request, f"Token “{token.name or token.prefix}” revoked: it stops working now."
    )
    return redirect("api_tokens")
