"""Settings shared by every environment. Values come from the environment (django-environ);
the defaults here are the embedded ones `make run` uses: SQLite and a serverless broker."""

from pathlib import Path
from urllib.parse import urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env(
    "DJANGO_SECRET_KEY", default="insecure-local-only-key-do-not-use-in-production-0123456789"
)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.microsoft",
    "django_celery_beat",
    "core",
    "accounts",
    "outreach",
    "channels_app",
    "channels_app.sending",
    "bounces",
    "analytics",
    "suppression",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.RefuseNulInQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.OrganizationTimeZoneMiddleware",
    "core.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in `make run`: WAL lets readers run beside a
    # writer, IMMEDIATE transactions avoid lock-upgrade deadlocks, and the timeout waits out a
    # short write instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SITE_ID = 1

# --- I18N -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# English and Korean, each complete (tests/core/test_translations.py checks the catalogue).
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates follow the reader's language (Django 5 always localizes; USE_L10N is gone): templates
# print them with the named formats (DATE_FORMAT, MONTH_DAY_FORMAT), English keeps its own.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

# --- Secrets at rest ------------------------------------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes). The first encrypts; all decrypt, so a key can rotate.
# The local default is derived from a fixed string and is only fit for the demo and the tests.
DEMO_ENCRYPTION_KEY = (
    "bG9jYWwtZGVtby1rZXktbm90LWZvci1wcm9kdWN0aW8="  # public: production refuses it
)
MAILROOM_ENCRYPTION_KEYS = env.list("MAILROOM_ENCRYPTION_KEY", default=[DEMO_ENCRYPTION_KEY])

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport, made to stop at once on SIGTERM (config/broker.py)
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    _broker_dir = Path(env("MAILROOM_BROKER_DIR", default=str(VAR_DIR / "broker")))
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "unreadable_folder": str(_broker_dir / "unreadable"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}


# --- Shared cache (login rate limits) -----------------------------------------------------
def mailroom_caches(*, cache_url: str, broker_url: str) -> dict:
    """One cache every web process shares, so login rate limits count across all of them:
    CACHE_URL when set (redis://, dbcache://, …), else the Redis broker, else a table in the
    database (created by core's migrations)."""
    if cache_url:
        config = environ.Env.cache_url_config(cache_url)
    elif broker_url.startswith(("redis://", "rediss://")):
        config = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": broker_url}
    else:
        config = {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "mailroom_cache",
        }
    config.setdefault("KEY_PREFIX", "mailroom")
    return {"default": config}


CACHES = mailroom_caches(cache_url=env("CACHE_URL", default=""), broker_url=CELERY_BROKER_URL)

# Login limits (allauth, counted in the shared cache): 5 failed logins for one address within
# 5 minutes, and 10 failed logins a minute from one IP, refuse further attempts until the oldest
# counted failure is older than that window; a refused attempt is not counted, so a lockout
# ends at most 5 minutes after the last failure (README, Security).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip"}

CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fix-up closes the database connection before and after every task, so each
# short task (a queue kick, a dispatcher run) paid a new PostgreSQL connection. Workers keep it
# instead, as web requests do: config/celery.py drops it when unusable or older than
# CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = 10_000

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Mail providers -------------------------------------------------------------------------
# Base URLs of Google's and Microsoft's services: the real hosts, or, when SANDBOX_URL is set
# (`make run` sets it through local.py), the local sandbox's stand-ins. Each can still be set on
# its own. Code reads these at call time, so a test can point them at a sandbox started on a
# random port (tests/conftest.py).
SANDBOX_URL = env("SANDBOX_URL", default="")
SANDBOX_HTTPS_URL = env("SANDBOX_HTTPS_URL", default="")


def _provider_url(name: str, *, real: str, sandbox: str, tls: bool = False) -> str:
    base = SANDBOX_HTTPS_URL if tls else SANDBOX_URL
    return env(name, default=f"{base}{sandbox}" if base else real)


