"""Production settings refuse to start without their secrets, and pass `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3v9-Qz!mW7#rT2@pL5$yN8^bH4&cJ6*dF1(gS0)xA9_eU3+iO",
    "DATABASE_URL": "postgres://mailroom@db.internal:5432/mailroom",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "mailroom.example.com",
    "MAILROOM_ENCRYPTION_KEY": "Xq3Jb1y6n0Wn7sZk9m2PpE4tV8cR5uH1aL0dG6fK3jM=",
    # Where the one-click unsubscribe links in campaign emails point (https, RFC 8058).
    "MAILROOM_PUBLIC_URL": "https://mailroom.example.com",
    # The OAuth apps registered with Google and Microsoft for Connect Gmail / Outlook.
    "GOOGLE_CLIENT_ID": "prod-google-client",
    "GOOGLE_CLIENT_SECRET": "prod-google-secret",
    "MICROSOFT_CLIENT_ID": "prod-ms-client",
    "MICROSOFT_CLIENT_SECRET": "prod-ms-secret",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.production")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_no_issue():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_a_plain_http_public_url():
    result = _manage("check", env={**PRODUCTION_ENV, "MAILROOM_PUBLIC_URL": "http://x.example"})
    assert result.returncode != 0
    assert "MAILROOM_PUBLIC_URL must be an https:// URL" in result.stderr


@pytest.mark.parametrize("name", ["GRAPH_NOTIFICATION_URL", "GRAPH_LIFECYCLE_URL"])
def test_production_refuses_a_plain_http_graph_notification_url(name):
    """Graph refuses a subscription whose notification URL is not https; found at start-up,
    not as every Outlook mailbox quietly falling back to polling."""
    result = _manage("check", env={**PRODUCTION_ENV, name: "http://mailroom.example.com/x/"})
    assert result.returncode != 0
    assert f"MAILROOM_{name} must be an https:// URL" in result.stderr


@pytest.mark.parametrize(
    "keys",
    [
        "bG9jYWwtZGVtby1rZXktbm90LWZvci1wcm9kdWN0aW8=",
        "Xq3Jb1y6n0Wn7sZk9m2PpE4tV8cR5uH1aL0dG6fK3jM=,bG9jYWwtZGVtby1rZXktbm90LWZvci1wcm9kdWN0aW8=",
    ],
)
def test_production_refuses_the_public_demo_key(keys):
    result = _manage("check", env={**PRODUCTION_ENV, "MAILROOM_ENCRYPTION_KEY": keys})
    assert result.returncode != 0
    assert "public demo key" in result.stderr


def test_production_refuses_a_key_that_is_not_a_fernet_key():
    result = _manage("check", env={**PRODUCTION_ENV, "MAILROOM_ENCRYPTION_KEY": "not-a-key"})
    assert result.returncode != 0
    assert "not a Fernet key" in result.stderr
