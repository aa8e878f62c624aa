"""`make run`: debug on; SQLite and a serverless broker unless DATABASE_URL etc. are set."""

import os

# The demo reaches "Google", "Microsoft" and the legacy relay through the local sandbox
# (`python -m sandbox`, started by `make run`) unless the environment points elsewhere: base.py
# derives every provider endpoint from these, once.
os.environ.setdefault("SANDBOX_URL", "http://127.0.0.1:8900")
os.environ.setdefault("SANDBOX_HTTPS_URL", "https://127.0.0.1:8901")

from .base import *  # noqa: E402, F403

DEBUG = env.bool("DJANGO_DEBUG", default=True)  # noqa: F405
