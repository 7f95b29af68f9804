"""The error this plugin adds to sturdydb's: a call or connect held too long by a switchover.

Everything else the application sees comes from sturdydb's own tree (see the README):
``FailoverSuccessError`` (a call that was held and not sent, or not applied, and may be run
again), ``TransactionResolutionUnknownError`` (a transaction that the switchover ended; it was
rolled back), ``StatementOutcomeUnknownError`` (a statement in flight when the switchover
dropped the connection).
"""

from __future__ import annotations

from sturdydb import OperationalError

__all__ = ["SwitchoverInProgressError"]


class SwitchoverInProgressError(OperationalError):
    """A Blue/Green switchover was still in progress when the hold time ran out.

    Raised by a connect held longer than ``bg_connect_timeout_ms`` or a call held longer than
    ``bg_switchover_timeout_ms``. Nothing was sent to the server: the connect was not
    attempted, the statement was not run. It is safe to try again later. Like every sturdydb
    error it is also the driver's ``OperationalError``.
    """

    sqlstate = "08001"
