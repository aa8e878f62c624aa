"""`make run`: debug on; SQLite and a serverless broker unless DATABASE_URL etc. are set."""

from .base import *  # noqa: F403

DEBUG = env.bool("DJANGO_DEBUG", default=True)  # noqa: F405
