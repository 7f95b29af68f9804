"""The error read/write splitting raises when the application asks for a switch it cannot make."""

from __future__ import annotations

from sturdydb import InterfaceError

__all__ = ["ReadWriteSplittingError"]


class ReadWriteSplittingError(InterfaceError):
    """``read_only`` could not move the connection (inside a transaction, or no writer reachable).

    The connection is unchanged: it stays where it was, with the ``read_only`` value it had.
    (The reference wrapper's class of the same name is also an ``InterfaceError``.)
    """
