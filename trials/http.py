"""The request a view behind `login_required` receives, for type checking."""

from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthenticatedHttpRequest(HttpRequest):
    """An HttpRequest whose user has signed in (never an AnonymousUser); only an annotation."""

    user: User
