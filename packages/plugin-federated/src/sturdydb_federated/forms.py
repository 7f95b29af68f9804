"""Reading HTML forms out of identity provider pages (standard library parser only).

Two kinds of page matter: a sign-in page (ADFS shows a form with a user name field, a
password field and hidden fields it needs back), and the page that carries the assertion (a
self-submitting form with a hidden ``SAMLResponse`` input). Pages are parsed leniently, the
way a browser does: unclosed tags, any attribute order, character references in values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["HtmlForm", "find_saml_response", "find_sign_in_form", "parse_forms"]

_USER_HINTS = ("username", "user", "email", "login")


@dataclass
class HtmlForm:
    """One ``<form>``: where it posts and its inputs in page order."""

    action: str | None
    method: str
    #: (name, type, value) of every named input, in page order.
    inputs: list[tuple[str, str, str]] = field(default_factory=list)

    def field_of_type(self, kind: str) -> str | None:
        return next((name for name, typ, _ in self.inputs if typ == kind), None)

    @property
    def password_field(self) -> str | None:
        found = self.field_of_type("password")
        if found is None:
            found = next((name for name, _, _ in self.inputs if "password" in name.lower()), None)
        return found

    @property
    def username_field(self) -> str | None:
        texts = [(name, typ) for name, typ, _ in self.inputs if typ in ("text", "email", "")]
        for hint in _USER_HINTS:
            for name, _ in texts:
                if hint in name.lower():
                    return name
        return texts[0][0] if texts else None

    def values(self) -> dict[str, str]:
        """The values the page itself would submit (hidden fields, defaults)."""
        out: dict[str, str] = {}
        for name, typ, value in self.inputs:
            if typ in ("submit", "button", "image", "reset", "file"):
                continue
            if typ in ("checkbox", "radio") and not value:
                continue
            out.setdefault(name, value)
        return out


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._current: HtmlForm | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "form":
            self._current = HtmlForm(values.get("action") or None, (values.get("method") or "get").lower())
            self.forms.append(self._current)
        elif tag == "input":
            name = values.get("name", "")
            if not name:
                return
            form = self._current
            if form is None:  # an input outside any form still belongs to the page's data
                form = HtmlForm(None, "get")
                self.forms.append(form)
                self._current = form
            form.inputs.append((name, values.get("type", "text").lower(), values.get("value", "")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def parse_forms(page: str) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(page)
    parser.close()
    return parser.forms


def find_sign_in_form(page: str) -> HtmlForm | None:
    """The first form with a password field and a user name field, if any."""
    for form in parse_forms(page):
        if form.password_field is not None and form.username_field is not None:
            return form
    return None


def find_saml_response(page: str) -> str | None:
    """The value of the page's ``SAMLResponse`` input (base64 text), if any."""
    for form in parse_forms(page):
        for name, _, value in form.inputs:
            if name == "SAMLResponse" and value.strip():
                return value.strip()
    return None
