"""The ``sturdydb`` command line. ``sturdydb doctor`` explains what a connection would do.

``doctor`` connects exactly the way the application would (same string, same properties) and
reports the driver and database dialects, the topology with roles, the plugin chain in order
with weights and where each plugin comes from, every effective property with its source
(secrets masked), and warnings about unknown properties and risky settings. ``--json`` prints
the same as one JSON document. The exit code is 0 when it connected, 2 when it could not
(with the reason), 1 for bad arguments or configuration. ``--watch`` keeps the connection and
redraws a live view until Ctrl-C (:mod:`sturdydb._watch`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["doctor_report", "main"]


def _target(driver: str) -> Callable[..., Any]:
    if driver == "psycopg":
        import psycopg

        return psycopg.Connection.connect
    if driver == "psycopg2":
        import psycopg2

        return psycopg2.connect
    if driver == "pymysql":
        import pymysql

        return pymysql.connect
    import mysql.connector

    return mysql.connector.connect


def _guess_driver(conninfo: str, props: dict[str, Any]) -> str:
    lowered = conninfo.strip().lower()
    if lowered.startswith("mysql"):
        return "mysql"
    if lowered.startswith(("postgres", "postgresql")):
        return "psycopg"
    from sturdydb._conninfo import parse_conninfo

    parsed = {**parse_conninfo(conninfo), **props}
    return "mysql" if str(parsed.get("port", "")).strip() == "3306" or ("database" in parsed and "dbname" not in parsed) else "psycopg"


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _risks(props: Any, plugins: Sequence[Any], host: str) -> list[str]:
    """The core's own configuration warnings, then each plugin's (``Plugin.configuration_risks``)."""
    risks: list[str] = []
    if not props.get("connect_timeout"):
        risks.append("connect_timeout is not set: a connect to a silent host waits for the OS TCP timeout")
    codes = [p.code for p in plugins]
    for plugin in plugins:
        try:
            risks.extend(plugin.configuration_risks(props, codes, host))
        except Exception as exc:  # a plugin's check must not break the report
            risks.append(f"plugin {plugin.code!r} failed to check its configuration: {type(exc).__name__}")
    return risks


def doctor_report(driver: str, conninfo: str, props: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Connect like the application would and describe everything. Returns (exit code, report)."""
    import sturdydb
    from sturdydb._config import UnknownPropertyWarning
    from sturdydb._discovery import catalog
    from sturdydb._errors import ConfigurationError

    report: dict[str, Any] = {"driver": driver, "connected": False, "warnings": []}
    cat = catalog()
    cat.load_all()  # doctor checks every installed plugin, also the ones not selected
    report["installed_plugins"] = {
        code: {"weight": e.weight, "distribution": e.distribution, "version": e.version}
        for code, e in sorted(cat.entries.items())
    }
    report["warnings"].extend(cat.errors)
    # Unknown properties are reported in the report's warnings; keep the log quiet about them.
    logging.getLogger("sturdydb.config").setLevel(logging.ERROR)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            conn = sturdydb.connect(_target(driver), conninfo, **props)
        except ConfigurationError as exc:
            report["error"] = f"configuration: {exc}"
            return 1, report
        except Exception as exc:
            report["error"] = f"cannot connect: {type(exc).__name__}: {exc}"
            report["warnings"].extend(str(w.message) for w in caught if issubclass(w.category, UnknownPropertyWarning))
            return 2, report
    report["warnings"].extend(str(w.message) for w in caught if issubclass(w.category, UnknownPropertyWarning))
    try:
        ctx = conn.context
        report["connected"] = True
        report["host"] = ctx.host.url
        report["driver_dialect"] = ctx.driver.name
        dialect = ctx.dialect
        report["database_dialect"] = dialect.code
        report["cluster_id"] = ctx.cluster_id
        entries = cat.entries
        report["plugin_chain"] = [
            {
                "code": p.code,
                "weight": p.weight,
                "distribution": entries[p.code].distribution if p.code in entries else "sturdydb (built in)",
                "version": entries[p.code].version if p.code in entries else sturdydb.__version__,
            }
            for p in ctx.pipeline.plugins
        ]
        masked = ctx.props.masked()
        effective: dict[str, Any] = {}
        chain_codes = {"core", *(p.code for p in ctx.pipeline.plugins)}
        for spec in cat.registry:
            if spec.name in masked:
                effective[spec.name] = {"value": masked[spec.name], "source": ctx.props.sources.get(spec.name, "?")}
            elif spec.default is not None and spec.owner in chain_codes:
                effective[spec.name] = {"value": spec.default, "source": "default"}
        for key, value in masked.items():
            if key not in effective:
                effective[key] = {"value": value, "source": ctx.props.sources.get(key, "?") + " (driver)"}
        report["properties"] = effective
        topology: list[dict[str, Any]] = []
        if dialect.has_topology:
            pattern = ctx.instance_host_pattern() or "?"
            try:
                hosts = dialect.topology(ctx.driver, ctx.connection, pattern, ctx.host.port)
                topology = [{"host": h.host, "port": h.port, "role": h.role.value, "id": h.host_id} for h in hosts]
            except Exception as exc:
                report["warnings"].append(f"could not read the topology: {type(exc).__name__}: {exc}")
        else:
            is_reader = dialect.is_reader(ctx.driver, ctx.connection)
            topology = [{"host": ctx.host.host, "port": ctx.host.port, "role": "reader" if is_reader else "writer",
                         "id": None}]
        report["topology"] = topology
        report["warnings"].extend(_risks(ctx.props, ctx.pipeline.plugins, ctx.initial_host.host))
    finally:
        conn.close()
        sturdydb.release_resources()
    return 0, report


