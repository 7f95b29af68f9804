"""Noticing session state that the application changes with SQL instead of attributes.

Autocommit, read-only and isolation level go through the connection's attributes, which the
core records. The current schema (PostgreSQL ``SET search_path``) and database (MySQL
``USE``) are usually changed with a statement, so the failover wrapper looks at each
successful ``execute``: a C-level ``startswith`` rejects ordinary statements without any
allocation, and only a statement that really changes the schema or database costs more (for
PostgreSQL one small query reads the resulting ``search_path``, which also covers ``DEFAULT``,
quoting and parameters exactly).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    from sturdydb import ConnectionContext

__all__ = ["SESSION_BLANK", "SESSION_PREFIXES", "SESSION_THIRD", "is_session_statement", "note_session_statement"]

#: Statements that may change the schema/database start with one of these (no allocation).
SESSION_PREFIXES = ("SET", "set", "Set", "USE", "use", "Use", " ", "\n", "\t")
#: A cheap first test after every execute, true for every statement longer than two
#: characters that starts with one of :data:`SESSION_PREFIXES`: its third character is one
#: of SET's or USE's, or its first one is blank. ``str.startswith`` with a tuple costs about
#: 1.3 k instructions (its arguments are parsed like a Python call's); two indexings and two
#: set lookups a quarter of that, and a ``SELECT``/``INSERT``/``UPDATE``/``DELETE`` fails them.
#: (A statement of two characters or fewer sets nothing.)
SESSION_THIRD = frozenset("TtEe")
SESSION_BLANK = frozenset(" \n\t")


def is_session_statement(query: object) -> TypeGuard[str]:
    """Whether ``query`` may change the schema/database (the failover plugin inlines this)."""
    return (type(query) is str and len(query) > 2
            and (query[2] in SESSION_THIRD or query[0] in SESSION_BLANK)
            and query.startswith(SESSION_PREFIXES))

# Patterns, compiled on first use by ``re``'s own cache (not at import: compiling them costs a
# fresh process's first connect more than the rest of this module, and a session statement
# is rare).
_PG_SCHEMA = r"\s*set\s+(?:session\s+)?(?:search_path\b|schema\b)"
_MYSQL_USE = r"\s*use\s+(`(?:[^`]|``)+`|[^\s;`]+)\s*;?\s*$"


def note_session_statement(ctx: ConnectionContext, query: str) -> None:
    """Record the schema/database that ``query`` (which just succeeded) switched to."""
    driver = ctx.driver
    if driver.session_namespace == "schema":
        if re.match(_PG_SCHEMA, query, re.IGNORECASE):
            rows = driver.query(ctx.connection, "SELECT pg_catalog.current_setting('search_path')")
            if rows:
                ctx.session.schema = str(rows[0][0])
        return
    if driver.session_namespace != "database":
        return
    match = re.match(_MYSQL_USE, query, re.IGNORECASE)
    if match:
        name = match.group(1)
        if name.startswith("`"):
            name = name[1:-1].replace("``", "`")
        ctx.session.database = name
