"""HTML template bodies: what may be in them (an allow-list sanitiser, nh3 / Ammonia) and the
plain-text alternative sent beside them.

Mail clients drop scripts, styles and forms anyway, and a template is written by one user and
sent in another's name, so only the formatting a sales email needs is kept: paragraphs, line
breaks, emphasis, lists, headings, quotes and links (http, https, mailto)."""

import re
from html import escape, unescape
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "i",
    "li",
    "ol",
    "p",
    "span",
    "strong",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}

_BLOCKS = {"p", "div", "h1", "h2", "h3", "blockquote", "ul", "ol"}


def html_sanitize(html: str) -> str:
    """The HTML with everything outside the allow-list removed (tags unwrapped, their text
    kept; scripts and styles removed with their content)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag):
        if tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith("mailto:"):
                self.parts.append(f" ({href})")

    def handle_data(self, data):
        self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """The plain-text alternative of a (sanitised) HTML body: paragraphs as blank lines, list
    items as "- ", links followed by their address in brackets."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = unescape("".join(parser.parts))
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


_TYPED_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]{0,9})\b[^<>]{0,200}>")


def tags_in_text(text: str) -> str:
    """The first HTML tag in a plain-text body ("<b>"), or "" when there is none. Compose
    sends a typed body as text/plain only, so a tag in it reaches the reader as typed."""
    found = _TYPED_TAG.search(text or "")
    return found.group(0)[:40] if found else ""


def signature_append(*, body: str, body_html: str, signature: str) -> tuple[str, str]:
    """The body (and HTML body, if any) with the sender's signature under the usual "-- " line."""
    signature = signature.strip()
    if not signature:
        return body, body_html
    body = body.rstrip() + "\n\n-- \n" + signature + "\n"
    if body_html:
        body_html += "<p>-- <br>" + escape(signature).replace("\n", "<br>") + "</p>"
    return body, body_html
