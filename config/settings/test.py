"""pytest: fast hashing, tasks run inline unless a test starts a real worker."""

import os

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # noqa: F405
CELERY_TASK_EAGER_PROPAGATES = True
# The database cache: rolled back with each test, like the rows it counts (a Redis cache would
# carry login-limit counts from test to test and is shared with the broker in CI).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "mailroom_cache",
        "KEY_PREFIX": "mailroom",
    }
}
# The sandbox and the tests' own listeners run on 127.0.0.1 / ::1.
MAILROOM_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32", "::1/128"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Close connections after each request: a live-server thread must not keep the test database open.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory, so a real worker process started by a test sees the same database.
    # One file per run, so runs in parallel (several checkouts' sessions) never share it.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")  # noqa: F405
    }
