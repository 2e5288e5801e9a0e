"""Typed environment helpers that fail loudly on a bad value."""

import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false)")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envpair(name: str, default: str = "") -> tuple[str, str] | None:
    """ "HEADER,value" → ("HEADER", "value"); unset or empty → None."""
    raw = os.environ.get(name, default).strip()
    if not raw:
        return None
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ImproperlyConfigured(f"{name}={raw!r} must be two values: HEADER,value")
    return parts[0], parts[1]


# Values that have been published (in this repository's history, its examples or Django's
# project template): a deployment using one of them signs its sessions with a public key.
_PUBLIC_SECRETS = {
    "dev-only-insecure-key-set-SECRET_KEY-in-production",
    "change-me",
    "change-me-in-production",
    "changeme",
    "secret",
}
SECRET_KEY_MIN_LENGTH = 50


def weak_secret(value: str) -> str:
    """Why `value` is not a usable secret key, or "" when it is (Django's own deploy criteria:
    at least 50 characters, 5 distinct ones, not a placeholder)."""
    if value in _PUBLIC_SECRETS or value.startswith("django-insecure"):
        return "it is a published placeholder"
    if len(value) < SECRET_KEY_MIN_LENGTH or len(set(value)) < 5:
        return f"it is shorter than {SECRET_KEY_MIN_LENGTH} characters or too repetitive"
    return ""


def envsecret(name: str, *, fallback_file: Path, debug: bool) -> tuple[str, bool]:
    """The secret key: the environment's, checked; unset → a random key generated once into
    `fallback_file` (git-ignored) so a fresh clone runs with no configuration, yet never on a
    value anyone else knows. Returns (key, came_from_environment).

    With DEBUG off a weak or published value refuses to start instead of running insecurely.
    """
    raw = os.environ.get(name)
    if raw is not None and raw.strip():
        problem = weak_secret(raw)
        if problem and not debug:
            raise ImproperlyConfigured(
                f"{name} is not a real secret ({problem}). Generate one with: python -c "
                '"import secrets; print(secrets.token_urlsafe(50))"'
            )
        return raw, True
    if raw is not None and not debug:
        raise ImproperlyConfigured(f"{name} is set but empty; set a real secret or unset it")
    try:
        return fallback_file.read_text().strip(), False
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(SECRET_KEY_MIN_LENGTH)
    try:
        fallback_file.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a temporary name, then linked into place: a second process
        # starting at the same moment sees no file or the complete one, never half of it.
        fd, temporary = tempfile.mkstemp(dir=fallback_file.parent, prefix=".secret-")
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        try:
            os.link(temporary, fallback_file)
        except FileExistsError:
            key = fallback_file.read_text().strip()
        finally:
            os.unlink(temporary)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{name} is not set and {fallback_file} cannot be written ({exc}); set {name}"
        ) from exc
    return key, False
