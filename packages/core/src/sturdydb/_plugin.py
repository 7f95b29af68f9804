"""The base class every sturdydb plugin derives from.

A plugin is a class published in the entry-point group ``sturdydb.plugins`` under its code.
The class carries its ``weight`` (lower is outermost in the chain) and contributes its
properties and profiles through class-level hooks. One instance is created per distinct
plugin chain and shared by every connection that uses that chain, so an instance must keep
no per-connection state: that lives in ``context.plugin_state[code]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from sturdydb._properties import Properties

__all__ = ["Plugin"]


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
    """

    code: ClassVar[str] = ""
    weight: ClassVar[int] = 1000
    aliases: ClassVar[tuple[str, ...]] = ()
    refused_codes: ClassVar[Mapping[str, str]] = {}
    requires_dialect: ClassVar[bool] = False
    in_default_chain: ClassVar[bool] = False

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

    def release_resources(self) -> None:
        """Stop threads and close connections this plugin holds (``sturdydb.release_resources``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} code={self.code!r} weight={self.weight}>"
