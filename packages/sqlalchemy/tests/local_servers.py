"""The machine's own servers, as sturdydb dialect URLs (shared by the tests and their fixtures)."""

from __future__ import annotations

PG_URL = "postgresql+sturdydb://postgres@127.0.0.1:5432/test"
MYSQL_URL = "mysql+sturdydb://root@127.0.0.1:3306/test?use_pure=true"
PG2_URL = "postgresql+sturdydb_psycopg2://postgres@127.0.0.1:5432/test"
PYMYSQL_URL = "mysql+sturdydb_pymysql://root@127.0.0.1:3306/test"
