"""Settings read from the environment, with defaults that run on a laptop: SQLite and the in-memory layer.

DATABASE_URL (e.g. postgres://user:pass@host/db) and REDIS_URL (redis://host:port/0) switch to the
engines that several processes share; nothing else changes.
"""
import datetime
import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from sessions_app.domain.ice import IceConfigError, IceSettings
from sessions_app.domain.inbound import InboundConfigError, InboundSettings, SourceListError, parse_sources

from workbench.production import DEV_SECRET_KEY, is_production, refuse, settings_problems

BASE_DIR = Path(__file__).resolve().parent.parent

# Production mode (README, "Production"; workbench/production.py): refuses the laptop defaults below, sets
# secure cookies and HSTS, and trusts the TLS proxy's X-Forwarded-Proto.
PRODUCTION = is_production(os.environ.get("DJANGO_ENV", ""))
SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
# Former SECRET_KEYs, comma-separated: what they signed or sealed still opens while the new key takes over.
SECRET_KEY_FALLBACKS = [key for key in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if key]
DEBUG = os.environ.get("DEBUG", "0") == "1"
ALLOWED_HOSTS = [host.strip() for host in os.environ.get(
    "ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]").split(",") if host.strip()]
PUBLIC_URL = os.environ.get("PUBLIC_URL", "")
if PRODUCTION:
    refuse(settings_problems(secret_key=SECRET_KEY, allowed_hosts=ALLOWED_HOSTS, debug=DEBUG, public_url=PUBLIC_URL))
# Behind a proxy that terminates TLS (nginx, deploy/), a request is https when the proxy says so; the proxy
# must set X-Forwarded-Proto itself (a client's own header must not get through), and X-Forwarded-For, whose last
# entry is then the client's address for the sign-in and API-key throttle.
BEHIND_TLS_PROXY = os.environ.get("BEHIND_TLS_PROXY", "1" if PRODUCTION else "0") == "1"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
if PRODUCTION:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    # A year, for this host and its subdomains (those of the contact center's own name, not its parent's);
    # `preload` only consents to the browsers' preload list, on which nothing lands unless the domain's owner
    # submits it. HSTS_SECONDS=300 for a first deployment whose TLS is not proven yet.
    SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = True

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
    "axes",
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
    "axes.middleware.AxesMiddleware",  # turns a locked-out sign-in into credential_throttle's 429 page
]
# Admin's messages stay on the server (in the session), not in a cookie: a new API key or signing secret is shown
# once in one, and a cookie would carry it to the browser and its disk.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

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

