from django import template

from accounts.admin_home import admin_attention

register = template.Library()


@register.simple_tag(takes_context=True)
def attention_list(context):
    """The admin index's "Needs your attention" items for the signed-in admin."""
    request = context.get("request")
    return admin_attention(user=request.user) if request is not None else []
