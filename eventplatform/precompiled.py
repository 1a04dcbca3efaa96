"""Querysets compiled to SQL once, for the few lookups every socket join makes.

A join storm runs the same handful of small per-person queries a thousand times ("my votes",
"my stars", "my room"). Django compiles a queryset to SQL anew on every evaluation, and for
these tiny lookups the compiling costs several times what the database does (the join storm
profile: about 0.3 ms of CPU per query, on the one database thread a process has for
sockets). A `Precompiled` query is written as an ordinary queryset, compiled on first use for
the connection, and from then on only executed with new parameters.

Only for querysets whose parameters are exactly the call's arguments, in order (checked on
first use), and whose columns need no conversion (integers and text: rows are returned as the
driver gives them, without Django's field converters).
"""

from collections.abc import Callable

from django.db import connections
from django.db.models import QuerySet


class Precompiled:
    def __init__(self, build: Callable[..., QuerySet], using: str = "default") -> None:
        self._build = build
        self._using = using
        self._sql: str | None = None
        self._vendor: str | None = None

    def rows(self, *args) -> list[tuple]:
        connection = connections[self._using]
        if self._sql is None or self._vendor != connection.vendor:
            sql, params = self._build(*args).query.sql_with_params()
            if tuple(params) != args:
                raise ValueError(f"parameters {params!r} are not the arguments {args!r}: cannot precompile")
            self._sql, self._vendor = sql, connection.vendor
        with connection.cursor() as cursor:
            cursor.execute(self._sql, args)
            return cursor.fetchall()

    def column(self, *args) -> list:
        """The first column of every row."""
        return [row[0] for row in self.rows(*args)]
