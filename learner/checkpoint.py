"""Learner checkpoints through orbax-checkpoint's `CheckpointManager` (layout v2).

A run's checkpoint folder holds one orbax step directory per saved step:

    <dir>/ckpt_000000001234/          1234 = TrainingState.step
        params/           orbax PyTree (OCDBT) of TrainingState.params
        opt_state/        orbax PyTree of TrainingState.opt_state
        meta/metadata     JSON: layout version, step, counters, config, network
                          description, RNG key data, write time, and for every
                          leaf its tree path (jax keystr), shape and dtype
        _CHECKPOINT_METADATA   orbax's own

orbax provides what the learner needs: a step is written into
`ckpt_<step>.orbax-checkpoint-tmp-*` and renamed to its final name only when
complete (atomic finalize; a save killed at any point leaves earlier
checkpoints intact, and the next writer deletes the debris), the newest `keep`
steps are kept, and `CheckpointWriter.save` returns once the arrays are copied,
committing in a background thread so the learner loop does not stall.

Measured (2-core CPU, 2026-12; /tmp/ckbench/bench.py, 5 saves each, median):
Atari IMPALA-deep params + RMSProp state (8.4 MiB): v1 npz 51 ms blocking;
orbax sync 207 ms; orbax async 48 ms blocking (220 ms until final), +11 MiB peak
RSS. CartPole MLP: npz 20 ms, orbax async 30 ms blocking. `import
orbax.checkpoint` adds 0.33 s on top of `import vtrax.learner` (1.35 s), paid
only by a process that saves or loads a checkpoint: orbax is imported inside
the functions, so `import vtrax.learner` (and `vtrax bench learner` on a GPU
machine with another Python and JAX) works without orbax installed.

Layout v1 (`ckpt-<step>/{arrays.npz, meta.json}`, vtrax 0.1.0 up to git a4db8ed) is
refused with one sentence (`CheckpointMismatchError`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from typing import Any, Callable, NamedTuple

import jax
import numpy as np

from vtrax.learner.config import OPERATIONAL_FIELDS, LearnerConfig
from vtrax.learner.state import TrainingState

log = logging.getLogger(__name__)

LAYOUT_VERSION = 2
_STEP_PREFIX = "ckpt"  # orbax names a step `ckpt_<step, 12 digits>`
_STEP_DIGITS = 12
_STEP_NAME = re.compile(r"ckpt_(\d+)")
_ITEMS = ("params", "opt_state", "meta")
_META = os.path.join("meta", "metadata")  # where orbax's JsonSave puts the "meta" item
_REPLACED_PREFIX = ".replaced-"  # a step saved again is moved aside under this name until the new one is final
_V1_NAME = re.compile(r"ckpt-\d+")
_V1_META = "meta.json"


class CheckpointMismatchError(ValueError):
    """A checkpoint was written for another network, config or checkpoint layout than the one reading it."""


class CheckpointUnreadableError(ValueError):
    """No checkpoint of a run could be read: each is partial or corrupt (not merely for another config)."""


class Checkpoint(NamedTuple):
    """What `restore_checkpoint` returns; `unreadable` names newer checkpoints skipped as corrupt or partial."""

    state: TrainingState
    counters: dict[str, int]
    rng: np.ndarray | None
    path: str
    unreadable: tuple[str, ...] = ()


class CheckpointWriter:
    """Saves a run's checkpoints through one orbax `CheckpointManager` (keep-N, atomic finalize, async).

    Args:
      directory: folder holding the run's checkpoints (created if missing).
      keep: how many newest checkpoints to keep (older ones are deleted).
      async_save: return from `save` once the arrays are copied and commit in
        a background thread (call `wait` or `close` to block until final).
    """

    def __init__(self, directory: str, keep: int, *, async_save: bool = True):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        # orbax is imported here, not at the top: `import vtrax.learner` must work where orbax is not
        # installed (the GPU bench machine runs another Python and JAX without our pins).
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self._directory = os.path.abspath(directory)
        os.makedirs(self._directory, exist_ok=True)
        _refuse_v1(self._directory)
        _remove_replaced(self._directory)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, step_prefix=_STEP_PREFIX, step_format_fixed_length=_STEP_DIGITS,
            enable_async_checkpointing=async_save, cleanup_tmp_directories=True)
        self._manager = ocp.CheckpointManager(self._directory, options=options, item_names=_ITEMS)

    def save(self, state: TrainingState, counters: dict[str, int], config: LearnerConfig,
             network_description: dict[str, Any], *, rng: Any = None) -> str:
        """Start saving `state` (one copy, not replicated); return the path it will have once final.

        Args:
          state: a single-copy `TrainingState` (host or device arrays).
          counters: JSON-able ints, e.g. `{"num_updates": .., "num_frames": ..}`.
          config: the learner config, stored and checked on restore.
          network_description: JSON-able dict naming the network, checked on restore.
          rng: optional PRNG key (raw uint32 key data or a typed key) to store.
        """
        ocp = self._ocp
        step = int(np.asarray(state.step))
        meta = _meta(step, state, counters, config, network_description, rng)
        path = self._step_path(step)
        self._manager.wait_until_finished()
        _remove_replaced(self._directory)
        if os.path.isdir(path):
            # Same step saved twice (a save after skipped updates): the old copy is moved aside, not deleted,
            # until the new one is final.
            os.rename(path, os.path.join(self._directory, f"{_REPLACED_PREFIX}{os.path.basename(path)}-"
                                                          f"{uuid.uuid4().hex[:8]}"))
            self._manager.reload()
        self._manager.save(step, args=ocp.args.Composite(
            params=ocp.args.StandardSave(state.params), opt_state=ocp.args.StandardSave(state.opt_state),
            meta=ocp.args.JsonSave(meta)))
        return path

    def wait(self) -> None:
        """Block until the save in flight (if any) is final, then drop copies of replaced steps."""
        self._manager.wait_until_finished()
        _remove_replaced(self._directory)

    def close(self) -> None:
        """`wait`, then release orbax's threads."""
        self.wait()
        self._manager.close()

    def _step_path(self, step: int) -> str:
        return os.path.join(self._directory, f"{_STEP_PREFIX}_{step:0{_STEP_DIGITS}d}")


