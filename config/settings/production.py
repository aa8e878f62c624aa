"""Production: every secret and endpoint comes from the environment, with no default, so a
missing one stops start-up instead of running with a demo value."""

from cryptography.fernet import Fernet

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")  # noqa: F405
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")  # noqa: F405
if not ALLOWED_HOSTS:
    raise environ.ImproperlyConfigured("ALLOWED_HOSTS must name at least one host")  # noqa: F405
DATABASES = {"default": env.db("DATABASE_URL")}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
CELERY_BROKER_URL = env("CELERY_BROKER_URL")  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
MAILROOM_ENCRYPTION_KEYS = env.list("MAILROOM_ENCRYPTION_KEY")  # noqa: F405
if not MAILROOM_ENCRYPTION_KEYS:
    raise environ.ImproperlyConfigured("MAILROOM_ENCRYPTION_KEY must be set")  # noqa: F405
if DEMO_ENCRYPTION_KEY in MAILROOM_ENCRYPTION_KEYS:  # noqa: F405
    # The demo key is in the source code: anything encrypted with it is readable by anyone.
    raise environ.ImproperlyConfigured(  # noqa: F405
        "MAILROOM_ENCRYPTION_KEY is the public demo key: generate your own (README, Deploying)"
    )
for _key in MAILROOM_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise environ.ImproperlyConfigured(  # noqa: F405, B904
            "MAILROOM_ENCRYPTION_KEY holds a value that is not a Fernet key (32 bytes, urlsafe "
            "base64; README, Deploying)"
        ) from None

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)  # noqa: F405
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))  # noqa: F405
# Email Connection: the Google Cloud and Microsoft Entra app registrations (see README). base.py
# read them (and built SOCIALACCOUNT_PROVIDERS from them) with the sandbox's demo ids as
# defaults; here each must be set, and the sandbox may not stand in for the providers.
for _required in (
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "MICROSOFT_CLIENT_ID",
    "MICROSOFT_CLIENT_SECRET",
):
    env(_required)  # noqa: F405 - raises ImproperlyConfigured when missing
MAILROOM_PUBLIC_URL = env("MAILROOM_PUBLIC_URL")  # noqa: F405
if not MAILROOM_PUBLIC_URL.startswith("https://"):
    raise environ.ImproperlyConfigured("MAILROOM_PUBLIC_URL must be an https:// URL (RFC 8058)")  # noqa: F405
for _name in (
    "MAILROOM_GRAPH_NOTIFICATION_URL",
    "MAILROOM_GRAPH_LIFECYCLE_URL",
    "MAILROOM_EWS_PUSH_URL",
):
    # Graph answers 400 "NotificationUrl scheme='http' is not supported." to any other; EWS
    # push notifications name their subscription, which proves them: not over plain http.
    if globals()[_name] and not globals()[_name].startswith("https://"):
        raise environ.ImproperlyConfigured(f"{_name} must be an https:// URL")  # noqa: F405
if SANDBOX_URL or SANDBOX_HTTPS_URL:  # noqa: F405
    raise environ.ImproperlyConfigured("SANDBOX_URL is for make run and tests, not production")  # noqa: F405
# OAuth callback URLs (the redirect URIs registered with Google and Microsoft) are https.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
