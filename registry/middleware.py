"""Attach who is acting, from where, to every database write a request makes (the audit trail)."""

from typing import Any

from django.http import HttpRequest
from pghistory.middleware import HistoryMiddleware


class AuditContextMiddleware(HistoryMiddleware):
    """Every audited write in a request records the user, their printed name, the URL and IP.

    The reason for a change is added by the service that makes it (`trials.audit.audit_context`).
    """

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().get_context(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            context["username"] = user.get_username()
            context["user_name"] = user.get_full_name() or user.get_username()
        context["method"] = request.method
        context["ip"] = request.META.get("REMOTE_ADDR")
        return context
