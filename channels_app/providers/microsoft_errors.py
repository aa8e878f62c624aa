"""Microsoft Entra's sign-in errors in words a rep can act on.

Entra answers a refused token request with an `error_description` that starts with an AADSTS
code and goes on with a trace id, a correlation id and a timestamp: useful to Microsoft's
support, noise in a banner. The codes below are the ones Microsoft documents for a delegated
grant that stops working (its "Microsoft Entra authentication and authorization error codes"
page); each becomes a sentence, and the code stays at the end for whoever has to ask their IT.
"""

import re

_CODE = re.compile(r"\bAADSTS(\d{5,7})\b")

_SENTENCES = {
    "50173": "the sign-in was revoked (a password change, or an admin signed the account out)",
    "700082": "the sign-in expired after 90 days without use",
    "70000": "the sign-in grant is no longer valid",
    "70008": "the sign-in grant has expired",
    "65001": "the account's owner or their admin has not allowed Mailroom",
    "50076": "the organization now asks for multi-factor sign-in",
    "50079": "the organization now asks for multi-factor sign-in",
    "50057": "the account is disabled",
    "50053": "the account is locked after too many sign-in attempts",
    "53003": "a Conditional Access policy of the organization blocks the sign-in",
    "50105": "an admin has not assigned Mailroom to this account",
    "50020": "the account is not a member of the organization's directory",
    "50034": "the account no longer exists in the organization's directory",
    "90033": "Microsoft had a passing error",
}


def microsoft_error_words(description: str) -> tuple[str, str]:
    """(what happened, the code in small print) for Entra's `error_description`: a sentence and
    "Microsoft code AADSTS50173" for a known code; else the first line of Microsoft's own text,
    without its trace and correlation ids, and no separate code."""
    lines = (description or "").strip().splitlines()
    first_line = lines[0].strip()[:300] if lines else ""
    match = _CODE.search(first_line)
    sentence = _SENTENCES.get(match.group(1)) if match else None
    if match is None or sentence is None:
        return first_line, ""
    return sentence, f"Microsoft code AADSTS{match.group(1)}"


_SMALL_PRINT = re.compile(r"\s*\((Microsoft code AADSTS\d{5,7})\)\s*$")
_RAW = re.compile(r"AADSTS\d{5,7}:")


def error_and_support_code(text: str) -> tuple[str, str]:
    """(the words, the code for support) of a channel error as a page shows it: the trailing
    "(Microsoft code AADSTS50173)" Mailroom wrote goes to small print, and Entra's raw text in
    an error stored before errors were put in words ("AADSTS50173: The provided grant…",
    trace ids and all) becomes the same sentence and code."""
    text = (text or "").strip()
    found = _SMALL_PRINT.search(text)
    if found:
        return text[: found.start()].rstrip(), found.group(1)
    raw = _RAW.search(text)
    if raw is None:
        return text, ""
    words, small_print = microsoft_error_words(text[raw.start() :])
    return f"{text[: raw.start()]}{words}".strip(), small_print
