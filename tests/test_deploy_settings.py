"""Deploy safety: the secret key and the HTTPS settings come from the environment, and the
documented production settings pass `check --deploy` with no warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cs_portal.env import envpair, envsecret, weak_secret

ROOT = Path(__file__).resolve().parents[1]
REAL_SECRET = "k" * 20 + "0123456789abcdefghijABCDEFGHIJ-_"


def _run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # Only what Python needs: nothing of the developer's or the test run's environment leaks in.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**base, "DJANGO_SETTINGS_MODULE": "cs_portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _production_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / ".env.production.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip().strip('"')
    return env


@pytest.mark.parametrize(
    "value", ["dev-only-insecure-key-set-SECRET_KEY-in-production", "change-me", "short", ""]
)
def test_a_public_or_weak_secret_refuses_to_start_with_debug_off(value, monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", value)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        envsecret("SECRET_KEY", fallback_file=tmp_path / "secret_key", debug=False)
    assert not (tmp_path / "secret_key").exists()


def test_a_real_secret_from_the_environment_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", REAL_SECRET)
    assert envsecret("SECRET_KEY", fallback_file=tmp_path / "k", debug=False) == (REAL_SECRET, True)


def test_unset_secret_is_generated_once_per_install_never_a_public_default(tmp_path, monkeypatch):
    """A fresh clone runs with no configuration: the key is random, kept in var/ (git-ignored,
    owner-only) and the same on the next start."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    stored = tmp_path / "var" / "secret_key"
    key, from_env = envsecret("SECRET_KEY", fallback_file=stored, debug=False)
    again, _ = envsecret("SECRET_KEY", fallback_file=stored, debug=False)
    other_install, _ = envsecret("SECRET_KEY", fallback_file=tmp_path / "other", debug=False)
    assert from_env is False
    assert weak_secret(key) == ""
    assert again == key
    assert other_install != key
    assert stored.read_text().strip() == key
    assert stored.stat().st_mode & 0o077 == 0
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/secret_key"], cwd=ROOT)
    assert ignored.returncode == 0


@pytest.mark.slow  # a Django process of its own: CI (make test-all) runs it
def test_deploy_settings_come_from_the_environment():
    env = {
        "SECRET_KEY": REAL_SECRET,
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "600",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "SECURE_HSTS_PRELOAD": "true",
        "SESSION_COOKIE_SECURE": "true",
        "CSRF_COOKIE_SECURE": "true",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "USE_X_FORWARDED_HOST": "true",
    }
    names = [k for k in env if k != "SECRET_KEY"]
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); import django; django.setup(); "
        "from django.conf import settings; "
        f"print(repr([getattr(settings, n) for n in {names!r}]))"
    )
    result = _run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(
        [True, 600, True, True, True, True, ("HTTP_X_FORWARDED_PROTO", "https"), True]
    )


def test_a_malformed_proxy_header_fails_loudly(monkeypatch):
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "on")
    with pytest.raises(ImproperlyConfigured, match="HEADER,value"):
        envpair("SECURE_PROXY_SSL_HEADER")


@pytest.mark.slow  # a Django process of its own: CI (make test-all) runs it
def test_documented_production_settings_pass_check_deploy_without_warnings():
    env = {**_production_env(), "SECRET_KEY": REAL_SECRET}
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow  # a Django process of its own: CI (make test-all) runs it
def test_check_deploy_flags_the_per_install_key():
    env = _production_env()
    env.pop("SECRET_KEY", None)
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0
    assert "cs_portal.W001" in result.stdout + result.stderr


@pytest.mark.slow  # a Django process of its own: CI (make test-all) runs it
def test_the_app_refuses_to_start_on_the_old_public_default():
    env = {**_production_env(), "SECRET_KEY": "dev-only-insecure-key-set-SECRET_KEY-in-production"}
    result = _run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY is not a real secret (it is a published placeholder)" in result.stderr