def _print_human(report: dict[str, Any]) -> None:
    out = sys.stdout.write
    if not report.get("connected"):
        out(f"sturdydb doctor: {report.get('error', 'failed')}\n")
        for warning in report["warnings"]:
            out(f"  warning: {warning}\n")
        return
    out(f"connected to {report['host']}\n")
    out(f"driver dialect:   {report['driver_dialect']}\n")
    out(f"database dialect: {report['database_dialect']}   (cluster id {report['cluster_id']})\n")
    out("topology:\n")
    for host in report["topology"]:
        port = f":{host['port']}" if host["port"] else ""
        out(f"  {host['role']:<7} {host['host']}{port}\n")
    out("plugin chain (outermost first):\n")
    if not report["plugin_chain"]:
        out("  (none: sturdydb is a transparent pass-through)\n")
    for plugin in report["plugin_chain"]:
        out(f"  {plugin['weight']:>6}  {plugin['code']:<28} {plugin['distribution']} {plugin['version']}\n")
    out("properties (value, source):\n")
    for name, item in report["properties"].items():
        out(f"  {name:<45} {item['value']!s:<24} {item['source']}\n")
    for warning in report["warnings"]:
        out(f"warning: {warning}\n")


def properties_markdown() -> str:
    """The configuration reference: every property of every installed package, by owner.

    ``docs/configuration.md`` is this text; a test regenerates it and compares, so the
    documentation cannot drift from the registry.
    """
    from sturdydb._discovery import catalog

    cat = catalog()
    owners: dict[str, list[Any]] = {}
    no_effect: list[Any] = []
    for spec in [*cat.registry, *cat.registry.prefixes]:
        if spec.no_effect is not None:
            no_effect.append(spec)  # listed apart: they configure nothing here
            continue
        owners.setdefault(spec.owner, []).append(spec)
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `sturdydb properties --markdown > docs/configuration.md`; a test checks it. -->",
        "",
        "Properties are given in the connection string (`key=value` pairs or URL query parameters), as",
        "keyword arguments to `sturdydb.connect`, or by a profile (`profile_name`). Keywords override",
        "the string, and both override the profile. Every property below is validated before",
        "anything connects; the ones sturdydb owns are removed before the driver sees the rest.",
        "",
    ]
    order = ["core", *sorted(k for k in owners if k != "core")]
    for owner in order:
        specs = owners[owner]
        entry = cat.entries.get(owner)
        if owner == "core":
            title = "Core (`sturdydb`)"
        elif entry is not None:
            title = f"Plugin `{owner}` (`{entry.distribution}`)"
        else:  # a family of properties that several plugins share (for example `aws`)
            title = f"Shared by several plugins (`{owner}`)"
        lines += [f"## {title}", "", "| property | type | default | unit | description |", "|---|---|---|---|---|"]
        for spec in specs:
            kind = "prefix" if spec.prefix else getattr(spec.type, "__name__", str(spec.type))
            if spec.type is object:
                kind = "int or str"
            default = "" if spec.default is None else f"`{spec.default}`"
            doc = spec.doc.replace("|", "\\|")
            if spec.choices:
                doc += " One of: " + ", ".join(f"`{c}`" for c in spec.choices) + "."
            if spec.type in (int, float) and spec.bounds() != (None, None):
                doc += f" Accepts {spec.range_text()}."
            name = f"`{spec.name}*`" if spec.prefix else f"`{spec.name}`"
            lines.append(f"| {name} | {kind} | {default} | {spec.unit or ''} | {doc} |")
        lines.append("")
    if no_effect:
        lines += [
            "## Reference-only properties (no effect)", "",
            "Names of the AWS Advanced Python Wrapper that sturdydb does not implement. They are "
            "accepted, so a",
            "configuration written for the reference runs unchanged, with one warning per name "
            "and process;",
            "they are never passed to the driver.", "",
            "| property | declared by | instead |", "|---|---|---|",
        ]
        for spec in sorted(no_effect, key=lambda s: (s.owner != "core", s.owner, s.name)):
            name = f"`{spec.name}*`" if spec.prefix else f"`{spec.name}`"
            why = str(spec.no_effect).replace("|", "\\|")
            lines.append(f"| {name} | {spec.owner} | {why} |")
        lines.append("")
    profiles = cat.all_profiles()
    lines += ["## Profiles", "", "| profile | plugins | properties | source | description |", "|---|---|---|---|---|"]
    for name, profile in sorted(profiles.items()):
        if profile.source == "application":
            continue
        values = ", ".join(f"`{k}={v}`" for k, v in profile.properties.items())
        plugins = "(unchanged)" if profile.plugins is None else f"`{profile.plugins}`"
        lines.append(f"| `{name}` | {plugins} | {values} | {profile.source} | {profile.doc} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sturdydb", description="sturdydb tools")
    sub = parser.add_subparsers(dest="command", required=True)
    doctor = sub.add_parser("doctor", help="connect like the application would and explain the setup")
    doctor.add_argument("conninfo", help="connection string (key=value pairs or a postgresql:// / mysql:// URL)")
    doctor.add_argument("properties", nargs="*", metavar="KEY=VALUE", help="more properties, as keywords")
    doctor.add_argument("--driver", choices=("psycopg", "psycopg2", "mysql", "pymysql"),
                        help="default: guessed from the string (psycopg or mysql)")
    doctor.add_argument("--json", action="store_true", help="print one JSON document")
    doctor.add_argument("--watch", action="store_true",
                        help="keep the connection and redraw topology, threads and recent events until Ctrl-C")
    doctor.add_argument("--interval", type=float, default=1.0, help="seconds between --watch frames (default 1)")
    doctor.add_argument("--frames", type=int, default=None, help="stop --watch after this many frames")
    props_cmd = sub.add_parser("properties", help="list every property of the installed packages")
    props_cmd.add_argument("--markdown", action="store_true", help="the configuration reference in Markdown")
    args, extra = parser.parse_known_args(argv)
    if args.command == "properties":
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.markdown:
            sys.stdout.write(properties_markdown())
        else:
            from sturdydb._discovery import catalog

            for spec in catalog().registry:
                sys.stdout.write(f"{spec.name:<45} {spec.owner:<24} {spec.default!s}\n")
        return 0
    props: dict[str, Any] = {}
    for index, item in enumerate([*args.properties, *extra], start=1):
        key, sep, value = item.partition("=")
        if not sep or not key:
            # Not quoted: a stray word here is often a password that lost its "password=".
            parser.error(f"property argument {index} after the connection string must be written KEY=VALUE")
        props[key] = _parse_value(value)
    from sturdydb._errors import ConfigurationError

    report: dict[str, Any]
    try:
        driver = args.driver or _guess_driver(args.conninfo, props)
    except ConfigurationError as exc:  # a malformed string: the same report as a failed connect
        code, report = 1, {"driver": None, "connected": False, "warnings": [], "error": f"configuration: {exc}"}
    else:
        if args.watch:
            from sturdydb._watch import watch

            return watch(driver, args.conninfo, props, interval=args.interval, iterations=args.frames)
        code, report = doctor_report(driver, args.conninfo, props)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print_human(report)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
