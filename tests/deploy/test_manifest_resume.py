"""`vtrax train` writes RUN_DIR/manifest.json naming a learner and a replay checkpoint that exist, and `--resume`
continues the counters from it (the local launcher keeps each run a few seconds)."""

import json
import shutil
import subprocess
import sys

import pytest

FLAGS = ["--agent", "dqn", "--preset", "cartpole", "--launcher", "local", "--num-actors", "1",
         "--num-envs-per-actor", "4", "--evaluator-num-envs", "1", "--min-replay-size", "20", "--batch-size", "32",
         "--max-env-frames", "200", "--max-seconds", "90", "--report-period-s", "0.5",
         "--replay-checkpoint-period-s", "1", "--quiet"]


def _train(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "train", *flags], capture_output=True,
                          text=True, timeout=150)


def _manifest(run_dir) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


@pytest.mark.timeout(300)
def test_the_manifest_names_existing_checkpoints_and_resume_continues_its_counters(tmp_path):
    first = _train(*FLAGS, "--logdir", str(tmp_path))
    assert first.returncode == 0, first.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    written = _manifest(run_dir)
    assert (run_dir / written["learner_checkpoint"] / "meta" / "metadata").is_file(), written
    assert (run_dir / written["replay_checkpoint"] / "DONE").is_file(), written
    counters = written["counters"]
    assert counters["env_frames"] >= 200 and counters["learner_updates"] == written["learner_step"] > 0
    assert not list(run_dir.glob(".manifest.json.*"))  # no temp file left behind

    # A checkpoint written after the manifest's last update (as when a SIGKILL comes between the two), its step
    # far ahead: the resume sets it aside and restores the manifest's.
    step = written["learner_step"]
    later = run_dir / "checkpoints" / f"ckpt_{step + 1000:012d}"
    shutil.copytree(run_dir / written["learner_checkpoint"], later)
    meta = json.loads((later / "meta" / "metadata").read_text())
    (later / "meta" / "metadata").write_text(json.dumps({**meta, "step": step + 1000}))
    # The same for replay: the manifest named the checkpoint before the newest (kept beside it).
    (kept,) = (run_dir / "replay" / "checkpoints.previous").iterdir()
    newest = run_dir / written["replay_checkpoint"]
    (run_dir / "manifest.json").write_text(json.dumps({**written, "replay_checkpoint": f"replay/checkpoints/{kept.name}"}))

    resumed = _train("--resume", str(run_dir), "--max-env-frames", "400")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{later.name} came after manifest.json's" in resumed.stdout, resumed.stdout[-3000:]
    assert (run_dir / "checkpoints.after-manifest" / later.name).is_dir() and not later.exists()
    assert "named by manifest.json" not in resumed.stdout  # the named checkpoint was restored, no fallback
    assert f"replay: {newest.name} came after manifest.json's {kept.name}" in resumed.stdout, resumed.stdout[-3000:]
    assert (run_dir / "replay" / "checkpoints.after-manifest" / newest.name / "DONE").is_file()
    assert f"items from checkpoint {kept}" in resumed.stdout  # the replay checkpoint it names was loaded
    assert "manifest.json names" not in resumed.stdout
    reports = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    after = [report for report in reports if report["wall_seconds"] > counters["wall_seconds"]]
    assert after and after[0]["env_frames"] >= counters["env_frames"], (counters, after[:1])
    assert all(a["env_frames"] <= b["env_frames"] for a, b in zip(reports, reports[1:]))  # monotone
    assert step <= after[0]["learner_updates"] < step + 1000  # the manifest's checkpoint was restored
    assert after[-1]["learner_updates"] >= counters["learner_updates"]
    final = _manifest(run_dir)["counters"]
    assert final["env_frames"] >= 400 and final["episodes"] >= counters["episodes"]
    assert final["wall_seconds"] > counters["wall_seconds"]
    assert counters["learner_updates"] < final["learner_updates"] < step + 1000  # the resumed learner checkpointed
