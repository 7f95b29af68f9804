"""Which interrupted calls can be re-run safely: the conservative read rule.

After a failover, the plugin must tell the application whether the interrupted call may have
changed data. It says "nothing was applied" (``FailoverSuccessError``) only when it knows;
one way to know is that the statement is a *read* by the rule below, which accepts a
statement only if every part of it is understood, and rejects everything else (a rejected
read merely gets the "outcome unknown" error, which is safe).

A statement is a read when all of these hold:

1. it is a ``str`` (or UTF-8 ``bytes``); composed SQL objects are not inspected;
2. it is one statement: after removing comments and quoted literals, no ``;`` is followed by
   anything but whitespace;
3. no string literal contains a backslash (PostgreSQL and MySQL disagree on what it escapes,
   so the rest of the statement could be misread), and every literal, quoted identifier,
   dollar-quoted string and comment is terminated;
4. its first keyword is ``SELECT``, ``SHOW``, ``EXPLAIN``, ``VALUES``, ``TABLE``,
   ``DESCRIBE``, ``DESC`` or ``WITH`` (possibly after opening parentheses);
5. no word of it (outside literals and quoted identifiers) is one of ``INSERT``, ``UPDATE``,
   ``DELETE``, ``MERGE``, ``REPLACE``, ``UPSERT``, ``INTO`` (``SELECT ... INTO`` creates a table
   or sets variables), ``FOR`` (``FOR UPDATE``/``FOR SHARE`` take locks), ``LOCK``,
   ``ANALYZE``/``ANALYSE`` (``EXPLAIN ANALYZE`` runs the statement), ``CALL``, ``DO``,
   ``COPY``, ``SET``, ``CREATE``, ``DROP``, ``ALTER``, ``TRUNCATE``, ``GRANT``, ``REVOKE``,
   ``HANDLER``, ``LOAD``, ``OUTFILE``, ``DUMPFILE``, ``PREPARE``, ``EXECUTE``;
6. it contains no ``:=`` (MySQL variable assignment);
7. every function call (a word followed by ``(``) is a function on the built-in list
   :data:`READ_ONLY_FUNCTIONS` (aggregates, string/number/date functions, ``pg_sleep``,
   ``SLEEP`` ...), called by its bare name; a word followed by ``(`` that is an SQL keyword
   (``IN (``, ``AS (``, ``EXISTS (``, ``VALUES (``, ``OVER (`` ...) is fine. A user-defined
   or schema-qualified function, which may write, makes the statement not a read.

The check runs only on the error path (never for a successful call), so it may allocate.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["READ_ONLY_FUNCTIONS", "is_read_statement", "is_transactional_dml"]

_READ_KEYWORDS = frozenset({"select", "show", "explain", "values", "table", "describe", "desc", "with"})

_FORBIDDEN_WORDS = frozenset({
    "insert", "update", "delete", "merge", "replace", "upsert", "into", "for", "lock",
    "analyze", "analyse", "call", "do", "copy", "set", "create", "drop", "alter", "truncate",
    "grant", "revoke", "handler", "load", "outfile", "dumpfile", "prepare", "execute",
})

#: Functions that never change data or take locks, on PostgreSQL and MySQL/MariaDB.
READ_ONLY_FUNCTIONS = frozenset({
    # aggregates and window functions
    "count", "sum", "min", "max", "avg", "string_agg", "array_agg", "group_concat",
    "bool_and", "bool_or", "every", "stddev", "variance", "row_number", "rank", "dense_rank",
    "lag", "lead", "first_value", "last_value", "ntile",
    # conditionals
    "coalesce", "nullif", "greatest", "least", "if", "ifnull", "isnull",
    # strings
    "lower", "upper", "length", "char_length", "character_length", "octet_length", "concat",
    "concat_ws", "substring", "substr", "trim", "ltrim", "rtrim", "repeat",
    "left", "right", "lpad", "rpad", "position", "strpos", "md5", "reverse", "format",
    # numbers
    "abs", "round", "floor", "ceil", "ceiling", "mod", "power", "sqrt", "sign", "trunc",
    # dates
    "now", "current_timestamp", "current_date", "current_time", "localtimestamp",
    "date_trunc", "extract", "date_part", "to_char", "date_format", "date", "year", "month",
    "day", "unix_timestamp", "utc_timestamp", "sysdate",
    # casts and constructors
    "cast", "convert", "row", "array", "generate_series",
    # session information
    "version", "current_database", "current_schema", "current_user", "session_user",
    "database", "schema", "user", "connection_id", "pg_backend_pid",
    # waiting (reads nothing, writes nothing)
    "pg_sleep", "sleep",
})

_SQL_WORDS_BEFORE_PAREN = frozenset({
    "in", "exists", "any", "all", "some", "values", "as", "from", "join", "on", "using",
    "over", "where", "and", "or", "not", "select", "with", "filter", "within", "case", "when",
    "then", "else", "by", "lateral", "union", "intersect", "except", "distinct", "having",
    "is", "between", "like", "ilike", "explain", "table", "limit", "offset", "recursive",
    "materialized", "interval", "group", "order", "partition", "window",
})

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9$]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")


def _strip(sql: str) -> str | None:
    """``sql`` with comments, literals and quoted identifiers blanked; ``None`` if unsure."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            out.append(" ")
        elif ch == "#":  # a MySQL comment; in PostgreSQL an operator: unsure either way
            return None
        elif ch == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0 or sql.startswith("/*!", i) or sql.startswith("/*M!", i):
                return None  # unterminated, or MySQL executable comments: not a comment
            i = end + 2
            out.append(" ")
        elif ch in "'\"`":
            j = i + 1
            while True:
                end = sql.find(ch, j)
                if end < 0:
                    return None
                if sql.startswith(ch, end + 1):  # doubled quote: an escaped quote
                    j = end + 2
                    continue
                break
            if ch == "'" and "\\" in sql[i:end]:
                return None
            # A string literal is a value; a quoted identifier a name: both are no keyword.
            out.append(" '' " if ch == "'" else " ident ")
            i = end + 1
        elif ch == "$":
            match = _DOLLAR_TAG.match(sql, i)
            if match is None:
                out.append(ch)
                i += 1
                continue
            tag = match.group(0)
            end = sql.find(tag, match.end())
            if end < 0:
                return None
            out.append(" '' ")
            i = end + len(tag)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _statement_body(statement: Any) -> str | None:
    """Rules 1-3: the statement's text with literals and comments blanked, or ``None``."""
    if isinstance(statement, (bytes, bytearray, memoryview)):
        try:
            statement = bytes(statement).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(statement, str):
        return None
    text = _strip(statement)
    if text is None:
        return None
    return text.strip().rstrip(";").rstrip()