def save_checkpoint(directory: str, state: TrainingState, counters: dict[str, int], config: LearnerConfig,
                    network_description: dict[str, Any], keep: int, *, rng: Any = None) -> str:
    """Write `state` (one copy, not replicated), wait until it is final, and return its path.

    Args: as `CheckpointWriter` and `CheckpointWriter.save`.

    Raises:
      CheckpointMismatchError: `directory` holds checkpoints of the older layout v1.
    """
    writer = CheckpointWriter(directory, keep, async_save=False)
    try:
        return writer.save(state, counters, config, network_description, rng=rng)
    finally:
        writer.close()


def list_checkpoints(directory: str) -> list[str]:
    """Final checkpoints under `directory`, oldest first (orbax temporaries excluded)."""
    if not os.path.isdir(directory):
        return []
    steps = sorted((int(match.group(1)), name) for name in os.listdir(directory)
                   if (match := _STEP_NAME.fullmatch(name)) and os.path.isdir(os.path.join(directory, name)))
    return [os.path.join(directory, name) for _, name in steps]


def latest_checkpoint(directory: str) -> str | None:
    """Path of the newest final checkpoint, or None.

    Raises:
      CheckpointMismatchError: `directory` holds only checkpoints of the older layout v1.
    """
    checkpoints = list_checkpoints(directory)
    if not checkpoints:
        _refuse_v1(directory)
    return checkpoints[-1] if checkpoints else None


def checkpoint_metadata(path: str) -> dict[str, Any]:
    """The JSON item of one checkpoint folder: step, counters, config, network, leaves, written_unix_s.

    Raises:
      CheckpointMismatchError: `path` is a checkpoint of the older layout v1.
      FileNotFoundError: `path` is not a checkpoint folder.
    """
    _refuse_v1(path)
    with open(os.path.join(path, _META)) as f:
        return json.load(f)


def restore_checkpoint(directory: str, config: LearnerConfig, network_description: dict[str, Any], *,
                       template: TrainingState) -> Checkpoint:
    """Load the newest checkpoint in `directory` (or the checkpoint folder itself).

    Args:
      directory: a run's checkpoint folder, or one `ckpt_*` folder.
      config: the current config; fields that change the numerics must equal
        the stored ones (the loop's periods and limits may differ).
      network_description: must equal the stored description.
      template: a single-copy `TrainingState` with the expected tree structure,
        shapes and dtypes (e.g. from `init_state`).

    Raises:
      FileNotFoundError: no final checkpoint exists there.
      CheckpointMismatchError: config, network or parameter shapes differ (the
        message names the first differing field), or the checkpoint has the
        older layout v1.
      CheckpointUnreadableError: every checkpoint there is partial or corrupt.
        A corrupt newest one alone is skipped: the one before it is restored and
        the result's `unreadable` names what was skipped.
    """
    return _newest_readable(directory, lambda path: _restore_one(path, config, network_description, template))