# Password and API-key guessing (sessions_app/views/credential_throttle.py): AUTH_FAILURE_LIMIT failures per account
# or per address lock it out for AUTH_LOCKOUT_SECONDS, counted in the database that every process shares.
AUTHENTICATION_BACKENDS = ["sessions_app.views.credential_throttle.LockoutBackend",
                           "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("AUTH_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(seconds=int(os.environ.get("AUTH_LOCKOUT_SECONDS", "900")))
AXES_LOCKOUT_PARAMETERS = "sessions_app.views.credential_throttle.lockout_parameters"
AXES_CLIENT_IP_CALLABLE = "sessions_app.views.credential_throttle.client_address"
AXES_LOCKOUT_CALLABLE = "sessions_app.views.credential_throttle.lockout_response"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lockout lasts its time from the last counted failure
AXES_DISABLE_ACCESS_LOG = True  # no row per successful sign-in

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
# HTTP requests under daphne (workbench/http_limits.py): the largest body read (the API's own limit is lower), and
# the seconds a request's head and body may take to arrive.
MAX_REQUEST_BODY = int(os.environ.get("MAX_REQUEST_BODY", str(10 * 1024 * 1024)))
HTTP_REQUEST_TIMEOUT = float(os.environ.get("HTTP_REQUEST_TIMEOUT", "30"))
# Requests per second one cloud API key may send (views/cloud_api.py), averaged over five seconds.
CLOUD_API_RATE = float(os.environ.get("CLOUD_API_RATE", "20"))
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
# Who may send INVITEs (README, "Who may call in"): SIP_ALLOW's addresses and CIDRs for every tenant, with each
# trunk's own in admin; SIP_INVITE_RATE and SIP_INVITE_BURST per source. A value that cannot work stops the start.
try:
    SIP_INBOUND = InboundSettings.from_environment(os.environ)
except InboundConfigError as error:
    raise ImproperlyConfigured(str(error)) from None
# RFC 3261's T1, the round-trip estimate every SIP timer is a multiple of: our 200 unACKed for 64*T1 is hung up.
SIP_T1 = float(os.environ.get("SIP_T1", "0.5"))
if not 0 < SIP_T1 <= 4:
    raise ImproperlyConfigured(f"SIP_T1 is {SIP_T1}: seconds, more than 0 and at most 4 (T2)")
# The longest a caller may stay in the IVR; past it the session ends (`error`), even if its gateway lost it.
IVR_MAX_SECONDS = float(os.environ.get("IVR_MAX_SECONDS", "600"))
if IVR_MAX_SECONDS <= 0:
    raise ImproperlyConfigured(f"IVR_MAX_SECONDS is {IVR_MAX_SECONDS}: seconds, more than 0")
# A trunk call's session ends if its SIP gateway has not confirmed it still carries the call for this long (it
# confirms every quarter of it): a call the gateway lost, or whose process died, ends in any state.
SIP_LINE_LEASE = float(os.environ.get("SIP_LINE_LEASE", "60"))
if SIP_LINE_LEASE <= 0:
    raise ImproperlyConfigured(f"SIP_LINE_LEASE is {SIP_LINE_LEASE}: seconds, more than 0")
# A trunk for outbound calls when admin has none for the tenant (admin's, when set, wins).
SIP_TRUNK = {"host": os.environ.get("SIP_TRUNK_HOST", ""), "port": int(os.environ.get("SIP_TRUNK_PORT", "5060")),
             "transport": os.environ.get("SIP_TRUNK_TRANSPORT", "udp").lower(),
             "username": os.environ.get("SIP_TRUNK_USERNAME", ""), "password": os.environ.get("SIP_TRUNK_PASSWORD", "")}
if SIP_TRUNK["transport"] not in ("udp", "tcp"):
    raise ImproperlyConfigured(f"SIP_TRUNK_TRANSPORT is {SIP_TRUNK['transport']!r}: udp or tcp")
# How long an outbound call may ring before it is given up (CANCEL; ends as notAnswer).
OUTBOUND_RING_SECONDS = float(os.environ.get("OUTBOUND_RING_SECONDS", "60"))  # e.g. 10000-20000, the range a firewall lets through
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "uploads"))  # uploaded IVR prompts
MEDIA_URL = "uploads/"
PROMPT_CACHE = Path(os.environ.get("PROMPT_CACHE", MEDIA_ROOT / "prompt-cache"))
# Calls being recorded are written here by the media engine (this process's thread, or a media worker on the
# same machine), then moved into the default storage (MEDIA_ROOT, or S3 ... by STORAGES) when the call ends.
RECORDING_SPOOL_DIR = Path(os.environ.get("RECORDING_SPOOL_DIR", BASE_DIR / "var" / "recording-spool"))
RECORD_URL_TTL = int(os.environ.get("RECORD_URL_TTL", str(7 * 86400)))  # seconds a RecordURL works
# UploadIvrAudio fetches the URLs it is given: never from loopback, private, link-local or other non-public
# addresses (a request must not reach what only this server can), except those of these networks (addresses or
# CIDRs, commas between; none by default): a closed network's file server, or 127.0.0.1 in tests.
try:
    IVR_AUDIO_FETCH_ALLOW = parse_sources(os.environ.get("IVR_AUDIO_FETCH_ALLOW", ""))
except SourceListError as error:
    raise ImproperlyConfigured(f"IVR_AUDIO_FETCH_ALLOW: {error}") from None
# With Redis, media runs in worker processes (`manage.py media_worker`); without, on a thread of the web process.
# MEDIA_IN_WORKERS=0 keeps it in the web process with Redis too (one web process, Redis for other reasons).
MEDIA_IN_WORKERS = os.environ.get("MEDIA_IN_WORKERS", "1" if os.environ.get("REDIS_URL") else "0") == "1"
# The process's media engines as services see them (`services.media.MediaBackend`): embedded or workers, per the above.
MEDIA_BACKEND = "workbench.media_backend.backend"
MEDIA_HOST_ADDRESSES = [a.strip() for a in os.environ.get("MEDIA_HOST_ADDRESSES", "").split(",") if a.strip()]
# A leg that only relays another leg on its codec gets that leg's encoded frames, not decoded and re-encoded
# (docs/media-mixing.md). MEDIA_FORWARDING=0 decodes everything: for comparison, and as a fallback.
MEDIA_FORWARDING = os.environ.get("MEDIA_FORWARDING", "1") != "0"
# STUN and TURN servers for browsers and the media bridge's legs (README, "TURN"): ICE_SERVERS, TURN_URLS,
# TURN_SECRET, TURN_TTL, ICE_TRANSPORT_POLICY. A value that cannot work stops the start here, with its reason.
try:
    ICE = IceSettings.from_environment(os.environ)
except IceConfigError as error:
    raise ImproperlyConfigured(str(error)) from None
