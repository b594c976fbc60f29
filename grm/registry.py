"""One small name-keyed registry, shared by every registry in grm.

Templates, engines, aggregators, stopping rules, ranking methods, group rewards, training
rewards, task families and calibrators are all a :class:`Registry`; each keeps its own
``register_*`` / ``get_*`` / ``*_names`` helpers on top of it. The rules are the same
everywhere:

- registering a name twice is an error unless ``replace=True`` is asked for;
- looking up an unknown name raises ``ValueError`` listing the known names;
- an error raised inside a factory (a template's constructor, an engine's load) surfaces as
  itself, never as "unknown name": lookup and construction are separate steps.

>>> colours: Registry[int] = Registry("colour")
>>> colours.register("red", 1)
1
>>> @colours.register("green")
... def green() -> int:
...     return 2
>>> colours.names(), colours.get("red")
(['green', 'red'], 1)
>>> colours.get("blue")
Traceback (most recent call last):
...
ValueError: colour 'blue' is unknown; choose one of green, red.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")
_F = TypeVar("_F")


class Registry(Mapping[str, T], Generic[T]):
    """Name -> entry (a function, a class or a factory), read like a mapping.

    ``kind`` names the entries in error messages ("template", "engine", ...); ``hint`` is
    appended to the unknown-name error (e.g. how to register your own).
    """

    def __init__(self, kind: str, hint: str = "") -> None:
        self.kind = kind
        self.hint = hint
        self._entries: dict[str, T] = {}

    @overload
    def register(
        self, name: str, entry: None = None, *, replace: bool = False
    ) -> Callable[[_F], _F]: ...

    @overload
    def register(self, name: str, entry: T, *, replace: bool = False) -> T: ...

    def register(self, name: str, entry: Any = None, *, replace: bool = False) -> Any:
        """Register ``entry`` under ``name``; without ``entry``, return a decorator.

        A name already taken raises ``ValueError`` unless ``replace=True``.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}.")

        def add(obj: Any) -> Any:
            if name in self._entries and not replace:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered; pick another name or pass "
                    "replace=True to override it."
                )
            self._entries[name] = obj
            return obj

        if entry is None:
            return add
        return add(entry)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a test's temporary entry, say); unknown names raise."""
        self.get(name)
        del self._entries[name]

    def get(self, name: str) -> T:  # type: ignore[override]
        """The entry under ``name``; an unknown name raises ``ValueError`` listing the known."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            hint = f" {self.hint}" if self.hint else ""
            raise ValueError(
                f"{self.kind} {name!r} is unknown; choose one of {', '.join(self.names())}.{hint}"
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
