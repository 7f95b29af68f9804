"""Database dialects and their detection.

Detection starts from the driver's family (``pg`` or ``mysql``) and asks the server with each
refinement's own probe (Aurora Global first, then Aurora, then Multi-AZ, then RDS), first match wins; a server
that matches none is the plain family dialect. A probe that fails because the connection broke
aborts detection (nothing is cached), so a network blip is never remembered as "plain". Results are cached per host for 30 minutes, so a
connect pays for detection once, not every time. ``wrapper_dialect`` skips all of this.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from sturdydb._dialects.base import DatabaseDialect
from sturdydb._dialects.mysql import (
    AuroraMysqlDialect,
    GlobalAuroraMysqlDialect,
    MultiAzMysqlDialect,
    MysqlDialect,
    RdsMysqlDialect,
)
from sturdydb._dialects.pg import (
    AuroraPgDialect,
    GlobalAuroraPgDialect,
    MultiAzPgDialect,
    PgDialect,
    RdsPgDialect,
)

if TYPE_CHECKING:
    from sturdydb._drivers.base import DriverDialect

__all__ = [
    "DIALECTS",
    "DatabaseDialect",
    "clear_dialect_cache",
    "detect_dialect",
    "dialect_by_code",
]

DIALECTS: dict[str, DatabaseDialect] = {
    d.code: d
    for d in (PgDialect(), RdsPgDialect(), AuroraPgDialect(), GlobalAuroraPgDialect(), MultiAzPgDialect(),
              MysqlDialect(), RdsMysqlDialect(), AuroraMysqlDialect(), GlobalAuroraMysqlDialect(),
              MultiAzMysqlDialect())
}
CACHE_SECONDS = 30 * 60
_cache: dict[str, tuple[float, DatabaseDialect]] = {}
_lock = threading.Lock()


def dialect_by_code(code: str) -> DatabaseDialect:
    return DIALECTS[code]


def detect_dialect(
    driver: DriverDialect, conn: Any, host_key: str, extra: list[DatabaseDialect] | None = None
) -> DatabaseDialect:
    """The dialect of the server behind ``conn`` (cached per ``host_key``)."""
    now = time.monotonic()
    cached = _cache.get(host_key)
    family = driver.database_family
    # The key may lack the port (a host given without one): a PostgreSQL and a MySQL server
    # on the same address must not share an entry, so one of the other family is no answer.
    if cached is not None and now - cached[0] < CACHE_SECONDS and cached[1].family == family:
        return cached[1]
    for dialect in extra or ():
        if dialect.family == family and dialect.is_dialect(driver, conn):
            found = dialect
            break
    else:
        base = DIALECTS[family]
        found = base
        for code in base.refinements:
            candidate = DIALECTS[code]
            if candidate.is_dialect(driver, conn):
                found = candidate
                break
    with _lock:
        _cache[host_key] = (now, found)
    return found


def remember_dialect(host_key: str, dialect: DatabaseDialect) -> None:
    with _lock:
        _cache[host_key] = (time.monotonic(), dialect)


def clear_dialect_cache() -> None:
    with _lock:
        _cache.clear()
