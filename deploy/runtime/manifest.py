"""The run manifest: RUN_DIR/manifest.json names the learner and replay checkpoints and counters that belong together.

    learner:  ckpt_100 ────── ckpt_200 ────────────── ckpt_300 ── (SIGKILL)
    driver:         report ──► manifest(ckpt_100, counters)   ──► manifest(ckpt_200, counters) ...
    --resume: the learner restores the manifest's ckpt_200 and the counters continue from the manifest's

The driver writes it (temp file, fsync, `os.replace`: a reader never sees half
of one) after each report that sees a new learner checkpoint, and once more
after shutdown, when the final learner and replay checkpoints are on disk.
Checkpoint paths are stored relative to RUN_DIR, so a moved run directory still
resumes. `--resume` restores what it names when that exists; a named checkpoint
that is gone or unreadable falls back to the newest readable one and says so. A
run directory without a manifest (older vtrax) resumes from the newest ones.

Nothing here loads JAX or Reverb: the driver imports it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import re
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
LEARNER_CHECKPOINTS_DIR = "checkpoints"
REPLAY_CHECKPOINTS_DIR = os.path.join("replay", "checkpoints")
AFTER_MANIFEST_DIR = "checkpoints.after-manifest"  # learner checkpoints newer than the manifest, set aside on resume
REPLAY_AFTER_MANIFEST_DIR = os.path.join("replay", "checkpoints.after-manifest")  # the same for replay
_LEARNER_STEP = re.compile(r"ckpt_(\d+)")  # learner/checkpoint.py's folder names (that module loads JAX)


class ManifestError(ValueError):
    """RUN_DIR/manifest.json cannot be read."""


@dataclasses.dataclass(frozen=True)
class RunCounters:
    """The driver's counters at one moment; a resumed run continues from them."""

    env_frames: int = 0
    episodes: int = 0
    learner_updates: int = 0
    actor_restarts: int = 0
    learner_restarts: int = 0
    replay_restarts: int = 0
    wall_seconds: float = 0.0
    nodes_lost: int = 0


@dataclasses.dataclass(frozen=True)
class RunManifest:
    """One coordinated run checkpoint: what --resume restores, together."""

    learner_checkpoint: str
    """The learner's checkpoint folder, relative to RUN_DIR (checkpoints/ckpt_<step>)."""
    learner_step: int
    replay_checkpoint: str | None
    """Reverb's checkpoint folder relative to RUN_DIR; None for a table that is not checkpointed (a queue)."""
    counters: RunCounters
    vtrax_version: str
    config_hash: str
    written_utc: str
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "RunManifest":
        """Raises: ManifestError: a field is missing or has the wrong type, or another format version."""
        if not isinstance(value, dict) or value.get("format_version") != FORMAT_VERSION:
            raise ManifestError(f"format_version {value.get('format_version') if isinstance(value, dict) else None!r}"
                                f" is not {FORMAT_VERSION}")
        try:
            counters = RunCounters(**value["counters"])
            return cls(**{**value, "counters": counters})
        except (KeyError, TypeError) as error:
            raise ManifestError(f"{type(error).__name__}: {error}") from None

    def learner_path(self, run_dir: str | os.PathLike) -> str:
        return str(Path(run_dir).absolute() / self.learner_checkpoint)

    def replay_path(self, run_dir: str | os.PathLike) -> str | None:
        return None if self.replay_checkpoint is None else str(Path(run_dir).absolute() / self.replay_checkpoint)


class LearnerResume(NamedTuple):
    """What a learner built for `--resume` restores: the manifest's checkpoint, unless this session wrote newer."""

    checkpoint: str
    session_start_unix_s: float