MAILROOM_GOOGLE_ACCOUNTS_URL = _provider_url(
    "GOOGLE_ACCOUNTS_URL", real="https://accounts.google.com", sandbox="/google/accounts"
)
MAILROOM_GOOGLE_OAUTH2_URL = _provider_url(
    "GOOGLE_OAUTH2_URL", real="https://oauth2.googleapis.com", sandbox="/google/oauth2"
)
# Disconnect revokes the Gmail grant here (OAuth 2.0 token revocation, POST token=...).
MAILROOM_GOOGLE_REVOKE_URL = _provider_url(
    "GOOGLE_REVOKE_URL",
    real="https://oauth2.googleapis.com/revoke",
    sandbox="/google/oauth2/revoke",
)
# The keys of Google's ID tokens (PEM by key id): the URL google-auth's id_token module uses.
MAILROOM_GOOGLE_CERTS_URL = _provider_url(
    "GOOGLE_CERTS_URL",
    real="https://www.googleapis.com/oauth2/v1/certs",
    sandbox="/google/oauth2/v1/certs",
)
MAILROOM_GOOGLE_USERINFO_URL = _provider_url(
    "GOOGLE_USERINFO_URL",
    real="https://www.googleapis.com/oauth2/v1/userinfo",
    sandbox="/google/oauth2/v1/userinfo",
)
MAILROOM_GMAIL_API_URL = _provider_url(
    "GMAIL_API_URL", real="https://gmail.googleapis.com", sandbox="/google"
)
MAILROOM_MICROSOFT_LOGIN_URL = _provider_url(
    "MICROSOFT_LOGIN_URL", real="https://login.microsoftonline.com", sandbox="/microsoft/login"
)
# msal only accepts https authorities; in the sandbox this is its TLS port.
MAILROOM_MICROSOFT_AUTHORITY_URL = _provider_url(
    "MICROSOFT_AUTHORITY_URL",
    real="https://login.microsoftonline.com",
    sandbox="/microsoft/login",
    tls=True,
)
MAILROOM_MICROSOFT_TENANT = env("MICROSOFT_TENANT", default="common")
MAILROOM_GRAPH_URL = _provider_url(
    "GRAPH_URL", real="https://graph.microsoft.com", sandbox="/microsoft/graph"
)
# Gmail push (channels_app.push): the Pub/Sub topic Gmail publishes mailbox changes to (Gmail's
# gmail-api-push@system.gserviceaccount.com needs the Publisher role on it), the audience of the
# push subscription's OIDC token (Mailroom's push endpoint URL, /webhooks/gmail/push/) and the
# service account the subscription signs as. No topic: Gmail mailboxes are polled only.
MAILROOM_GMAIL_PUSH_TOPIC = env(
    "GMAIL_PUSH_TOPIC", default="projects/mailroom-sandbox/topics/gmail-push" if SANDBOX_URL else ""
)
MAILROOM_GMAIL_PUSH_AUDIENCE = env(
    "GMAIL_PUSH_AUDIENCE",
    default=f"http://127.0.0.1:{env('WEB_PORT', default='8000')}/webhooks/gmail/push/"
    if SANDBOX_URL
    else "",
)
MAILROOM_GMAIL_PUSH_SERVICE_ACCOUNT = env(
    "GMAIL_PUSH_SERVICE_ACCOUNT",
    default="gmail-push@mailroom-sandbox.iam.gserviceaccount.com" if SANDBOX_URL else "",
)
# Outlook push (channels_app.push): where Graph POSTs change and lifecycle notifications of each
# connected inbox (Mailroom's /webhooks/graph/notify/ and /webhooks/graph/lifecycle/, public
# HTTPS in production). Empty: Outlook mailboxes are polled only.
_LOCAL_WEB = f"http://127.0.0.1:{env('WEB_PORT', default='8000')}"
MAILROOM_GRAPH_NOTIFICATION_URL = env(
    "GRAPH_NOTIFICATION_URL", default=f"{_LOCAL_WEB}/webhooks/graph/notify/" if SANDBOX_URL else ""
)
MAILROOM_GRAPH_LIFECYCLE_URL = env(
    "GRAPH_LIFECYCLE_URL",
    default=MAILROOM_GRAPH_NOTIFICATION_URL.replace("/notify/", "/lifecycle/"),
)
# Exchange On-Prem push (channels_app.push): Mailroom's /webhooks/ews/ as Exchange reaches it
# (public HTTPS in production), where each mailbox's push subscription POSTs. Empty:
# On-Prem mailboxes are followed by EWS streams held by `manage.py imap_idle` (bounces.idle).
MAILROOM_EWS_PUSH_URL = env("EWS_PUSH_URL", default="")
# The sending-domain check's DNS (channels_app.domain_check): a nameserver and port, or empty
# for the system's resolvers; the sandbox's DNS in `make run` and the tests.
MAILROOM_DNS_NAMESERVER = env("DNS_NAMESERVER", default="127.0.0.1" if SANDBOX_URL else "")
MAILROOM_DNS_PORT = env.int("DNS_PORT", default=8953 if SANDBOX_URL else 53)
MAILROOM_DNS_TIMEOUT = env.float("DNS_TIMEOUT", default=3.0)
# A CA bundle for the providers' TLS (the sandbox's self-signed certificate); None = the
# public CAs (certifi).
MAILROOM_PROVIDER_CA_BUNDLE = env(
    "PROVIDER_CA_BUNDLE",
    default=str(VAR_DIR / "sandbox" / "ca.pem") if SANDBOX_HTTPS_URL else None,
)
# Where to connect instead, per "host:port" (curl's --connect-to): TLS and the Host header still
# name the host asked for. For a server reached through a port forward; make run sends the
# sandbox's Exchange host (found by Autodiscover, always on 443) to the sandbox's HTTPS port.
# MAILROOM_CONNECT_TO="exchange.example.com:443=10.0.0.5:8443,…"; production sets none.
MAILROOM_CONNECT_TO: dict[str, str] = {
    key.strip(): value.strip()
    for key, _, value in (
        item.partition("=")
        for item in env.list(
            "MAILROOM_CONNECT_TO",
            default=[f"exchange.acme.test:443={urlsplit(SANDBOX_HTTPS_URL).netloc}"]
            if SANDBOX_HTTPS_URL
            else [],
        )
    )
    if value.strip()
}
MAILROOM_NAVIGATION_CONTEXT: list[str] = []
# Where recipients reach Mailroom's public pages (the one-click unsubscribe link in every
# campaign email): https in production (RFC 8058 requires it), the local server for make run.
MAILROOM_PUBLIC_URL = env("MAILROOM_PUBLIC_URL", default="http://127.0.0.1:8000")
# Servers users type in (SMTP, Exchange On-Prem) must be public addresses; these private /
# loopback networks (addresses or CIDRs, comma-separated) are allowed too. make run and the
# tests allow the sandbox's 127.0.0.1 (and ::1); production allows none unless set.
MAILROOM_ALLOWED_PRIVATE_NETWORKS = env.list(
    "MAILROOM_ALLOWED_PRIVATE_NETWORKS",
    default=["127.0.0.1/32", "::1/128"] if SANDBOX_URL else [],
)

