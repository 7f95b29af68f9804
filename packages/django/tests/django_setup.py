"""A minimal Django configuration for the tests (``settings.configure``), and databases added
at run time (the clusters' addresses are known only once their fixtures started them)."""

from __future__ import annotations

import uuid
from typing import Any

import django
from django.conf import settings


def configure() -> None:
    if not settings.configured:
        settings.configure(DATABASES={}, INSTALLED_APPS=[], USE_TZ=True, TIME_ZONE="UTC", DEBUG=False)
        django.setup()


def add_database(engine: str, *, host: str, port: int, user: str, password: str, name: str,
                 options: dict[str, Any], **extra: Any) -> str:
    """Register a database under a new alias and return the alias."""
    from django.db import connections

    configure()
    alias = f"db_{uuid.uuid4().hex[:8]}"
    db = {"ENGINE": engine, "HOST": host, "PORT": port, "USER": user, "PASSWORD": password,
          "NAME": name, "OPTIONS": options, **extra}
    filled = connections.configure_settings({"default": {"ENGINE": "django.db.backends.dummy"}, alias: db})
    connections.settings[alias] = filled[alias]
    return alias


def unit_model(app_label: str = "sturdydb_django_tests") -> type[Any]:
    """A fresh model class (and table name) for one test."""
    from django.db import models

    name = f"Unit{uuid.uuid4().hex[:8]}"
    meta = type("Meta", (), {"app_label": app_label, "db_table": f"dj_{name.lower()}",
                             "unique_together": [("worker", "seq", "part")]})
    attrs = {
        "__module__": __name__,
        "Meta": meta,
        "worker": models.IntegerField(),
        "seq": models.IntegerField(),
        "part": models.IntegerField(),
        "node": models.CharField(max_length=64),
    }
    return type(name, (models.Model,), attrs)
