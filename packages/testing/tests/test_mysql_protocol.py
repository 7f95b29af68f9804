"""The MySQL-protocol rewrite touches only query packets, however the stream is chunked."""

from __future__ import annotations

from sturdydb_testing.mysql_protocol import AURORA_MYSQL_VERSION, AuroraQueryRewriter, rewrite_aurora_sql


def _packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes((sequence,)) + payload


def test_aurora_names_are_rewritten() -> None:
    sql = b"SELECT @@aurora_server_id, @@INNODB_READ_ONLY FROM INFORMATION_SCHEMA.REPLICA_HOST_STATUS"
    assert (
        rewrite_aurora_sql(sql)
        == b"SELECT @@global.report_host, @@global.read_only FROM sturdydb_aurora.replica_host_status"
    )
    assert rewrite_aurora_sql(b"SHOW VARIABLES LIKE 'aurora_version'") == (
        b"SELECT 'aurora_version' AS Variable_name, '" + AURORA_MYSQL_VERSION.encode() + b"' AS Value"
    )
    assert rewrite_aurora_sql(b"SELECT 1") == b"SELECT 1"


def test_query_packets_split_across_chunks_are_rewritten_and_others_pass() -> None:
    handshake = _packet(1, (0x000FA68D).to_bytes(4, "little") + b"\x00" * 28 + b"app\x00")
    query = _packet(0, b"\x03SELECT @@aurora_server_id")
    ping = _packet(0, b"\x0e")
    stream = handshake + query + ping
    rewriter = AuroraQueryRewriter()
    out = b"".join(rewriter.feed(stream[i : i + 5]) for i in range(0, len(stream), 5))
    assert out == handshake + _packet(0, b"\x03SELECT @@global.report_host") + ping


def test_a_compressed_connection_passes_through_untouched() -> None:
    handshake = _packet(1, (0x000FA6AD).to_bytes(4, "little") + b"\x00" * 28)
    later = b"\x10\x00\x00\x00\x00\x00\x00" + b"\x03SELECT @@aurora_server_id"
    rewriter = AuroraQueryRewriter()
    assert rewriter.feed(handshake) + rewriter.feed(later) == handshake + later


def test_global_status_views_and_their_detection_probe_are_rewritten() -> None:
    # The global-aurora-mysql dialect's exact strings (see sturdydb._dialects.mysql).
    probe = (b"SELECT 1 AS tmp FROM information_schema.tables WHERE upper(table_schema) = "
             b"'INFORMATION_SCHEMA' AND upper(table_name) = 'AURORA_GLOBAL_DB_INSTANCE_STATUS'")
    assert rewrite_aurora_sql(probe) == probe.replace(b"'INFORMATION_SCHEMA'", b"'STURDYDB_AURORA'")
    topology = (b"SELECT SERVER_ID, VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM "
                b"information_schema.aurora_global_db_instance_status ")
    assert rewrite_aurora_sql(topology).endswith(b"FROM sturdydb_aurora.aurora_global_db_instance_status ")
    count = b"SELECT count(1) FROM information_schema.aurora_global_db_status"
    assert rewrite_aurora_sql(count) == b"SELECT count(1) FROM sturdydb_aurora.aurora_global_db_status"
    # Another information_schema.tables question keeps its schema.
    other = b"SELECT 1 FROM information_schema.tables WHERE upper(table_schema) = 'INFORMATION_SCHEMA'"
    assert rewrite_aurora_sql(other) == other
