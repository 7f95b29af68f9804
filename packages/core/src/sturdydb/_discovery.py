"""Plugin discovery: what is installed, what each code means, and what it contributes.

The catalog lists the entry-point group ``sturdydb.plugins`` once per process (and again after
:func:`reload_catalog`), calls the contribution hooks on every installed plugin class, and
answers "which class is code X" with errors that help: the installed codes, the closest one,
and, for a code whose distribution is installed but broken, what is broken.

The core knows no plugin by name. Codes, properties and presets come from the installed
distributions themselves (their entry points and contribution hooks). A plugin that is *not*
installed cannot contribute anything, so for an unknown code the error cannot honestly name the
distribution to install: it names the closest installed code and says where plugins come from
(a distribution that publishes the code in the ``sturdydb.plugins`` entry-point group; sturdydb's
own are listed in its documentation). It deliberately does not guess a ``pip install`` name
from the code: a guessed name is wrong for many codes (``host_monitoring`` ships in
sturdydb-efm) and could point at a look-alike package on the index.

A broken third-party distribution never breaks every connect: an entry point that fails to
load, a class that is not a plugin, an unknown (misspelled) hook implementation, or a
contribution hook that raises is logged at ERROR, recorded in :attr:`PluginCatalog.errors`
(``sturdydb doctor`` shows them), and leaves that plugin out; selecting its code then raises an
error that says it is installed but broken, and why.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pluggy

from sturdydb import hookspecs
from sturdydb._errors import ConfigurationError
from sturdydb._plugin import Plugin, PluginInfo
from sturdydb._plugin_listing import EntryRef, Listing, listing
from sturdydb._profiles import BUILTIN_PROFILES, Profile, user_profiles
from sturdydb._properties import CORE_PROPERTIES, REFERENCE_ONLY_CORE_PROPERTIES, PropertyRegistry

if TYPE_CHECKING:
    from importlib import metadata

    from sturdydb._dialects.base import DatabaseDialect

#: An entry point in ``sturdydb.plugins``, and its info in ``sturdydb.plugin_info`` if published.
_Pending = tuple[EntryRef, "EntryRef | None"]

__all__ = [
    "ENTRY_POINT_GROUP",
    "INFO_ENTRY_POINT_GROUP",
    "PluginCatalog",
    "catalog",
    "check_hook_names",
    "register_plugin",
    "reload_catalog",
    "unregister_plugin",
]

log = logging.getLogger("sturdydb.discovery")

ENTRY_POINT_GROUP = "sturdydb.plugins"
#: Cheap metadata of plugins (:class:`~sturdydb._plugin.PluginInfo`), by code.
INFO_ENTRY_POINT_GROUP = "sturdydb.plugin_info"

#: How an unknown code's error says where plugins come from (no distribution is guessed).
WHERE_PLUGINS_COME_FROM = (
    "a plugin code is provided by an installed distribution that publishes it in the "
    f"{ENTRY_POINT_GROUP!r} entry-point group (sturdydb's own plugins and the distribution of "
    "each are listed in the sturdydb documentation, docs/getting-started.md), or by "
    "sturdydb.register_plugin() in the application"
)


def hook_names() -> frozenset[str]:
    """The names of every hook specification (what a plugin may implement)."""
    return frozenset(
        name for name in dir(hookspecs)
        if name.startswith(f"{hookspecs.PROJECT}_") and callable(getattr(hookspecs, name))
    )


def check_hook_names(cls: type[Plugin]) -> None:
    """Raise :class:`ConfigurationError` when ``cls`` has a ``sturdydb_*`` attribute that is no hook.

    pluggy itself only sees attributes marked with ``@hookimpl`` (an unmarked misspelling would
    be ignored in silence) and reports a marked one without a spec only on ``check_pending``;
    this check covers both, naming the plugin, the attribute and the closest hook name.
    """
    known = hook_names()
    for name in dir(cls):
        if not name.startswith(f"{hookspecs.PROJECT}_") or name in known:
            continue
        import difflib  # only an error needs it: not imported with sturdydb

        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigurationError(
            f"plugin class {cls.__module__}.{cls.__qualname__} (code {cls.code!r}) implements "
            f"{name!r}, which is not a sturdydb hook{hint}; rename it to one of the hooks in "
            f"sturdydb.hookspecs: {', '.join(sorted(known))}"
        )


class PluginEntry:
    """One installed plugin: its code, where it comes from, and its class (imported on demand).

    A plugin whose distribution publishes a :class:`~sturdydb._plugin.PluginInfo` is known by
    that info until a connection selects it; :attr:`cls` then imports it (once), checks it as
    the catalog build checks eagerly loaded ones, and raises ``ConfigurationError`` saying why
    when it is broken.
    """

    __slots__ = ("_cls", "_dist", "_load", "_name", "_version", "code", "in_default_chain", "weight")

    def __init__(
        self, code: str, cls: type[Plugin] | None, distribution: str | metadata.Distribution | EntryRef | None,
        version: str | None = None, *, weight: int | None = None,
        in_default_chain: bool | None = None, load: Callable[[], type[Plugin]] | None = None,
    ) -> None:
        self.code = code
        # A Distribution's name and version are read from its METADATA file (an e-mail parse
        # each): only when someone asks (doctor, an error), never on the connect path.
        self._dist = distribution
        self._name = distribution if isinstance(distribution, str) else None
        self._version = version
        self._cls = cls
        self._load = load
        self.weight = cls.weight if cls is not None else int(weight or 0)
        self.in_default_chain = (cls.in_default_chain if cls is not None
                                 else bool(in_default_chain))

    @property
    def distribution(self) -> str:
        if self._name is None:
            self._name = _dist_name(self._dist)
        return self._name

    @property
    def version(self) -> str:
        if self._version is None:
            dist = self._dist
            if isinstance(dist, EntryRef):
                dist = dist.dist
            self._version = "?" if isinstance(dist, str) or dist is None else dist.version
        return self._version

    @property
    def loaded(self) -> bool:
        return self._cls is not None

    @property
    def cls(self) -> type[Plugin]:
        found = self._cls
        if found is None:
            assert self._load is not None
            with _lock:
                if self._cls is None:
                    self._cls = self._load()
                found = self._cls
        return found

    def __repr__(self) -> str:
        return f"<PluginEntry {self.code} from {self.distribution} {self.version}>"


@dataclass
class PluginCatalog:
    """Everything installed: plugins by code (and alias), properties, profiles, dialects."""

    entries: dict[str, PluginEntry] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    registry: PropertyRegistry = field(
        default_factory=lambda: PropertyRegistry((*CORE_PROPERTIES, *REFERENCE_ONLY_CORE_PROPERTIES)))
    contributed_profiles: dict[str, Profile] = field(default_factory=dict)
    dialects: list[DatabaseDialect] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Codes published by an installed distribution whose plugin could not be used: code ->
    #: why (failed import, not a plugin class, unknown hook, a contribution hook that raised).
    broken: dict[str, str] = field(default_factory=dict)
    #: Codes an installed distribution knows but does not provide: code -> (what to use
    #: instead, the distribution that says so).
    refused: dict[str, tuple[str, str | metadata.Distribution | EntryRef | None]] = field(default_factory=dict)
    #: Installed plugins not read yet (neither their info nor their class): code -> entry
    #: points. A connect reads only what it needs (see :meth:`complete`).
    pending: dict[str, _Pending] = field(default_factory=dict, repr=False)
    #: Profiles of plugin infos whose source is their distribution, named on first use.
    profile_sources: dict[str, EntryRef] = field(default_factory=dict, repr=False)
    listing: Listing | None = field(default=None, repr=False)

    # -- reading installed plugins on demand ---------------------------------------------
    def _name_profile_sources(self) -> None:
        for name, ep in list(self.profile_sources.items()):
            found = self.contributed_profiles.get(name)
            if found is not None and found.source == "core":
                self.contributed_profiles[name] = replace(found, source=_dist_name(ep))
            self.profile_sources.pop(name, None)

    def complete(self) -> PluginCatalog:
        """Read every installed plugin not read yet; afterwards every field is whole.

        The connect path reads only the plugins it selects (and those whose declared names a
        property lookup needs); :func:`catalog`, ``sturdydb doctor`` and anything that lists
        all codes, aliases, presets or properties call this first.
        """
        if self.pending:
            with _lock:
                for code in list(self.pending):
                    self._read(code)
            self._save_listing()
        self.registry.on_miss = None
        return self

    def _save_listing(self) -> None:
        if self.listing is not None:
            self.listing.save()

    def _read(self, code: str) -> None:
        """Read one pending plugin: its info (cheap), or its class when it publishes none."""
        pending = self.pending.pop(code, None)
        if pending is None:
            return
        ep, info_ep = pending
        before = set(sys.modules)
        declared: tuple[list[str], list[str], bool] | None = None
        info = _add_info(self, info_ep, ep) if info_ep is not None else None
        if info is not None:
            specs = list(info.properties)
            declared = ([s.name for s in specs if not s.prefix], [s.name for s in specs if s.prefix], False)
        else:
            found = _load_class(self, ep)
            if found is not None:
                declared = _add_classes(self, [found]).get(found[0].code)
        if declared is not None and self.listing is not None:
            modules = [m for m in sys.modules if m not in before]
            if info_ep is not None:  # the info module may have been imported already (a sibling's)
                modules.append(info_ep.value.partition(":")[0].strip())
            self.listing.remember(code, *declared, modules=modules)
        if not self.pending:
            self.registry.on_miss = None

    def _read_for_property(self, name: str | None) -> None:
        """The registry's miss handler: read the pending plugins that may declare ``name``.

        A plugin whose declared names the listing cache knows (unchanged since) and which does
        not declare ``name`` stays unread; ``None`` (list every property) reads all.
        """
        with _lock:
            for code in list(self.pending):
                known = self.listing.declared(code) if self.listing is not None else None
                if name is None or known is None or known.may_declare(name):
                    self._read(code)
            if not self.pending:
                self.registry.on_miss = None
        self._save_listing()

    def contributed_dialects(self) -> list[DatabaseDialect]:
        """The dialects the installed plugins contribute (reading those that may contribute)."""
        if self.pending:
            with _lock:
                for code in list(self.pending):
                    known = self.listing.declared(code) if self.listing is not None else None
                    if known is None or known.dialects:
                        self._read(code)
            self._save_listing()
        return self.dialects

    def _ensure(self, code: str) -> None:
        """Read what resolving ``code`` needs: its own plugin, or everything for another name."""
        if code in self.pending:
            with _lock:
                self._read(code)
            self._save_listing()
        if self.pending and self.aliases.get(code, code) not in self.entries:
            self.complete()  # an alias, a refused or an unknown code: any plugin may know it

    def read_selected(self, plugins: str) -> None:
        """Read the plugins named in a ``plugins`` value (before its properties are checked)."""
        if self.pending:
            for code in plugins.split(","):
                if code.strip():
                    self._ensure(code.strip())

    def codes(self) -> list[str]:
        self.complete()
        return sorted(self.entries)

    def load_all(self) -> None:
        """Import every plugin still known only by its info (``sturdydb doctor`` checks them all)."""
        self.complete()
        for entry in list(self.entries.values()):
            if not entry.loaded:
                try:
                    entry.cls  # noqa: B018 - the import is the point
                except ConfigurationError:
                    pass  # recorded in errors/broken by the loader

    def resolve(self, code: str) -> PluginEntry:
        """The installed plugin for ``code`` (or one of its aliases), else a helpful error."""
        self._ensure(code)
        canonical = self.aliases.get(code, code)
        entry = self.entries.get(canonical)
        if entry is not None:
            if not entry.loaded:
                entry.cls  # noqa: B018 - import it now: a broken plugin fails here, saying why
            return entry
        refused = self.refused.get(code)
        if refused is not None:
            instead, dist = refused
            raise ConfigurationError(
                f"plugin code {code!r} is not provided by the installed sturdydb distributions: "
                f"{instead} (explained by the installed distribution {_dist_name(dist)}); otherwise "
                "leave the code out of 'plugins'"
            )
        broken = self.broken.get(code) or self.broken.get(canonical)
        if broken is not None:
            raise ConfigurationError(
                f"plugin code {code!r} is installed but cannot be used: {broken}. Fix or "
                "reinstall that distribution, or leave the code out of 'plugins'"
            )
        installed = self.codes()
        parts = [f"unknown plugin code {code!r}"]
        import difflib  # only an error needs it: not imported with sturdydb

        close = difflib.get_close_matches(code, installed + list(self.aliases), n=1, cutoff=0.6)
        if close:
            parts.append(f"did you mean {close[0]!r}?")
        parts.append("installed plugins: " + (", ".join(installed) if installed else "none"))
        parts.append(WHERE_PLUGINS_COME_FROM)
        raise ConfigurationError("; ".join(parts))

    def check_profile_plugins(self, profile: Profile) -> None:
        """Raise when ``profile`` names a plugin code that is not installed (or is broken)."""
        if not profile.plugins:
            return
        self.complete()
        codes = [c.strip() for c in profile.plugins.split(",") if c.strip()]
        missing = [c for c in codes if self.aliases.get(c, c) not in self.entries]
        if not missing:
            return
        why = [f"{c!r} ({self.broken[c]})" if c in self.broken
               else f"{c!r} ({self.refused[c][0]})" if c in self.refused
               else repr(c) for c in missing]
        raise ConfigurationError(
            f"profile {profile.name!r} (from {profile.source}) uses the plugin code(s) "
            f"{', '.join(why)}, which are not installed or not usable; install the distribution "
            f"that provides each ({WHERE_PLUGINS_COME_FROM}), or set 'plugins' explicitly to "
            "override the profile's plugin list"
        )

    def profile(self, name: str) -> Profile:
        """The profile called ``name``: application ones first, then plugins', then built-in."""
        self.complete()
        self._name_profile_sources()
        found = user_profiles().get(name) or self.contributed_profiles.get(name)
        if found is None:
            found = next((p for p in BUILTIN_PROFILES if p.name == name), None)
        if found is None:
            names = sorted(
                {*user_profiles(), *self.contributed_profiles, *(p.name for p in BUILTIN_PROFILES)}
            )
            import difflib  # only an error needs it: not imported with sturdydb

            close = difflib.get_close_matches(name, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(
                f"unknown profile_name {name!r}.{hint} Known profiles: {', '.join(names)}; "
                "register your own with sturdydb.register_profile()"
            )
        return found

    def all_profiles(self) -> dict[str, Profile]:
        self.complete()
        self._name_profile_sources()
        out = {p.name: p for p in BUILTIN_PROFILES}
        out.update(self.contributed_profiles)
        out.update(user_profiles())
        return out


_catalog: PluginCatalog | None = None
_manual: dict[str, tuple[type[Plugin], str]] = {}
_lock = threading.RLock()


def _contribution_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _broken(cat: PluginCatalog, code: str, message: str) -> None:
    """Record a plugin that is installed but unusable (logged at ERROR, shown by doctor)."""
    log.error("%s; the plugin is left out", message)
    cat.errors.append(message)
    if code:
        cat.broken.setdefault(code, message)


def _contribute(
    cat: PluginCatalog, pm: pluggy.PluginManager, hook: str, codes: dict[str, str],
    take: Callable[[str, Sequence[Any]], None],
) -> None:
    """Call contribution ``hook`` on each plugin class on its own: one that raises is isolated.

    pluggy would stop at the first exception and lose every other plugin's contribution, so
    each implementation is called here. A plugin whose contribution failed is left out of the
    catalog (its properties would be unknown, its presets missing: using it would mislead).
    """
    caller = getattr(pm.hook, hook)
    for impl in reversed(caller.get_hookimpls()):  # registration order
        try:
            contributed = impl.function()
            take(impl.plugin_name, list(contributed or ()))
        except Exception as exc:
            code = codes.get(impl.plugin_name, "")
            _broken(cat, code, f"plugin {code!r} ({impl.plugin_name}) raised in {hook}: "
                               f"{type(exc).__name__}: {exc}")
            cat.entries.pop(code, None)


def _dist_name(dist: str | metadata.Distribution | EntryRef | None) -> str:
    if isinstance(dist, str):
        return dist
    if isinstance(dist, EntryRef):  # read the distribution's metadata only now (an error, doctor)
        dist = dist.dist
    return dist.name if dist is not None else "unknown"


def _lazy_loader(
    cat: PluginCatalog, ep: EntryRef, info: PluginInfo,
) -> Callable[[], type[Plugin]]:
    """Import the plugin class of ``ep`` when first selected, checked against its ``info``."""

    def load() -> type[Plugin]:
        why = ""
        cls: Any = None
        try:
            cls = ep.load()
        except Exception as exc:
            why = f"it failed to load ({ep.value}): {type(exc).__name__}: {exc}"
        if not why and not (isinstance(cls, type) and issubclass(cls, Plugin)):
            why = f"the entry point names {ep.value}, which is not a sturdydb.Plugin subclass"
        if not why:
            declared = (info.code, info.weight, tuple(info.aliases), dict(info.refused_codes),
                        info.in_default_chain)
            actual = (cls.code, cls.weight, tuple(cls.aliases), dict(cls.refused_codes),
                      cls.in_default_chain)
            if declared != actual:
                why = (f"its class {cls.__qualname__} disagrees with its published PluginInfo "
                       "(code, weight, aliases, refused_codes or in_default_chain)")
        if not why:
            # The misspelled-hook check; pluggy's own validation runs when the plugin's chain
            # is built (a second, throwaway registration here would double that cost).
            try:
                check_hook_names(cls)
            except ConfigurationError as exc:
                why = f"it is invalid: {exc}"
        if why:
            message = f"plugin {info.code!r} from the distribution {_dist_name(ep.dist)}: {why}"
            _broken(cat, info.code, message)
            cat.entries.pop(info.code, None)
            raise ConfigurationError(
                f"plugin code {info.code!r} is installed but cannot be used: {message}. Fix or "
                "reinstall that distribution, or leave the code out of 'plugins'"
            )
        return cls  # type: ignore[no-any-return]

    return load


def _add_info(cat: PluginCatalog, info_ep: EntryRef, ep: EntryRef) -> PluginInfo | None:
    """Register the plugin of ``ep`` by its published info; None when the info is unusable."""
    try:
        info = info_ep.load()
        if not isinstance(info, PluginInfo) or info.code != ep.name:
            raise TypeError(f"{info_ep.value} is not a sturdydb PluginInfo with code {ep.name!r}")
        registry = PropertyRegistry()
        registry.add(info.properties)  # checked before anything reaches the catalog
    except Exception as exc:
        _broken(cat, "", f"plugin info {ep.name!r} of the distribution {_dist_name(ep.dist)} is unusable "
                         f"({type(exc).__name__}: {exc}); the plugin is imported instead")
        return None
    code = info.code
    # The entry point stands for its distribution: importlib.metadata (tens of milliseconds
    # when the driver did not import it) and the METADATA file are read only for a message.
    cat.entries[code] = PluginEntry(code, None, ep, weight=info.weight,
                                    in_default_chain=info.in_default_chain,
                                    load=_lazy_loader(cat, ep, info))
    for alias in info.aliases:
        cat.aliases[alias] = code
    for refused, instead in info.refused_codes.items():
        cat.refused.setdefault(refused, (instead, ep))
    cat.registry.add(info.properties)
    for profile in info.profiles:
        cat.contributed_profiles[profile.name] = profile
        if profile.source == "core":  # the dataclass default: named when a profile is asked for
            cat.profile_sources[profile.name] = ep
        else:
            cat.profile_sources.pop(profile.name, None)
    return info


def _load_class(cat: PluginCatalog, ep: EntryRef) -> tuple[type[Plugin], str, str] | None:
    """Import the plugin class of ``ep`` (a plugin that publishes no info), or record why not."""
    dist = ep.dist.name if ep.dist is not None else "unknown"
    version = ep.dist.version if ep.dist is not None else "?"
    try:
        cls = ep.load()
    except Exception as exc:  # a broken third-party plugin must not break every connect
        _broken(cat, ep.name, f"plugin {ep.name!r} from the distribution {dist} failed to "
                              f"load ({ep.value}): {type(exc).__name__}: {exc}")
        return None
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        _broken(cat, ep.name, f"entry point {ep.name!r} of the distribution {dist} names "
                              f"{ep.value}, which is not a sturdydb.Plugin subclass")
        return None
    if cls.code and cls.code != ep.name:
        log.debug("entry point %s names class with code %s", ep.name, cls.code)
    return cls, dist, version


def _add_classes(
    cat: PluginCatalog, found: Sequence[tuple[type[Plugin], str, str]],
) -> dict[str, tuple[list[str], list[str], bool]]:
    """Register imported plugin classes and their contributions; code -> what each declared.

    What each declared (property names, prefixes, whether it contributes dialects) lets the
    listing cache answer later processes without importing the plugin.
    """
    pm = _contribution_manager()
    codes: dict[str, str] = {}  # plugin name in pm -> code
    dists: dict[str, str] = {}  # plugin name in pm -> distribution
    for cls, dist, version in found:
        code = cls.code
        if not code:
            cat.errors.append(f"plugin class {cls.__qualname__} from {dist} has no code")
            continue
        try:
            check_hook_names(cls)
        except ConfigurationError as exc:
            _broken(cat, code, f"plugin {code!r} from the distribution {dist} is invalid: {exc}")
            continue
        name = f"{dist}:{code}"
        try:
            pm.register(cls, name=name)
        except ValueError:  # the same class registered under two entry points
            pass
        except pluggy.PluginValidationError as exc:  # a hook with arguments its spec lacks
            _broken(cat, code, f"plugin {code!r} from the distribution {dist} is invalid: {exc}")
            continue
        # What pluggy's check_pending() reports, per plugin: a @hookimpl-marked method whose
        # name is no hook (one without the sturdydb_ prefix escapes check_hook_names).
        unknown = sorted(c.name for c in pm.get_hookcallers(cls) or () if c.spec is None)
        if unknown:
            pm.unregister(cls)
            _broken(cat, code, f"plugin {code!r} from the distribution {dist} is invalid: it "
                               f"marks {', '.join(map(repr, unknown))} with @hookimpl, which "
                               "are not sturdydb hooks; see sturdydb.hookspecs")
            continue
        codes[name] = code
        dists[name] = dist
        cat.entries[code] = PluginEntry(code, cls, dist, version)
        for alias in cls.aliases:
            cat.aliases[alias] = code
        for refused, instead in cls.refused_codes.items():
            cat.refused.setdefault(refused, (instead, dist))
    pm.check_pending()  # cannot raise: every plugin with an unknown hook was left out above

    properties: list[tuple[str, Sequence[Any]]] = []
    profiles: list[tuple[str, Sequence[Any]]] = []
    dialects: list[tuple[str, Sequence[Any]]] = []
    _contribute(cat, pm, "sturdydb_add_properties", codes, lambda n, got: properties.append((n, got)))
    _contribute(cat, pm, "sturdydb_add_profiles", codes, lambda n, got: profiles.append((n, got)))
    _contribute(cat, pm, "sturdydb_add_dialects", codes, lambda n, got: dialects.append((n, got)))
    usable = set(cat.entries)
    declared: dict[str, tuple[list[str], list[str], bool]] = {}
    for name, specs in properties:
        if codes[name] not in usable:
            continue
        try:
            cat.registry.add(specs)
        except Exception as exc:  # a property clashing with another plugin's, say
            _broken(cat, codes[name], f"plugin {codes[name]!r} ({name}) contributed unusable "
                                      f"properties: {type(exc).__name__}: {exc}")
            cat.entries.pop(codes[name], None)
            continue
        declared[codes[name]] = ([s.name for s in specs if not s.prefix], [s.name for s in specs if s.prefix], False)
    for name, contributed in profiles:
        if codes[name] not in cat.entries:
            continue
        for profile in contributed:
            if profile.source == "core":  # the dataclass default: say where it comes from
                profile = replace(profile, source=dists[name])
            cat.contributed_profiles[profile.name] = profile
    for name, contributed in dialects:
        if codes[name] in cat.entries:
            cat.dialects.extend(contributed)
            if contributed and codes[name] in declared:
                props, prefixes, _ = declared[codes[name]]
                declared[codes[name]] = (props, prefixes, True)
    for alias, code in list(cat.aliases.items()):
        if code not in cat.entries:
            del cat.aliases[alias]
    # A plugin that contributes no properties is still read: it declares nothing.
    return {code: declared.get(code, ([], [], False)) for code in codes.values() if code in cat.entries}


def _build(*, rescan: bool = False) -> PluginCatalog:
    """The catalog, knowing every installed code; each plugin is read when first needed.

    The entry points come from the listing (cached per installation, see
    :mod:`sturdydb._plugin_listing`); nothing of a plugin is imported here. The application's
    own plugins (``register_plugin``) are already imported and are added at once.
    """
    cat = PluginCatalog()
    found = listing((ENTRY_POINT_GROUP, INFO_ENTRY_POINT_GROUP), rescan=rescan)
    cat.listing = found
    infos = {ep.name: ep for ep in found.group(INFO_ENTRY_POINT_GROUP)}
    for ep in found.group(ENTRY_POINT_GROUP):
        cat.pending[ep.name] = (ep, infos.get(ep.name))
    if _manual:
        for cls, _ in _manual.values():
            cat.pending.pop(cls.code, None)  # the application's own plugin of a code wins
        _add_classes(cat, [(cls, dist, "local") for cls, dist in _manual.values()])
    if cat.pending:
        cat.registry.on_miss = cat._read_for_property
    return cat


#: The catalog of a process with no plugins: the core's properties only. A connect that selects
#: no plugin and passes only core or driver properties needs nothing more (see
#: :func:`catalog_for`), and skips listing and reading the installed distributions.
CORE_ONLY = PluginCatalog()


def catalog_for(target_connect: Callable[..., Any], conninfo: str, kwargs: dict[str, Any]) -> PluginCatalog:
    """The catalog a connect with these arguments needs: :data:`CORE_ONLY` or the full one.

    Building the full catalog (listing the installed distributions' entry points, reading
    every plugin's info) is the largest part of a process's first connect. A connect that
    sets ``plugins=""`` without a profile, and whose every property the core or the driver
    declares, can neither use a plugin nor pass a plugin's property: the core's catalog
    answers it the same. Anything else (a plugin's property, an unknown or misspelled name
    that deserves a hint, the default chain) builds the full catalog, as before.
    """
    found = _catalog
    if found is not None:
        return found
    if "plugins" not in kwargs and "plugins" not in conninfo:
        return _partial_catalog()  # the default chain: the installed plugins decide
    # A pool opens many connections with the same arguments: remember that they need only
    # the core (parsing and checking them again cost about a tenth of a plugin-less connect).
    try:
        key: Any = (target_connect, conninfo, tuple(sorted(kwargs.items())))
        if key in _core_only_arguments:
            return CORE_ONLY
    except TypeError:  # an unhashable value (a row factory instance, an SSL context...)
        key = None
    if _needs_core_only(target_connect, conninfo, kwargs):
        if key is not None and len(_core_only_arguments) < _CORE_ONLY_MEMO_SIZE:
            _core_only_arguments.add(key)
        return CORE_ONLY
    return _partial_catalog()


#: Connect arguments already found to need only :data:`CORE_ONLY` (bounded: a process that
#: connects with ever new arguments keeps checking them, as before).
_core_only_arguments: set[Any] = set()
_CORE_ONLY_MEMO_SIZE = 256


def _needs_core_only(target_connect: Callable[..., Any], conninfo: str, kwargs: dict[str, Any]) -> bool:
    """Whether a connect with these arguments selects no plugin and passes only properties of
    the core or the driver (see :func:`catalog_for`)."""
    from sturdydb._conninfo import parse_conninfo
    from sturdydb._drivers import driver_dialect_for

    raw: dict[str, Any] = dict(parse_conninfo(conninfo)) if conninfo else {}
    raw.update(kwargs)
    if raw.get("plugins") != "" or raw.get("profile_name") or raw.get("wrapper_driver_dialect"):
        return False
    try:
        names = driver_dialect_for(target_connect).property_names()
    except ConfigurationError:
        return False  # the connect reports it
    core = CORE_ONLY.registry
    return all(isinstance(k, str) and (k in core or k in names or k == "dbname") for k in raw)


def catalog() -> PluginCatalog:
    """The process-wide catalog, built on first use, with every installed plugin read."""
    return _partial_catalog().complete()


def _partial_catalog(*, rescan: bool = False) -> PluginCatalog:
    """The process-wide catalog, reading each plugin only when something needs it."""
    global _catalog
    cat = _catalog
    if cat is None:
        with _lock:
            if _catalog is None:
                _catalog = _build(rescan=rescan)
            cat = _catalog
    return cat


def reload_catalog() -> PluginCatalog:
    """Forget the catalog (and every cached plugin chain) and list the entry points again."""
    global _catalog
    from sturdydb import _pipeline as pipeline  # local import: pipeline imports this module

    with _lock:
        _catalog = None
        _core_only_arguments.clear()
        pipeline.clear_pipelines()
        _partial_catalog(rescan=True)
    return catalog()


def register_plugin(cls: type[Plugin], *, distribution: str = "application") -> None:
    """Make ``cls`` available under ``cls.code`` without publishing an entry point.

    Meant for applications and tests that define a plugin in their own code.
    """
    if not (isinstance(cls, type) and issubclass(cls, Plugin)) or not cls.code:
        raise ConfigurationError("register_plugin() needs a sturdydb.Plugin subclass with a code")
    check_hook_names(cls)  # the application's own code: fail here, not at the first connect
    with _lock:
        _manual[cls.code] = (cls, distribution)
    reload_catalog()


def unregister_plugin(code: str) -> None:
    with _lock:
        _manual.pop(code, None)
    reload_catalog()


def describe(cat: PluginCatalog) -> dict[str, Any]:
    """A JSON-friendly summary of the installed plugins (used by ``sturdydb doctor``)."""
    return {
        code: {
            "weight": e.weight,
            "distribution": e.distribution,
            "version": e.version,
            "aliases": sorted(alias for alias, target in cat.aliases.items() if target == code),
        }
        for code, e in sorted(cat.entries.items())
    }
