"""No password or secret content appears in any log line, repr or error message.

Every logger is captured at DEBUG, including botocore's response-body log, which holds the
secret value, and mysql-connector's authentication log, which holds the password, unless
sturdydb-secrets-manager masks them.
"""

from __future__ import annotations

from typing import Any

import pytest


def test_secret_values_stay_out_of_logs_reprs_and_errors(secret_db: Any) -> None:
    log = secret_db.log
    texts: list[str] = []
    conn = secret_db.connect()
    plugin = conn.context.pipeline.get("aws_secrets_manager")
    texts += [repr(conn), repr(conn.context), repr(conn.context.props), repr(plugin), repr(plugin.secrets),
              repr([e.value for e in plugin.secrets._entries.values()])]
    conn.close()
    secret_db.rotate("second-password-0002")
    secret_db.connect().close()  # refused, refetched, retried
    secret_db.passwords.set("ledger_app", "server-side-only-password-03")
    with pytest.raises(secret_db.login_error) as info:
        secret_db.connect()
    texts += [str(info.value), repr(info.value), *getattr(info.value, "__notes__", [])]

    secrets = ("first-password-0001", "second-password-0002", "server-side-only-password-03")
    log.assert_absent(*secrets)
    for text in texts:
        for secret in secrets:
            assert secret not in text
    # The capture saw botocore's response bodies (and mysql-connector's auth requests), so the
    # check above means something.
    assert any(line.startswith("botocore.parsers: Response body") for line in log.lines)
    if secret_db.driver.name == "mysql-connector-python":  # the only driver that logs them
        assert any("# request: ***" in line for line in log.lines)
