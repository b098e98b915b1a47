"""Django settings for Shuping.

Configuration comes from the environment:
  DATABASE_URL        postgresql://user:pass@host:port/db (required; `shuping run`
                      and `shuping test` set it for their embedded server)
  REDIS_URL           turns on the Redis channel layer (hosted, several workers)
  SHUPING_SECRET_KEY  signing key (the embedded default keeps one in .shuping/); it
                      also seals the ballot box: keep it while a ballot is open.
                      Required: without a real one nothing starts (shuping.hosted)
  SHUPING_SECRET_KEY_FALLBACKS  former keys, comma-separated, during a change
  SHUPING_DEBUG       "1" for Django's debug pages (development only)
  SHUPING_HTTPS       "1" behind an HTTPS reverse proxy: Secure cookies, HSTS,
                      redirect to https, X-Forwarded-Proto trusted (docs/hosting.md)
  SHUPING_ALLOWED_HOSTS  comma-separated; default allows localhost names
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from csp.constants import NONE, SELF

from shuping import embedded_pg, hosted

PLATFORM_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = PLATFORM_DIR.parent
FRONTEND_DIR = REPO_DIR / "frontend"


def database_from_url(url: str) -> dict[str, object]:
    """Turn a postgresql:// URL into a Django DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must be postgresql://…, got {parsed.scheme!r}")
    options: dict[str, object] = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    # Django opens psycopg connections with prepare_threshold=None, under which
    # psycopg prepares nothing, even when a cursor asks. The event store's and
    # the ballot box's cursors (events.store.PreparingCursor) bind on the server
    # and ask for their statements to be prepared; Django's own cursors bind on
    # the client and are never prepared, whatever the threshold. `none` in the
    # URL (?prepare_threshold=none) turns preparing off, e.g. behind a pool in
    # transaction mode.
    threshold = str(options.pop("prepare_threshold", "5")).strip().lower()
    if threshold not in ("", "none") and not threshold.isdigit():
        raise ValueError(f"DATABASE_URL's prepare_threshold must be a whole number or none, got {threshold!r}")
    options["prepare_threshold"] = None if threshold in ("", "none") else int(threshold)
    return {
        # django-tenants wraps the PostgreSQL backend to set search_path per county;
        # ours (tenants.postgresql_backend) skips the health check of a
        # connection used within DB_HEALTH_CHECK_AFTER_IDLE seconds.
        "ENGINE": "tenants.postgresql_backend",
        "NAME": unquote(parsed.path.lstrip("/")) or "shuping",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "OPTIONS": options,
        # HTTP requests run in a pool of worker threads (shuping.http_bridge); each
        # keeps its connection between requests instead of paying a new
        # PostgreSQL login per request. Health checks drop a dead one (after
        # a quiet spell only, see DB_HEALTH_CHECK_AFTER_IDLE).
        "CONN_MAX_AGE": int(os.environ.get("SHUPING_CONN_MAX_AGE", "300")),
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": None},
    }


DEBUG = hosted.switch(os.environ, "SHUPING_DEBUG")
# SECRET_KEY and its fallbacks: in the hosted-mode block at the end.

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get(
        "SHUPING_ALLOWED_HOSTS", "localhost,.localhost,127.0.0.1,testserver,.testserver"
    ).split(",")
    if host.strip()
]

# -- tenancy -------------------------------------------------------------------
# The public schema holds the counties and their host names, and the platform
# operators. Everything of a county (its users, roles, reference data, events,
# projections) lives in the county's own schema.
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "axes",
    # The job queue (followup.jobs): its tables in the public schema, so one
    # worker serves every county.
    "procrastinate.contrib.django",
    # Cities and provinces over counties (regions.models): public rows, no county data.
    "regions.apps.RegionsConfig",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "accounts",
    "axes",
    "events",
    "projections.apps.ProjectionsConfig",
    "meetings.apps.MeetingsConfig",
    "staff.apps.StaffConfig",
    "followup.apps.FollowupConfig",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS] + ["live.apps.LiveConfig"]

