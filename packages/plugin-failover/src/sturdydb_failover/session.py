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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sturdydb import ConnectionContext

__all__ = ["SESSION_PREFIXES", "note_session_statement"]

#: Statements that may change the schema/database start with one of these (no allocation).
SESSION_PREFIXES = ("SET", "set", "Set", "USE", "use", "Use", " ", "\n", "\t")

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
