"""Reverb's checkpoint folders, read without Reverb: the driver finds the newest one without loading TensorFlow."""

from __future__ import annotations

import os


def newest_checkpoint(checkpoint_dir: str) -> str | None:
    """The checkpoint that Reverb's default checkpointer loads from `checkpoint_dir`, or None.

    Reverb names checkpoints by their UTC timestamp and loads the newest one
    whose `DONE` file exists (a checkpoint cut short by a crash has none).
    """
    if not os.path.isdir(checkpoint_dir):
        return None
    done = sorted(name for name in os.listdir(checkpoint_dir)
                  if os.path.isfile(os.path.join(checkpoint_dir, name, "DONE")))
    return os.path.join(checkpoint_dir, done[-1]) if done else None