# The job queue's worker (followup.jobs) deletes the jobs that succeeded (a
# sweep a minute would otherwise leave 1,440 rows a day) and keeps failed ones.
PROCRASTINATE_WORKER_DEFAULTS = {"delete_jobs": "successful"}
# A periodic job due while no worker ran is deferred when one starts, if it
# fell due within the last day (procrastinate's default is 10 minutes): the
# daily clearing of ended logins must not be skipped because the worker was
# restarted at 03:20. Each due time is deferred once (procrastinate records it).
PROCRASTINATE_PERIODIC_DEFAULTS = {"max_delay": 24 * 60 * 60}
PROCRASTINATE_IMPORT_PATHS = ["followup.jobs"]

TENANT_MODEL = "tenants.County"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New counties are cloned from a migrated template schema: seconds instead of
# running every migration again (architecture.md, "many schemas cost Django time").
TENANT_BASE_SCHEMA = "county_template"
# pg_dump captures the template's DDL once per schema state (tenants.template_ddl):
# the embedded wheel's own (as new as its server), else SHUPING_PG_DUMP or the PATH's.
PG_DUMP = os.environ.get("SHUPING_PG_DUMP") or embedded_pg.pg_dump_path()
TENANT_CREATION_FAKES_MIGRATIONS = True
# Issue `SET search_path` once per connection and tenant switch, not before
# every cursor (django-tenants forgets the cached path on rollback, so an
# aborted transaction cannot leave a stale one behind).
TENANT_LIMIT_SET_CALLS = True
# Host name -> county is cached per process (tenants.hosts): a removed or moved
# host name stops resolving in other processes within this many seconds (at
# once in the process that changed it); 0 looks it up on every request.
TENANT_HOST_CACHE_SECONDS = float(os.environ.get("SHUPING_TENANT_HOST_CACHE_SECONDS", "30"))
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", "postgresql://localhost/shuping")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# A connection that has served this many distinct county schemas is closed
# before it switches to another (tenants.postgresql_backend.base): each schema
# a backend touched costs about 70 KB of PostgreSQL catalog cache.
SHUPING_CONN_MAX_SCHEMAS = int(os.environ.get("SHUPING_CONN_MAX_SCHEMAS", "100"))
# A persistent connection used less than this many seconds ago is not sent a
# health check (`SELECT 1`) before its next request (tenants.postgresql_backend).
DB_HEALTH_CHECK_AFTER_IDLE = float(os.environ.get("SHUPING_DB_HEALTH_CHECK_AFTER_IDLE", "1"))

