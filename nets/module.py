"""`Module`: the base class of every layer, with Haiku's naming rules.

A module is an ordinary Python object whose methods create parameters through
`get_parameter`. Its `module_name` (the key of its parameters in the params dict)
is fixed at construction, following Haiku exactly:

- the default name is the class name in snake_case (`Linear` -> `linear`,
  `Conv2D` -> `conv2_d`, `MLP` -> `mlp`);
- a repeated name in the same scope gets a suffix: `linear`, `linear_1`, ...;
  an explicit trailing number (`linear_0`) is kept and bumps the counter;
- a module created inside another module's `__init__` is named `outer/~/inner`,
  inside its `__call__` `outer/inner`, inside another method `m` `outer/~m/inner`;
- numbering restarts in every method call, so a submodule created inside
  `__call__` gets the same name (and so the same parameters) on every call.

Every public method and `__call__` is wrapped so that, while it runs, the module
sits on the frame's module stack; the wrapper raises `ModuleOutsideTransformError`
when there is no frame.
"""

from __future__ import annotations

import abc
import collections
import functools
import inspect
import re
from typing import Any, Mapping, Optional

from vtrax.nets import base, errors

_CAMEL_TO_SNAKE = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")
_VALID_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_EXPLICIT_NUMBER = re.compile(r"_(\d+)$")


def camel_to_snake(name: str) -> str:
    """`Conv2D` -> `conv2_d`, `LayerNorm` -> `layer_norm`, `MLP` -> `mlp` (Haiku's rule)."""
    return _CAMEL_TO_SNAKE.sub(r"_\1", name).lower()


def _outside_error(module: Any, method_name: str) -> errors.ModuleOutsideTransformError:
    label = getattr(module, "module_name", None) or type(module).__name__
    action = "constructed" if method_name == "__init__" else f"called (.{method_name})"
    return errors.ModuleOutsideTransformError(
        f"Module '{label}' ({type(module).__name__}) was {action} outside nets.transform. Build and call "
        "modules inside a function `f` and transform it: `net = nets.transform(f); params = net.init(rng, x); "
        "out = net.apply(params, rng, x)`.")


def _run_in_module(frame: base.Frame, module: Any, method_name: str, fn, args, kwargs):
    frame.module_stack.append(base.ModuleState(module, method_name))
    frame.counter_stack.append(collections.Counter())
    frame.used_names_stack.append(set())
    try:
        return fn(module, *args, **kwargs)
    finally:
        frame.used_names_stack.pop()
        frame.counter_stack.pop()
        frame.module_stack.pop()


def _wrap_method(method_name: str, fn):
    @functools.wraps(fn)
    def wrapped(self, *args, **kwargs):
        frame = base.current_frame_or_none()
        if frame is None:
            raise _outside_error(self, method_name)
        return _run_in_module(frame, self, method_name, fn, args, kwargs)

    return wrapped


class ModuleMetaclass(abc.ABCMeta):
    """Wraps methods so they enter the module's scope; runs `__init__` inside a frame."""

    def __new__(mcs, name, bases, clsdict):
        for key, value in list(clsdict.items()):
            if key.startswith("__") and key != "__call__":
                continue
            if isinstance(value, property):
                clsdict[key] = property(value.fget and _wrap_method(key, value.fget),
                                        value.fset and _wrap_method(key, value.fset),
                                        value.fdel and _wrap_method(key, value.fdel), doc=value.__doc__)
            elif inspect.isfunction(value):
                clsdict[key] = _wrap_method(key, value)
        return super().__new__(mcs, name, bases, clsdict)

    def __call__(cls, *args, **kwargs):
        module = cls.__new__(cls)
        frame = base.current_frame_or_none()
        if frame is None:
            raise _outside_error(module, "__init__")
        _run_in_module(frame, module, "__init__", cls.__init__, args, kwargs)
        if not hasattr(module, "module_name"):
            raise errors.ModuleNameError(
                f"{cls.__name__}.__init__ did not call the base constructor; add "
                f"`super().__init__(name=name)` as the first line of {cls.__name__}.__init__.")
        return module


class Module(metaclass=ModuleMetaclass):
    """Base class for `nets` modules (Haiku's `hk.Module`).

    Subclasses call `super().__init__(name=name)` first, create submodules in
    `__init__` or `__call__`, and create parameters with `nets.get_parameter`.
    Modules must be constructed and called inside a function passed to
    `nets.transform` / `nets.transform_with_state`.

    Attributes:
      module_name: full path, e.g. `impala_net/~/policy_logits`; key in params.
      name: the last component of `module_name`.
    """

    def __init__(self, name: Optional[str] = None):
        if name is None:
            name = camel_to_snake(type(self).__name__)
        if not isinstance(name, str) or not _VALID_NAME.match(name):
            raise errors.ModuleNameError(
                f"{name!r} is not a valid module name for {type(self).__name__}: use a Python identifier "
                "such as 'policy_head' (letters, digits, underscores; no '/').")
        frame = base.current_frame(f"{type(self).__name__}.__init__")
        self.module_name = _unique_and_canonical_name(frame, name)
        self.name = self.module_name.rsplit("/", 1)[-1]

    def params_dict(self) -> Mapping[str, Any]:
        """Parameters of this module and the modules below it, keyed `module_path/name`."""
        frame = base.current_frame(f"{self.module_name}.params_dict()")
        prefix = self.module_name + "/"
        return {f"{path}/{name}": value
                for path, bundle in frame.params.items()
                if path == self.module_name or path.startswith(prefix)
                for name, value in bundle.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={getattr(self, 'module_name', '?')!r})"


def _unique_and_canonical_name(frame: base.Frame, name: str) -> str:
    """Scopes `name` under its parent module and numbers it uniquely (Haiku's rules)."""
    # The module under construction is on top of the stack; its creator is below.
    if len(frame.module_stack) > 1:
        parent = frame.module_stack[-2]
        if parent.method_name == "__init__":
            name = "~/" + name
        elif parent.method_name != "__call__":
            name = f"~{parent.method_name}/{name}"
        parent_name = getattr(parent.module, "module_name", None)
        if parent_name is None:
            raise errors.ModuleNameError(
                f"{type(parent.module).__name__} created a submodule before calling super().__init__(name=name); "
                f"make that the first line of {type(parent.module).__name__}.__init__.")
        name = f"{parent_name}/{name}"

    match = _EXPLICIT_NUMBER.search(name)
    counters = frame.counter_stack[-2]
    if match:
        name, number = name[:match.start()], int(match.group(1))
        counters[name] = max(counters[name], number + 1)
        qualified = f"{name}_{number}"
    else:
        number = counters[name]
        counters[name] += 1
        qualified = f"{name}_{number}" if number else name

    used = frame.used_names_stack[-2]
    if qualified in used:
        raise errors.ModuleNameError(
            f"Module name '{qualified}' is not unique: two modules in the same scope were given the same "
            "explicit name. Pass a different name= to one of them (or omit name= to get automatic numbering).")
    used.add(qualified)
    return qualified
