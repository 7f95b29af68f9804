"""``python -m sturdydb ...``: the same tool as the ``sturdydb`` console script.

Owns nothing but the hand-over to the command-line module, so that the tool also works where
the console script is not on PATH (a venv that is not activated, ``pipx run``, containers).
"""

from __future__ import annotations

from sturdydb._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