# -- Logins: throttling, tokens, sessions ---------------------------------------------
# Password guessing is counted per account and per client address in the
# county's own schema (django-axes; accounts.logins answers a lock-out with
# 429 `login_locked`). Attempts against a locked account or address are
# refused before any password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # 12 characters: ASVS level 2 (V2.1.1).
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_MIDDLEWARE = [
    # After authentication: ends sessions past their idle or absolute limit,
    # then turns a lock-out into its answer (accounts.logins.lockout_response).
    "accounts.sessions.SessionLimitsMiddleware",
    "axes.middleware.AxesMiddleware",
]
AXES_FAILURE_LIMIT = int(os.environ.get("SHUPING_LOGIN_FAILURE_LIMIT", "10"))
# Either reaching the limit locks: the account (from any address) or the
# address (for any account). See docs/api.md on the trade-off.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = float(os.environ.get("SHUPING_LOGIN_COOLOFF_MINUTES", "15")) / 60  # hours
# A refused attempt during a lock-out writes nothing (a flood of them would
# otherwise update the same row at every guess) and does not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.logins.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # logins are not domain facts: no row per successful login
AXES_VERBOSE = False
# The client address is the TCP peer's. Behind reverse proxies that append the
# peer to X-Forwarded-For, set SHUPING_LOGIN_PROXY_COUNT to their number: the
# address is then read from the right, where a client cannot write.
if os.environ.get("SHUPING_LOGIN_PROXY_COUNT"):
    AXES_IPWARE_PROXY_COUNT = int(os.environ["SHUPING_LOGIN_PROXY_COUNT"])
    AXES_IPWARE_PROXY_ORDER = "right-most"
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
# Requests that may hash a password run in their own small lane of threads
# per server process (shuping.http_bridge), never on the threads that cast
# ballots; a login that cannot start within LOGIN_LANE_WAIT_SECONDS gets 429
# `login_busy`.
LOGIN_LANE_PATHS = ("/api/token/", "/login/", "/admin/login/", "/admin/password_change/")
LOGIN_LANE_THREADS = int(os.environ.get("SHUPING_LOGIN_THREADS", "1"))
LOGIN_LANE_WAIT_SECONDS = float(os.environ.get("SHUPING_LOGIN_WAIT_SECONDS", "10"))
LOGIN_LANE_QUEUE = int(os.environ.get("SHUPING_LOGIN_QUEUE", "16"))
# The lane's threads run at this niceness (Linux, per thread): ballots get the CPUs first.
LOGIN_LANE_NICE = int(os.environ.get("SHUPING_LOGIN_NICE", "10"))
# ... and are busy at most this share of the time on average, in bursts of at
# most LOGIN_LANE_BURST_SECONDS (two staff logging in at once). Measured with
# bench/login_flood.py: a quarter with bursts of 5 s still took ballot p99 to
# 2.7-6x under a flood on 2 CPUs; a tenth with 2 s kept it within 2x.
LOGIN_LANE_BUSY_SHARE = float(os.environ.get("SHUPING_LOGIN_BUSY_SHARE", "0.1"))
LOGIN_LANE_BURST_SECONDS = float(os.environ.get("SHUPING_LOGIN_BURST_SECONDS", "2"))
# API tokens expire this long after they were issued; logout, a password
# change and deactivation revoke them (accounts.api_tokens). Only their
# digests are stored. An account holds at most API_TOKENS_PER_ACCOUNT at once
# (a login beyond that revokes its oldest), so a person may use a few tools.
API_TOKEN_LIFETIME_SECONDS = int(os.environ.get("SHUPING_API_TOKEN_HOURS", "12")) * 3600
API_TOKENS_PER_ACCOUNT = int(os.environ.get("SHUPING_API_TOKENS_PER_ACCOUNT", "5"))
# Sessions end 12 hours after login whatever happens, and after 30 minutes
# without a request (accounts.sessions).
SESSION_COOKIE_AGE = int(os.environ.get("SHUPING_SESSION_HOURS", "12")) * 3600
SESSION_IDLE_SECONDS = int(os.environ.get("SHUPING_SESSION_IDLE_MINUTES", "30")) * 60
# Database sessions whose rows are keyed by a digest of the cookie, never the cookie itself.
SESSION_ENGINE = "accounts.session_store"

MIDDLEWARE = [
    # Outermost: a request id for every request (X-Request-ID, and on its log
    # lines), and the error format for every error answer under /api/.
    "common.http_errors.HttpErrorsMiddleware",
    # django-tenants' host lookup, cached (tenants.middleware, tenants.hosts).
    "tenants.middleware.CachedCountyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "shuping.admin_language.AdminInChineseMiddleware",  # the admin in zh-Hans whatever the browser asks
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    *LOGIN_MIDDLEWARE,
]

