"""Every HTTP request gives its database connection back when it is done."""

from django.db import connection


class ReleaseDatabaseConnection:
    """Close the request's database connection once its response is made.

    Under ASGI every request runs its database work in a context of its own, and the persistent
    connection (CONN_MAX_AGE, kept for the sockets' database thread) would stay open with the
    finished context until the garbage collector found it: a burst of requests used up
    PostgreSQL's connections, and every request and socket action after it failed. Outermost, so
    the session and audit writes of the other middleware are done first. (Inside a test's
    transaction the connection must stay.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            if not connection.in_atomic_block:
                connection.close()
