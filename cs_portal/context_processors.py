from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {
        "nav_user": user if user is not None and user.is_authenticated else None,
    }
