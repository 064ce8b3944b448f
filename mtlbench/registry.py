"""Typed registries with decorators, glob filters and did-you-mean (timm / lm-eval style)."""
from __future__ import annotations

import difflib
import fnmatch
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import MtlbenchError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects. ``register`` is a decorator; ``get`` fails with a suggestion."""

    def __init__(self, kind: str, plugin_package: str):
        self.kind = kind  # "model", "suite": used in messages
        self._plugin_package = plugin_package
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        """Decorator. ``replace=True`` lets a later registration win (a user suite file loaded again)."""

        def deco(obj: T) -> T:
            if not replace and name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def _load_plugins(self) -> None:
        # Import every module of the plug-in package once, so their decorators run.
        if self._loaded:
            return
        self._loaded = True
        pkg = importlib.import_module(self._plugin_package)
        for mod in pkgutil.iter_modules(pkg.__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{self._plugin_package}.{mod.name}")

    def names(self, pattern: str | None = None) -> list[str]:
        self._load_plugins()
        names = sorted(self._items)
        if pattern:
            names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return names

    def suggest(self, name: str) -> str:
        self._load_plugins()
        close = difflib.get_close_matches(name, list(self._items), n=1, cutoff=0.5)
        return f" Did you mean {close[0]!r}?" if close else ""

    def get(self, name: str) -> T:
        self._load_plugins()
        if name not in self._items:
            known = ", ".join(sorted(self._items))
            raise MtlbenchError(
                f"unknown {self.kind} {name!r}.{self.suggest(name)} "
                f"Known {self.kind}s: {known} (see `mtlbench list {self.kind}s`)."
            )
        return self._items[name]

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def did_you_mean(kind: str, name: str, choices: list[str]) -> MtlbenchError:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return MtlbenchError(f"unknown {kind} {name!r}.{hint} Choose one of: {', '.join(choices)}.")