def _restore_one(path: str, config: LearnerConfig, network_description: dict[str, Any],
                 template: TrainingState) -> Checkpoint:
    meta = checkpoint_metadata(path)
    if meta.get("layout_version") != LAYOUT_VERSION:
        raise CheckpointMismatchError(f"checkpoint {path} has layout_version {meta.get('layout_version')!r}, "
                                      f"this vtrax reads layout {LAYOUT_VERSION}; start a new run")
    _check_config(path, meta["config"], config)
    _check_network(path, meta["network"], network_description)
    trees = {"params": template.params, "opt_state": template.opt_state}
    _check_leaves(path, trees, meta["leaves"])
    targets = jax.tree_util.tree_map(lambda leaf: np.zeros(np.shape(leaf), _dtype(leaf)), trees)
    restored = _restore_items(path, targets)
    state = TrainingState(params=restored["params"], opt_state=restored["opt_state"],
                          step=np.asarray(meta["step"], np.int32))
    rng = None if meta.get("rng") is None else np.asarray(meta["rng"]["data"], meta["rng"]["dtype"])
    return Checkpoint(state=state, counters=dict(meta["counters"]), rng=rng, path=path)


def _newest_readable(directory: str, restore: Callable[[str], Any]) -> Any:
    """`restore(path)` of the newest checkpoint in `directory` that reads; a corrupt or partial newer one
    (truncated file, missing metadata) is skipped and named in the result's `unreadable`.

    Raises:
      CheckpointMismatchError: the newest readable one belongs to another config or network (not skipped:
        an older one would be refused the same way, and silently going back in time hides the cause).
      CheckpointUnreadableError: none reads.
      FileNotFoundError: there is none.
    """
    if os.path.isfile(os.path.join(directory, _META)) or not list_checkpoints(directory):
        return restore(_resolve(directory))
    unreadable: list[str] = []
    for path in reversed(list_checkpoints(directory)):
        try:
            result = restore(path)
        except CheckpointMismatchError:
            raise
        except Exception as error:  # noqa: BLE001 - orbax/tensorstore/json raise many kinds for a damaged file
            first_line = (str(error).strip().splitlines() or [""])[0][:160]
            unreadable.append(f"{os.path.basename(path)} ({type(error).__name__}: {first_line})")
            continue
        if unreadable:
            log.warning("skipped unreadable checkpoints %s; using %s", "; ".join(unreadable), path)
        return result._replace(unreadable=tuple(unreadable)) if isinstance(result, Checkpoint) else result
    raise CheckpointUnreadableError(
        f"no checkpoint under {directory} can be read, each is partial or corrupt: {'; '.join(unreadable)}; "
        "start a new run (a new --logdir), or restore a backup of that folder")


def load_params(directory: str) -> dict[str, Any]:
    """Only the parameters of the newest checkpoint, as nested dicts of numpy arrays.

    For evaluation and serving, which know no optimiser. Haiku-style parameter
    trees (dicts of dicts) come back exactly; no config check is made.
    """
    return _newest_readable(directory, _load_params_one)


