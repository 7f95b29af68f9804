"""Entry point for ``python -m sturdydb_testing`` (see :mod:`sturdydb_testing.cli`)."""

from __future__ import annotations

import sys

from sturdydb_testing.cli import main

if __name__ == "__main__":
    sys.exit(main())
