from django import template
from django.utils.html import format_html

from channels_app.providers.microsoft_errors import error_and_support_code

register = template.Library()


@register.filter
def error_words(text: str):
    """A channel's error in words, with the provider's code (AADSTS…) in small print."""
    words, code = error_and_support_code(text)
    if not code:
        return words
    return format_html('{} <small class="support-code">{}</small>', words, code)
