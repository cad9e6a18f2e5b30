"""Atomic learner checkpoints in a small documented format (numpy `.npz` + JSON).

orbax-checkpoint is not part of the pinned stack (it is not installed and its
releases that still support jax 0.4.34 pull newer numpy/protobuf pins), so the
learner writes this format instead. A checkpoint is one directory:

    <dir>/ckpt-000000001234/          1234 = TrainingState.step
        arrays.npz    leaves "a0", "a1", ... of params, opt_state and the RNG key
        meta.json     format version, step, counters, config, network
                      description, and for every leaf its tree path
                      (jax keystr), shape and dtype

Atomicity: both files are written and fsynced inside a hidden temporary
directory `<dir>/.tmp-ckpt-...`, which is then renamed to its final name (a
rename is atomic on POSIX filesystems) and the parent directory fsynced. A save
killed at any point leaves at worst a `.tmp-ckpt-*` directory, which readers
ignore and the next save deletes; earlier checkpoints are never touched before
the new one is complete. The newest `keep` checkpoints are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from vtrax.learner.config import OPERATIONAL_FIELDS, LearnerConfig
from vtrax.learner.state import TrainingState

FORMAT_VERSION = 1
_PREFIX = "ckpt-"
_TMP_PREFIX = ".tmp-ckpt-"
_ARRAYS = "arrays.npz"
_META = "meta.json"


class CheckpointMismatchError(ValueError):
    """A checkpoint was written for another network or config than the one restoring it."""


class Checkpoint(NamedTuple):
    """What `restore_checkpoint` returns."""

    state: TrainingState
    counters: dict[str, int]
    rng: np.ndarray | None
    path: str


def save_checkpoint(directory: str, state: TrainingState, counters: dict[str, int], config: LearnerConfig,
                    network_description: dict[str, Any], keep: int, *, rng: Any = None) -> str:
    """Atomically write `state` (one copy, not replicated) and return the checkpoint's path.

    Args:
      directory: folder holding the run's checkpoints (created if missing).
      state: a single-copy `TrainingState` (host or device arrays).
      counters: JSON-able ints, e.g. `{"num_updates": .., "num_frames": ..}`.
      config: the learner config, stored and checked on restore.
      network_description: JSON-able dict naming the network, checked on restore.
      keep: how many newest checkpoints to keep (older ones are deleted).
      rng: optional PRNG key (raw uint32 key data) to store.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temporaries(directory)
    step = int(np.asarray(state.step))
    leaves = _named_leaves({"params": state.params, "opt_state": state.opt_state})
    arrays = {f"a{i}": value for i, (_, value) in enumerate(leaves)}
    if rng is not None:
        arrays["rng"] = np.asarray(jax.random.key_data(rng) if _is_typed_key(rng) else rng)
    meta = {
        "format_version": FORMAT_VERSION,
        "step": step,
        "counters": {key: int(value) for key, value in counters.items()},
        "config": config.to_dict(),
        "network": network_description,
        "leaves": [{"path": path, "shape": list(value.shape), "dtype": str(value.dtype)} for path, value in leaves],
        "written_unix_s": time.time(),
    }
    temporary = tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=directory)
    _write_synced(os.path.join(temporary, _ARRAYS), lambda f: np.savez(f, **arrays))
    _write_synced(os.path.join(temporary, _META), lambda f: f.write(json.dumps(meta, indent=1).encode()))
    final = os.path.join(directory, f"{_PREFIX}{step:012d}")
    _replace_directory(temporary, final)
    _fsync_directory(directory)
    for old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(directory: str) -> list[str]:
    """Complete checkpoints under `directory`, oldest first (temporaries excluded)."""
    if not os.path.isdir(directory):
        return []
    names = sorted(name for name in os.listdir(directory)
                   if name.startswith(_PREFIX) and os.path.isfile(os.path.join(directory, name, _META)))
    return [os.path.join(directory, name) for name in names]


def latest_checkpoint(directory: str) -> str | None:
    """Path of the newest complete checkpoint, or None."""
    checkpoints = list_checkpoints(directory)
    return checkpoints[-1] if checkpoints else None


