"""Querysets compiled to SQL once, for the few lookups every socket join makes.

A join storm runs the same handful of small per-person queries a thousand times ("my ticket",
"my votes", "my room"). Django compiles a queryset to SQL anew on every evaluation, and for
these tiny lookups the compiling costs several times what the database does (the join storm
profile: about 0.3 ms of CPU per query, on the one database thread a process has for
sockets). A `Precompiled` query is written as an ordinary `values_list` queryset, compiled on
first use, and from then on only executed with new parameters; Django's converters (dates,
booleans on SQLite) are applied to the rows as the ORM would.

Only for querysets whose SQL parameters are exactly the call's arguments, in any order (the
SQL may put a joined table's condition first), each used once (checked when compiling).
"""

from collections.abc import Callable

from django.db import connections
from django.db.models import QuerySet


class Precompiled:
    def __init__(self, build: Callable[..., QuerySet], using: str = "default") -> None:
        self._build = build
        self._using = using
        # vendor, SQL, the argument behind each SQL parameter, converters
        self._compiled: tuple[str, str, tuple[int, ...], list] | None = None

    def _compile(self, args: tuple, vendor: str) -> tuple[str, tuple[int, ...], list]:
        compiler = self._build(*args).query.get_compiler(using=self._using)
        sql, params = compiler.as_sql()
        order = _argument_order(tuple(params), args)
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        converters = list(compiler.get_converters(columns).items())
        self._compiled = (vendor, sql, order, converters)
        return sql, order, converters

    def rows(self, *args) -> list[tuple]:
        connection = connections[self._using]
        if self._compiled is None or self._compiled[0] != connection.vendor:
            if len(set(map(repr, args))) != len(args):
                # Two equal arguments cannot be told apart in the SQL: run this call uncompiled.
                return list(self._build(*args))
            sql, order, converters = self._compile(args, connection.vendor)
        else:
            _vendor, sql, order, converters = self._compiled
        with connection.cursor() as cursor:
            cursor.execute(sql, [args[index] for index in order])
            rows = cursor.fetchall()
        if not converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for position, (functions, expression) in converters:
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
            converted.append(tuple(row))
        return converted

    def column(self, *args) -> list:
        """The first column of every row."""
        return [row[0] for row in self.rows(*args)]


def _argument_order(params: tuple, args: tuple) -> tuple[int, ...]:
    """Which of the (distinct) arguments each SQL parameter is. A parameter that is no argument
    (a constant baked into the queryset, an expression of an argument) cannot be precompiled."""
    if sorted(map(repr, params)) != sorted(map(repr, args)):
        raise ValueError(f"parameters {params!r} are not the arguments {args!r}: cannot precompile")
    return tuple(next(i for i, arg in enumerate(args) if repr(arg) == repr(param)) for param in params)
