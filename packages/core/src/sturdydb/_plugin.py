"""The base class every sturdydb plugin derives from.

A plugin is a class published in the entry-point group ``sturdydb.plugins`` under its code.
The class carries its ``weight`` (lower is outermost in the chain) and contributes its
properties and profiles through class-level hooks. One instance is created per distinct
plugin chain and shared by every connection that uses that chain, so an instance must keep
no per-connection state: that lives in ``context.plugin_state[code]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._record import value_methods

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sturdydb._properties import Properties

__all__ = ["Plugin", "PluginInfo"]


@value_methods  # repr, == and hash without compiling them (import sturdydb stays cheap)
@dataclass(frozen=True, repr=False, eq=False)
class PluginInfo:
    """What the catalog needs to know about a plugin without importing it (cheap metadata).

    A distribution publishes one per plugin in the entry-point group ``sturdydb.plugin_info``
    under the plugin's code, pointing at a module that is cheap to import (data only: it must
    not import the plugin's own module or anything heavy). The catalog then imports the plugin
    class (entry point ``sturdydb.plugins``) only when a connection selects its code, so a
    process pays for the plugins it uses. The fields repeat the class's ``code``, ``weight``,
    ``aliases``, ``refused_codes`` and ``in_default_chain`` (checked to agree when the class
    is loaded) and carry what its contribution hooks would return (``properties``,
    ``profiles``); those hooks are then not called. A plugin that contributes dialects, or
    publishes no info, is imported when the catalog is built, as before.
    """

    code: str
    weight: int = 1000
    aliases: tuple[str, ...] = ()
    refused_codes: Mapping[str, str] = field(default_factory=dict)
    in_default_chain: bool = False
    properties: Sequence[Any] = ()
    profiles: Sequence[Any] = ()


class Plugin:
    """Base class for plugins. Subclasses set ``code`` and ``weight`` and implement hooks.

    ``aliases`` are other codes that select the same plugin (``failover_v2`` for ``failover``).
    ``refused_codes`` maps codes that this distribution knows but deliberately does not provide
    (a reference wrapper's plugin, say) to what to use instead; selecting one raises an error
    with that text rather than "unknown plugin code". An installed plugin of that code wins.
    ``requires_dialect`` asks the core to detect the database dialect at connect time.
    ``in_default_chain`` puts the plugin in the chain of connections that do not set the
    ``plugins`` property (sturdydb's failover, connection tracker and host monitoring do, as
    the reference's default chain; a third-party plugin should leave it false unless being
    active for every application that merely installs it is the point).
    ``async_safe_execute`` lets async connections drive the sync execute wrapper unchanged.
    """

    code: ClassVar[str] = ""
    weight: ClassVar[int] = 1000
    aliases: ClassVar[tuple[str, ...]] = ()
    refused_codes: ClassVar[Mapping[str, str]] = {}
    requires_dialect: ClassVar[bool] = False
    in_default_chain: ClassVar[bool] = False
    #: Whether this plugin's sync ``sturdydb_execute`` wrapper only does bookkeeping that never
    #: blocks, so the core may drive it around an awaited call on async connections. A plugin
    #: with a wrapper that may wait or do I/O leaves it false and implements
    #: ``sturdydb_execute_async`` instead; with neither, ``connect_async`` refuses the chain.
    async_safe_execute: ClassVar[bool] = False

    @classmethod
    def enabled(cls, props: Properties) -> bool:
        """Whether this plugin takes part for a connection with ``props``.

        A disabled plugin is left out of the chain entirely (for example failover with
        ``enable_failover=false``), so it costs nothing on the hot path.
        """
        return True

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        """Whether this plugin's ``sturdydb_execute`` wrapper wants calls of ``method``.

        ``method`` is a DB-API name such as ``"Cursor.execute"``; ``network_bound`` says
        whether the driver dialect knows it can touch the network. The default wraps
        nothing, so a plugin that implements ``sturdydb_execute`` must override this.
        """
        return False

    @classmethod
    def configuration_risks(cls, props: Properties, codes: Sequence[str], host: str) -> list[str]:
        """What ``sturdydb doctor`` should warn about in this plugin's configuration.

        ``codes`` is the whole chain (a plugin may warn about a missing companion), ``host``
        the host the application connects to. Each item is one sentence saying what is risky
        and why. The default finds nothing.
        """
        return []

    def release_resources(self) -> None:
        """Stop threads and close connections this plugin holds (``sturdydb.release_resources``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} code={self.code!r} weight={self.weight}>"
