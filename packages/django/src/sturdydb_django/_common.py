"""What both backends share: the health check that understands a failover.

Django's ``CONN_HEALTH_CHECKS`` (and the end-of-request check after an error) call
``is_usable()``. A sturdydb connection whose ``SELECT 1`` failed over with
:class:`sturdydb.FailoverSuccessError` already holds a connection to the new writer, so it is
usable: Django keeps it (no reconnect). After an unknown outcome (08007) or a failed failover
(08001) it is reported unusable and Django opens a new one, which sturdydb routes to the
verified writer.
"""

from __future__ import annotations

from typing import Any

import sturdydb


def is_usable(connection: Any, error: type[BaseException]) -> bool:
    """``SELECT 1`` through sturdydb's plugins (never the driver's ``ping`` directly)."""
    if connection is None:
        return False
    try:
        cursor = connection.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            cursor.close()
    except sturdydb.FailoverSuccessError:
        return True  # replaced by a connection to the new writer; nothing was lost
    except error:
        return False
    return True
