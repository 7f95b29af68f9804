"""The installed plugins' entry points, listed once per installation rather than once per process.

Listing entry points with ``importlib.metadata`` reads every installed distribution's
``entry_points.txt`` (a hundred files in a typical environment) and costs 5-20 ms, plus
importing ``importlib.metadata`` itself when the driver did not: the largest part of a short
process's first connect. The listing of sturdydb's two groups is therefore kept in a small
JSON file in the user's cache directory, keyed by what decides it: the interpreter, ``sys.path``
and the modification time of every ``sys.path`` entry (installing, upgrading or removing a
distribution adds or removes a folder in its ``site-packages``, which changes that folder's
time). A stale or unreadable file is simply listed again; a cache directory that cannot be
written is no error. ``STURDYDB_CACHE_DIR`` moves the file; set it to an empty string to turn
the cache off.

The file also keeps, per plugin code, the property names and prefixes its published info (or
its contribution hooks) declared, with the modification times of the modules that declared
them. The catalog uses them to decide, without importing anything, that a property name
belongs to no plugin it has not read yet; a module changed since makes that entry unknown, and
the catalog reads the plugin as it would without a cache.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib import metadata

__all__ = ["EntryRef", "Listing", "listing"]

log = logging.getLogger("sturdydb.discovery")

_FORMAT = 1


class EntryRef:
    """One entry point, as ``importlib.metadata.EntryPoint`` offers it, without importing that.

    ``dist`` is built on first use (a distribution's name and version are read from its
    METADATA file: only for an error message or ``sturdydb doctor``).
    """

    __slots__ = ("_dist", "dist_path", "group", "name", "value")

    def __init__(self, group: str, name: str, value: str, dist_path: str | None,
                 dist: metadata.Distribution | None = None) -> None:
        self.group = group
        self.name = name
        self.value = value
        self.dist_path = dist_path
        self._dist = dist

    @property
    def dist(self) -> metadata.Distribution | None:
        if self._dist is None and self.dist_path is not None:
            import pathlib
            from importlib import metadata

            self._dist = metadata.PathDistribution(pathlib.Path(self.dist_path))
        return self._dist

    def load(self) -> Any:
        """Import the module and return the object the entry point names (as EntryPoint.load)."""
        import importlib

        module_name, _, attrs = self.value.partition(":")
        found: Any = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            found = getattr(found, attr)
        return found

    def __repr__(self) -> str:
        return f"EntryRef({self.group}: {self.name} = {self.value})"


class Declared:
    """The property names a plugin declared, and the modules (with their times) that declared them.

    A plain class: this module is imported with ``sturdydb``, where a dataclass's definition
    would cost every process about a millisecond.
    """

    __slots__ = ("dialects", "files", "prefixes", "properties")

    def __init__(self, properties: frozenset[str], prefixes: tuple[str, ...], dialects: bool,
                 files: tuple[tuple[str, int], ...]) -> None:
        self.properties = properties
        self.prefixes = prefixes
        self.dialects = dialects
        self.files = files

    def still_current(self) -> bool:
        for path, mtime in self.files:
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return False
            except OSError:
                return False
        return True

    def same_as(self, other: Declared) -> bool:
        return (self.properties, self.prefixes, self.dialects, self.files) == (
            other.properties, other.prefixes, other.dialects, other.files)

    def may_declare(self, name: str) -> bool:
        return name in self.properties or any(name.startswith(p) for p in self.prefixes)


class Listing:
    """The entry points of sturdydb's groups and what is known of each code's declarations."""

    def __init__(self, entries: list[EntryRef], declared: dict[str, Declared], path: str | None,
                 key: list[Any], paths: list[list[Any]]) -> None:
        self.entries = entries
        self._declared = declared
        self._path = path
        self._key = key
        self._paths = paths
        self._lock = threading.Lock()
        self._changed = False

    def group(self, group: str) -> list[EntryRef]:
        return [e for e in self.entries if e.group == group]

    def declared(self, code: str) -> Declared | None:
        """What ``code`` declares, when known and its modules are unchanged since."""
        found = self._declared.get(code)
        if found is not None and not found.still_current():
            return None
        return found

    def remember(self, code: str, properties: Iterable[str], prefixes: Iterable[str], dialects: bool,
                 modules: Iterable[str]) -> None:
        """Record what ``code`` declared, read from ``modules`` (names in ``sys.modules``), and save."""
        files: list[tuple[str, int]] = []
        for name in sorted(set(modules)):
            path = getattr(sys.modules.get(name), "__file__", None)
            if not path:
                continue
            try:
                files.append((path, os.stat(path).st_mtime_ns))
            except OSError:
                return  # cannot be checked later: do not remember it
        found = Declared(frozenset(properties), tuple(prefixes), dialects, tuple(files))
        with self._lock:
            known = self._declared.get(code)
            if known is not None and known.same_as(found):
                return  # read from the cache file and unchanged: nothing to write
            self._declared[code] = found
            self._changed = True

    def save(self) -> None:
        """Write the file if something was remembered since it was read (one write per batch)."""
        with self._lock:
            if self._changed:
                self._save()
                self._changed = False

    def _save(self) -> None:
        if self._path is None:
            return
        data = {
            "format": _FORMAT,
            "key": self._key,
            "paths": self._paths,
            "entry_points": [[e.group, e.name, e.value, e.dist_path] for e in self.entries],
            "declared": {
                code: {"properties": sorted(d.properties), "prefixes": list(d.prefixes),
                       "dialects": d.dialects, "files": [list(f) for f in d.files]}
                for code, d in self._declared.items()
            },
        }
        tmp = f"{self._path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(os.path.dirname(self._path), exist_ok=True)
            text = json.dumps(data)  # dumps, not dump: the C encoder, one write
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self._path)  # atomic: a concurrent reader sees the old or the new file
        except OSError as exc:
            log.debug("could not write the plugin listing cache %s: %s", self._path, exc)
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _cache_dir() -> str | None:
    configured = os.environ.get("STURDYDB_CACHE_DIR")
    if configured is not None:
        return configured or None  # empty: no cache
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sturdydb")


def _holds_distributions(path: str) -> bool:
    try:
        with os.scandir(path) as found:
            return any(e.name.endswith((".dist-info", ".egg-info", ".egg-link")) for e in found)
    except OSError:
        return False


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _path_states() -> list[list[Any]]:
    """Each ``sys.path`` entry with its modification time and whether it holds distributions."""
    return [[entry, _mtime(entry or "."), _holds_distributions(entry or ".")] for entry in sys.path]


def _paths_unchanged(stored: Any) -> bool:
    """Whether the distributions on ``sys.path`` are those the cache file was written for.

    Installing, upgrading or removing a distribution adds or removes a folder in its
    ``site-packages`` and so changes that folder's time. A folder that holds no distribution
    (the script's folder, ``/tmp``, an editable install's ``src``) does not matter, whether it
    is on the path or not and whatever changes in it: it is looked into only when it is new to
    the path or its time changed, and counts only if it now holds one. So scripts run from
    different folders share the file, and the common case costs one ``stat`` per entry.
    """
    if not isinstance(stored, list):
        return False
    known = {entry: (mtime, holds) for entry, mtime, holds in stored}
    holding = [entry for entry, _, holds in stored if holds]
    seen: list[str] = []
    for entry in sys.path:
        found = known.get(entry)
        if found is not None and _mtime(entry or ".") == found[0]:
            if found[1]:
                seen.append(entry)
            continue
        if (found is not None and found[1]) or _holds_distributions(entry or "."):
            return False  # a folder of distributions changed, or one joined the path
    return seen == holding  # none left the path, and their order (which one wins) is the same


def _key(groups: tuple[str, ...]) -> list[Any]:
    """What the listing depends on besides ``sys.path``: interpreter, metadata finders, groups."""
    finders = [f"{type(f).__module__}.{type(f).__qualname__}" for f in sys.meta_path
               if hasattr(f, "find_distributions")]
    return [_FORMAT, sys.executable, sys.version, finders, list(groups)]


def _scan(groups: tuple[str, ...]) -> list[EntryRef]:
    from importlib import metadata

    everything = metadata.entry_points()  # one scan of the installed distributions
    found: list[EntryRef] = []
    for group in groups:
        for ep in everything.select(group=group):
            dist = ep.dist
            path = getattr(dist, "_path", None)
            found.append(EntryRef(group, ep.name, ep.value, None if path is None else str(path), dist))
    return found


def _read(path: str, key: list[Any]) -> Listing | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("format") != _FORMAT or data.get("key") != key or not _paths_unchanged(data.get("paths")):
            return None
        entries = [EntryRef(g, n, v, p) for g, n, v, p in data["entry_points"]]
        declared = {
            code: Declared(frozenset(d["properties"]), tuple(d["prefixes"]), bool(d["dialects"]),
                           tuple((str(p), int(m)) for p, m in d["files"]))
            for code, d in data.get("declared", {}).items()
        }
        return Listing(entries, declared, path, key, data["paths"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.debug("plugin listing cache %s not used: %s", path, exc)
        return None


def listing(groups: tuple[str, ...], *, rescan: bool = False) -> Listing:
    """The entry points of ``groups``: from the cache file when it is current, else scanned."""
    key = _key(groups)
    directory = _cache_dir()
    path = None
    if directory is not None:
        # One file per interpreter (a virtual environment has its own): a changed sys.path
        # replaces its content rather than adding files. A CRC, not hashlib: importing hashlib
        # loads OpenSSL (about 1 ms of every first connect), and a collision is harmless since
        # the file's key (interpreter, version, paths) is checked on reading.
        digest = format(zlib.crc32(f"{sys.executable}\0{sys.prefix}\0{sys.version}".encode()), "08x")
        path = os.path.join(directory, f"plugins-{digest}.json")
        if not rescan:
            cached = _read(path, key)
            if cached is not None:
                return cached
    paths = _path_states()  # before the scan: a change during it makes the next process rescan
    found = Listing(_scan(groups), {}, path, key, paths)
    with found._lock:
        found._save()
    return found