def _load_params_one(path: str) -> dict[str, Any]:
    target: dict[str, Any] = {}
    for leaf in checkpoint_metadata(path)["leaves"]:
        keys = _dict_keys(leaf["path"])
        if keys is None or keys[0] != "params":
            continue
        node = target
        for key in keys[1:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = np.zeros(leaf["shape"], leaf["dtype"])
    return _restore_items(path, {"params": target})["params"]


def _meta(step: int, state: TrainingState, counters: dict[str, int], config: LearnerConfig,
          network_description: dict[str, Any], rng: Any) -> dict[str, Any]:
    flat, _ = jax.tree_util.tree_flatten_with_path({"params": state.params, "opt_state": state.opt_state})
    key_data = None if rng is None else np.asarray(jax.random.key_data(rng) if _is_typed_key(rng) else rng)
    return {
        "layout_version": LAYOUT_VERSION,
        "step": step,
        "counters": {key: int(value) for key, value in counters.items()},
        "config": config.to_dict(),
        "network": network_description,
        "rng": None if key_data is None else {"data": key_data.tolist(), "dtype": str(key_data.dtype)},
        "leaves": [{"path": jax.tree_util.keystr(key_path), "shape": list(np.shape(value)),
                    "dtype": str(_dtype(value))} for key_path, value in flat],
        "written_unix_s": time.time(),
    }


def _restore_items(path: str, targets: dict[str, Any]) -> dict[str, Any]:
    # orbax is imported here, not at the top: `import vtrax.learner` must work without orbax (see CheckpointWriter).
    import orbax.checkpoint as ocp

    args = ocp.args.Composite(**{name: ocp.args.StandardRestore(target) for name, target in targets.items()})
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        return dict(checkpointer.restore(os.path.abspath(path), args=args))


def _check_leaves(path: str, trees: Any, stored_leaves: list[dict[str, Any]]) -> None:
    flat, _ = jax.tree_util.tree_flatten_with_path(trees)
    expected = {jax.tree_util.keystr(key_path): leaf for key_path, leaf in flat}
    stored = {leaf["path"]: leaf for leaf in stored_leaves}
    missing = [name for name in expected if name not in stored]
    extra = [name for name in stored if name not in expected]
    if missing or extra:
        raise CheckpointMismatchError(
            f"checkpoint {path} does not match the network's parameter tree: missing {missing[:3]}, "
            f"unexpected {extra[:3]}; restore with the network that wrote it")
    problems = []
    for name, want in expected.items():
        got_shape, got_dtype = tuple(stored[name]["shape"]), np.dtype(stored[name]["dtype"])
        want_shape, want_dtype = tuple(np.shape(want)), _dtype(want)
        if got_shape != want_shape or got_dtype != want_dtype:
            problems.append(f"leaf {name} has shape {got_shape} {got_dtype}, the network expects "
                            f"{want_shape} {want_dtype}")
    if problems:
        problems.sort(key=lambda problem: not problem.startswith("leaf ['params']"))  # params tell more
        raise CheckpointMismatchError(f"checkpoint {path}: {problems[0]} ({len(problems)} leaves differ); "
                                      f"restore with the network that wrote it")


def _check_config(path: str, stored: dict[str, Any], config: LearnerConfig) -> None:
    current = config.to_dict()
    # A field added after the checkpoint was written (e.g. reward_scale) held its default then.
    stored = {**LearnerConfig().to_dict(), **stored}
    for name in sorted(set(stored) | set(current)):
        if name in OPERATIONAL_FIELDS:
            continue
        if stored.get(name, "<absent>") != current.get(name, "<absent>"):
            raise CheckpointMismatchError(
                f"checkpoint {path} was written with config {name}={stored.get(name, '<absent>')!r} but the "
                f"current config has {name}={current.get(name, '<absent>')!r}; use the original value or a "
                f"fresh logdir")


def _check_network(path: str, stored: dict[str, Any], current: dict[str, Any]) -> None:
    current = json.loads(json.dumps(current))  # tuples -> lists, as stored
    for name in sorted(set(stored) | set(current)):
        if stored.get(name, "<absent>") != current.get(name, "<absent>"):
            raise CheckpointMismatchError(
                f"checkpoint {path} was written for network {name}={stored.get(name, '<absent>')!r} but the "
                f"current network has {name}={current.get(name, '<absent>')!r}; restore with the network that "
                f"wrote it or use a fresh logdir")


def _resolve(directory: str) -> str:
    if os.path.isfile(os.path.join(directory, _META)):
        return directory
    path = latest_checkpoint(directory)
    if path is None:
        raise FileNotFoundError(f"no complete checkpoint ({_STEP_PREFIX}_<step>/) under {directory!r}")
    return path


def _refuse_v1(path: str) -> None:
    """Raise if `path` is a layout-v1 checkpoint, or a folder holding some and no layout-v2 one."""
    if os.path.isfile(os.path.join(path, _V1_META)):
        old = path
    elif os.path.isdir(path) and not list_checkpoints(path):
        old = next((os.path.join(path, name) for name in sorted(os.listdir(path))
                    if _V1_NAME.fullmatch(name) and os.path.isfile(os.path.join(path, name, _V1_META))), None)
    else:
        old = None
    if old is not None:
        raise CheckpointMismatchError(
            f"checkpoint {old} was written by an older vtrax (checkpoint layout v1); start a new run or use "
            f"vtrax 0.1.0 at git a4db8ed or earlier to resume or evaluate it")


def _remove_replaced(directory: str) -> None:
    for name in os.listdir(directory):
        if name.startswith(_REPLACED_PREFIX):
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


def _dict_keys(keystr: str) -> list[str] | None:
    """"['params']['mlp/~/linear']['w']" -> ['params', 'mlp/~/linear', 'w'] (None if not all dict keys)."""
    if not (keystr.startswith("['") and keystr.endswith("']")):
        return None
    return keystr[2:-2].split("']['")


def _dtype(leaf: Any) -> np.dtype:
    dtype = getattr(leaf, "dtype", None)
    return np.dtype(dtype if dtype is not None else np.asarray(leaf).dtype)


def _is_typed_key(rng: Any) -> bool:
    return hasattr(rng, "dtype") and jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key)
