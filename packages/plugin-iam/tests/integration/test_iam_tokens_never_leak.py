"""No IAM token (or its signature) appears in any log line, repr or error message.

Every logger is captured at DEBUG, including botocore's signer and mysql-connector's auth
plugins, which log the signature and the clear-text token unless sturdydb-iam masks them.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import pytest


def test_tokens_stay_out_of_logs_reprs_and_errors(secret_log: Any, iam_db: Any, token_spy: list[str]) -> None:
    texts: list[str] = []
    conn = iam_db.connect()
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    plugin = conn.context.pipeline.get("iam")
    texts += [repr(conn), repr(conn.context), repr(conn.context.props), repr(plugin), repr(plugin.tokens),
              repr(list(plugin.tokens._entries.values()))]
    conn.close()
    iam_db.connect().close()  # cached
    time.sleep(5.1)
    # The cached token is stale for the server; the retry's fresh one keeps 4 s of slack
    # (SigV4 dates have whole seconds).
    iam_db.validator.clock = lambda: time.time() + 895
    iam_db.connect().close()  # refused, then one retry
    iam_db.validator.clock = time.time
    with pytest.raises(iam_db.login_error) as info:
        iam_db.connect(user="intruder")
    texts += [str(info.value), repr(info.value), *getattr(info.value, "__notes__", [])]

    assert len(token_spy) == 3
    signatures = [parse_qs(t.partition("/?")[2])["X-Amz-Signature"][0] for t in token_spy]
    secret_log.assert_absent(*token_spy, *signatures)
    for text in texts:
        for secret in (*token_spy, *signatures):
            assert secret not in text
    # The capture saw the libraries' own debug lines, so the check above means something.
    assert any(line.startswith("botocore.auth: Signature:") for line in secret_log.lines)
    if iam_db.driver.name == "mysql-connector-python":  # the only driver that logs them
        assert any("# request: ***" in line for line in secret_log.lines)
