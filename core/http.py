"""Reading the ids a request's query string or form carries: a 400 that says what is wrong
instead of a server error on garbage."""

from django.core.exceptions import BadRequest
from django.http import QueryDict

# The largest id a database integer key holds (PostgreSQL bigint).
MAX_ID = 2**63 - 1


def param_id(params: QueryDict, name: str) -> int | None:
    """The object id in `name` (of request.GET or request.POST): None when absent or empty,
    BadRequest when it is not a whole number a database id can be."""
    value = params.get(name, "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or int(value) > MAX_ID:
        raise BadRequest(f"“{name}” must be a number (an id), not “{value[:40]}”.")
    return int(value)
