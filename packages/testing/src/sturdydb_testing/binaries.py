"""Finding the machine's PostgreSQL and MariaDB server programs.

Clusters run the real servers installed on the machine. When they are missing, the error
says exactly what was searched and how to install them, because CI must fail loudly rather
than silently skip the engine.
"""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MariaDBBinaries", "PostgresBinaries", "ServerBinariesNotFound", "find_mariadb", "find_postgres"]


class ServerBinariesNotFound(RuntimeError):
    """The server programs an engine needs are not installed (or not where we looked)."""


@dataclass(frozen=True, slots=True)
class PostgresBinaries:
    bindir: Path

    def __getitem__(self, program: str) -> str:
        return str(self.bindir / program)


@dataclass(frozen=True, slots=True)
class MariaDBBinaries:
    mariadbd: str
    install_db: str
    #: ``mariadb-binlog`` and the ``mariadb`` client: a promotion replays the lost writer's binlog.
    binlog: str
    client: str


def _postgres_candidates() -> list[Path]:
    found: list[Path] = []
    env = os.environ.get("STURDYDB_PG_BINDIR")
    if env:
        found.append(Path(env))
    on_path = shutil.which("initdb")
    if on_path:
        found.append(Path(on_path).resolve().parent)
    # Debian/Ubuntu keep each major version apart; prefer the newest.
    versioned = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    found.extend(Path(p) for p in versioned)
    found.extend(Path(p) for p in sorted(glob.glob("/usr/pgsql-*/bin"), reverse=True))
    found.extend(Path(p) for p in ("/usr/local/pgsql/bin", "/usr/bin", "/usr/local/bin"))
    return found


def find_postgres() -> PostgresBinaries:
    """The first folder that holds ``initdb``, ``postgres``, ``pg_ctl`` and ``pg_basebackup``."""
    needed = ("initdb", "postgres", "pg_ctl", "pg_basebackup")
    searched = _postgres_candidates()
    for folder in searched:
        if all(os.access(folder / program, os.X_OK) for program in needed):
            return PostgresBinaries(folder)
    raise ServerBinariesNotFound(
        f"PostgreSQL server programs ({', '.join(needed)}) not found; searched $STURDYDB_PG_BINDIR, "
        f"PATH and {', '.join(str(p) for p in searched) or 'the usual folders'}. Install them "
        "(Debian/Ubuntu: apt-get install postgresql) or set STURDYDB_PG_BINDIR to their folder."
    )


def find_mariadb() -> MariaDBBinaries:
    """``mariadbd`` and ``mariadb-install-db`` from PATH, /usr/sbin or /usr/bin."""
    search = os.pathsep.join(
        filter(None, [os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/usr/local/bin"])
    )
    server = shutil.which("mariadbd", path=search) or shutil.which("mysqld", path=search)
    install = shutil.which("mariadb-install-db", path=search) or shutil.which("mysql_install_db", path=search)
    binlog = shutil.which("mariadb-binlog", path=search) or shutil.which("mysqlbinlog", path=search)
    client = shutil.which("mariadb", path=search) or shutil.which("mysql", path=search)
    if server and install and binlog and client:
        return MariaDBBinaries(server, install, binlog, client)
    found = {"mariadbd": server, "mariadb-install-db": install, "mariadb-binlog": binlog, "mariadb": client}
    raise ServerBinariesNotFound(
        "MariaDB server programs not found: need "
        + ", ".join(f"{name} (found: {path or 'no'})" for name, path in found.items())
        + " on PATH, /usr/sbin or /usr/bin. Install them (Debian/Ubuntu: apt-get install mariadb-server "
        "mariadb-client)."
    )
