"""Client-to-server MySQL protocol framing and the aurora-mysql query rewrite.

MariaDB cannot define tables in ``information_schema`` or ``@@aurora_*`` variables, and its
``innodb_read_only`` is fixed at startup. The per-instance proxy therefore rewrites the SQL
text of ``COM_QUERY`` and ``COM_STMT_PREPARE`` packets so that what the aurora-mysql dialect
asks for reaches emulation objects:

==========================================  ===============================================
client sends                                server runs
==========================================  ===============================================
``information_schema.replica_host_status``  ``sturdydb_aurora.replica_host_status`` (a view)
``@@aurora_server_id``                      ``@@global.report_host`` (the instance name)
``@@innodb_read_only``                      ``@@global.read_only`` (true on replicas)
``SHOW VARIABLES LIKE 'aurora_version'``    a one-row ``SELECT`` with an Aurora version
``@@aurora_version``                        that version as a literal
``information_schema.aurora_global_db_*``   ``sturdydb_aurora.aurora_global_db_*`` (views of
                                            a global database's emulation)
the probe for those two in                  the same probe in ``sturdydb_aurora``
``information_schema.tables``
==========================================  ===============================================

Framing: every packet is a 3-byte little-endian length, a sequence id, and the payload. A
command always starts with sequence id 0, so a packet with sequence 0 whose first payload
byte is 0x03 (or 0x16) is a query (or prepare); everything else, including the handshake,
passes unchanged, and so does the whole server-to-client direction. A connection that
negotiates compression is passed through untouched (its framing differs). TLS must be off on
this hop; the emulated servers run with ``--skip-ssl``.
"""

from __future__ import annotations

import re

__all__ = ["AURORA_MYSQL_VERSION", "AuroraQueryRewriter", "rewrite_aurora_sql"]

AURORA_MYSQL_VERSION = "3.08.0"

_COM_QUERY = 0x03
_COM_STMT_PREPARE = 0x16
_CLIENT_COMPRESS = 0x20
_MAX_PAYLOAD = 0xFFFFFF

# Cheap pre-check so ordinary queries pay one regex scan and no substitutions.
_TRIGGER = re.compile(rb"aurora|replica_host_status|innodb_read_only", re.IGNORECASE)
_RULES: list[tuple[re.Pattern[bytes], bytes]] = [
    (
        re.compile(
            rb"SHOW\s+(?:GLOBAL\s+|SESSION\s+)?VARIABLES\s+LIKE\s+(['\"])aurora_version\1", re.IGNORECASE
        ),
        b"SELECT 'aurora_version' AS Variable_name, '" + AURORA_MYSQL_VERSION.encode() + b"' AS Value",
    ),
    (
        re.compile(rb"`?information_schema`?\s*\.\s*`?replica_host_status`?", re.IGNORECASE),
        b"sturdydb_aurora.replica_host_status",
    ),
    (
        re.compile(rb"`?information_schema`?\s*\.\s*`?(aurora_global_db_(?:instance_)?status)\b`?", re.IGNORECASE),
        rb"sturdydb_aurora.\1",
    ),
    (
        # The global dialect's detection asks information_schema.tables for those views.
        re.compile(
            rb"(upper\(\s*table_schema\s*\)\s*=\s*)'INFORMATION_SCHEMA'"
            rb"(\s+AND\s+upper\(\s*table_name\s*\)\s*=\s*'AURORA_GLOBAL_DB_(?:INSTANCE_)?STATUS')",
            re.IGNORECASE,
        ),
        rb"\1'STURDYDB_AURORA'\2",
    ),
    (re.compile(rb"@@(?:global\.|session\.)?aurora_server_id\b", re.IGNORECASE), b"@@global.report_host"),
    (re.compile(rb"@@(?:global\.|session\.)?innodb_read_only\b", re.IGNORECASE), b"@@global.read_only"),
    (
        re.compile(rb"@@(?:global\.|session\.)?aurora_version\b", re.IGNORECASE),
        b"'" + AURORA_MYSQL_VERSION.encode() + b"'",
    ),
]


def rewrite_aurora_sql(sql: bytes) -> bytes:
    """Rewrite one statement's SQL text (bytes in the connection's character set)."""
    if not _TRIGGER.search(sql):
        return sql
    for pattern, replacement in _RULES:
        sql = pattern.sub(replacement, sql)
    return sql


class AuroraQueryRewriter:
    """Frames one connection's client-to-server stream and rewrites query packets."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._passthrough = False
        self._saw_handshake_response = False

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the client; return the bytes to send to the server (maybe fewer)."""
        if self._passthrough:
            return data
        self._buffer += data
        out = bytearray()
        buffer = self._buffer
        while len(buffer) >= 4:
            length = buffer[0] | buffer[1] << 8 | buffer[2] << 16
            if len(buffer) < 4 + length:
                break
            sequence = buffer[3]
            payload = bytes(buffer[4 : 4 + length])
            del buffer[: 4 + length]
            if not self._saw_handshake_response and sequence >= 1 and length >= 4:
                self._saw_handshake_response = True
                capabilities = int.from_bytes(payload[:4], "little")
                if capabilities & _CLIENT_COMPRESS:
                    # Compressed framing from the next packet on: stop looking.
                    out += _packet(sequence, payload)
                    out += buffer
                    buffer.clear()
                    self._passthrough = True
                    break
            if (
                sequence == 0
                and payload
                and payload[0] in (_COM_QUERY, _COM_STMT_PREPARE)
                and length < _MAX_PAYLOAD
            ):
                rewritten = rewrite_aurora_sql(payload[1:])
                if len(rewritten) + 1 < _MAX_PAYLOAD:
                    payload = payload[:1] + rewritten
            out += _packet(sequence, payload)
        return bytes(out)


def _packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes((sequence,)) + payload
