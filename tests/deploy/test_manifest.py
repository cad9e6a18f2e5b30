"""RUN_DIR/manifest.json (deploy/runtime/manifest.py): round trip, atomic writes, and which checkpoints a resume
restores. Real files on disk; no JAX or Reverb is loaded."""

import dataclasses
import json
import os
import time

import pytest

from vtrax.deploy.runtime import manifest

COUNTERS = manifest.RunCounters(env_frames=1200, episodes=31, learner_updates=0, actor_restarts=1,
                                learner_restarts=2, replay_restarts=3, wall_seconds=12.5)


def _run_dir(tmp_path, steps=(100, 200), replay=("2026-12-08T00:00:01",)):
    """A run directory with learner checkpoint folders and Reverb checkpoint folders (with DONE files)."""
    for step in steps:
        (tmp_path / "checkpoints" / f"ckpt_{step:012d}").mkdir(parents=True)
    for name in replay:
        (tmp_path / "replay" / "checkpoints" / name).mkdir(parents=True)
        (tmp_path / "replay" / "checkpoints" / name / "DONE").write_text("")
    return tmp_path


def test_build_names_the_checkpoints_relative_to_the_run_and_round_trips(tmp_path):
    run_dir = _run_dir(tmp_path)
    newest = manifest.newest_learner_checkpoint(run_dir)
    assert newest == str(run_dir / "checkpoints" / "ckpt_000000000200")
    built = manifest.build(run_dir, {"env_id": "CartPole-v1"}, newest, COUNTERS)
    assert built.learner_checkpoint == os.path.join("checkpoints", "ckpt_000000000200")
    assert built.replay_checkpoint == os.path.join("replay", "checkpoints", "2026-12-08T00:00:01")
    assert built.learner_step == built.counters.learner_updates == 200  # agrees with the checkpoint
    assert built.counters.env_frames == 1200 and built.counters.replay_restarts == 3
    assert built.config_hash == manifest.config_hash({"env_id": "CartPole-v1"}) != manifest.config_hash({})
    manifest.write(run_dir, built)
    assert manifest.read(run_dir) == built == manifest.RunManifest.from_json(json.loads(json.dumps(built.to_json())))
    assert built.learner_path(run_dir) == newest and os.path.isdir(built.replay_path(run_dir))


def test_an_on_policy_queue_has_no_replay_checkpoint(tmp_path):
    run_dir = _run_dir(tmp_path, replay=())
    built = manifest.build(run_dir, {}, manifest.newest_learner_checkpoint(run_dir), COUNTERS)
    assert built.replay_checkpoint is None and built.replay_path(run_dir) is None
    assert manifest.replay_restore_message(built, run_dir, None) is None


def test_a_partial_temp_file_never_replaces_a_good_manifest(tmp_path):
    run_dir = _run_dir(tmp_path)
    good = manifest.build(run_dir, {}, manifest.newest_learner_checkpoint(run_dir), COUNTERS)
    manifest.write(run_dir, good)
    # A writer killed mid-write leaves a truncated temp file beside the manifest: readers never see it.
    (run_dir / ".manifest.json.killed.tmp").write_text(json.dumps(good.to_json())[:40])
    assert manifest.read(run_dir) == good
    # A write that fails (a value JSON cannot hold) fails before touching disk: the good one stays.
    broken = dataclasses.replace(good, counters=dataclasses.replace(COUNTERS, env_frames={1}))
    with pytest.raises(TypeError):
        manifest.write(run_dir, broken)
    assert manifest.read(run_dir) == good
    assert sorted(path.name for path in run_dir.glob("*manifest*")) == [".manifest.json.killed.tmp", "manifest.json"]


def test_a_run_without_a_manifest_resumes_from_progress_and_a_corrupt_one_is_refused(tmp_path):
    assert manifest.read(tmp_path) is None
    progress = {"env_frames": 500, "episodes": 7, "learner_updates": 40, "wall_seconds": 3.0, "actor_restarts": 9}
    assert manifest.resume_counters(progress, None) == manifest.RunCounters(500, 7, 40, 9, 0, 0, 3.0)
    (tmp_path / manifest.MANIFEST_FILE).write_text('{"format_version": 1, "counters": {')
    with pytest.raises(manifest.ManifestError, match="unreadable .* move it aside to resume from the newest"):
        manifest.read(tmp_path)


