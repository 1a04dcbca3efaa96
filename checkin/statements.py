"""The statements of a scan, written out instead of built by the ORM each time.

A scan is the door's hot path: 100 scans/s from several desks on a 2-core machine. There,
building one statement through the ORM (filters, `select_related` joins, the models' default
ordering, `.first()`) costs 0.6–1.5 ms of CPU and running it about 0.1–0.3 ms; `values_list()`
and `only()` still pay most of the building (measured in docs/benchmarks.md, "Check-in"). So the
three reads every scan makes are written here once. Everything else stays in the ORM, the scan's
insert too (`Model.save()` costs little more than a hand-written INSERT, and sends the signals).

How they stay the ORM's equals:
- table and column names come from the models; the SQL text is built once per database;
- rows are converted by the converters the ORM itself applies (SQLite returns naive datetimes
  and 0/1 for booleans);
- rows become model instances the way `.only()` makes them (`Model.from_db`): a field not read
  here is deferred and loads itself if some code touches it, so nothing is silently wrong.
The test suite runs on SQLite and PostgreSQL, the row lock's test on PostgreSQL.
"""

from django.db import connection

from checkin.models import CheckinList, Device, Scan, TicketState
from eventplatform.models import Event, Participant, Ticket

_BIGINT = 2**63  # ids beyond a 64-bit integer exist nowhere; never send them to the database


class _Columns:
    """Some columns of one model in a SELECT: their SQL, and turning them into an instance."""

    def __init__(self, model, alias: str, attnames: tuple[str, ...] | None = None) -> None:
        self.model, self.alias = model, alias
        # In the model's field order: `from_db` expects the values of a subset in that order.
        self.fields = [f for f in model._meta.concrete_fields if attnames is None or f.attname in attnames]
        self.attnames = [f.attname for f in self.fields]
        self._converters: dict[str, list] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def sql(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.fields)

    def _converters_here(self) -> list:
        """Per column: (converters, column) as the ORM's compiler builds them; once per database."""
        found = self._converters.get(connection.alias)
        if found is None:
            found = []
            for field in self.fields:
                column = field.get_col(self.alias)
                found.append((connection.ops.get_db_converters(column) + field.get_db_converters(connection), column))
            self._converters[connection.alias] = found
        return found

    def instance(self, values):
        converted = []
        for value, (converters, column) in zip(values, self._converters_here()):
            for convert in converters:
                value = convert(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.attnames, converted)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model, attname: str) -> str:
    return connection.ops.quote_name(next(f.column for f in model._meta.concrete_fields if f.attname == attname))


_SQL: dict[str, dict[str, str]] = {}


def _sql(name: str, build) -> str:
    """A statement's text for the database in use, built on first use."""
    texts = _SQL.setdefault(connection.alias, {})
    text = texts.get(name)
    if text is None:
        text = texts[name] = build()
    return text


# --- the desk and its list ----------------------------------------------------------------

_DEVICE = _Columns(Device, "d", ("id", "event_id", "name", "last_seen", "revoked_at"))
_EVENT = _Columns(Event, "e", ("id", "slug"))
_LIST = _Columns(CheckinList, "l")


def _desk_and_list_sql() -> str:
    return (
        f"SELECT {_DEVICE.sql()}, {_EVENT.sql()}, {_LIST.sql()} "
        f"FROM {_table(Device)} d "
        f"JOIN {_table(Event)} e ON e.{_column(Event, 'id')} = d.{_column(Device, 'event_id')} "
        f"LEFT JOIN {_table(CheckinList)} l ON l.{_column(CheckinList, 'id')} = %s "
        f"AND l.{_column(CheckinList, 'event_id')} = d.{_column(Device, 'event_id')} "
        f"WHERE d.{_column(Device, 'token_hash')} = %s"
    )


