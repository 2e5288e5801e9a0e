"""CS Portal settings: everything comes from the environment, with embedded defaults.

With no DATABASE_URL the portal runs on SQLite; with no REDIS_URL Celery tasks run inline
(eager), so `make run` works on a bare laptop. Every variable is listed in the README.
"""

from pathlib import Path

import dj_database_url

from .env import envbool, envint, envlist, envpair, envsecret, envstr

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DEBUG", False)
# Unset: a random key generated once per install into var/ (git-ignored), so a fresh clone runs
# with no configuration; a deployment sets its own (web and worker must share it), and a
# published or weak value refuses to start unless DEBUG is on. `check --deploy` warns when the
# per-install key is in use (cs_portal.checks).
SECRET_KEY, SECRET_KEY_FROM_ENV = envsecret(
    "SECRET_KEY", fallback_file=BASE_DIR / "var" / "secret_key", debug=DEBUG
)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "cs_portal.apps.CsPortalConfig",
    "accounts",
    "health",
    "playbooks",
    "datatrust",
    "expansion",
    "voc",
    "qbr",
    "cockpit",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cs_portal.middleware.HtmxVaryMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "cs_portal.urls"
WSGI_APPLICATION = "cs_portal.wsgi.application"
ASGI_APPLICATION = "cs_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cs_portal.context_processors.portal",
                "playbooks.context_processors.inbox",
            ],
        },
    },
]