# --- Bounce tracking (bounces app) ----------------------------------------------------------
# Soft bounces that invalidate and suppress an address: this many emails within this many
# days — the default of each organization's suppression policy (set on its suppression page).
MAILROOM_SOFT_BOUNCE_LIMIT = env.int("MAILROOM_SOFT_BOUNCE_LIMIT", default=3)
MAILROOM_SOFT_BOUNCE_WINDOW_DAYS = env.int("MAILROOM_SOFT_BOUNCE_WINDOW_DAYS", default=30)
# Mailbox protection: pause a mailbox's campaigns when more than this share of the emails it
# sent in the last 24 h hard-bounced, once it sent at least MIN_SENT.
MAILROOM_MAILBOX_PROTECTION_RATE = env.float("MAILROOM_MAILBOX_PROTECTION_RATE", default=0.08)
MAILROOM_MAILBOX_PROTECTION_MIN_SENT = env.int("MAILROOM_MAILBOX_PROTECTION_MIN_SENT", default=20)
# Polling: one Celery task polls this many mailboxes (each claimed on its own just before its
# poll), and hands those it has not started to a new task after this many seconds.
MAILROOM_POLL_BATCH_SIZE = env.int("MAILROOM_POLL_BATCH_SIZE", default=50)
# A mailbox with live push notifications is still polled, this rarely (seconds).
MAILROOM_PUSH_SAFETY_POLL_SECONDS = env.int("MAILROOM_PUSH_SAFETY_POLL_SECONDS", default=3600)
MAILROOM_POLL_BATCH_SECONDS = env.float("MAILROOM_POLL_BATCH_SECONDS", default=30.0)
# How far back a mailbox's first sync, or a sync whose cursor expired, looks.
MAILROOM_POLL_RESCAN_DAYS = env.int("MAILROOM_POLL_RESCAN_DAYS", default=3)
# Correlation by recipient and time: how far back a bounce looks for the email it reports.
MAILROOM_BOUNCE_MATCH_WINDOW_DAYS = env.int("MAILROOM_BOUNCE_MATCH_WINDOW_DAYS", default=30)

# --- Outgoing system mail (password resets) -------------------------------------------------
# Not sales mail: that goes through delivery channels. Locally it prints to the console.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Mailroom <no-reply@mailroom.local>")

# --- Email Connection: "Connect Gmail" / "Connect Outlook" (django-allauth, connect only) -------
# allauth only runs the consent dance: it never logs anybody in or creates a user (see
# channels_app.adapters), and never stores tokens: they go, encrypted, into DeliveryChannel.
# The client ids below are the sandbox's demo ones; production.py requires real ones.
MAILROOM_GOOGLE_CLIENT_ID = env("GOOGLE_CLIENT_ID", default="mailroom-sandbox-google")
MAILROOM_GOOGLE_CLIENT_SECRET = env("GOOGLE_CLIENT_SECRET", default="sandbox-google-secret")
MAILROOM_MICROSOFT_CLIENT_ID = env("MICROSOFT_CLIENT_ID", default="mailroom-sandbox-microsoft")
MAILROOM_MICROSOFT_CLIENT_SECRET = env(
    "MICROSOFT_CLIENT_SECRET", default="sandbox-microsoft-secret"
)
MAILROOM_GOOGLE_SCOPES = [
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
]
MAILROOM_MICROSOFT_SCOPES = ["User.Read", "Mail.Send", "Mail.Read", "offline_access"]