def desk_and_list(token_hash: str, list_id: int) -> tuple[Device, CheckinList | None] | None:
    """The desk with this token hash (revoked or not), its event (id and slug only) and the
    event's check-in list `list_id` (None if the event has no such list)."""
    list_param = list_id if 0 < list_id < _BIGINT else None  # NULL matches no list
    with connection.cursor() as cursor:
        cursor.execute(_sql("desk_and_list", _desk_and_list_sql), [list_param, token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    device_end, event_end = len(_DEVICE), len(_DEVICE) + len(_EVENT)
    device = _DEVICE.instance(row[:device_end])
    device.event = _EVENT.instance(row[device_end:event_end])
    list_values = row[event_end:]
    checkin_list = _LIST.instance(list_values) if list_values[0] is not None else None
    return device, checkin_list


# --- the ticket, locked --------------------------------------------------------------------

_STATE = _Columns(TicketState, "ts", ("id", "ticket_id", "serial"))
_TICKET = _Columns(Ticket, "t", ("id", "participant_id", "valid_from", "valid_until", "revoked_at"))
_PARTICIPANT = _Columns(Participant, "p", ("id", "event_id", "name", "attendance", "is_removed"))


def _locked_ticket_sql() -> str:
    features = connection.features
    if features.has_select_for_update_of:
        lock = " FOR UPDATE OF ts"  # the check-in row only; the ticket and participant stay free
    elif features.has_select_for_update:
        lock = " FOR UPDATE"
    else:
        lock = ""  # SQLite: the transaction itself holds the database's write lock
    return (
        f"SELECT {_STATE.sql()}, {_TICKET.sql()}, {_PARTICIPANT.sql()} "
        f"FROM {_table(TicketState)} ts "
        f"JOIN {_table(Ticket)} t ON t.{_column(Ticket, 'id')} = ts.{_column(TicketState, 'ticket_id')} "
        f"JOIN {_table(Participant)} p ON p.{_column(Participant, 'id')} = t.{_column(Ticket, 'participant_id')} "
        f"WHERE ts.{_column(TicketState, 'ticket_id')} = %s AND p.{_column(Participant, 'event_id')} = %s"
        f"{lock}"
    )


def locked_ticket(ticket_id: int, event_id: int) -> TicketState | None:
    """The ticket's check-in state of this event, locked until the transaction ends, with
    `.ticket` and `.ticket.participant` filled in (the fields the scan rules read)."""
    if not 0 < ticket_id < _BIGINT:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_sql("locked_ticket", _locked_ticket_sql), [ticket_id, event_id])
        row = cursor.fetchone()
    if row is None:
        return None
    state_end, ticket_end = len(_STATE), len(_STATE) + len(_TICKET)
    state = _STATE.instance(row[:state_end])
    ticket = _TICKET.instance(row[state_end:ticket_end])
    ticket.participant = _PARTICIPANT.instance(row[ticket_end:])
    state.ticket = ticket
    return state


# --- the ticket's last admission on a list ------------------------------------------------

_LAST = _Columns(Scan, "s", ("id", "checkin_list_id", "ticket_id", "device_id", "direction", "result",
                             "scanned_at", "offline", "annulled_at"))


def _last_counting_sql(before: bool) -> str:
    return (
        f"SELECT {_LAST.sql()} FROM {_table(Scan)} s "
        f"WHERE s.{_column(Scan, 'checkin_list_id')} = %s AND s.{_column(Scan, 'ticket_id')} = %s "
        f"AND s.{_column(Scan, 'result')} = %s AND s.{_column(Scan, 'annulled_at')} IS NULL "
        + (f"AND s.{_column(Scan, 'id')} < %s " if before else "")
        + f"ORDER BY s.{_column(Scan, 'scanned_at')} DESC, s.{_column(Scan, 'id')} DESC LIMIT 1"
    )


def last_counting(list_id: int, ticket_id: int, before_id: int | None = None) -> Scan | None:
    """The ticket's latest admission (in or out) on the list that was not annulled, if any,
    optionally before scan `before_id`; only the fields a scan needs are read."""
    params = [list_id, ticket_id, Scan.Result.ADMITTED.value]
    if before_id is None:
        text = _sql("last_counting", lambda: _last_counting_sql(before=False))
    else:
        text = _sql("last_counting_before", lambda: _last_counting_sql(before=True))
        params.append(before_id)
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        row = cursor.fetchone()
    return _LAST.instance(row) if row is not None else None
