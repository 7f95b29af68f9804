"""No code outside the driver dialects branches on a driver's name.

What differs between psycopg and mysql-connector (session attributes, probes, TLS keywords,
abort support, transaction status...) is a method or attribute of the driver dialect
(``sturdydb/drivers/``). A ``driver.name == "psycopg"`` elsewhere is knowledge in the wrong
place: a third driver would silently take the other branch. This scans the sources of every
package of the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DRIVERS = ROOT / "packages" / "core" / "src" / "sturdydb" / "_drivers"
_NAMES = r"""["'](?:psycopg|psycopg2|psycopg3|mysql|mysql-connector|mysql-connector-python)["']"""
PATTERNS = [
    re.compile(r"\bdriver\.name\s*(?:==|!=)"),                      # driver.name == ...
    re.compile(r"\bdriver\.name\s+(?:not\s+)?in\s*[\(\[\{]"),       # driver.name in ("psycopg", ...)
    re.compile(rf"\.name\s*(?:==|!=)\s*{_NAMES}"),                  # anything.name == "psycopg"
    re.compile(rf"{_NAMES}\s*(?:==|!=)\s*[\w.]*\bname\b"),           # "psycopg" == driver.name
]

# Paths still allowed to compare the driver's name, each with the reason. An entry that no
# longer matches anything fails below, so the list cannot go stale.
ALLOWED: dict[str, str] = {
    "packages/testing/src/sturdydb_testing/drivers.py":
        "the scenarios' connect helper asserts that sturdydb detected the driver it was handed; no branch",
}


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.glob("packages/*/src/**/*.py") if DRIVERS not in p.parents)


def _offences() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in _sources():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if any(p.search(line) for p in PATTERNS):
                found.setdefault(path.relative_to(ROOT).as_posix(), []).append(f"{number}: {line.strip()}")
    return found


def test_the_scan_sees_every_package_and_the_patterns_match() -> None:
    packages = {p.relative_to(ROOT).parts[1] for p in _sources()}
    assert {"core", "plugin-failover", "plugin-efm", "plugin-iam"} <= packages
    assert (DRIVERS / "base.py").is_file(), "the driver dialects moved: point DRIVERS at them"
    assert not any(DRIVERS in p.parents for p in _sources())
    for line in ('if ctx.driver.name == "psycopg":', "if driver.name != 'mysql-connector-python':",
                 'if request.context.driver.name in ("psycopg",):', 'if "psycopg" == driver.name:',
                 'x = conn.driver.name == "mysql"'):
        assert any(p.search(line) for p in PATTERNS), line
    for line in ('log.info("driver %s", driver.name)', "key = (host, slot.driver.name)",
                 'name: ClassVar[str] = "psycopg"', "if ctx.driver.name not in _warned:"):
        assert not any(p.search(line) for p in PATTERNS), line


def test_no_driver_name_checks_outside_the_driver_dialects() -> None:
    offences = _offences()
    unexpected = {path: lines for path, lines in offences.items() if path not in ALLOWED}
    assert not unexpected, (
        "driver-name checks outside sturdydb/_drivers/ (make it a DriverDialect method or "
        f"attribute): {unexpected}"
    )


def test_the_allow_list_holds_only_paths_that_still_need_it() -> None:
    offences = _offences()
    stale = [path for path in ALLOWED if path not in offences]
    assert not stale, f"remove these from ALLOWED, they no longer check a driver name: {stale}"
