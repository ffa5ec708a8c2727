"""Settings read from the environment, with defaults that run on a laptop: SQLite and the in-memory layer.

DATABASE_URL (e.g. postgres://user:pass@host/db) and REDIS_URL (redis://host:port/0) switch to the
engines that several processes share; nothing else changes.
"""
import os
import tempfile
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-secret-key-change-me-in-production-0123456789")
DEBUG = os.environ.get("DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "sessions_app",
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
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "workbench.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
ASGI_APPLICATION = "workbench.asgi.application"

SQLITE_PATH = os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))
if os.environ.get("DATABASE_URL"):
    # A connection is kept a minute by the thread that opened it, and checked before it is reused (so a
    # restarted PostgreSQL costs one failed check, not a failed request).
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60,
                                                  conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "workbench.postgresql"  # checks health only after a rest
        # PostgreSQL binds the parameters (Django pastes them into the SQL by default), so psycopg can prepare
        # the statements a connection repeats, after 5 uses: PostgreSQL then skips parsing and planning them,
        # ~30% of its CPU under bench/scale_out.py's load. Options from DATABASE_URL's query (sslmode...) are kept.
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5,
                                           **DATABASES["default"].get("OPTIONS", {})}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": SQLITE_PATH,
        # All database work runs on one thread (database_sync_to_async), so one connection can stay open.
        "CONN_MAX_AGE": None,
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing mid-transaction.
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        # A file, not shared-cache memory: threads in tests then wait on locks as processes do in production.
        "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"tccc-test-{os.getpid()}.sqlite3")},
    }}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels drops group members after group_expiry (a day by default), which would silence an agent's tab that
# stays connected longer; connections leave their groups on disconnect, so a long expiry loses nothing.
GROUP_EXPIRY = 30 * 24 * 3600
if os.environ.get("REDIS_URL"):
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

    # A command on a connection Redis closed (it restarted) is retried on a new one (workbench/redis_layer.py).
    CHANNEL_LAYERS = {"default": {
        "BACKEND": "workbench.redis_layer.ResilientRedisChannelLayer",
        "CONFIG": {"hosts": [{"address": os.environ["REDIS_URL"], "retry": Retry(ExponentialBackoff(0.5, 0.02), 3),
                              "retry_on_error": [RedisConnectionError, RedisTimeoutError]}],
                   "capacity": 1000, "expiry": 30, "group_expiry": GROUP_EXPIRY},
    }}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "workbench.channel_layer.ThrottledInMemoryChannelLayer",
                                  "CONFIG": {"capacity": 1000, "group_expiry": GROUP_EXPIRY}}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None  # set it (and run collectstatic) to serve a collected copy
# WhiteNoise serves static files from the app and project folders directly: no collectstatic step needed.
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "/workbench/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Product settings (seconds unless named otherwise).
SDK_TOKEN_TTL = int(os.environ.get("SDK_TOKEN_TTL", "600"))
SDK_RESUME_TTL = int(os.environ.get("SDK_RESUME_TTL", str(12 * 3600)))
OFFLINE_GRACE = float(os.environ.get("OFFLINE_GRACE", "30"))
PROCESS_DEAD_AFTER = float(os.environ.get("PROCESS_DEAD_AFTER", "15"))
SWEEP_INTERVAL = float(os.environ.get("SWEEP_INTERVAL", "0.2"))
CDR_RETRY_BASE = float(os.environ.get("CDR_RETRY_BASE", "2"))
CDR_RETRY_MAX = float(os.environ.get("CDR_RETRY_MAX", "600"))
PUBLIC_URL = os.environ.get("PUBLIC_URL", "")
# HTTP requests under daphne (workbench/http_limits.py): the largest body read (the API's own limit is lower), and
# the seconds a request's head and body may take to arrive.
MAX_REQUEST_BODY = int(os.environ.get("MAX_REQUEST_BODY", str(10 * 1024 * 1024)))
HTTP_REQUEST_TIMEOUT = float(os.environ.get("HTTP_REQUEST_TIMEOUT", "30"))
# Web chats and calls (together) one visitor, and one client address, may start within START_LIMIT_WINDOW
# seconds (services/visitor_limits.py); 0: no limit.
START_LIMIT_WINDOW = float(os.environ.get("START_LIMIT_WINDOW", "600"))
START_LIMIT_PER_VISITOR = int(os.environ.get("START_LIMIT_PER_VISITOR", "10"))
START_LIMIT_PER_ADDRESS = int(os.environ.get("START_LIMIT_PER_ADDRESS", "100"))
# The addresses the media bridge offers browsers (ICE host candidates); unset: every interface but loopback.
# The SIP trunk: the gateway listens on SIP_HOST:SIP_PORT (UDP and TCP) when SIP_PORT is set; SIP_PUBLIC_HOST
# is the address put in Contact and SDP (default: the first MEDIA_HOST_ADDRESSES entry, else this machine's).
SIP_PORT = int(os.environ["SIP_PORT"]) if os.environ.get("SIP_PORT") else None
SIP_HOST = os.environ.get("SIP_HOST", "0.0.0.0")
SIP_PUBLIC_HOST = os.environ.get("SIP_PUBLIC_HOST", "")
RTP_PORTS = os.environ.get("RTP_PORTS", "")
# A trunk for outbound calls when admin has none for the tenant (admin's, when set, wins).
SIP_TRUNK = {"host": os.environ.get("SIP_TRUNK_HOST", ""), "port": int(os.environ.get("SIP_TRUNK_PORT", "5060")),
             "transport": os.environ.get("SIP_TRUNK_TRANSPORT", "udp"),
             "username": os.environ.get("SIP_TRUNK_USERNAME", ""), "password": os.environ.get("SIP_TRUNK_PASSWORD", "")}
# How long an outbound call may ring before it is given up (CANCEL; ends as notAnswer).
OUTBOUND_RING_SECONDS = float(os.environ.get("OUTBOUND_RING_SECONDS", "60"))  # e.g. 10000-20000, the range a firewall lets through
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "uploads"))  # uploaded IVR prompts
MEDIA_URL = "uploads/"
PROMPT_CACHE = Path(os.environ.get("PROMPT_CACHE", MEDIA_ROOT / "prompt-cache"))
# With Redis, media runs in worker processes (`manage.py media_worker`); without, on a thread of the web process.
# MEDIA_IN_WORKERS=0 keeps it in the web process with Redis too (one web process, Redis for other reasons).
MEDIA_IN_WORKERS = os.environ.get("MEDIA_IN_WORKERS", "1" if os.environ.get("REDIS_URL") else "0") == "1"
MEDIA_HOST_ADDRESSES = [a.strip() for a in os.environ.get("MEDIA_HOST_ADDRESSES", "").split(",") if a.strip()]
