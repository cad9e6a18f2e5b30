"""Reverb's checkpoint folders, read without Reverb: the driver finds the newest one without loading TensorFlow.

    <checkpoint_dir>/<UTC timestamp>/           the newest checkpoint (Reverb deletes older ones)
    <checkpoint_dir>.previous/<UTC timestamp>/  the one before it, hard links kept by `keep_previous`
    <checkpoint_dir>.unreadable/<UTC timestamp>/  a checkpoint that failed to load, set aside by the server

Reverb keeps one checkpoint, so a newest one that cannot be read (a truncated
file) would leave nothing to restore: the server keeps the checkpoint before it
too, as hard links (no copy), and loads that one when the newest fails.

Reverb's records carry CRCs, so a changed byte fails the load; a file cut short
at a record boundary, or missing, loads silently as fewer (or no) items. So each
checkpoint gets `vtrax-sizes.json` (its files' sizes, written after Reverb's
DONE), checked before loading.
"""

from __future__ import annotations

import json
import os
import shutil


def newest_checkpoint(checkpoint_dir: str) -> str | None:
    """The checkpoint that Reverb's default checkpointer loads from `checkpoint_dir`, or None.

    Reverb names checkpoints by their UTC timestamp and loads the newest one
    whose `DONE` file exists (a checkpoint cut short by a crash has none).
    """
    if not os.path.isdir(checkpoint_dir):
        return None
    done = sorted(name for name in os.listdir(checkpoint_dir)
                  if not name.startswith(".") and os.path.isfile(os.path.join(checkpoint_dir, name, "DONE")))
    return os.path.join(checkpoint_dir, done[-1]) if done else None


CHECKPOINT_FILES = ("tables.tfrecord", "chunks.tfrecord", "items.tfrecord", "DONE")
"""What Reverb's (0.14) default checkpointer writes into each checkpoint folder."""


SIZES_FILE = "vtrax-sizes.json"


def record_sizes(checkpoint: str) -> None:
    """Write `<checkpoint>/vtrax-sizes.json`: the byte size of each of Reverb's files, as written."""
    sizes = {name: os.path.getsize(os.path.join(checkpoint, name)) for name in CHECKPOINT_FILES}
    temporary = os.path.join(checkpoint, f".{SIZES_FILE}.tmp")
    with open(temporary, "w") as f:
        json.dump(sizes, f)
    os.replace(temporary, os.path.join(checkpoint, SIZES_FILE))


def checkpoint_problem(checkpoint: str) -> str | None:
    """What is wrong with a checkpoint folder before Reverb reads it, or None.

    A missing file (`"no chunks.tfrecord"`), or one whose size differs from what
    `record_sizes` wrote (`"chunks.tfrecord has 1,024 bytes, 2,048 when written"`).
    """
    missing = [name for name in CHECKPOINT_FILES if not os.path.isfile(os.path.join(checkpoint, name))]
    if missing:
        return f"no {', '.join(missing)}"
    try:
        with open(os.path.join(checkpoint, SIZES_FILE)) as f:
            written = json.load(f)
    except FileNotFoundError:  # NOTE: killed between Reverb's DONE and the sizes: Reverb's CRCs still check
        return None
    except (OSError, ValueError) as error:
        return f"{SIZES_FILE} unreadable ({error})"
    changed = [f"{name} has {os.path.getsize(os.path.join(checkpoint, name)):,} bytes, {size:,} when written"
               for name, size in written.items()
               if os.path.getsize(os.path.join(checkpoint, name)) != size]
    return "; ".join(changed) or None


def previous_dir(checkpoint_dir: str) -> str:
    """Where the checkpoint before the newest one is kept."""
    return os.path.normpath(checkpoint_dir) + ".previous"


def unreadable_dir(checkpoint_dir: str) -> str:
    """Where checkpoints that failed to load are set aside (never deleted: a person may want them)."""
    return os.path.normpath(checkpoint_dir) + ".unreadable"


def previous_checkpoint(checkpoint_dir: str) -> str | None:
    """The kept checkpoint before the newest one, or None."""
    return newest_checkpoint(previous_dir(checkpoint_dir))


def keep_previous(checkpoint_dir: str) -> str | None:
    """Before Reverb writes a new checkpoint (and deletes the current one), keep the current one; returns where.

    Hard links: Reverb writes every checkpoint into new files, so the kept files stay as they were.
    The copy is made under a hidden name and renamed, so a crash never leaves half a checkpoint to load.
    """
    current = newest_checkpoint(checkpoint_dir)
    if current is None:
        return None
    kept_root = previous_dir(checkpoint_dir)
    name = os.path.basename(current)
    kept = os.path.join(kept_root, name)
    if not os.path.isdir(kept):
        staging = os.path.join(kept_root, f".partial-{name}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(current, staging, copy_function=_link_or_copy)
        os.replace(staging, kept)
    for other in os.listdir(kept_root):
        if other != name:
            shutil.rmtree(os.path.join(kept_root, other), ignore_errors=True)
    return kept


def set_aside_unreadable(checkpoint: str, checkpoint_dir: str) -> str:
    """Move a checkpoint that failed to load out of `checkpoint_dir`; returns its new path."""
    target_root = unreadable_dir(checkpoint_dir)
    os.makedirs(target_root, exist_ok=True)
    target = os.path.join(target_root, os.path.basename(checkpoint))
    if os.path.exists(target):
        target = f"{target}.{os.getpid()}"
    os.replace(checkpoint, target)
    return target


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # NOTE: a file system without hard links
        shutil.copy2(source, destination)