def socialaccount_providers(
    *,
    google_accounts_url: str,
    google_oauth2_url: str,
    google_userinfo_url: str,
    google_certs_url: str,
    microsoft_login_url: str,
    microsoft_tenant: str,
    graph_url: str,
    google_client_id: str,
    google_secret: str,
    microsoft_client_id: str,
    microsoft_secret: str,
) -> dict:
    """allauth's provider settings from Mailroom's endpoint settings. Google's adapter reads
    its URLs when imported, so channels_app re-applies them whenever this setting changes."""
    return {
        "google": {
            # allauth's provider, reading the scopes granted (channels_app.oauth).
            "provider_class": "channels_app.oauth.google.provider.GoogleMailboxProvider",
            "APPS": [{"client_id": google_client_id, "secret": google_secret, "key": ""}],
            "SCOPE": MAILROOM_GOOGLE_SCOPES,
            # offline: a refresh token; consent: Google sends it again on every reconnect.
            "AUTH_PARAMS": {"access_type": "offline", "prompt": "consent"},
            "OAUTH_PKCE_ENABLED": True,
            "AUTHORIZE_URL": f"{google_accounts_url}/o/oauth2/v2/auth",
            "ACCESS_TOKEN_URL": f"{google_oauth2_url}/token",
            "IDENTITY_URL": google_userinfo_url,
            "CERTS_URL": google_certs_url,
            "ID_TOKEN_ISSUER": "https://accounts.google.com",
        },
        "microsoft": {
            "provider_class": "channels_app.oauth.microsoft.provider.MicrosoftMailboxProvider",
            "APPS": [
                {
                    "client_id": microsoft_client_id,
                    "secret": microsoft_secret,
                    "key": "",
                    "settings": {
                        "tenant": microsoft_tenant,
                        "login_url": microsoft_login_url,
                        "graph_url": graph_url,
                    },
                }
            ],
            "SCOPE": MAILROOM_MICROSOFT_SCOPES,
            "AUTH_PARAMS": {"prompt": "select_account"},
        },
    }


def mailroom_socialaccount_providers(namespace: dict) -> dict:
    """socialaccount_providers() from a settings module's MAILROOM_* names."""
    return socialaccount_providers(
        google_accounts_url=namespace["MAILROOM_GOOGLE_ACCOUNTS_URL"],
        google_oauth2_url=namespace["MAILROOM_GOOGLE_OAUTH2_URL"],
        google_userinfo_url=namespace["MAILROOM_GOOGLE_USERINFO_URL"],
        google_certs_url=namespace["MAILROOM_GOOGLE_CERTS_URL"],
        microsoft_login_url=namespace["MAILROOM_MICROSOFT_LOGIN_URL"],
        microsoft_tenant=namespace["MAILROOM_MICROSOFT_TENANT"],
        graph_url=namespace["MAILROOM_GRAPH_URL"],
        google_client_id=namespace["MAILROOM_GOOGLE_CLIENT_ID"],
        google_secret=namespace["MAILROOM_GOOGLE_CLIENT_SECRET"],
        microsoft_client_id=namespace["MAILROOM_MICROSOFT_CLIENT_ID"],
        microsoft_secret=namespace["MAILROOM_MICROSOFT_CLIENT_SECRET"],
    )


SOCIALACCOUNT_PROVIDERS = mailroom_socialaccount_providers(vars())
SOCIALACCOUNT_ADAPTER = "channels_app.adapters.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_REQUESTS_TIMEOUT = 15
# The platform operator's legacy relay (msc_legacy), offered to legacy organizations only; with
# the sandbox (make run), the sandbox's SMTP server plays it.
MAILROOM_LEGACY_SMTP_HOST = env("LEGACY_SMTP_HOST", default="127.0.0.1" if SANDBOX_URL else "")
MAILROOM_LEGACY_SMTP_PORT = env.int("LEGACY_SMTP_PORT", default=2525 if SANDBOX_URL else 25)
MAILROOM_LEGACY_SMTP_SECURITY = env("LEGACY_SMTP_SECURITY", default="none")
MAILROOM_LEGACY_SMTP_USERNAME = env(
    "LEGACY_SMTP_USERNAME", default="mailroom" if SANDBOX_URL else ""
)
MAILROOM_LEGACY_SMTP_PASSWORD = env(
    "LEGACY_SMTP_PASSWORD", default="sandbox" if SANDBOX_URL else ""
)
MAILROOM_NAVIGATION_CONTEXT.append("channels_app.navigation.channel_banners")
MAILROOM_NAVIGATION_CONTEXT.append("analytics.navigation.feed_navigation")
