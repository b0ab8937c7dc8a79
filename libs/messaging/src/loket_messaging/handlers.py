"""The one convention of every service's handlers: a class bound to a scheme configuration
(tests bind their own), each handler `(session, event) -> outgoing events`."""

from __future__ import annotations

from loket_contracts.scheme import Scheme, load_scheme


class SchemeHandlers:
    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme

    def scheme_of(self, version: str | None) -> Scheme:
        """The version an application was submitted under (none given: the bound one); an
        application keeps its version to the end while new ones take the new rules."""
        return self.scheme if version in (None, self.scheme.version) else load_scheme(version)
