"""Parsing of connection strings into a flat property dict.

Two forms are accepted, as in the reference wrapper's examples:

* libpq-style ``key=value`` pairs separated by spaces, values optionally single-quoted with
  backslash escapes (``password='it''s'`` is not libpq; ``password='it\\'s'`` is);
* URLs: ``postgresql://``, ``postgres://`` and ``mysql://`` with optional user, password,
  one or several ``host:port`` pairs, database and ``?key=value`` query parameters.

Multiple hosts (``host=a,b port=5432,5433`` or ``postgresql://a:5432,b:5433/db``) are kept as
comma-separated ``host``/``port`` values; :func:`split_hosts` turns them into pairs. Values
stay strings here: the property registry and driver dialects convert them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote

from sturdydb._errors import ConfigurationError

__all__ = ["check_conninfo", "parse_conninfo", "split_hosts"]

_URL = re.compile(r"^(?P<scheme>postgresql|postgres|mysql|mysql\+[a-z]+)://(?P<rest>.*)$", re.I | re.S)
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def check_conninfo(conninfo: object) -> None:
    """Refuse a connection string that is not a ``str``, saying what to pass instead.

    The value itself is never shown: bytes or a dict may well hold the password.
    """
    if isinstance(conninfo, str):
        return
    example = "'host=db.example.com dbname=app' or a postgresql:// or mysql:// URL"
    if conninfo is None:
        raise ConfigurationError(
            f"the connection string is None; pass a str such as {example}, or \"\" (the "
            "default) and give every property as a keyword argument"
        )
    kind = type(conninfo).__name__
    if isinstance(conninfo, (bytes, bytearray, memoryview)):
        fix = "decode it first (conninfo.decode())"
    elif isinstance(conninfo, Mapping):
        fix = "pass properties as keyword arguments instead: sturdydb.connect(target, **properties)"
    elif isinstance(conninfo, (list, tuple, set)):
        fix = ("join key=value pairs with spaces into one str, or pass properties as keyword "
               "arguments instead")
    else:
        fix = f"pass a str such as {example}, or pass properties as keyword arguments instead"
    raise ConfigurationError(f"the connection string must be a str, got {kind}; {fix}")


def parse_conninfo(conninfo: str) -> dict[str, str]:
    """Parse ``conninfo`` (key=value string or URL) into a dict of string values."""
    check_conninfo(conninfo)
    text = conninfo.strip()
    if not text:
        return {}
    match = _URL.match(text)
    if match:
        return _parse_url(match["scheme"].lower(), match["rest"], conninfo)
    if "://" in text.split(" ", 1)[0]:
        scheme = text.split("://", 1)[0]
        raise ConfigurationError(
            f"unsupported URL scheme {scheme!r} in the connection string; use postgresql://, "
            "postgres:// or mysql://, or key=value pairs"
        )
    return _parse_pairs(text)


def _parse_pairs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            return out
        key_match = _KEY.match(text, pos)
        if not key_match:
            # The text itself is never quoted: it may be the tail of an unquoted password.
            after = f" after property {list(out)[-1]!r}" if out else ""
            raise ConfigurationError(
                f"malformed connection string at position {pos}{after}: expected a property "
                "name; write key=value pairs separated by spaces and quote values that contain "
                "spaces (key='a b')"
            )
        key = key_match.group()
        pos = key_match.end()
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n or text[pos] != "=":
            after = f" after property {list(out)[-1]!r}" if out else ""
            raise ConfigurationError(
                f"malformed connection string at position {key_match.start()}{after}: a word "
                "without '=value'; write key=value pairs separated by spaces and quote values "
                "that contain spaces (key='a b')"
            )
        pos += 1
        while pos < n and text[pos].isspace():
            pos += 1
        if pos < n and text[pos] == "'":
            pos += 1
            chars: list[str] = []
            while True:
                if pos >= n:
                    raise ConfigurationError(
                        f"malformed connection string: the quoted value of {key!r} is not "
                        "closed with a single quote"
                    )
                ch = text[pos]
                if ch == "\\" and pos + 1 < n:
                    chars.append(text[pos + 1])
                    pos += 2
                    continue
                if ch == "'":
                    pos += 1
                    break
                chars.append(ch)
                pos += 1
            value = "".join(chars)
        else:
            start = pos
            chars = []
            while pos < n and not text[pos].isspace():
                if text[pos] == "\\" and pos + 1 < n:
                    chars.append(text[pos + 1])
                    pos += 2
                    continue
                chars.append(text[pos])
                pos += 1
            value = "".join(chars)
            if start == pos:
                value = ""
        if key in out:
            raise ConfigurationError(
                f"property {key!r} appears twice in the connection string; keep one"
            )
        out[key] = value


# What a host list may look like: names, IPv4/IPv6 addresses in brackets, ports, commas.
_HOST_LIST = re.compile(r"[A-Za-z0-9._~%\-\[\]:,]*")
_ADVICE = ("percent-encode special characters in the user name and password "
           "(/ ? @ # : as %2F %3F %40 %23 %3A)")


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """``(userinfo or None, the rest)`` of a URL without its scheme.

    Passwords often contain ``/``, ``?``, ``#`` or ``@`` without percent-encoding. Splitting
    at the first of those, as a strict URL parser does, would turn part of the password into
    a host name or database name, which errors and logs then show. So the user info ends at
    the last ``@`` that is followed by something shaped like a host list (up to the path or
    query). The price: an ``@`` in a query value must be percent-encoded (``%40``).
    """
    at = len(rest)
    while True:
        at = rest.rfind("@", 0, at)
        if at < 0:
            return None, rest
        after = rest[at + 1:]
        end = min((i for i in (after.find("/"), after.find("?")) if i >= 0), default=len(after))
        if _HOST_LIST.fullmatch(after[:end]):
            return rest[:at], after


def _parse_url(scheme: str, rest: str, original: str) -> dict[str, str]:
    # Error messages here never quote any part of the URL: a password that was not
    # percent-encoded can end up in any part of a malformed URL.
    out: dict[str, str] = {}
    userinfo, rest = _split_userinfo(rest)
    if userinfo is not None:
        user, colon, password = userinfo.partition(":")
        if user:
            out["user"] = unquote(user)
        if colon:
            out["password"] = unquote(password)
    rest = rest.partition("#")[0]
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    if not _HOST_LIST.fullmatch(netloc):
        raise ConfigurationError(
            "malformed URL: the host part holds characters a host name cannot have; if they "
            f"belong to the password, {_ADVICE}"
        )
    hosts: list[str] = []
    ports: list[str] = []
    for index, part in enumerate(filter(None, netloc.split(",")), start=1):
        if part.startswith("["):
            end = part.find("]")
            if end < 0:
                raise ConfigurationError(f"malformed URL: the IPv6 address of host {index} is missing its ']'")
            host, port = part[1:end], part[end + 2:] if part[end + 1:end + 2] == ":" else ""
        else:
            host, _, port = part.partition(":")
        if port and not port.isdigit():
            raise ConfigurationError(
                f"malformed URL: the port of host {index} is not a number; if the text after "
                f"':' belongs to a password, {_ADVICE}"
            )
        hosts.append(unquote(host))
        ports.append(port)
    if hosts:
        out["host"] = ",".join(hosts)
    if any(ports):
        out["port"] = ",".join(ports)
    if slash and path:
        out["database"] = unquote(path)
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key in ("dbname",):
            key = "database"
        out[key] = value
    del original, scheme  # kept in the signature for callers; messages quote neither
    return out


def split_hosts(host: str | None, port: object) -> list[tuple[str, int | None]]:
    """Pair a comma-separated ``host`` value with a comma-separated ``port`` value.

    One port applies to every host; otherwise the counts must match, as in libpq.
    """
    if not host:
        return []
    if not isinstance(host, str):
        raise ConfigurationError(
            f"property 'host' expects a str (a host name, or several separated by commas), "
            f"got {type(host).__name__}"
        )
    if port is not None and (isinstance(port, bool) or not isinstance(port, (int, str))):
        raise ConfigurationError(
            f"property 'port' expects a number such as 5432 or a str of comma-separated "
            f"numbers such as '5432,5433', got {type(port).__name__}"
        )
    names = [h.strip() for h in host.split(",")]
    # The values are not quoted: a malformed connection string can put password text here.
    if any(not h for h in names):
        raise ConfigurationError(
            f"the host list has an empty entry (entry {names.index('') + 1} of {len(names)}); "
            "separate host names with single commas"
        )
    raw_ports = [] if port in (None, "") else [p.strip() for p in str(port).split(",")]
    ports: list[int | None] = []
    for index, p in enumerate(raw_ports, start=1):
        if not p:
            ports.append(None)
            continue
        if not p.isdigit() or not 0 < int(p) < 65536:
            shown = repr(p) if p.isdigit() else f"number {index} of the port list"
            raise ConfigurationError(f"port {shown} is not a number between 1 and 65535")
        ports.append(int(p))
    if not ports:
        ports = [None] * len(names)
    elif len(ports) == 1:
        ports = ports * len(names)
    elif len(ports) != len(names):
        raise ConfigurationError(
            f"{len(names)} hosts but {len(ports)} ports: give one port for all hosts or one per host"
        )
    return list(zip(names, ports, strict=True))
