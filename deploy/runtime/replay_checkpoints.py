"""Replay persistence of a run: which table `vtrax train` checkpoints, where, and what a start restored.

    RUN_DIR/replay/
      table.json      the replay.TableConfig the checkpoints were written for (checked by --resume)
      checkpoints/    Reverb's checkpoints, <UTC timestamp>/ (Reverb keeps the newest one)
      checkpoints.previous/        the one before it (hard links; loaded when the newest is unreadable)
      checkpoints.unreadable/      checkpoints that failed to load, set aside (never deleted)
      checkpoints.after-manifest/  newer than the one manifest.json names, set aside by --resume

Only a table worth keeping (`TableConfig.worth_checkpointing`: the off-policy
agents' prioritised tables) is checkpointed: every `replay_checkpoint_period_s`
(default: the learner's checkpoint period) and once more when the server stops
(clean shutdown, SIGTERM, or its driver gone). A server started on that
directory (`--resume`, or the Ray launcher restarting a dead one) loads the
newest checkpoint. An IMPALA queue is never checkpointed and restarts empty.

NOTE: Reverb 0.14 matches checkpointed tables by name only and keeps the
checkpoint's signature, sampler and rate limiter, so a changed layout would be
loaded silently and fail at the first insert; `layout_problem` refuses it first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from vtrax.deploy.runtime.run_dir import write_json_atomic

REPLAY_DIR = "replay"
LAYOUT_FILE = "table.json"
CHECKPOINTS_DIR = "checkpoints"


class ReplayCheckpointing(NamedTuple):
    """Where and how often the replay server of a run checkpoints (directory None: never)."""

    directory: str | None
    period_s: float | None


class ReplayRestore(NamedTuple):
    """What a replay server start loaded: the checkpoint (None: none, the table started empty) and its counts."""

    checkpoint: str | None
    items: int
    """Items in the table right after loading."""
    inserts: int
    """Items ever inserted, as of the checkpoint (Reverb restores the count)."""
    unreadable: tuple[str, ...] = ()
    """Checkpoints that failed to load and were set aside (`"<where it is now>: <why>"`), newest first."""


def restore_of(server, table_name: str) -> ReplayRestore:
    """What a started server (`replay.ReplayServer` in this process or `replay.ReplayServerProcess`) loaded."""
    counts = server.restored_counts.get(table_name, {})
    return ReplayRestore(server.restored_from, int(counts.get("current_size", 0)),
                         int(counts.get("num_inserts", 0)), tuple(server.unreadable))


def checkpointing(run_dir: str | os.PathLike, table, config) -> ReplayCheckpointing:
    """The run's replay checkpointing for `table` (a replay.TableConfig) under `config` (a TrainConfig)."""
    if not table.worth_checkpointing:
        return ReplayCheckpointing(None, None)
    period_s = config.replay_checkpoint_period_s
    if period_s is None:
        period_s = config.learner.checkpoint_period_s
    directory = str(Path(run_dir).absolute() / REPLAY_DIR / CHECKPOINTS_DIR)
    return ReplayCheckpointing(directory, period_s or None)


def record_layout(run_dir: str | os.PathLike, table) -> None:
    """Write RUN_DIR/replay/table.json: the table the checkpoints beside it hold."""
    folder = Path(run_dir) / REPLAY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / LAYOUT_FILE, table.to_json())


def layout_problem(run_dir: str | os.PathLike, table) -> str | None:
    """Why RUN_DIR's replay checkpoint cannot be loaded into `table` (one sentence with the fix), or None.

    None also when there is nothing to load (no table.json: a new run, an IMPALA
    run, or a run written before replay checkpoints existed).
    """
    from vtrax.replay import TableConfig

    path = Path(run_dir) / REPLAY_DIR / LAYOUT_FILE
    if not table.worth_checkpointing or not path.is_file():
        return None
    try:
        saved = TableConfig.from_json(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as error:
        return (f"{path} is unreadable ({error}); move {path.parent} aside to resume the learner with an empty "
                "replay table")
    differences = saved.differences(table)
    if not differences:
        return None
    changed = "; ".join(f"{name} {_short(old)} in the checkpoint, {_short(new)} now"
                        for name, (old, new) in differences.items())
    return (f"its replay checkpoint ({path.parent}) holds a table of another layout ({changed}): resume without "
            f"the flags that change it (RUN_DIR/config.json holds the run's values), or move {path.parent} aside "
            "to resume the learner with an empty replay table")


def resume_problem(run_dir: str | os.PathLike, config) -> str | None:
    """`layout_problem` for the table that `config` (a TrainConfig) builds; None when it cannot be built yet
    (the driver then names that problem)."""
    if not (Path(run_dir) / REPLAY_DIR / LAYOUT_FILE).is_file():
        return None
    from vtrax.actors.environments import env_spec
    from vtrax.deploy.agents import get_agent

    try:
        table = get_agent(config.agent).replay_table(config, env_spec(config.env_id))
    except (ValueError, TypeError):
        return None
    return layout_problem(run_dir, table)


def restored_message(restore: ReplayRestore | None, plan: ReplayCheckpointing) -> str | None:
    """The console line about a (re)started server's checkpoint, or None when it has none to say."""
    if plan.directory is None or restore is None:
        return None
    every = f"every {plan.period_s:g} s" if plan.period_s else "at shutdown only"
    if restore.checkpoint is None:
        message = f"replay: checkpoints {every} to {plan.directory}; no checkpoint there yet, the table starts empty"
    else:
        message = f"replay: restored {restore.items:,} items from checkpoint {restore.checkpoint}; checkpoints {every}"
    return unreadable_message(restore) + message


def unreadable_message(restore: ReplayRestore) -> str:
    """The words (ending in '; ') about checkpoints set aside as unreadable, or '' when none was."""
    if not restore.unreadable:
        return ""
    loaded = "the one before it" if restore.checkpoint else "none older was readable"
    return (f"replay: set aside {len(restore.unreadable)} unreadable checkpoint(s) ({'; '.join(restore.unreadable)}) "
            f"and loaded {loaded}; ")


def items_lost(restore: ReplayRestore, inserts_seen: int | None) -> int | None:
    """Items inserted after the loaded checkpoint and lost with the dead server (at least; None: unknown).

    `inserts_seen` is the dead server's insert count as last reported; a
    checkpoint restores the count it had when written, so the difference is the
    inserts that no checkpoint holds (those after the last report are not seen).
    """
    if inserts_seen is None:
        return None
    return max(0, int(inserts_seen) - restore.inserts)


def restart_message(exit_code: int | None, address: str, restore: ReplayRestore, lost: int | None) -> str:
    """The console line after the driver restarted a dead server of a checkpointed table."""
    died = f"{unreadable_message(restore)}the replay server died (exit code {exit_code}); restarted it at {address}"
    if restore.checkpoint is None:
        lost_text = "all its items" if lost is None else f"{lost:,} items"
        return f"{died} with an empty table: it died before its first checkpoint; {lost_text} lost"
    lost_text = "an unknown number of items" if lost is None else f"at least {lost:,} items"
    return (f"{died} from checkpoint {os.path.basename(restore.checkpoint)}: {restore.items:,} items restored, "
            f"{lost_text} inserted after that checkpoint lost")


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