def restore_checkpoint(directory: str, config: LearnerConfig, network_description: dict[str, Any], *,
                       template: TrainingState) -> Checkpoint:
    """Load the newest checkpoint in `directory` (or the checkpoint folder itself).

    Args:
      directory: a run's checkpoint folder, or one `ckpt-*` folder.
      config: the current config; fields that change the numerics must equal
        the stored ones (the loop's periods and limits may differ).
      network_description: must equal the stored description.
      template: a single-copy `TrainingState` with the expected tree structure,
        shapes and dtypes (e.g. from `init_state`).

    Raises:
      FileNotFoundError: no complete checkpoint exists there.
      CheckpointMismatchError: config, network or parameter shapes differ; the
        message names the first differing field.
    """
    path = _resolve(directory)
    with open(os.path.join(path, _META)) as f:
        meta = json.load(f)
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointMismatchError(f"checkpoint {path} has format_version {meta.get('format_version')!r}, "
                                      f"this vtrax reads version {FORMAT_VERSION}")
    _check_config(path, meta["config"], config)
    _check_network(path, meta["network"], network_description)
    with np.load(os.path.join(path, _ARRAYS)) as npz:
        stored = {leaf["path"]: npz[f"a{i}"] for i, leaf in enumerate(meta["leaves"])}
        rng = np.array(npz["rng"]) if "rng" in npz.files else None
    trees = {"params": template.params, "opt_state": template.opt_state}
    restored = _fill_template(path, trees, stored)
    state = TrainingState(params=restored["params"], opt_state=restored["opt_state"],
                          step=np.asarray(meta["step"], np.int32))
    return Checkpoint(state=state, counters=dict(meta["counters"]), rng=rng, path=path)


def load_params(directory: str) -> dict[str, Any]:
    """Only the parameters of the newest checkpoint, as nested dicts of numpy arrays.

    For evaluation and serving, which know no optimiser. Haiku-style parameter
    trees (dicts of dicts) come back exactly; no config check is made.
    """
    path = _resolve(directory)
    with open(os.path.join(path, _META)) as f:
        meta = json.load(f)
    params: dict[str, Any] = {}
    with np.load(os.path.join(path, _ARRAYS)) as npz:
        for i, leaf in enumerate(meta["leaves"]):
            keys = _dict_keys(leaf["path"])
            if keys is None or keys[0] != "params":
                continue
            node = params
            for key in keys[1:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = np.array(npz[f"a{i}"])
    return params


def _named_leaves(tree: Any) -> list[tuple[str, np.ndarray]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), np.asarray(value)) for path, value in flat]


def _fill_template(path: str, trees: Any, stored: dict[str, np.ndarray]) -> Any:
    flat, treedef = jax.tree_util.tree_flatten_with_path(trees)
    expected = [jax.tree_util.keystr(key_path) for key_path, _ in flat]
    missing = [name for name in expected if name not in stored]
    extra = [name for name in stored if name not in set(expected)]
    if missing or extra:
        raise CheckpointMismatchError(
            f"checkpoint {path} does not match the network's parameter tree: missing {missing[:3]}, "
            f"unexpected {extra[:3]}; restore with the network that wrote it")
    leaves, problems = [], []
    for (_, want), name in zip(flat, expected):
        got = stored[name]
        want_shape, want_dtype = tuple(np.shape(want)), np.dtype(getattr(want, "dtype", np.asarray(want).dtype))
        if got.shape != want_shape or got.dtype != want_dtype:
            problems.append(f"leaf {name} has shape {got.shape} {got.dtype}, the network expects "
                            f"{want_shape} {want_dtype}")
        leaves.append(got)
    if problems:
        problems.sort(key=lambda problem: not problem.startswith("leaf ['params']"))  # params tell more
        raise CheckpointMismatchError(f"checkpoint {path}: {problems[0]} ({len(problems)} leaves differ); "
                                      f"restore with the network that wrote it")
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _check_config(path: str, stored: dict[str, Any], config: LearnerConfig) -> None:
    current = config.to_dict()
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
        raise FileNotFoundError(f"no complete checkpoint (ckpt-*/{_META}) under {directory!r}")
    return path


def _dict_keys(keystr: str) -> list[str] | None:
    """"['params']['mlp/~/linear']['w']" -> ['params', 'mlp/~/linear', 'w'] (None if not all dict keys)."""
    if not (keystr.startswith("['") and keystr.endswith("']")):
        return None
    return keystr[2:-2].split("']['")


def _write_synced(filename: str, write: Any) -> None:
    with open(filename, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_directory(source: str, target: str) -> None:
    if not os.path.exists(target):
        os.rename(source, target)
        return
    # Same step saved twice (e.g. a final save right after a periodic one):
    # the old copy is moved aside, not deleted, until the new one is in place.
    trash = tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=os.path.dirname(target))
    os.rename(target, os.path.join(trash, "old"))
    os.rename(source, target)
    shutil.rmtree(trash, ignore_errors=True)


def _remove_stale_temporaries(directory: str) -> None:
    for name in os.listdir(directory):
        if name.startswith(_TMP_PREFIX):
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


def _is_typed_key(rng: Any) -> bool:
    return hasattr(rng, "dtype") and jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key)
