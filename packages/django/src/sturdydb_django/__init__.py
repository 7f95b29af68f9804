"""Django database backends that open their connections through sturdydb.

``ENGINE: "sturdydb_django.postgresql"`` (Django's PostgreSQL backend on psycopg 3) and
``ENGINE: "sturdydb_django.mysql"`` (mysql-connector's Django backend). ``OPTIONS`` carries
sturdydb properties (``plugins``, ``profile_name``, every plugin's properties) next to the
driver's own. The engine names are ``sturdydb_django.*`` rather than ``sturdydb.django.*``
because the project uses no namespace packages: ``sturdydb`` is the core distribution's.
"""

from __future__ import annotations

from sturdydb_django._common import is_usable

__all__ = ["is_usable"]
