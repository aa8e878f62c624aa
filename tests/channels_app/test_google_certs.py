"""The Google certificates URL (issue 11, item 7): allauth checks a Google ID token's signature
against the keys at SOCIALACCOUNT_PROVIDERS["google"]["CERTS_URL"] whenever the token did not
come straight from the token endpoint; it must be the URL Google publishes them at, the one
google-auth's id_token module uses, and in the sandbox the sandbox's own copy."""

import requests
from allauth.socialaccount.providers.google import views as google_views
from django.conf import settings
from google.oauth2 import id_token

from tests.core.test_settings import PRODUCTION_ENV, _manage


def test_production_uses_the_certificates_url_google_auth_uses():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.SOCIALACCOUNT_PROVIDERS['google']['CERTS_URL'])",
        env=PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == id_token._GOOGLE_OAUTH2_CERTS_URL


def test_allauth_fetches_the_sandboxs_certificates(sandbox):
    url = settings.SOCIALACCOUNT_PROVIDERS["google"]["CERTS_URL"]
    assert url == settings.MAILROOM_GOOGLE_CERTS_URL
    assert url == google_views.CERTS_URL  # what allauth's Google adapter reads

    keys = requests.get(url, timeout=10).json()

    assert keys and all("BEGIN CERTIFICATE" in pem for pem in keys.values())