def build(run_dir: str | os.PathLike, config: dict[str, Any], learner_checkpoint: str,
          counters: RunCounters) -> RunManifest:
    """The manifest of `run_dir` now: `learner_checkpoint`, the newest replay checkpoint, `counters`.

    The counters' `learner_updates` is the checkpoint's step, so it agrees with what the learner restores.
    """
    from vtrax.replay.checkpoint_files import newest_checkpoint

    run_dir, step = Path(run_dir).absolute(), learner_step(learner_checkpoint)
    replay = newest_checkpoint(str(run_dir / REPLAY_CHECKPOINTS_DIR))
    return RunManifest(
        learner_checkpoint=os.path.relpath(os.path.abspath(learner_checkpoint), run_dir),
        learner_step=step,
        replay_checkpoint=None if replay is None else os.path.relpath(replay, run_dir),
        counters=dataclasses.replace(counters, learner_updates=step), vtrax_version=vtrax_version(),
        config_hash=config_hash(config),
        written_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def write(run_dir: str | os.PathLike, manifest: RunManifest) -> Path:
    """Write RUN_DIR/manifest.json atomically: a crash at any point leaves the previous one whole."""
    path = Path(run_dir) / MANIFEST_FILE
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n"  # NOTE: fails before touching disk
    handle, temporary = tempfile.mkstemp(prefix=f".{MANIFEST_FILE}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read(run_dir: str | os.PathLike) -> RunManifest | None:
    """RUN_DIR's manifest, or None when it has none (a run written before manifests).

    Raises:
      ManifestError: it exists but cannot be read; the message names the fix.
    """
    path = Path(run_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return RunManifest.from_json(json.loads(path.read_text()))
    except (ValueError, OSError) as error:
        raise ManifestError(f"{path} is unreadable ({error}); move it aside to resume from the newest "
                            "checkpoints instead") from None


def newest_learner_checkpoint(run_dir: str | os.PathLike) -> str | None:
    """The newest final learner checkpoint folder of RUN_DIR, or None (orbax's temporaries have other names)."""
    directory = Path(run_dir) / LEARNER_CHECKPOINTS_DIR
    if not directory.is_dir():
        return None
    steps = [(int(match.group(1)), entry.name) for entry in directory.iterdir()
             if (match := _LEARNER_STEP.fullmatch(entry.name)) and entry.is_dir()]
    return str(directory.absolute() / max(steps)[1]) if steps else None


def learner_step(checkpoint: str) -> int:
    """The step of a `ckpt_<step>` folder."""
    match = _LEARNER_STEP.fullmatch(Path(checkpoint).name)
    if match is None:
        raise ValueError(f"{checkpoint} is not a learner checkpoint folder (ckpt_<step>); pass one from "
                         f"RUN_DIR/{LEARNER_CHECKPOINTS_DIR}")
    return int(match.group(1))


def learner_restore_target(resume: LearnerResume | None, checkpoints_dir: str) -> str | None:
    """The checkpoint a learner built now restores first, or None for the newest readable one.

    The manifest's checkpoint, except when this session already wrote newer ones:
    then the learner is being restarted mid-run and the newest one is its state.
    """
    if resume is None:
        return None
    step = learner_step(resume.checkpoint)
    for entry in (os.scandir(checkpoints_dir) if os.path.isdir(checkpoints_dir) else ()):
        match = _LEARNER_STEP.fullmatch(entry.name)
        if match and int(match.group(1)) > step and entry.stat().st_mtime >= resume.session_start_unix_s:
            return None
    return resume.checkpoint


def set_aside_newer(run_dir: str | os.PathLike, manifest: RunManifest) -> str | None:
    """Move learner checkpoints newer than the manifest's to RUN_DIR/checkpoints.after-manifest/; say so, or None.

    They were written after the manifest's last update (a SIGKILL came first), so no counters go with
    them; and orbax saves no step below the newest it sees, so left in place they would keep the resumed
    learner from checkpointing. Moved, not deleted. Nothing moves when the named checkpoint is gone.
    """
    run_dir = Path(run_dir)
    if not Path(manifest.learner_path(run_dir)).is_dir():
        return None
    newer = sorted(entry for entry in (run_dir / LEARNER_CHECKPOINTS_DIR).iterdir()
                   if (match := _LEARNER_STEP.fullmatch(entry.name)) and int(match.group(1)) > manifest.learner_step)
    if not newer:
        return None
    aside = run_dir / AFTER_MANIFEST_DIR
    aside.mkdir(exist_ok=True)
    for entry in newer:
        target = aside / entry.name
        os.rename(entry, target if not target.exists() else aside / f"{entry.name}-{time.time_ns()}")
    return (f"learner: {', '.join(entry.name for entry in newer)} came after manifest.json's "
            f"{Path(manifest.learner_checkpoint).name} and has no counters with it; moved to {aside}, "
            "resuming from the manifest's")


def set_aside_newer_replay(run_dir: str | os.PathLike, manifest: RunManifest) -> str | None:
    """Make the replay checkpoint the manifest names the one the server loads; say what moved, or None.

    Reverb keeps one checkpoint and loads the newest; the one before it is kept in
    `replay/checkpoints.previous/` (replay/checkpoint_files.py). When the manifest names that one (a replay
    checkpoint came after the manifest's last update, then a SIGKILL), the newer one moves to
    `replay/checkpoints.after-manifest/` and the server loads the kept one. Moved, not deleted.
    """
    from vtrax.replay.checkpoint_files import newest_checkpoint, previous_checkpoint

    named = manifest.replay_path(run_dir)
    checkpoints = str(Path(run_dir) / REPLAY_CHECKPOINTS_DIR)
    newest, kept = newest_checkpoint(checkpoints), previous_checkpoint(checkpoints)
    if named is None or newest is None or kept is None or os.path.basename(kept) != os.path.basename(named):
        return None
    aside = Path(run_dir) / REPLAY_AFTER_MANIFEST_DIR
    aside.mkdir(parents=True, exist_ok=True)
    moved = []
    while newest is not None:  # NOTE: Reverb keeps one, but a crash mid-cleanup can leave two
        os.rename(newest, aside / os.path.basename(newest))
        moved.append(os.path.basename(newest))
        newest = newest_checkpoint(checkpoints)
    return (f"replay: {', '.join(moved)} came after manifest.json's {os.path.basename(named)}; moved to {aside}, "
            "loading the manifest's (kept beside the newest)")


def replay_restore_message(manifest: RunManifest | None, run_dir: str | os.PathLike,
                           loaded: str | None) -> str | None:
    """The console line when the replay checkpoint loaded is not the one the manifest names, or None."""
    named = None if manifest is None else manifest.replay_path(run_dir)
    # NOTE: by name: the named checkpoint may load from its copy in replay/checkpoints.previous/
    if named is None or (loaded is not None and os.path.basename(loaded) == os.path.basename(named)):
        return None
    why = "is gone (only the newest and the one before are kept)" if not os.path.isdir(named) else "is not the newest"
    got = f"loaded the newest one, {os.path.basename(loaded)}" if loaded else "the table starts empty"
    return f"replay: the checkpoint that manifest.json names, {os.path.basename(named)}, {why}; {got}"


def vtrax_version() -> str:
    """The installed vtrax's version, or "unknown" (a source tree that is not installed)."""
    try:
        return metadata.version("vtrax")
    except metadata.PackageNotFoundError:
        return "unknown"


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the config's canonical JSON, 12 hex digits (the run's config.json holds the values)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def counters_of(report, episodes: int) -> RunCounters:
    """The counters of a `RunReport` (and the driver's episode count)."""
    return RunCounters(env_frames=int(report.env_frames), episodes=int(episodes),
                       learner_updates=int(report.learner_updates), actor_restarts=int(report.actor_restarts),
                       learner_restarts=int(report.learner_restarts), replay_restarts=int(report.replay_restarts),
                       nodes_lost=int(report.nodes_lost), wall_seconds=float(report.wall_seconds))


def resume_counters(progress: dict[str, Any], manifest: RunManifest | None) -> RunCounters:
    """What a resumed run's counters continue from, so that they never go back in metrics.jsonl.

    The learner's updates are its checkpoint's (the manifest's; progress.json's for an older run without
    one). Frames, episodes, wall time, restarts and lost nodes happened whatever the learner lost: each
    continues from the larger of the manifest's and progress.json's (written every report, so often newer).
    """
    counters = manifest.counters if manifest is not None else RunCounters(
        learner_updates=int(progress.get("learner_updates", 0)))
    newer = {field.name: max(getattr(counters, field.name), type(getattr(counters, field.name))(progress[field.name]))
             for field in dataclasses.fields(RunCounters)
             if field.name != "learner_updates" and isinstance(progress.get(field.name), (int, float))}
    return dataclasses.replace(counters, **newer)
