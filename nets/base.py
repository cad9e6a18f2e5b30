"""The per-transform frame: parameters, state, random keys and the module stack.

A `Frame` holds everything one `init` or `apply` call needs while the user's
function runs: the parameter dict being created (init) or read (apply), the state
dict, the PRNG sequence, and the stack of module methods currently executing
(which decides module names and which `module_path` a parameter belongs to).

Frames live on a thread-local stack (actors may trace policies from several
threads at once) and are pushed and popped with `try/finally`, so an exception in
user code never leaves a stale frame behind.

Parameters and state use Haiku's layout: `dict[module_path, dict[name, array]]`,
with `~` as the module path for values created outside any module.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Any, Callable, Iterator, Mapping, MutableMapping, NamedTuple, Optional, Sequence

import jax.numpy as jnp

from vtrax.nets import errors

Params = Mapping[str, Mapping[str, Any]]
State = Mapping[str, Mapping[str, Any]]
Initializer = Callable[[Sequence[int], Any], Any]

TOP_LEVEL_BUNDLE = "~"


class ModuleState(NamedTuple):
    """One entry of the module stack: which module is running which method."""

    module: Any
    method_name: str


class Frame:
    """Mutable per-call context of one `init` or `apply` (see module docstring).

    Attributes:
      params: `{module_path: {name: array}}`; filled during init, read during apply.
      state: current state values, same layout.
      initial_state: the first value seen for each state entry during init.
      rng: a `PRNGSequence` or None when the caller passed `rng=None`.
      creating: True while parameters may be created (init), False in apply.
      allow_state: False under `transform` (state needs `transform_with_state`).
      entry_point: "init" or "apply", used in error messages.
      module_stack / counter_stack / used_names_stack: naming bookkeeping; one
        entry per running module method plus one for the top level.
    """

    __slots__ = ("params", "state", "initial_state", "rng", "creating", "allow_state", "entry_point",
                 "module_stack", "counter_stack", "used_names_stack")

    def __init__(self, *, params: MutableMapping, state: MutableMapping, rng: Any, creating: bool,
                 allow_state: bool, entry_point: str):
        self.params = params
        self.state = state
        self.initial_state: dict = {}
        self.rng = rng
        self.creating = creating
        self.allow_state = allow_state
        self.entry_point = entry_point
        self.module_stack: list[ModuleState] = []
        self.counter_stack: list[collections.Counter] = [collections.Counter()]
        self.used_names_stack: list[set] = [set()]

    def bundle_name(self) -> str:
        """Module path that parameters created right now belong to (`~` at top level)."""
        if not self.module_stack:
            return TOP_LEVEL_BUNDLE
        module = self.module_stack[-1].module
        name = getattr(module, "module_name", None)
        if name is None:
            raise errors.ModuleNameError(
                f"{type(module).__name__} created a parameter or submodule before calling "
                f"super().__init__(name=name); make that the first line of its __init__.")
        return name


class _FrameStack(threading.local):
    def __init__(self):
        self.frames: list[Frame] = []


_STACK = _FrameStack()


@contextlib.contextmanager
def frame_scope(frame: Frame) -> Iterator[Frame]:
    """Makes `frame` current for the duration of the block (balanced even on error)."""
    _STACK.frames.append(frame)
    try:
        yield frame
    finally:
        popped = _STACK.frames.pop()
        # NOTE: a mismatch here means a frame was pushed without this helper.
        if popped is not frame:
            raise RuntimeError("nets frame stack is unbalanced; this is a bug in nets.")


def current_frame_or_none() -> Optional[Frame]:
    frames = _STACK.frames
    return frames[-1] if frames else None


def current_frame(what: str) -> Frame:
    """The active frame; raises a teaching error when called outside `transform`."""
    frames = _STACK.frames
    if not frames:
        raise errors.ModuleOutsideTransformError(
            f"{what} was called outside nets.transform. Modules, parameters, state and random keys only "
            "exist while a transformed function runs: put this code in a function `f`, build "
            "`net = nets.transform(f)`, then call `params = net.init(rng, x)` and "
            "`net.apply(params, rng, x)`.")
    return frames[-1]


def running_init() -> bool:
    """True while inside `init` (parameters are being created), False in `apply`."""
    return current_frame("nets.running_init()").entry_point == "init"


def current_name() -> str:
    """Module path of the running module (`~` at the top level of the transformed function)."""
    return current_frame("nets.current_name()").bundle_name()


def _shape_error(kind: str, bundle: str, name: str, stored: tuple, requested: tuple, dtype: Any,
                 creating: bool) -> errors.ParameterShapeError:
    if creating:
        cause = (f"module '{bundle}' was called twice on inputs of different sizes; a module instance "
                 "shares its parameters between calls, so use a separate instance (or the same input size) "
                 "for each call")
    else:
        cause = (f"the {kind}s given to apply were not made for this model: re-run init with the same "
                 "constructor arguments and input shapes you apply with, or load the checkpoint that matches "
                 "this model configuration")
    return errors.ParameterShapeError(
        f"{kind.capitalize()} '{bundle}/{name}' has shape {stored} but module '{bundle}' requested shape "
        f"{requested} (dtype {jnp.dtype(dtype).name}). Likely cause: {cause}.")


def get_parameter(name: str, shape: Sequence[int], dtype: Any = jnp.float32,
                  init: Optional[Initializer] = None) -> Any:
    """Creates (init) or retrieves (apply) the parameter `name` of the running module.

    Args:
      name: parameter name within the module, e.g. "w".
      shape: expected shape; must match the stored value.
      dtype: dtype used when creating it.
      init: `init(shape, dtype) -> array`, called only the first time during init.

    Returns:
      The parameter array, stored under `params[module_path][name]`.

    Raises:
      ModuleOutsideTransformError: outside `transform`.
      MissingParameterError: in apply, when the params dict lacks this entry.
      ParameterShapeError: when the stored shape differs from `shape`.
    """
    frame = current_frame(f"nets.get_parameter({name!r})")
    bundle = frame.bundle_name()
    shape = tuple(int(d) for d in shape)
    stored = frame.params.get(bundle)
    value = None if stored is None else stored.get(name)
    if value is None:
        if not frame.creating and frame.entry_point == "init":
            raise errors.MissingParameterError(
                f"Parameter '{bundle}/{name}' was first requested inside a nets.scan loop body during init; "
                "parameters must already exist after the loop's first step. Make the step function create the "
                "same parameters on every step (no Python-side conditions on the step).")
        if not frame.creating:
            raise errors.MissingParameterError(
                f"Unable to retrieve parameter '{bundle}/{name}' during apply: the params dict has no such "
                f"entry (it has {len(frame.params)} module(s): {_preview(frame.params)}). All parameters must be "
                "created by init; pass apply the params that init returned for this same model.")
        if init is None:
            raise ValueError(f"Parameter '{bundle}/{name}' does not exist yet and no initializer was given; "
                             "pass init=..., e.g. nets.initializers.TruncatedNormal(0.1).")
        value = init(shape, dtype)
        frame.params.setdefault(bundle, {})[name] = value
    if tuple(value.shape) != shape:
        raise _shape_error("parameter", bundle, name, tuple(value.shape), shape, dtype, frame.creating)
    return value


def get_state(name: str, shape: Optional[Sequence[int]] = None, dtype: Any = jnp.float32,
              init: Optional[Initializer] = None) -> Any:
    """Creates (init) or reads the state entry `name` of the running module.

    Raises:
      UnsupportedStateError: under `transform` (use `transform_with_state`).
      MissingStateError: in apply, when the state dict lacks this entry.
      ParameterShapeError: when `shape` is given and differs from the stored shape.
    """
    frame = _state_frame(f"nets.get_state({name!r})")
    bundle = frame.bundle_name()
    value = frame.state.get(bundle, {}).get(name)
    if value is None:
        if not frame.creating:
            raise errors.MissingStateError(
                f"Unable to retrieve state '{bundle}/{name}' during {frame.entry_point}: it was not created by "
                "init (or by a nets.scan loop's first step). Pass apply the state returned by init (or by the "
                "previous apply) of this same model.")
        if init is None or shape is None:
            raise ValueError(f"State '{bundle}/{name}' does not exist yet; pass shape=... and init=... to "
                             "get_state so it can be created during init.")
        value = init(tuple(shape), dtype)
        _store_state(frame, bundle, name, value)
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise _shape_error("state", bundle, name, tuple(value.shape), tuple(shape), dtype, frame.creating)
    return value


def set_state(name: str, value: Any) -> None:
    """Sets the state entry `name` of the running module (created on first set during init)."""
    frame = _state_frame(f"nets.set_state({name!r})")
    _store_state(frame, frame.bundle_name(), name, value)


def _store_state(frame: Frame, bundle: str, name: str, value: Any) -> None:
    frame.state.setdefault(bundle, {})[name] = value
    if frame.creating:
        frame.initial_state.setdefault(bundle, {}).setdefault(name, value)


def _state_frame(what: str) -> Frame:
    frame = current_frame(what)
    if not frame.allow_state:
        raise errors.UnsupportedStateError(
            f"{what} was called in module '{frame.bundle_name()}' under nets.transform, which has no state. "
            "Use nets.transform_with_state(f): its init returns (params, state) and its apply takes and "
            "returns state.")
    return frame


def _preview(tree: Mapping, limit: int = 5) -> str:
    names = list(tree)
    text = ", ".join(repr(n) for n in names[:limit])
    return text + (", ..." if len(names) > limit else "") if names else "none"