DATABASE_URL = envstr("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=envint("CONN_MAX_AGE", 60),
            # A persistent connection that PostgreSQL dropped (restart, failover, idle kill) is
            # noticed before the request uses it, instead of failing that request with a 500.
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": envstr("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js ships inside the plotly package: serve that file, never a CDN.
    ("vendor/plotly", Path(__import__("plotly").__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app/static dirs too, so a missing collectstatic never breaks a page.
WHITENOISE_USE_FINDERS = True

# Request bodies read into memory (form fields, JSON). Import files are limited by
# IMPORT_MAX_BYTES instead, and an uploaded file over FILE_UPLOAD_MAX_MEMORY_SIZE is spooled to
# a temporary file by Django, so an upload's size never becomes this process's memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 200 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Content Security Policy: scripts only from our own origin or with the per-request nonce; styles
# only from our own stylesheets (no <style> blocks or style="" attributes; JS may use the CSSOM).
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# HTTPS. Off by default so `make run` works over plain HTTP on a laptop; a deployment turns each
# on (README "Running in production", .env.production.example; `check --deploy` is clean then).
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
# Load balancers probe over plain HTTP: the probes answer there instead of redirecting.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", False)
# Behind a TLS-terminating proxy: e.g. "HTTP_X_FORWARDED_PROTO,https". Only when the proxy
# always sets (or strips) that header, otherwise a client could claim HTTPS.
SECURE_PROXY_SSL_HEADER = envpair("SECURE_PROXY_SSL_HEADER", "")
USE_X_FORWARDED_HOST = envbool("USE_X_FORWARDED_HOST", False)
# How many proxies in front of the app append to X-Forwarded-For. 0: the client address is
# REMOTE_ADDR and the header is ignored (a client could write anything in it). Used by the
# login throttle to know which client is guessing.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
# Login throttling (accounts.throttle): failures allowed per email address and per client
# address within the window, after which logins are refused until the window ends.
LOGIN_FAILURES_PER_ACCOUNT = envint("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_CLIENT = envint("LOGIN_FAILURES_PER_CLIENT", 20)
LOGIN_THROTTLE_WINDOW_SECONDS = envint("LOGIN_THROTTLE_WINDOW_SECONDS", 15 * 60)

# Celery: Redis when REDIS_URL is set, otherwise every task runs inline (eager).
REDIS_URL = envstr("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# Nothing reads a task's result; not storing them also keeps a send from subscribing to the
# result store first (with Redis down that retried for 20 s before the send could fail).
CELERY_TASK_IGNORE_RESULT = True
# A send to a broker that is down fails within a second or so; the outbox rows it was
# announcing stay in PostgreSQL and the beat's sweeps relay them once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A task a worker took but never acknowledged (the worker was killed) goes back to the queue
# after this many seconds. It must exceed the longest task (a full-book recompute takes about a
# minute at 5,000 accounts), or a slow task would be handed to a second worker while it runs.
# A retry scheduled further ahead than this is delivered again when it falls due; the tasks
# claim their rows with conditional updates, so the second copy finds nothing to do.
TASK_VISIBILITY_TIMEOUT = envint("CELERY_VISIBILITY_TIMEOUT", 900)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": TASK_VISIBILITY_TIMEOUT,
    # Workers look for such tasks every 20 s or so (kombu's default: every 100 s).
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 2,
    # A send connects once more at most (kombu's default waits ~2 s between three tries).
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"


def redis_caches(url: str) -> dict:
    """The cache on Redis: an unreachable Redis is a miss (logged), not an error, and gives up
    within a second rather than holding the request."""
    return {
        "default": {
            "BACKEND": "cs_portal.cache.ResilientRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        },
        # Login throttling must know when Redis is down (it then counts in the process).
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "throttle",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        },
    }


if REDIS_URL:
    CACHES = redis_caches(REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Imports ask for a rescore in their own transaction; the relay waits until no new request has
# come for this long and no import is running, then scores the whole load once (the files of
# one load arrive seconds apart). Inline (no REDIS_URL) there is nobody to wait: each import is
# scored as it commits.
RECOMPUTE_SETTLE_SECONDS = envint("RECOMPUTE_SETTLE_SECONDS", 4 if REDIS_URL else 0)

# An alert's Slack message waits this long and is dropped if the alert resolved meanwhile (the
# load it came from was corrected). Inline there is nobody to wait.
ALERT_DELIVERY_GRACE_SECONDS = envint("ALERT_DELIVERY_GRACE_SECONDS", 60 if REDIS_URL else 0)

BOOK_PAGE_SIZE = envint("BOOK_PAGE_SIZE", 25)
# Our name on the QBR decks and printable pages (the customer's name sits beside it).
COMPANY_NAME = envstr("COMPANY_NAME", "Allium")

# Browser uploads larger than this run as a background job with a progress bar; the file waits
# in the spool directory (shared by web and worker) until the worker has imported it.
IMPORT_ASYNC_BYTES = envint("IMPORT_ASYNC_BYTES", 5 * 1024 * 1024)
# The largest file any import takes (upload page, API, import_data), refused before it is read.
IMPORT_MAX_BYTES = envint("IMPORT_MAX_BYTES", 200 * 1024 * 1024)
IMPORT_SPOOL_DIR = envstr("IMPORT_SPOOL_DIR", str(BASE_DIR / "var" / "imports"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Nightly full-book health recompute (UTC), on top of the per-import recomputes.
from celery.schedules import crontab  # noqa: E402

# How often the beat relays the outboxes (pending rescores, Slack deliveries, nudges) that a
# broker outage left behind; tests shorten it.
OUTBOX_SWEEP_SECONDS = envint("OUTBOX_SWEEP_SECONDS", 60)

CELERY_BEAT_SCHEDULE = {
    "nightly-health-recompute": {
        "task": "health.tasks.recompute_book_nightly",
        "schedule": crontab(hour=1, minute=15),
        "options": {"expires": 6 * 3600},
    },
    # PostgreSQL: the usage facts' monthly partitions exist months ahead of the daily feed.
    "usage-partitions-ahead": {
        "task": "health.tasks.usage_partitions_ahead",
        "schedule": crontab(hour=0, minute=45),
        "options": {"expires": 6 * 3600},
    },
    "recompute-outbox-sweep": {
        "task": "health.tasks.relay_recompute_requests",
        "schedule": float(OUTBOX_SWEEP_SECONDS),
        "options": {"expires": max(1, OUTBOX_SWEEP_SECONDS - 5)},
    },
    "delivery-outbox-sweep": {
        "task": "playbooks.relay_pending",
        "schedule": float(OUTBOX_SWEEP_SECONDS),
        "options": {"expires": max(1, OUTBOX_SWEEP_SECONDS - 5)},
    },
    "import-spool-sweep": {
        "task": "cs_portal.tasks.sweep_import_spool",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "daily-alert-digest": {
        "task": "playbooks.delivery.send_digests",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": 6 * 3600},
    },
}

# Alert delivery. Slack: an incoming-webhook URL (unset = Slack delivery skipped). Email: the
# daily digest per CSM goes through Django's email backend (console unless configured).
SLACK_WEBHOOK_URL = envstr("SLACK_WEBHOOK_URL", "")
ALERT_HTTP_TIMEOUT = envint("ALERT_HTTP_TIMEOUT", 5)
# Django 6.1's MAILERS; the environment keeps the familiar EMAIL_* names. Host and port only
# mean something to the SMTP backend (other backends reject unknown options).
_EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": (
            {"host": envstr("EMAIL_HOST", "localhost"), "port": envint("EMAIL_PORT", 25)}
            if _EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "CS Portal <cs-portal@localhost>")

# Digital-tier nudges go to the product's own messaging through a signed webhook.
NUDGE_WEBHOOK_URL = envstr("NUDGE_WEBHOOK_URL", "")
NUDGE_WEBHOOK_SECRET = envstr("NUDGE_WEBHOOK_SECRET", "")

# Dynamic tiering: ARR above which a tier-3 account is suggested for tier 2, and tier 2 for 1.
TIER3_PROMOTE_ARR = envint("TIER3_PROMOTE_ARR", 30000)
TIER2_PROMOTE_ARR = envint("TIER2_PROMOTE_ARR", 250000)
