"""The login page with throttling (accounts.throttle)."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpResponse

from .throttle import client_address, login_failed, login_retry_after, login_succeeded


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class ThrottledAuthenticationForm(AuthenticationForm):
    retry_after = 0

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        client = client_address(self.request)
        # Checked before the password, without looking the user up: a refusal costs the same
        # for every address, and the right password does not get through a lockout.
        self.retry_after = login_retry_after(username=username, client=client)
        if self.retry_after:
            raise ValidationError(
                "Too many failed logins for this account or from this network. "
                f"Try again in {_in_words(self.retry_after)}.",
                code="throttled",
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            login_failed(username=username, client=client)
            raise
        login_succeeded(username=username)
        return cleaned


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
