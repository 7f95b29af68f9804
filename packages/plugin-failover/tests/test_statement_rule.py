"""The conservative read rule that decides whether an interrupted statement can be run again."""

from __future__ import annotations

import pytest

from sturdydb_failover.statements import is_read_statement, is_transactional_dml

READS = [
    "SELECT 1",
    "select 1;",
    "  \n\tSELECT * FROM t WHERE id = %s",
    "SELECT * FROM t WHERE name = %(name)s",
    "SELECT count(*) FROM t",
    "SELECT a, b FROM t JOIN u ON t.id = u.id WHERE t.x IN (1, 2, 3) ORDER BY a LIMIT 10",
    "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)",
    "WITH recent AS (SELECT * FROM t WHERE ts > now()) SELECT count(*) FROM recent",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "SHOW TABLES",
    "SHOW search_path",
    "EXPLAIN SELECT * FROM t",
    "VALUES (1, 2), (3, 4)",
    "TABLE t",
    "DESCRIBE t",
    "DESC t",
    "SELECT 'insert into t values (1)' AS text",
    "SELECT 'it''s; DELETE FROM t' AS text",
    'SELECT "update" FROM t',
    "SELECT `delete` FROM t",
    "SELECT $$DROP TABLE t$$",
    "SELECT $tag$ ; DELETE $tag$",
    "-- a comment: DELETE FROM t\nSELECT 1",
    "/* UPDATE t SET x = 1 */ SELECT 1",
    "SELECT pg_sleep(1.5)",
    "SELECT SLEEP(1.5)",
    "SELECT seq, REPEAT('x', 50), IF(seq % 1000 = 0, SLEEP(0.01), 0) FROM seq_1_to_300000",
    "SELECT g, repeat('x', 50) FROM generate_series(1, 10) g",
    "SELECT coalesce(max(id), 0) + 1 FROM t",
    "SELECT x::int FROM t",
    "SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t",
    b"SELECT 1",
]

NOT_READS = [
    "INSERT INTO t VALUES (1)",
    "INSERT INTO t SELECT 1 FROM pg_sleep(1.5)",
    "insert into t (id) select 1 from (select sleep(1.5)) s",
    "UPDATE t SET x = 1",
    "DELETE FROM t",
    "REPLACE INTO t VALUES (1)",
    "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE",
    "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone",
    "WITH n AS (INSERT INTO t VALUES (1) RETURNING id) SELECT * FROM n",
    "SELECT * FROM t FOR UPDATE",
    "SELECT * FROM t FOR SHARE",
    "SELECT * FROM t LOCK IN SHARE MODE",
    "SELECT * INTO new_table FROM t",
    "SELECT 1 INTO @x",
    "SELECT * FROM t INTO OUTFILE '/tmp/x'",
    "SELECT nextval('seq')",
    "SELECT setval('seq', 10)",
    "SELECT my_function(1)",
    "SELECT pg_catalog.now()",
    "SELECT public.count(1)",
    "SELECT pg_advisory_lock(1)",
    "SELECT GET_LOCK('x', 1)",
    "SELECT @x := 1",
    "SELECT 1; DELETE FROM t",
    "SELECT 1; SELECT 2",
    "EXPLAIN ANALYZE DELETE FROM t",
    "EXPLAIN (ANALYZE) SELECT 1",
    "EXPLAIN ANALYSE SELECT 1",
    "CALL proc()",
    "DO $$ BEGIN DELETE FROM t; END $$",
    "COPY t FROM STDIN",
    "SET search_path TO x",
    "CREATE TABLE t (id int)",
    "DROP TABLE t",
    "TRUNCATE t",
    "LOCK TABLE t",
    "BEGIN",
    "COMMIT",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "/*!50000 DELETE FROM t */ SELECT 1",
    "SELECT 1 # a MySQL comment",
    "SELECT 'unterminated",
    "SELECT 'a\\' ; DELETE FROM t; --'",
    "SELECT $$unterminated",
    "/* unterminated SELECT 1",
    "",
    "   ",
    None,
    42,
    b"\xff\xfe",
    "WITH t(a) AS (SELECT 1) SELECT a FROM t",  # a column list looks like a call: rejected
]


@pytest.mark.parametrize("sql", READS)
def test_reads_by_the_rule(sql: object) -> None:
    assert is_read_statement(sql)


@pytest.mark.parametrize("sql", NOT_READS)
def test_anything_else_is_not_a_read(sql: object) -> None:
    assert not is_read_statement(sql)


@pytest.mark.parametrize("sql", [
    "INSERT INTO t VALUES (1)",
    "INSERT INTO t SELECT 1 FROM pg_sleep(1.5)",
    "UPDATE t SET x = my_function(1)",
    "DELETE FROM t WHERE id = %s",
    "WITH n AS (INSERT INTO t VALUES (1) RETURNING id) SELECT * FROM n",
    "SELECT 1",
])
def test_single_dml_statements_cannot_commit_by_themselves(sql: str) -> None:
    assert is_transactional_dml(sql)


@pytest.mark.parametrize("sql", [
    "INSERT INTO t VALUES (1); COMMIT",
    "COMMIT",
    "CREATE TABLE t (id int)",
    "CALL proc()",
    "SET autocommit = 1",
    "DO $$ BEGIN COMMIT; END $$",
    "SELECT * FROM t INTO OUTFILE '/tmp/x'",
    "TRUNCATE t",
    "ALTER TABLE t ADD c int",
    "LOCK TABLES t WRITE",
    None,
])
def test_statements_that_may_commit_are_not_transactional_dml(sql: object) -> None:
    assert not is_transactional_dml(sql)
