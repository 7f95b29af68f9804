"""The parts every AWS plugin shares: log masking filters, the refusal note, ``aws_profile``."""

from __future__ import annotations

import logging
import sys
import uuid

import pytest

from sturdydb.plugin_api import PropertyRegistry
from sturdydb_aws.properties import AWS_PROFILE_PROPERTY, AWS_PROPERTY_OWNER
from sturdydb_aws.redaction import MASK, ArgumentMask, MessageRedactor, install_filters
from sturdydb_aws.refusals import explain_refusal


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.DEBUG, __file__, 1, msg, args, None)


def test_argument_mask_masks_only_records_with_its_prefix() -> None:
    mask = ArgumentMask("Signature:")
    hit, miss = record("Signature:\n%s", "deadbeef"), record("StringToSign:\n%s", "public")
    assert mask.filter(hit) and mask.filter(miss)
    assert hit.getMessage() == f"Signature:\n{MASK}"
    assert miss.getMessage() == "StringToSign:\npublic"


def test_argument_mask_keeps_later_arguments_and_masks_inline_values() -> None:
    mask = ArgumentMask("# request:")
    with_args = record("# request: %s (%d bytes)", b"token", 5)
    inline = record("# request: b'token'")
    mask.filter(with_args)
    mask.filter(inline)
    assert with_args.getMessage() == f"# request: {MASK} (5 bytes)"
    assert inline.getMessage() == f"# request: {MASK}"


def test_argument_mask_with_a_condition_masks_only_matching_arguments() -> None:
    mask = ArgumentMask("Response body", "<masked>", when=lambda body: isinstance(body, bytes) and b"Secret" in body)
    secret, plain = record("Response body:\n%s", b"{Secret: x}"), record("Response body:\n%s", b"{}")
    bare = record("Response body: none")
    for r in (secret, plain, bare):
        mask.filter(r)
    assert secret.getMessage() == "Response body:\n<masked>"
    assert plain.getMessage() == "Response body:\nb'{}'"
    assert bare.getMessage() == "Response body: none"


def test_message_redactor_rewrites_only_changed_messages() -> None:
    redactor = MessageRedactor(lambda text: text.replace("hunter2", MASK))
    changed, same = record("password=%s", "hunter2"), record("count=%d", 3)
    redactor.filter(changed)
    redactor.filter(same)
    assert changed.getMessage() == f"password={MASK}" and changed.args is None
    assert same.args == (3,)


def test_filters_are_installed_once_per_owner_and_logger() -> None:
    name = f"sturdydb.test.{uuid.uuid4().hex}"
    made: list[str] = []

    def factory(owner: str) -> logging.Filter:
        made.append(owner)
        return ArgumentMask("x")

    install_filters("one", {name: lambda: factory("one")})
    install_filters("one", {name: lambda: factory("one")})
    install_filters("two", {name: lambda: factory("two")})
    assert made == ["one", "two"]
    assert len(logging.getLogger(name).filters) == 2


def test_explain_refusal_adds_a_note_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    exc = RuntimeError("password authentication failed")
    log = logging.getLogger("sturdydb.test.refusal")
    with caplog.at_level(logging.WARNING, logger=log.name):
        explain_refusal(exc, "check the user", log)
    assert getattr(exc, "__notes__", None) == (["check the user"] if sys.version_info >= (3, 11) else None)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (log.name, logging.WARNING, "check the user")]


def test_the_shared_aws_profile_is_one_declaration_whoever_contributes_it() -> None:
    registry = PropertyRegistry()
    registry.add([AWS_PROFILE_PROPERTY])
    registry.add([AWS_PROFILE_PROPERTY])  # a second AWS plugin contributes the same object
    assert registry.get("aws_profile") is AWS_PROFILE_PROPERTY
    assert AWS_PROFILE_PROPERTY.owner == AWS_PROPERTY_OWNER == "aws"
