"""docs/configuration.md is generated from the property registry of every installed package.

This runs in the integration session, where every package of the repository is installed,
so the registry holds every property. Regenerate with
``sturdydb properties --markdown > docs/configuration.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sturdydb._cli import properties_markdown
from sturdydb._discovery import reload_catalog

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[4] / "docs" / "configuration.md"


def test_configuration_reference_matches_the_registry() -> None:
    cat = reload_catalog()
    for code in ("failover", "host_monitoring", "iam", "aws_secrets_manager", "federated_auth", "okta"):
        assert code in cat.entries, f"{code} must be installed for this test (nox -s integration)"
    assert DOC.read_text() == properties_markdown(), (
        "docs/configuration.md is stale: run `sturdydb properties --markdown > docs/configuration.md`"
    )
