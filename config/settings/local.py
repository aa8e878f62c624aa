"""`make run`: debug on; SQLite and a serverless broker unless DATABASE_URL etc. are set."""

from .base import *  # noqa: F403

DEBUG = env.bool("DJANGO_DEBUG", default=True)  # noqa: F405

# The demo reaches "Google" and "Microsoft" through the local sandbox (`python -m sandbox`,
# started by `make run`), unless the environment points elsewhere.
SANDBOX_URL = env("SANDBOX_URL", default="http://127.0.0.1:8900")  # noqa: F405
SANDBOX_HTTPS_URL = env("SANDBOX_HTTPS_URL", default="https://127.0.0.1:8901")  # noqa: F405
MAILROOM_GOOGLE_ACCOUNTS_URL = f"{SANDBOX_URL}/google/accounts"
MAILROOM_GOOGLE_OAUTH2_URL = f"{SANDBOX_URL}/google/oauth2"
MAILROOM_GOOGLE_REVOKE_URL = f"{SANDBOX_URL}/google/oauth2/revoke"
MAILROOM_GOOGLE_USERINFO_URL = f"{SANDBOX_URL}/google/oauth2/v1/userinfo"
MAILROOM_GMAIL_API_URL = f"{SANDBOX_URL}/google"
MAILROOM_MICROSOFT_LOGIN_URL = f"{SANDBOX_URL}/microsoft/login"
MAILROOM_MICROSOFT_AUTHORITY_URL = f"{SANDBOX_HTTPS_URL}/microsoft/login"
MAILROOM_GRAPH_URL = f"{SANDBOX_URL}/microsoft/graph"
MAILROOM_PROVIDER_CA_BUNDLE = env(  # noqa: F405
    "PROVIDER_CA_BUNDLE", default=str(VAR_DIR / "sandbox" / "ca.pem")  # noqa: F405
)
SOCIALACCOUNT_PROVIDERS = mailroom_socialaccount_providers(vars())  # noqa: F405
# The demo's "legacy servers" are the sandbox's SMTP server.
MAILROOM_LEGACY_SMTP_HOST = env("LEGACY_SMTP_HOST", default="127.0.0.1")  # noqa: F405
MAILROOM_LEGACY_SMTP_PORT = env.int("LEGACY_SMTP_PORT", default=2525)  # noqa: F405
MAILROOM_LEGACY_SMTP_USERNAME = env("LEGACY_SMTP_USERNAME", default="mailroom")  # noqa: F405
MAILROOM_LEGACY_SMTP_PASSWORD = env("LEGACY_SMTP_PASSWORD", default="sandbox")  # noqa: F405