ROOT_URLCONF = "shuping.urls_county"
PUBLIC_SCHEMA_URLCONF = "shuping.urls_public"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [FRONTEND_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

ASGI_APPLICATION = "shuping.asgi.application"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/admin/login/"

# Sessions and CSRF cookies are per host name, so one county's session cookie
# is never sent to another county's host.
SESSION_COOKIE_NAME = "shuping_session"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_NAME = "shuping_csrf"
CSRF_FAILURE_VIEW = "common.http_errors.csrf_failure"  # a Chinese page, or the error format under /api/

# -- language: Chinese first, English second -------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PLATFORM_DIR / "shuping" / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [FRONTEND_DIR / "static"]
STATIC_ROOT = REPO_DIR / ".shuping" / "static"
WHITENOISE_USE_FINDERS = True
# Uploaded evidence of the rectification ledger, one folder per county (followup.ledger_files).
EVIDENCE_ROOT = Path(os.environ.get("SHUPING_EVIDENCE_DIR") or REPO_DIR / ".shuping" / "evidence")
WHITENOISE_AUTOREFRESH = True

# Request size limits: nothing a person sends us needs more.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# -- API --------------------------------------------------------------------------
# One error format everywhere (common.api.exception_handler); session login for
# pages, tokens for programs; JSON bodies limited to what a command needs.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.api_tokens.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["common.api.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
API_MAX_JSON_BYTES = 256 * 1024
SPECTACULAR_SETTINGS = {
    "TITLE": "述评 Shuping API",
    "DESCRIPTION": (
        "述职评议平台的接口：每个写操作都是一条命令，成功后记录为不可篡改的事件。"
        "错误统一为 {\"error\": {\"code\", \"message\", \"message_en\", \"details\"}}。\n\n"
        "The Shuping API: every write is a command recorded as an immutable event. "
        "Errors share one format with a stable code and a Chinese message."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Ids in paths take a pattern (common.paths; `id` is read from its regex).
    "PATH_CONVERTER_OVERRIDES": {"num": {"type": "integer", "minimum": 0, "maximum": 999_999_999}},
}

# -- live layer --------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Members of a group are the rooms of live.relay (one channel per group and
# server process, not one per socket). A room reads its channel all the time
# and renews its membership every minute (live.relay.REFRESH_SECONDS), so a
# short group expiry only clears out the channels of processes that died;
# an unread message expires after `expiry` seconds, and a full channel drops
# what does not fit (rooms rebuild their state at each renewal).
_LAYER_CONFIG = {"capacity": 1000, "expiry": 30, "group_expiry": 300}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], **_LAYER_CONFIG},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": dict(_LAYER_CONFIG)}}

# -- caches: per process, except the rate limits -----------------------------------
# `default` stays per process (chain verdicts, notice PDFs: each worker may
# compute its own). `rate_limits` holds the public pages' counters
# (common.rate_limits): with REDIS_URL every worker counts in the same Redis,
# so the limits hold for the sum of the workers; a Redis that does not answer
# within a second refuses the request (503) instead of hanging a thread.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "rate_limits": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "shuping",
         "OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}}
        if REDIS_URL else
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rate-limits"}
    ),
}
RATELIMIT_USE_CACHE = "rate_limits"
RATELIMIT_FAIL_OPEN = False
# Receipt lookups per client address and minute, across counties (live.proof).
RECEIPT_LOOKUP_RATE = os.environ.get("SHUPING_RECEIPT_LOOKUP_RATE", "20/m")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line names its request (common.http_errors): a 500's traceback can
    # be found from the X-Request-ID its answer carried.
    "filters": {"request_id": {"()": "common.http_errors.RequestIdFilter"}},
    "formatters": {"request": {"format": "%(levelname)s %(name)s [request %(request_id)s] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "request"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# -- Hosted mode: secret key, HTTPS, CSP ----------------------------------------------
# Secure by default: these hold for every start, and docs/hosting.md lists each
# switch and what it turns on. `manage.py check --deploy` is clean with
# infra/hosted.env (tests/unit/test_hosted_settings.py).

# No real key, no start (outside SHUPING_DEBUG=1): a fixed fallback key would let
# anyone forge screen, console and dashboard tokens. Former keys still verify
# signatures and open ballots sealed before a change (meetings/ballot_box.py).
SECRET_KEY = hosted.secret_key(os.environ, debug=DEBUG)
SECRET_KEY_FALLBACKS = hosted.secret_key_fallbacks(os.environ, debug=DEBUG)

# One switch for a deployment behind an HTTPS reverse proxy (infra/hosted.env).
# The proxy terminates TLS and must overwrite X-Forwarded-Proto on every request;
# the workers must be reachable through the proxy only, since Django then takes
# that header's word for the scheme (request.is_secure(), and so every link
# built from the request: QR slips, hall-screen links).
SHUPING_HTTPS = hosted.switch(os.environ, "SHUPING_HTTPS")
if SHUPING_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # The proxy's health probe talks plain HTTP to a worker directly.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # A year, for the county host names below the platform's domain as well.
    # preload only allows the domain's owner to submit it to browsers' lists.
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# A Content-Security-Policy on every answer (django-csp), outermost so that
# error pages carry it too. Pages load scripts and styles from /static/ only:
# no inline script, no inline style, no eval; websockets go to the page's own
# host ('self' covers ws: and wss: there).
MIDDLEWARE.insert(0, "csp.middleware.CSPMiddleware")
INSTALLED_APPS.append("csp")  # its checks refuse the old CSP_* settings
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}
