"""`vtrax train --agent dqn` keeps its prioritised table in the run directory: replay checkpoints while it runs
and at shutdown, `--resume` starts from them, and a resume whose flags change the table's layout is refused.

The local launcher (one process, in-process Reverb server) keeps this a few seconds per run; the Ray
launcher starts the same server process with the same checkpoint directory (deploy/runtime/launch_ray.py).
"""

import json
import subprocess
import sys

import pytest

# Stops at the first report after 200 env frames: a resumed run (counters already there) stops at its first.
FLAGS = ["--agent", "dqn", "--preset", "cartpole", "--launcher", "local", "--num-actors", "1",
         "--num-envs-per-actor", "4", "--evaluator-num-envs", "1", "--min-replay-size", "20", "--batch-size", "32",
         "--max-env-frames", "200", "--max-seconds", "90", "--report-period-s", "0.5",
         "--replay-checkpoint-period-s", "1"]


def _train(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "train", *flags], capture_output=True,
                          text=True, timeout=150)


def _reports(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.timeout(300)
def test_dqn_run_checkpoints_its_table_and_resume_starts_with_it(tmp_path):
    first = _train(*FLAGS, "--quiet", "--logdir", str(tmp_path))
    assert first.returncode == 0, first.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    checkpoints = [path for path in (run_dir / "replay" / "checkpoints").iterdir() if (path / "DONE").is_file()]
    assert len(checkpoints) == 1, checkpoints          # Reverb keeps the newest (here: the final one)
    assert json.loads((run_dir / "replay" / "table.json").read_text())["kind"] == "prioritized"
    before = _reports(run_dir)
    assert before[-1]["replay_queue_size"] > 0 and before[-1]["replay_items_restored"] == 0

    config = (run_dir / "config.json").read_text()
    refused = _train("--resume", str(run_dir), "--num-envs-per-actor", "2", "--quiet")
    assert refused.returncode == 2, refused.stderr[-3000:]
    (line,) = refused.stderr.strip().splitlines()
    assert "another layout" in line and "num_envs 4 in the checkpoint, 2 now" in line and "aside" in line, line
    assert (run_dir / "config.json").read_text() == config  # nothing of the run was touched
    assert [path for path in (run_dir / "replay" / "checkpoints").iterdir()] == checkpoints

    # The newest checkpoint's data cut short (a disk fault): the resume sets it aside and loads the one before.
    (newest,) = checkpoints
    kept = list((run_dir / "replay" / "checkpoints.previous").iterdir())
    assert len(kept) == 1 and (kept[0] / "DONE").is_file() and kept[0].name < newest.name, kept
    chunks = newest / "chunks.tfrecord"
    chunks.write_bytes(chunks.read_bytes()[:chunks.stat().st_size // 2])
    resumed = _train("--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    first_resumed = _reports(run_dir)[len(before)]
    assert "replay: set aside 1 unreadable checkpoint(s)" in resumed.stdout, resumed.stdout[-3000:]
    assert f"items from checkpoint {kept[0]}" in resumed.stdout, resumed.stdout[-3000:]
    assert (run_dir / "replay" / "checkpoints.unreadable" / newest.name / "DONE").is_file()  # kept for a person
    assert f"replay: restored {first_resumed['replay_items_restored']:,} items from checkpoint" in resumed.stdout
    assert first_resumed["replay_items_restored"] > 0  # NOTE: the kept one may postdate the last report: no upper bound
    assert first_resumed["replay_queue_size"] >= first_resumed["replay_items_restored"]
    assert first_resumed["replay_inserts"] >= first_resumed["replay_items_restored"]  # Reverb restores the count
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["replay_items_restored"] == first_resumed["replay_items_restored"]
    assert summary["replay_items_lost"] == 0