def is_read_statement(statement: Any) -> bool:
    """Whether ``statement`` cannot change data, by the rule in the module documentation."""
    body = _statement_body(statement)
    if body is None:
        return False
    if not body or ";" in body or ":=" in body:
        return False
    first = _WORD.search(body)
    if first is None or body[: first.start()].strip("( \t\r\n") or first.group(0).lower() not in _READ_KEYWORDS:
        return False
    for match in _WORD.finditer(body):
        word = match.group(0).lower()
        if word in _FORBIDDEN_WORDS:
            return False
        rest = body[match.end():].lstrip()
        if not rest.startswith("("):
            continue
        if match.start() > 0 and body[match.start() - 1] == ".":
            return False  # a schema-qualified function: not on the list
        if word not in READ_ONLY_FUNCTIONS and word not in _SQL_WORDS_BEFORE_PAREN:
            return False
    return True


_DML_KEYWORDS = frozenset({"insert", "update", "delete", "replace", "merge", "select", "with", "values", "table"})
#: Words that may commit, or act outside the transaction, even inside a DML-looking statement.
_COMMITTING_WORDS = frozenset({
    "commit", "rollback", "begin", "start", "savepoint", "release", "call", "do", "create",
    "drop", "alter", "truncate", "rename", "grant", "revoke", "lock", "unlock", "load", "handler",
    "prepare", "execute", "outfile", "dumpfile", "copy", "analyze", "optimize", "flush",
})


def is_transactional_dml(statement: Any) -> bool:
    """Whether ``statement`` is one DML statement that cannot commit by itself.

    With autocommit off and no transaction open, such a statement runs in a transaction it
    opens; when the connection fails, that transaction dies uncommitted, so nothing of the
    statement was applied. The rule: rules 1-3 of :func:`is_read_statement` hold, the first
    keyword is ``INSERT``, ``UPDATE``, ``DELETE``, ``REPLACE``, ``MERGE``, ``SELECT``,
    ``WITH``, ``VALUES`` or ``TABLE``, and no word may commit or act outside the transaction
    (``COMMIT``, ``CALL``, ``DO``, DDL words, ``LOCK``, ``OUTFILE`` ...). Functions
    cannot commit on either server, so function calls are allowed here.
    """
    body = _statement_body(statement)
    if body is None:
        return False
    if not body or ";" in body:
        return False
    first = _WORD.search(body)
    if first is None or body[: first.start()].strip("( \t\r\n") or first.group(0).lower() not in _DML_KEYWORDS:
        return False
    return not any(m.group(0).lower() in _COMMITTING_WORDS for m in _WORD.finditer(body))
