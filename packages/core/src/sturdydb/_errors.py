"""The sturdydb exception tree.

Driver exceptions pass through sturdydb unchanged: an application that catches
``psycopg.OperationalError`` keeps catching exactly what it caught before. sturdydb's own
errors follow the PEP 249 tree below. The failover outcomes are special: at run time they are
raised as classes that derive from *both* the sturdydb class and the target driver's
``OperationalError`` (see :func:`driver_flavoured`), so existing driver ``except`` clauses
still catch them, and each carries the SQLSTATE the reference wrapper uses::

    Exception
     +-- Warning
     +-- Error
          +-- InterfaceError
          |    +-- ConfigurationError          (bad property, unknown plugin, bad string)
          +-- DatabaseError
               +-- DataError
               +-- OperationalError
               |    +-- QueryTimeoutError
               |    +-- FailoverError
               |         +-- FailoverSuccessError               08S02
               |         +-- TransactionResolutionUnknownError  08007
               |         |    +-- StatementOutcomeUnknownError  08007
               |         +-- FailoverFailedError                08001
               +-- IntegrityError
               +-- InternalError
               +-- ProgrammingError
               +-- NotSupportedError
"""

from __future__ import annotations

import threading
from typing import TypeVar

__all__ = [
    "ConfigurationError",
    "DataError",
    "DatabaseError",
    "Error",
    "FailoverError",
    "FailoverFailedError",
    "FailoverSuccessError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "QueryTimeoutError",
    "StatementOutcomeUnknownError",
    "TransactionResolutionUnknownError",
    "Warning",
    "driver_flavoured",
]


class Warning(Exception):  # noqa: A001 - PEP 249 mandates this name
    """PEP 249 ``Warning``."""


class Error(Exception):
    """Base class of every sturdydb error (PEP 249 ``Error``)."""

    sqlstate: str | None = None


class InterfaceError(Error):
    """A problem with sturdydb itself or how it is used rather than with the database."""


class ConfigurationError(InterfaceError, ValueError):
    """A connection string, property, profile or plugin selection that cannot be used.

    It is also a ``ValueError``, because it always describes a bad value the caller passed.
    """


class DatabaseError(Error):
    """PEP 249 ``DatabaseError``."""


class DataError(DatabaseError):
    """PEP 249 ``DataError``."""


class OperationalError(DatabaseError):
    """PEP 249 ``OperationalError``."""


class QueryTimeoutError(OperationalError):
    """A call did not complete in time.

    Raised for the application's own calls when ``socket_timeout`` passes, and for sturdydb's
    internal queries (topology, role checks). Two cases, told apart by :attr:`cancelled`:

    - ``cancelled`` is true: the host answered the cancel request, the statement was stopped
      on the server (a cancelled statement is not applied: in autocommit it rolled back, in a
      transaction the transaction is aborted and must be rolled back), and the connection is
      still usable. This is not a failover: the topology is left alone.
    - ``cancelled`` is false: the host did not answer the cancel within its bound (or the
      driver cannot cancel), so the connection was aborted; failover treats that as a
      network error.
    """

    #: True when the statement was cancelled on a host that answered (see the class doc).
    cancelled: bool = False


class FailoverError(OperationalError):
    """Base of the three failover outcomes."""


class FailoverSuccessError(FailoverError):
    """The connection failed and was replaced by a working one; the interrupted call did not
    change data, so it is safe to run it again.

    Raised only when nothing can have been applied (see the failover README's at-most-once
    rule); otherwise failover raises :class:`StatementOutcomeUnknownError` or
    :class:`TransactionResolutionUnknownError`. Session state that the application set through
    sturdydb (autocommit, read_only, isolation level, current database/schema) has been
    carried over. Nothing was replayed.
    """

    sqlstate = "08S02"
    #: Set by failover (``failover_retry_reads``) on an interrupted read: the core cursor
    #: runs the read once more on the new connection instead of raising.
    retry_read: bool = False


class TransactionResolutionUnknownError(FailoverError):
    """Failover succeeded, but a transaction was open: its outcome is unknown, restart it."""

    sqlstate = "08007"


class StatementOutcomeUnknownError(TransactionResolutionUnknownError):
    """Failover succeeded, but an autocommit statement that may change data was interrupted.

    The statement was sent and no reply came: the server may have applied it (and committed
    it, in autocommit) or not. Running it again may apply it twice. Find out first (for
    example by an idempotency key the statement wrote), or make the statement idempotent. The
    connection itself now works on the new host.
    """

    sqlstate = "08007"


class FailoverFailedError(FailoverError):
    """No usable host could be reached within ``failover_timeout_sec``."""

    sqlstate = "08001"


class IntegrityError(DatabaseError):
    """PEP 249 ``IntegrityError``."""


class InternalError(DatabaseError):
    """PEP 249 ``InternalError``."""


class ProgrammingError(DatabaseError):
    """PEP 249 ``ProgrammingError``."""


class NotSupportedError(DatabaseError):
    """PEP 249 ``NotSupportedError``."""


E = TypeVar("E", bound=Error)

_flavoured: dict[tuple[type[Error], type[BaseException]], type[Error]] = {}
_flavoured_lock = threading.Lock()


def driver_flavoured(cls: type[E], driver_base: type[BaseException] | None) -> type[E]:
    """Return a subclass of ``cls`` that is also a subclass of ``driver_base``.

    ``driver_flavoured(FailoverSuccessError, psycopg.OperationalError)`` is a class that both
    ``except sturdydb.FailoverSuccessError`` and ``except psycopg.OperationalError`` catch.
    Classes are created once per pair and cached, so ``type(e)`` is stable.
    """
    if driver_base is None or issubclass(cls, driver_base):
        return cls
    key = (cls, driver_base)
    found = _flavoured.get(key)
    if found is None:
        with _flavoured_lock:
            found = _flavoured.get(key)
            if found is None:
                found = type(
                    cls.__name__,
                    (cls, driver_base),
                    # The class attribute must win over a driver property of the same name.
                    {"__module__": cls.__module__, "sqlstate": cls.sqlstate},
                )
                _flavoured[key] = found
    return found  # type: ignore[return-value]


def make_error(
    cls: type[E], message: str, driver_base: type[BaseException] | None = None
) -> E:
    """Instantiate ``cls`` (flavoured for ``driver_base``) with ``message``.

    Driver error classes have their own constructors (psycopg takes ``info=``, mysql-connector
    takes ``msg=``/``sqlstate=``); both accept the message as the first positional argument.
    """
    flavoured = driver_flavoured(cls, driver_base)
    try:
        # mysql-connector's errors take sqlstate= and format it into str().
        return flavoured(message, sqlstate=cls.sqlstate)  # type: ignore[call-arg]
    except TypeError:
        # psycopg's and our own take positional arguments only; sqlstate is a class attribute.
        return flavoured(message)