def test_resume_restores_the_named_learner_checkpoint_unless_this_session_wrote_newer(tmp_path):
    run_dir = _run_dir(tmp_path, steps=(100, 200, 300))
    named = str(run_dir / "checkpoints" / "ckpt_000000000200")
    old = time.time() - 3600  # written before this session (ckpt_300: after the last manifest, then SIGKILL)
    for path in (run_dir / "checkpoints").iterdir():
        os.utime(path, (old, old))
    session = manifest.LearnerResume(named, session_start_unix_s=time.time() - 1)
    assert manifest.learner_restore_target(session, str(run_dir / "checkpoints")) == named
    assert manifest.learner_restore_target(None, str(run_dir / "checkpoints")) is None  # no manifest: newest
    (run_dir / "checkpoints" / "ckpt_000000000400").mkdir()  # this session's (a learner restarted mid-run)
    assert manifest.learner_restore_target(session, str(run_dir / "checkpoints")) is None


def test_replay_says_when_the_named_checkpoint_is_gone(tmp_path):
    run_dir = _run_dir(tmp_path, replay=("2026-12-08T00:00:01",))
    built = manifest.build(run_dir, {}, manifest.newest_learner_checkpoint(run_dir), COUNTERS)
    named = built.replay_path(run_dir)
    assert manifest.replay_restore_message(built, run_dir, named) is None
    newer = run_dir / "replay" / "checkpoints" / "2026-12-08T00:00:09"
    newer.mkdir()
    os.rename(named, str(named) + "-gone")
    message = manifest.replay_restore_message(built, run_dir, str(newer))
    assert "2026-12-08T00:00:01, is gone" in message and "loaded the newest one, 2026-12-08T00:00:09" in message


def test_learner_checkpoints_newer_than_the_manifest_are_moved_aside_not_deleted(tmp_path):
    run_dir = _run_dir(tmp_path, steps=(100, 200, 300))
    named = manifest.build(run_dir, {}, str(run_dir / "checkpoints" / "ckpt_000000000200"), COUNTERS)
    message = manifest.set_aside_newer(run_dir, named)
    assert "ckpt_000000000300 came after manifest.json's ckpt_000000000200" in message
    assert manifest.newest_learner_checkpoint(run_dir) == named.learner_path(run_dir)
    assert (run_dir / manifest.AFTER_MANIFEST_DIR / "ckpt_000000000300").is_dir()
    assert manifest.set_aside_newer(run_dir, named) is None  # nothing newer any more
    gone = dataclasses.replace(named, learner_checkpoint="checkpoints/ckpt_000000000050", learner_step=50)
    assert manifest.set_aside_newer(run_dir, gone) is None  # the named one is gone: the newest readable is used
    assert manifest.newest_learner_checkpoint(run_dir) == named.learner_path(run_dir)


def test_resume_counters_never_go_back_when_progress_is_newer_than_the_manifest(tmp_path):
    # A driver SIGKILLed 20 s after the manifest's last update: progress.json saw more frames and restarts.
    run_dir = _run_dir(tmp_path)
    written = manifest.build(run_dir, {}, manifest.newest_learner_checkpoint(run_dir), COUNTERS)
    progress = {"env_frames": 9000, "episodes": 40, "learner_updates": 70, "wall_seconds": 30.0,
                "actor_restarts": 2, "learner_restarts": 1, "replay_restarts": 4, "nodes_lost": 1}
    assert manifest.resume_counters(progress, written) == manifest.RunCounters(
        env_frames=9000, episodes=40, learner_updates=written.learner_step, actor_restarts=2, learner_restarts=2, replay_restarts=4,
        wall_seconds=30.0, nodes_lost=1)  # the learner's updates are its checkpoint's; the rest: the larger
    assert manifest.resume_counters({}, written) == written.counters
