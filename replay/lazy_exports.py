"""Module-level `__getattr__`/`__dir__` for packages whose heavy names load on first use (PEP 562).

`vtrax.replay`, `vtrax.actors` and `vtrax.deploy.serve` keep TensorFlow/Reverb,
JAX or gRPC servers out of their import until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_exports(package: str, namespace: dict[str, Any],
                 lazy: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(`__getattr__`, `__dir__`) for `package`, loading each name of `lazy` from its module on first use.

    Args:
      package: the package's `__name__`, for error messages.
      namespace: the package's `globals()`; a loaded name is cached there.
      lazy: name -> dotted module that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name not in lazy:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(lazy[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace.get("__all__", [*namespace, *lazy]))

    return __getattr__, __dir__
