"""Variants by name, found the same way for every kind of variant.

Block kinds, spec kinds, design spaces, strategies, datasets and zoo models
each have one :class:`Registry`. The registry object is created next to the
interface its entries follow (so modules of the package can look names up
without importing the package's ``__init__``), and the package's
``__init__`` fills it with one ``register`` line per variant. Importing any
module of a package runs its ``__init__`` first, so a lookup always sees
every registered variant.

``registry[name]`` is the entry (or the package's own error, naming the
choices), ``name in registry`` asks without raising, and iterating gives the
canonical names in registration order.

This module imports only the standard library.
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")


def _same(name: str) -> str:
    return name


class Registry(Generic[T]):
    """Entries of one kind of variant by name (and aliases).

    ``what`` names the kind in messages ("unknown {what} 'x'; choose one of
    ..."); ``error`` is the exception type raised for an unknown name;
    ``normalize`` maps a name to the key it is found by (e.g. ignoring case).
    ``hint`` is appended to the list of choices. With ``instead_of_list``
    (for long registries) close names are suggested rather than all listed,
    and that text is said when none is close.
    """

    def __init__(self, what: str, error: Callable[[str], Exception], *, normalize: Callable[[str], str] = _same,
                 hint: str = "", instead_of_list: str | None = None) -> None:
        self.what = what
        self.error = error
        self.normalize = normalize
        self.hint = hint
        self.instead_of_list = instead_of_list
        self._entries: dict[str, T] = {}
        self._keys: dict[str, str] = {}  # normalized name or alias -> canonical name

    def register(self, name: str, entry: T, *, aliases: Iterable[str] = ()) -> T:
        """Add ``entry`` under ``name`` (and ``aliases``); returns the entry."""
        for key in (self.normalize(n) for n in (name, *aliases)):
            if key in self._keys:
                raise ValueError(f"{self.what} {name!r}: the name {key!r} is already registered "
                                 f"(for {self._keys[key]!r})")
            self._keys[key] = name
        self._entries[name] = entry
        return entry

    def alias(self, alias: str, name: str) -> None:
        """Make ``alias`` another name of the registered entry ``name``."""
        canonical = self.canonical(name)
        key = self.normalize(alias)
        if self._keys.get(key, canonical) != canonical:
            raise ValueError(f"{self.what} alias {alias!r}: the name {key!r} is already registered "
                             f"(for {self._keys[key]!r})")
        self._keys[key] = canonical

    def unknown(self, name: str) -> str:
        """The message for a name that is not registered: what exists, or what is close."""
        if self.instead_of_list is None:
            return f"unknown {self.what} {name!r}; choose one of {', '.join(self._entries)}{self.hint}"
        close = difflib.get_close_matches(self.normalize(name), list(self._keys), n=3, cutoff=0.6)
        if close:
            names = ", ".join(dict.fromkeys(self._keys[c] for c in close))
            return f"unknown {self.what} {name!r}; did you mean {names}?"
        return f"unknown {self.what} {name!r}; {self.instead_of_list}"

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` (or of the entry it is an alias of)."""
        key = self.normalize(name) if isinstance(name, str) else None
        if key not in self._keys:
            raise self.error(self.unknown(name))
        return self._keys[key]

    def __getitem__(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.normalize(name) in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"
