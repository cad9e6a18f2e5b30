"""What `vtrax serve RUN_DIR|CHECKPOINT` serves: the checkpoints to read and the environment they act in.

    RUN_DIR/                      -> follow RUN_DIR/checkpoints (newest first), env from config.json
      config.json
      checkpoints/                -> same, the run directory is its parent
        ckpt_000000001234/        -> this checkpoint only (pinned), env from ../../config.json or --env
          meta/metadata, params/, opt_state/    (learner/checkpoint.py, orbax)

The network is rebuilt from the checkpoint's own metadata (`meta/metadata`), so
a checkpoint is always served by the architecture that wrote it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_META = "meta/metadata"
_META_V1 = "meta.json"  # the older checkpoint layout: recognised here, refused in one sentence when loaded
_CONFIG = "config.json"


class ServeSetupError(RuntimeError):
    """`vtrax serve` cannot start; the message names the cause and the fix."""


@dataclass(frozen=True)
class PolicySource:
    """Where the served parameters come from.

    Attributes:
      path: what the user passed.
      checkpoints_dir: the folder of `ckpt_*` checkpoints to read the newest from.
      pinned_checkpoint: one checkpoint folder to serve forever (None: follow the newest).
      run_dir: the run directory (None for a checkpoint outside one).
      env_id: the environment the policy acts in.
    """

    path: Path
    checkpoints_dir: Path
    pinned_checkpoint: Path | None
    run_dir: Path | None
    env_id: str

    @property
    def can_follow(self) -> bool:
        return self.pinned_checkpoint is None


def resolve_source(path: str | os.PathLike, *, env_id: str | None = None) -> PolicySource:
    """Classify `path` as a run directory, its checkpoints folder or one checkpoint.

    Args:
      path: RUN_DIR, RUN_DIR/checkpoints, or a `ckpt_*` folder.
      env_id: overrides (or, for a checkpoint outside a run directory, supplies)
        the environment id.

    Raises:
      ServeSetupError: the path does not exist or is none of the three, or no
        environment id can be found.
    """
    path = Path(path)
    if not path.exists():
        raise ServeSetupError(f"{path} does not exist; pass a run directory written by `vtrax train` or one of "
                              "its checkpoints/ckpt_* folders")
    if (path / _META).is_file() or (path / _META_V1).is_file():
        run_dir = path.parent.parent if (path.parent.parent / _CONFIG).is_file() else None
        return PolicySource(path, path.parent, path, run_dir, _env_id(run_dir, env_id, path))
    if (path / _CONFIG).is_file():
        return PolicySource(path, path / "checkpoints", None, path, _env_id(path, env_id, path))
    if path.name == "checkpoints" and (path.parent / _CONFIG).is_file():
        return PolicySource(path, path, None, path.parent, _env_id(path.parent, env_id, path))
    raise ServeSetupError(f"{path} is neither a run directory (with config.json) nor a checkpoint (with "
                          f"{_META}); pass the directory `vtrax train` printed, or RUN_DIR/checkpoints/ckpt_*")


def _env_id(run_dir: Path | None, override: str | None, path: Path) -> str:
    if override:
        return override
    if run_dir is None:
        raise ServeSetupError(f"checkpoint {path} is not inside a run directory, so its environment is unknown; "
                              "pass --env ENV_ID (e.g. --env CartPole-v1)")
    config = json.loads((run_dir / _CONFIG).read_text())
    if "env_id" not in config:
        raise ServeSetupError(f"{run_dir / _CONFIG} has no env_id; pass --env ENV_ID")
    return str(config["env_id"])


def checkpoint_meta(checkpoint: str | os.PathLike) -> dict[str, Any]:
    """The metadata of one checkpoint folder (step, network description, write time).

    Raises:
      learner.CheckpointMismatchError: the checkpoint has the older layout v1.
    """
    from vtrax.learner import checkpoint_metadata

    return checkpoint_metadata(str(checkpoint))
